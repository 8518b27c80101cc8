#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The full `evercert demo` (60 s certificates, 20 clients, half of them on
# TLS 1.2, the person's fix after 30 s), N times (default 3), and the
# median of each figure per run. The existing run is the baseline measured
# in the same demo; the ratio column is existing / evercert ("inf" where
# evercert's figure is 0). The evercert run is the real services: an
# evercert monitor process swaps on its own clock and each client's agent
# decides; the rows under it say what they did. With --manual among the
# demo options, the early and late approvals' figures follow, for the
# evercert run (activate = at) and the evercert-ready run (activate =
# ready) that ran beside it.
#
# usage: bench/demo_bench.sh [BUILD-DIR] [TIMES] [DEMO-OPTIONS...]
set -eu
B=$(cd "${1:-build}" && pwd)
N=${2:-3}
shift 2 2>/dev/null || shift $#
W=$(mktemp -d /tmp/evc-demobench-XXXXXX)
trap 'rm -rf "$W"' EXIT INT TERM
command -v jq >/dev/null || { echo "demo_bench: jq is needed" >&2; exit 1; }

i=1
while [ $i -le "$N" ]; do
    start=$(date +%s.%N)
    # CPU seconds of the demo and all it started (servers, monitor, approvals), from /proc.
    cpu0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
    "$B/evercert" demo --format json --out "$W/out$i" "$@" >"$W/r$i.json" || {
        echo "demo_bench: run $i: the evercert run had failures (exit $?)" >&2
    }
    cpu1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
    end=$(date +%s.%N)
    cpu=$(awk "BEGIN { printf \"%.1f\", ($cpu1 - $cpu0) / $(getconf CLK_TCK) }")
    jq --argjson cpu "$cpu" '.settings.cpu_s = $cpu' "$W/r$i.json" >"$W/c$i.json"
    echo "run $i: $(awk "BEGIN { printf \"%.1f\", $end - $start }") s wall, $cpu s CPU, $(jq -c '[.runs[] | {(.name): .failed_handshakes}] | add' "$W/r$i.json") failed handshakes" >&2
    i=$((i + 1))
done

jq -s -r '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def ratio(a; b): if b == 0 then (if a == 0 then "-" else "inf" end)
                   else (a / b * 100 | round / 100 | tostring) + "x" end;
  def m(f): [.[] | f // 0] | median;
  . as $all
  | .[0].settings as $s
  | "evercert demo, \(length) runs: \($s.clients) clients (\($s.tls12_clients) on TLS 1.2), \($s.lifetime_s) s certificates, the fix after \($s.manual_fix_s) s\(if $s.manual then ", policy manual" else "" end); medians",
    "",
    (["figure", "existing", "evercert", "existing/evercert"] | @tsv),
    (["sessions", "failed_handshakes", "downtime_total_s", "downtime_worst_s", "converge_s",
      "sa_bytes_per_handshake", "renewals", "open_session_failures"][] as $k
     # converge_s is null when some client never held a new certificate: "never".
     | (if $k == "converge_s" and ([$all[] | .runs[0][$k]] | any(. == null)) then "never"
        else $all | m(.runs[0][$k]) end) as $a
     | (if $k == "converge_s" and ([$all[] | .runs[1][$k]] | any(. == null)) then "never"
        else $all | m(.runs[1][$k]) end) as $b
     | [$k, $a, $b, if ($a | type) == "number" and ($b | type) == "number" then ratio($a; $b)
                    else "-" end] | map(tostring) | @tsv),
    (["tls12", "tls13"][] as $g | ["failed", "downtime_total_s"][] as $k
     | ($all | m(.runs[0][$g][$k])) as $a
     | ($all | m(.runs[1][$g][$k])) as $b
     | ["\($g)_\($k)", $a, $b, ratio($a; $b)] | map(tostring) | @tsv),
    (["duration_s", ($all | m(.settings.duration_s)), "", ""] | map(tostring) | @tsv),
    (["cpu_s (the whole demo)", ($all | m(.settings.cpu_s)), "", ""] | map(tostring) | @tsv),
    "",
    "evercert run: monitor swaps \($all | m(.runs[1].monitor.swaps)) in \($all | m(.runs[1].monitor.passes)) passes (\($all | m(.runs[1].monitor.passes_asked_for)) asked for); agents accepted \($all | m([.runs[1].clients[].agent.by_handshake] | add)) SAs from handshakes and \($all | m([.runs[1].clients[].agent.by_push] | add)) by push, refused \($all | m([.runs[1].clients[].agent.rejected] | add))",
    (if $s.manual then
       "activate = at: approved before activate_at: \($all | m(.runs[1].approved_early.failed)) failed handshakes, \($all | m(.runs[1].approved_early.downtime_total_s)) s down; after it: \($all | m(.runs[1].approved_late.failed)) failed, \($all | m(.runs[1].approved_late.downtime_total_s)) s down together, \($all | m(.runs[1].approved_late.downtime_worst_s)) s the worst client",
       "activate = ready (same clients, same approvals, same time): approved before activate_at: \($all | m(.runs[2].approved_early.failed)) failed handshakes; after it: \($all | m(.runs[2].approved_late.failed)) failed, \($all | m(.runs[2].approved_late.downtime_total_s)) s down together; \($all | m(.runs[2].failed_handshakes)) failed of \($all | m(.runs[2].sessions)) sessions in all; monitor swaps \($all | m(.runs[2].monitor.swaps))"
     else empty end),
    "TLS alerts the existing run saw (median): " +
      ([$all[] | .runs[0].alerts | keys[]] | unique
       | map(. as $k | "\($k) \([$all[] | .runs[0].alerts[$k] // 0] | median)") | join(", "))
' "$W"/c*.json
