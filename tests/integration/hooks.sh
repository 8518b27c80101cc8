#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# after_replace hooks as the monitor and renew run them. The monitor
# blocks its signals for a signalfd: a hook must still start with no
# signal blocked or ignored, or what it starts cannot be stopped. A hook
# that outlives hook_timeout is stopped whole, children included, even
# one that ignores SIGTERM (SIGTERM to its process group, SIGKILL after
# the grace). Its environment has the EVERCERT_* variables, each once,
# and PATH. Time moves with --at; the monitor's first pass runs at start.
#
# usage: hooks.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: hooks.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/evc-hooks-XXXXXX)
# The slow hook's child, found by its unique argument.
NAP="30.$$"
MON=
survivors() { pgrep -x -f "sleep $NAP"; }
# none_left: no such child, once a SIGKILL already sent has landed (bounded: 2 s)
none_left() {
    i=0
    while survivors >/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    ! survivors >/dev/null
}
cleanup() {
    [ -n "$MON" ] && kill "$MON" 2>/dev/null
    for p in $(survivors); do kill -9 "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
cd "$T" || exit 1

# Three self-signed certificates past their threshold: web's hook (no
# shell: a shell may clear its mask itself) prints its signal state, env's
# records its environment, slow's leaves a child that ignores SIGTERM.
setup() { # DIR
    mkdir -p "$1/deleted" && (
        cd "$1" || exit 1
        for n in web env slow; do
            "$EVC" selfsign --cn $n.test --san DNS:$n.test --days 30 --at "$(at '-25 days')" \
                --out-cert $n.crt --out-key $n.key >/dev/null || exit 1
        done
        cat >c.ini <<EOF
[policy]
distribution_window = 0

[monitor]
state = state.db

[notify]
report_file = report.json

[store "web"]
role = personal
cert = web.crt
key = web.key
after_replace = grep -E ^Sig(Blk|Ign): /proc/self/status

[store "env"]
role = personal
cert = env.crt
key = env.key
after_replace = env >$T/$1/env.txt
after_replace_shell = true

[store "slow"]
role = personal
cert = slow.crt
key = slow.key
after_replace = trap '' TERM; sleep $NAP & wait
after_replace_shell = true
hook_timeout = 1s

[store "deleted"]
role = deleted
path = deleted
EOF
    )
}

# --- 1. under the monitor, which blocks SIGTERM, SIGHUP, SIGINT and SIGPIPE ---
setup M || { bad "set-up"; exit 1; }
EVERCERT_STORE=outer "$EVC" monitor --config M/c.ini 2>M/monitor.log &
MON=$!
check "the monitor's first pass ended (bounded: 30 s)" wait_for M/monitor.log "pass ended" 30
check "the monitor killed the slow hook at its timeout" grep -qF "after_replace killed after 1s" M/monitor.log
# sigs REPORT LINE: web's hook printed LINE (SigBlk or SigIgn) as all zeros
sigs() { jq -e --arg l "$2:	0000000000000000" '.actions[] | select(.action == "activate" and .store == "web") | .hook.status == 0 and (.hook.output | split("\n") | index($l) != null)' "$1"; }
check "a hook under the monitor has no signal blocked" sigs M/report.json SigBlk
check "a hook under the monitor ignores no signal" sigs M/report.json SigIgn
check "the killed hook's child ignoring SIGTERM is gone too" none_left
check "the hook has its store's name, once" sh -c "grep -c '^EVERCERT_STORE=' M/env.txt | grep -qx 1 && grep -qx 'EVERCERT_STORE=env' M/env.txt"
check "the hook has its certificate and key" sh -c "grep -qx 'EVERCERT_CERT=.*/env.crt' M/env.txt && grep -qx 'EVERCERT_KEY=.*/env.key' M/env.txt"
check "the hook has PATH" grep -q '^PATH=.' M/env.txt
check "the monitor still stops on SIGTERM" kill "$MON"
i=0
while kill -0 "$MON" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "the monitor stopped" sh -c "! kill -0 $MON 2>/dev/null"
MON=

# --- 2. evercert renew from a shell: the same hook, stopped whole -------------
setup R || { bad "set-up"; exit 1; }
status "renew with a hook that outlives its timeout (bounded: 20 s)" 1 timeout 20 "$EVC" renew --config R/c.ini --format json
check "the slow hook is reported killed at its timeout" jq -e '.actions[] | select(.action == "activate" and .store == "slow") | (.detail | test("killed after 1s")) and .hook.status == 137' "$T/out"
check "the swap stands" jq -e '.actions[] | select(.action == "activate" and .store == "slow") | .done == true' "$T/out"
check "no child of the killed hook is left" none_left
check "a hook from renew has no signal blocked" sigs "$T/out" SigBlk
check "a hook from renew ignores no signal" sigs "$T/out" SigIgn

summary hooks.sh
