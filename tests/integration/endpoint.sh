#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert scan of endpoints against real servers on 127.0.0.1: evercert
# serve and nginx over TLS (a certificate renewed on disk but not reloaded
# is a mismatch until nginx reloads), SMTP and IMAP STARTTLS (small peers
# on Python's ssl module: OpenSSL 3.0's s_server has no -starttls),
# PostgreSQL's SSLRequest (a real cluster, ssl = on), a chain sent with a
# soon-expiring cross-sign that is not on the verified path, and peers that
# drip, reset, send garbage, never answer, inject after STARTTLS or lie
# about their chain: each one error row, the others unaffected. Then 250
# endpoints at once, and the bound on how many are in flight.
#
# usage: endpoint.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: endpoint.sh PATH-TO-EVERCERT}
HERE=$(cd "$(dirname "$0")" && pwd)
PEER="$HERE/endpoint_peer.py"
T=$(mktemp -d /tmp/evc-endpoint-XXXXXX)
PIDS=""
PGD=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
    [ -f "$T/many/nginx.pid" ] && kill "$(cat "$T/many/nginx.pid")" 2>/dev/null
    if [ -n "$PGD" ]; then pgrun "$PGBIN/pg_ctl" -D "$PGD/data" -m immediate stop >/dev/null 2>&1; rm -rf "$PGD"; fi
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$HERE/lib.sh"
cd "$T" || exit 1

ossl() { openssl "$@" 2>/dev/null || { echo "openssl $* failed" >&2; exit 1; }; }
# freeports N: N consecutive ports free on 127.0.0.1 now, below the ephemeral range (ports.sh)
freeports() {
    b=$(port_block "$1") && seq "$b" $((b + $1 - 1)) | tr '\n' ' '
}
# listening PORT: until something accepts on PORT (bounded)
listening() {
    i=0
    while ! python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$1" 2>/dev/null; do
        [ $i -ge 100 ] && return 1
        sleep 0.1; i=$((i + 1))
    done
}
js() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

set -- $(freeports 16)
SERVE=$1 NGX=$2 SMTP=$3 IMAP=$4 PG=$5 XS=$6 LIE=$7 DRIP=$8 RESET=$9
shift 9
GARB=$1 SILENT=$2 INJECT=$3 FLOOD=$4 CLOSED=$5

# --- certificates -------------------------------------------------------------
"$EVC" ca init --out root --subject "CN=Endpoint Test Root" >/dev/null
for n in a b; do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test,DNS:localhost,IP:127.0.0.1 --days 30 \
        --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" ca init --out other --subject "CN=Someone Else" >/dev/null
"$EVC" issue --ca other --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 \
    --out-cert liar.crt --out-key liar.key >/dev/null

# A new root R (the anchor), an intermediate under it, a leaf; and a
# cross-sign of R by an old root that expires in two days. The server sends
# leaf, intermediate and the cross-sign; clients stop at R.
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:xs.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >leaf.ext
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
ossl req -x509 $ec -keyout R.key -subj "/CN=New Root" -days 3650 -addext "basicConstraints=critical,CA:TRUE" -out R.crt
ossl req -x509 $ec -keyout O.key -subj "/CN=Old Root" -days 3650 -addext "basicConstraints=critical,CA:TRUE" -out O.crt
ossl req -new -key R.key -subj "/CN=New Root" -out X.csr
ossl x509 -req -in X.csr -CA O.crt -CAkey O.key -CAcreateserial -days 2 -extfile ca.ext -out X.crt
ossl req -new $ec -keyout I.key -subj "/CN=Intermediate" -out I.csr
ossl x509 -req -in I.csr -CA R.crt -CAkey R.key -CAcreateserial -days 365 -extfile ca.ext -out I.crt
ossl req -new $ec -keyout L.key -subj "/CN=xs.test" -out L.csr
ossl x509 -req -in L.csr -CA I.crt -CAkey I.key -CAcreateserial -days 90 -extfile leaf.ext -out L.crt
cat I.crt X.crt >IX.pem

# --- evercert serve -----------------------------------------------------------
"$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$SERVE 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$SERVE" 5
status "evercert serve: a verified chain exits 0" 0 "$EVC" scan --ca root/ca.crt tls://127.0.0.1:$SERVE
check "the leaf's row is at tls://127.0.0.1:$SERVE#0" grep -q "tls://127.0.0.1:$SERVE#0 .*CN=web.test" out
check "the text row says the chain verified and its earliest expiry" grep -q "chain verified, earliest expiry $(openssl x509 -in a.crt -noout -enddate | sed 's/notAfter=//' | xargs -I{} date -u -d {} +%Y-%m-%dT%H:%M:%SZ)" out
status "a name is resolved and sent as SNI" 0 "$EVC" scan --ca root/ca.crt tls://localhost:$SERVE
status "a name the certificate does not have fails verification" 3 "$EVC" scan --ca root/ca.crt "tls://127.0.0.1:$SERVE?sni=other.test"
check "  ... with OpenSSL's reason" grep -q "chain does not verify: hostname mismatch" out
status "without --ca the system's anchors do not know the test root" 3 "$EVC" scan tls://127.0.0.1:$SERVE
check "  ... said in one error row" grep -q "tls://127.0.0.1:$SERVE: chain does not verify: unable to get local issuer certificate" out
# Nagios exit statuses, moved in time with --at (30-day certificates: threshold at day 15).
status "threshold at +20 days exits 1" 1 "$EVC" scan --ca root/ca.crt --at "$(at '+20 days')" tls://127.0.0.1:$SERVE
status "expired at +40 days exits 2" 2 "$EVC" scan --ca root/ca.crt --at "$(at '+40 days')" tls://127.0.0.1:$SERVE
check "  ... and the chain, verified at that time, has expired" grep -q "chain does not verify: certificate has expired" out
# A name that does not resolve (RFC 6761: .invalid never does) is its own error row, within the timeout.
status "a name that does not resolve exits 3" 3 "$EVC" scan --ca root/ca.crt --timeout 3 tls://no-such-host.invalid:443 tls://127.0.0.1:$SERVE
check "  ... one error row naming it, the other endpoint verified" sh -c "grep -q '^unreadable: tls://no-such-host.invalid:443: ' out && grep -q 'tls://127.0.0.1:$SERVE#0 .*chain verified' out"
status "nothing listening exits 3" 3 "$EVC" scan --ca root/ca.crt tls://127.0.0.1:$CLOSED
check "  ... one error row naming the endpoint" grep -q "tls://127.0.0.1:$CLOSED: connect: Connection refused" out
"$EVC" scan --format json --ca root/ca.crt tls://127.0.0.1:$SERVE >serve.json
check "JSON: the leaf verified, chain_not_after the leaf's notAfter" js serve.json "d['certificates'][0]['verified'] and d['certificates'][0]['chain_not_after'] == d['certificates'][0]['not_after']"
"$EVC" scan --format prometheus --ca root/ca.crt tls://127.0.0.1:$SERVE tls://127.0.0.1:$CLOSED >serve.prom
check "prometheus: evercert_endpoint_up 1 and 0" sh -c "grep -q 'evercert_endpoint_up{endpoint=\"tls://127.0.0.1:$SERVE\"} 1' serve.prom && grep -q 'evercert_endpoint_up{endpoint=\"tls://127.0.0.1:$CLOSED\"} 0' serve.prom"
check "prometheus: the earliest verified expiry" grep -q "^evercert_endpoint_chain_not_after_timestamp_seconds{endpoint=\"tls://127.0.0.1:$SERVE\"} [0-9]" serve.prom
# Usage errors name what is wrong.
status "a URL without a port" 3 "$EVC" scan tls://web.test
check "  ... is named" grep -q "tls://web.test: missing port" err
status "an unknown scheme" 3 "$EVC" scan http://web.test:80
check "  ... is named" grep -q "unknown scheme" err

# --- nginx: renewed on disk, not reloaded --------------------------------------
if command -v nginx >/dev/null 2>&1; then
    mkdir -p logs
    cp a.crt web.crt && cp a.key web.key
    cat >nginx.conf <<EOF
pid $T/nginx.pid;
error_log $T/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$NGX ssl;
        ssl_certificate $T/web.crt;
        ssl_certificate_key $T/web.key;
    }
}
EOF
    nginx -p "$T" -c "$T/nginx.conf"
    check "nginx starts" listening $NGX
    status "nginx serves the certificate on disk: exit 0" 0 "$EVC" scan --ca root/ca.crt --compare web.crt tls://127.0.0.1:$NGX
    cp b.crt web.crt && cp b.key web.key # renewed, nginx not reloaded
    status "renewed on disk, nginx not reloaded: exit 3" 3 "$EVC" scan --ca root/ca.crt --compare web.crt tls://127.0.0.1:$NGX
    check "  ... the mismatch is one error row naming the file" grep -q "tls://127.0.0.1:$NGX: served certificate differs from on-disk web.crt (sha256 $(fp a.crt | cut -c1-16)... served, $(fp b.crt | cut -c1-16)... on disk)" out
    "$EVC" scan --format prometheus --ca root/ca.crt --compare web.crt tls://127.0.0.1:$NGX >ngx.prom
    check "  ... and evercert_endpoint_mismatch 1" grep -q "evercert_endpoint_mismatch{endpoint=\"tls://127.0.0.1:$NGX\"} 1" ngx.prom
    # The monitor: the same endpoint from [endpoint] with store = web, each pass.
    cat >mon.ini <<EOF
[monitor]
state = mon.db
metrics_file = mon.prom
[notify]
log = stderr
[store "web"]
role = personal
cert = web.crt
key = web.key
[endpoint "web"]
address = tls://127.0.0.1:$NGX?sni=web.test
store = web
ca = root/ca.crt
timeout = 5s
[endpoint "down"]
address = tls://127.0.0.1:$CLOSED
timeout = 2s
EOF
    status "check-config takes [endpoint] sections" 0 "$EVC" check-config mon.ini
    "$EVC" monitor --config mon.ini --once >mon.out 2>mon.err
    check "monitor: the stale nginx is logged as a mismatch" grep -q "endpoint web (tls://127.0.0.1:$NGX?sni=web.test): served certificate differs from store web's ./web.crt" mon.err
    check "monitor: the endpoint that is down is logged" grep -q "endpoint down (tls://127.0.0.1:$CLOSED): connect: Connection refused" mon.err
    "$EVC" monitor --config mon.ini --once --format json >mon.json 2>/dev/null
    check "monitor: the JSON report's endpoints, the mismatch and the one down" js mon.json "[(e['name'], e['standing'], e['mismatch'], e['verified']) for e in d['endpoints']] == [('web', 'mismatch', True, True), ('down', 'error', None, False)]"
    check "monitor: evercert_endpoint_mismatch 1 with the endpoint's name" grep -q "evercert_endpoint_mismatch{endpoint=\"tls://127.0.0.1:$NGX?sni=web.test\",name=\"web\"} 1" mon.prom
    check "monitor: evercert_endpoint_up 0 for the one down" grep -q "evercert_endpoint_up{endpoint=\"tls://127.0.0.1:$CLOSED\",name=\"down\"} 0" mon.prom
    check "monitor: the served leaf is a row of the metrics like a store's" grep -q "evercert_cert_status{path=\"tls://127.0.0.1:$NGX?sni=web.test#0\"" mon.prom
    # Moved in time with a configuration of endpoints alone (a store would be renewed at +40 days).
    printf '[monitor]\nstate = mon2.db\nmetrics_file = mon2.prom\n[endpoint "web"]\naddress = tls://127.0.0.1:%s?sni=web.test\nca = root/ca.crt\n' $NGX >mon2.ini
    "$EVC" monitor --config mon2.ini --once --at "$(at '+40 days')" >/dev/null 2>mon.err
    check "monitor --at: the served leaf is classified at that time (expired)" grep -q "evercert_cert_status{path=\"tls://127.0.0.1:$NGX?sni=web.test#0\".*status=\"expired\"} 3" mon2.prom
    check "monitor --at: and its chain, verified then, has expired" grep -q "endpoint web (tls://127.0.0.1:$NGX?sni=web.test): chain does not verify: certificate has expired" mon.err
    nginx -p "$T" -c "$T/nginx.conf" -s reload
    # Until the old worker is gone: while it drains, it may still take a new connection.
    i=0
    while [ $i -lt 100 ] && { [ "$(ps --ppid "$(cat "$T/nginx.pid")" -o pid= | wc -l)" != 1 ] ||
        ! "$EVC" scan --ca root/ca.crt --compare web.crt tls://127.0.0.1:$NGX >/dev/null 2>&1; }; do
        sleep 0.1; i=$((i + 1))
    done
    status "after the reload the served certificate matches: exit 0" 0 "$EVC" scan --ca root/ca.crt --compare web.crt tls://127.0.0.1:$NGX
    "$EVC" monitor --config mon.ini --once >/dev/null 2>mon.err
    check "monitor: after the reload, evercert_endpoint_mismatch 0" grep -q "evercert_endpoint_mismatch{endpoint=\"tls://127.0.0.1:$NGX?sni=web.test\",name=\"web\"} 0" mon.prom
    printf '[monitor]\nstate = x.db\n[endpoint "x"]\naddress = tls://h\n' >bad.ini
    status "check-config: an endpoint without a port, at its line" 1 "$EVC" check-config bad.ini
    check "  ... named" grep -q 'bad.ini:4: endpoint "x": address: tls://h: missing port' err
else
    echo "SKIP: nginx is not installed (the stale-reload check did not run)"
fi

# --- the monitor's mail: once per change of an endpoint's standing ---------------
if python3 -W ignore -c 'import smtpd' 2>/dev/null; then
    MAILP=$(freeports 1)
    python3 -W ignore -m smtpd -n -c DebuggingServer 127.0.0.1:$MAILP >smtp.log 2>&1 &
    PIDS="$PIDS $!"
    check "the mail sink starts" listening $MAILP
    mailini() { # ADDRESS
        printf '[monitor]\nstate = mail.db\n[notify]\nlog = stderr\nemail_to = ops@x.test\nemail_from = evercert@x.test\nsmtp_url = smtp://127.0.0.1:%s\n[endpoint "svc"]\naddress = %s\nca = root/ca.crt\ntimeout = 2s\n' $MAILP "$1" >mail.ini
    }
    mails() { grep -c "Subject: evercert: 1 endpoint NOT OK" smtp.log; }
    mailini tls://127.0.0.1:$CLOSED
    "$EVC" monitor --config mail.ini --once >/dev/null 2>&1
    i=0; while [ "$(mails)" != 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    check "an endpoint down is mailed" test "$(mails)" = 1
    check "  ... naming it and why" grep -q "Endpoint svc (tls://127.0.0.1:$CLOSED): error: connect: Connection refused" smtp.log
    "$EVC" monitor --config mail.ini --once >/dev/null 2>&1
    check "still down at the next pass: not mailed again" test "$(mails)" = 1
    mailini tls://127.0.0.1:$SERVE
    "$EVC" monitor --config mail.ini --once >/dev/null 2>&1
    check "up again: nothing to tell" test "$(mails)" = 1
    mailini tls://127.0.0.1:$CLOSED
    "$EVC" monitor --config mail.ini --once >/dev/null 2>&1
    i=0; while [ "$(mails)" != 2 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    check "down once more: mailed again" test "$(mails)" = 2
else
    echo "SKIP: python3 has no smtpd module (the monitor's endpoint mail did not run)"
fi

# --- a cross-sign sent along, not on the verified path --------------------------
openssl s_server -accept 127.0.0.1:$XS -cert L.crt -key L.key -cert_chain IX.pem -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"
check "s_server starts" listening $XS
status "a soon-expiring cross-sign off the path raises no alarm: exit 0" 0 "$EVC" scan --format json --ca R.crt tls://127.0.0.1:$XS
cp out xs.json
check "the three presented certificates are listed" js xs.json "len(d['certificates']) == 3"
check "the earliest verified expiry is the leaf's, not the cross-sign's" js xs.json "d['certificates'][0]['chain_not_after'] == d['certificates'][0]['not_after'] and d['certificates'][2]['not_after'] < d['certificates'][0]['not_after']"
check "the cross-sign is marked as not on the verified chain and not counted" js xs.json "'not on the verified chain' in d['certificates'][2].get('warning', '') and d['summary']['total'] == 2"

# --- STARTTLS: SMTP, IMAP, PostgreSQL -----------------------------------------
python3 "$PEER" smtp $SMTP a.crt a.key >/dev/null 2>&1 &
PIDS="$PIDS $!"
python3 "$PEER" imap $IMAP a.crt a.key >/dev/null 2>&1 &
PIDS="$PIDS $!"
check "the SMTP peer starts" listening $SMTP
check "the IMAP peer starts" listening $IMAP
status "smtp:// (EHLO, STARTTLS) and imap:// (a STARTTLS) verify: exit 0" 0 "$EVC" scan --ca root/ca.crt smtp://127.0.0.1:$SMTP imap://127.0.0.1:$IMAP
check "  ... each with its leaf row" sh -c "grep -q 'smtp://127.0.0.1:$SMTP#0' out && grep -q 'imap://127.0.0.1:$IMAP#0' out"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; then
    PGD=$(mktemp -d /tmp/evc-endpoint-pg-XXXXXX)
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PGD"
        pgrun() { runuser -u postgres -- "$@"; }
    else
        pgrun() { "$@"; }
    fi
    cp a.crt "$PGD/server.crt" && cp a.key "$PGD/server.key" && chmod 600 "$PGD/server.key"
    [ "$(id -u)" = 0 ] && chown postgres "$PGD/server.crt" "$PGD/server.key"
    pgrun "$PGBIN/initdb" -D "$PGD/data" -A trust -U evc >"$T/initdb.log" 2>&1
    pgrun "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -o "-h 127.0.0.1 -p $PG -k $PGD -c ssl=on -c ssl_cert_file=$PGD/server.crt -c ssl_key_file=$PGD/server.key" start >/dev/null 2>&1
    check "postgres starts with ssl = on" listening $PG
    status "postgres:// (SSLRequest) verifies: exit 0" 0 "$EVC" scan --ca root/ca.crt postgres://127.0.0.1:$PG
    check "  ... with its leaf row" grep -q "postgres://127.0.0.1:$PG#0 .*CN=web.test" out
else
    echo "SKIP: postgresql is not installed (postgres:// did not run)"
fi

# --- peers that misbehave: one error row each, the good one unaffected ---------
openssl s_server -accept 127.0.0.1:$LIE -cert liar.crt -key liar.key -cert_chain R.crt -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"
for m in "drip $DRIP" "reset $RESET" "garbage $GARB" "silent $SILENT" "inject $INJECT" "smtpflood $FLOOD"; do
    python3 "$PEER" $m >/dev/null 2>&1 &
    PIDS="$PIDS $!"
done
for p in $LIE $DRIP $RESET $GARB $SILENT $INJECT $FLOOD; do
    check "peer on $p starts" listening $p
done
status "seven bad peers and a good one: exit 3" 3 "$EVC" scan --format json --ca root/ca.crt --timeout 3 \
    tls://127.0.0.1:$DRIP tls://127.0.0.1:$RESET tls://127.0.0.1:$GARB tls://127.0.0.1:$SILENT \
    smtp://127.0.0.1:$INJECT smtp://127.0.0.1:$FLOOD tls://127.0.0.1:$LIE tls://127.0.0.1:$SERVE
cp out bad.json
check "the good endpoint's leaf is there, verified" js bad.json "[c for c in d['certificates'] if c['path'] == 'tls://127.0.0.1:$SERVE#0' and c['verified']]"
check "exactly one error row for each bad peer, none for the good one" js bad.json "sorted(e['path'] for e in d['errors']) == sorted(['tls://127.0.0.1:' + str(p) for p in ($DRIP, $RESET, $GARB, $SILENT, $LIE)] + ['smtp://127.0.0.1:$INJECT', 'smtp://127.0.0.1:$FLOOD'])"
err() { python3 -c "import json, sys; print([e['error'] for e in json.load(open(sys.argv[1]))['errors'] if e['path'] == sys.argv[2]][0])" bad.json "$1"; }
e=$(err tls://127.0.0.1:$DRIP); case $e in "no answer within 3000 ms (in the TLS handshake)") ok ;; *) bad "drip: $e" ;; esac
e=$(err tls://127.0.0.1:$SILENT); case $e in "no answer within 3000 ms (in the TLS handshake)") ok ;; *) bad "silent: $e" ;; esac
e=$(err tls://127.0.0.1:$RESET); case $e in "TLS handshake: "*) ok ;; *) bad "reset: $e" ;; esac
e=$(err tls://127.0.0.1:$GARB); case $e in "TLS handshake: "*) ok ;; *) bad "garbage: $e" ;; esac
e=$(err smtp://127.0.0.1:$INJECT); case $e in "bytes after the STARTTLS reply") ok ;; *) bad "inject: $e" ;; esac
e=$(err smtp://127.0.0.1:$FLOOD); case $e in "SMTP: a line over 1024 bytes"|"more than 16384 bytes before TLS") ok ;; *) bad "flood: $e" ;; esac
e=$(err tls://127.0.0.1:$LIE); case $e in "chain does not verify: unable to get local issuer certificate"*) ok ;; *) bad "lie: $e" ;; esac

# --- 250 endpoints at once, and the bound on those in flight -------------------
if command -v nginx >/dev/null 2>&1; then
    mkdir -p many/logs
    PORTS=$(freeports 250)
    {
        echo "pid $T/many/nginx.pid; error_log $T/many/logs/error.log; worker_rlimit_nofile 4096;"
        echo "events { worker_connections 2048; } http { access_log off; server {"
        for p in $PORTS; do echo "listen 127.0.0.1:$p ssl;"; done
        echo "ssl_certificate $T/a.crt; ssl_certificate_key $T/a.key; } }"
    } >many/nginx.conf
    nginx -p "$T/many" -c "$T/many/nginx.conf"
    check "nginx listens on 250 ports" listening "$(echo $PORTS | cut -d' ' -f250)"
    URLS=$(for p in $PORTS; do printf 'tls://127.0.0.1:%s ' $p; done)
    status "250 endpoints, 64 in flight: exit 0" 0 "$EVC" scan --format json --ca root/ca.crt $URLS
    check "  ... 250 verified leaves" js out "len(d['certificates']) == 250 and all(c['verified'] for c in d['certificates']) and not d['errors']"
    # One slot serves them all in turn: nothing of one endpoint's connection carries to the next.
    status "250 endpoints one at a time (--parallel 1): exit 0" 0 "$EVC" scan --format json --parallel 1 --ca root/ca.crt $URLS
    check "  ... 250 verified leaves" js out "len(d['certificates']) == 250 and all(c['verified'] for c in d['certificates']) and not d['errors']"
fi
# A peer on 120 ports that never answers and counts its open connections:
# with --parallel 20 it never sees more than 20 at once, and it sees more than one.
SP=$(freeports 120)
python3 -c '
import selectors, socket, sys
sel = selectors.DefaultSelector()
for p in sys.argv[2:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(p))); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, None)
open(sys.argv[1] + ".tmp", "w").close()
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1] + ".ready")
cur = top = 0
while True:
    for k, _ in sel.select():
        if k.data is None:
            c, _ = k.fileobj.accept(); c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, 1); cur += 1; top = max(top, cur)
            open(sys.argv[1], "w").write(str(top))
        else:
            try:
                d = k.fileobj.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(k.fileobj); k.fileobj.close(); cur -= 1
' "$T/top" $SP &
PIDS="$PIDS $!"
i=0; while [ ! -f "$T/top.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
URLS=$(for p in $SP; do printf 'tls://127.0.0.1:%s ' $p; done)
status "120 silent endpoints, --parallel 20 --timeout 1: exit 3" 3 "$EVC" scan --format json --parallel 20 --timeout 1 $URLS
check "  ... 120 error rows, one each" js out "len(d['errors']) == 120 and len(set(e['path'] for e in d['errors'])) == 120"
top=$(cat "$T/top" 2>/dev/null || echo 0)
if [ "$top" -le 20 ] && [ "$top" -gt 1 ]; then ok; else bad "in flight at once: $top, want 2..20"; fi

# Many names looked up at once, again and again: the resolver's threads never take the scan down
# (gai_suspend() raced with them: about one run in ten crashed before).
names=""
for i in $(seq 1 32); do names="$names tls://localhost:$(port_block 1)"; done
crashed=0
for i in $(seq 1 30); do
    # shellcheck disable=SC2086
    "$EVC" scan --timeout 2 $names >/dev/null 2>&1
    [ $? -ge 128 ] && crashed=$((crashed + 1))
done
check "32 names at once, 30 times: no crash" test $crashed = 0

summary endpoint
