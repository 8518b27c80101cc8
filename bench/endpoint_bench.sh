#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Endpoint scanning on loopback, in one run: N endpoints (default 10,000)
# served by one nginx listening on N ports (EC P-256, one worker), scanned
#   - by `evercert scan` on its event loop (--parallel 64, the default,
#     and 256),
#   - one at a time (`evercert scan --parallel 1`), which is how
#     blackbox_exporter and ssl_exporter probe: one handshake per probe,
#   - by a shell loop of `openssl s_client` over a subset (default 300),
#     extrapolated to N,
# endpoints per second and peak resident memory (bench/peakrss) of each.
#
# usage: bench/endpoint_bench.sh [BUILD-DIR] [N] [SUBSET]
set -eu
B=$(cd "${1:-build}" && pwd)
N=${2:-10000}
SUB=${3:-300}
EVC=$B/evercert
RSS=$B/bench/peakrss
W=$(mktemp -d /tmp/evc-epbench-XXXXXX)
cleanup() { [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT INT TERM
cd "$W"
mkdir logs
# nginx's master holds N listening sockets, its worker those and the connections in flight.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=$((N * 2 + 1024))
[ "$hard" -ge $((N + 1300)) ] || { echo "ulimit -Hn is $hard; $((N + 1300)) open files are needed" >&2; exit 1; }
ulimit -n "$hard"
NOFILE=$hard
"$EVC" ca init --out root >/dev/null
"$EVC" issue --ca root --cn bench.test --san DNS:bench.test,IP:127.0.0.1 --days 30 \
    --out-cert b.crt --out-key b.key >/dev/null
# N free ports, all bound at once to port 0 so they are distinct, then released.
python3 -c 'import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$N" >ports
{
    echo "pid $W/nginx.pid; error_log $W/logs/error.log; worker_processes 1; worker_rlimit_nofile $NOFILE;"
    echo "events { worker_connections $((NOFILE - 16)); } http { access_log off; server {"
    sed 's/.*/listen 127.0.0.1:& ssl;/' ports
    echo "ssl_certificate $W/b.crt; ssl_certificate_key $W/b.key; } }"
} >nginx.conf
nginx -p "$W" -c "$W/nginx.conf"
last=$(tail -1 ports)
i=0
until python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$last" 2>/dev/null; do
    [ $i -ge 300 ] && { echo "nginx did not start" >&2; exit 1; }
    sleep 0.1; i=$((i + 1))
done
sed 's|.*|tls://127.0.0.1:&|' ports >urls
head -n "$SUB" urls >urls.sub

ms() { date +%s%3N; }
# run LABEL N COMMAND...: wall time and peak RSS of one run over N endpoints
run() {
    label=$1 n=$2
    shift 2
    t0=$(ms)
    kib=$("$RSS" "$@")
    t1=$(ms)
    awk -v l="$label" -v n="$n" -v ms=$((t1 - t0)) -v kib="$kib" -v total="$N" \
        'BEGIN { r = n * 1000 / (ms > 0 ? ms : 1); printf "%-44s %8d %10.0f %10.1f %9.1f\n", l, n, r, total / r, kib / 1024 }'
}
echo "$N endpoints on 127.0.0.1 (one nginx, $N ports, EC P-256, one worker), on $(nproc) cores"
printf '%-44s %8s %10s %10s %9s\n' "method" "scanned" "per s" "s for all" "peak MiB"
# xargs hands the URLs over: N of them do not fit one command line on every system.
run "evercert scan (one loop, --parallel 64)" "$N" sh -c "xargs -a urls -s 2000000 '$EVC' scan --format json --ca root/ca.crt"
run "evercert scan (one loop, --parallel 256)" "$N" sh -c "xargs -a urls -s 2000000 '$EVC' scan --format json --parallel 256 --ca root/ca.crt"
run "evercert scan --parallel 1 (one at a time)" "$N" sh -c "xargs -a urls -s 2000000 '$EVC' scan --format json --parallel 1 --ca root/ca.crt"
run "openssl s_client loop (subset, extrapolated)" "$SUB" sh -c "sed 's|tls://||' urls.sub | while read -r a; do openssl s_client -connect \$a -CAfile root/ca.crt </dev/null >/dev/null 2>&1; done"
# The figures are only worth something if every endpoint was scanned.
"$EVC" scan --format json --ca root/ca.crt $(head -n 1000 urls) >check.json
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if len(d["certificates"]) == min(int(sys.argv[2]), 1000) and not d["errors"] else 1)' check.json "$N" ||
    { echo "a check scan of the first 1000 endpoints did not verify them all" >&2; exit 1; }
