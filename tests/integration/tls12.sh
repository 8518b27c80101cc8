#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The study's clients: TLS 1.2 only, resuming their sessions. `evercert
# monitor` renews two self-signed certificates that live LIFETIME seconds
# and swaps them in (as agent_e2e.sh): web on nginx (its SA at the
# well-known URL, the agent's url source) and svc on `evercert serve` (the
# SA down the push channel only: a TLS 1.2 client has no handshake
# extension). `evercert agent` keeps a bundle and a hashed directory per
# server. Every 0.5 s, against both servers:
#   full     openssl s_client -tls1_2 -CApath (the agent's directory),
#            a full handshake that saves its session (-sess_out);
#   resumed  the same with -sess_in that session: "Reused" when the
#            server takes it, a full handshake on the agent's store when
#            it does not (nginx's reload forgets its ticket keys);
#   first    -sess_in the session of the very first handshake, before any
#            rotation: serve resumes it across its swaps, but not past the
#            end of the certificate it was made under; from then on it is
#            a full handshake on the agent's store, so a client that only
#            resumes meets the successor when its certificate ends, not
#            when the session would have (hours later);
#   curl     curl --tls-max 1.2 --cacert (the agent's bundle), two
#            requests on two connections, the second resuming the first's
#            session;
#   stale    a full TLS 1.2 handshake on the first certificate alone, as a
#            client without the agent: it must fail after the first
#            rotation (the rotations are real, and the checks can fail).
# ROTATIONS rotations of each server with 0 failures of full, resumed,
# first and curl; s_client and curl really resumed, also after a swap.
#
# usage: tls12.sh PATH-TO-EVERCERT [LIFETIME-SECONDS [ROTATIONS]]
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: tls12.sh PATH-TO-EVERCERT [LIFETIME] [ROTATIONS]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
LIFE=${2:-20}
ROT=${3:-2}
T=$(mktemp -d /tmp/evc-tls12-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid" 2>/dev/null)" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
for tool in nginx curl openssl; do
    command -v $tool >/dev/null || { echo "tls12.sh: SKIP: $tool is not installed (bootstrap.sh test installs it)" >&2; exit 77; }
done
[ "$LIFE" -ge 20 ] || { echo "usage: a lifetime of at least 20 s" >&2; exit 2; }
chmod 755 "$T" && cd "$T" || exit 1
D=$T
BASE=$((20000 + ($$ + 13000) % 20000 / 4 * 4))
WEB=$BASE SVC=$((BASE + 1)) PUSH=$((BASE + 2))
now() { date +%s; }
rotations() { grep -c "action=activate store=$1 .*done=1" monitor.log 2>/dev/null; }

mkdir logs deleted retired
mkcert web web.test "$LIFE" && mkcert svc svc.test "$LIFE" || { echo "FAIL: openssl ca made no certificate" >&2; exit 1; }
for n in web svc; do
    cp $n.crt $n.pem && cp $n.crt $n.first && mkdir ${n}dir && cp $n.crt ${n}dir/$n-0.pem && openssl rehash ${n}dir 2>/dev/null
done
rig_nginx_conf "$D"
rig_monitor_ini "$D"
# The svc servers by push only: the source this test proves for serve.
rig_agent_ini "" push
nginx -p "$D" -c "$D/nginx.conf" || { echo "FAIL: nginx did not start" >&2; exit 1; }
# Debian 12's nginx 1.22 has TLS 1.3 off unless ssl_protocols says it (docs/PUBLISHING.md).
if nginx -v 2>&1 | grep -q 'nginx/1\.22\.'; then
    check "nginx 1.22 without ssl_protocols refuses TLS 1.3" sh -c \
        "! echo | timeout 5 openssl s_client -tls1_3 -connect 127.0.0.1:$WEB -servername web.test >/dev/null 2>&1"
    check "... and speaks TLS 1.2" sh -c \
        "echo | timeout 5 openssl s_client -tls1_2 -connect 127.0.0.1:$WEB -servername web.test >/dev/null 2>&1"
fi
"$EVC" serve --cert svc.crt --key svc.key --sa svc.crt.sa --listen 127.0.0.1:$SVC \
    --announce-listen 127.0.0.1:$PUSH 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$SVC" 10
START=$(now)
"$EVC" monitor --config monitor.ini 2>monitor.log &
PIDS="$PIDS $!"
"$EVC" agent --config agent.ini 2>agent.log &
PIDS="$PIDS $!"

# sc NAME PORT ARGS...: one TLS 1.2 s_client connection; prints ok (New|Reused) or FAIL
sc() {
    n=$1 p=$2
    shift 2
    if echo | timeout 5 openssl s_client -tls1_2 -connect 127.0.0.1:$p -servername $n.test \
        -verify_return_error "$@" >sc.out 2>&1; then
        echo "ok $(sed -n 's/^\(New\|Reused\), TLSv1.2,.*/\1/p' sc.out | head -1)"
    else
        echo "FAIL $(grep -m1 -iE 'verify error|alert|errno' sc.out)"
    fi
}
clients() { # MAXSECONDS
    end=$(($(now) + $1))
    for n in web svc; do
        p=$WEB
        [ $n = svc ] && p=$SVC
        sc $n $p -CApath ${n}dir -sess_out first-$n.sess >/dev/null
        cp first-$n.sess last-$n.sess
    done
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        for n in web svc; do
            p=$WEB
            [ $n = svc ] && p=$SVC
            t=$(now)
            echo "$t full $n $(sc $n $p -CApath ${n}dir -sess_out full-$n.sess)"
            echo "$t resumed $n $(sc $n $p -CApath ${n}dir -sess_in last-$n.sess -sess_out next-$n.sess)"
            [ -s next-$n.sess ] && mv next-$n.sess last-$n.sess
            [ -s full-$n.sess ] && [ $((t % 3)) = 0 ] && mv full-$n.sess last-$n.sess
            echo "$t first $n $(sc $n $p -CApath ${n}dir -sess_in first-$n.sess)"
            echo "$t stale $n $(sc $n $p -CAfile $n.first)"
            if curl -sfv --tls-max 1.2 --tlsv1.2 --max-time 5 --cacert $n.pem --resolve $n.test:$p:127.0.0.1 \
                -H 'Connection: close' https://$n.test:$p/ping https://$n.test:$p/ping >curl.out 2>&1; then
                if grep -q 're-using session' curl.out; then echo "$t curl $n ok Reused"; else echo "$t curl $n ok New"; fi
            else
                echo "$t curl $n FAIL $(grep -m1 -E 'curl: \([0-9]+\)' curl.out)"
            fi
        done >>clients.log
        sleep 0.5
    done
}

# The first swap comes at 3/4 of the first lifetime, then one every 0.4 lifetime.
limit=$((LIFE * 3 / 4 + ROT * LIFE * 2 / 5 + 30))
clients $((limit + 10)) &
CL=$!
PIDS="$PIDS $CL"
while { [ "$(rotations web)" -lt "$ROT" ] || [ "$(rotations svc)" -lt "$ROT" ]; } && [ $(($(now) - START)) -lt $limit ]; do
    sleep 0.2
done
sleep 3 # the clients' next rounds, after the last swap
touch STOP
wait $CL 2>/dev/null
FIRSTFAIL_SVC=$(grep -m1 ' stale svc FAIL' clients.log | cut -d' ' -f1)
END1=$(date -u -d "$(openssl x509 -in svc.first -noout -enddate | sed 's/notAfter=//')" +%s)

echo "tls12.sh: $(rotations web) rotations of web (nginx), $(rotations svc) of svc (evercert serve), ${LIFE} s certificates, $(($(now) - START)) s"
for c in full resumed first curl stale; do
    for n in web svc; do
        echo "  $c $n: $(grep -c " $c $n " clients.log) connections, $(grep -c " $c $n FAIL" clients.log) failed, $(grep -c " $c $n ok Reused" clients.log) resumed"
    done
done
check "the monitor rotated nginx $ROT times" test "$(rotations web)" -ge "$ROT"
check "the monitor rotated serve $ROT times" test "$(rotations svc)" -ge "$ROT"
for c in full resumed first curl; do
    for n in web svc; do
        check "$c $n: made connections" test "$(grep -c " $c $n ok" clients.log)" -gt 0
        check "$c $n: 0 failed connections over TLS 1.2" test "$(grep -c " $c $n FAIL" clients.log)" = 0
    done
done
for n in web svc; do
    check "stale $n: a client without the agent fails after the rotation" test "$(grep -c " stale $n FAIL" clients.log)" -gt 0
    check "s_client resumed its TLS 1.2 sessions on $n" test "$(grep -c " resumed $n ok Reused" clients.log)" -gt 0
    check "curl resumed its TLS 1.2 session on $n" test "$(grep -c " curl $n ok Reused" clients.log)" -gt 0
done
check "serve resumed sessions after its first swap" sh -c "
    awk '\$2 == \"resumed\" && \$3 == \"svc\" && \$5 == \"Reused\" && \$1 > ${FIRSTFAIL_SVC:-0}' clients.log | grep -q ."
check "serve resumed the session made before any rotation after its first swap" sh -c "
    awk '\$2 == \"first\" && \$3 == \"svc\" && \$5 == \"Reused\" && \$1 > ${FIRSTFAIL_SVC:-0} && \$1 < $END1' clients.log | grep -q ."
check "... but not past the end of the certificate it was made under" sh -c "
    ! awk '\$2 == \"first\" && \$3 == \"svc\" && \$5 == \"Reused\" && \$1 > $END1 + 1' clients.log | grep -q ."
check "... from then on a full TLS 1.2 handshake on the agent's store" sh -c "
    awk '\$2 == \"first\" && \$3 == \"svc\" && \$5 == \"New\" && \$1 > $END1 + 1' clients.log | grep -q ."
check "the agent took the successors of web by URL" test "$(grep -c 'server=web-bundle event=accept' agent.log)" -ge "$ROT"
check "the agent took the successors of svc by push" test "$(grep -c 'server=svc-bundle event=accept' agent.log)" -ge "$ROT"
check "web.pem verifies the live certificate" openssl verify -CAfile web.pem web.crt
check "svcdir verifies the live certificate" openssl verify -CApath svcdir svc.crt
if [ "$fail" != 0 ]; then
    grep FAIL clients.log | grep -v stale | head >&2
    echo "--- agent.log" >&2 && tail -20 agent.log >&2
fi
summary tls12.sh
