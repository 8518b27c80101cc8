#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# What the agent tells its servers it holds: the Acknowledgement on the
# push channel (recorded and decoded by a Python TLS server, ackserver.py,
# which also looks at the trust store when each ack arrives), and the
# held= and client= query of the URL fetch (in nginx's access log, in the
# Combined Log Format). Under policy = manual the generation told is the
# one written: nothing before a person approves, the successor within
# seconds after `evercert approve` (another process) wrote it. A hold-down
# is the same. [agent] client_id as configured, none, or the host name;
# a bad one is a configuration error naming its line. `evercert pending`
# shows the server's deadline (activateBy) an SA carries.
#
# usage: ack.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: ack.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/evc-ack-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$SRC/tests/integration/lib.sh"
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
for tool in nginx python3 jq; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done
chmod 755 "$T" && cd "$T" || exit 1
PORT=$((20000 + ($$ * 7) % 15000))
MPORT=$PORT NPORT=$((PORT + 1)) HPORT=$((PORT + 2)) WPORT=$((PORT + 3))

# --- a pinned certificate, its successor, and two SAs: with and without activateBy
for n in a b; do
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
ACT=$(at '+1 hour') BY=$(at '+3 hours')
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$ACT" --activate-by "$BY" --out by.sa
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$ACT" --out plain.sa
check "announce --activate-by: the SA says it (inspect)" sh -c "'$EVC' inspect by.sa | grep -qx 'activate by   $BY'"
check "without it the SA says nothing" sh -c "! '$EVC' inspect plain.sa | grep -q 'activate by'"
status "announce --activate-by before --activate-at is refused" 3 "$EVC" announce --current a.crt \
    --current-key a.key --successor b.crt --successor-key b.key --service web.test --generation 1 \
    --activate-at "$ACT" --activate-by "$(at '+10 minutes')" --out early.sa
check "and names the option" grep -q -- "--activate-by" "$T/err"
check "and writes nothing" test ! -e early.sa

# --- the push channels: m (manual, SA with activateBy), n (manual, without), h (hold-down)
for s in m n h; do cp a.crt $s.pem; done
python3 "$SRC/tests/integration/ackserver.py" a.crt a.key b.crt \
    "$MPORT:by.sa:m.log:m.pem" "$NPORT:plain.sa:n.log:n.pem" "$HPORT:by.sa:h.log:h.pem" >ackserver.out 2>&1 &
PIDS="$PIDS $!"
check "the push servers start" wait_for ackserver.out listening 5

# nginx publishes the SA at the well-known URL and logs each request (Combined Log Format).
mkdir -p logs www/.well-known/evercert
cp by.sa www/.well-known/evercert/successor
cat >nginx.conf <<EOF
pid $T/nginx.pid;
error_log $T/logs/error.log;
events {}
http {
    access_log $T/logs/access.log combined;
    server {
        listen 127.0.0.1:$WPORT ssl;
        ssl_certificate $T/a.crt;
        ssl_certificate_key $T/a.key;
        root $T/www;
        default_type application/octet-stream;
    }
}
EOF
nginx -p "$T" -c "$T/nginx.conf" || { bad "nginx did not start"; exit 1; }

agent_ini() { # FILE CLIENT_ID-LINE
    cat >"$1" <<EOF
[agent]
state = agent.db
$2
[notify]
log = stderr
[server "m"]
connect = 127.0.0.1:$WPORT
service = web.test
trust = m.pem
policy = manual
sources = push,url
url = https://web.test/.well-known/evercert/successor
announce = 127.0.0.1:$MPORT
interval = 2s
[server "n"]
connect = 127.0.0.1:$WPORT
service = web.test
trust = n.pem
policy = manual
sources = push
announce = 127.0.0.1:$NPORT
[server "h"]
connect = 127.0.0.1:$WPORT
service = web.test
trust = h.pem
policy = holddown=1h
sources = push
announce = 127.0.0.1:$HPORT
EOF
}
agent_ini agent.ini "client_id = agent-7@site"

# --- the service: what it says before and after a person approves
"$EVC" agent --config agent.ini >agent.log 2>&1 &
APID=$!
PIDS="$PIDS $APID"
check "first ack on m's channel: the installed generation (none yet: 0) and the id" \
    wait_for m.log "conn=1 ack generation=0 id=agent-7@site installed=no" 10
check "first ack on n's channel" wait_for n.log "conn=1 ack generation=0 id=agent-7@site" 10
check "first ack on h's channel" wait_for h.log "conn=1 ack generation=0 id=agent-7@site" 10
check "the URL fetch says what is held and who holds it (nginx's access log)" \
    wait_for logs/access.log '"GET /.well-known/evercert/successor?held=0&client=agent-7@site HTTP/1.1" 200' 10
i=0
while [ $i -lt 100 ]; do
    ID=$("$EVC" pending --config agent.ini --format json 2>/dev/null | jq -r '.[] | select(.server == "m") | .id')
    [ -n "$ID" ] && break
    sleep 0.1
    i=$((i + 1))
done
check "m's SA waits for a person" test -n "$ID"
check "h's SA is in its hold-down" sh -c "'$EVC' pending --config agent.ini --format json | jq -e '.[] | select(.server == \"h\") | .status == \"holding\"'"

# pending: the server's deadline, said or not.
"$EVC" pending --config agent.ini >pending.txt 2>&1
"$EVC" pending --config agent.ini --format json >pending.json 2>&1
check "pending shows the server's deadline (activateBy) and the time left" \
    grep -qE "^    latest    $BY, in (2h|3h|1h)" pending.txt
check "pending says when the SA does not say" grep -qx "    latest    not said" pending.txt
check "pending JSON: activate_by" jq -e ".[] | select(.server == \"m\") | .activate_by == \"$BY\" and .activate_by_seconds_left > 3600" pending.json
check "pending JSON: null when not said" jq -e '.[] | select(.server == "n") | .activate_by == null and .activate_by_seconds_left == null' pending.json
check "pending JSON: null for a hold-down" jq -e '.[] | select(.server == "h") | .activate_by == null' pending.json
"$EVC" pending --config agent.ini --at "$(at '+2 hours')" >pending2.txt 2>&1
check "past activate_at, before activateBy: the server waits for its clients, this one included" \
    grep -q "the server waits for its clients until $BY" pending2.txt

# The agent reads the state every 2 s; three seconds see at least one look. Nothing was written.
sleep 3
check "no ack of generation 1 before a person approved it" sh -c "! grep -q 'generation=1' m.log"
check "the trust store holds no successor yet" test "$(grep -c 'BEGIN CERTIFICATE' m.pem)" = 1
check "no ack of a generation in its hold-down" sh -c "! grep -q 'generation=1' h.log"

# The person approves in another process; the running agent tells the server on the open channel.
check "approve writes m's successor" "$EVC" approve --config agent.ini "$ID"
check "an ack of generation 1 follows the approval on the same connection (within 15 s)" \
    wait_for m.log "conn=1 ack generation=1 id=agent-7@site" 15
check "the ack came after the trust store held the successor" grep -q "generation=1 .*installed=yes" m.log
check "never an ack of generation 1 before the write" sh -c "! grep -q 'generation=1 .*installed=no' m.log"
check "the acks on a connection never go back" sh -c "grep -o 'conn=1 ack generation=[0-9]*' m.log | sed 's/.*=//' | sort -c -n"
# The same generation is said again each interval (2 s), so a server's window keeps the client.
check "the ack is repeated each interval" sh -c "i=0; while [ \$(grep -c 'conn=1 ack generation=1 ' m.log) -lt 2 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done; [ \$(grep -c 'conn=1 ack generation=1 ' m.log) -ge 2 ]"
check "the next URL fetch says generation 1" \
    wait_for logs/access.log 'GET /.well-known/evercert/successor?held=1&client=agent-7@site HTTP/1.1' 15
check "n, not approved, is not told as held" sh -c "! grep -q 'generation=1' n.log"
check "h, still held down, is not told as held" sh -c "! grep -q 'generation=1' h.log"
check "nothing but acks on the channels" sh -c "! grep -q garbage m.log n.log h.log"
kill "$APID" 2>/dev/null
wait "$APID" 2>/dev/null

# --- client_id = none: acks without an id, URL fetches without client=
agent_ini none.ini "client_id = none"
"$EVC" agent --config none.ini --once >none.out 2>&1
check "client_id = none: the ack on a new connection says the installed generation, no id" \
    wait_for m.log "conn=2 ack generation=1 id=- installed=yes" 5
check "client_id = none: the URL says held alone" \
    grep -q 'GET /.well-known/evercert/successor?held=1 HTTP/1.1' logs/access.log

# --- unset: the host name, cut to the clientId characters and 64 bytes
HOSTID=$(python3 -c 'import re, socket; print(re.sub(r"[^A-Za-z0-9._:@-]", "", socket.gethostname())[:64])')
agent_ini host.ini ""
"$EVC" agent --config host.ini --once >host.out 2>&1
if [ -n "$HOSTID" ]; then
    check "client_id unset: the host name" wait_for m.log "conn=3 ack generation=1 id=$HOSTID installed=yes" 5
    check "client_id unset: the host name on the URL" \
        grep -qF "GET /.well-known/evercert/successor?held=1&client=$HOSTID HTTP/1.1" logs/access.log
else
    check "client_id unset, no host name: no id" wait_for m.log "conn=3 ack generation=1 id=- installed=yes" 5
fi

# --- a bad client_id: a configuration error naming its line, and nothing runs
printf '[agent]\nstate = bad.db\nclient_id = agent 7\n[server "s"]\nconnect = 127.0.0.1:1\ntrust = m.pem\n' >bad.ini
status "check-config refuses a client_id with a space" 1 "$EVC" check-config bad.ini
check "naming its line" grep -q "bad.ini:3: client_id: expected none or 1..64" "$T/out" "$T/err"
status "the agent refuses it too" 3 "$EVC" agent --config bad.ini --once
check "naming its line" grep -q "bad.ini:3: client_id" "$T/err"
check "and opens no state" test ! -e bad.db
L65=$(printf '%065d' 0 | tr 0 a)
printf '[agent]\nstate = bad.db\n\nclient_id = %s\n[server "s"]\nconnect = 127.0.0.1:1\ntrust = m.pem\n' "$L65" >long.ini
status "check-config refuses a client_id of 65 bytes" 1 "$EVC" check-config long.ini
check "naming its line" grep -q "long.ini:4: client_id" "$T/out" "$T/err"
printf '[agent]\nstate = bad.db\nclient_id = %s\n[server "s"]\nconnect = 127.0.0.1:1\ntrust = m.pem\n' "$(printf '%064d' 0 | tr 0 a)" >ok.ini
status "64 bytes are fine" 0 "$EVC" check-config ok.ini

summary ack
