#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert serve's HTTP against nginx (one worker), in one run, on the same
# EC P-256 certificate over TLS 1.3: keep-alive requests per second for the
# well-known URL that hands out the SA (the file as it is) and for `/`, with
# 1 and 2 client threads. The ratio to nginx is the figure; both serve from
# memory or the page cache and close nothing between requests.
#
# usage: bench/http_bench.sh [BUILD-DIR] [SECONDS]
set -eu
B=$(cd "${1:-build}" && pwd)
S=${2:-3}
EVC=$B/evercert
TB=$B/bench/tlsbench
W=$(mktemp -d /tmp/evc-httpbench-XXXXXX)
PIDS=
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT INT TERM
chmod 755 "$W" # nginx's worker reads the files as another user
cd "$W"
P1=$((40000 + $$ % 10000)) P2=$((P1 + 1))
"$EVC" ca init --out root >/dev/null
for n in a b; do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out a.crt.sa
mkdir -p www/.well-known/evercert logs
cp a.crt.sa www/.well-known/evercert/successor
"$EVC" serve --cert a.crt --key a.key --sa a.crt.sa --listen 127.0.0.1:$P1 2>serve.log &
PIDS="$PIDS $!"
cat >nginx.conf <<NGX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/logs/error.log;
events {}
http {
    access_log off;
    ssl_protocols TLSv1.3;
    server {
        listen 127.0.0.1:$P2 ssl;
        ssl_certificate $W/a.crt;
        ssl_certificate_key $W/a.key;
        keepalive_requests 100000000;
        keepalive_timeout 300s;
        location = / { return 200 "0000000000000000000000000000000000000000000000000000000000000000\n"; }
        location /.well-known/evercert/ { root $W/www; default_type application/octet-stream; }
    }
}
NGX
nginx -p "$W" -c "$W/nginx.conf"
sleep 1

URL=/.well-known/evercert/successor
echo "TLS 1.3 keep-alive GETs, ${S} s each, on $(nproc) cores; the SA is $(stat -c %s a.crt.sa) bytes"
for t in 1 2; do
    for path in "$URL" /; do
        printf '%-32s %d thread(s)\n' "$path" "$t"
        printf '  evercert serve     '
        e=$("$TB" http $P1 "$S" "$t" "$path")
        echo "$e"
        printf '  nginx (1 worker)   '
        n=$("$TB" http $P2 "$S" "$t" "$path")
        echo "$n"
        want=65
        [ "$path" = "$URL" ] && want=$(stat -c %s a.crt.sa)
        for r in "$e" "$n"; do
            case "$r" in *" 0 failed, body $want bytes)") ;; *)
                echo "http_bench: $path: wanted every request to succeed with a body of $want bytes" >&2
                exit 1 ;;
            esac
        done
        re=${e%% *} rn=${n%% *}
        awk -v a="$re" -v b="$rn" 'BEGIN { if (b > 0) printf "  ratio serve/nginx  %.2f\n", a / b }'
    done
done
