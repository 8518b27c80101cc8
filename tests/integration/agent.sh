#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert agent against real servers: evercert serve (handshake and push),
# nginx publishing the SA at the well-known URL, openssl s_server as a man
# in the middle, and Python TLS servers that misbehave. Every trust store
# format is checked with OpenSSL (and keytool when installed); every
# policy, every rejection, the crash points of a write, the service's
# signals.
#
# usage: agent.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: agent.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/evc-agent-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
ncerts() { grep -c "BEGIN CERTIFICATE" "$1"; }
wait_for() { # FILE TEXT SECONDS
    i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    grep -qF -- "$2" "$1" 2>/dev/null
}
for tool in nginx python3 jq; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done
chmod 755 "$T" && cd "$T" || exit 1
. "$SRC/tests/integration/ports.sh"
PORT=$(port_block 100)
APORT=$((PORT + 1)) NPORT=$((PORT + 2)) MPORT=$((PORT + 3)) HPORT=$((PORT + 4))
GPORT=$((PORT + 5)) SPORT=$((PORT + 6)) CPORT=$((PORT + 7)) FPORT=$((PORT + 8))

# --- three generations of a self-signed (pinned) certificate, and their SAs
for n in a b c; do
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa
"$EVC" announce --current a.crt --current-key a.key --successor c.crt --successor-key c.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ac.sa
"$EVC" announce --current b.crt --current-key b.key --successor c.crt --successor-key c.key \
    --service web.test --generation 2 --activate-at "$(at '+2 hours')" --out bc.sa
cp a.crt live.crt && cp a.key live.key && cp ab.sa live.sa
"$EVC" serve --cert live.crt --key live.key --sa live.sa --listen 127.0.0.1:$PORT \
    --announce-listen 127.0.0.1:$APORT 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5

# nginx presents a.crt and publishes the SA as a static file.
mkdir -p logs www/.well-known/evercert
cp ab.sa www/.well-known/evercert/successor
cat >nginx.conf <<EOF
pid $T/nginx.pid;
error_log $T/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$NPORT ssl;
        ssl_certificate $T/a.crt;
        ssl_certificate_key $T/a.key;
        root $T/www;
    }
}
EOF
nginx -p "$T" -c "$T/nginx.conf" || { bad "nginx did not start"; exit 1; }
# A man in the middle: the right name, its own key.
openssl s_server -accept 127.0.0.1:$MPORT -cert c.crt -key c.key -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"

# --- the trust stores, as applications have them
cp a.crt bundle.pem
mkdir hashdir && cp a.crt hashdir/web.pem && openssl rehash hashdir 2>/dev/null
cp a.crt manual.pem && cp a.crt reject.pem && cp a.crt ca.pem && cp a.crt pin.pem && cp a.crt mitm.pem
mkdir deleted
HAVE_KEYTOOL=0
if command -v keytool >/dev/null; then
    HAVE_KEYTOOL=1
    keytool -importcert -noprompt -alias web -file a.crt -keystore trust.p12 -storetype PKCS12 -storepass changeit >/dev/null 2>&1
else
    openssl pkcs12 -export -nokeys -in a.crt -out trust.p12 -passout pass:changeit
fi
echo changeit >p12.pass

cat >agent.ini <<EOF
[agent]
state = agent.db
deleted = deleted
[server "web"]
connect = 127.0.0.1:$PORT
service = web.test
trust = bundle.pem
after_change = echo "\$EVERCERT_SERVER \$EVERCERT_CHANGE" >>changes.log
after_change_shell = true
[server "pushed"]
connect = 127.0.0.1:$PORT
service = web.test
trust = hashdir
trust_format = hashdir
announce = 127.0.0.1:$APORT
sources = push
[server "nginx"]
connect = 127.0.0.1:$NPORT
service = web.test
trust = trust.p12
password_file = p12.pass
url = https://web.test/.well-known/evercert/successor
sources = url
[server "manual"]
connect = 127.0.0.1:$PORT
service = web.test
trust = manual.pem
policy = manual
[server "reject"]
connect = 127.0.0.1:$PORT
service = web.test
trust = reject.pem
policy = manual
[server "ca"]
connect = 127.0.0.1:$PORT
service = web.test
trust = ca.pem
policy = ca
[server "pin"]
connect = 127.0.0.1:$PORT
service = web.test
trust = pin.pem
trust_format = pin
[server "mitm"]
connect = 127.0.0.1:$MPORT
service = web.test
trust = mitm.pem
EOF

"$EVC" agent --config agent.ini --once >once.out 2>&1
st=$?
check "--once exits 2: a server (the man in the middle) did not verify" test $st = 2
# handshake + bundle
check "the bundle holds the current and the successor" test "$(ncerts bundle.pem)" = 2
check "OpenSSL trusts the successor from the bundle" openssl verify -CAfile bundle.pem b.crt
check "and still the current one" openssl verify -CAfile bundle.pem a.crt
check "after_change ran once, for the add" test "$(cat changes.log)" = "web add"
# push + hashed directory
check "the hashed directory trusts the successor (push)" openssl verify -CApath hashdir b.crt
cp -r hashdir rehashed && rm -f rehashed/*.[0-9] && openssl rehash rehashed 2>/dev/null
check "its <hash>.N names are the ones openssl rehash makes" test "$(cd hashdir && ls | grep '\.[0-9]$' | sort)" = "$(cd rehashed && ls | grep '\.[0-9]$' | sort)"
# url + PKCS#12
check "the PKCS#12 truststore holds two certificates (url)" test "$(openssl pkcs12 -in trust.p12 -nokeys -passin pass:changeit 2>/dev/null | grep -c 'BEGIN CERT')" = 2
if [ $HAVE_KEYTOOL = 1 ]; then
    check "keytool lists both as trusted entries" test "$(keytool -list -keystore trust.p12 -storepass changeit 2>/dev/null | grep -c trustedCertEntry)" = 2
fi
check "the sources are named in the log" sh -c "grep -q 'server=web event=accept.*source=handshake' once.out && grep -q 'server=pushed event=accept.*source=push' once.out && grep -q 'server=nginx event=accept.*source=url' once.out"
# manual
check "manual: not written before approval" test "$(ncerts manual.pem)" = 1
check "manual: the log says something waits" grep -q "waits for approval" once.out
"$EVC" pending --config agent.ini --format json >pending.json
check "pending lists both manual servers" test "$(jq length pending.json)" = 2
check "pending shows fingerprints, subject, validity, activation, source" sh -c "jq -e '.[0] | .current_sha256 != \"\" and .successor_sha256 != \"\" and (.subject|test(\"web.test\")) and .not_after != \"\" and .activate_at != \"\" and .source == \"handshake\"' pending.json"
check "the current fingerprint is a's" test "$(jq -r '.[0].current_sha256' pending.json)" = "$(openssl x509 -in a.crt -outform DER | sha256sum | cut -c1-64)"
check "the successor fingerprint is b's" test "$(jq -r '.[0].successor_sha256' pending.json)" = "$(openssl x509 -in b.crt -outform DER | sha256sum | cut -c1-64)"
MID=$(jq -r '.[] | select(.server == "manual") | .id' pending.json)
RID=$(jq -r '.[] | select(.server == "reject") | .id' pending.json)
check "approve writes it" "$EVC" approve --config agent.ini "$MID"
check "manual: written after approval" openssl verify -CAfile manual.pem b.crt
check "reject drops it" "$EVC" reject --config agent.ini "$RID"
check "rejected: the store is untouched" test "$(ncerts reject.pem)" = 1
"$EVC" approve --config agent.ini "$RID" 2>approve.err
check "a rejected SA cannot be approved" sh -c "test $? = 3 && grep -q 'is rejected, not waiting' approve.err"
"$EVC" approve --config agent.ini 999 2>approve.err
check "an unknown id is refused" sh -c "test $? = 3 && grep -q 'no announcement 999' approve.err"
"$EVC" approve --config agent.ini x1 2>approve.err
check "a bad id is a usage error" test $? = 3
# ca
check "ca: a self-signed successor chains to no anchor: refused" sh -c "grep -q 'server=ca event=accept' once.out; test \$? = 1 && test $(ncerts ca.pem) = 1"
# pin
check "pin: unchanged before activate_at" cmp pin.pem a.crt
# mitm
check "mitm: nothing written" cmp mitm.pem a.crt
check "mitm: the reason is OpenSSL's" grep -q "server=mitm at 127.0.0.1:$MPORT does not verify.*self-signed certificate" once.out
"$EVC" history --config agent.ini --format json >hist.json
check "history records each decision" sh -c "jq -e '[.agent[] | .event] | (index(\"accept\") != null) and (index(\"queue\") != null) and (index(\"approve\") != null) and (index(\"reject\") != null)' hist.json"

# The same SA again, by every way: applied once.
"$EVC" agent --config agent.ini --once >again.out 2>&1
check "a second round changes nothing" test "$(cat changes.log)" = "web add"
check "a second round accepts nothing again" sh -c "! grep -q 'event=accept' again.out"
check "the rejected SA is not queued again" sh -c "! grep -q 'server=reject event=queue' again.out"

# Activation: the pin file holds the successor alone.
"$EVC" agent --config agent.ini --once --at "$(at '+90 minutes')" >act.out 2>&1
check "pin: replaced by the successor at activate_at" cmp pin.pem b.crt
check "the activation is recorded" grep -q "server=pin event=activate" act.out

# Retirement: once a has expired it leaves the bundle for the deleted store.
"$EVC" agent --config agent.ini --once --at "$(at '+31 days')" >ret.out 2>&1
check "retire: the bundle keeps the successor only" sh -c "test $(ncerts bundle.pem) = 1 && openssl verify -CAfile bundle.pem b.crt"
check "retire: the predecessor is in the deleted store" sh -c "grep -l 'deleted-at' deleted/* | head -1 | xargs openssl x509 -noout -fingerprint -sha256 -in | grep -q \"$(openssl x509 -in a.crt -noout -fingerprint -sha256 | sed 's/.*=//')\""
check "after_change ran for the retirement" grep -q "web retire" changes.log

# --- holddown, a conflict, and the freeze alarm, on their own server
cp a.crt hold.crt && cp a.key hold.key && cp ab.sa hold.sa
"$EVC" serve --cert hold.crt --key hold.key --sa hold.sa --listen 127.0.0.1:$HPORT 2>hserve.log &
PIDS="$PIDS $!"
wait_for hserve.log "listening on" 5
cp a.crt hold.pem
cat >hold.ini <<EOF
[agent]
state = hold.db
[server "hold"]
connect = 127.0.0.1:$HPORT
service = web.test
trust = hold.pem
policy = holddown=2h
EOF
"$EVC" agent --config hold.ini --once >h1.out 2>&1
check "holddown: held, not written" sh -c "grep -q 'event=hold' h1.out && test $(ncerts hold.pem) = 1"
"$EVC" agent --config hold.ini --once --at "$(at '+1 hour')" >h2.out 2>&1
check "holddown: still held after 1 h of 2" test "$(ncerts hold.pem)" = 1
cp ac.sa hold.sa.tmp && mv hold.sa.tmp hold.sa
wait_for hserve.log "SA generation 1" 5
sleep 1.2
"$EVC" agent --config hold.ini --once --at "$(at '+70 minutes')" >h3.out 2>&1
check "holddown: another SA for the generation is a conflict" grep -q "event=conflict" h3.out
check "holddown: the conflict is exit status 1" test $? = 0 -a "$(grep -c CONFLICT h3.out)" -ge 1
"$EVC" agent --config hold.ini --once --at "$(at '+150 minutes')" >h4.out 2>&1
check "holddown: the clock restarted (2 h from the new SA, not the first)" test "$(ncerts hold.pem)" = 1
"$EVC" agent --config hold.ini --once --at "$(at '+200 minutes')" >h5.out 2>&1
check "holddown: written once the new SA has been seen 2 h" sh -c "test $(ncerts hold.pem) = 2 && openssl verify -CAfile hold.pem c.crt"

# Freeze: a trusted certificate inside its threshold with no successor.
"$EVC" selfsign --cn web.test --san DNS:web.test --days 10 --out-cert f.crt --out-key f.key >/dev/null
"$EVC" serve --cert f.crt --key f.key --listen 127.0.0.1:$FPORT 2>fserve.log &
PIDS="$PIDS $!"
wait_for fserve.log "listening on" 5
cp f.crt freeze.pem
cat >freeze.ini <<EOF
[agent]
state = freeze.db
[server "frozen"]
connect = 127.0.0.1:$FPORT
service = web.test
trust = freeze.pem
EOF
"$EVC" agent --config freeze.ini --once >f1.out 2>&1
check "no freeze alarm early in the life" test $? = 0
# Lives 10 days: renewed at 5 days (half), told after a quarter of the 5 days left as grace.
"$EVC" agent --config freeze.ini --once --at "$(at '+6 days')" >f2.out 2>&1
check "no freeze alarm inside the grace after the renewal moment" test $? = 0
"$EVC" agent --config freeze.ini --once --at "$(at '+6 days 8 hours')" >f2.out 2>&1
check "the freeze alarm: exit 1" test $? = 1
check "the freeze alarm says why" grep -q "FREEZE for frozen" f2.out
# A mail that cannot be sent is tried again by the next run; the line is not told again.
printf '[notify]\nemail_to = ops@example.org@127.0.0.1:1\nemail_from = agent@example.org\n' >>freeze.ini
"$EVC" agent --config freeze.ini --once --at "$(at '+6 days 9 hours')" >f3.out 2>&1
check "freeze mail: not sent, the next round retries" sh -c "test $? = 1 && grep -q 'mail not sent (the next round retries)' f3.out && ! grep -q FREEZE f3.out"
"$EVC" agent --config freeze.ini --once --at "$(at '+6 days 10 hours')" >f4.out 2>&1
check "freeze mail: retried by the next run, the line still told once" sh -c "grep -q 'mail not sent (the next round retries)' f4.out && ! grep -q FREEZE f4.out"

# --- servers that misbehave on the push channel: dropped with a reason, the others go on
cat >bad.py <<'EOF'
import socket, ssl, sys, time, threading
mode, port, cert, key, sa = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
data = open(sa, "rb").read()
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        if mode == "garbage":
            t.sendall(b"\x17" * (1 << 20))
        elif mode == "slow":
            t.sendall(data[:100]); time.sleep(30)
        elif mode == "half":
            t.sendall(data[: len(data) // 2]); t.close(); return
        time.sleep(30)
    except Exception:
        pass
deadline = time.time() + 120
s.settimeout(1)
while time.time() < deadline:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
python3 bad.py garbage $GPORT a.crt a.key ab.sa &
PIDS="$PIDS $!"
python3 bad.py slow $SPORT a.crt a.key ab.sa &
PIDS="$PIDS $!"
python3 bad.py half $CPORT a.crt a.key ab.sa &
PIDS="$PIDS $!"
sleep 1
for s in garbage slow half good; do cp a.crt $s.pem; done
{
    echo "[agent]"
    echo "state = bad.db"
    for s in garbage:$GPORT slow:$SPORT half:$CPORT good:$APORT; do
        printf '[server "%s"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = %s.pem\nannounce = 127.0.0.1:%s\nsources = push\n' \
            "${s%%:*}" "${s#*:}" "${s%%:*}" "${s#*:}"
    done
} >bad.ini
"$EVC" agent --config bad.ini --once >bad.out 2>&1
check "garbage: dropped, not a DER SEQUENCE" grep -q "server=garbage push channel dropped: not an SA: first byte 0x17" bad.out
check "half an SA then close: dropped" grep -q "server=half push channel dropped: closed after .* bytes of an SA" bad.out
check "a slow sender: dropped" grep -q "server=slow push channel dropped: an SA did not arrive whole" bad.out
check "the good server's SA is still applied" openssl verify -CAfile good.pem b.crt
check "the bad ones wrote nothing" sh -c "for s in garbage slow half; do test \$(grep -c BEGIN \$s.pem) = 1 || exit 1; done"
# As a service: a slow-loris reader is dropped after 10 s, and the agent goes on.
"$EVC" agent --config bad.ini >svc.out 2>&1 &
SVC=$!
PIDS="$PIDS $SVC"
check "service: the slow sender is dropped after 10 s" wait_for svc.out "server=slow push channel dropped: sent 100 bytes of an SA, not all of it within 10 s" 15
check "service: a second agent on the same state is refused" sh -c "'$EVC' agent --config bad.ini 2>&1 | grep -q 'another evercert agent runs on this state'"
cp bad.ini bad.ini.good && echo "nonsense" >>bad.ini
kill -HUP $SVC
check "service: a bad configuration on SIGHUP is refused, the old one kept" wait_for svc.out "reload refused" 5
cp bad.ini.good bad.ini
kill -TERM $SVC
i=0; while kill -0 $SVC 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "service: SIGTERM stops it" sh -c "! kill -0 $SVC 2>/dev/null"

# --- the push channel across a swap: the SA comes on the open session, the next session succeeds
# The agent trusts a, the server's certificate now, and learns b from it.
cp a.crt live-trust.pem
cat >live.ini <<EOF
[agent]
state = live.db
[server "web"]
connect = 127.0.0.1:$PORT
service = web.test
trust = live-trust.pem
announce = 127.0.0.1:$APORT
interval = 1h
EOF
"$EVC" agent --config live.ini >live.out 2>&1 &
LIVE=$!
PIDS="$PIDS $LIVE"
check "the push channel opens to the server it trusts" wait_for live.out "push channel open" 10
check "it learns b first" wait_for live.out "event=accept reason=ok generation=1" 10
# The server moves to b and publishes b -> c; the open session carries it.
cp b.key live.key.tmp && cp b.crt live.crt.tmp && cp bc.sa live.sa.tmp
mv live.key.tmp live.key && mv live.crt.tmp live.crt && mv live.sa.tmp live.sa
check "the SA for c arrives on the session opened before the swap" wait_for live.out "event=accept reason=ok generation=2 source=push" 10
check "the trust store holds c before the server uses it" openssl verify -CAfile live-trust.pem c.crt
cp c.key live.key.tmp && cp c.crt live.crt.tmp && mv live.key.tmp live.key && mv live.crt.tmp live.crt
wait_for serve.log "serving $(openssl x509 -in c.crt -outform DER | sha256sum | cut -c1-64)" 5
check "the next new session (curl, the agent's bundle) succeeds" curl -sSf --cacert live-trust.pem --resolve web.test:$PORT:127.0.0.1 https://web.test:$PORT/
kill $LIVE

# --- crash at every write step: the store always parses and holds the current certificate
n=1
crashes=0
broken=0
while [ $n -le 60 ]; do
    rm -rf cr && mkdir cr && cp a.crt cr/bundle.pem && mkdir cr/dir && cp a.crt cr/dir/a.pem && openssl rehash cr/dir 2>/dev/null
    cp trust.p12 cr/t.p12 2>/dev/null
    openssl pkcs12 -export -nokeys -in a.crt -out cr/t.p12 -passout pass:changeit
    cat >cr/c.ini <<EOF
[agent]
state = s.db
[server "b"]
connect = 127.0.0.1:$HPORT
service = web.test
trust = bundle.pem
[server "d"]
connect = 127.0.0.1:$HPORT
service = web.test
trust = dir
[server "p"]
connect = 127.0.0.1:$HPORT
service = web.test
trust = t.p12
password_file = ../p12.pass
EOF
    EVERCERT_FAULT_AT=$n "$EVC" agent --config cr/c.ini --once >/dev/null 2>&1
    st=$?
    openssl verify -CAfile cr/bundle.pem a.crt >/dev/null 2>&1 || broken=$((broken + 1))
    openssl verify -CApath cr/dir a.crt >/dev/null 2>&1 || broken=$((broken + 1))
    openssl pkcs12 -in cr/t.p12 -nokeys -passin pass:changeit 2>/dev/null | openssl verify -CAfile /dev/stdin a.crt >/dev/null 2>&1 || broken=$((broken + 1))
    [ $st = 99 ] || break
    crashes=$((crashes + 1))
    # The next run finishes the write: all three stores hold the successor, applied once.
    "$EVC" agent --config cr/c.ini --once >/dev/null 2>&1
    openssl verify -CAfile cr/bundle.pem a.crt >/dev/null 2>&1 && openssl verify -CAfile cr/bundle.pem c.crt >/dev/null 2>&1 && \
        openssl verify -CApath cr/dir c.crt >/dev/null 2>&1 && \
        [ "$(openssl pkcs12 -in cr/t.p12 -nokeys -passin pass:changeit 2>/dev/null | grep -c BEGIN)" = 2 ] || { broken=$((broken + 1)); echo "step $n: not finished" >&2; }
    n=$((n + 1))
done
echo "crash test: $crashes crash points, $broken broken" >&2
check "crash test: every step of the writes was hit" test $crashes -ge 6
check "crash test: every store parsed, held the current certificate, and was finished" test $broken = 0

# --- an SA's anchors never plant a root
# The holder of a pinned self-signed key announces a successor under a new
# "Evil Root" and carries that root and an unrelated one as anchors. No
# policy may take them: afterwards OpenSSL must still refuse a bank's
# certificate issued by Evil Root, and every trust store is unchanged.
EPORT=$((PORT + 9)) RPORT=$((PORT + 10))
"$EVC" selfsign --cn svc.test --san DNS:svc.test --days 30 --out-cert svc.crt --out-key svc.key >/dev/null
"$EVC" ca init --out evilroot --subject "CN=Evil Root" >/dev/null
"$EVC" ca init --out otherroot --subject "CN=Other Root" >/dev/null
"$EVC" issue --ca evilroot --cn svc.test --san DNS:svc.test --days 30 --out-cert evsucc.crt --out-key evsucc.key >/dev/null
"$EVC" issue --ca evilroot --cn www.bank.test --san DNS:www.bank.test --days 30 --out-cert bank.crt --out-key bank.key >/dev/null
"$EVC" announce --current svc.crt --current-key svc.key --successor evsucc.crt --successor-key evsucc.key \
    --service svc.test --generation 1 --activate-at "$(at '+1 hour')" \
    --anchor evilroot/ca.crt --anchor otherroot/ca.crt --out evil.sa
"$EVC" serve --cert svc.crt --key svc.key --sa evil.sa --listen 127.0.0.1:$EPORT 2>eserve.log &
PIDS="$PIDS $!"
check "anchors: the announcing server starts" wait_for eserve.log "listening on" 5
{
    echo "[agent]"
    echo "state = evil.db"
    for p in auto manual holddown=1h ca; do
        n=${p%%=*}
        cp svc.crt evil-$n.pem && cp svc.crt evil-$n.before
        printf '[server "evil-%s"]\nconnect = 127.0.0.1:%s\nservice = svc.test\ntrust = evil-%s.pem\npolicy = %s\n' \
            "$n" $EPORT "$n" "$p"
    done
} >evil.ini
"$EVC" agent --config evil.ini --once >evil.out 2>&1
check "anchors: the rejection is exit status 1" test $? = 1
# Past the hold-down and the activation: still nothing.
"$EVC" agent --config evil.ini --once --at "$(at '+2 hours')" >>evil.out 2>&1
for n in auto manual holddown ca; do
    check "anchors ($n): the trust store is byte-identical" cmp evil-$n.pem evil-$n.before
    check "anchors ($n): openssl verify of the bank's certificate fails" sh -c \
        "! openssl verify -CAfile evil-$n.pem -purpose sslserver -verify_hostname www.bank.test bank.crt"
done
for n in auto manual holddown; do
    check "anchors ($n): rejected as anchors-under-pin" grep -q "server=evil-$n event=reject reason=anchors-under-pin" evil.out
done
check "anchors (ca): rejected, the unrelated root is not needed" grep -q "server=evil-ca event=reject reason=anchor-unneeded" evil.out
"$EVC" pending --config evil.ini --format json >evil-pending.json
check "anchors: nothing waits for approval" test "$(jq length evil-pending.json)" = 0

# A real CA rollover under policy ca: the new root comes with a link from the old one.
"$EVC" ca init --out oldroot --subject "CN=Old Root" >/dev/null
"$EVC" ca init --out newroot --subject "CN=New Root" >/dev/null
"$EVC" issue --ca oldroot --cn svc.test --san DNS:svc.test --days 30 --out-cert rcur.crt --out-key rcur.key >/dev/null
"$EVC" issue --ca newroot --cn svc.test --san DNS:svc.test --days 30 --out-cert rnext.crt --out-key rnext.key >/dev/null
openssl x509 -x509toreq -in newroot/ca.crt -signkey newroot/ca.key -out newroot.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >link.ext
openssl x509 -req -in newroot.csr -CA oldroot/ca.crt -CAkey oldroot/ca.key -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -extfile link.ext -out rlink.crt 2>/dev/null
"$EVC" announce --current rcur.crt --current-key rcur.key --successor rnext.crt --successor-key rnext.key \
    --service svc.test --generation 1 --activate-at "$(at '+1 hour')" \
    --anchor newroot/ca.crt --link rlink.crt --out roll.sa
cat rcur.crt oldroot/ca.crt >rcur-chain.crt
"$EVC" serve --cert rcur-chain.crt --key rcur.key --sa roll.sa --listen 127.0.0.1:$RPORT 2>rserve.log &
PIDS="$PIDS $!"
check "rollover: the server starts" wait_for rserve.log "listening on" 5
for n in ca auto; do cp oldroot/ca.crt roll-$n.pem && cp oldroot/ca.crt roll-$n.before; done
printf '[agent]\nstate = roll.db\n[server "roll-ca"]\nconnect = 127.0.0.1:%s\nservice = svc.test\ntrust = roll-ca.pem\npolicy = ca\n[server "roll-auto"]\nconnect = 127.0.0.1:%s\nservice = svc.test\ntrust = roll-auto.pem\n' \
    $RPORT $RPORT >roll.ini
"$EVC" agent --config roll.ini --once >roll.out 2>&1
check "rollover (ca): accepted with the new root" grep -q "server=roll-ca event=accept reason=ok" roll.out
check "rollover (ca): the store holds the old root and the new one, nothing else" sh -c \
    "test $(ncerts roll-ca.pem) = 2 && openssl verify -CAfile roll-ca.pem newroot/ca.crt && openssl verify -CAfile roll-ca.pem -purpose sslserver -verify_hostname svc.test rnext.crt"
check "rollover (ca): the link itself is not written" sh -c \
    "! grep -qF \"$(sed -n 2p rlink.crt)\" roll-ca.pem"
check "rollover (auto): a pinned store takes no root, even a linked one" sh -c \
    "cmp roll-auto.pem roll-auto.before && grep -q 'server=roll-auto event=reject reason=anchors-under-pin' roll.out"
# A crash at each step of the rollover's write: the next start finishes it under policy ca.
n=1
rcrashes=0
rbroken=0
while [ $n -le 30 ]; do
    rm -rf rc && mkdir rc && cp oldroot/ca.crt rc/t.pem
    printf '[agent]\nstate = s.db\n[server "r"]\nconnect = 127.0.0.1:%s\nservice = svc.test\ntrust = t.pem\npolicy = ca\n' $RPORT >rc/c.ini
    EVERCERT_FAULT_AT=$n "$EVC" agent --config rc/c.ini --once >/dev/null 2>&1
    st=$?
    openssl verify -CAfile rc/t.pem rcur-chain.crt >/dev/null 2>&1 || rbroken=$((rbroken + 1))
    [ $st = 99 ] || break
    rcrashes=$((rcrashes + 1))
    "$EVC" agent --config rc/c.ini --once >rc/again.out 2>&1
    { [ "$(ncerts rc/t.pem)" = 2 ] && openssl verify -CAfile rc/t.pem -purpose sslserver rnext.crt >/dev/null 2>&1 &&
        ! grep -q "event=reject" rc/again.out; } || { rbroken=$((rbroken + 1)); echo "rollover step $n: not finished" >&2; cat rc/again.out >&2; }
    n=$((n + 1))
done
echo "rollover crash test: $rcrashes crash points, $rbroken broken" >&2
check "rollover crash test: the write was interrupted at least twice" test $rcrashes -ge 2
check "rollover crash test: every interrupted write was finished with the new root" test $rbroken = 0

# --- hostile peers: they can neither stall the agent nor grow its state
# Caps from the header the agent is built with.
cap() { sed -n "s/^#define $1 \([0-9]*\).*/\1/p" "$SRC/include/evercert/limits.h"; }
RMAX=$(cap EVC_AGENT_REFUSED_MAX)
BURST=$(cap EVC_AGENT_REJECT_LOG_BURST)
WINDOW=$(cap EVC_AGENT_REJECT_LOG_WINDOW_S)
# Ports from PORT + 40, clear of the other sections'.
XPORT=$((PORT + 40)) DPORT=$((PORT + 41)) WPORT=$((PORT + 42)) OPORT=$((PORT + 43))
UPORT=$((PORT + 44)) TPORT=$((PORT + 45)) O2PORT=$((PORT + 46)) U2PORT=$((PORT + 47))
GPORT2=$((PORT + 48))
cat >hostile.py <<'EOF'
import socket, ssl, sys, threading, time
mode, port, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3]
args = sys.argv[4:]
def tweak(d, i):
    # The last bytes are the second signer's signature: a copy that parses and does not verify.
    b = bytearray(d)
    b[-1] ^= i % 255 + 1
    b[-2] ^= (i // 255) % 256
    return bytes(b)
def note(what):
    with open(mark, "a") as f:
        f.write(what + "\n")
def serve(c):
    try:
        if mode == "drip-tls":  # a TLS record header, then its body a byte every 2 s
            note("accepted")
            c.sendall(b"\x16\x03\x03\x00\x50")
            for _ in range(80):
                time.sleep(2)
                c.sendall(b"\x00")
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[0], args[1])
        t = ctx.wrap_socket(c, server_side=True)
        note("accepted")
        if mode == "flood":  # tweaked copies of one SA, without end
            d = open(args[2], "rb").read()
            i = 0
            while True:
                t.sendall(tweak(d, i % 60000))
                i += 1
        elif mode == "tweaks":  # N tweaked copies, M copies of one of them, then the SA itself
            d = open(args[2], "rb").read()
            n, m = int(args[3]), int(args[4])
            t.sendall(b"".join(tweak(d, i) for i in range(n)))
            t.sendall(tweak(d, 0) * m)
            t.sendall(d)
            note("sent")
        elif mode == "objects":  # these files back to back
            t.sendall(b"".join(open(p, "rb").read() for p in args[2:]))
            note("sent")
        elif mode in ("https", "drip-http"):
            req = b""
            while b"\r\n\r\n" not in req:
                got = t.recv(4096)
                if not got:
                    return
                req += got
            note("request")
            if mode == "https":
                body = open(args[2], "rb").read()
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
                t.close()
                return
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                time.sleep(2)
                t.sendall(b"\x30")
        time.sleep(60)
    except Exception:
        pass
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
deadline = time.time() + 300
s.settimeout(1)
while time.time() < deadline:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
# A server section: NAME PORT SOURCE, trusting a.crt.
hsrv() {
    printf '[server "%s"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = %s.pem\nsources = %s\n' "$1" "$2" "$1" "$3"
    [ "$3" = push ] && printf 'announce = 127.0.0.1:%s\n' "$2"
    [ "$3" = url ] && printf 'url = https://web.test/.well-known/evercert/successor\n'
    cp a.crt "$1.pem"
}
# SIGTERM; the process must be gone within 20 x 0.1 s.
gone_after_term() {
    kill -TERM "$1"
    i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    ! kill -0 "$1" 2>/dev/null
}
sql() { python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }
python3 hostile.py flood $XPORT flood.mark a.crt a.key ab.sa &
PIDS="$PIDS $!"
python3 hostile.py drip-tls $DPORT drip.mark &
PIDS="$PIDS $!"
python3 hostile.py drip-http $WPORT driphttp.mark a.crt a.key &
PIDS="$PIDS $!"
python3 hostile.py objects $GPORT2 goodpush.mark a.crt a.key ab.sa &
PIDS="$PIDS $!"
sleep 1

# A dripping handshake is given up at its deadline, not kept alive a byte at a time.
{ printf '[agent]\nstate = drip1.db\n'; hsrv dripper $DPORT push; } >drip1.ini
timeout 60 "$EVC" agent --config drip1.ini --once >drip1.out 2>&1
check "deadline: a push handshake dripping a byte every 2 s ends, not killed by timeout" test $? != 124
check "deadline: the reason names the server and the deadline" grep -q "server=dripper push channel not reached: 127.0.0.1:$DPORT: TLS handshake not done within the deadline" drip1.out

# SIGTERM ends the agent at once, whatever a peer does, wherever it waits on one.
for h in "flood $XPORT push flood.mark accepted" "dripper $DPORT push drip.mark accepted" \
    "dripper $DPORT handshake drip.mark accepted" "driphttp $WPORT url driphttp.mark request"; do
    set -- $h
    : >"$4"
    {
        printf '[agent]\nstate = term-%s-%s.db\n' "$1" "$3"
        hsrv "$1" "$2" "$3"
        # Beside the flood, a server that sends one good SA.
        [ "$1" = flood ] && hsrv goodpush $GPORT2 push
    } >term.ini
    "$EVC" agent --config term.ini >"term-$1-$3.out" 2>&1 &
    TP=$!
    PIDS="$PIDS $TP"
    # Only a check once the agent is busy with the peer means anything.
    check "SIGTERM: the agent is at the $1 peer on $3" wait_for "$4" "$5" 10
    if [ "$1" = flood ]; then
        check "SIGTERM: the flood is being read" wait_for "term-$1-$3.out" "server=flood event=reject" 10
        check "a flood on one server does not starve another: its SA is applied" \
            wait_for "term-$1-$3.out" "server=goodpush event=accept reason=ok generation=1 source=push" 10
    fi
    sleep 0.5
    check "SIGTERM: the agent stops within 1 s with a $1 peer on $3" gone_after_term $TP
done

# The push channel reads one object at a time, to the byte: 64 KiB is 65,536 bytes.
obj() { # FILE SIZE FILL: a DER SEQUENCE of SIZE bytes, header included
    python3 -c "import sys; n = int(sys.argv[2]); h = b'\x30\x82' + (n - 4).to_bytes(2, 'big') if n - 4 < 65536 else b'\x30\x83' + (n - 5).to_bytes(3, 'big'); open(sys.argv[1], 'wb').write(h + bytes([int(sys.argv[3])]) * (n - len(h)))" "$@"
}
obj o1.der 60000 1 && obj o2.der 60000 2 && obj o3.der 60000 3 && obj o64k.der 65536 4 && obj o64k1.der 65537 5
python3 hostile.py objects $OPORT objects.mark a.crt a.key o1.der o2.der o3.der o64k.der ab.sa &
PIDS="$PIDS $!"
python3 hostile.py objects $O2PORT over.mark a.crt a.key o64k1.der &
PIDS="$PIDS $!"
python3 hostile.py https $UPORT url64k.mark a.crt a.key o64k.der &
PIDS="$PIDS $!"
python3 hostile.py https $U2PORT url64k1.mark a.crt a.key o64k1.der &
PIDS="$PIDS $!"
sleep 1
{ printf '[agent]\nstate = objs.db\n'; hsrv objs $OPORT push; hsrv over $O2PORT push; } >objs.ini
"$EVC" agent --config objs.ini >objs.out 2>&1 &
OP=$!
PIDS="$PIDS $OP"
check "framer: the SA after 3 x 60,000 and 65,536 bytes is read whole and accepted" wait_for objs.out "server=objs event=accept reason=ok generation=1 source=push" 15
check "framer: 3 x 60,000 bytes back to back are three objects, and 65,536 bytes one more" \
    test "$(grep -c 'server=objs event=reject reason=malformed' objs.out)" = 4
check "framer: none of them dropped the channel" sh -c "! grep -q 'server=objs push channel dropped' objs.out"
check "framer: 65,537 bytes are refused, naming the server and the cap" wait_for objs.out "server=over push channel dropped: an object of 65537 bytes, over the 65536-byte cap" 10
kill $OP
check "malformed SAs are told apart by the hash of their bytes" test "$(sql objs.db "SELECT count(DISTINCT sha256) FROM agent_sas WHERE server = 'objs' AND status = 'refused'")" = 4
{ printf '[agent]\nstate = url64.db\n'; hsrv u64k $UPORT url; hsrv u64k1 $U2PORT url; } >url64.ini
"$EVC" agent --config url64.ini --once >url64.out 2>&1
check "url: a body of 65,536 bytes is fetched and decided on" grep -q "server=u64k event=reject reason=malformed .*source=url" url64.out
check "url: 65,537 bytes are refused, naming the server and the cap" grep -q "server=u64k1 url not fetched.*over the SA's cap of 65536 bytes" url64.out

# A peer sending 2,000 signature-tweaked copies and 2,000 identical copies grows nothing.
python3 hostile.py tweaks $TPORT tweaks.mark a.crt a.key ab.sa 2000 2000 &
PIDS="$PIDS $!"
sleep 1
{ printf '[agent]\nstate = tweak.db\n'; hsrv tweak $TPORT push; } >tweak.ini
t0=$(date +%s)
"$EVC" agent --config tweak.ini >tweak.out 2>&1 &
TW=$!
PIDS="$PIDS $TW"
check "flood: the SA after 4,000 bad copies is still applied" wait_for tweak.out "server=tweak event=accept reason=ok generation=1 source=push" 180
check "flood: SIGTERM stops it" gone_after_term $TW
t1=$(date +%s)
refused=$(sql tweak.db "SELECT count(*) FROM agent_sas WHERE server = 'tweak' AND status = 'refused'")
check "flood: the state keeps at most $RMAX refused SAs for the server (has $refused)" test "$refused" -le "$RMAX" -a "$refused" -gt 0
size=$(stat -c %s tweak.db)
check "flood: the state database stays small ($size bytes < 2 MB)" test "$size" -lt 2000000
lines=$(grep -c "server=tweak event=reject" tweak.out)
most=$(((BURST + 1) * ((t1 - t0) / WINDOW + 1)))
check "flood: rejection lines are rate-limited ($lines <= $most)" test "$lines" -le "$most"
check "flood: the held-back ones are counted in one line" grep -q "server=tweak event=reject reason=rate-limited .*refused SAs not logged one by one and .* repeats" tweak.out

# --- bad input
printf '[server "x"]\nconnect = nohost\n' >badcfg.ini
"$EVC" agent --config badcfg.ini --once 2>err.out
check "a bad configuration: exit 3, file:line" sh -c "test $? = 3 && grep -q 'badcfg.ini:2: connect: expected host:port' err.out"
printf '[agent]\nstate = m.db\n[server "x"]\nconnect = 127.0.0.1:%s\ntrust = missing.pem\n' $PORT >missing.ini
"$EVC" agent --config missing.ini --once 2>err.out
check "a missing trust store is named" sh -c "test $? = 2 && grep -q 'missing.pem' err.out"
printf '[agent]\nstate = p.db\n[server "x"]\nconnect = 127.0.0.1:%s\ntrust = bundle2.pem\ntrust_format = pin\n' $PORT >pin2.ini
cat a.crt b.crt >bundle2.pem
"$EVC" agent --config pin2.ini --once 2>err.out
check "a pin file with two certificates is refused" grep -q "a pin file holds one certificate, not 2" err.out

# --- a trust store keeps what evercert does not own ---------------------------
# A bundle reached through a symbolic link, 0640 and (as root) owned by 1:1,
# holding a comment, the current certificate, a root its owner marked to
# reject serverAuth (a TRUSTED CERTIFICATE) and a public key: the agent
# appends the successor and keeps every other byte, the link, the mode and
# the owner; the rejected root stays rejected for OpenSSL and for the agent.
# Ports of their own, past those the other sections use.
KPORT=$((PORT + 20)) JPORT=$((PORT + 21))
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$KPORT 2>kserve.log &
PIDS="$PIDS $!"
check "keep: serve starts" wait_for kserve.log "listening on 127.0.0.1:$KPORT" 5
"$EVC" ca init --out rroot --subject "CN=Rejected Root" >/dev/null
"$EVC" issue --ca rroot --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 \
    --out-cert rleaf.crt --out-key rleaf.key >/dev/null
openssl x509 -in rroot/ca.crt -addreject serverAuth -out rejected.pem
openssl s_server -accept 127.0.0.1:$JPORT -cert rleaf.crt -key rleaf.key -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
owner() { stat -c %u:%g "$1"; }
# make_kept DIR: DIR/real/kept.pem, 0640 (1:1 as root), and the link DIR/kept.pem to it
make_kept() {
    mkdir -p "$1/real"
    {
        echo "# web.test, kept by hand: the old root is never for TLS servers"
        cat a.crt
        echo
        echo "# the old root"
        cat rejected.pem
        openssl pkey -in a.key -pubout
        echo "# end"
    } >"$1/real/kept.pem"
    chmod 0640 "$1/real/kept.pem"
    [ $ROOT = 1 ] && chown 1:1 "$1/real/kept.pem"
    ln -s real/kept.pem "$1/kept.pem"
}
mkdir keep && make_kept keep && cp keep/real/kept.pem kept.orig
check "keep: OpenSSL rejects the marked root for a TLS server before" sh -c "! openssl verify -CAfile kept.orig -purpose sslserver rleaf.crt"
openssl x509 -in rroot/ca.crt -out rejplain.pem
check "keep: the same root without its mark is trusted (the check can fail)" openssl verify -CAfile rejplain.pem -purpose sslserver rleaf.crt
printf '[agent]\nstate = k.db\ndeleted = deleted\n[server "kept"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = kept.pem\n' $KPORT >keep/k.ini
mkdir keep/deleted
(cd keep && "$EVC" agent --config k.ini --once >../keep.out 2>&1)
check "keep: the agent wrote the successor" grep -q "server=kept event=accept" keep.out
check "keep: the store is still a link to the same file" test "$(readlink keep/kept.pem)" = real/kept.pem
check "keep: the file is 0640" test "$(stat -c %a keep/real/kept.pem)" = 640
[ $ROOT = 1 ] && check "keep: the file is still owned by 1:1" test "$(owner keep/real/kept.pem)" = 1:1
check "keep: every byte that was there is there, in order" cmp -n "$(stat -c %s kept.orig)" kept.orig keep/real/kept.pem
check "keep: the successor is appended, and nothing else" sh -c "tail -c +$(($(stat -c %s kept.orig) + 1)) keep/real/kept.pem | cmp - b.crt"
check "keep: the rejected root still fails for a TLS server" sh -c "! openssl verify -CAfile keep/kept.pem -purpose sslserver rleaf.crt"
check "keep: the successor verifies" openssl verify -CAfile keep/kept.pem -purpose sslserver b.crt
check "keep: no temporary file is left" test -z "$(ls -A keep/real keep | grep '\.tmp')"
# Retirement cuts the old certificate's block and nothing else.
(cd keep && "$EVC" agent --config k.ini --once --at "$(at '+31 days')" >../keep2.out 2>&1)
awk '/^-----BEGIN CERTIFICATE-----$/ && !done {skip=1} !skip {print} skip && /^-----END CERTIFICATE-----$/ {skip=0; done=1}' kept.orig >kept.cut
cat b.crt >>kept.cut
check "keep: retiring the predecessor cuts exactly its block" cmp kept.cut keep/real/kept.pem
check "keep: after the retirement the link, mode and mark are kept" sh -c "test -L keep/kept.pem && test \$(stat -c %a keep/real/kept.pem) = 640 && ! openssl verify -CAfile keep/kept.pem -purpose sslserver rleaf.crt"
[ $ROOT = 1 ] && check "keep: and the owner" test "$(owner keep/real/kept.pem)" = 1:1

# The agent's own trust checks honour the mark: a server whose chain ends at
# the marked root does not verify, and the same root without it does.
printf '[agent]\nstate = rj.db\n[server "rej"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = rejected.pem\n' $JPORT >rej.ini
"$EVC" agent --config rej.ini --once >rej.out 2>&1
check "keep: the agent does not verify a server under a root marked to reject serverAuth" grep -q "server=rej at 127.0.0.1:$JPORT does not verify.*rejected" rej.out
printf '[agent]\nstate = rp.db\n[server "rej"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = rejplain.pem\n' $JPORT >rejp.ini
"$EVC" agent --config rejp.ini --once >rejp.out 2>&1
check "keep: without the mark the agent verifies it (the check can fail)" sh -c "! grep -q 'does not verify' rejp.out"

# Under policy = ca the SA's check against the store honours the mark too: a
# successor issued by the marked root chains to no anchor.
CAPORT=$((PORT + 22))
"$EVC" ca init --out groot --subject "CN=Good Root" >/dev/null
"$EVC" issue --ca groot --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 \
    --out-cert gcur.crt --out-key gcur.key >/dev/null
"$EVC" issue --ca rroot --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 \
    --out-cert gnext.crt --out-key gnext.key >/dev/null
"$EVC" announce --current gcur.crt --current-key gcur.key --successor gnext.crt --successor-key gnext.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out gg.sa
"$EVC" serve --cert gcur.crt --key gcur.key --sa gg.sa --listen 127.0.0.1:$CAPORT 2>caserve.log &
PIDS="$PIDS $!"
check "keep: the ca server starts" wait_for caserve.log "listening on 127.0.0.1:$CAPORT" 5
cat groot/ca.crt rejected.pem >caj.pem
cat groot/ca.crt rejplain.pem >cap.pem
for s in caj cap; do
    printf '[agent]\nstate = %s.db\n[server "%s"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = %s.pem\npolicy = ca\n' $s $s $CAPORT $s >$s.ini
    "$EVC" agent --config $s.ini --once >$s.out 2>&1
done
check "keep: policy ca refuses a successor under the marked root" sh -c "grep -q 'server=caj event=reject' caj.out && ! grep -q 'event=accept' caj.out"
check "keep: and accepts it under the same root unmarked (the check can fail)" grep -q "server=cap event=accept" cap.out

# A PKCS#12 truststore made by keytool: its aliases stay.
if command -v keytool >/dev/null; then
    keytool -importcert -noprompt -alias web -file a.crt -keystore kept.p12 -storetype PKCS12 -storepass changeit >/dev/null 2>&1
    keytool -importcert -noprompt -alias oldroot -file rroot/ca.crt -keystore kept.p12 -storetype PKCS12 -storepass changeit >/dev/null 2>&1
    chmod 0640 kept.p12
    printf '[agent]\nstate = kp.db\n[server "p12"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = kept.p12\npassword_file = p12.pass\n' $KPORT >kp.ini
    "$EVC" agent --config kp.ini --once >kp.out 2>&1
    keytool -list -keystore kept.p12 -storepass changeit >kp.list 2>&1
    check "keep: keytool lists three trusted entries" test "$(grep -c trustedCertEntry kp.list)" = 3
    check "keep: keytool still lists the aliases web and oldroot" sh -c "grep -q '^web,' kp.list && grep -q '^oldroot,' kp.list"
    check "keep: the new entry has an alias of its own" grep -q '^evercert-[0-9a-f]\{16\},' kp.list
    check "keep: the PKCS#12 file is still 0640" test "$(stat -c %a kept.p12)" = 640
else
    echo "SKIP: keytool not installed (apt-get install default-jre-headless): PKCS#12 aliases not checked" >&2
fi

# Crash at every step of that write: the file is the old one byte for byte,
# or the finished one, and keeps its link, mode and owner either way.
n=1
kcrashes=0
kbroken=0
cat kept.orig b.crt >kept.done
while [ $n -le 40 ]; do
    rm -rf kc && mkdir kc && make_kept kc && mkdir kc/deleted && cp keep/k.ini kc/k.ini
    (cd kc && EVERCERT_FAULT_AT=$n "$EVC" agent --config k.ini --once >/dev/null 2>&1)
    st=$?
    { cmp -s kept.orig kc/real/kept.pem || cmp -s kept.done kc/real/kept.pem; } || { kbroken=$((kbroken + 1)); echo "step $n: neither the old file nor the new" >&2; }
    { test "$(readlink kc/kept.pem)" = real/kept.pem && test "$(stat -c %a kc/real/kept.pem)" = 640; } || { kbroken=$((kbroken + 1)); echo "step $n: link or mode lost" >&2; }
    [ $ROOT = 1 ] && { test "$(owner kc/real/kept.pem)" = 1:1 || { kbroken=$((kbroken + 1)); echo "step $n: owner lost" >&2; }; }
    [ $st = 99 ] || break
    kcrashes=$((kcrashes + 1))
    (cd kc && "$EVC" agent --config k.ini --once >/dev/null 2>&1)
    cmp -s kept.done kc/real/kept.pem || { kbroken=$((kbroken + 1)); echo "step $n: not finished by the next run" >&2; }
    n=$((n + 1))
done
echo "keep crash test: $kcrashes crash points, $kbroken broken" >&2
check "keep: every step of the write was hit" test $kcrashes -ge 3
check "keep: a crash at any step kept the old bytes or the new, the link, the mode and the owner" test $kbroken = 0

# --- pending shows a successor's subject made by the SA's maker: escaped on a terminal, valid JSON
mkdir -p hostile && cd hostile || exit 1
ESCB=$(printf '\033')
"$EVC" selfsign --cn web.test --san DNS:web.test --days 30 --out-cert h0.crt --out-key h0.key >/dev/null
"$EVC" selfsign --cn "web${ESCB}[2J${ESCB}]0;owned${ESCB}\\" --san DNS:web.test --days 30 \
    --out-cert h1.crt --out-key h1.key >/dev/null
"$EVC" announce --current h0.crt --current-key h0.key --successor h1.crt --successor-key h1.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out h.sa >/dev/null
"$EVC" serve --cert h0.crt --key h0.key --sa h.sa --listen 127.0.0.1:$((PORT + 60)) 2>serve.log &
PIDS="$PIDS $!"
check "hostile subject: serve starts" wait_for serve.log "listening on 127.0.0.1:$((PORT + 60))" 5
cp h0.crt h.pem
printf '[agent]\nstate = h.db\n[server "h"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = h.pem\npolicy = manual\n' \
    $((PORT + 60)) >h.ini
"$EVC" agent --config h.ini --once >/dev/null 2>&1
"$EVC" pending --config h.ini >pending.txt 2>&1
check "hostile subject: pending lists it" grep -q "generation 1" pending.txt
check "hostile subject: no ESC reaches the terminal" sh -c "! grep -q \"\$(printf '\\033')\" pending.txt"
check "hostile subject: shown escaped" grep -qF 'CN=web\\1B[2J' pending.txt
"$EVC" pending --config h.ini --format json >pending.json
check "hostile subject: the JSON parses and holds the subject" jq -e '.[0].subject | test("web")' pending.json

# --- an SA that comes by push alone, under manual and hold-down: approved and written
"$EVC" serve --cert h0.crt --key h0.key --sa h.sa --listen 127.0.0.1:$((PORT + 61)) \
    --announce-listen 127.0.0.1:$((PORT + 62)) 2>pserve.log &
PIDS="$PIDS $!"
check "push alone: serve starts" wait_for pserve.log "listening on 127.0.0.1:$((PORT + 61))" 5
cp h0.crt pm.pem && cp h0.crt ph.pem
cat >p.ini <<EOF
[agent]
state = p.db
[server "pm"]
connect = 127.0.0.1:$((PORT + 61))
service = web.test
trust = pm.pem
policy = manual
sources = push
announce = 127.0.0.1:$((PORT + 62))
[server "ph"]
connect = 127.0.0.1:$((PORT + 61))
service = web.test
trust = ph.pem
policy = holddown=1h
sources = push
announce = 127.0.0.1:$((PORT + 62))
EOF
"$EVC" agent --config p.ini --once >p1.out 2>&1
PID=$("$EVC" pending --config p.ini --format json | jq -r '.[] | select(.server == "pm") | .id')
check "push alone: manual queues it" test -n "$PID"
check "push alone: a person's approval writes it" "$EVC" approve --config p.ini "$PID"
check "push alone: the store holds the successor" sh -c "test $(ncerts pm.pem) = 2"
"$EVC" agent --config p.ini --once --at "$(at '+40 minutes')" >p2.out 2>&1
"$EVC" agent --config p.ini --once --at "$(at '+70 minutes')" >p3.out 2>&1
check "push alone: the hold-down ends in a write, not a refusal" sh -c "test $(ncerts ph.pem) = 2 && ! grep -q 'event=reject' p3.out"

# --- a pinned store takes only a leaf that signs itself: a CA-issued successor is a rejection
"$EVC" ca init --out other-ca --subject "CN=Other Root" >/dev/null
"$EVC" issue --ca other-ca --cn web.test --san DNS:web.test --days 30 --out-cert hs.crt --out-key hs.key >/dev/null
"$EVC" announce --current h0.crt --current-key h0.key --successor hs.crt --successor-key hs.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out hs.sa >/dev/null
"$EVC" serve --cert h0.crt --key h0.key --sa hs.sa --listen 127.0.0.1:$((PORT + 63)) 2>cserve.log &
PIDS="$PIDS $!"
check "issued successor: serve starts" wait_for cserve.log "listening on 127.0.0.1:$((PORT + 63))" 5
cp h0.crt hb.pem && cp hb.pem hb.orig
printf '[agent]\nstate = hb.db\n[server "hb"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = hb.pem\n' \
    $((PORT + 63)) >hb.ini
"$EVC" agent --config hb.ini --once >hb.out 2>&1
st=$?
check "issued successor: a rule's rejection, exit 1 (not unreachable)" test $st = 1
check "issued successor: refused as no-anchor" grep -q "server=hb event=reject reason=no-anchor" hb.out
check "issued successor: the store is byte-identical" cmp -s hb.pem hb.orig
check "issued successor: inspect with the store says the same" sh -c "'$EVC' inspect hs.sa --trusted h0.crt --trust-store hb.pem; test \$? = 2"
cd "$T" || exit 1

# --- the freeze alarm across an activation: the new certificate's own renewal moment counts
# zo has lived 5 of its 10 days (renewed now); zn is its successor, from now, switched to in 1 h.
ZPORT=$((PORT + 70))
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 10 --at "$(at '-5 days')" \
    --out-cert zo.crt --out-key zo.key >/dev/null
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 10 --out-cert zn.crt --out-key zn.key >/dev/null
# zm is made when zn renews, so its own renewal moment is 5 days after that.
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 10 --at "$(at '+6 days')" \
    --out-cert zm.crt --out-key zm.key >/dev/null
"$EVC" announce --current zo.crt --current-key zo.key --successor zn.crt --successor-key zn.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out zon.sa >/dev/null
"$EVC" announce --current zn.crt --current-key zn.key --successor zm.crt --successor-key zm.key \
    --service web.test --generation 2 --activate-at "$(at '+8 days')" --out znm.sa >/dev/null
cp zo.crt z.crt && cp zo.key z.key && cp zon.sa z.sa && cp zo.crt z.pem
"$EVC" serve --cert z.crt --key z.key --sa z.sa --listen 127.0.0.1:$ZPORT 2>zserve.log &
PIDS="$PIDS $!"
check "activation: serve starts" wait_for zserve.log "listening on 127.0.0.1:$ZPORT" 5
printf '[agent]\nstate = z.db\n[server "z"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = z.pem\n' \
    $ZPORT >z.ini
"$EVC" agent --config z.ini --once >z1.out 2>&1
check "activation: the successor is accepted, exit 0" sh -c "test $? = 0 && grep -q 'server=z event=accept' z1.out"
# Past activate_at the agent switches; the server still presents zo (it swaps on its own pass).
for n in 2 3 4 5; do
    "$EVC" agent --config z.ini --once --at "$(at "+$n hours")" >z$n.out 2>&1
    echo $? >z$n.st
done
check "activation: the agent switched" grep -q "server=z event=activate" z2.out
check "activation: the old certificate still served is no FREEZE" sh -c "! grep -q FREEZE z2.out z3.out z4.out z5.out"
check "activation: every run after it exits 0" test "$(cat z2.st z3.st z4.st z5.st | tr -d '\n')" = 0000
# The server swaps to zn: still no alarm.
cp zn.key z.key.tmp && cp zn.crt z.crt.tmp && mv z.key.tmp z.key && mv z.crt.tmp z.crt
wait_for zserve.log "serving $(openssl x509 -in zn.crt -outform DER | sha256sum | cut -c1-64)" 5
"$EVC" agent --config z.ini --once --at "$(at '+6 hours')" >z6.out 2>&1
check "activation: the server on the successor, exit 0, no FREEZE" sh -c "test $? = 0 && ! grep -q FREEZE z6.out"
# zn renews at 5 days; past a quarter of the 5 days left as grace with no SA, the alarm.
"$EVC" agent --config z.ini --once --at "$(at '+6 days')" >z7.out 2>&1
check "freeze: not before the moment plus grace" sh -c "test $? = 0 && ! grep -q FREEZE z7.out"
"$EVC" agent --config z.ini --once --at "$(at '+6 days 7 hours')" >z8.out 2>&1
st=$?
check "freeze: past the moment plus grace, one FREEZE line, exit 1" sh -c "test $st = 1 && test \$(grep -c 'FREEZE for z:' z8.out) = 1"
check "freeze: the line names the certificate and the moment" grep -q "FREEZE for z: certificate $(openssl x509 -in zn.crt -outform DER | sha256sum | cut -c1-16) is past its renewal moment" z8.out
for n in 9 10; do
    "$EVC" agent --config z.ini --once --at "$(at "+6 days $n hours")" >z$n.out 2>&1
    echo $? >z$n.st
done
check "freeze: repeated runs (new processes) do not repeat the line" sh -c "! grep -q FREEZE z9.out z10.out"
check "freeze: while it stands --once still exits 1" test "$(cat z9.st z10.st | tr -d '\n')" = 11
# The server publishes zn -> zm: the alarm is cleared, once.
cp znm.sa z.sa.tmp && mv z.sa.tmp z.sa
wait_for zserve.log "SA generation 2" 5
sleep 1.2
"$EVC" agent --config z.ini --once --at "$(at '+6 days 11 hours')" >z11.out 2>&1
st=$?
check "freeze: an SA clears it, exit 0" sh -c "test $st = 0 && grep -q 'FREEZE for z cleared: a successor has come' z11.out"
"$EVC" agent --config z.ini --once --at "$(at '+6 days 12 hours')" >z12.out 2>&1
check "freeze: cleared once" sh -c "test $? = 0 && ! grep -q FREEZE z12.out"

# --- manual approval: the operator is told when the server switches, and --once escalates
MPORT2=$((PORT + 71)) SMTP2=$((PORT + 72))
for n in ma mb; do
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 10 --out-cert $n.crt --out-key $n.key >/dev/null
done
ACT=$(at '+4 hours')
"$EVC" announce --current ma.crt --current-key ma.key --successor mb.crt --successor-key mb.key \
    --service web.test --generation 1 --activate-at "$ACT" --out mab.sa >/dev/null
"$EVC" serve --cert ma.crt --key ma.key --sa mab.sa --listen 127.0.0.1:$MPORT2 2>mserve.log &
PIDS="$PIDS $!"
check "approval: serve starts" wait_for mserve.log "listening on 127.0.0.1:$MPORT2" 5
cp ma.crt ma.pem
printf '[agent]\nstate = ma.db\n[server "m"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = ma.pem\npolicy = manual\n' \
    $MPORT2 >ma.ini
HAVE_SMTPD=0
if python3 -c 'import smtpd' 2>/dev/null; then
    HAVE_SMTPD=1
    python3 -W ignore -m smtpd -n -c DebuggingServer 127.0.0.1:$SMTP2 >smtp2.log 2>&1 &
    PIDS="$PIDS $!"
    sleep 0.5
    printf '[notify]\nemail_to = ops@example.org@127.0.0.1:%s\nemail_from = agent@example.org\n' $SMTP2 >>ma.ini
else
    echo "SKIP: the approval mails: python3 has no smtpd module" >&2
fi
"$EVC" agent --config ma.ini --once >ma1.out 2>&1
check "approval: early on, a pending SA is told but is no alarm, exit 0" test $? = 0
check "approval: the log says when the server switches" grep -Eq "server=m SA [0-9]+ \(generation 1\) waits for approval \(evercert approve [0-9]+\): the server switches at $ACT, in (3h 59m|4h)" ma1.out
check "approval: ... and what happens then" grep -q "after that connections fail until it is approved" ma1.out
"$EVC" pending --config ma.ini --format json >ma.json
check "approval: pending shows the deadline, the time left and the urgency" \
    jq -e ".[0].deadline == \"$ACT\" and .[0].seconds_left > 14000 and .[0].seconds_left <= 14400 and .[0].urgency == \"early\"" ma.json
# A minute after the SA was made (--at), so a slow machine does not move the words.
"$EVC" pending --config ma.ini --at "$(date -u -d "@$(($(date -u -d "$ACT" +%s) - 14340))" +%Y-%m-%dT%H:%M:%SZ)" >ma.txt
check "approval: pending's text has a deadline line" grep -Eq "^    deadline  in 3h 59m, when the server switches" ma.txt
"$EVC" agent --config ma.ini --once --at "$(at '+2 hours')" >ma2.out 2>&1
check "approval: half way, exit 0, nothing told again" sh -c "test $? = 0 && ! grep -q 'waits for approval' ma2.out"
# The last quarter of publication .. activate_at: from 3 h on.
"$EVC" agent --config ma.ini --once --at "$(at '+3 hours 10 minutes')" >ma3.out 2>&1
check "approval: inside the last quarter, WARNING, exit 1" sh -c "test $? = 1 && grep -Eq 'WARNING: server=m SA .* waits for approval .*the server switches at $ACT, in (4[0-9]m|50m)' ma3.out"
"$EVC" agent --config ma.ini --once --at "$(at '+3 hours 20 minutes')" >ma4.out 2>&1
check "approval: the warning stands (exit 1) and is not told again" sh -c "test $? = 1 && ! grep -q WARNING ma4.out"
"$EVC" pending --config ma.ini --format json --at "$(at '+3 hours 20 minutes')" >ma.json
check "approval: pending --at in the last quarter says warning" jq -e '.[0].urgency == "warning"' ma.json
"$EVC" agent --config ma.ini --once --at "$(at '+5 hours')" >ma5.out 2>&1
check "approval: past activate_at without approval, CRITICAL, exit 2" sh -c "test $? = 2 && grep -q 'CRITICAL: server=m SA .* is still not approved and the server switched at $ACT, .* ago; connections fail until it is approved' ma5.out"
"$EVC" pending --config ma.ini --at "$(at '+5 hours')" >ma.txt
check "approval: pending after the deadline says so" grep -q "^    deadline  passed .* ago: the server has switched; connections fail until it is approved (CRITICAL)" ma.txt
if [ $HAVE_SMTPD = 1 ]; then
    check "approval: a mail when it came" wait_for smtp2.log "Subject: evercert agent: a successor for m waits for approval" 5
    check "approval: a mail at the warning" wait_for smtp2.log "Subject: evercert agent: WARNING: a successor for m waits for approval" 5
    check "approval: a mail at the deadline" wait_for smtp2.log "Subject: evercert agent: CRITICAL: a successor for m waits for approval" 5
    check "approval: the mail says when the server switches" grep -q "the server switches at $ACT" smtp2.log
    check "approval: one mail per level" test "$(grep -c 'Subject: evercert agent' smtp2.log)" = 3
fi
MAID=$("$EVC" pending --config ma.ini --format json | jq -r '.[0].id')
check "approval: approved after the deadline, it is written" "$EVC" approve --config ma.ini --at "$(at '+5 hours')" "$MAID"
"$EVC" agent --config ma.ini --once --at "$(at '+5 hours 10 minutes')" >ma6.out 2>&1
check "approval: approved, --once exits 0 again" sh -c "test $? = 0 && ! grep -Eq 'CRITICAL|WARNING|FREEZE' ma6.out"

# --- push alone under manual: an SA that follows one still waiting is taken once that one is approved
# The push channel hands each SA over once; the next one (b -> c) arrives while a -> b
# waits for a person and is refused, as no certificate trusted yet signed it. After the
# approval the agent opens the channel again and the server hands its latest SA over.
cp a.crt w.crt && cp a.key w.key && cp ab.sa w.sa && cp a.crt wq.pem
"$EVC" serve --cert w.crt --key w.key --sa w.sa --listen 127.0.0.1:$((PORT + 73)) \
    --announce-listen 127.0.0.1:$((PORT + 74)) 2>wserve.log &
PIDS="$PIDS $!"
check "push follows: serve starts" wait_for wserve.log "listening on 127.0.0.1:$((PORT + 73))" 5
cat >wq.ini <<EOF
[agent]
state = wq.db
[server "wq"]
connect = 127.0.0.1:$((PORT + 73))
service = web.test
trust = wq.pem
policy = manual
sources = push
announce = 127.0.0.1:$((PORT + 74))
EOF
"$EVC" agent --config wq.ini 2>wq.log &
WQ=$!
PIDS="$PIDS $WQ"
check "push follows: the first SA waits for a person" wait_for wq.log "waits for evercert approve" 10
cp bc.sa w.sa.new && mv w.sa.new w.sa
check "push follows: the next SA is refused while the first waits" wait_for wq.log "no-current-signer" 10
WID=$("$EVC" pending --config wq.ini --format json | jq -r '.[] | select(.generation == 1) | .id')
check "push follows: a person approves the first" "$EVC" approve --config wq.ini "$WID"
i=0
while [ $i -lt 100 ] && ! "$EVC" pending --config wq.ini --format json | jq -e '.[] | select(.generation == 2)' >/dev/null 2>&1; do
    sleep 0.1
    i=$((i + 1))
done
check "push follows: the next SA is offered again and waits for a person in its turn" sh -c "'$EVC' pending --config wq.ini --format json | jq -e '.[] | select(.generation == 2)'"
check "push follows: the agent said why it opened the channel again" grep -q "a successor was taken since an SA was refused" wq.log
kill $WQ 2>/dev/null

# --- conflicts pushed in a loop: the lines are rate-limited, the alarm is told once
# Twelve SAs for generation 1, each with another activation time, sent one
# after another on the push channel once the first is accepted. Each is a
# new conflict; the log gives at most the rate limit's burst of conflict
# events and one CONFLICT alarm for the server and generation.
CFPORT=$((PORT + 90))
n=0
while [ $n -lt 12 ]; do
    n=$((n + 1))
    "$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
        --service web.test --generation 1 --activate-at "$(at "+1 hour $n minutes")" --out cf$n.sa >/dev/null
done
cat >conflicts.py <<'EOF'
import socket, ssl, sys, time
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sas = [open(f, "rb").read() for f in sys.argv[4:]]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8); s.settimeout(1)
held, first, deadline = [], True, time.time() + 60
while time.time() < deadline:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except Exception:
        continue
    if not first:
        held.append(t)  # later sessions hear nothing: only new SAs count
        continue
    first = False
    for d in sas:
        t.sendall(d); time.sleep(0.05)
    time.sleep(0.5); t.close()
EOF
python3 conflicts.py $CFPORT a.crt a.key ab.sa $(n=1; while [ $n -le 12 ]; do echo cf$n.sa; n=$((n + 1)); done) &
PIDS="$PIDS $!"
cp a.crt cf.pem
cat >cf.ini <<EOF
[agent]
state = cf.db
[server "svc"]
connect = 127.0.0.1:$CFPORT
service = web.test
trust = cf.pem
announce = 127.0.0.1:$CFPORT
sources = push
interval = 1h
EOF
i=0; while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $CFPORT)).close()" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$EVC" agent --config cf.ini >cf.out 2>&1 &
CF=$!
PIDS="$PIDS $CF"
check "conflicts: the first SA is accepted" wait_for cf.out "server=svc event=accept reason=ok generation=1" 10
check "conflicts: all twelve arrived before the server closed" wait_for cf.out "server=svc push channel dropped" 15
kill $CF 2>/dev/null
i=0; while kill -0 $CF 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
# What the limit held back is told in one line when the agent stops.
check "conflicts: the held-back ones are summed up" grep -q "server=svc event=reject reason=rate-limited.* more refused SAs not logged" cf.out
ncf=$(grep -c "CONFLICT for svc" cf.out)
nev=$(grep -c "server=svc event=conflict" cf.out)
check "conflicts: one CONFLICT alarm for the server and generation ($ncf)" test "$ncf" = 1
check "conflicts: conflict events within the rate limit's burst of 5 ($nev)" test "$nev" -ge 1 -a "$nev" -le 5
# --- the holder of the current key announces s1..s5 in turn, each from s0: one successor stays
mkdir nw && (
    cd nw || exit 1
    for n in 0 1 2 3 4 5; do
        "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert s$n.crt --out-key s$n.key >/dev/null
    done
    for n in 1 2 3 4 5; do
        "$EVC" announce --current s0.crt --current-key s0.key --successor s$n.crt --successor-key s$n.key \
            --service web.test --generation $n --activate-at "$(at '+1 hour')" --out s$n.sa
    done
    cp s0.crt store.pem && mkdir deleted
)
for n in 1 2 3 4 5; do
    NWPORT=$((PORT + 80 + n))
    cat >nw/agent.ini <<EOF
[agent]
state = agent.db
deleted = deleted
[server "web"]
connect = 127.0.0.1:$NWPORT
service = web.test
trust = store.pem
EOF
    (cd nw && exec "$EVC" serve --cert s0.crt --key s0.key --sa s$n.sa --listen 127.0.0.1:$NWPORT 2>serve$n.log) &
    NW=$!
    check "superseded: serve $n starts" wait_for nw/serve$n.log "listening on 127.0.0.1:$NWPORT" 5
    (cd nw && "$EVC" agent --config agent.ini --once >once$n.out 2>&1)
    check "superseded: SA $n is accepted and s$n trusted" openssl verify -CAfile nw/store.pem nw/s$n.crt
    kill $NW 2>/dev/null
    wait $NW 2>/dev/null
done
check "superseded: the store holds two certificates, s0 and s5" test "$(ncerts nw/store.pem)" = 2
check "superseded: OpenSSL trusts s0" openssl verify -CAfile nw/store.pem nw/s0.crt
check "superseded: OpenSSL trusts s5" openssl verify -CAfile nw/store.pem nw/s5.crt
for n in 1 2 3 4; do
    check "superseded: OpenSSL no longer trusts s$n" sh -c "! openssl verify -CAfile nw/store.pem nw/s$n.crt"
done
check "superseded: s4 is kept in the deleted store" sh -c "grep -l 'deleted-at' nw/deleted/* | xargs -n1 openssl x509 -noout -fingerprint -sha256 -in | grep -q \"$(openssl x509 -in nw/s4.crt -noout -fingerprint -sha256 | sed 's/.*=//')\""

echo "agent.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
