#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert serve's HTTP/1.1 against clients that frame requests their own
# way: curl, openssl s_client and a small Python client that sends exact
# bytes and reads until the server closes. HEAD gets a head with the
# length and no body; a request's body is consumed, never answered as a
# request; HTTP/1.0 is closed after its answer unless keep-alive is
# asked; an oversized head gets a 4xx status line before the close;
# pipelined requests are answered in order; an unknown path is 404; the
# well-known URL gives the SA; a client that sends nothing is closed
# after --idle-timeout.
#
# usage: http.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: http.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/evc-http-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
. "$HERE/lib.sh"
for tool in curl openssl python3; do
    command -v $tool >/dev/null || { echo "http.sh: SKIP: $tool is not installed" >&2; exit 77; }
done
cd "$T" || exit 1
PORT=$((20000 + ($$ + 7000) % 20000))
URL="https://web.test:$PORT"
RES="--resolve web.test:$PORT:127.0.0.1"

"$EVC" ca init --out root >/dev/null
for n in a b; do
    "$EVC" issue --ca root --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out ab.sa

# raw.py PORT: send stdin's bytes in one write on a TLS connection (or on
# plain TCP with --plain, without a handshake) and write what comes back
# until the server closes; exit 0 only if the server closed within 20 s.
cat >raw.py <<'PY'
import socket, ssl, sys
port, plain = int(sys.argv[1]), "--plain" in sys.argv
data = sys.stdin.buffer.read()
raw = socket.create_connection(("127.0.0.1", port), timeout=20)
if plain:
    conn = raw
else:
    ctx = ssl.create_default_context(cafile="root/ca.crt")
    conn = ctx.wrap_socket(raw, server_hostname="web.test")
if data:
    conn.sendall(data)
out = b""
closed = False
try:
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            closed = True
            break
        out += chunk
except socket.timeout:
    pass
except (ConnectionResetError, ssl.SSLError):
    closed = True
sys.stdout.buffer.write(out)
sys.exit(0 if closed else 1)
PY
raw() { python3 raw.py "$PORT" "$@"; }
# heads FILE: the status lines of the answers in FILE, one a line
heads() { grep -a '^HTTP/1\.[01] [0-9][0-9][0-9]' "$1" | tr -d '\r'; }

# Refusals at the start name the file once, and speak of no old pair.
"$EVC" serve --cert a.crt --key gone.key --listen 127.0.0.1:$PORT 2>start1.err
check "a missing key at the start: exit 3" test $? = 3
check "named once, with the reason" grep -qx "evercert: serve: gone.key: No such file or directory" start1.err
"$EVC" serve --cert a.crt --key b.key --listen 127.0.0.1:$PORT 2>start2.err
check "a key of another certificate at the start: exit 3" test $? = 3
check "said without an old pair" grep -qx "evercert: serve: b.key does not match a.crt" start2.err

# Another test may hold the port: try a few.
for try in 1 2 3 4 5; do
    "$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT --idle-timeout 2 \
        --request-timeout 3 --announce-listen 127.0.0.1:$((PORT + 1)) 2>serve.log &
    SERVE=$!
    i=0
    while ! grep -q 'listening on\|cannot listen' serve.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    grep -q 'cannot listen' serve.log || break
    PORT=$((PORT + 97))
done
PIDS="$PIDS $SERVE"
URL="https://web.test:$PORT"
RES="--resolve web.test:$PORT:127.0.0.1"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5
FP=$(fp a.crt)

# The answers it always gave.
# shellcheck disable=SC2086
check "GET / names the certificate" sh -c "curl -sSf --cacert root/ca.crt $RES $URL/ | grep -qx $FP"
# shellcheck disable=SC2086
check "GET /ping too" sh -c "curl -sSf --cacert root/ca.crt $RES $URL/ping | grep -qx $FP"
check "s_client gets the answer" sh -c "printf 'GET / HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | openssl s_client -quiet -connect 127.0.0.1:$PORT -servername web.test -CAfile root/ca.crt 2>/dev/null | grep -qx $FP"

# Empty lines before the first request are ignored, not answered with 400
# (`echo | openssl s_client` sends one).
printf '\r\n\r\nGET /ping HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | raw >blank.out
check "empty lines before a request are ignored" test "$(heads blank.out)" = "HTTP/1.1 200 OK"
printf '\n' | raw >nl.out
check "a lone newline gets no answer" test ! -s nl.out
check "echo | s_client ends cleanly" sh -c "echo | openssl s_client -connect 127.0.0.1:$PORT -servername web.test -CAfile root/ca.crt -verify_return_error"

# An unknown path.
# shellcheck disable=SC2086
check "an unknown path is 404" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert root/ca.crt $RES $URL/nope)" = 404

# The well-known URL: the SA, byte for byte.
# shellcheck disable=SC2086
curl -sSf --cacert root/ca.crt $RES -o url.sa $URL/.well-known/evercert/successor
check "the well-known URL gives the SA" cmp url.sa ab.sa

# HEAD: the head with the length GET would send, nothing after it.
printf 'HEAD / HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | raw >head.out
check "HEAD is answered 200" test "$(heads head.out)" = "HTTP/1.1 200 OK"
check "HEAD's answer has Content-Length 65" grep -qai '^Content-Length: 65' head.out
check "HEAD's answer has no body" sh -c "python3 -c 'import sys; d=open(\"head.out\",\"rb\").read(); sys.exit(not d.endswith(b\"\r\n\r\n\"))'"
printf 'HEAD /.well-known/evercert/successor HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | raw >headsa.out
check "HEAD of the SA gives its length and no body" sh -c "grep -qai '^Content-Length: $(stat -c %s ab.sa)' headsa.out && test \$(wc -c <headsa.out) -lt 400"

# A body that looks like a request is read as a body: one answer for the
# POST, one for the GET that follows it, nothing for the body.
python3 -c '
import sys
body = b"GET /nope HTTP/1.1\r\nHost: web.test\r\n\r\n"
sys.stdout.buffer.write(b"POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                        + b"GET /ping HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")' | raw >post.out
check "a POST with a request for a body, then a GET: two answers" test "$(heads post.out | wc -l)" = 2
check "both 200: the body was never answered (404)" test "$(heads post.out | cut -d' ' -f2 | tr '\n' ' ')" = "200 200 "

# A body over the cap is refused, not read.
printf 'POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 70000\r\n\r\n' | raw >large.out
check "a body over 64 KiB: the server closes" test $? = 0
check "after a 413 status line" grep -qa '^HTTP/1.1 413 ' large.out

# HTTP/1.0 without keep-alive: answered, then closed by the server.
printf 'GET / HTTP/1.0\r\n\r\n' | raw >ten.out
check "HTTP/1.0 without keep-alive: the server closes after the answer" test $? = 0
check "HTTP/1.0: the answer is whole" grep -qax "$FP" ten.out
# HTTP/1.0 with keep-alive: the connection serves a second request.
printf 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /nope HTTP/1.0\r\n\r\n' | raw >tenka.out
check "HTTP/1.0 with keep-alive: two answers on one connection" test "$(heads tenka.out | wc -l)" = 2

# A head over 8 KiB: a 4xx status line, then the close.
python3 -c 'import sys; sys.stdout.buffer.write(b"GET / HTTP/1.1\r\nHost: web.test\r\nX-Pad: " + b"a" * 9216 + b"\r\n\r\n")' | raw >big.out
check "a 9 KiB head: the server closes" test $? = 0
check "after a 4xx status line" sh -c "grep -a '^HTTP/1' big.out | head -n 1 | grep -q '^HTTP/1.1 4[0-9][0-9] '"

# Pipelined: two requests in one write, answered in order.
printf 'GET / HTTP/1.1\r\nHost: web.test\r\n\r\nGET /nope HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | raw >pipe.out
check "two pipelined GETs: two answers" test "$(heads pipe.out | wc -l)" = 2
check "in order: 200 then 404" test "$(heads pipe.out | cut -d' ' -f2 | tr '\n' ' ')" = "200 404 "

# A client that sends nothing is closed after the idle timeout (2 s here),
# with its handshake done or not.
raw </dev/null >idle.out
check "a TLS client that sends nothing is closed" test $? = 0
raw --plain </dev/null >idle-plain.out
check "a TCP client that never starts TLS is closed" test $? = 0

# Framing two parsers could read two ways gets 400 and a close: nothing after it
# is answered, so a body cannot smuggle a request.
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcdGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' | raw >dupcl.out
check "Content-Length twice: one answer, 400, then a close" test "$(heads dupcl.out | cut -d' ' -f2 | tr '\n' ' ')" = "400 "
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcdGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' | raw >signcl.out
check "Content-Length with a sign: 400, then a close" test "$(heads signcl.out | cut -d' ' -f2 | tr '\n' ' ')" = "400 "
printf 'HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' | raw >headbody.out
check "HEAD with a body: 400, then a close; the body is not a request" test "$(heads headbody.out | cut -d' ' -f2 | tr '\n' ' ')" = "400 "
printf 'GET https://web.test/ HTTP/1.1\r\nHost: web.test\r\n\r\nGET /nope HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | raw >absolute.out
check "an absolute-form request is served as any other: both pipelined answers" \
    test "$(heads absolute.out | cut -d' ' -f2 | tr '\n' ' ')" = "200 404 "

# Another method: 405 with what is allowed, and the connection goes on.
printf 'DELETE / HTTP/1.1\r\nHost: web.test\r\n\r\nGET /nope HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n' | raw >method.out
check "DELETE: 405, then the next request is answered" test "$(heads method.out | cut -d' ' -f2 | tr '\n' ' ')" = "405 404 "
check "the 405 says what is allowed" grep -aq '^Allow: GET, HEAD, POST' method.out

# A client that drips its head a byte at a time is closed at the request
# deadline (3 s here), though it is never silent for the idle timeout (2 s).
cat >drip.py <<'PY'
import socket, ssl, sys, time
port = int(sys.argv[1])
ctx = ssl.create_default_context(cafile="root/ca.crt")
conn = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="web.test")
conn.sendall(b"GET / HTTP/1.1\r\nHost: web.test\r\nX-Drip: ")
conn.settimeout(0.5)
for i in range(40):  # at most 20 s
    try:
        conn.sendall(b"a")
        if conn.recv(4096) == b"":
            sys.exit(0)
    except socket.timeout:
        continue
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
        sys.exit(0)
sys.exit(1)
PY
python3 drip.py "$PORT"
check "a client dripping its head is closed at the request deadline" test $? = 0

# The push channel drops a socket that never finishes its TLS handshake.
python3 raw.py "$((PORT + 1))" --plain </dev/null >push-silent.out
check "a push client that never starts TLS is closed" test $? = 0

# The figures, printed when it stops.
kill -TERM $SERVE
i=0; while kill -0 $SERVE 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "serve stops on SIGTERM" sh -c "! kill -0 $SERVE"
check "and prints its figures" grep -q '^evercert serve: [0-9]* connections, [0-9]* requests ([0-9]* not found), 1 SAs by URL' serve.log

summary http.sh
