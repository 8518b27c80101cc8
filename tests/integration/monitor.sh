#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert monitor as an operator runs it: in the background, on a
# schedule a few seconds away (--at moves its clock), with certificates
# that live ten minutes, nginx as the served application, a real SMTP
# sink, the metrics file and the history; then --trigger, SIGHUP with a
# broken configuration, a second monitor, SIGTERM, an unreachable mail
# server and a corrupt state database.
#
# usage: monitor.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: monitor.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
T=$(mktemp -d /tmp/evc-monitor-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
# wait_for FILE TEXT SECONDS: until FILE holds TEXT (bounded)
wait_for() {
    i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    grep -qF -- "$2" "$1" 2>/dev/null
}

for tool in nginx curl python3; do
    if ! command -v $tool >/dev/null; then
        echo "SKIP: $tool not installed (bootstrap.sh installs it)" >&2
        echo "monitor.sh: 0 passed, 0 failed"
        exit 0
    fi
done
PORTS=$(cd "$(dirname "$0")" && pwd)/ports.sh
cd "$T" || exit 1
. "$PORTS"
PORT=$(port_block 8)
SMTP=$((PORT + 1))

# --- the set-up: a root, a server certificate ending in 2 minutes, nginx, a mail sink
"$EVC" ca init --out root --subject "CN=Monitor Root" >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test,IP:127.0.0.1 --minutes 10 \
    --at "$(at '-8 minutes')" --out-cert web.crt --out-key web.key >/dev/null
cp root/ca.crt bundle.pem
mkdir deleted logs
cat >nginx.conf <<EOF
pid $T/nginx.pid;
error_log $T/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT ssl;
        ssl_certificate $T/web.crt;
        ssl_certificate_key $T/web.key;
        location / { return 200 "ok\n"; }
    }
}
EOF
nginx -p "$T" -c "$T/nginx.conf" || { bad "nginx did not start"; exit 1; }
python3 -W ignore -m smtpd -n -c DebuggingServer 127.0.0.1:$SMTP >smtp.log 2>&1 &
PIDS="$PIDS $!"
# The monitor's first pass runs as soon as it starts: the mail sink must listen by then.
i=0
while ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" $SMTP 2>/dev/null &&
    [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
served() { openssl s_client -connect 127.0.0.1:$PORT -servername web.test </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }

# The scheduled run: a minute boundary; the monitor starts 3 s before it. Never one so near that
# the start would come before now (the certificate, just issued, would not be valid yet then).
BOUNDARY=$(( ($(date +%s) + 5) / 60 * 60 + 60 ))
NEXT=$(date -u -d "@$BOUNDARY" +%H:%M)
START=$(date -u -d "@$((BOUNDARY - 3))" +%Y-%m-%dT%H:%M:%SZ)
cat >c.ini <<EOF
[policy]
expiration_threshold = 33%
distribution_window = 2s

[monitor]
frequency = 1
day_of_week = any
hour = ${NEXT%:*}
minute = ${NEXT#*:}
state = state.db
metrics_file = metrics.prom

[notify]
report_file = report.json
email_to = ops@example.org|sec@example.org@127.0.0.1:$SMTP
email_from = evercert@example.org

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = web.crt
key = web.key
after_replace = nginx -p $T -c $T/nginx.conf -s reload
verify = 127.0.0.1:$PORT
verify_servername = web.test

[store "clients"]
role = trust
path = bundle.pem

[store "deleted"]
role = deleted
path = deleted
EOF
cp c.ini c.good
OLD=$(fp web.crt)
check "nginx serves the old certificate" test "$(served)" = "$OLD"
# sd_notify's socket, as systemd gives it to a Type=notify service.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
        f.flush()
' "$T/notify.sock" notify.log &
PIDS="$PIDS $!"
sleep 0.2
NOTIFY_SOCKET="$T/notify.sock" "$EVC" monitor --config c.ini --at "$START" 2>mon.log &
MON=$!
PIDS="$PIDS $MON"
check "the monitor starts and says when it runs" wait_for mon.log "started; next report pass" 5
check "the scheduled run happened" wait_for mon.log "pass started (schedule)" 10
check "the successor was staged, not swapped" wait_for mon.log "action=renew store=web reason=threshold" 10
check "the monitor woke at activate_at" wait_for mon.log "pass started (due)" 10
check "the activation verified nginx" wait_for mon.log "verify=127.0.0.1:$PORT serves it" 15
NEW=$(fp web.crt)
check "web.crt is renewed before it expired" test "$NEW" != "$OLD"
check "nginx serves the renewed certificate" test "$(served)" = "$NEW"
check "curl trusts it with the clients' bundle" curl -sf --cacert bundle.pem --resolve web.test:$PORT:127.0.0.1 https://web.test:$PORT/
wait_for smtp.log "Subject: evercert: THRESHOLD, 1 renewed" 10 && ok ||
    bad "the mail arrived: $(grep '^Subject:' smtp.log | tr '\n' '|') $(grep 'mail' mon.log | tr '\n' '|')"
check "the mail went to both recipients" grep -qF "To: <ops@example.org>, <sec@example.org>" smtp.log
check "the mail lists the renewal" grep -q "renew  *web  *threshold" smtp.log
check "the activation sent a second mail" wait_for smtp.log "Subject: evercert: 0 renewed, 1 action" 10
check "the metrics file counts the renewal" grep -qx "evercert_renewals_total 1" metrics.prom
check "the metrics file has the next run" grep -q "^evercert_monitor_next_run_timestamp_seconds [1-9]" metrics.prom
check "the metrics file has the scan's gauges" grep -q "^evercert_cert_not_after_timestamp_seconds" metrics.prom
check "the report file says when each certificate is replaced" jq -e '[.certificates[] | select(.store == "web") | .renew_at] | all(. != null)' report.json
"$EVC" history --config c.ini >history.txt
check "history shows the scheduled run" grep -q "schedule" history.txt
check "history shows the replacement" grep -q "renew  *web" history.txt
"$EVC" history --config c.ini --format json >history.json
check "history as JSON" jq -e '(.runs | length) >= 2 and ([.replacements[] | select(.action == "activate")] | length) == 1' history.json

# --trigger: a run now, its result back.
"$EVC" monitor --trigger --config c.ini >trigger.out 2>&1
rc=$?
check "--trigger gets a result" grep -q "^status=$rc actions=" trigger.out
check "the triggered run is in the log" grep -q "pass started (trigger)" mon.log

# A second monitor on the same state refuses.
"$EVC" monitor --config c.ini >second.out 2>&1
check "a second monitor exits 3" test $? = 3
check "a second monitor says why" grep -q "another evercert is running on this state" second.out

# SIGHUP with a broken configuration: reported, the old one kept.
echo "this is not ini" >>c.ini
kill -HUP $MON
check "a broken reload is reported" wait_for mon.log "reload refused, the old configuration stays: " 5
check "the message names file and line" grep -q "c.ini:[0-9]*: not a section" mon.log
check "the monitor keeps running" kill -0 $MON
cp c.good c.ini
kill -HUP $MON
check "a good reload is taken" wait_for mon.log "configuration reloaded" 5
"$EVC" monitor --trigger --config c.ini >trigger2.out 2>&1
check "it still answers" grep -q "^status=" trigger2.out

# Built with libsystemd: READY, RELOADING and STOPPING reach systemd; log = journal is taken.
if sed 's/^\[notify\]$/[notify]\nlog = journal/; s/^state = state.db$/state = cj.db/' c.good >cj.ini && "$EVC" monitor --config cj.ini --once >/dev/null 2>cj.err ||
    ! grep -q "needs evercert built with libsystemd" cj.err; then
    SYSTEMD=1
    check "sd_notify: READY=1 at start" grep -qx "READY=1" notify.log
    check "sd_notify: RELOADING=1 on SIGHUP" grep -qx "RELOADING=1" notify.log
    check "log = journal is accepted" sh -c "! grep -q 'log:' cj.err"
else
    SYSTEMD=0
    echo "SKIP: evercert built without libsystemd: no sd_notify, no journal" >&2
fi

# SIGTERM: it stops.
kill -TERM $MON
i=0; while kill -0 $MON 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "SIGTERM stops the monitor" sh -c "! kill -0 $MON"
wait $MON
check "it exits 0" test $? = 0
[ "$SYSTEMD" = 1 ] && check "sd_notify: STOPPING=1 on SIGTERM" grep -qx "STOPPING=1" notify.log

# An unreachable mail server: logged, the run goes on, the next run tries again.
sed -i "s/@127.0.0.1:$SMTP/@127.0.0.1:1/" c.ini
"$EVC" issue --ca root --cn web2.test --san DNS:web2.test --minutes 10 --at "$(at '-8 minutes')" \
    --out-cert web2.crt --out-key web2.key >/dev/null
printf '\n[store "web2"]\nrole = personal\ncert = web2.crt\nkey = web2.key\n' >>c.ini
"$EVC" monitor --config c.ini --once 2>once.log
check "--once gives a Nagios status, not 3" test $? -lt 3
check "an unreachable mail server is logged" grep -q "mail not sent (next run retries): smtp://127.0.0.1:1" once.log
check "the run still renewed" grep -q "action=renew store=web2" once.log

# A corrupt state database: a clear error, and it is not replaced.
echo "corrupt corrupt corrupt corrupt corrupt corrupt corrupt corrupt corrupt corrupt" >bad.db
head -c 4096 /dev/urandom >>bad.db
sum=$(sha256sum bad.db)
sed 's/^state = state.db$/state = bad.db/' c.good >c2.ini
"$EVC" monitor --config c2.ini --once 2>corrupt.err
check "a corrupt state exits 3" test $? = 3
check "a corrupt state is named" grep -q "bad.db" corrupt.err
check "a corrupt state is not replaced" test "$(sha256sum bad.db)" = "$sum"

echo "monitor.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
