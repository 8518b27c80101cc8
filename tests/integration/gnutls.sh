#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# GnuTLS's own client against `evercert serve`, over TLS 1.3 and TLS 1.2,
# in the three ways a connection can end:
#   half  the request, then the client's input ends at once: gnutls-cli
#         sends close_notify right behind the request, and the answer
#         must still come, whole, followed by the server's close_notify;
#   held  the client's input stays open and the request asks for a
#         close: the server answers and ends with close_notify;
#   kept  a keep-alive request, answered; then the client closes and the
#         server answers its close_notify with its own.
# Each must give the full answer (the served certificate's fingerprint),
# gnutls-cli's "Peer has closed the GnuTLS connection", exit 0, and
# neither "Error in the pull function" (a reset) nor "non-properly
# terminated" (a close without close_notify).
#
# usage: gnutls.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: gnutls.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/evc-gnutls-XXXXXX)
SERVE=
cleanup() {
    [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
. "$HERE/lib.sh"
for tool in gnutls-cli openssl; do
    command -v $tool >/dev/null || { echo "gnutls.sh: SKIP: $tool is not installed (bootstrap.sh test installs gnutls-bin)" >&2; exit 77; }
done
cd "$T" || exit 1
PORT=$((20000 + ($$ + 11000) % 20000))

"$EVC" selfsign --cn svc.test --san DNS:svc.test,IP:127.0.0.1 --days 2 --out-cert svc.crt --out-key svc.key >/dev/null ||
    { echo "FAIL: no certificate" >&2; exit 1; }
FP=$(fp svc.crt)
"$EVC" serve --cert svc.crt --key svc.key --listen 127.0.0.1:$PORT 2>serve.log &
SERVE=$!
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 10

req() { printf 'GET /ping HTTP/1.1\r\nHost: svc.test\r\nConnection: %s\r\n\r\n' "$1"; }
cli() { # VERSION: gnutls-cli limited to that TLS version
    timeout 15 gnutls-cli --priority "NORMAL:-VERS-ALL:+VERS-TLS$1" --x509cafile svc.crt \
        --sni-hostname svc.test -p $PORT 127.0.0.1
}
# judge NAME OUTPUT RC: the whole answer and a clean close
judge() {
    f0=$fail
    if [ "$3" = 0 ]; then ok; else bad "$1: gnutls-cli exited $3"; fi
    check "$1: the answer came whole (the served certificate's fingerprint)" grep -qx "$FP" "$2"
    check "$1: the server ended with close_notify" grep -q "Peer has closed the GnuTLS connection" "$2"
    check "$1: no reset" sh -c "! grep -q 'Error in the pull function' '$2'"
    check "$1: no close without close_notify" sh -c "! grep -q 'non-properly terminated' '$2'"
    [ "$fail" = "$f0" ] || { echo "--- $1" >&2; tail -5 "$2" >&2; }
}

for v in 1.3 1.2; do
    # half: the input ends right behind the request.
    req close | cli $v >half-$v.out 2>&1
    judge "TLS $v, close_notify right behind the request" half-$v.out $?
    check "TLS $v: the handshake was TLS $v" grep -q "(TLS$v-" half-$v.out
    req keep-alive | cli $v >half-ka-$v.out 2>&1
    judge "TLS $v, keep-alive request and close_notify right behind it" half-ka-$v.out $?

    # held: the input stays open; the server closes as the request asked.
    rm -f in && mkfifo in
    cli $v <in >held-$v.out 2>&1 &
    c=$!
    exec 3>in
    req close >&3
    wait $c
    rc=$?
    exec 3>&-
    judge "TLS $v, the server closes after the answer" held-$v.out $rc

    # kept: a keep-alive answer, then the client closes.
    rm -f in && mkfifo in
    cli $v <in >kept-$v.out 2>&1 &
    c=$!
    exec 3>in
    req keep-alive >&3
    check "TLS $v, keep-alive: the answer comes while the connection stays" wait_for kept-$v.out "$FP" 10
    check "TLS $v, keep-alive: the server did not close" sh -c "! grep -q 'Peer has closed' kept-$v.out"
    exec 3>&-
    wait $c
    judge "TLS $v, the client closes a kept connection" kept-$v.out $?
done
summary gnutls.sh
