#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The study's clients speak TLS 1.2 and resume their sessions: resumed
# against full TLS 1.2 handshakes per second on `evercert serve` (EC
# P-256, one openssl s_time client at a time, no request), in one run,
# and the ratio. A resumed handshake skips the certificate, the key
# exchange and the signature; serve keeps its ticket keys across swaps,
# so the ratio holds until a session's certificate ends.
#
# usage: bench/tls12_bench.sh [BUILD-DIR] [SECONDS]
set -eu
B=$(cd "${1:-build}" && pwd)
S=${2:-5}
EVC=$B/evercert
W=$(mktemp -d /tmp/evc-tls12bench-XXXXXX)
SERVE=
cleanup() { [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT INT TERM
cd "$W"
P=$((30000 + ($$ + 5000) % 10000))
"$EVC" selfsign --cn svc.test --san DNS:svc.test,IP:127.0.0.1 --days 2 --out-cert svc.crt --out-key svc.key >/dev/null
"$EVC" serve --cert svc.crt --key svc.key --listen 127.0.0.1:$P 2>serve.log &
SERVE=$!
i=0
until grep -q "listening on" serve.log 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done

# rate MODE: handshakes per wall-clock second from s_time's "N connections in T real seconds"
rate() {
    openssl s_time -connect 127.0.0.1:$P -tls1_2 -cafile svc.crt -verify 1 -time "$S" "$1" 2>/dev/null |
        awk '/connections in [0-9.]+ real seconds/ { printf "%.0f", $1 / $4 }'
}
# Two rounds each, alternating, so a busy moment of the machine weighs on both.
f1=$(rate -new) r1=$(rate -reuse) f2=$(rate -new) r2=$(rate -reuse)
full=$(((f1 + f2) / 2)) resumed=$(((r1 + r2) / 2))
echo "TLS 1.2, EC P-256, evercert serve, one s_time client, ${S} s per round, two rounds each, on $(nproc) cores"
printf '%-28s %8s\n' "full handshakes/s" "$full"
printf '%-28s %8s\n' "resumed handshakes/s" "$resumed"
awk -v r="$resumed" -v f="$full" 'BEGIN { printf "%-28s %8.1fx\n", "resumed / full", (f > 0 ? r / f : 0) }'
