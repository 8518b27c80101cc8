#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert serve against openssl s_server -www and nginx (one worker each),
# on the same EC P-256 certificate, in one run: full and resumed TLS 1.3
# handshake rates, what the SA adds to a handshake, and what a certificate
# change costs: the delay until new handshakes get the new certificate,
# old and new interleaved, and idle keep-alive connections cut; and what
# counting readiness costs: evercert serve with and without it, handshakes
# carrying the extension, and the tracker's memory (bench/ready_bench).
#
# usage: bench/tls_bench.sh [BUILD-DIR] [SECONDS]
set -eu
B=$(cd "${1:-build}" && pwd)
# 10,000 announce connections need 20,000 descriptors on this one machine.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
S=${2:-3}
EVC=$B/evercert
TB=$B/bench/tlsbench
W=$(mktemp -d /tmp/evc-tlsbench-XXXXXX)
PIDS=
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT INT TERM
cd "$W"
P1=$((30000 + $$ % 10000)) P2=$((P1 + 1)) P3=$((P1 + 2)) P4=$((P1 + 3))
"$EVC" ca init --out root >/dev/null
for n in a b c; do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out ab.sa
cp a.crt live.crt && cp a.key live.key && cp ab.sa live.sa
cp a.crt ng.crt && cp a.key ng.key
"$EVC" serve --cert live.crt --key live.key --sa live.sa --listen 127.0.0.1:$P1 2>serve.log &
PIDS="$PIDS $!"
openssl s_server -accept 127.0.0.1:$P2 -cert a.crt -key a.key -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"
mkdir logs
cat >nginx.conf <<NGX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/logs/error.log;
events {}
http {
    access_log off;
    ssl_session_tickets on;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:$P3 ssl;
        ssl_certificate $W/ng.crt;
        ssl_certificate_key $W/ng.key;
        keepalive_timeout 300s;
        location / { return 200 "ok\n"; }
    }
}
NGX
nginx -p "$W" -c "$W/nginx.conf"
sleep 1

echo "TLS 1.3, EC P-256, 2 client threads, ${S} s each, on $(nproc) cores"
for kind in full resumed; do
    echo "$kind handshakes:"
    printf '  evercert serve     '; "$TB" rate $P1 "$S" 2 $kind
    printf '  openssl s_server   '; "$TB" rate $P2 "$S" 2 $kind
    printf '  nginx (1 worker)   '; "$TB" rate $P3 "$S" 2 $kind
done
echo "the SA in the handshake (evercert serve, client at generation 0):"
printf '  with the SA        '; "$TB" rate $P1 "$S" 2 sa
echo "readiness (handshakes with the extension at the highest generation: counted, no SA sent):"
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$((P4 + 2)) 2>ready-on.log &
PIDS="$PIDS $!"
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$((P4 + 3)) --no-readiness 2>ready-off.log &
PIDS="$PIDS $!"
sleep 0.5
# Interleaved, twice each, so a drift of the machine falls on both.
on=0 off=0
for round in 1 2; do
    r=$("$TB" rate $((P4 + 2)) "$S" 2 ext); on=$((on + ${r%% *}))
    printf '  tracking on  (%s) %s\n' $round "$r"
    r=$("$TB" rate $((P4 + 3)) "$S" 2 ext); off=$((off + ${r%% *}))
    printf '  --no-readiness (%s) %s\n' $round "$r"
done
awk -v a=$on -v b=$off 'BEGIN { printf "  ratio on/off: %.3f\n", a / b }'
printf '  the tracker alone: '; "$B/bench/ready_bench" | tr '\n' ' '; echo
echo "a certificate change, 50 idle keep-alive connections open:"
printf '  evercert serve     '
"$TB" swap $P1 b.crt 50 -- "cp b.key live.key.t && mv live.key.t live.key && cp b.crt live.crt.t && mv live.crt.t live.crt"
printf '  nginx -s reload    '
"$TB" swap $P3 b.crt 50 -- "cp b.key ng.key && cp b.crt ng.crt && nginx -p $W -c $W/nginx.conf -s reload"
echo "the push channel:"
"$EVC" announce --current b.crt --current-key b.key --successor c.crt --successor-key c.key \
    --service web.test --generation 2 --activate-at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out bc.sa
cp ab.sa push.sa
"$EVC" serve --cert a.crt --key a.key --sa push.sa --listen 127.0.0.1:$((P4 + 1)) \
    --announce-listen 127.0.0.1:$P4 2>push.log &
PUSH=$!
PIDS="$PIDS $PUSH"
sleep 0.5
printf '  evercert serve     '
"$TB" push $P4 "${N_ANNOUNCE:-10000}" "$(stat -c %s ab.sa)" "$(stat -c %s bc.sa)" $PUSH -- \
    "cp bc.sa push.sa.t && mv push.sa.t push.sa"
