#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The services a user runs, keeping a short-lived certificate alive with
# applications nobody here wrote. `evercert monitor` renews two
# self-signed certificates that live LIFETIME seconds (renewal at half
# the lifetime, activation halfway through what is left) and swaps them
# in:
#   web  nginx; the monitor's after_replace is `nginx -s reload`, and
#        nginx serves the monitor's web.crt.sa at the well-known URL;
#   svc  `evercert serve`, which swaps on its own and hands the SA out in
#        the handshake extension and down its push channel.
# The monitor's verify checks after each swap that the server serves the
# new certificate. The clients, per server: curl --cacert (a PEM bundle)
# and openssl s_client -verify_return_error -CApath (a hashed directory)
# every 0.5 s, and a Python ssl client (tlsclient.py) that keeps one
# connection open with a request on it every 0.5 s and reconnects only
# when the server drops it.
#   run 1, without the agent: the clients fail from the first rotation;
#   run 2, with `evercert agent` keeping those stores (url source for
#          nginx, handshake and push for serve): ROTATIONS rotations of
#          each server, 0 failed connections, 0 failed requests; serve
#          never drops the open connection (nginx's reload closes idle
#          keep-alive connections: counted and reported, not failures);
#          every store still verifies the live certificate at the end;
#   run 3, the monitor's swap on nginx killed at each of its disk steps
#          (EVERCERT_FAULT_AT): the next run leaves nginx serving the live
#          certificate, so a crash between the switch and after_replace
#          cannot leave nginx on a certificate that is about to expire.
#
# usage: agent_e2e.sh PATH-TO-EVERCERT [LIFETIME-SECONDS [ROTATIONS]]
# (the issue's check, a 60 s certificate through three rotations:
#  agent_e2e.sh build/evercert 60 3)
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: agent_e2e.sh PATH-TO-EVERCERT [LIFETIME] [ROTATIONS]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
HERE=$(cd "$(dirname "$0")" && pwd)
LIFE=${2:-20}
ROT=${3:-3}
T=$(mktemp -d /tmp/evc-e2e-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for f in "$T"/*/nginx.pid; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
for tool in nginx curl python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed (bootstrap.sh test installs it)" >&2; exit 77; }
done
[ "$LIFE" -ge 20 ] || { echo "usage: a lifetime of at least 20 s (a rotation every 0.4 of it)" >&2; exit 2; }
chmod 755 "$T" && cd "$T" || exit 1
BASE=$(port_block 8)
now() { date +%s; }


# A store the clients read, holding only the first certificate.
stores() { # NAME
    cp "$1.crt" "$1.pem" && mkdir "${1}dir" && cp "$1.crt" "${1}dir/$1-0.pem" && openssl rehash "${1}dir" 2>/dev/null
}

# curl and s_client against both servers every 0.5 s until STOP exists (bounded).
shell_clients() { # MAXSECONDS
    end=$(($(now) + $1))
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        for s in web:$WEB svc:$SVC; do
            n=${s%:*} p=${s#*:}
            if curl -sf --max-time 3 --cacert $n.pem --resolve $n.test:$p:127.0.0.1 https://$n.test:$p/ping >/dev/null 2>&1; then
                echo "$(now) curl $n ok"
            else
                echo "$(now) curl $n FAIL"
            fi
            if echo | timeout 3 openssl s_client -connect 127.0.0.1:$p -servername $n.test -CApath ${n}dir -verify_return_error >/dev/null 2>&1; then
                echo "$(now) s_client $n ok"
            else
                echo "$(now) s_client $n FAIL"
            fi
        done >>clients.log
        sleep 0.5
    done
}

# rotations STORE: the swaps the monitor has made and verified.
rotations() { grep -c "action=activate store=$1 .*done=1" monitor.log 2>/dev/null; }

# One run in its own directory: monitor, nginx, serve, the clients, the agent if $2 = 1,
# until each server has rotated $3 times (bounded by the lifetimes that takes).
run() { # NAME WITH-AGENT ROTATIONS
    mkdir "$T/$1" && chmod 755 "$T/$1" && cd "$T/$1" || return 1
    D=$T/$1
    mkdir logs deleted
    mkcert web web.test "$LIFE" && mkcert svc svc.test "$LIFE" || { echo "FAIL: openssl ca made no certificate" >&2; return 1; }
    stores web && stores svc || return 1
    rig_nginx_conf "$D"
    rig_monitor_ini "$D"
    nginx -p "$D" -c "$D/nginx.conf" || { echo "FAIL: nginx did not start" >&2; return 1; }
    "$EVC" serve --cert svc.crt --key svc.key --sa svc.crt.sa --listen 127.0.0.1:$SVC \
        --announce-listen 127.0.0.1:$PUSH 2>serve.log &
    PIDS="$PIDS $!"
    i=0
    until echo | openssl s_client -connect 127.0.0.1:$SVC >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
    START=$(now)
    "$EVC" monitor --config monitor.ini 2>monitor.log &
    MON=$!
    PIDS="$PIDS $MON"
    AGENT=
    if [ "$2" = 1 ]; then
        rig_agent_ini
        mkdir retired
        "$EVC" agent --config agent.ini 2>agent.log &
        AGENT=$!
        PIDS="$PIDS $AGENT"
    fi
    # The first swap comes at 3/4 of the first lifetime, then one every 0.4 lifetime.
    limit=$((LIFE * 3 / 4 + $3 * LIFE * 2 / 5 + 30))
    shell_clients $((limit + 10)) &
    CL=$!
    python3 "$HERE/tlsclient.py" web 127.0.0.1 $WEB web.test web.pem STOP py-web.log $((limit + 10)) >py-web.out 2>&1 &
    PYW=$!
    python3 "$HERE/tlsclient.py" svc 127.0.0.1 $SVC svc.test svc.pem STOP py-svc.log $((limit + 10)) >py-svc.out 2>&1 &
    PYS=$!
    PIDS="$PIDS $CL $PYW $PYS"
    while { [ "$(rotations web)" -lt "$3" ] || [ "$(rotations svc)" -lt "$3" ]; } && [ $(($(now) - START)) -lt $limit ]; do
        sleep 0.2
    done
    sleep 3 # the clients' next rounds, after the last swap
    touch STOP
    wait $CL $PYW $PYS 2>/dev/null
    [ -n "$AGENT" ] && kill $AGENT
    kill $MON
    wait $MON $AGENT 2>/dev/null
    ELAPSED=$(($(now) - START))
    echo "$1: $(rotations web) rotations of web (nginx), $(rotations svc) of svc (evercert serve), ${LIFE} s certificates, $ELAPSED s"
    for c in "curl web" "s_client web" "curl svc" "s_client svc"; do
        echo "  $c: $(grep -c " $c " clients.log) connections, $(grep -c " $c FAIL" clients.log) failed"
    done
    echo "  $(cat py-web.out)"
    echo "  $(cat py-svc.out)"
}

ok=0
failed=0
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok=$((ok + 1)); else failed=$((failed + 1)); echo "FAIL: $d" >&2; fi; }
fails() { grep -c " $1 FAIL" "$T/$2/clients.log"; }
pyfails() { grep -c " FAIL " "$T/$2/py-$1.log"; }

WEB=$BASE SVC=$((BASE + 1)) PUSH=$((BASE + 2))
run without 0 1
check "run 1: the monitor rotated nginx" test "$(rotations web)" -ge 1
check "run 1: the monitor rotated serve" test "$(rotations svc)" -ge 1
check "run 1, without the agent: curl fails on nginx after the rotation" test "$(fails "curl web" without)" -gt 0
check "run 1, without the agent: s_client fails on nginx after the rotation" test "$(fails "s_client web" without)" -gt 0
check "run 1, without the agent: curl fails on serve after the rotation" test "$(fails "curl svc" without)" -gt 0
check "run 1, without the agent: s_client fails on serve after the rotation" test "$(fails "s_client svc" without)" -gt 0
kill "$(cat "$T/without/nginx.pid")" 2>/dev/null
for p in $PIDS; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
PIDS=

WEB=$((BASE + 3)) SVC=$((BASE + 4)) PUSH=$((BASE + 5))
run with 1 "$ROT"
W=$T/with
check "run 2: the monitor rotated nginx $ROT times" test "$(rotations web)" -ge "$ROT"
check "run 2: the monitor rotated serve $ROT times" test "$(rotations svc)" -ge "$ROT"
check "run 2: every swap on nginx was verified" test "$(grep -c "verify=127.0.0.1:$WEB serves it" monitor.log)" -ge "$ROT"
check "run 2: every swap on serve was verified" test "$(grep -c "verify=127.0.0.1:$SVC serves it" monitor.log)" -ge "$ROT"
for c in "curl web" "s_client web" "curl svc" "s_client svc"; do
    check "run 2, with the agent: 0 failed connections of $c" test "$(fails "$c" with)" = 0
    check "run 2: $c made connections" test "$(grep -c " $c ok" clients.log)" -gt 0
done
check "run 2: the Python client on nginx never failed" test "$(pyfails web with)" = 0
check "run 2: the Python client on serve never failed" test "$(pyfails svc with)" = 0
check "run 2: serve kept the Python client's connection across the swaps" test "$(grep -c " connect " py-svc.log)" = 1
check "run 2: the Python client's requests on serve were answered" test "$(grep -c " ok" py-svc.log)" -gt 0
check "run 2: the Python client's requests on nginx were answered" test "$(grep -c " ok" py-web.log)" -gt 0
for s in web-bundle web-dir svc-bundle svc-dir; do
    check "run 2: the agent accepted $ROT successors for $s" test "$(grep -c "server=$s event=accept" agent.log)" -ge "$ROT"
done
check "run 2: web.pem verifies the live certificate" openssl verify -CAfile web.pem web.crt
check "run 2: webdir verifies the live certificate" openssl verify -CApath webdir web.crt
check "run 2: svc.pem verifies the live certificate" openssl verify -CAfile svc.pem svc.crt
check "run 2: svcdir verifies the live certificate" openssl verify -CApath svcdir svc.crt
check "run 2: the monitor ended every pass without an error" sh -c "! grep -q 'pass ended: status=[23]' monitor.log"
if [ $failed != 0 ]; then
    echo "--- monitor.log (run 2)" >&2 && tail -40 monitor.log >&2
    echo "--- agent.log (run 2)" >&2 && tail -40 agent.log >&2
    grep FAIL clients.log py-*.log | head >&2
fi
kill "$(cat "$W/nginx.pid")" 2>/dev/null
for p in $PIDS; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
PIDS=

# Run 3: a staged successor, then the swap killed at step N for every N;
# the next run must leave nginx serving what web.crt holds.
mkdir -p "$T/crash/logs" && cd "$T/crash" || exit 1
WEB=$((BASE + 6))
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/.*=//'; }
served() { echo | openssl s_client -connect 127.0.0.1:$WEB -servername web.test 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'; }
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 1 --at "$(date -u -d '-20 hours' +%Y-%m-%dT%H:%M:%SZ)" \
    --out-cert web.crt --out-key web.key >/dev/null
mkdir D0 && mv web.crt web.key D0/ && mkdir D0/deleted
cat >D0/c.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 1h

[store "web"]
role = personal
cert = web.crt
key = web.key
after_replace = nginx -p $T/crash -c $T/crash/nginx.conf -s reload

[store "deleted"]
role = deleted
path = deleted
EOF
cat >nginx.conf <<EOF
pid $T/crash/nginx.pid;
error_log $T/crash/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$WEB ssl;
        ssl_certificate $T/crash/D/web.crt;
        ssl_certificate_key $T/crash/D/web.key;
    }
}
EOF
"$EVC" renew --config D0/c.ini >/dev/null 2>&1
check "run 3: a successor is staged" test -f D0/web.crt.next
cp -a D0 D && nginx -p "$T/crash" -c "$T/crash/nginx.conf" || echo "FAIL: nginx did not start" >&2
LATER=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
n=0 stale=0
while [ $n -lt 100 ]; do
    n=$((n + 1))
    rm -rf D && cp -a D0 D && nginx -p "$T/crash" -c "$T/crash/nginx.conf" -s reload 2>/dev/null
    EVERCERT_FAULT_AT=$n "$EVC" activate --config D/c.ini --at "$LATER" >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] && break # no step $n: the whole swap fitted in n-1 steps
    [ $rc = 99 ] || { echo "FAIL: run 3: activate crashed at step $n exited $rc" >&2; stale=$((stale + 1)); break; }
    "$EVC" activate --config D/c.ini --at "$LATER" >rerun.out 2>&1 ||
        { echo "FAIL: run 3: the re-run after a crash at step $n failed: $(cat rerun.out)" >&2; stale=$((stale + 1)); continue; }
    want=$(fp D/web.crt)
    # Three answers in a row: workers of an earlier reload may answer a moment longer.
    i=0 good=0
    while [ $good -lt 3 ] && [ $i -lt 100 ]; do
        if [ "$(served)" = "$want" ]; then good=$((good + 1)); else good=0; fi
        sleep 0.1
        i=$((i + 1))
    done
    [ $good -ge 3 ] || { echo "FAIL: run 3: after a crash at step $n and a re-run, nginx serves the old certificate: $(grep -i "web" rerun.out | head -3)" >&2; stale=$((stale + 1)); }
done
kill "$(cat nginx.pid)" 2>/dev/null
echo "run 3: the swap killed at each of its $((n - 1)) steps: $stale times nginx was left on the old certificate"
check "run 3: the swap has crash points" test $n -gt 2
check "run 3: after a crash at any step of the swap, the next run leaves nginx on the live certificate" test $stale = 0
echo "agent_e2e.sh: $ok passed, $failed failed"
[ $failed = 0 ]
