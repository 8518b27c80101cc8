#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Apache httpd (Debian's apache2) as agent_e2e.sh has nginx: an unmodified
# server that evercert keeps alive from the outside. Apache runs with the
# configuration of lib.sh's rig_apache_conf (its own ServerRoot, mod_ssl,
# mod_alias serving the monitor's web.crt.sa at the well-known URL, a
# Combined access log); `evercert monitor` renews a self-signed
# certificate that lives LIFETIME seconds and its after_replace is
# Debian's `apachectl graceful` for this instance (APACHE_CONFDIR).
#   run 1, activate = at: ROTATIONS rotations, each verified; curl
#          (--cacert, the agent's bundle) and openssl s_client (-CApath,
#          the agent's hashed directory) every 0.5 s with 0 failures, the
#          agent on the url source; a client on the first certificate
#          alone fails after the first rotation;
#   run 2, activate = ready with access_log = Apache's own access log:
#          two agents name themselves (a: policy auto; b: policy manual)
#          and their URL fetches (?held=G&client=ID) are what Apache logs.
#          Past activate_at the monitor waits, naming b; a person approves
#          for b; the swap follows b's next fetch, before the deadline and
#          not because of it; curl on each agent's bundle never fails.
#
# usage: apache.sh PATH-TO-EVERCERT [LIFETIME-SECONDS [ROTATIONS]]
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: apache.sh PATH-TO-EVERCERT [LIFETIME] [ROTATIONS]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
LIFE=${2:-20}
ROT=${3:-2}
T=$(mktemp -d /tmp/evc-apache-XXXXXX)
export TZ=UTC LC_ALL=C
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for f in "$T"/*/apache/run/apache2.pid; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
PATH=$PATH:/usr/sbin:/sbin
for tool in apache2 apachectl curl openssl; do
    command -v $tool >/dev/null || { echo "apache.sh: SKIP: $tool is not installed (bootstrap.sh test installs apache2)" >&2; exit 77; }
done
[ -f /usr/lib/apache2/modules/mod_ssl.so ] || { echo "apache.sh: SKIP: Apache's mod_ssl is not installed" >&2; exit 77; }
[ "$LIFE" -ge 20 ] || { echo "usage: a lifetime of at least 20 s" >&2; exit 2; }
APACHECTL=$(command -v apachectl)
chmod 755 "$T" || exit 1
BASE=$((20000 + ($$ + 17000) % 20000 / 2 * 2))
now() { date +%s; }
rotations() { grep -c "action=activate store=web .*done=1" monitor.log 2>/dev/null; }

# up DIR: Apache with the rig's configuration, answering (bounded)
up() {
    rig_apache_conf "$1" || return 1
    apache2 -d "$1/apache" -k start || { echo "FAIL: apache2 did not start: $(tail -3 "$1/apache/error.log")" >&2; return 1; }
    i=0
    until curl -sk -o /dev/null https://127.0.0.1:$WEB/ping || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
}
# monitor_ini DIR POLICY-LINES STORE-LINES
monitor_ini() {
    cat >monitor.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 50%
$2

[monitor]
state = monitor.db

[notify]
log = stderr

[store "web"]
role = personal
cert = web.crt
key = web.key
after_replace = env APACHE_CONFDIR=$1/apache $APACHECTL graceful
verify = 127.0.0.1:$WEB
verify_servername = web.test
$3

[store "deleted"]
role = deleted
path = deleted
EOF
}
# agent_server NAME TRUST [POLICY]: one [server] following web by its URL
agent_server() {
    cat <<EOF

[server "$1"]
connect = 127.0.0.1:$WEB
service = web.test
trust = $2
url = https://web.test/.well-known/evercert/successor
sources = url
interval = 1s
policy = ${3:-auto}
EOF
}

# --- run 1: activate = at, ROTATIONS rotations ------------------------------------
D=$T/at
mkdir -p "$D/deleted" "$D/retired" && chmod 755 "$D" && cd "$D" || exit 1
WEB=$BASE
mkcert web web.test "$LIFE" || { echo "FAIL: openssl ca made no certificate" >&2; exit 1; }
cp web.crt web.pem && cp web.crt web.first && mkdir webdir && cp web.crt webdir/web-0.pem && openssl rehash webdir 2>/dev/null
up "$D" || exit 1
monitor_ini "$D" "" ""
{
    printf '[agent]\nstate = agent.db\ndeleted = retired\n'
    agent_server web-bundle web.pem
    agent_server web-dir webdir
} >agent.ini
START=$(now)
"$EVC" monitor --config monitor.ini 2>monitor.log &
PIDS="$PIDS $!"
"$EVC" agent --config agent.ini 2>agent.log &
PIDS="$PIDS $!"
limit=$((LIFE * 3 / 4 + ROT * LIFE * 2 / 5 + 30))
(
    end=$((START + limit + 10))
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        t=$(now)
        for c in "curl web.pem" "stale web.first"; do
            if curl -sf --max-time 3 --cacert ${c#* } --resolve web.test:$WEB:127.0.0.1 https://web.test:$WEB/ping >/dev/null 2>&1; then
                echo "$t ${c% *} ok"
            else
                echo "$t ${c% *} FAIL"
            fi
        done
        if echo | timeout 3 openssl s_client -connect 127.0.0.1:$WEB -servername web.test -CApath webdir -verify_return_error >/dev/null 2>&1; then
            echo "$t s_client ok"
        else
            echo "$t s_client FAIL"
        fi
        sleep 0.5
    done >>clients.log
) &
CL=$!
PIDS="$PIDS $CL"
while [ "$(rotations)" -lt "$ROT" ] && [ $(($(now) - START)) -lt $limit ]; do sleep 0.2; done
sleep 3 # the clients' next rounds, after the last swap
touch STOP
wait $CL 2>/dev/null
echo "run 1: $(rotations) rotations of web (Apache), ${LIFE} s certificates, $(($(now) - START)) s"
for c in curl s_client stale; do
    echo "  $c: $(grep -c " $c " clients.log) connections, $(grep -c " $c FAIL" clients.log) failed"
done
check "run 1: the monitor rotated Apache $ROT times" test "$(rotations)" -ge "$ROT"
check "run 1: every swap was verified after apachectl graceful" test "$(grep -c "verify=127.0.0.1:$WEB serves it" monitor.log)" -ge "$ROT"
check "run 1: curl on the agent's bundle made connections" test "$(grep -c " curl ok" clients.log)" -gt 0
check "run 1: s_client on the agent's directory made connections" test "$(grep -c " s_client ok" clients.log)" -gt 0
check "run 1: 0 failed connections of curl" test "$(grep -c " curl FAIL" clients.log)" = 0
check "run 1: 0 failed connections of s_client" test "$(grep -c " s_client FAIL" clients.log)" = 0
check "run 1: a client without the agent fails after the first rotation" test "$(grep -c " stale FAIL" clients.log)" -gt 0
check "run 1: the agent took $ROT successors from Apache's well-known URL" test "$(grep -c 'server=web-bundle event=accept' agent.log)" -ge "$ROT"
check "run 1: Apache served the SA (200 in its access log)" grep -q '"GET /.well-known/evercert/successor?held=[0-9][^ ]* HTTP/1.1" 200 ' apache/access.log
check "run 1: web.pem verifies the live certificate" openssl verify -CAfile web.pem web.crt
check "run 1: the monitor ended every pass without an error" sh -c "! grep -q 'pass ended: status=[23]' monitor.log"
if [ "$fail" != 0 ]; then
    echo "--- monitor.log (run 1)" >&2 && tail -30 monitor.log >&2
    echo "--- agent.log (run 1)" >&2 && tail -20 agent.log >&2
    echo "--- Apache's error.log (run 1)" >&2 && tail -10 apache/error.log >&2
fi
kill "$(cat apache/run/apache2.pid)" 2>/dev/null
for p in $PIDS; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
PIDS=

# --- run 2: activate = ready on Apache's access log -------------------------------
L2=48 # renewal at 24 s, activate_at at 36 s, the deadline (10%) at 43 s
D=$T/ready
mkdir -p "$D/deleted" && chmod 755 "$D" && cd "$D" || exit 1
WEB=$((BASE + 1))
mkcert web web.test $L2 || { echo "FAIL: openssl ca made no certificate" >&2; exit 1; }
NOT_AFTER=$(date -u -d "$(openssl x509 -in web.crt -noout -enddate | sed 's/notAfter=//')" +%s)
OLD=$(fp web.crt)
# The count is complete once the log reaches back a whole window: it starts
# with another client's page of two minutes ago, as a live server's would.
mkdir -p apache
printf '192.0.2.7 - - [%s] "GET / HTTP/1.1" 200 45 "-" "Mozilla/5.0"\n' \
    "$(date -u -d "@$(($(now) - 120))" '+%d/%b/%Y:%H:%M:%S +0000')" >apache/access.log
up "$D" || exit 1
monitor_ini "$D" "activate = ready
activate_margin = 10%" "access_log = $D/apache/access.log
readiness_window = 60s"
for who in a b; do
    mkdir -p $who/retired
    cp web.crt $who/web.pem
    policy=auto
    [ $who = b ] && policy=manual
    {
        printf '[agent]\nstate = agent.db\ndeleted = retired\nclient_id = %s\n' $who
        agent_server web web.pem $policy
    } >$who/agent.ini
done
status "run 2: the configuration is clean" 0 "$EVC" check-config monitor.ini
START=$(now)
"$EVC" monitor --config monitor.ini 2>monitor.log &
PIDS="$PIDS $!"
for who in a b; do
    (cd $who && exec "$EVC" agent --config agent.ini 2>agent.log) &
    PIDS="$PIDS $!"
done
(
    end=$((START + L2 + 10))
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        for who in a b; do
            if curl -sf --max-time 3 --cacert $who/web.pem --resolve web.test:$WEB:127.0.0.1 https://web.test:$WEB/ping >/dev/null 2>&1; then
                echo "$(now) curl $who ok"
            else
                echo "$(now) curl $who FAIL"
            fi
        done
        sleep 0.5
    done >>clients.log
) &
CL=$!
PIDS="$PIDS $CL"
check "run 2: the monitor renews at half the lifetime" wait_for monitor.log "action=renew store=web" $L2
check "run 2: b's agent queues the successor for a person" wait_for b/agent.log "event=queue" 15
"$EVC" inspect web.crt.sa --format json >sa.json 2>&1
sec() { date -u -d "$1" +%s; }
AT=$(sec "$(sed -n 's/.*"activate_at": *"\([^"]*\)".*/\1/p' sa.json)")
BY=$(sec "$(sed -n 's/.*"activate_by": *"\([^"]*\)".*/\1/p' sa.json)")
check "run 2: the SA carries a deadline after activate_at" test "$BY" -gt "$AT"
i=0
while [ "$(now)" -le "$AT" ] && [ $i -lt $((L2 * 10)) ]; do sleep 0.2; i=$((i + 1)); done
check "run 2: past activate_at the monitor waits on Apache's log" wait_for monitor.log "action=wait store=web reason=not-ready" 10
check "run 2: ... naming b as not ready" sh -c "grep 'action=wait store=web' monitor.log | grep -q 'unready=.*b'"
check "run 2: ... and Apache still serves the old certificate" sh -c \
    "echo | openssl s_client -connect 127.0.0.1:$WEB -servername web.test 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f | grep -qx '$OLD'"
ID=$("$EVC" pending --config b/agent.ini --format json | sed -n 's/.*"id": *\([0-9]*\).*/\1/p' | head -1)
APPROVED=$(now)
(cd b && "$EVC" approve --config agent.ini "$ID" >/dev/null 2>&1)
check "run 2: a person approves for b" test $? = 0
check "run 2: the swap follows b's report in Apache's log" wait_for monitor.log "action=activate store=web" $((BY - $(now) + 5))
SWAPPED=$(now)
sleep 2
touch STOP
wait $CL 2>/dev/null
echo "run 2: activate_at +$((AT - START)) s, approved +$((APPROVED - START)) s, swapped +$((SWAPPED - START)) s, deadline +$((BY - START)) s"
for who in a b; do
    echo "  curl $who: $(grep -c " curl $who " clients.log) connections, $(grep -c " curl $who FAIL" clients.log) failed"
done
check "run 2: the swap came after the approval" test "$SWAPPED" -ge "$APPROVED"
check "run 2: ... before the deadline" test "$SWAPPED" -lt "$BY"
check "run 2: ... and not for the deadline" sh -c "! grep 'action=activate store=web' monitor.log | grep -q 'reason=deadline'"
check "run 2: ... before the old certificate ended" test "$SWAPPED" -lt "$NOT_AFTER"
check "run 2: Apache logged b holding the successor" grep -q 'GET /.well-known/evercert/successor?held=[0-9]*&client=b HTTP/1.1" 200' apache/access.log
for who in a b; do
    check "run 2: curl on $who's bundle made connections" test "$(grep -c " curl $who ok" clients.log)" -gt 0
    check "run 2: 0 failed connections of curl on $who's bundle" test "$(grep -c " curl $who FAIL" clients.log)" = 0
done
if [ "$fail" != 0 ]; then
    echo "--- monitor.log (run 2)" >&2 && tail -30 monitor.log >&2
    echo "--- b/agent.log (run 2)" >&2 && tail -10 b/agent.log >&2
    tail -5 apache/access.log >&2
fi
summary apache.sh
