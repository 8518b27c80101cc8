#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Applications nobody here wrote, through certificate rotations. nginx
# serves a self-signed certificate that lives LIFETIME seconds and
# publishes each successor's SA as a static file at the well-known URL;
# this script rotates it like the monitor does (new key and certificate,
# SA published, nginx -s reload at activate_at). curl (--cacert the
# agent's bundle) and openssl s_client -verify_return_error (-CApath the
# agent's hashed directory) connect every 0.5 s.
#   run 1, without the agent: the clients fail after the first rotation;
#   run 2, with the agent (url source): 0 failed connections.
#
# usage: agent_e2e.sh PATH-TO-EVERCERT [LIFETIME-SECONDS] [ROTATIONS]
set -u
EVC=${1:?usage: agent_e2e.sh PATH-TO-EVERCERT [LIFETIME] [ROTATIONS]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
LIFE=${2:-20}
ROT=${3:-5}
T=$(mktemp -d /tmp/evc-e2e-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
for tool in nginx curl; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done
chmod 755 "$T" && cd "$T" || exit 1
PORT=$((20000 + $$ % 20000))
at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
now() { date +%s; }

mkdir -p logs www/.well-known/evercert
cat >nginx.conf <<EOF
pid $T/nginx.pid;
error_log $T/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT ssl;
        ssl_certificate $T/live.crt;
        ssl_certificate_key $T/live.key;
        root $T/www;
        location = /ping { return 200 "ok\n"; }
    }
}
EOF

# One generation: a certificate that lives LIFE seconds.
gen() { # N
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --minutes $(((LIFE + 59) / 60)) \
        --out-cert g$1.crt --out-key g$1.key >/dev/null
}

# The clients: curl and s_client every 0.5 s until STOP exists; one line per attempt.
clients() { # LOG
    while [ ! -f STOP ]; do
        if curl -sf --max-time 2 --cacert trust.pem --resolve web.test:$PORT:127.0.0.1 https://web.test:$PORT/ping >/dev/null 2>&1; then
            echo "curl ok" >>"$1"
        else
            echo "curl FAIL $(date +%s)" >>"$1"
        fi
        if echo | timeout 2 openssl s_client -connect 127.0.0.1:$PORT -servername web.test -CApath trustdir -verify_return_error >/dev/null 2>&1; then
            echo "s_client ok" >>"$1"
        else
            echo "s_client FAIL $(date +%s)" >>"$1"
        fi
        sleep 0.5
    done
}

# ROT rotations, each announced half a lifetime before the swap.
run() { # NAME WITH-AGENT
    rm -f STOP trust.pem g*.crt g*.key www/.well-known/evercert/successor && rm -rf trustdir
    gen 0
    cp g0.crt live.crt && cp g0.key live.key
    cp g0.crt trust.pem && mkdir trustdir && cp g0.crt trustdir/g0.pem && openssl rehash trustdir 2>/dev/null
    nginx -p "$T" -c "$T/nginx.conf" || { echo "nginx did not start" >&2; return 1; }
    if [ "$2" = 1 ]; then
        rm -f agent.db*
        cat >agent.ini <<EOF
[agent]
state = agent.db
[server "bundle"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust.pem
url = https://web.test/.well-known/evercert/successor
sources = url
interval = 1s
[server "dir"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trustdir
url = https://web.test/.well-known/evercert/successor
sources = url
interval = 1s
EOF
        "$EVC" agent --config agent.ini 2>agent-$1.log &
        AGENT=$!
        PIDS="$PIDS $AGENT"
    fi
    clients "clients-$1.log" &
    CL=$!
    PIDS="$PIDS $CL"
    i=0
    while [ $i -lt "$ROT" ]; do
        sleep $((LIFE / 4))
        n=$((i + 1))
        gen $n
        act=$(($(now) + LIFE / 4))
        "$EVC" announce --current g$i.crt --current-key g$i.key --successor g$n.crt --successor-key g$n.key \
            --service web.test --generation $n --activate-at "$(at $act)" --out sa.tmp
        mv sa.tmp www/.well-known/evercert/successor
        while [ "$(now)" -lt $act ]; do sleep 0.2; done
        cp g$n.crt live.crt && cp g$n.key live.key
        nginx -p "$T" -c "$T/nginx.conf" -s reload
        echo "rotation $n at $(date +%s)" >>"rotations-$1.log"
        i=$n
    done
    sleep 2
    touch STOP
    wait $CL 2>/dev/null
    [ "$2" = 1 ] && kill $AGENT
    kill "$(cat nginx.pid)"
    sleep 0.5
    tries=$(wc -l <"clients-$1.log")
    failed=$(grep -c FAIL "clients-$1.log")
    first=$(grep FAIL "clients-$1.log" | head -1 | awk '{print $3}')
    r1=$(head -1 "rotations-$1.log" | awk '{print $4}')
    echo "$1: $ROT rotations of a ${LIFE}s certificate, $tries connections (curl and s_client every 0.5 s), $failed failed${first:+, the first $((first - r1)) s after the first rotation}"
    echo "$failed" >"failed-$1"
}

run without 0
run with 1
fw=$(cat failed-without)
fa=$(cat failed-with)
status=0
[ "$fw" -gt 0 ] || { echo "FAIL: without the agent, the clients should fail after a rotation" >&2; status=1; }
[ "$fa" = 0 ] || { echo "FAIL: with the agent, $fa connections failed" >&2; grep FAIL clients-with.log | head >&2; cat agent-with.log >&2; status=1; }
grep -q "event=accept" agent-with.log || { echo "FAIL: the agent accepted nothing" >&2; status=1; }
exit $status
