#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Readiness in evercert serve, with real clients on 127.0.0.0/8 (each
# source address its own client): handshakes with the extension (evercert
# probe --have-generation), acknowledgements on the push channel (a small
# Python TLS client writing the DER), fetches of the well-known URL with
# ?held=&client= (curl --interface), read back from the status listener
# (evercert status, curl on /metrics). Checks the counts, the NAT rule
# (one address, a named and an unnamed client), the cap (--ready-max 3:
# the least recently seen forgotten), that garbage, an acknowledgement
# over 128 bytes and a flood of them drop the push connection and leave
# the server up, that a bad query counts nothing, that the unix socket is
# 0600, and that --no-readiness counts nothing. The window is checked
# with explicit times in tests/unit/ready_test.c.
#
# usage: ready.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: ready.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/evc-ready-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$HERE/lib.sh"
for tool in curl openssl python3; do
    command -v $tool >/dev/null || { echo "ready.sh: SKIP: $tool is not installed" >&2; exit 77; }
done
cd "$T" || exit 1
# Source addresses other than 127.0.0.1 need the whole 127/8 on lo (Linux has it).
if ! python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.9", 0))' 2>/dev/null; then
    echo "ready.sh: SKIP: cannot bind 127.0.0.9 (no 127.0.0.0/8 on the loopback)" >&2
    exit 77
fi
BASE=$((20000 + ($$ + 11000) % 20000))
PORT=$BASE PUSH=$((BASE + 1)) SPORT=$((BASE + 2))
WK=/.well-known/evercert/successor

"$EVC" ca init --out root >/dev/null
for n in a b; do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 5 --activate-at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out ab.sa >/dev/null

# ack.py SRC PORT [--close-expected] ITEM...: one push connection from SRC;
# each ITEM is GEN[:ID] (an acknowledgement), raw:HEX (bytes as given) or
# flood:N (N acknowledgements of generation 1). Exit 0 when, with
# --close-expected, the server closed the connection within 10 s, or,
# without, it did not close it on what was sent (1 s after the last write).
cat >ack.py <<'PY'
import socket, ssl, sys, time
src, port = sys.argv[1], int(sys.argv[2])
close_expected = "--close-expected" in sys.argv
items = [a for a in sys.argv[3:] if a != "--close-expected"]

def der_int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b

def ack(gen, cid):
    body = der_int(1) + der_int(gen)
    if cid:
        body += b"\x0c" + bytes([len(cid)]) + cid.encode()
    return b"\x30" + bytes([len(body)]) + body

raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.bind((src, 0))
raw.settimeout(10)
raw.connect(("127.0.0.1", port))
ctx = ssl.create_default_context(cafile="root/ca.crt")
conn = ctx.wrap_socket(raw, server_hostname="web.test")
out = b""
for it in items:
    if it.startswith("raw:"):
        out += bytes.fromhex(it[4:])
    elif it.startswith("flood:"):
        out += ack(1, "") * int(it[6:])
    else:
        g, _, cid = it.partition(":")
        out += ack(int(g), cid)
closed = False
try:
    conn.sendall(out)
    conn.settimeout(15 if close_expected else 1)
    while True:
        chunk = conn.recv(65536)   # the SA comes first; then nothing but a close
        if not chunk:
            closed = True
            break
except socket.timeout:
    pass
except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
    closed = True
sys.exit(0 if closed == close_expected else 1)
PY
# st: the status text of the first server
st() { "$EVC" status "127.0.0.1:$SPORT"; }
# st_has TEXT SECONDS: the status holds the line TEXT, within a bound (reports
# from another connection may reach the server a moment after the client is done)
# (plus a second: the server counts at most once a second and answers with that count)
st_has() {
    i=0
    while [ $i -lt $((($2 + 1) * 10)) ]; do
        st 2>/dev/null | grep -qx -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
get() { curl -sS --cacert root/ca.crt --resolve web.test:$PORT:127.0.0.1 "$@"; }

"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT --announce-listen 127.0.0.1:$PUSH \
    --status-listen 127.0.0.1:$SPORT 2>serve.log &
PIDS="$PIDS $!"
check "serve starts with a status listener" wait_for serve.log "status on 127.0.0.1:$SPORT" 5
check "... on loopback, without a warning" test "$(grep -c 'not on loopback' serve.log)" = 0

# Nobody yet: nobody to wait for.
status "status at the start" 0 st
check "the status text's first line" grep -qx "evercert-status 1" "$T/out"
check "the successor is the SA's generation" grep -qx "successor 5" "$T/out"
check "no clients" grep -qx "clients 0" "$T/out"
check "the default window" grep -qx "window 604800" "$T/out"
# Just started: it has not heard a whole window, so nobody seen is not "all ready".
check "counting since the start" grep -qE "^since [0-9TZ:-]+$" "$T/out"
check "... not complete" grep -qx "complete 0" "$T/out"

# A handshake with the extension from 127.0.0.1, holding 4: one client, not ready.
"$EVC" probe 127.0.0.1:$PORT --servername web.test --trust root/ca.crt --have-generation 4 >/dev/null 2>&1
check "a handshake is counted" st_has "clients 1" 5
check "... not ready" st_has "ready 0" 1
st >st1.txt 2>&1
check "... and listed, unnamed, by hello" grep -qE '^unready 127\.0\.0\.1 - 4 [0-9TZ:-]+ hello$' st1.txt
# A handshake without the extension says nothing: curl from 127.0.0.4.
get --interface 127.0.0.4 -o /dev/null "https://web.test:$PORT/"
check "a handshake without the extension counts nothing" st_has "clients 1" 1

# The NAT rule: at the same address a client names itself and acknowledges 5:
# from then on the names are that address's clients; the group is ready.
check "an acknowledgement is read, the connection stays" python3 ack.py 127.0.0.1 $PUSH 5:agent-1
check "a named acknowledgement after the unnamed handshake: ready" st_has "ready 1" 5
check "... still one client (one address)" st_has "clients 1" 1
# Unnamed handshakes there no longer judge it, even a newer one at 4 (it may
# be agent-1's own, or anyone's: the unnamed entry is whoever spoke last).
"$EVC" probe 127.0.0.1:$PORT --servername web.test --trust root/ca.crt --have-generation 4 >/dev/null 2>&1
check "a newer unnamed handshake at 4 does not judge a named group" st_has "ready 1" 1
# A second named client there holding 4 holds the address back.
check "a second named client at the address, holding 4" python3 ack.py 127.0.0.1 $PUSH 4:agent-9
check "... not ready again" st_has "ready 0" 5
check "... and it is the one named" sh -c "'$EVC' status 127.0.0.1:$SPORT | grep -qE '^unready 127\.0\.0\.1 agent-9 4 '"
# A peer speaks only for its own address: agent-9 acknowledging 5 from
# 127.0.0.2 does not make 127.0.0.1 ready.
check "an acknowledgement from another address" python3 ack.py 127.0.0.2 $PUSH 5:agent-9
check "... is another client, ready" st_has "clients 2" 5
check "... and 127.0.0.1 stays not ready" st_has "ready 1" 1

# The URL: held= and client= on the well-known fetch, from 127.0.0.3.
status "a fetch with ?held=5&client=web-3" 0 get --interface 127.0.0.3 -o sa.der "https://web.test:$PORT$WK?held=5&client=web-3"
check "... gets the SA" cmp sa.der ab.sa
check "... is a third client, ready" st_has "clients 3" 1
check "... ready 2" st_has "ready 2" 1
# Bad queries count nothing (each fetch is answered before the status is asked).
for q in "held=x" "held=4&held=4" "held=%2B4" "held=4&client=a%20b" "held=18446744073709551616" "client=web-5"; do
    get --interface 127.0.0.5 -o /dev/null "https://web.test:$PORT$WK?$q"
done
check "bad queries count nothing" st_has "clients 3" 1

# The push channel reads acknowledgements and nothing else.
check "garbage drops the push connection" python3 ack.py 127.0.0.6 $PUSH --close-expected raw:474554202f20485454502f312e300d0a0d0a
check "... and says why" wait_for serve.log "sent something other than an acknowledgement; connection dropped" 5
long=$(python3 -c 'print("307f" + "00" * 127)')
check "an acknowledgement over 128 bytes drops the connection" python3 ack.py 127.0.0.6 $PUSH --close-expected raw:$long
check "... and says why" wait_for serve.log "an acknowledgement over 128 bytes" 5
longform=$(python3 -c 'print("30817f" + "00" * 127)')
check "a long-form length drops the connection" python3 ack.py 127.0.0.6 $PUSH --close-expected raw:$longform
check "... and says why" wait_for serve.log "an acknowledgement with a long-form length" 5
check "a malformed acknowledgement (version 2) drops the connection" python3 ack.py 127.0.0.6 $PUSH --close-expected raw:3006020102020105
check "ten acknowledgements are fine" python3 ack.py 127.0.0.7 $PUSH flood:10
check "eleven at once drop the connection" python3 ack.py 127.0.0.8 $PUSH --close-expected flood:11
check "... and says why" wait_for serve.log "more than 10 acknowledgements in 10 s" 5
# Part of an acknowledgement is held 10 s at most.
check "half an acknowledgement drops the connection after 10 s" python3 ack.py 127.0.0.11 $PUSH --close-expected raw:3006020101
check "... and says why" wait_for serve.log "held part of an acknowledgement for 10 s" 5
# At most 64 push connections from one address: the 65th is refused at once.
cat >many.py <<'PY'
import socket, ssl, sys
src, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(cafile="root/ca.crt")
held = []
def one():
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.bind((src, 0))
    raw.settimeout(10)
    raw.connect(("127.0.0.1", port))
    c = ctx.wrap_socket(raw, server_hostname="web.test")
    c.recv(65536)  # the SA: the connection is up
    return c
for i in range(n):
    held.append(one())
try:
    one()
    sys.exit(1)
except (ConnectionResetError, BrokenPipeError, ssl.SSLError, socket.timeout, OSError):
    sys.exit(0)
PY
check "64 push connections from one address are held, the 65th is refused" python3 many.py 127.0.0.12 $PUSH 64
check "... and the refusal is logged" wait_for serve.log "refused: 64 connections from its address" 5
# A page a DNS answer pointed here sends its own name as Host: refused.
status "a Host that is a name" 0 curl -sS -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$SPORT/status"
check "... is refused (403)" grep -qx 403 "$T/out"
status "Host: localhost" 0 curl -sS -o /dev/null -w '%{http_code}' -H 'Host: localhost:1' "http://127.0.0.1:$SPORT/status"
check "... is served" grep -qx 200 "$T/out"
check "the server stays up" st_has "evercert-status 1" 2
check "what a dropped connection said before counts (ten at 1)" st_has "generation 1 2" 2

# Metrics, and nothing else on the status listener.
status "GET /metrics" 0 curl -sS "http://127.0.0.1:$SPORT/metrics"
check "metrics: clients by generation" grep -qx 'evercert_clients{generation="5"} 2' "$T/out"
check "metrics: seen" grep -qxE 'evercert_clients_seen [0-9]+' "$T/out"
check "metrics: successor" grep -qx 'evercert_successor_generation 5' "$T/out"
check "metrics: forgotten" grep -qx 'evercert_clients_forgotten_total 0' "$T/out"
check "metrics: not complete" grep -qx 'evercert_clients_complete 0' "$T/out"
# A count sorts every entry: GETs reuse one count a second, never one per request.
c0=$(curl -sS "http://127.0.0.1:$SPORT/metrics" | sed -n 's/^evercert_serve_readiness_counts_total //p')
t0=$(date +%s)
i=0
while [ $i -lt 40 ]; do curl -sS -o /dev/null "http://127.0.0.1:$SPORT/status"; i=$((i + 1)); done
t1=$(date +%s)
c1=$(curl -sS "http://127.0.0.1:$SPORT/metrics" | sed -n 's/^evercert_serve_readiness_counts_total //p')
counts=$((${c1:-999} - ${c0:-0}))
check "41 GETs make at most one count a second ($counts in $((t1 - t0 + 1)) s)" \
    test "$counts" -le $((t1 - t0 + 2))
check "metrics: serve's acknowledgements" grep -qxE 'evercert_serve_acks_total [0-9]+' "$T/out"
check "metrics: dropped push connections" grep -qx 'evercert_serve_push_dropped_total 7' "$T/out"
status "another path: 404" 0 curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/other"
check "... 404" grep -qx 404 "$T/out"
status "POST /status: refused" 0 curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$SPORT/status"
check "... 501 (only GET and HEAD)" grep -qx 501 "$T/out"

# evercert status against nothing: 2, naming the address.
status "status: nothing listening" 2 "$EVC" status --timeout 2 127.0.0.1:$((BASE + 3))
check "... names the address" grep -q "127.0.0.1:$((BASE + 3))" "$T/err"
status "status: usage" 3 "$EVC" status
kill $PIDS 2>/dev/null; wait 2>/dev/null; PIDS=

# The cap, on a unix socket: four clients, three entries; the least recently seen goes.
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT --announce-listen 127.0.0.1:$PUSH \
    --status-listen "unix:$T/st.sock" --ready-max 3 --ready-window 1d 2>serve2.log &
PIDS="$PIDS $!"
check "serve starts on a unix socket" wait_for serve2.log "status on unix:$T/st.sock" 5
check "the socket is 0600" test "$(stat -c %a "$T/st.sock")" = 600
for i in 1 2 3 4; do
    python3 ack.py 127.0.0.$((10 + i)) $PUSH 4:c$i
    i2=0
    until "$EVC" status "unix:$T/st.sock" 2>/dev/null | grep -q "^unready 127.0.0.$((10 + i)) "; do
        [ $i2 -ge 50 ] && break; sleep 0.1; i2=$((i2 + 1))
    done
done
status "status on the unix socket" 0 "$EVC" status "unix:$T/st.sock"
check "three entries" grep -qx "entries 3" "$T/out"
check "one forgotten" grep -qx "forgotten 1" "$T/out"
check "three clients" grep -qx "clients 3" "$T/out"
check "the window given" grep -qx "window 86400" "$T/out"
check "the least recently seen is gone" test "$(grep -c '^unready 127.0.0.11 ' "$T/out")" = 0
check "the newest is there" grep -q '^unready 127.0.0.14 c4 4 ' "$T/out"
kill $PIDS 2>/dev/null; wait 2>/dev/null; PIDS=
check "the socket is removed at the end" test ! -e "$T/st.sock"

# One address inventing client ids (client= on fetches) fills its own group,
# at most 16 names, and never pushes another address's client out of the table.
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT --announce-listen 127.0.0.1:$PUSH \
    --status-listen "unix:$T/st.sock" --ready-max 20 2>serve6.log &
PIDS="$PIDS $!"
check "serve starts with --ready-max 20" wait_for serve6.log "status on unix:$T/st.sock" 5
python3 ack.py 127.0.0.21 $PUSH 4:real
i=0
until "$EVC" status "unix:$T/st.sock" 2>/dev/null | grep -q "^unready 127.0.0.21 real 4 "; do
    [ $i -ge 50 ] && break; sleep 0.1; i=$((i + 1))
done
i=0
while [ $i -lt 40 ]; do
    get --interface 127.0.0.22 -o /dev/null "https://web.test:$PORT$WK?held=5&client=fake-$i"
    i=$((i + 1))
done
# The status is counted at most once a second: ask until it has caught up.
i=0
until "$EVC" status "unix:$T/st.sock" 2>/dev/null | grep -qx "ready 1"; do
    [ $i -ge 30 ] && break; sleep 0.1; i=$((i + 1))
done
status "status after 40 names from one address" 0 "$EVC" status "unix:$T/st.sock"
check "... its group holds 16 of them: 17 entries" grep -qx "entries 17" "$T/out"
check "... nothing forgotten" grep -qx "forgotten 0" "$T/out"
check "... the other address's client is still counted, not ready" grep -q '^unready 127.0.0.21 real 4 ' "$T/out"
check "... two clients, the inventor ready, the other not" grep -qx "ready 1" "$T/out"
kill $PIDS 2>/dev/null; wait 2>/dev/null; PIDS=

# A second serve cannot take a socket in use; a stale one is replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/stale.sock"
"$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$PORT --status-listen "unix:$T/stale.sock" 2>serve3.log &
PIDS="$PIDS $!"
check "a stale socket is replaced" wait_for serve3.log "status on unix:$T/stale.sock" 5
"$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$((BASE + 4)) --status-listen "unix:$T/stale.sock" 2>serve4.log
check "a socket in use is refused" grep -q "another process listens there" serve4.log
kill $PIDS 2>/dev/null; wait 2>/dev/null; PIDS=

# --no-readiness: handshakes and acknowledgements count nothing.
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT --announce-listen 127.0.0.1:$PUSH \
    --status-listen 127.0.0.1:$SPORT --no-readiness 2>serve5.log &
PIDS="$PIDS $!"
check "serve starts with readiness off" wait_for serve5.log "readiness off" 5
"$EVC" probe 127.0.0.1:$PORT --servername web.test --trust root/ca.crt --have-generation 4 >/dev/null 2>&1
python3 ack.py 127.0.0.1 $PUSH 4:x
get -o /dev/null "https://web.test:$PORT$WK?held=4"
# Off is not "nobody to wait for": /status answers 503, evercert status exits 2 saying so.
status "status with readiness off" 2 st
check "... says readiness is not counted" grep -q "HTTP status 503: readiness is not counted" "$T/err"
status "GET /status with readiness off" 0 curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/status"
check "... 503" grep -qx 503 "$T/out"
metrics_has() { # LINE SECONDS
    i=0
    while [ $i -lt $(($2 * 10)) ]; do
        curl -sS "http://127.0.0.1:$SPORT/metrics" 2>/dev/null | grep -qx -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
check "... the acknowledgement was still read" metrics_has "evercert_serve_acks_total 1" 5
status "metrics with readiness off" 0 curl -sS "http://127.0.0.1:$SPORT/metrics"
check "... and no count of clients in them" test "$(grep -c '^evercert_clients' "$T/out")" = 0
kill $PIDS 2>/dev/null; wait 2>/dev/null; PIDS=

# --- the monitor's side: an access log (activate = ready, access_log = PATH) --------
# A successor of a 100-minute certificate with 40 left, staged at T0, live
# from T0+10m, deadline T0+20m; the clients fetch with ?held= and the log
# is read at the monitor's --at. The count is complete only when the lines
# reach back a whole window (1 h here); logrotate's PATH.1 is read too; only
# GET lines count.
export TZ=UTC
T0=$(date -u +%s)
iso() { date -u -d "@$((T0 + $1))" +%Y-%m-%dT%H:%M:%SZ; }
hit() { # hit LOG SECONDS-AFTER-T0 ADDR METHOD PATH-AND-QUERY
    printf '%s - - [%s] "%s %s HTTP/1.1" 200 2817 "-" "evercert-agent/1"\n' \
        "$3" "$(date -u -d "@$((T0 + $2))" '+%d/%b/%Y:%H:%M:%S +0000')" "$4" "$5" >>"$1"
}
js() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }
web() { echo "[a for a in r['actions'] if a['store'] == 'web' and a['action'] in ('wait', 'activate')][0]"; }
mon() {
    "$EVC" monitor --config m.ini --once --at "$(iso "$1")" 2>"mon-$1.log" >/dev/null
    cp report.json "report-$1.json" 2>/dev/null
}
"$EVC" ca init --out mroot --subject "CN=Ready Root" >/dev/null
"$EVC" issue --ca mroot --cn web.test --san DNS:web.test --minutes 100 --at "$(iso -3600)" \
    --out-cert web.crt --out-key web.key >/dev/null
: >web.log
mconf() { # mconf READINESS-LINE
    printf '%s\n' "[policy]" "expiration_threshold = 50%" "distribution_window = 10m" \
        "activate = ready" "activate_margin = 20m" "delete_old = false" "" \
        "[monitor]" "enabled = false" "state = state.db" "" "[notify]" "report_file = report.json" "" \
        "[store \"root\"]" "role = root" "path = mroot" "" \
        "[store \"web\"]" "role = personal" "cert = web.crt" "key = web.key" "$1" \
        "readiness_window = 1h" >m.ini
}
# readiness = takes a numeric address: a name lookup has no deadline.
mconf "readiness = localhost:9443"
status "readiness = a host name" 1 "$EVC" check-config m.ini
check "... is a configuration error naming the line" grep -qE "m.ini:23: .*readiness: expected a numeric ADDRESS:PORT" "$T/err"
mconf "readiness = [::1]:9443"
status "readiness = [::1]:9443" 0 "$EVC" check-config m.ini
mconf "access_log = web.log"
status "the access-log configuration is clean" 0 "$EVC" check-config m.ini
mon 0
check "staged at T0" test -f web.crt.next
WEB0=$(fp web.crt)
hit web.log 600 192.0.2.1 GET "$WK?held=1&client=agent-1"
hit web.log 610 192.0.2.2 GET "$WK?held=1&client=agent-2"
# A HEAD (or a POST) fetched no SA: it says nothing, whatever its query.
hit web.log 620 192.0.2.3 HEAD "$WK?held=0&client=agent-3"
hit web.log 630 192.0.2.3 POST "$WK?held=0&client=agent-3"
mon 720
check "a log that reaches back 2 minutes of a 1 h window: a wait" js report-720.json \
    "$(web)['action'] == 'wait' and $(web)['reason'] == 'not-ready'"
check "... saying why" js report-720.json \
    "'web.log reaches back only to $(iso 600), not a whole window' in $(web)['detail'] and '2 of 2 clients' in $(web)['detail']"
check "... the old certificate still serves" test "$(fp web.crt)" = "$WEB0"
# The rotated log (delaycompress leaves web.log.1 plain) reaches back the window.
hit web.log.1 -3000 192.0.2.9 GET /index.html
mon 730
check "with web.log.1 the count is complete: both GET clients hold it, web goes live" js report-730.json \
    "$(web)['action'] == 'activate' and $(web)['reason'] == 'activate' and $(web)['done']"
check "... the successor serves" test "$(fp web.crt)" != "$WEB0"

# An answer's status is printed only as three digits: a peer's bytes are not echoed.
cat >badhttp.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1)
for answer in (b"HTTP/1.0 2\x1b]X OK\r\n\r\n", b"HTTP/1.0 503 No\r\n\r\nnot \x1b[31mnow\r\n"):
    c, _ = s.accept(); c.recv(4096); c.sendall(answer); c.close()
PY
python3 badhttp.py "$T/bad.sock" &
BADPID=$!
i=0
until [ -S "$T/bad.sock" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
status "status: an HTTP status that is not three digits" 2 "$EVC" status --timeout 2 "unix:$T/bad.sock"
check "... is not printed" grep -q "bad.sock: not an HTTP status" "$T/err"
check "... and nothing of it" test "$(grep -c "$(printf '\033')" "$T/err")" = 0
status "status: a 503 with a body" 2 "$EVC" status --timeout 2 "unix:$T/bad.sock"
check "... prints the code and the body up to its first control byte" grep -q "HTTP status 503: not $" "$T/err"
wait $BADPID 2>/dev/null

# Bad options.
status "--ready-window 0" 3 "$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$PORT --ready-window 0s
status "--ready-window 10%" 3 "$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$PORT --ready-window 10%
status "--ready-max 0" 3 "$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$PORT --ready-max 0
status "--status-listen nonsense" 3 "$EVC" serve --cert a.crt --key a.key --listen 127.0.0.1:$PORT --status-listen nonsense
check "... names it" grep -q "nonsense" "$T/err"

summary ready.sh
