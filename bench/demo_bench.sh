#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The full `evercert demo` (60 s certificates, 20 clients, the person's fix
# after 30 s), N times (default 3), and the median of each figure per run.
# The existing run is the baseline measured in the same demo; the ratio
# column is existing / evercert ("inf" where evercert's figure is 0).
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
    "$B/evercert" demo --format json --out "$W/out$i" "$@" >"$W/r$i.json" || {
        echo "demo_bench: run $i: the evercert run had failures (exit $?)" >&2
    }
    end=$(date +%s.%N)
    echo "run $i: $(awk "BEGIN { printf \"%.1f\", $end - $start }") s wall, $(jq -c '[.runs[] | {(.name): .failed_handshakes}] | add' "$W/r$i.json") failed handshakes" >&2
    i=$((i + 1))
done

jq -s -r '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def ratio(a; b): if b == 0 then (if a == 0 then "-" else "inf" end)
                   else (a / b * 100 | round / 100 | tostring) + "x" end;
  . as $all
  | .[0].settings as $s
  | "evercert demo, \(length) runs: \($s.clients) clients, \($s.lifetime_s) s certificates, the fix after \($s.manual_fix_s) s; medians",
    "",
    (["figure", "existing", "evercert", "existing/evercert"] | @tsv),
    (["sessions", "failed_handshakes", "downtime_total_s", "downtime_worst_s", "converge_s",
      "sa_bytes_per_handshake", "renewals", "open_session_failures"][] as $k
     | ([$all[] | .runs[0][$k] // 0] | median) as $a
     | ([$all[] | .runs[1][$k] // 0] | median) as $b
     | [$k, $a, $b, ratio($a; $b)] | map(tostring) | @tsv),
    (["duration_s", ([$all[] | .settings.duration_s] | median), "", ""] | map(tostring) | @tsv),
    "",
    "TLS alerts the existing run saw (median): " +
      ([$all[] | .runs[0].alerts | keys[]] | unique
       | map(. as $k | "\($k) \([$all[] | .runs[0].alerts[$k] // 0] | median)") | join(", "))
' "$W"/r*.json
