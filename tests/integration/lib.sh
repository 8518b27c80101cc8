# SPDX-License-Identifier: Apache-2.0
#
# What the integration scripts share: counting checks, waiting for a line
# with a bound, fingerprints. Sourced; T (the script's temporary
# directory) must be set for status().

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: the command succeeds
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
# status DESCRIPTION WANT COMMAND...: the command exits WANT; its output in $T/out and $T/err
status() {
    d=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$d: exit $got, want $want"; cat "$T/err" >&2; fi
}
# wait_for FILE TEXT SECONDS: until FILE holds TEXT (bounded)
wait_for() {
    i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    grep -qF -- "$2" "$1" 2>/dev/null
}
# fp FILE: the SHA-256 fingerprint of the first certificate in FILE, lower-case hex
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
# summary NAME: the closing line, and the exit status
summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
# mkcert NAME CN SECONDS: a self-signed certificate that lives SECONDS
# (evercert's --minutes is too coarse), with what `evercert selfsign` puts
# in one; the monitor renews it with the same lifetime to the second.
mkcert() { # NAME CN SECONDS
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null &&
        chmod 600 "$1.key" || return 1
    cat >"$1.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $1.idx
new_certs_dir = .
serial = $1.srl
default_md = sha256
policy = p
x509_extensions = e
unique_subject = no
[p]
commonName = supplied
[e]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:$2,IP:127.0.0.1
subjectKeyIdentifier = hash
[req]
distinguished_name = dn
[dn]
EOF
    : >"$1.idx" && echo 01 >"$1.srl" &&
        openssl req -new -config "$1.cnf" -key "$1.key" -subj "/CN=$2" -out "$1.csr" &&
        openssl ca -batch -config "$1.cnf" -selfsign -keyfile "$1.key" -in "$1.csr" -notext \
            -startdate "$(date -u -d "@$(date +%s)" +%Y%m%d%H%M%SZ)" \
            -enddate "$(date -u -d "@$(($(date +%s) + $3))" +%Y%m%d%H%M%SZ)" -out "$1.crt" >/dev/null 2>&1
    r=$?
    rm -f "$1.cnf" "$1.idx"* "$1.srl"* "$1.csr" 01.pem
    return $r
}

# The two-server rig of agent_e2e.sh and soak.sh, written into the working
# directory: nginx serving web.crt on $WEB (its SA at the well-known URL),
# the monitor's configuration for web (nginx) and svc (evercert serve on
# $SVC, push on $PUSH), and an agent following both through a bundle and a
# hashed directory each. DIR is the absolute working directory; EXTRA goes
# into the file as given (lines ending in a newline).
rig_nginx_conf() { # DIR
    cat >nginx.conf <<EOF
pid $1/nginx.pid;
error_log $1/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$WEB ssl;
        ssl_certificate $1/web.crt;
        ssl_certificate_key $1/web.key;
        location = /ping { return 200 "ok\n"; }
        location = /.well-known/evercert/successor {
            alias $1/web.crt.sa;
            default_type application/octet-stream;
        }
    }
}
EOF
}
rig_monitor_ini() { # DIR [EXTRA: lines for [policy]]
    cat >monitor.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 50%
${2:-}
[monitor]
state = monitor.db

[notify]
log = stderr

[store "web"]
role = personal
cert = web.crt
key = web.key
after_replace = nginx -p $1 -c $1/nginx.conf -s reload
verify = 127.0.0.1:$WEB
verify_servername = web.test

[store "svc"]
role = personal
cert = svc.crt
key = svc.key
verify = 127.0.0.1:$SVC
verify_servername = svc.test

[store "deleted"]
role = deleted
path = deleted
EOF
}
rig_agent_ini() { # [EXTRA: sections before [agent]] [SOURCES of the svc servers, default handshake, push]
    cat >agent.ini <<EOF
${1:-}[agent]
state = agent.db
deleted = retired

[server "web-bundle"]
connect = 127.0.0.1:$WEB
service = web.test
trust = web.pem
url = https://web.test/.well-known/evercert/successor
sources = url
interval = 1s

[server "web-dir"]
connect = 127.0.0.1:$WEB
service = web.test
trust = webdir
url = https://web.test/.well-known/evercert/successor
sources = url
interval = 1s

[server "svc-bundle"]
connect = 127.0.0.1:$SVC
service = svc.test
trust = svc.pem
announce = 127.0.0.1:$PUSH
sources = ${2:-handshake, push}
interval = 1s

[server "svc-dir"]
connect = 127.0.0.1:$SVC
service = svc.test
trust = svcdir
announce = 127.0.0.1:$PUSH
sources = ${2:-handshake, push}
interval = 1s
EOF
}

# Apache httpd (Debian's apache2) as nginx is above, under DIR/apache: its
# own ServerRoot, run directory and envvars, so Debian's apachectl drives
# this instance with APACHE_CONFDIR=DIR/apache (as for /etc/apache2-NAME);
# Listen 127.0.0.1:$WEB, mod_ssl serving DIR/web.crt, mod_alias mapping
# the well-known URL to DIR/web.crt.sa, and a Combined access log in
# DIR/apache/access.log. docs/PUBLISHING.md shows these lines.
rig_apache_conf() { # DIR
    mkdir -p "$1/apache/run" "$1/apache/htdocs" && printf 'ok\n' >"$1/apache/htdocs/ping" || return 1
    cat >"$1/apache/envvars" <<EOF
export APACHE_RUN_DIR=$1/apache/run
export APACHE_LOCK_DIR=$1/apache/run
export APACHE_PID_FILE=$1/apache/run/apache2.pid
EOF
    mods=/usr/lib/apache2/modules
    # Started as root, Apache runs its workers as another user; they read
    # only what is 0644 under directories of 0755 (the SA, the page).
    user=
    [ "$(id -u)" = 0 ] && user="User nobody
Group nogroup"
    cat >"$1/apache/apache2.conf" <<EOF
$user
ServerRoot "$1/apache"
DefaultRuntimeDir "$1/apache/run"
PidFile "$1/apache/run/apache2.pid"
Mutex file:$1/apache/run default
ErrorLog "$1/apache/error.log"
LogLevel warn
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
TypesConfig /dev/null
LoadModule alias_module $mods/mod_alias.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
StartServers 1
ServerLimit 4
ThreadsPerChild 8
MaxRequestWorkers 32
ServerName web.test
Listen 127.0.0.1:$WEB
DocumentRoot "$1/apache/htdocs"
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog "$1/apache/access.log" combined
SSLSessionCache shmcb:$1/apache/run/ssl_scache(512000)
<VirtualHost 127.0.0.1:$WEB>
    ServerName web.test
    SSLEngine on
    SSLCertificateFile "$1/web.crt"
    SSLCertificateKeyFile "$1/web.key"
    Alias /.well-known/evercert/successor "$1/web.crt.sa"
    <Location "/.well-known/evercert/successor">
        ForceType application/octet-stream
    </Location>
</VirtualHost>
EOF
}

# Ports picked free (port_block, free_port); every test script lives beside lib.sh.
. "$(cd "$(dirname "$0")" && pwd)/ports.sh"

# PostgreSQL of the test's own: pg_start makes a cluster in a directory of
# its own (PostgreSQL refuses to run as root, so as root the server runs as
# the postgres user, whose directory this is), starts it on a free loopback
# port with trust authentication (loopback only) and sets PGURL to its
# database `evercert`; the caller's trap runs pg_stop. Without PostgreSQL
# the test skips, saying so.
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
        echo "SKIP: postgresql is not installed"
        exit 77
    fi
    PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/evercert-pg.XXXXXX") || return 1
    [ "$(id -u)" != 0 ] || chown postgres "$PGDIR"
    pg_as "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U evercert -E UTF8 --no-sync >"$PGDIR/initdb.log" 2>&1 ||
        { cat "$PGDIR/initdb.log" >&2; return 1; }
    PGPORT=
    for _try in 1 2 3; do
        p=$(port_block 1)
        if pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $p -k $PGDIR -c fsync=off" start >/dev/null 2>&1; then
            PGPORT=$p
            break
        fi
    done
    [ -n "$PGPORT" ] || { cat "$PGDIR/server.log" >&2; return 1; }
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U evercert evercert || return 1
    PGURL="postgresql://evercert@127.0.0.1:$PGPORT/evercert"
    export PGBIN PGDIR PGPORT PGURL
}
# pg_sql SQL: run SQL in the test's database as its owner
pg_sql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$PGPORT" -U evercert -d evercert -c "$1"; }
# pg_ro / pg_rw: the database takes no writes / takes them again (new sessions; old ones are ended)
pg_ro() {
    pg_sql "ALTER DATABASE evercert SET default_transaction_read_only = on" &&
        pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'evercert' AND pid <> pg_backend_pid()" >/dev/null
}
pg_rw() {
    "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PGPORT" -U evercert -d evercert \
        -c "SET default_transaction_read_only = off" -c "ALTER DATABASE evercert SET default_transaction_read_only = off"
}
# pg_down / pg_up: stop the server (it is unreachable) and start it again on the same port
pg_down() { pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1; }
pg_up() {
    pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off" start >/dev/null 2>&1
}
pg_stop() {
    [ -n "${PGDIR:-}" ] || return 0
    pg_down
    rm -rf "$PGDIR"
}
