#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A chaos soak of the services a user runs, on 127.0.0.1: `evercert
# monitor` keeps two self-signed certificates of 20 to 30 s alive (nginx,
# reloaded by after_replace, publishing the SA at the well-known URL;
# `evercert serve`, with the handshake extension and the push channel),
# `evercert agent` keeps the clients' PEM bundles and hashed directories,
# and curl, openssl s_client and two long-lived Python clients connect
# all the time. At seeded random moments (the seed is printed; give it
# again to replay the same schedule) it
#   - kills the monitor with SIGKILL and restarts it 0-3 s later,
#   - kills the agent with SIGKILL and restarts it 0-3 s later,
#   - sends SIGHUP to the monitor or to the agent,
#   - restarts the agent with its clock moved (--at) by 2-15 s either
#     way, and 3 s later with the right clock again,
#   - once, stops the monitor for longer than a certificate's life; when
#     it is back, a person adds the live certificates to the clients'
#     stores (pinned trust cannot bridge an outage that outlived the
#     certificate: that is what renewing early is for).
# It asserts:
#   - 0 failed connections of every client inside the judged window: all
#     the time except from each SIGKILL of the monitor or the agent to 3 s
#     after its restart, from each clock move to 3 s (plus the move
#     forward) after the right clock is back, and from the long stop to
#     3 s after the person's fix (the window is printed, and enough
#     connections must fall inside it for the verdict to mean something);
#   - every store whole after each SIGKILL (the live pair matches, the SA
#     verifies, every certificate of every client store parses);
#   - recovery within one pass: the first pass after the long stop leaves
#     both live certificates valid and whole, and after every restart of
#     the monitor each store rotates again within one lifetime (plus 5 s)
#     and its live certificate is valid;
#   - no wedged store: each store rotated in the last lifetime of the run;
#   - bounded memory and state: VmRSS of the monitor and of the agent
#     (sampled every 5 s, across their restarts) never more than 32 MiB
#     above the first sample, each state database under 1 MiB, the
#     monitor's deleted store within what deleted_retention (60 s) keeps,
#     each client bundle at most 6 certificates.
#
# usage: soak.sh PATH-TO-EVERCERT PATH-TO-STORECHECK [SECONDS [SEED]]
#   SECONDS defaults to $EVC_SOAK_SECONDS, else 180 (at least 120); SEED to
#   $EVC_SOAK_SEED, else the time. Every loop is bounded by SECONDS.
#   ctest runs it for EVC_SOAK_SECONDS as set when cmake configured (else
#   180), with a timeout to match: EVC_SOAK_SECONDS=3600 ./bootstrap.sh test
#   soaks for an hour.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: soak.sh PATH-TO-EVERCERT PATH-TO-STORECHECK [SECONDS [SEED]]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SC=${2:?usage: soak.sh PATH-TO-EVERCERT PATH-TO-STORECHECK [SECONDS [SEED]]}
SC=$(cd "$(dirname "$SC")" && pwd)/$(basename "$SC")
HERE=$(cd "$(dirname "$0")" && pwd)
DUR=${3:-${EVC_SOAK_SECONDS:-180}}
SEED=${4:-${EVC_SOAK_SEED:-$(date +%s)}}
[ "$DUR" -ge 120 ] 2>/dev/null || { echo "soak.sh: SECONDS must be at least 120" >&2; exit 2; }
T=$(mktemp -d /tmp/evc-soak-XXXXXX)
export TZ=UTC
# Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
# default) that would read as growth; a small one keeps VmRSS meaningful.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
MON= AGENT= SERVE= OTHERS=
cleanup() {
    for p in $MON $AGENT $SERVE $OTHERS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
for tool in nginx curl python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed (bootstrap.sh test installs it)" >&2; exit 77; }
done
chmod 755 "$T" && cd "$T" || exit 1
BASE=$(port_block 8)
WEB=$BASE SVC=$((BASE + 1)) PUSH=$((BASE + 2))
now() { date +%s; }
nowf() { date +%s.%N | cut -c1-14; }
echo "soak: seed $SEED, $DUR s (replay: soak.sh EVERCERT STORECHECK $DUR $SEED)"

ok=0
failed=0
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok=$((ok + 1)); else failed=$((failed + 1)); echo "FAIL: $d" >&2; fi; }

# The seeded draws, all at once: the two lifetimes and the schedule of events.
awk -v seed="$SEED" -v dur="$DUR" 'BEGIN {
    srand(seed);
    lw = 20 + int(rand() * 11); ls = 20 + int(rand() * 11); l = lw > ls ? lw : ls;
    print "lifetimes", lw, ls;
    t = l; stop_at = int(dur / 3 + rand() * dur / 6); stopped = 0;
    while (t < dur - l - 10) {
        if (!stopped && t >= stop_at && t + 2 * l + 20 < dur) {
            d = l + 5 + int(rand() * 6);
            print t, "stop-monitor", d;
            t += d + 12; stopped = 1;
            continue;
        }
        r = rand();
        if (r < 0.28) { k = "kill-monitor"; a = int(rand() * 4) }
        else if (r < 0.56) { k = "kill-agent"; a = int(rand() * 4) }
        else if (r < 0.68) { k = "hup-monitor"; a = 0 }
        else if (r < 0.80) { k = "hup-agent"; a = 0 }
        else { k = "clock-agent"; a = (rand() < 0.5 ? -1 : 1) * (2 + int(rand() * 14)) }
        print t, k, a;
        t += 8 + int(rand() * 10);
    }
}' >schedule.txt
read -r _ LW LS <schedule.txt
L=$((LW > LS ? LW : LS))
echo "soak: web (nginx) certificates live $LW s, svc (evercert serve) $LS s"

# What a person does to pin a server: its certificate into both client stores.
pin() { # NAME
    cat "$1.crt" >>"$1.pem" && cp "$1.crt" "${1}dir/$1-pinned-$(now).pem" && openssl rehash "${1}dir" 2>/dev/null
}

mkdir logs deleted retired "$T/webdir" "$T/svcdir"
mkcert web web.test "$LW" && mkcert svc svc.test "$LS" || { echo "FAIL: openssl ca made no certificate" >&2; exit 1; }
: >web.pem && : >svc.pem && pin web && pin svc
rig_nginx_conf "$T"
rig_monitor_ini "$T" "deleted_retention = 60s
"
rig_agent_ini "[policy]
deleted_retention = 60s

"

nginx -p "$T" -c "$T/nginx.conf" || { echo "FAIL: nginx did not start" >&2; exit 1; }
"$EVC" serve --cert svc.crt --key svc.key --sa svc.crt.sa --listen 127.0.0.1:$SVC \
    --announce-listen 127.0.0.1:$PUSH 2>serve.log &
SERVE=$!
i=0
until echo | openssl s_client -connect 127.0.0.1:$SVC >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done

start_monitor() { "$EVC" monitor --config monitor.ini 2>>monitor.log & MON=$!; echo "$(nowf) monitor-up $MON" >>events.log; }
start_agent() { # [--at TIME]
    "$EVC" agent --config agent.ini "$@" 2>>agent.log &
    AGENT=$!
    echo "$(nowf) agent-up $AGENT $*" >>events.log
}
# stop PID SIGNAL: and wait until it is gone; SIGKILL after 15 s, so the wait is bounded.
stop() {
    kill -"$2" "$1" 2>/dev/null
    (sleep 15 && kill -9 "$1" 2>/dev/null) &
    w=$!
    wait "$1" 2>/dev/null
    kill $w 2>/dev/null
}
# Rotations are counted on disk, from live.log (the monitor's log lines of a
# pass killed before its end are lost with it).
rotations() { awk -v c=$([ "$1" = web ] && echo 2 || echo 3) '$c != p { if (p != "") n++; p = $c } END { print n + 0 }' live.log 2>/dev/null; }
passes() { grep -c "pass ended" monitor.log 2>/dev/null; }

# The stores, as left by a process killed at any moment: whole.
monitor_stores_whole() {
    for s in web svc; do
        check "after SIGKILL of the monitor: the live $s pair is whole" "$SC" pair $s.crt $s.key
        [ -f $s.crt.sa ] && check "after SIGKILL of the monitor: $s.crt.sa is a whole SA" "$SC" sa $s.crt.sa
    done
}
bundle_whole() { # FILE: every block a certificate, at least one
    n=$(grep -c "BEGIN CERTIFICATE" "$1") && [ "$n" -ge 1 ] &&
        [ "$(openssl crl2pkcs7 -nocrl -certfile "$1" 2>/dev/null | openssl pkcs7 -print_certs 2>/dev/null | grep -c "BEGIN CERTIFICATE")" = "$n" ]
}
dir_whole() { # DIR: every file a certificate
    for f in "$1"/*; do openssl x509 -noout -in "$f" || return 1; done
}
agent_stores_whole() {
    for s in web svc; do
        check "after SIGKILL of the agent: $s.pem is whole" bundle_whole $s.pem
        check "after SIGKILL of the agent: ${s}dir is whole" dir_whole ${s}dir
    done
}
# After a restart of the monitor: each store rotates again within one lifetime.
rotates_again() { # WEB-BEFORE SVC-BEFORE
    end=$(($(now) + L + 5))
    while { [ "$(rotations web)" -le "$1" ] || [ "$(rotations svc)" -le "$2" ]; } && [ "$(now)" -lt $end ]; do sleep 0.5; done
    [ "$(rotations web)" -gt "$1" ] && [ "$(rotations svc)" -gt "$2" ]
}

start_monitor
start_agent
# The live certificates, every 0.5 s, bounded by the run.
(
    end=$(($(now) + DUR + 60))
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        echo "$(nowf) $(sha256sum <web.crt | cut -c1-16) $(sha256sum <svc.crt | cut -c1-16)"
        sleep 0.5
    done >>live.log
) &
OTHERS="$OTHERS $!"
# curl and s_client against both servers, every 0.5 s, bounded by the run.
(
    end=$(($(now) + DUR + 60))
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        for s in web:$WEB svc:$SVC; do
            n=${s%:*} p=${s#*:}
            r=FAIL
            curl -sf --max-time 3 --cacert $n.pem --resolve $n.test:$p:127.0.0.1 https://$n.test:$p/ping >/dev/null 2>&1 && r=ok
            echo "$(nowf) curl-$n $r"
            r=FAIL
            echo | timeout 3 openssl s_client -connect 127.0.0.1:$p -servername $n.test -CApath ${n}dir -verify_return_error >/dev/null 2>&1 && r=ok
            echo "$(nowf) s_client-$n $r"
        done >>clients.log
        sleep 0.5
    done
) &
OTHERS="$OTHERS $!"
python3 "$HERE/tlsclient.py" web 127.0.0.1 $WEB web.test web.pem STOP py-web.log $((DUR + 60)) >py-web.out 2>&1 &
OTHERS="$OTHERS $!"
python3 "$HERE/tlsclient.py" svc 127.0.0.1 $SVC svc.test svc.pem STOP py-svc.log $((DUR + 60)) >py-svc.out 2>&1 &
OTHERS="$OTHERS $!"

START=$(now)
RSS_MON=0 RSS_AGENT=0 RSS_MON0= RSS_AGENT0= NEXT_SAMPLE=0
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
sample() {
    [ "$(now)" -ge $NEXT_SAMPLE ] || return 0
    NEXT_SAMPLE=$(($(now) + 5))
    m=$(rss "$MON") a=$(rss "$AGENT")
    [ "${m:-0}" -gt $RSS_MON ] && RSS_MON=$m
    [ "${a:-0}" -gt $RSS_AGENT ] && RSS_AGENT=$a
    # The first samples (a few seconds in) are the baseline growth is measured from.
    [ -z "$RSS_MON0" ] && [ "${m:-0}" -gt 0 ] && RSS_MON0=$m
    [ -z "$RSS_AGENT0" ] && [ "${a:-0}" -gt 0 ] && RSS_AGENT0=$a
    echo "$(now) rss monitor ${m:-0} agent ${a:-0} kB" >>rss.log
    echo "$(now) $(rotations web) $(rotations svc)" >>rot.log
}
# until SECONDS after START, sampling memory (bounded by the run)
until_t() { while [ "$(now)" -lt $((START + $1)) ] && [ "$(now)" -lt $((START + DUR + 5)) ]; do sample; sleep 0.5; done; }

# The windows not judged: "FROM TO why", epoch seconds.
: >excluded.txt
exclude() { echo "$1 $2 $3" >>excluded.txt; }

tail -n +2 schedule.txt >events.txt
while read -r t kind arg; do
    until_t "$t"
    echo "$(nowf) $kind $arg" >>events.log
    case $kind in
    kill-monitor)
        a=$(nowf) rw=$(rotations web) rs=$(rotations svc)
        kill -9 "$MON" && wait "$MON" 2>/dev/null
        monitor_stores_whole
        sleep "$arg"
        start_monitor
        exclude "$a" "$(($(now) + 3))" "monitor-killed"
        check "after a restart of the monitor (at +$t s) both stores rotate again within one lifetime" rotates_again "$rw" "$rs"
        for s in web svc; do
            check "after a restart of the monitor (at +$t s) the live $s certificate is valid" openssl x509 -checkend 0 -noout -in $s.crt
        done
        ;;
    kill-agent)
        a=$(nowf)
        kill -9 "$AGENT" && wait "$AGENT" 2>/dev/null
        agent_stores_whole
        sleep "$arg"
        start_agent
        exclude "$a" "$(($(now) + 3))" "agent-killed"
        ;;
    hup-monitor) kill -HUP "$MON" ;;
    hup-agent) kill -HUP "$AGENT" ;;
    clock-agent)
        a=$(nowf)
        stop "$AGENT" TERM
        start_agent --at "$(date -u -d "@$(($(now) + arg))" +%Y-%m-%dT%H:%M:%SZ)"
        sleep 3
        stop "$AGENT" TERM
        start_agent
        fwd=$((arg > 0 ? arg : 0))
        exclude "$a" "$(($(now) + 3 + fwd))" "agent-clock-moved-${arg}s"
        ;;
    stop-monitor)
        a=$(nowf)
        stop "$MON" TERM
        echo "$(nowf) monitor-down" >>events.log
        sleep "$arg"
        p=$(passes)
        start_monitor
        # One pass: bounded by the time a pass takes (hooks and verify included).
        i=0
        while [ "$(passes)" -le "$p" ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
        check "the monitor ran a pass at once after an outage of $arg s" test "$(passes)" -gt "$p"
        for s in web svc; do
            check "after the first pass back, the live $s certificate is valid" openssl x509 -checkend 1 -noout -in $s.crt
            check "after the first pass back, the live $s pair is whole" "$SC" pair $s.crt $s.key
        done
        pin web && pin svc
        echo "$(nowf) pinned-by-hand" >>events.log
        exclude "$a" "$(($(now) + 3))" "monitor-stopped-${arg}s-then-pinned-by-hand"
        ;;
    *) echo "soak: unknown event $kind" >&2 ;;
    esac
done <events.txt
until_t "$DUR"
END=$(now)
W_END=$(rotations web) S_END=$(rotations svc)
touch STOP
for p in $OTHERS; do wait "$p" 2>/dev/null; done
stop "$AGENT" TERM
stop "$MON" TERM
stop "$SERVE" TERM

# The verdict on the clients: every attempt outside the excluded windows succeeded.
echo "soak: events (seconds from the start):"
awk -v s="$START" '{ printf "  %+8.1f %s %s\n", $1 - s, $2, $3 }' events.log
echo "soak: the judged window is [$START, $END] without these (epoch seconds):"
awk '{ printf "  %s .. %s %s\n", $1, $2, $3 }' excluded.txt
judge() { # LOG: lines "EPOCH NAME ok|FAIL" or tlsclient.py's
    awk -v x="$T/excluded.txt" -v s="$START" -v e="$END" '
        BEGIN { while ((getline line < x) > 0) { split(line, f, " "); n++; a[n] = f[1]; b[n] = f[2] } }
        {
            t = $1 + 0; res = ($2 == "FAIL" || $3 == "FAIL") ? "FAIL" : ($2 == "ok" || $3 == "ok") ? "ok" : "";
            if (res == "" || t < s || t > e) next;
            out = 0; for (i = 1; i <= n; i++) if (t >= a[i] && t <= b[i]) out = 1;
            if (out) { xo++; if (res == "FAIL") xf++ } else { jo++; if (res == "FAIL") { jf++; if (jf <= 3) print "  judged failure at +" t - s ": " $0 > "/dev/stderr" } }
        }
        END { printf "%d %d %d %d\n", jo, jf, xo, xf }' "$1"
}
for log in clients.log py-web.log py-svc.log; do
    read -r jo jf xo xf <<EOF
$(judge $log)
EOF
    echo "soak: $log: $jo attempts judged, $jf failed; $xo outside the window, $xf of them failed"
    check "0 failed connections in the judged window ($log)" test "$jf" = 0
    check "enough judged attempts to mean something ($log)" test "$jo" -ge 20
done
echo "  $(cat py-web.out)"
echo "  $(cat py-svc.out)"
# Where the failures outside the window fell, per excluded stretch.
cat clients.log py-web.log py-svc.log | awk -v x="$T/excluded.txt" '
    BEGIN { while ((getline line < x) > 0) { split(line, f, " "); n++; a[n] = f[1]; b[n] = f[2]; w[n] = f[3] } }
    $2 == "FAIL" || $3 == "FAIL" { t = $1 + 0; for (i = 1; i <= n; i++) if (t >= a[i] && t <= b[i]) c[i]++ }
    END { for (i = 1; i <= n; i++) printf "soak: failures while %s: %d\n", w[i], c[i] + 0 }'

# No wedge: each store rotated within the last lifetime of the run.
read -r _ W_LATE S_LATE <<EOF
$(awk -v t=$((END - L)) '$1 <= t { l = $0 } END { print l }' rot.log)
EOF
check "no wedged store: web rotated in the last $L s (${W_LATE:-?} -> $W_END)" test "$W_END" -gt "${W_LATE:-999999}"
check "no wedged store: svc rotated in the last $L s (${S_LATE:-?} -> $S_END)" test "$S_END" -gt "${S_LATE:-999999}"
for s in web svc; do
    check "at the end the live $s certificate is valid" openssl x509 -checkend 0 -noout -in $s.crt
    check "at the end the live $s pair is whole" "$SC" pair $s.crt $s.key
    check "at the end $s.pem trusts the live certificate" "$SC" verify $s.pem - $s.crt
    check "at the end ${s}dir trusts the live certificate" "$SC" verify - ${s}dir $s.crt
    check "at the end $s.pem is whole" bundle_whole $s.pem
    check "at the end ${s}dir is whole" dir_whole ${s}dir
    n=$(grep -c "BEGIN CERTIFICATE" $s.pem)
    check "the $s bundle stays small ($n certificates)" test "$n" -le 6
done
msz=$(stat -c %s monitor.db) asz=$(stat -c %s agent.db)
ndel=$(find deleted -type f | wc -l) nret=$(find retired -type f | wc -l)
maxdel=$((2 * (60 / (LW * 2 / 5) + 60 / (LS * 2 / 5)) + 8))
echo "soak: $W_END rotations of web, $S_END of svc; VmRSS monitor ${RSS_MON0:-0} kB at first, $RSS_MON kB at most," \
    "agent ${RSS_AGENT0:-0} kB at first, $RSS_AGENT kB at most;" \
    "monitor.db $msz bytes, agent.db $asz bytes; deleted store $ndel entries (at most $maxdel), agent's retired $nret"
check "the monitor's VmRSS grows by less than 32 MiB" test "${RSS_MON0:-0}" -gt 0 -a "$RSS_MON" -lt $((${RSS_MON0:-0} + 32768))
check "the agent's VmRSS grows by less than 32 MiB" test "${RSS_AGENT0:-0}" -gt 0 -a "$RSS_AGENT" -lt $((${RSS_AGENT0:-0} + 32768))
check "monitor.db stays under 1 MiB" test "$msz" -lt 1048576
check "agent.db stays under 1 MiB" test "$asz" -lt 1048576
check "the deleted store keeps what deleted_retention says ($ndel entries)" test "$ndel" -le "$maxdel"
# The agent purges its retired store when it retires (every rotation or so): nothing older
# than deleted_retention (60 s) plus two lifetimes stays.
old_ret=$(find retired -type f ! -newermt "@$(($(date +%s) - 60 - 2 * L))" | wc -l)
check "the agent's retired store keeps what deleted_retention says ($nret entries, $old_ret too old)" test "$old_ret" = 0 -a "$nret" -gt 0
if [ "$failed" != 0 ]; then
    echo "--- monitor.log (last lines)" >&2 && tail -30 monitor.log >&2
    echo "--- agent.log (last lines)" >&2 && tail -30 agent.log >&2
fi
echo "soak.sh: seed $SEED: $ok passed, $failed failed"
[ "$failed" = 0 ]
