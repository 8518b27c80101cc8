#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# One certificate on three hosts behind a load balancer ([store] shared =
# yes), renewed by one of them through a PostgreSQL the test starts. Three
# monitors (three configurations, three local states, three copies of the
# pair) on certificates that live ten minutes, with --at for the clock:
#   1. the first renews and publishes; the other two take its successor:
#      the same certificate, key and SA (so the same activate_at) on all
#      three, and all three switch to it;
#   2. the renewer killed (kill -9) after taking the lease and making the
#      key, while it waits to publish (a session of the test holds the
#      table): the others wait while its lease runs (on the database's
#      clock: a host moved ahead in time waits too), then one takes the
#      lease over, makes the successor, and all converge on it;
#   3. the renewer stopped after publishing, before staging (the crash
#      tests' EVERCERT_FAULT_AT: the process ends at that step): the others
#      take the published successor at once, and so does the renewer
#      started again;
#   4. a row changed in the database (the chain, the chain with its hash,
#      the sealed key, the SA) is refused by a follower, named, and nothing
#      is staged; restored, it is taken;
#   5. the database stopped, then read-only: nobody renews the shared store
#      alone, each says so, and the pass reports the failure; back, one
#      renews, and the others take its successor from a read-only database;
#   6. three monitors running on their own clocks: one makes the successor,
#      the others take it (retrying while its lease runs);
#   7. a host whose staged successor is lost (debris) takes the same
#      generation again, never makes another (the fleet would split);
#   8. a refused row no host staged is superseded by the next holder, and
#      the others take the new one; one a host staged is never (4);
#   9. an Ed25519 shared store, or one issued by a root store of the
#      configuration, is refused by check-config at its shared line, and
#      the latter is not renewed by a run either.
#
# usage: shared.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: shared.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/evc-shared-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    pg_stop
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
pg_start || { echo "FAIL: PostgreSQL did not start"; exit 1; }
[ "$(id -u)" != 0 ] || chmod 755 "$T"
cd "$T" || exit 1
fail=0
ok() { echo "ok: $*"; }
bad() {
    echo "FAIL: $*"
    fail=1
}
check() { # check DESCRIPTION COMMAND...
    d=$1
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
sha() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
nb() { date -u -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s; }
na() { date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
# mon HOST TIME [ENV...]: one pass of HOST's monitor at TIME; its log in HOST/log.N
n=0
mon() {
    h=$1
    t=$2
    shift 2
    n=$((n + 1))
    env "$@" "$EVC" monitor --once --config "$h/c.ini" --at "$(at "$t")" >"$h/out.$n" 2>"$h/log.$n"
    rc=$?
    cp "$h/log.$n" "$h/last.log"
}
logs() { grep -F -- "$2" "$1/last.log" >/dev/null; }
same3() { # same3 FILE: byte-identical on the three hosts
    cmp -s "A/$1" "B/$1" && cmp -s "A/$1" "C/$1"
}

# A fleet key every host holds, a certificate that lives ten minutes, three hosts.
"$EVC" ca fleet-key fleet.key >/dev/null || { echo "FAIL: ca fleet-key"; exit 1; }
check "ca fleet-key writes a 0600 key" [ "$(stat -c %a fleet.key)" = 600 ]
check "ca fleet-key never replaces a key" sh -c "! '$EVC' ca fleet-key fleet.key 2>/dev/null"
T0=$(date -u +%s)
"$EVC" selfsign --cn web.test --san DNS:web.test --minutes 10 --at "$(at "$T0")" \
    --out-cert web.crt --out-key web.key >/dev/null || { echo "FAIL: selfsign"; exit 1; }
for h in A B C; do
    mkdir -p "$h/deleted"
    cp web.crt web.key "$h/"
    chmod 600 "$h/web.key"
    cat >"$h/c.ini" <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 50%

[monitor]
state = $PGURL
state_local = $T/$h/state.db

[fleet]
host = host$h
key_file = $T/fleet.key
lease = 5s

[store "web"]
role = personal
cert = $T/$h/web.crt
key = $T/$h/web.key
shared = yes

[store "deleted"]
role = deleted
path = $T/$h/deleted
EOF
done
check "the configuration is accepted" "$EVC" check-config A/c.ini >/dev/null

# --- 1. one renews, the others follow -------------------------------------------
t=$((T0 + 301))
mon A $t
check "A takes the lease and makes the successor" logs A "lease taken"
check "A publishes it" logs A "published for the fleet"
check "A stages it" [ -s A/web.crt.next ]
mon B $((t + 1))
mon C $((t + 2))
check "B takes A's successor" logs B "from hostA (shared)"
check "C takes A's successor" logs C "from hostA (shared)"
check "B made no lease of its own" sh -c "! grep -F 'lease taken' B/last.log"
check "the same successor on the three hosts" same3 web.crt.next
check "the same key on the three hosts" same3 web.key.next
check "the same SA (the same activate_at) on the three hosts" same3 web.crt.sa
check "the key stays 0600 on a follower" [ "$(stat -c %a B/web.key.next)" = 600 ]
check "no private key in the database" \
    [ "$(pg_sql "SELECT count(*) FROM successors WHERE position('PRIVATE'::bytea in sealed) > 0 OR position('PRIVATE' in chain) > 0")" = 0 ]
S1=$(sha A/web.crt.next)
# All three switch before the old certificate ends.
t=$(($(na web.crt) - 5))
for h in A B C; do mon $h $t; done
check "the three serve the successor" [ "$(sha A/web.crt)" = "$S1" ] && check "B too" [ "$(sha B/web.crt)" = "$S1" ] &&
    check "C too" [ "$(sha C/web.crt)" = "$S1" ]

# --- 2. the renewer killed before publishing ----------------------------------------
# A session holds SHARE on successors (reads pass, writes wait), so A, having
# taken the lease and made the key, waits inside its publication: killed there.
R=$(($(nb A/web.crt) + 301))
"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U evercert -d evercert -c "BEGIN" \
    -c "LOCK TABLE successors IN SHARE MODE" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
LOCKER=$!
locks() { pg_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'successors' AND l.granted = $1 AND l.mode <> 'AccessShareLock'"; }
i=0
while [ "$(locks true)" = 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$EVC" monitor --once --config A/c.ini --at "$(at "$R")" >/dev/null 2>A/last.log &
RENEWER=$!
i=0
while { ! grep -q "lease taken" A/last.log || [ "$(locks false)" = 0 ]; } && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
check "A holds the lease" logs A "lease taken"
check "A waits to publish" [ "$(locks false)" != 0 ]
kill -KILL $RENEWER
wait $RENEWER 2>/dev/null
pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
wait $LOCKER 2>/dev/null
check "A, killed (kill -9), published nothing" [ "$(pg_sql "SELECT count(*) FROM successors WHERE generation = 2")" = 0 ]
check "A staged nothing" [ ! -e A/web.crt.next ]
check "the lease is still A's" [ "$(pg_sql "SELECT holder FROM leases WHERE name = 'web'")" = hostA ]
mon B $((R + 1))
check "B waits while A's lease runs" logs B "hostA holds the lease until"
check "B stages nothing" [ ! -e B/web.crt.next ]
# The lease runs on the database's clock: a run moved ahead in time does not end it.
mon B $((R + 200))
check "B, its clock 200 s ahead, still waits for A's lease" logs B "hostA holds the lease until"
i=0
while [ "$(pg_sql "SELECT until_at < EXTRACT(EPOCH FROM statement_timestamp())::bigint FROM leases WHERE name = 'web'")" != t ] &&
    [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
mon B $((R + 31))
check "B takes the lease over once it lapsed" logs B "lease taken (token 3"
check "B publishes generation 2" [ "$(pg_sql "SELECT made_by FROM successors WHERE generation = 2")" = hostB ]
mon A $((R + 32))
mon C $((R + 33))
check "A, started again, takes B's successor" logs A "from hostB (shared)"
check "C takes B's successor" logs C "from hostB (shared)"
check "the three converge on one successor" same3 web.crt.next
check "and one key" same3 web.key.next
t=$(($(na A/web.crt) - 5))
for h in A B C; do mon $h $t; done
check "the three serve it" same3 web.crt

# --- 3. the renewer stops after publishing, before staging ----------------------------
R=$(($(nb A/web.crt) + 301))
mon C $R EVERCERT_FAULT_AT=2
check "C stopped after publishing (status 99)" [ "$rc" = 99 ]
check "C's successor is published" [ "$(pg_sql "SELECT made_by FROM successors WHERE generation = 3")" = hostC ]
mon A $((R + 1))
check "A takes it at once, without waiting for C's lease" logs A "from hostC (shared)"
mon B $((R + 2))
mon C $((R + 3))
check "C, started again, stages what it published" logs C "from hostC (shared)"
check "the three hold one successor" same3 web.crt.next
check "and one key" same3 web.key.next
t=$(($(na A/web.crt) - 5))
for h in A B C; do mon $h $t; done
check "the three serve it" same3 web.crt

# --- 4. a row changed in the database is refused ------------------------------------------
R=$(($(nb A/web.crt) + 301))
mon A $R
check "A publishes generation 4" [ "$(pg_sql "SELECT made_by FROM successors WHERE generation = 4")" = hostA ]
"$EVC" selfsign --cn web.test --san DNS:web.test --minutes 10 --out-cert other.crt --out-key other.key >/dev/null
OTHER=$(cat other.crt)
OSHA=$(openssl x509 -in other.crt -outform DER | sha256sum | cut -d' ' -f1)
pg_sql "CREATE TABLE keep AS SELECT * FROM successors WHERE generation = 4" >/dev/null
check "A told the fleet it staged generation 4" \
    [ "$(pg_sql "SELECT host FROM staged_by WHERE store = 'web' AND generation = 4")" = hostA ]
restore() {
    pg_sql "DELETE FROM successors WHERE store = 'web' AND generation >= 4; INSERT INTO successors SELECT * FROM keep" >/dev/null
}
tamper() { # tamper WHAT SQL EXPECTED
    restore
    pg_sql "$2" >/dev/null
    mon B $((R + 1))
    check "$1: refused" logs B "published by hostA refused: $3"
    check "$1: the pass says it failed (status $rc)" [ "$rc" = 2 ]
    check "$1: nothing staged" sh -c '[ ! -e B/web.crt.next ] && [ ! -e B/web.key.next ]'
    # A staged it: no host may make another over it (the fleet would split).
    check "$1: B makes no successor over the row A staged" sh -c "! grep -F 'making generation' B/last.log"
    check "$1: B says A staged it" logs B "staged by 1 host(s), so it is not superseded"
    check "$1: no row made over it, none withdrawn" \
        [ "$(pg_sql "SELECT count(*) FROM successors WHERE generation >= 4 AND (made_by <> 'hostA' OR state = 'withdrawn')")" = 0 ]
}
tamper "another chain" "UPDATE successors SET chain = '$OTHER' WHERE generation = 4" \
    "its chain's leaf is not the certificate its key was sealed for"
tamper "another chain and its hash" \
    "UPDATE successors SET chain = '$OTHER', sha256 = '$OSHA' WHERE generation = 4" \
    "sealed key does not open"
tamper "a changed sealed key" \
    "UPDATE successors SET sealed = overlay(sealed placing '\\x00'::bytea from 30 for 1) WHERE generation = 4" \
    "sealed key does not open"
tamper "the SA of another generation" \
    "UPDATE successors SET sa = (SELECT sa FROM successors WHERE generation = 3) WHERE generation = 4" \
    "its SA is refused"
tamper "a changed activate_at" \
    "UPDATE successors SET activate_at = activate_at + 60 WHERE generation = 4" \
    "its SA announces another generation, time or chain than the row says"
tamper "a changed generation" \
    "UPDATE successors SET generation = 5 WHERE generation = 4" \
    "sealed key does not open"
# A row whose SA announces the leaf with one intermediate and whose chain
# carries another: the SA, signed with the live key, is good; the chain is not.
pg_sql "SELECT chain FROM keep" >leaf4.pem
"$EVC" selfsign --cn inter.test --san DNS:inter.test --minutes 10 --out-cert i2.crt --out-key i2.key >/dev/null
cat leaf4.pem other.crt >sa-chain.pem
cat leaf4.pem i2.crt >row-chain.pem
"$EVC" announce --current A/web.crt --current-key A/web.key --successor sa-chain.pem \
    --successor-key A/web.key.next --service web.test --generation 4 \
    --activate-at "$(at "$(pg_sql "SELECT activate_at FROM keep")")" --at "$(at $R)" --out swap.sa >/dev/null ||
    bad "announce of the leaf and one intermediate"
tamper "an intermediate swapped (the SA announces another)" \
    "UPDATE successors SET chain = '$(cat row-chain.pem)', sa = decode('$(od -An -v -tx1 swap.sa | tr -d ' \n')', 'hex') WHERE generation = 4" \
    "its SA announces another generation, time or chain than the row says"
restore
mon B $((R + 2))
check "restored, B takes it" logs B "from hostA (shared)"
check "B and A hold one successor" cmp -s A/web.crt.next B/web.crt.next

# --- 5. no database: nobody renews alone ------------------------------------------
mon C $((R + 3))
t=$(($(na A/web.crt) - 5))
for h in A B C; do mon $h $t; done
check "the three serve generation 4" same3 web.crt
R=$(($(nb A/web.crt) + 301))
pg_down
for h in A B; do
    mon $h $R
    check "$h: database down, not renewing alone" logs $h "fleet database unreachable; not renewing alone"
    check "$h: the pass says it failed (status $rc)" [ "$rc" = 2 ]
    check "$h: nothing staged" [ ! -e $h/web.crt.next ]
    check "$h: still serving the current certificate" same3 web.crt
done
pg_up || { echo "FAIL: PostgreSQL did not start again"; exit 1; }
pg_ro
mon C $((R + 1))
check "read-only database: C does not renew alone" logs C "fleet database read-only; not renewing alone"
check "C stages nothing" [ ! -e C/web.crt.next ]
pg_rw >/dev/null
mon C $((R + 2))
check "the database back, C renews" logs C "published for the fleet"
pg_ro
mon A $((R + 3))
mon B $((R + 4))
check "the others follow, even from a read-only database" same3 web.crt.next
pg_rw >/dev/null

# --- 6. three monitors on their own clocks --------------------------------------------
t=$(($(na A/web.crt) - 5))
for h in A B C; do mon $h $t; done
check "the three serve generation 5" same3 web.crt
R=$(($(nb A/web.crt) + 301))
off=$((R - 3 - $(date -u +%s)))
PIDS=
for h in A B C; do
    "$EVC" monitor --config "$h/c.ini" --at "$(at $(($(date -u +%s) + off)))" 2>"$h/daemon.log" &
    PIDS="$PIDS $!"
done
# Each wakes at the renewal moment plus its jitter (up to a twentieth of the time left).
i=0
while ! { [ -s A/web.crt.next ] && same3 web.crt.next; } && [ $i -lt 600 ]; do
    sleep 0.2
    i=$((i + 1))
done
for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
for p in $PIDS; do wait "$p" 2>/dev/null; done
check "three monitors on their clocks converge on one successor" same3 web.crt.next
check "made by exactly one of them" [ "$(cat A/daemon.log B/daemon.log C/daemon.log | grep -c 'making generation')" = 1 ]

# --- 7. one host loses its staged successor -----------------------------------------
# The three staged generation 6; B's key.next is lost (debris). B fetches
# generation 6 again rather than make a 7th that A and C would never see.
G=$(pg_sql "SELECT max(generation) FROM successors")
check "the three told the fleet they staged generation $G" \
    [ "$(pg_sql "SELECT count(*) FROM staged_by WHERE store = 'web' AND generation = $G")" = 3 ]
S6=$(sha A/web.crt.next)
rm B/web.key.next
mon B $((R + 60))
check "B, its successor lost, stages generation $G again" logs B "generation $G for"
check "B makes none of its own" sh -c "! grep -F 'making generation' B/last.log"
check "B holds the fleet's successor again" same3 web.crt.next
check "and its key" same3 web.key.next
check "no generation above $G, none withdrawn" \
    [ "$(pg_sql "SELECT count(*) FROM successors WHERE generation > $G OR state = 'withdrawn'")" = 0 ]
t=$(($(na A/web.crt) - 5))
for h in A B C; do mon $h $t; done
check "at the switch the three serve one certificate" same3 web.crt
check "the one they staged" [ "$(sha B/web.crt)" = "$S6" ]

# --- 8. a refused row no host staged is superseded ----------------------------------------
# C publishes and stops before staging; its row is then damaged. The next
# holder refuses it, and as no host staged it, makes another over it.
R=$(($(nb A/web.crt) + 301))
mon C $R EVERCERT_FAULT_AT=2
G=$(pg_sql "SELECT max(generation) FROM successors")
check "C published generation $G and staged nothing" \
    [ "$(pg_sql "SELECT made_by FROM successors WHERE generation = $G")" = hostC ] && [ ! -e C/web.crt.next ]
check "no host staged generation $G" [ "$(pg_sql "SELECT count(*) FROM staged_by WHERE generation = $G")" = 0 ]
pg_sql "UPDATE successors SET sealed = overlay(sealed placing '\\x00'::bytea from 30 for 1) WHERE generation = $G" >/dev/null
mon A $((R + 1))
check "A refuses it and supersedes it" logs A "generation $G refused and staged by no host: superseded"
check "A publishes generation $((G + 1))" [ "$(pg_sql "SELECT made_by FROM successors WHERE generation = $((G + 1))")" = hostA ]
check "generation $G is withdrawn" [ "$(pg_sql "SELECT state FROM successors WHERE generation = $G")" = withdrawn ]
mon B $((R + 2))
mon C $((R + 3))
check "B takes A's" logs B "from hostA (shared)"
check "C, started again, takes A's" logs C "from hostA (shared)"
check "the three hold one successor" same3 web.crt.next

# --- 9. shared stores that could never be renewed are told at setup ----------------------
# An Ed25519 key signs no SA; a certificate issued by a root store of the
# configuration would be renewed under a root each host recreates alone.
mkdir -p E
"$EVC" selfsign --cn ed.test --san DNS:ed.test --key ed25519 --minutes 10 \
    --out-cert E/ed.crt --out-key E/ed.key >/dev/null || bad "selfsign --key ed25519"
"$EVC" ca init --out E/root --subject "CN=Fleet Test Root" >/dev/null || bad "ca init"
"$EVC" issue --ca E/root --cn ch.test --san DNS:ch.test --out-cert E/ch.crt --out-key E/ch.key >/dev/null ||
    bad "issue"
setup() { # setup CERT KEY [ROOT]: a configuration of one shared store (shared = yes on line 11)
    cat >E/c.ini <<EOF
[monitor]
state = $PGURL
state_local = $T/E/state.db

[fleet]
host = hostE
key_file = $T/fleet.key

[store "web"]
role = personal
shared = yes
cert = $T/$1
key = $T/$2
EOF
    [ -z "${3:-}" ] || printf '\n[store "root"]\nrole = root\npath = %s\n' "$T/$3" >>E/c.ini
}
setup E/ed.crt E/ed.key
check "an Ed25519 shared store is refused by check-config" sh -c "! '$EVC' check-config E/c.ini 2>E/err"
check "at its shared line, saying why" grep -F "c.ini:11: store \"web\": shared needs an RSA or ECDSA key" E/err
setup E/ch.crt E/ch.key E/root
check "a shared store issued by a root store is refused by check-config" sh -c "! '$EVC' check-config E/c.ini 2>E/err"
check "at its shared line: roots are not shared" grep -F "c.ini:11: store \"web\": shared, but issued by a CA" E/err
mon E $(($(nb E/ch.crt) + 3600 * 24 * 330))
check "the run does not renew it either" logs E "is issued by root store \"root\" of this configuration; roots are not shared"
check "and stages nothing" [ ! -e E/ch.crt.next ]
setup web.crt web.key
check "a self-signed RSA or ECDSA shared store is accepted" "$EVC" check-config E/c.ini

if [ $fail != 0 ]; then
    for h in A B C; do
        echo "--- $h/last.log"
        cat "$h/last.log"
    done
fi
exit $fail
