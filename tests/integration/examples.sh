#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The examples do what docs/PROTOCOL.md says: the client gets the server's SA in
# the handshake and accepts it; after SIGHUP the server presents the new pair.
#
# usage: examples.sh PATH-TO-EVERCERT BUILD-DIR-OF-EXAMPLES
set -u
EVC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
EX=$(cd "$2" && pwd)
T=$(mktemp -d /tmp/evc-examples-XXXXXX)
SRV=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
pass=0
fail=0
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d" >&2; fi; }
PORTS=$(cd "$(dirname "$0")" && pwd)/ports.sh
cd "$T" || exit 1
. "$PORTS"
PORT=$(port_block 8)
"$EVC" ca init --out root >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test --days 30 --out-cert a.crt --out-key a.key >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test --days 32 --out-cert b.crt --out-key b.key >/dev/null
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --out a.sa
cp a.crt live.crt && cp a.key live.key && cp a.sa live.sa
"$EX/example-server" $PORT live.crt live.key live.sa 2>server.err &
SRV=$!
sleep 0.3
check "the client accepts the SA from the handshake" sh -c "'$EX/example-client' $PORT root/ca.crt web.test 0 | grep -q '^accept: valid; accepted, generation 1'"
check "a client at generation 1 gets none" sh -c "'$EX/example-client' $PORT root/ca.crt web.test 1 | grep -q '^no successor announced'"
cp b.crt live.crt && cp b.key live.key && rm live.sa
kill -HUP $SRV
"$EX/example-client" $PORT root/ca.crt web.test 0 >/dev/null 2>&1 # the reload happens at the next accept
check "after SIGHUP the server presents the new certificate" sh -c "echo | openssl s_client -connect 127.0.0.1:$PORT -servername web.test 2>/dev/null | openssl x509 -noout -enddate | grep -q \"\$(openssl x509 -in b.crt -noout -enddate)\""
echo "examples.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
