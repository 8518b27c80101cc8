#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Activation that waits for the clients (activate = ready), with the real
# `evercert monitor --once` and `evercert renew` moved through time with
# --at, against access logs written as nginx writes them (Combined Log
# Format, the successor URL with ?held=G&client=ID). Two stores renewed
# at T0, live at T0+10m at the earliest, by T0+20m at the latest:
#   web: one client of two holds the successor at T0+12m -> wait, the
#        other named; both at T0+13m -> live at T0+14m, before the deadline;
#   big: a client not ready more than 16 MiB back in its log is not read;
#   srv: readiness = unix:PATH, a real `evercert serve --status-listen`
#        counting URL fetches from 127.0.0.2 and .3: unreachable and another
#        generation are waits; ready -> live;
#   api: one client never takes it -> wait (the log unreadable for a
#        while: still a wait, saying why), live at the deadline T0+20m,
#        the report and the log naming the client.
#
# usage: activate.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: activate.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
T=$(mktemp -d /tmp/evc-activate-XXXXXX)
export TZ=UTC LC_ALL=C
SMTPD=
MON=
SERVE=
cleanup() {
    [ -n "$MON" ] && kill "$MON" 2>/dev/null
    [ -n "$SMTPD" ] && kill "$SMTPD" 2>/dev/null
    [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
for tool in python3 openssl; do
    if ! command -v $tool >/dev/null; then
        echo "SKIP: $tool not installed (bootstrap.sh installs it)" >&2
        exit 77
    fi
done
cd "$T" || exit 1
SMTP=$(port_block 8)
python3 -W ignore -m smtpd -n -c DebuggingServer 127.0.0.1:$SMTP >smtp.log 2>&1 &
SMTPD=$!
i=0
while ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" $SMTP 2>/dev/null &&
    [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done

WK=/.well-known/evercert/successor
T0=$(date -u +%s)
# iso SECONDS-AFTER-T0: the --at form
iso() { date -u -d "@$((T0 + $1))" +%Y-%m-%dT%H:%M:%SZ; }
# hit LOG SECONDS-AFTER-T0 ADDR QUERY: one access-log line as nginx's combined format writes it
hit() {
    printf '%s - - [%s] "GET /.well-known/evercert/successor?%s HTTP/1.1" 200 2817 "-" "evercert-agent/1"\n' \
        "$3" "$(date -u -d "@$((T0 + $2))" '+%d/%b/%Y:%H:%M:%S +0000')" "$4" >>"$1"
}
# js FILE PYTHON-EXPRESSION: true when the expression holds of the JSON report r
js() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }
# act FILE STORE: the report's action for STORE, as a Python expression's r
act() { echo "[a for a in r['actions'] if a['store'] == '$1' and a['action'] in ('wait', 'activate')][0]"; }
monitor() { # monitor SECONDS-AFTER-T0: one pass, its log in mon-N.log, the report in report-N.json
    "$EVC" monitor --config c.ini --once --at "$(iso "$1")" 2>"mon-$1.log" >/dev/null
    cp report.json "report-$1.json" 2>/dev/null
}

# --- the set-up: a root, two certificates of 100 minutes with 40 left -------------
"$EVC" ca init --out root --subject "CN=Activate Root" >/dev/null
for s in web api big; do
    "$EVC" issue --ca root --cn $s.test --san DNS:$s.test --minutes 100 --at "$(iso -3600)" \
        --out-cert $s.crt --out-key $s.key >/dev/null
done
: >web.log
: >api.log
: >big.log
cat >c.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 10m
activate = ready
activate_margin = 20m
delete_old = false

[monitor]
enabled = false
state = state.db

[notify]
report_file = report.json
email_to = ops@example.org@127.0.0.1:$SMTP
email_from = evercert@example.org

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = web.crt
key = web.key
access_log = web.log
readiness_window = 1h

[store "api"]
role = personal
cert = api.crt
key = api.key
access_log = api.log

[store "big"]
role = personal
cert = big.crt
key = big.key
access_log = big.log
readiness_window = 1h
EOF
status "the configuration is clean" 0 "$EVC" check-config c.ini
WEB0=$(fp web.crt)
API0=$(fp api.crt)

# --- T0: both renewed; the SA carries the deadline -------------------------------
monitor 0
check "renewed at T0, the deadline 20 minutes before the old end" js report-0.json \
    "len([a for a in r['actions'] if a['action'] == 'renew' and a['activate_by'] == '$(iso 1200)']) == 3"
check "successors staged" test -f web.crt.next -a -f api.crt.next
"$EVC" inspect web.crt.sa >sa.txt 2>&1
check "the SA says the deadline (activateBy)" grep -q "^activate by  *$(iso 1200)" sa.txt
WEB1=$(fp web.crt.next)
API1=$(fp api.crt.next)
# The deadline announced is the one kept: a margin changed now moves no staged successor's.
sed -i 's/^activate_margin = 20m$/activate_margin = 5m/' c.ini
check "the margin changed" grep -q "^activate_margin = 5m" c.ini

# A count is complete only when the log reaches back a whole window: each log
# starts with a line older than that (another client's page).
early() { # early LOG SECONDS-AFTER-T0
    printf '%s - - [%s] "GET /index.html HTTP/1.1" 200 512 "-" "curl"\n' 192.0.2.200 \
        "$(date -u -d "@$((T0 + $2))" '+%d/%b/%Y:%H:%M:%S +0000')" >>"$1"
}
early web.log -4000
early api.log $((-8 * 86400))
early big.log -4000

# --- T0+5m: before activate_at nothing goes live, ready or not ---------------------
hit web.log 200 192.0.2.7 "held=1&client=agent-7"
monitor 300
check "nothing live before activate_at" test "$(fp web.crt)" = "$WEB0"

# --- T0+12m: agent-7 holds it, agent-8 (and its NAT neighbour) does not ------------
hit web.log 600 192.0.2.8 "held=0&client=agent-8"
hit web.log 610 192.0.2.8 "held=0"
hit api.log 620 198.51.100.9 "held=0&client=agent-9"
hit api.log 630 198.51.100.10 "held=1&client=agent-10"
# big: a client not ready, then more than 16 MiB of other lines, then a ready one.
# Only the last 16 MiB are read (from a line start): the first is not seen.
hit big.log 640 203.0.113.5 "held=0&client=agent-5"
# (dated an hour and more back, so the 16 MiB read still reach back big's 1 h window)
python3 -c "
import sys
line = '203.0.113.6 - - [%s] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"curl\"\n' % sys.argv[1]
with open('big.log', 'a') as f:
    f.write(line * (17 * 1024 * 1024 // len(line) + 1))
" "$(date -u -d "@$((T0 - 4000))" '+%d/%b/%Y:%H:%M:%S +0000')"
hit big.log 650 203.0.113.7 "held=1&client=agent-7b"
monitor 720
check "only the access log's last 16 MiB count" js report-720.json \
    "$(act big)['action'] == 'activate' and $(act big)['readiness']['clients'] == 1"
check "web waits for its clients" js report-720.json \
    "$(act web)['reason'] == 'not-ready' and $(act web)['action'] == 'wait'"
check "the wait counts 1 of 2 address groups" js report-720.json \
    "$(act web)['readiness']['known'] and $(act web)['readiness']['clients'] == 2 and $(act web)['readiness']['ready'] == 1"
check "the wait names the client not ready" js report-720.json \
    "'192.0.2.8 ' in $(act web)['readiness']['unready'] and 'agent-7' not in $(act web)['readiness']['unready']"
check "the wait shows the deadline" js report-720.json "$(act web)['activate_by'] == '$(iso 1200)'"
check "a wait writes nothing" js report-720.json "not $(act web)['done']"
check "web still serves the old certificate" test "$(fp web.crt)" = "$WEB0"
check "the monitor's log names the unready client" grep -q 'action=wait store=web.*unready=".*agent-8' mon-720.log
# The text report of a dry run says the same.
"$EVC" renew --config c.ini --dry-run --at "$(iso 730)" >dry.txt 2>&1
check "renew's text report names the unready client" grep -q "wait .*web .*not-ready.*deadline $(iso 1200).*not ready: 192.0.2.8 " dry.txt

# --- T0+14m: agent-8 took it at T0+13m: web goes live before the deadline ------------
hit web.log 780 192.0.2.8 "held=1&client=agent-8"
monitor 840
check "web goes live when its clients are ready" js report-840.json \
    "$(act web)['action'] == 'activate' and $(act web)['reason'] == 'activate' and $(act web)['done']"
check "the live certificate is the successor" test "$(fp web.crt)" = "$WEB1"
check "api still waits" js report-840.json "$(act api)['action'] == 'wait'"

# --- T0+16m: api's log cannot be read: unknown is never ready -------------------
mv api.log api.log.away
monitor 960
check "an unreadable log is a wait" js report-960.json \
    "$(act api)['action'] == 'wait' and not $(act api)['readiness']['known']"
check "the wait says why the clients were not counted" js report-960.json \
    "'clients not counted: access_log' in $(act api)['detail'] and 'api.log' in $(act api)['detail']"
check "api still serves the old certificate" test "$(fp api.crt)" = "$API0"
mv api.log.away api.log

# --- T0+18m and T0+19m: the last quarter of the wait: one mail names agent-9 ---------
monitor 1080
wait_for smtp.log "clients NOT READY near a deadline" 10 && ok ||
    bad "a mail says the clients are not ready near the deadline: $(grep '^Subject:' smtp.log | tr '\n' '|')"
check "the mail names the deadline" grep -q "Store api: its successor goes live by $(iso 1200)" smtp.log
check "the mail names the client not ready" grep -q "Not ready: .*198.51.100.9" smtp.log
monitor 1140
check "the mail is sent once per successor" test "$(grep -c 'Subject:.*NOT READY' smtp.log)" = 1

# --- T0+20m: the deadline: api goes live without agent-9, named ---------------------
monitor 1199
check "a second before the deadline api waits" js report-1199.json "$(act api)['action'] == 'wait'"
# The monitor on its own clock from 5 s before the deadline: it counts the clients
# again every second (a tenth of the time left, at least 1 s), logs the wait once
# in that minute, and makes api live at the deadline.
"$EVC" monitor --config c.ini --at "$(iso 1195)" 2>mon-1200.log &
MON=$!
wait_for mon-1200.log "action=activate store=api reason=deadline" 20 && ok ||
    bad "the running monitor made api live at its deadline: $(cat mon-1200.log)"
kill "$MON" 2>/dev/null
wait "$MON" 2>/dev/null
MON=
cp report.json report-1200.json
check "a waiting successor is counted again every second near its deadline" \
    test "$(grep -c 'pass started' mon-1200.log)" -ge 4
check "its wait is logged once a minute, not at every count" \
    test "$(grep -c 'action=wait store=api' mon-1200.log)" = 1
"$EVC" history --config c.ini --format json >history.json
check "the history keeps the activation, not every count before it" js history.json \
    "len([x for x in r['runs'] if x['trigger'] == 'due']) == 1"
check "api goes live at its deadline" js report-1200.json \
    "$(act api)['action'] == 'activate' and $(act api)['reason'] == 'deadline' and $(act api)['done']"
check "the deadline's report names the client that was not ready" js report-1200.json \
    "'198.51.100.9 agent-9 0' in $(act api)['readiness']['unready']"
check "the live certificate is api's successor" test "$(fp api.crt)" = "$API1"
check "the monitor's log warns with the client's name" grep -q 'action=activate store=api reason=deadline.*unready=".*agent-9' mon-1200.log

# --- readiness = unix:PATH: a real `evercert serve` counts its clients ---------------
# srv, in its own configuration, renewed at T0 like the others; serve offers its SA
# on 127.0.0.1 and counts the well-known URL's ?held=&client= from 127.0.0.2 and .3.
if ! python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.3", 0))' 2>/dev/null ||
    ! command -v curl >/dev/null; then
    echo "note: no 127.0.0.0/8 on the loopback or no curl: the serve part is skipped" >&2
else
    PORT=$((SMTP + 1))
    serve_start() { # serve_start [--sa FILE]
        "$EVC" serve --cert srv.crt --key srv.key "$@" --listen 127.0.0.1:$PORT \
            --status-listen "unix:$T/st.sock" 2>>serve.log &
        SERVE=$!
        wait_for serve.log "status on unix:$T/st.sock" 5 || bad "serve started: $(cat serve.log)"
    }
    serve_stop() { kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null; SERVE=; : >serve.log; }
    get() { curl -sS -o /dev/null --cacert root/ca.crt --resolve srv.test:$PORT:127.0.0.1 "$@"; }
    # status_has LINE: serve's status holds LINE (a fetch may be counted a moment after it ends)
    status_has() {
        i=0
        until "$EVC" status "unix:$T/st.sock" 2>/dev/null | grep -qx "$1"; do
            [ $i -ge 100 ] && return 1
            sleep 0.1
            i=$((i + 1))
        done
    }
    smon() { # smon SECONDS-AFTER-T0: one pass over s.ini, the report in s-report-N.json
        "$EVC" monitor --config s.ini --once --at "$(iso "$1")" 2>"smon-$1.log" >/dev/null
        cp s-report.json "s-report-$1.json" 2>/dev/null
    }
    "$EVC" issue --ca root --cn srv.test --san DNS:srv.test --minutes 100 --at "$(iso -3600)" \
        --out-cert srv.crt --out-key srv.key >/dev/null
    cat >s.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 10m
activate = ready
activate_margin = 20m
delete_old = false

[monitor]
enabled = false
state = s-state.db

[notify]
report_file = s-report.json

[store "root"]
role = root
path = root

[store "srv"]
role = personal
cert = srv.crt
key = srv.key
readiness = unix:st.sock
EOF
    smon 0
    SRV1=$(fp srv.crt.next)
    # Nothing listens yet: unknown, so it waits, saying why.
    smon 700
    check "an unreachable status listener is a wait" js s-report-700.json \
        "$(act srv)['action'] == 'wait' and 'clients not counted: readiness: unix:' in $(act srv)['detail']"
    # A serve without the SA counts against generation 0: not the staged one.
    serve_start
    smon 705
    check "a status about another generation is a wait, saying so" js s-report-705.json \
        "$(act srv)['action'] == 'wait' and 'counts generation 0, not the staged 1' in $(act srv)['detail']"
    serve_stop
    # A window of 4 s: serve's count is complete once it has counted that long.
    serve_start --sa srv.crt.sa --ready-window 4s
    status_has "complete 1" || bad "serve's count became complete: $("$EVC" status "unix:$T/st.sock" 2>&1)"
    get --interface 127.0.0.2 "https://srv.test:$PORT$WK?held=0&client=c-2"
    get --interface 127.0.0.3 "https://srv.test:$PORT$WK?held=1&client=c-3"
    status_has "clients 2" || bad "serve counted the two fetches: $("$EVC" status "unix:$T/st.sock" 2>&1)"
    smon 720
    check "serve's count: srv waits for 127.0.0.2" js s-report-720.json \
        "$(act srv)['action'] == 'wait' and $(act srv)['readiness']['clients'] == 2 and '127.0.0.2 c-2 0' in $(act srv)['readiness']['unready']"
    get --interface 127.0.0.2 "https://srv.test:$PORT$WK?held=1&client=c-2"
    get --interface 127.0.0.3 "https://srv.test:$PORT$WK?held=1&client=c-3"
    status_has "ready 2" || bad "serve counted the new fetch: $("$EVC" status "unix:$T/st.sock" 2>&1)"
    smon 840
    check "srv goes live when serve counts its clients ready" js s-report-840.json \
        "$(act srv)['action'] == 'activate' and $(act srv)['reason'] == 'activate'"
    check "srv's live certificate is its successor" test "$(fp srv.crt)" = "$SRV1"
    serve_stop
fi

summary activate.sh
