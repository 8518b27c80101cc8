#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The monitor's own clock, as an operator runs it: certificates that live
# one minute, a WebSphere schedule days away, and `evercert monitor` in
# the background. It must renew and activate on time by itself (two
# rotations, the live certificate never expired), run at once what is
# overdue when it starts (a stale successor left when it stopped between
# staging and activation is made again), retry a failed pass with backoff
# and recover,
# leave the schedule alone on --trigger, and keep in the history the
# status each pass logged, with hand-run renew and activate beside it.
#
# usage: clock.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: clock.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
T=$(mktemp -d /tmp/evc-clock-XXXXXX)
export TZ=UTC
MON=
cleanup() {
    [ -n "$MON" ] && kill "$MON" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'; }
# wait_for FILE TEXT SECONDS: until FILE holds TEXT (bounded)
wait_for() {
    i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    grep -qF -- "$2" "$1" 2>/dev/null
}
count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }
start_monitor() { # start_monitor LOG [--at TIME]
    log=$1
    shift
    "$EVC" monitor --config c.ini "$@" 2>>"$log" &
    MON=$!
}
stop_monitor() {
    kill -TERM "$MON" 2>/dev/null
    wait "$MON" 2>/dev/null
    MON=
}
cd "$T" || exit 1

# A root, a certificate with 40 s left of its minute, a schedule a week away.
"$EVC" ca init --out root --subject "CN=Clock Root" >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test --minutes 1 --at "$(at '-20 seconds')" \
    --out-cert web.crt --out-key web.key >/dev/null
mkdir deleted
DAY=$(date -u -d '+3 days' +%A | tr A-Z a-z)
cat >c.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 50%

[monitor]
frequency = 7
day_of_week = $DAY
hour = 3
minute = 30
state = state.db

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = web.crt
key = web.key

[store "deleted"]
role = deleted
path = deleted
EOF

# --- 1. Renewals and activations on the monitor's own clock -----------------------
FIRST=$(fp web.crt)
start_monitor mon.log
if ! wait_for mon.log "started; next report pass" 5; then
    bad "the monitor did not start: $(cat mon.log)"
    echo "clock.sh: $pass passed, $fail failed"
    exit 1
fi
check "it says when it wakes for the certificate" wait_for mon.log "next: due " 5
# Sample the live pair every 0.2 s (at most 110 s) until two successors went live.
seen=$FIRST
expired=0
i=0
while [ $i -lt 550 ]; do
    if ! openssl x509 -in web.crt -noout -checkend 0 >/dev/null 2>&1; then
        expired=$((expired + 1))
    fi
    f=$(fp web.crt 2>/dev/null)
    case " $seen " in *" $f "*) ;; *) [ -n "$f" ] && seen="$seen $f" ;; esac
    [ "$(echo $seen | wc -w)" -ge 3 ] && break
    sleep 0.2
    i=$((i + 1))
done
check "two successors went live without a scheduled pass" test "$(echo $seen | wc -w)" -ge 3
check "the live certificate never expired (samples: $i)" test "$expired" = 0
check "the passes were the monitor's own (due)" grep -q "pass started (due)" mon.log
check "no scheduled pass ran" sh -c "! grep -q 'pass started (schedule)' mon.log"
check "renewals were staged at the threshold" grep -q "action=renew store=web reason=threshold" mon.log
check "and activated at activate_at" grep -q "action=activate store=web reason=activate" mon.log
check "the report pass stays on the schedule" grep -q "report pass $(date -u -d '+3 days' +%Y-%m-%d)\|report pass 20" mon.log

# --- 2. --trigger runs a pass and leaves the schedule alone --------------------------
"$EVC" history --config c.ini --format json >h1.json
"$EVC" monitor --trigger --config c.ini >trigger.out 2>&1
"$EVC" history --config c.ini --format json >h2.json
check "--trigger ran a pass" grep -q "pass started (trigger)" mon.log
check "history shows the next report pass" jq -e '.next.report_pass != null' h1.json
r1=$(jq -r .next.report_pass h1.json)
check "--trigger did not move the report pass ($r1)" test "$r1" != null -a "$r1" = "$(jq -r .next.report_pass h2.json)"
check "history shows the next wake-up" jq -e '.next.wake != null and .next.why == "due"' h2.json
"$EVC" history --config c.ini >h2.txt
check "history as text shows what is next" grep -q "^next report pass  20" h2.txt
# Each pass's status in the history is the one its log line gave.
logged=$(grep "pass ended: status=" mon.log | sed 's/.*pass ended: status=\([0-9]\).*/\1/' | tr -d '\n')
stored=$(jq -r '[.runs[] | .status | tostring] | join("")' h2.json)
check "history keeps each pass's status ($logged vs $stored)" test -n "$logged" -a "$logged" = "$stored"
# Stop it between staging and activation: a successor waits on disk.
i=0
while [ ! -e web.crt.next ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i + 1)); done
stop_monitor
check "a successor was staged when the monitor stopped" test -e web.crt.next

# --- 3. Down past the successor's life: the wedge of a stale successor -----------------
BEFORE=$(fp web.crt)
STALE=$(fp web.crt.next)
start_monitor start.log --at "$(at '+5 minutes')"
check "overdue work runs at once" wait_for start.log "pass started (start)" 5
check "the stale successor is made again" wait_for start.log "action=renew store=web reason=stale-successor" 5
check "and the new one activated in the same pass" wait_for start.log "action=activate store=web" 5
check "a new pair is live" sh -c "[ '$(fp web.crt)' != '$BEFORE' ] && [ '$(fp web.crt)' != '$STALE' ]"
check "the stale successor is in the deleted store" sh -c "grep -rl . deleted | xargs -n1 openssl x509 -noout -fingerprint -sha256 -in 2>/dev/null | sed 's/.*=//; s/://g' | grep -qx '$STALE'"
check "the pass ends ok, nothing left due" wait_for start.log "next: due " 5
stop_monitor

# --- 4. A failed pass is retried with backoff, and the next good one recovers ----------
cp web.key web.key.good
echo "not a key" >web.key
start_monitor retry.log --at "$(at '+10 minutes')"
check "a pass that cannot read a store says so" wait_for retry.log "cannot plan" 5
check "and is retried" wait_for retry.log "pass started (retry)" 10
n=$(count retry.log "pass started")
check "no busy loop: $n passes in the first seconds" test "$n" -le 4
cp web.key.good web.key
check "the retry after the fix renews" wait_for retry.log "action=renew store=web reason=expired" 25
stop_monitor

# --- 5. Hand-run renew and activate are in the history --------------------------------
"$EVC" renew --config c.ini --at "$(at '+20 minutes')" >renew.out 2>&1
"$EVC" activate --config c.ini --at "$(at '+20 minutes')" >activate.out 2>&1
"$EVC" history --config c.ini --format json >h3.json
check "renew is in the history" jq -e '[.runs[] | select(.trigger == "renew")] | length == 1' h3.json
check "activate is in the history" jq -e '[.runs[] | select(.trigger == "activate")] | length == 1' h3.json

echo "clock.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
