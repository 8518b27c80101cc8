#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A server that waits for its clients, with every part a user runs: the
# `evercert monitor` service (activate = ready) renews a self-signed
# certificate that lives LIFETIME seconds (renewal at half of it,
# activate_at halfway through the rest, the deadline 10% of the lifetime
# before the end) and asks the status listener of the `evercert serve`
# that serves it which generation each client holds (over a window of 6 s;
# the agents say it again every second). Two `evercert agent`
# services follow that server under policy = manual, each with its own
# name, state and trust store: a person approves the successor for
# "approver" (`evercert approve`, after activate_at has passed); nobody
# ever approves it for "never". The server must wait past activate_at,
# with the monitor's log naming "never" as not ready, and switch at the
# deadline (activateBy), no later and before the old certificate ends;
# the report names "never" as not ready at the switch; "never"'s
# `pending` shows that deadline; serve's status counts the approver's
# acknowledgement.
#
# usage: ready_e2e.sh PATH-TO-EVERCERT [LIFETIME-SECONDS]
set -u
EVC=${1:?usage: ready_e2e.sh PATH-TO-EVERCERT [LIFETIME]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
LIFE=${2:-40}
T=$(mktemp -d /tmp/evc-ready-e2e-XXXXXX)
export TZ=UTC LC_ALL=C
SERVE= MON= AGA= AGB=
cleanup() {
    for p in $AGA $AGB $MON $SERVE; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
for tool in openssl python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done
cd "$T" || exit 1
BASE=$(port_block 8)
SVC=$BASE PUSH=$((BASE + 1)) STAT=$((BASE + 2))

mkcert svc svc.test "$LIFE" || { echo "cannot make a certificate" >&2; exit 1; }
OLD=$(fp svc.crt)
NOT_AFTER=$(date -u -d "$(openssl x509 -in svc.crt -noout -enddate | sed 's/notAfter=//')" +%s)

"$EVC" serve --cert svc.crt --key svc.key --sa svc.crt.sa --listen 127.0.0.1:$SVC \
    --announce-listen 127.0.0.1:$PUSH --status-listen 127.0.0.1:$STAT --ready-window 6s 2>serve.log &
SERVE=$!
check "serve starts with its status listener" wait_for serve.log "status on 127.0.0.1:$STAT" 10

cat >monitor.ini <<INI
[policy]
expiration_threshold = 50%
distribution_window = 50%
activate = ready
activate_margin = 10%

[monitor]
state = monitor.db

[notify]
log = stderr
report_file = report.json

[store "svc"]
role = personal
cert = svc.crt
key = svc.key
readiness = 127.0.0.1:$STAT

[store "deleted"]
role = deleted
path = deleted
INI
for who in approver never; do
    mkdir -p "$who"
    cp svc.crt "$who/trust.pem"
    cat >"$who/agent.ini" <<INI
[agent]
state = agent.db
client_id = $who

[server "svc"]
connect = 127.0.0.1:$SVC
service = svc.test
trust = trust.pem
trust_format = bundle
policy = manual
sources = handshake, push
announce = 127.0.0.1:$PUSH
interval = 1s
INI
done
"$EVC" monitor --config monitor.ini 2>monitor.log &
MON=$!
"$EVC" agent --config approver/agent.ini 2>approver/agent.log &
AGA=$!
"$EVC" agent --config never/agent.ini 2>never/agent.log &
AGB=$!
check "the monitor starts" wait_for monitor.log "started;" 10

# The successor is staged with its SA, which says the deadline.
check "the monitor renews at half the lifetime" wait_for monitor.log "action=renew store=svc" $((LIFE))
check "the SA is there" test -s svc.crt.sa
"$EVC" inspect svc.crt.sa --format json >sa.json 2>&1
sec() { date -u -d "$1" +%s; }
AT=$(sec "$(python3 -c 'import json; print(json.load(open("sa.json"))["activate_at"])')")
BY=$(sec "$(python3 -c 'import json; print(json.load(open("sa.json")).get("activate_by", "1970-01-01T00:00:00Z"))')")
check "the SA carries activateBy after activateAt, before the old certificate ends" \
    test "$BY" -gt "$AT" -a "$BY" -lt "$NOT_AFTER"

# Both agents hold it for a person; neither tells the server it holds it.
check "approver's agent queues it" wait_for approver/agent.log "event=queue" 15
check "never's agent queues it" wait_for never/agent.log "event=queue" 15
"$EVC" pending --config never/agent.ini --format json >pending.json 2>&1
check "never's pending shows the server's deadline (activateBy)" python3 -c "
import json, sys, datetime
p = json.load(open('pending.json'))[0]
by = datetime.datetime.strptime(p['activate_by'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
sys.exit(0 if int(by.timestamp()) == $BY else 1)"

# Past activate_at nobody holds it: the monitor waits, naming both.
i=0
while [ "$(date +%s)" -le "$AT" ] && [ $i -lt $((LIFE * 10)) ]; do sleep 0.2; i=$((i + 1)); done
check "past activate_at the monitor waits, naming the clients not ready" \
    wait_for monitor.log "action=wait store=svc reason=not-ready" 10
check "... never among them" sh -c "grep 'action=wait store=svc' monitor.log | grep -q 'unready=.*never'"
check "... and approver" sh -c "grep 'action=wait store=svc' monitor.log | grep -q 'unready=.*approver'"
check "the old certificate is still served" sh -c "'$EVC' probe 127.0.0.1:$SVC --servername svc.test --trust svc.crt | grep -q '$OLD'"

# A person approves for "approver" only (past activate_at: the study's late approval).
ID=$("$EVC" pending --config approver/agent.ini --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
status "the person approves for approver" 0 "$EVC" approve --config approver/agent.ini "$ID"
check "approver's acknowledgement reaches serve: only never is not ready" sh -c "
    i=0; while [ \$i -lt 100 ]; do
        '$EVC' status 127.0.0.1:$STAT >st.txt 2>&1
        grep -q '^unready 127.0.0.1 never ' st.txt && ! grep -q ' approver ' st.txt && exit 0
        sleep 0.1; i=\$((i + 1)); done; exit 1"

# The deadline: the switch comes then, not before, and the report names never.
check "the monitor switches at the deadline" wait_for monitor.log "action=activate store=svc reason=deadline" $((LIFE))
NOW=$(date +%s)
check "... no earlier than activateBy" test "$NOW" -ge "$BY"
check "... and before the old certificate ended" test "$NOW" -lt "$NOT_AFTER"
check "... naming never as not ready" sh -c "grep 'action=activate store=svc reason=deadline' monitor.log | grep -q 'unready=.*never'"
check "no activation before the deadline" sh -c "[ \$(grep -c 'action=activate store=svc' monitor.log) = 1 ]"
check "the report names never at the switch" python3 -c "
import json, sys
r = json.load(open('report.json'))
acts = [a for a in r.get('actions', []) if a.get('action') == 'activate']
sys.exit(0 if acts and acts[0].get('reason') == 'deadline' and 'never' in json.dumps(acts[0]) else 1)"
check "serve presents the successor" sh -c "
    i=0; while [ \$i -lt 50 ]; do
        '$EVC' probe 127.0.0.1:$SVC --servername svc.test --trust approver/trust.pem >probe.txt 2>&1 &&
            ! grep -q '$OLD' probe.txt && exit 0
        sleep 0.1; i=\$((i + 1)); done; exit 1"
check "approver's clients trust it" sh -c "'$EVC' probe 127.0.0.1:$SVC --servername svc.test --trust approver/trust.pem >/dev/null"
summary ready_e2e.sh
