#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert demo --quick, for real: two evercert serve processes, 5 clients
# each, 10 s certificates. The existing run must have failed handshakes,
# the evercert run none, its TLS 1.2 clients included; its swaps must be
# the evercert monitor process's, on its own clock (its log and its
# history), and every client's trust its own agent's (SAs from its
# handshakes, or the push channel for TLS 1.2). --manual: only the
# clients whose person approves after activate_at fail. The figures must
# match the clients' own records (the CSVs); the keys must go with the
# temporary directory; every bad option must be refused, naming it, with
# nothing made.
#
# usage: demo.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: demo.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
T=$(mktemp -d /tmp/evc-demo-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
for tool in jq script; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done
cd "$T" || exit 1
mkdir tmp
q() { jq -e "$1" out/result.json; }

# --- the quick run, on a terminal (script gives it one) so the progress line shows
TMPDIR=$T/tmp script -qec "'$EVC' demo --quick --out out" /dev/null >run.out 2>&1
st=$?
check "the quick demo exits 0 (the evercert run had no failure)" test $st = 0
check "a progress line while it runs" grep -q "s of ~.* | existing: .* | evercert: " run.out
check "the table names both runs" grep -q "existing *evercert" run.out
check "the ten-second summary" grep -q "^In short: the old way, [0-9]* of [0-9]* connections failed" run.out
check "and evercert's line" grep -q "^With evercert the certificate changed [0-9]* times and no connection failed" run.out
check "the settings are stated" grep -q "5 clients each open a new TLS session every 0.5 s, and 2 more" run.out
check "result.json parses" jq . out/result.json
check "settings: 10 s, 5 clients, the fix after 5 s" q '.settings.lifetime_s == 10 and .settings.clients == 5 and .settings.manual_fix_s == 5'
check "the runs are existing and evercert" q '[.runs[].name] == ["existing","evercert"]'
check "existing: handshakes failed" q '.runs[0].failed_handshakes > 0'
check "existing: the clients saw unknown_ca" q '.runs[0].alerts.unknown_ca > 0'
check "existing: downtime, the worst client at least the manual fix" q '.runs[0].downtime_total_s > 0 and .runs[0].downtime_worst_s >= 4.5'
check "existing: the clients held the new certificate only after the fix" q '.runs[0].converge_s >= 4.5'
check "existing: one renewal, no SA bytes" q '.runs[0].renewals >= 1 and .runs[0].sa_bytes_per_handshake == 0'
check "evercert: no failed handshake, no downtime" q '.runs[1].failed_handshakes == 0 and .runs[1].downtime_total_s == 0 and .runs[1].alerts == {}'
check "evercert: at least 3 renewals" q '.runs[1].renewals >= 3'
check "evercert: every client held each successor before the swap" q '.runs[1].converged and .runs[1].converge_s < 0'
check "evercert: the SA rode in the handshakes" q '.runs[1].sa_bytes_per_handshake > 0 and .runs[1].sa_rejected == 0'
check "both: the open sessions never failed" q '[.runs[].open_session_failures] == [0,0] and .runs[0].open_session_requests > 0'
check "same clients, same pace: session counts within 5%" q '.runs[1].sessions as $b | (.runs[0].sessions - $b) | fabs < ($b / 20)'

# The machinery is the user's: a monitor process swapped, on its own clock; agents decided.
check "evercert: the monitor process made the swaps" q '.runs[1].monitor.process == "evercert monitor" and .runs[1].monitor.swaps >= 3 and .runs[1].monitor.swaps_in_history >= 3'
check "evercert: no pass was asked for (--trigger, --once)" q '.runs[1].monitor.passes > 0 and .runs[1].monitor.passes_asked_for == 0'
check "the monitor's log is kept, with its swaps" sh -c "[ \$(grep -c 'action=activate .* done=1 ' out/monitor-evercert.log) -ge 3 ]"
check "the monitor's history: activations, passes on its own clock only" jq -e '([.replacements[] | select(.action == "activate")] | length) >= 3 and ([.runs[] | select(.trigger == "trigger" or .trigger == "once")] | length) == 0 and (.runs | length) > 0' out/history-evercert.json
check "the monitor kept its state in the run's temporary directory, not the system's" grep -q "state $T/tmp/evercert-demo-[^/]*/evercert/monitor.db" out/monitor-evercert.log
check "existing: no monitor" q '.runs[0].monitor == null'
check "half the clients speak TLS 1.2, in both runs" q '[.runs[].clients[] | select(.client < 5) | .tls] == ["1.3","1.2","1.3","1.2","1.3","1.3","1.2","1.3","1.2","1.3"]'
check "existing: the TLS 1.2 clients failed too" q '.runs[0].tls12.failed > 0'
check "evercert: no TLS 1.2 client failed, and they tried" q '.runs[1].tls12.clients == 3 and .runs[1].tls12.tries > 0 and .runs[1].tls12.failed == 0'
check "evercert: each TLS 1.3 client's agent took every successor from its handshakes" q '[.runs[1].clients[] | select(.open_session | not) | select(.tls == "1.3") | .agent | .policy == "auto" and .source == "handshake" and .by_handshake >= 3 and .by_push == 0] | all'
check "evercert: each TLS 1.2 client's agent took every successor by push" q '[.runs[1].clients[] | select(.open_session | not) | select(.tls == "1.2") | .agent | .source == "push" and .by_push >= 3 and .by_handshake == 0] | all'
check "evercert: the agents activated what they accepted and refused nothing" q '[.runs[1].clients[] | select(.open_session | not) | .agent | .activated >= 3 and .rejected == 0 and .queued == 0] | all'
check "evercert: the TLS 1.2 handshakes carried no SA" sh -c "awk -F, 'NR > 1 && \$1 % 2 == 1 && \$2 == \"new\" && \$7 > 0' out/sessions-evercert.csv | grep -q . && exit 1; awk -F, 'NR > 1 && \$1 % 2 == 0 && \$7 > 0' out/sessions-evercert.csv | grep -q ."

# The figures are the clients' records: count them again from the CSVs.
for run in existing evercert; do
    n=$(awk -F, 'NR > 1 && $2 != "open-request"' out/sessions-$run.csv | wc -l)
    f=$(awk -F, 'NR > 1 && $2 != "open-request" && $4 == 0' out/sessions-$run.csv | wc -l)
    i=$([ $run = existing ] && echo 0 || echo 1)
    check "$run: sessions = the CSV's handshakes ($n)" q ".runs[$i].sessions == $n"
    check "$run: failed = the CSV's failed handshakes ($f)" q ".runs[$i].failed_handshakes == $f"
    check "$run: the CSV has timed steps" sh -c "awk -F, 'NR > 1 && \$2 == \"new\" && \$4 == 1 && \$13 > 0' out/sessions-$run.csv | grep -q ."
done
check "per client: 5 + 2 open sessions, their tries add up to the run's" q '(.runs[0].clients | length) == 7 and ([.runs[0].clients[].tries] | add) == .runs[0].sessions + .runs[0].open_session_requests'
check "per client: every new-session client of existing failed, with unknown_ca" q '[.runs[0].clients[] | select(.open_session | not) | .failed > 0 and .alert == "unknown_ca"] | all'
check "per client: no evercert client failed" q '[.runs[1].clients[] | .failed == 0 and .alert == null and .downtime_s == 0] | all'
uc=$(awk -F, 'NR > 1 && $5 == 48' out/sessions-existing.csv | wc -l)
check "unknown_ca = the CSV's alert 48 ($uc)" q ".runs[0].alerts.unknown_ca == $uc"
check "the failed handshakes stopped at the alert" sh -c "awk -F, 'NR > 1 && \$4 == 0 && \$2 == \"new\" && \$12 > 0 && \$13 < 0' out/sessions-existing.csv | grep -q ."
check "the keys went with the temporary directory" test -z "$(ls tmp)"
check "steps.dat and the gnuplot script" test -s out/steps.dat -a -s out/demo.gp
if command -v gnuplot >/dev/null; then
    check "timeline.png is a PNG" sh -c "head -c 8 out/timeline.png | od -An -c | grep -q 'P   N   G'"
    check "handshake.png is a PNG" sh -c "head -c 8 out/handshake.png | od -An -c | grep -q 'P   N   G'"
else
    echo "note: gnuplot is not installed; the PNGs are not checked" >&2
fi

# The packet capture: tshark's view of the same sessions, when it is installed.
if command -v tshark >/dev/null; then
    check "a capture was taken" test -s out/capture.pcapng
    check "capture: both runs opened connections" q '.settings.capture == "tshark on lo, capture.pcapng" and .runs[0].capture.syn > 0 and .runs[1].capture.syn > 0'
    check "capture: the wire shows existing's unknown_ca alerts" q '.runs[0].capture.alerts.unknown_ca > 0'
    check "capture: and no alert for evercert" q '.runs[1].capture.alerts == {}'
    check "capture: the table says what the wire showed" grep -q "^On the wire (tshark, capture.pcapng): existing: [0-9]* connections" run.out
else
    echo "note: tshark is not installed; the capture is not checked" >&2
fi

# --- --format json: the same document on stdout, for one client and an instant fix
# (with a PATH that has gnuplot but no tshark: the capture is skipped, saying why)
mkdir bin
command -v gnuplot >/dev/null && ln -s "$(command -v gnuplot)" bin/gnuplot
TMPDIR=$T/tmp PATH=$T/bin "$EVC" demo --lifetime 10 --clients 1 --manual-fix 0 --format json --out out2 >j.out 2>j.err
st=$?
check "--format json exits 0" test $st = 0
check "--format json prints the document" jq -e '.settings.clients == 1 and .settings.manual_fix_s == 0 and (.runs | length) == 2' j.out
check "it is result.json" sh -c "jq -S . j.out >a.json && jq -S . out2/result.json >b.json && cmp a.json b.json"
check "no progress line off a terminal" sh -c "! grep -q 's of ~' j.err"
check "evercert: still no failure with one client" jq -e '.runs[1].failed_handshakes == 0' j.out
check "without tshark: no capture, and why" jq -e '.settings.capture == "tshark is not installed" and .runs[0].capture == null' j.out

# --- --manual: a person approves each SA, for half the clients before activate_at, for the
# other half after it (30 s certificates: an SA comes at 15 s, activates at 22.5 s, the next
# comes at 27 s; approvals 1.5 s or 8.4 s after an SA came)
TMPDIR=$T/tmp "$EVC" demo --manual --lifetime 30 --clients 8 --format json --out out4 >m.out 2>m.err
st=$?
check "--manual exits 0: no client approved in time failed" test $st = 0
mq() { jq -e "$1" m.out; }
check "--manual: the settings say so" mq '.settings.manual == true and .settings.approve_early_s == 1.5 and .settings.approve_late_s == 8.4'
check "--manual: the monitor made the swaps, unasked" mq '.runs[1].monitor.swaps >= 3 and .runs[1].monitor.passes_asked_for == 0'
check "--manual: every agent under policy manual" mq '[.runs[1].clients[].agent.policy] | unique == ["manual"]'
check "--manual: approved in time, no failure" mq '.runs[1].approved_early.clients == 6 and .runs[1].approved_early.failed == 0 and .runs[1].approved_early.downtime_total_s == 0'
check "--manual: approved late, failures and downtime" mq '.runs[1].approved_late.clients == 4 and .runs[1].approved_late.failed > 0 and .runs[1].approved_late.downtime_worst_s > 0'
check "--manual: each late new-session client failed, TLS 1.2 and 1.3" mq '[.runs[1].clients[] | select(.open_session | not) | select(.agent.approval == "late") | .failed > 0] | (length == 4 and all)'
check "--manual: no early client failed" mq '[.runs[1].clients[] | select(.agent.approval == "early") | .failed == 0] | all'
# (the run ends 3 s after the third swap: a late client's third approval may not have come)
check "--manual: each new-session client's approvals were evercert approve runs that worked" mq '[.runs[1].clients[] | select(.open_session | not) | .agent | .approvals_run >= 2 and .approvals_failed == 0 and .approved == .approvals_run and .accepted == .approved and .queued >= 3 and .rejected == 0] | all'
# The third run waits for its clients (activate = ready): the same late approvals cost nothing.
check "--manual: three runs, the third waiting for its clients" mq '[.runs[].name] == ["existing","evercert","evercert-ready"] and .runs[1].monitor.activate == "at" and .runs[2].monitor.activate == "ready"'
check "--manual, activate = ready: no failed handshake, late approvers included" mq '.runs[2].failed_handshakes == 0 and .runs[2].open_session_failures == 0 and .runs[2].approved_late.clients == 4 and .runs[2].approved_late.failed == 0 and .runs[2].approved_late.tries > 0'
check "--manual, activate = ready: and activate = at failed for the same clients in the same run" mq '.runs[1].approved_late.failed > 0'
check "--manual, activate = ready: the monitor made the swaps, unasked" mq '.runs[2].monitor.swaps >= 3 and .runs[2].monitor.passes_asked_for == 0'
check "--manual, activate = ready: every client held each successor before the swap" mq '.runs[2].converged and .runs[2].converge_s < 0'
check "--manual, activate = ready: no CSV session failed" sh -c "awk -F, 'NR > 1 && \$4 == 0' out4/sessions-evercert-ready.csv | grep -q . && exit 1; test -s out4/sessions-evercert-ready.csv"
check "--manual: the failed sessions are the late clients' only (the CSV)" sh -c "awk -F, 'NR > 1 && \$4 == 0 && int(\$1 / 2) % 2 == 0' out4/sessions-evercert.csv | grep -q . && exit 1; awk -F, 'NR > 1 && \$4 == 0' out4/sessions-evercert.csv | grep -q ."

# --- SIGTERM mid-run: the servers stop, the keys go, the status says so
TMPDIR=$T/tmp "$EVC" demo --quick --out out3 >k.out 2>&1 &
DEMO=$!
i=0
while [ -z "$(ls tmp)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 2
kill -TERM $DEMO
wait $DEMO
st=$?
check "interrupted: status 3" test $st = 3
check "interrupted: said so" grep -q "demo: interrupted; the servers are stopped" k.out
check "interrupted: no server, monitor or approval left running" sh -c "! pgrep -f '$T/tmp/[e]vercert-demo' >/dev/null"
check "interrupted: the keys went with the temporary directory" test -z "$(ls tmp)"

# --- every bad option is refused, naming it, and nothing is made
refuse() { # DESCRIPTION EXPECTED-TEXT ARGS...
    d=$1 want=$2
    shift 2
    rm -rf never
    "$EVC" demo "$@" >r.out 2>&1
    st=$?
    if [ $st = 3 ] && grep -q -- "$want" r.out && [ ! -e never ]; then ok; else bad "$d (status $st: $(cat r.out))"; fi
}
refuse "a lifetime under 10 s" "--lifetime '5': expected a whole number from 10 to 3600" --lifetime 5 --out never
refuse "a lifetime that is not a number" "--lifetime '1m'" --lifetime 1m --out never
refuse "no clients" "--clients '0': expected a whole number from 1 to 200" --clients 0 --out never
refuse "too many clients" "--clients '201'" --clients 201 --out never
refuse "a negative manual fix" "--manual-fix '-1'" --manual-fix -1 --out never
refuse "an unknown format" "--format 'xml': expected text or json" --format xml --out never
refuse "an extra argument" "usage: evercert demo" extra --out never
refuse "an unknown option" "unrecognized option '--bogus'" --bogus --out never
touch afile
refuse "--out that is a file" "--out afile: not a directory" --out afile
check "the file is untouched" test ! -s afile

echo "demo.sh: $pass passed, $fail failed"
[ $fail = 0 ]
