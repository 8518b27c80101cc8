#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The command's own conventions: -V and --version; every error a command
# prints starts "evercert: WHAT: WHY" (one provoked per command, and
# getopt's complaints); the JSON of probe, monitor --once and agent --once
# says what their text says, checked with jq against the text, the report
# file and the log.
#
# usage: cli.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: cli.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/evc-cli-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$SRC/tests/integration/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
export TZ=UTC
cd "$T" || exit 1
PORT=$(port_block 8)

# --- the version
for v in -V --version; do
    status "$v exits 0" 0 "$EVC" $v
    check "$v prints one line 'evercert VERSION'" sh -c "[ \$(wc -l <'$T/out') = 1 ] && grep -Eqx 'evercert [0-9]+\\.[0-9]+\\.[0-9]+' '$T/out'"
done

# --- errors: "evercert: WHAT: WHY" on the first line of stderr, and a failing status
# err WANT-STATUS COMMAND...: the command fails so, saying so as an error
err() {
    want=$1
    shift
    "$EVC" "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" != "$want" ]; then
        bad "evercert $*: exit $got, want $want"
    elif ! head -n 1 "$T/err" | grep -Eq '^evercert: [^:]+(:[0-9]+)?: [^ ]'; then
        bad "evercert $*: the error is not 'evercert: WHAT: WHY': $(head -n 1 "$T/err")"
    else
        ok
    fi
}
err 3 scan --bogus
err 3 scan --threshold 12x /nonexistent
err 3 ca init
err 3 ca init --bogus
err 3 issue --ca /nonexistent --cn a --san DNS:a --out-cert x.crt --out-key x.key
err 3 selfsign --cn a
err 3 renew --config /nonexistent.ini
err 3 activate --config /nonexistent.ini
err 3 monitor --config /nonexistent.ini --once
err 3 monitor --config /nonexistent.ini --format json
err 3 history --config /nonexistent.ini
err 3 announce --current /nonexistent
err 3 inspect /nonexistent.sa
err 3 probe 127.0.0.1:1
err 3 probe 127.0.0.1:1 --format yaml
err 3 serve --cert /nonexistent --key /nonexistent --listen 127.0.0.1:0
err 2 status 127.0.0.1:1
err 3 agent --config /nonexistent.ini --once
err 3 agent --config /nonexistent.ini --format json
err 3 pending --config /nonexistent.ini
err 3 approve --config /nonexistent.ini 1
err 3 reject --config /nonexistent.ini 1
err 3 demo --clients 0
err 3 check-config --bogus
err 3 check-config
err 3 nosuch
err 3 help nosuch
check "getopt's complaint names the command" sh -c "'$EVC' scan --bogus 2>&1 | grep -qx \"evercert: scan: unrecognized option '--bogus'\""
check "... and the subcommand of ca" sh -c "'$EVC' ca init --bogus 2>&1 | grep -qx \"evercert: ca init: unrecognized option '--bogus'\""

# --- probe --format json against evercert serve, beside its text
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert a.crt --out-key a.key >/dev/null
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert b.crt --out-key b.key >/dev/null
"$EVC" selfsign --cn other.test --san DNS:other.test --days 30 --out-cert o.crt --out-key o.key >/dev/null
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5

status "probe (text)" 0 "$EVC" probe 127.0.0.1:$PORT --servername web.test --trust a.crt
cp "$T/out" probe.txt
status "probe --format json" 0 "$EVC" probe 127.0.0.1:$PORT --servername web.test --trust a.crt --format json --out got.sa
cp "$T/out" probe.json
check "probe's JSON is one document" jq -e . probe.json
check "... verified, as the text says" sh -c "grep -qx 'verify      ok' probe.txt && jq -e '.verified == true and .verify_error == null' probe.json"
check "... the certificate the text names" sh -c "[ \"\$(jq -r .certificate.sha256 probe.json)\" = \"\$(awk '/^certificate/{print \$2}' probe.txt)\" ] && [ \"\$(jq -r .certificate.sha256 probe.json)\" = '$(fp a.crt)' ]"
check "... its subject and end" sh -c "[ \"\$(jq -r .certificate.subject probe.json)\" = \"\$(sed -n 's/^subject     //p' probe.txt)\" ] && [ \"\$(jq -r .certificate.not_after probe.json)\" = \"\$(sed -n 's/^not after   //p' probe.txt)\" ]"
check "... the protocol" sh -c "[ \"\$(jq -r .protocol probe.json)\" = \"\$(awk '/^protocol/{print \$2}' probe.txt)\" ]"
check "... the SA: generation 1, service web.test, b" jq -e ".sa.generation == 1 and .sa.service == \"web.test\" and .sa.successor_sha256 == \"$(fp b.crt)\" and .sa.bytes == $(wc -c <ab.sa)" probe.json
check "... --out wrote the SA" cmp -s got.sa ab.sa
status "probe --format json, at generation 1" 0 "$EVC" probe 127.0.0.1:$PORT --servername web.test --trust a.crt --have-generation 1 --format json
check "... no SA" jq -e '.sa == null and .have_generation == 1' "$T/out"
status "probe --format json, not verifying" 2 "$EVC" probe 127.0.0.1:$PORT --servername web.test --trust o.crt --format json
check "... says so" jq -e '.verified == false and (.verify_error | length > 0) and .sa == null' "$T/out"
check "... and the error too" grep -q '^evercert: 127.0.0.1:[0-9]*: does not verify: ' "$T/err"

# --- agent --once --format json: the log's lines, under their servers
cp a.crt trust.pem
cat >agent.ini <<EOF
[agent]
state = agent.db
[server "web"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust.pem
sources = handshake
[server "gone"]
connect = 127.0.0.1:1
service = web.test
trust = trust.pem
sources = handshake
EOF
"$EVC" agent --config agent.ini --once --format json >agent.json 2>agent.log
st=$?
check "agent --once --format json: 2 (a server unreachable)" [ $st = 2 ]
check "... one JSON document" jq -e . agent.json
check "... with its status" jq -e ".status == $st and .status_text == \"critical\"" agent.json
check "... both servers, in order" jq -e '[.servers[].name] == ["web", "gone"]' agent.json
check "... the successor was written" sh -c "[ \$(grep -c 'BEGIN CERTIFICATE' trust.pem) = 2 ]"
# Every log line is in the JSON, and nothing else: rebuild the lines from it.
sed 's/^evercert agent: //' agent.log | sort >log.lines
jq -r '(.servers[] | .name as $n | .events[] | "server=\($n) \(.message)"), (.events[] | .message)' agent.json | sort >json.lines
check "... every log line, and no other" cmp -s log.lines json.lines
check "... web's events say what was written" jq -e '[.servers[0].events[].message] | length > 0' agent.json
check "... gone's event is an error" jq -e '[.servers[1].events[] | select(.level == "error")] | length > 0' agent.json
status "agent --once --format json again: 2" 2 "$EVC" agent --config agent.ini --once --format json
check "... a document again" jq -e '.status == 2' "$T/out"
# A configuration that no longer loads when the document is built (its
# after_change broke it) fails the command: no document with no servers.
cp a.crt trust2.pem
cat >agent2.ini <<EOF
[agent]
state = agent2.db
[server "web"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust2.pem
sources = handshake
after_change = printf 'bogus line\\n' >>'$T/agent2.ini'
after_change_shell = true
EOF
status "agent --once --format json: the configuration broken by after_change" 3 "$EVC" agent --config agent2.ini --once --format json
check "... the successor was written (after_change ran)" sh -c "[ \$(grep -c 'BEGIN CERTIFICATE' trust2.pem) = 2 ]"
check "... no JSON on standard output" test ! -s "$T/out"
check "... the error names the configuration" grep -q '^evercert: agent: .*agent2.ini:[0-9]*: ' "$T/err"

# --- monitor --once --format json: the pass's report with its status
"$EVC" selfsign --cn web.test --san DNS:web.test --minutes 10 --at "$(at '-8 minutes')" \
    --out-cert web.crt --out-key web.key >/dev/null
cat >m.ini <<EOF
[policy]
expiration_threshold = 33%
[monitor]
state = m.db
[notify]
report_file = report.json
[store "web"]
role = personal
cert = web.crt
key = web.key
EOF
"$EVC" monitor --config m.ini --once --format json >mon.json 2>mon.log
st=$?
check "monitor --once --format json: a Nagios status" [ $st -lt 3 ]
check "... one JSON document" jq -e . mon.json
check "... with its status" jq -e ".status == $st and (.status_text | IN(\"ok\", \"warning\", \"critical\"))" mon.json
check "... the report file's certificates and actions" sh -c "[ \"\$(jq -S 'del(.status, .status_text)' mon.json)\" = \"\$(jq -S . report.json)\" ]"
check "... the renewal of web" jq -e '[.actions[] | select(.store == "web")] | length > 0' mon.json
check "... the log says the same status" grep -q "pass ended: status=$st " mon.log
status "monitor --format json without --once is a usage error" 3 "$EVC" monitor --config m.ini --format json

summary cli
