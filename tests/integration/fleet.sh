#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The fleet inventory as a platform team runs it: five hosts (each its own
# configurations, [fleet] host = h1..h5, its own local states and trust
# stores) whose monitors and agents report to one PostgreSQL, started here,
# and one host alone on SQLite. evercert fleet then shows every host, the
# certificates with their host counts and ends, the generations the agents
# hold; a host that stops reporting is silent; the database stopped or
# read-only during a pass leaves the pass working locally with its writes
# waiting, sent whole once it is back; a sender killed in the middle of a
# large send leaves no duplicate; retention drops old events; a run under
# --at writes nothing.
#
# usage: fleet.sh PATH-TO-EVERCERT PATH-TO-FLEETFILL
set -u
EVC=${1:?usage: fleet.sh PATH-TO-EVERCERT PATH-TO-FLEETFILL}
FILL=${2:?usage: fleet.sh PATH-TO-EVERCERT PATH-TO-FLEETFILL}
T=$(mktemp -d /tmp/evc-fleet-XXXXXX)
. "$(dirname "$0")/lib.sh"
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    pg_stop
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
for tool in jq python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
# sql_local FILE SQL: one value from a host's SQLite state
sql_local() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$1" "$2"; }
pg_start || { echo "FAIL: PostgreSQL did not start"; exit 1; }
chmod 755 "$T" && cd "$T" || exit 1
PORT=$(port_block 1)

# --- a server certificate every host serves (behind a load balancer), and its successor's SA
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert a.crt --out-key a.key >/dev/null
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert b.crt --out-key b.key >/dev/null
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa
A=$(fp a.crt)

serve() { # [SA]
    [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    : >serve.log
    "$EVC" serve --cert a.crt --key a.key ${1:+--sa "$1"} --listen 127.0.0.1:$PORT 2>serve.log &
    SPID=$!
    PIDS="$PIDS $SPID"
    wait_for serve.log "listening on 127.0.0.1:$PORT" 5
}

# host NAME STATE: its directory with the shared certificate, one of its own, a trust store
host() {
    mkdir -p "$1" && cp a.crt a.key "$1/" && cp a.crt "$1/trust.pem" &&
        "$EVC" selfsign --cn "$1.internal" --san "DNS:$1.internal" --days 20 \
            --out-cert "$1/own.crt" --out-key "$1/own.key" >/dev/null || return 1
    if [ "$2" = sqlite ]; then
        ms="state = monitor.db" as="state = agent.db"
    else
        ms="state = $2
state_local = monitor.db" as="state = $2
state_local = agent.db"
    fi
    cat >"$1/monitor.ini" <<EOF
[policy]
expiration_threshold = 10%
[monitor]
$ms
[notify]
log = stderr
[fleet]
host = $1
keep = 1d
[store "web"]
role = personal
cert = a.crt
key = a.key
[store "own"]
role = personal
cert = own.crt
key = own.key
EOF
    cat >"$1/agent.ini" <<EOF
[agent]
$as
[notify]
log = stderr
[fleet]
host = $1
[server "web"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust.pem
EOF
}
for h in h1 h2 h3 h4 h5; do check "host $h set up" host $h "$PGURL"; done
check "host solo set up" host solo sqlite

# h4 and h5 look before the successor is announced; h1..h3 after.
check "serve without an SA" serve
for h in h4 h5; do status "agent $h" 0 "$EVC" agent --config $h/agent.ini --once; done
check "serve with the SA" serve ab.sa
for h in h1 h2 h3; do status "agent $h accepts" 0 "$EVC" agent --config $h/agent.ini --once; done
check "h1's trust store has the successor" grep -q "$(sed -n 2p b.crt)" h1/trust.pem
for h in h1 h2 h3 h4 h5; do status "monitor $h" 0 "$EVC" monitor --config $h/monitor.ini --once; done

# --- one inventory across hosts
status "fleet (json)" 1 "$EVC" fleet --state "$PGURL" --format json
cp "$T/out" all.json
check "every host, both services" test "$(jq '.hosts | length' all.json)" = 10
check "every host named" test "$(jq -r '[.hosts[].host] | unique | join(",")' all.json)" = "h1,h2,h3,h4,h5"
check "the shared certificate is one row with five hosts" \
    test "$(jq -r --arg a "$A" '.certificates[] | select(.sha256 == $a) | .hosts' all.json)" = 5
check "each own certificate is one host's" \
    test "$(jq '[.certificates[] | select(.subject | test("internal")) | .hosts] | unique' -c all.json)" = "[1]"
check "sorted by their end: the own certificates first" \
    test "$(jq -r '.certificates[0].subject' all.json | grep -c internal)" = 1
check "generation 1 held by three hosts" \
    test "$(jq -c '[.generations[] | select(.server == "web") | [.generation, .hosts]]' all.json)" = "[[1,3],[0,2]]"
check "h4 and h5 are behind" test "$(jq -r '[.behind[].host] | join(",")' all.json)" = "h4,h5"
check "nobody silent" test "$(jq '.summary.silent' all.json)" = 0
status "fleet (text) -v" 0 "$EVC" fleet --state "$PGURL" -v --expiring 1d
check "text: the hosts section" grep -q "^h3  *agent" "$T/out"
status "fleet -v" 1 "$EVC" fleet --state "$PGURL" -v
check "text names hosts and locations under -v" grep -q "h3 web" "$T/out"
status "fleet --expiring 25d: the own certificates, a warning" 1 "$EVC" fleet --state "$PGURL" --expiring 25d --format json
check "--expiring lists only those" test "$(jq '.certificates | length' "$T/out")" = 5
status "fleet --at past the ends: critical" 2 "$EVC" fleet --state "$PGURL" --at "$(at '+40 days')"
status "fleet prometheus" 1 "$EVC" fleet --state "$PGURL" --format prometheus
check "prometheus: per certificate, not per host" test "$(grep -c '^evercert_fleet_certificate_hosts' "$T/out")" = 6
check "prometheus: no host label" test "$(grep -c 'host=' "$T/out")" = 0
status "fleet --host h2" 1 "$EVC" fleet --state "$PGURL" --host h2 --format json
check "--host: one host's rows" test "$(jq '.certificates | length' "$T/out")" = 2
status "fleet --config reads the PostgreSQL state" 1 "$EVC" fleet --config h1/monitor.ini --format json
check "--config: the same hosts" test "$(jq '.hosts | length' "$T/out")" = 10

# --- what the endpoints present goes in too: the monitor's [endpoint] rows, one per certificate
check "host ep set up" host ep sqlite
cat >>ep/monitor.ini <<EOF
[endpoint "web"]
address = tls://127.0.0.1:$PORT?sni=web.test
store = web
ca = trust.pem
[endpoint "down"]
address = tls://127.0.0.1:$(port_block 1)
timeout = 2s
EOF
"$EVC" monitor --config ep/monitor.ini --once >/dev/null 2>&1
"$EVC" fleet --state ep/monitor.db --format json -v >ep.json 2>"$T/err"
check "the served certificate is a row at the endpoint" \
    jq -e --arg a "$A" --arg u "tls://127.0.0.1:$PORT?sni=web.test#0" '[.certificates[] | select(.sha256 == $a) | .. | strings | select(. == $u)] | length == 1' ep.json
check "the endpoint that gave nothing is an error row naming it" \
    jq -e '[.. | strings | select(test("^tls://127.0.0.1:[0-9]+$"))] | length >= 1' ep.json

# --- a run with its clock moved (--at, a host ahead) writes nothing: no other host is pruned,
# and its own next real view is not held back behind a future time
# (a copy of h1, whose stores the run five years on renews)
before=$(pg_sql "SELECT count(*) FROM fleet_hosts")
check "h1 copied" cp -r h1 h1moved
"$EVC" monitor --config h1moved/monitor.ini --once --at "$(at '+5 years')" >/dev/null 2>"$T/err"
check "the log says the inventory is not written under --at" grep -q "fleet inventory: not written under --at" "$T/err"
check "every host is still there" test "$(pg_sql "SELECT count(*) FROM fleet_hosts")" = "$before"
check "h5's certificates are still there" test "$(pg_sql "SELECT count(*) FROM fleet_certs WHERE host = 'h5'")" = 2
check "nobody is seen in the future" test "$(pg_sql "SELECT count(*) FROM fleet_hosts WHERE last_seen > $(date -d '+1 hour' +%s)")" = 0
"$EVC" agent --config h1moved/agent.ini --once --at "$(at '+5 years')" >/dev/null 2>"$T/err"
check "the agent writes nothing under --at either" grep -q "fleet inventory: not written under --at" "$T/err"
check "h1's view emptied by hand" pg_sql "DELETE FROM fleet_certs WHERE host = 'h1'"
status "monitor h1 now" 0 "$EVC" monitor --config h1/monitor.ini --once
check "the next real pass's view applies" test "$(pg_sql "SELECT count(*) FROM fleet_certs WHERE host = 'h1'")" = 2

# --- a host that stops reporting is silent: the others' monitors report, everything else
# was last seen three hours ago (by the database's clock, which stamps every heartbeat)
for h in h1 h2 h3 h4; do status "monitor $h later" 0 "$EVC" monitor --config $h/monitor.ini --once; done
check "the rest aged three hours" pg_sql "UPDATE fleet_hosts SET last_seen = last_seen - 10800,
    first_seen = first_seen - 10800 WHERE NOT (service = 'monitor' AND host IN ('h1', 'h2', 'h3', 'h4'))"
status "fleet: h5 silent, a warning" 1 "$EVC" fleet --state "$PGURL" --format json
check "h5's services and h1..h4's agents are the silent ones" \
    test "$(jq -r '[.hosts[] | select(.silent) | .host + "/" + .service] | join(",")' "$T/out")" = \
    "h1/agent,h2/agent,h3/agent,h4/agent,h5/agent,h5/monitor"

# --- one host alone on SQLite: its own inventory
status "monitor solo" 0 "$EVC" monitor --config solo/monitor.ini --once
status "fleet --state FILE" 1 "$EVC" fleet --state solo/monitor.db --format json
check "solo: itself and its two certificates" \
    test "$(jq -c '[(.hosts | length), (.certificates | length), .hosts[0].host]' "$T/out")" = '[1,2,"solo"]'
status "fleet --config with a SQLite state" 1 "$EVC" fleet --config solo/monitor.ini
check "solo: the text names it" grep -q "^solo" "$T/out"
status "fleet: a state that is not there" 3 "$EVC" fleet --state solo/none.db
check "the error names the file" grep -q "solo/none.db: no such state database" "$T/err"
check "a reader creates nothing" test ! -e solo/none.db

# --- the database goes away during a pass: the pass works locally, the writes wait
pg_down
status "monitor h1 with the database down" 0 "$EVC" monitor --config h1/monitor.ini --once
check "the log says unreachable and working locally" grep -q "unreachable: .*working locally, 1 changes wait" "$T/err"
status "agent h1 with the database down" 0 "$EVC" agent --config h1/agent.ini --once
check "the agent says it too" grep -q "fleet database .*unreachable" "$T/err"
check "h1's monitor outbox holds its snapshot" test "$(sql_local h1/monitor.db 'SELECT count(*) FROM fleet_outbox')" = 1
status "monitor h1 again, still down" 0 "$EVC" monitor --config h1/monitor.ini --once
check "said once, not again" test "$(grep -c unreachable "$T/err")" = 0
status "fleet: unreachable" 3 "$EVC" fleet --state "$PGURL"
check "fleet names the database and why" grep -q "evercert: fleet: postgresql://evercert@127.0.0.1:$PGPORT/evercert: unreachable" "$T/err"
check "pg back up" pg_up
status "monitor h1 once back" 0 "$EVC" monitor --config h1/monitor.ini --once
check "the log says it is back and sent" grep -q "reachable again; 1 changes sent, 0 wait" "$T/err"
check "h1's outbox is empty" test "$(sql_local h1/monitor.db 'SELECT count(*) FROM fleet_outbox')" = 0
check "nothing lost: h1's certificates" test "$(pg_sql "SELECT count(*) FROM fleet_certs WHERE host = 'h1'")" = 2
status "agent h1 once back" 0 "$EVC" agent --config h1/agent.ini --once
check "h1's agent outbox is empty" test "$(sql_local h1/agent.db 'SELECT count(*) FROM fleet_outbox')" = 0

# --- read-only (a standby, a database in maintenance): the same
check "database read-only" pg_ro
status "monitor h2 with the database read-only" 0 "$EVC" monitor --config h2/monitor.ini --once
check "the log says read-only" grep -q "read-only: .*working locally" "$T/err"
check "h2's outbox holds its snapshot" test "$(sql_local h2/monitor.db 'SELECT count(*) FROM fleet_outbox')" = 1
check "database writable" pg_rw
status "monitor h2 once writable" 0 "$EVC" monitor --config h2/monitor.ini --once
check "h2's outbox is empty" test "$(sql_local h2/monitor.db 'SELECT count(*) FROM fleet_outbox')" = 0

# --- a sender killed in the middle of a large send: the rest is sent once, none twice
N=30000
check "fill h3's outbox" "$FILL" h3/monitor.db h3 monitor $N
fills() { pg_sql "SELECT count(*) FROM fleet_events WHERE host = 'h3' AND detail = 'fill'"; }
"$EVC" monitor --config h3/monitor.ini --once 2>kill.log &
KPID=$!
i=0
while [ "$(fills)" -lt 3000 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $KPID 2>/dev/null
wait $KPID 2>/dev/null
got=$(fills)
[ "$got" -lt $N ] || echo "note: the sender finished before the kill ($got sent)"
check "some were sent before the kill" test "$got" -ge 3000
status "monitor h3 sends the rest" 0 "$EVC" monitor --config h3/monitor.ini --once
check "every event once: $N" test "$(fills)" = $N
check "no uid twice" test "$(pg_sql "SELECT count(*) - count(DISTINCT uid) FROM fleet_events WHERE host = 'h3'")" = 0
check "h3's outbox is empty" test "$(sql_local h3/monitor.db 'SELECT count(*) FROM fleet_outbox')" = 0

# --- retention: [fleet] keep = 1d drops what is older, across the fleet, by the database's clock
check "events are there" test "$(pg_sql 'SELECT count(*) FROM fleet_events')" -gt 0
check "every event and every host but h4 aged two days" pg_sql "UPDATE fleet_events SET at = at - 172800;
    UPDATE fleet_hosts SET last_seen = last_seen - 172800 WHERE host <> 'h4'"
status "monitor h4 now" 0 "$EVC" monitor --config h4/monitor.ini --once
check "events older than keep are gone" test "$(pg_sql "SELECT count(*) FROM fleet_events WHERE at < $(date -d '-1 day' +%s)")" = 0
check "h5, gone longer than keep, left the inventory" test "$(pg_sql "SELECT count(*) FROM fleet_hosts WHERE host = 'h5'")" = 0
check "h4 is still there" test "$(pg_sql "SELECT count(*) FROM fleet_certs WHERE host = 'h4'")" = 2

summary fleet.sh
