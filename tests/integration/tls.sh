#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert serve and probe against real peers: curl and openssl s_client
# (which know nothing of the extension) against evercert serve; probe
# against openssl s_server (no extension: no SA, no error); the hot swap
# when the files change, a broken pair refused, the SA in the handshake
# (only up to its cap: every client's handshake succeeds), and the push
# channel.
#
# usage: tls.sh PATH-TO-EVERCERT PATH-TO-LOADSWAP
set -u
EVC=${1:?usage: tls.sh PATH-TO-EVERCERT PATH-TO-LOADSWAP}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
LOAD=${2:?usage: tls.sh PATH-TO-EVERCERT PATH-TO-LOADSWAP}
LOAD=$(cd "$(dirname "$LOAD")" && pwd)/$(basename "$LOAD")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/evc-tls-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
wait_for() { # FILE TEXT SECONDS
    i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    grep -qF -- "$2" "$1" 2>/dev/null
}
cd "$T" || exit 1
. "$HERE/ports.sh"
PORT=$(port_block 8)
APORT=$((PORT + 1))
SPORT=$((PORT + 2))
URL="https://web.test:$PORT/"
RES="--resolve web.test:$PORT:127.0.0.1"

"$EVC" ca init --out root >/dev/null
for n in a b c; do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa
"$EVC" announce --current b.crt --current-key b.key --successor c.crt --successor-key c.key \
    --service web.test --generation 2 --activate-at "$(at '+1 hour')" --out bc.sa
cp a.crt live.crt && cp a.key live.key && cp ab.sa live.sa

"$EVC" serve --cert live.crt --key live.key --sa live.sa --listen 127.0.0.1:$PORT \
    --announce-listen 127.0.0.1:$APORT 2>serve.log &
SERVE=$!
PIDS="$PIDS $SERVE"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5

# Peers that know nothing of the extension.
# shellcheck disable=SC2086
check "curl verifies evercert serve" sh -c "curl -sSf --cacert root/ca.crt $RES $URL >body.txt"
check "the answer names the certificate presented" test "$(cat body.txt)" = "$(fp a.crt)"
check "openssl s_client verifies it" sh -c "echo | openssl s_client -connect 127.0.0.1:$PORT -servername web.test -CAfile root/ca.crt -verify_return_error 2>&1 | grep -q 'Verify return code: 0 (ok)'"
check "TLS 1.2 clients still connect" sh -c "echo | openssl s_client -tls1_2 -connect 127.0.0.1:$PORT -servername web.test -CAfile root/ca.crt -verify_return_error 2>&1 | grep -q 'Verify return code: 0 (ok)'"

# The extension: the SA only to a client with an older generation.
check "probe gets the SA" sh -c "'$EVC' probe 127.0.0.1:$PORT --servername web.test --trust root/ca.crt --out got.sa | grep -q 'generation 1'"
check "the SA arrives byte for byte" cmp got.sa ab.sa
check "the SA it got verifies with openssl cms" openssl cms -verify -noverify -inform DER -in got.sa -out /dev/null
check "a client with generation 1 gets none" sh -c "'$EVC' probe 127.0.0.1:$PORT --servername web.test --trust root/ca.crt --have-generation 1 | grep -q '^SA *none'"
"$EVC" probe 127.0.0.1:$PORT --servername web.test --trust b.crt >probe.out 2>&1
check "probe fails on an untrusted server, with OpenSSL's reason" test $? = 2
check "the reason is named" grep -q "unable to get local issuer certificate" probe.out

# The push channel: a listener gets the current SA, then each new one. It sends
# nothing (stdin is empty): the server reads acknowledgements only, and drops
# a connection that sends anything else.
openssl s_client -connect 127.0.0.1:$APORT -servername web.test -CAfile root/ca.crt -quiet </dev/null >pushed.bin 2>/dev/null &
PUSH=$!
PIDS="$PIDS $PUSH"
i=0; while [ "$(stat -c %s pushed.bin 2>/dev/null || echo 0)" -lt "$(stat -c %s ab.sa)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "a new listener gets the current SA" cmp pushed.bin ab.sa

# The swap: a key that does not match is refused, the old pair stays.
cp c.key live.key.tmp && mv live.key.tmp live.key
check "a broken pair is refused" wait_for serve.log "live.key does not match live.crt; the old pair stays" 5
# shellcheck disable=SC2086
check "the old certificate is still served" sh -c "curl -sSf --cacert root/ca.crt $RES $URL | grep -qx $(fp a.crt)"
# The whole pair: served within the second, old connections unharmed.
cp b.key live.key.tmp && mv live.key.tmp live.key
cp b.crt live.crt.tmp && mv live.crt.tmp live.crt
cp bc.sa live.sa.tmp && mv live.sa.tmp live.sa
check "the swap is logged" wait_for serve.log "serving $(fp b.crt) (SA generation 2)" 5
# shellcheck disable=SC2086
check "new connections get the new certificate" sh -c "curl -sSf --cacert root/ca.crt $RES $URL | grep -qx $(fp b.crt)"
check "the new SA is offered" sh -c "'$EVC' probe 127.0.0.1:$PORT --servername web.test --trust root/ca.crt --have-generation 1 | grep -q 'generation 2'"
want=$(($(stat -c %s ab.sa) + $(stat -c %s bc.sa)))
i=0; while [ "$(stat -c %s pushed.bin)" -lt $want ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the listener got the new SA, back to back" sh -c "tail -c $(stat -c %s bc.sa) pushed.bin | cmp - bc.sa"
check "the push is logged" grep -q "pushed the SA" serve.log

# probe against a server without the extension: no SA, no error.
openssl s_server -accept 127.0.0.1:$SPORT -cert a.crt -key a.key -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
"$EVC" probe 127.0.0.1:$SPORT --servername web.test --trust root/ca.crt >plain.out 2>&1
check "probe against openssl s_server exits 0" test $? = 0
check "and reports no SA" grep -q "^SA *none" plain.out

# The handshake carries an SA of at most 16,384 bytes; a larger one goes by
# push (and URL) only, and every client's handshake still succeeds: OpenSSL
# clients refuse EncryptedExtensions over 20,000 bytes.
. "$HERE/sa_pad.sh"
pad_setup
for n in 16384 16385 20000; do
    pad_find $n && pad_sa pad$n.sa "$PAD_CERT" "$PAD_LEN" 2>/dev/null
    check "an SA of $n bytes for the test" test "$(pad_size pad$n.sa)" = $n
done
HPORT=$((PORT + 4))
HAPORT=$((PORT + 5))
cp pad16384.sa big.sa
"$EVC" serve --cert a.crt --key a.key --sa big.sa --listen 127.0.0.1:$HPORT \
    --announce-listen 127.0.0.1:$HAPORT 2>big.log &
PIDS="$PIDS $!"
check "serve starts with an SA at the cap" wait_for big.log "listening on 127.0.0.1:$HPORT" 5
check "at the cap: probe gets it in the handshake" sh -c "'$EVC' probe 127.0.0.1:$HPORT --servername web.test --trust root/ca.crt --out got16384.sa | grep -q 'generation 9'"
check "byte for byte" cmp got16384.sa pad16384.sa
check "and serve says nothing about its size" sh -c "! grep -q 'over the 16384' big.log"
swaps=0
for n in 16385 20000; do
    cp pad$n.sa big.sa.tmp && mv big.sa.tmp big.sa
    swaps=$((swaps + 1))
    check "an SA of $n bytes is loaded" sh -c "i=0; while [ \$(grep -c '^evercert serve: serving' big.log) -lt $swaps ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done; grep -q 'big.sa: the SA is $n bytes, over the 16384 the handshake carries; it goes by the push channel and URL only' big.log"
    "$EVC" probe 127.0.0.1:$HPORT --servername web.test --trust root/ca.crt >probe$n.out 2>&1
    check "$n bytes: the evercert client's handshake succeeds" test $? = 0
    check "$n bytes: with no SA in it" grep -q '^SA *none' probe$n.out
    check "$n bytes: curl's handshake succeeds" sh -c "curl -sSf --cacert root/ca.crt --resolve web.test:$HPORT:127.0.0.1 https://web.test:$HPORT/ | grep -qx $(fp a.crt)"
    check "$n bytes: s_client's handshake succeeds" sh -c "echo | openssl s_client -connect 127.0.0.1:$HPORT -servername web.test -CAfile root/ca.crt -verify_return_error 2>&1 | grep -q 'Verify return code: 0 (ok)'"
    openssl s_client -connect 127.0.0.1:$HAPORT -servername web.test -CAfile root/ca.crt -quiet </dev/null >pushed$n.bin 2>/dev/null &
    p=$!
    i=0; while [ "$(stat -c %s pushed$n.bin 2>/dev/null || echo 0)" -lt $n ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill $p 2>/dev/null
    check "$n bytes: the push channel carries it whole" cmp pushed$n.bin pad$n.sa
done
# The same SA written again is loaded again, but not announced again.
cp pad20000.sa big.sa.tmp && mv big.sa.tmp big.sa
i=0; while [ "$(grep -c '^evercert serve: serving' big.log)" -lt 3 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the same SA is read again" test "$(grep -c '^evercert serve: serving' big.log)" = 3
check "its size is said once per SA" test "$(grep -c 'over the 16384 the handshake carries' big.log)" = 2

# Bad arguments.
"$EVC" serve --cert nowhere.crt --key live.key --listen 127.0.0.1:$SPORT 2>bad.err
check "a missing certificate stops serve with its name" sh -c "test $? = 3 && grep -q nowhere.crt bad.err"
"$EVC" probe localhost 2>bad.err
check "probe wants host:port" sh -c "test $? = 3 && grep -q 'expected host:port' bad.err"

# Under load: 2 client threads (new and resumed handshakes) while the pair is swapped 100 times.
mkdir gens
for g in $(seq 0 100); do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test --days 30 --out-cert gens/$g.crt --out-key gens/$g.key >/dev/null
done
cp gens/0.crt load.crt && cp gens/0.key load.key
LPORT=$((PORT + 3))
"$EVC" serve --cert load.crt --key load.key --listen 127.0.0.1:$LPORT 2>load.log &
LSERVE=$!
PIDS="$PIDS $LSERVE"
wait_for load.log "listening on" 5
"$LOAD" $LPORT root/ca.crt gens 100 load.crt load.key >loadswap.out 2>&1
check "100 swaps under load: 0 failed handshakes, none older than a completed swap, the early connection served, resumption works" test $? = 0
cat loadswap.out >&2
kill $LSERVE

# SIGTERM: stops.
kill -TERM $SERVE
i=0; while kill -0 $SERVE 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "SIGTERM stops serve" sh -c "! kill -0 $SERVE"

echo "tls.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
