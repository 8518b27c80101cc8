#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# How late does a renewal start after a certificate's renewal moment, and
# what does being on time cost? Two copies of the same stores (N
# certificates that live one minute, their renewal moments spread over
# the minute) run side by side for SECONDS:
#   clock  `evercert monitor`, on its own clock (it sleeps until the
#          next renewal moment, activate_at or retirement);
#   poll   the baseline: `evercert renew` every POLL seconds, as a timer
#          would run it (cron's own floor is 60 s; POLL is shorter, to be
#          fair to the baseline on one-minute certificates).
# A sampler reads every live certificate and its staged successor every
# 0.25 s. Figures per run: rotations, the delay from a renewal moment to
# the successor staged (mean and worst; moments after the start only),
# samples where a live certificate had expired, passes, and CPU seconds
# (user + system) spent.
#
# usage: clock_bench.sh PATH-TO-EVERCERT [N [SECONDS [POLL]]]
set -u
EVC=${1:?usage: clock_bench.sh PATH-TO-EVERCERT [N [SECONDS [POLL]]]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
N=${2:-10}
SECS=${3:-120}
POLL=${4:-15}
T=$(mktemp -d /tmp/evc-clockbench-XXXXXX)
export TZ=UTC
MON=
LOOP=
cleanup() {
    [ -n "$MON" ] && kill "$MON" 2>/dev/null
    [ -n "$LOOP" ] && kill "$LOOP" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

"$EVC" ca init --out root --subject "CN=Clock Bench Root" >/dev/null || exit 1
for run in clock poll; do
    mkdir -p "$run/deleted"
    cp -r root "$run/root"
    cat >"$run/c.ini" <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 50%

[monitor]
frequency = 7
day_of_week = $(date -u -d '+3 days' +%A | tr A-Z a-z)
hour = 3
minute = 30
state = state.db

[store "root"]
role = root
path = root

[store "deleted"]
role = deleted
path = deleted
EOF
done
# Certificates whose renewal moments fall across the first minute.
i=0
while [ $i -lt "$N" ]; do
    off=$((i * 60 / N))
    "$EVC" issue --ca root --cn "s$i.test" --san "DNS:s$i.test" --minutes 1 \
        --at "$(at "-$off seconds")" --out-cert "clock/s$i.crt" --out-key "clock/s$i.key" >/dev/null || exit 1
    cp "clock/s$i.crt" "clock/s$i.key" poll/
    for run in clock poll; do
        printf '\n[store "s%d"]\nrole = personal\ncert = s%d.crt\nkey = s%d.key\n' $i $i $i >>"$run/c.ini"
    done
    i=$((i + 1))
done

cpu() { # cpu PID: user + system ticks of a process and of the children it waited for
    awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0
}
"$EVC" monitor --config clock/c.ini 2>clock/mon.log &
MON=$!
(
    cd poll || exit 1
    end=$(($(date +%s) + SECS))
    while [ "$(date +%s)" -lt "$end" ]; do
        "$EVC" renew --config c.ini >/dev/null 2>>renew.log
        echo pass >>passes
        sleep "$POLL"
    done
) &
LOOP=$!
python3 - "$N" "$SECS" <<'EOF' >samples.txt
import os, ssl, sys, time
n, secs = int(sys.argv[1]), float(sys.argv[2])
start = time.time()
end = start + secs
def cert_times(p):
    try:
        d = ssl._ssl._test_decode_cert(p)
        return ssl.cert_time_to_seconds(d["notBefore"]), ssl.cert_time_to_seconds(d["notAfter"])
    except Exception:
        return None
state = {}
while time.time() < end:
    now = time.time()
    for run in ("clock", "poll"):
        for i in range(n):
            live = cert_times(f"{run}/s{i}.crt")
            staged = os.path.exists(f"{run}/s{i}.crt.next")
            if live is None:
                continue
            nb, na = live
            moment = na - (na - nb) / 2
            key = (run, i)
            last = state.get(key)
            if last is None or last[0] != na:
                if last is not None:
                    print(run, i, "rotated", now)
                state[key] = (na, False)
                last = state[key]
            if staged and not last[1]:
                # Moments before the start were overdue when the runs began: not a delay of either.
                if moment >= start:
                    print(run, i, "staged", now - moment)
                state[key] = (na, True)
            if now >= na:
                print(run, i, "expired", now)
    time.sleep(0.25)
EOF
cpu_clock=$(cpu $MON)
cpu_poll=$(cpu $LOOP)
kill -TERM $MON $LOOP 2>/dev/null
wait $MON $LOOP 2>/dev/null
MON=
LOOP=
hz=$(getconf CLK_TCK)
passes_clock=$(grep -c "pass started" clock/mon.log)
passes_poll=$(wc -l <poll/passes)
awk -v run=clock -v passes="$passes_clock" -v cpu="$cpu_clock" -v hz="$hz" '
    $1 == run && $3 == "staged" { n++; s += $4; if ($4 > w) w = $4 }
    $1 == run && $3 == "rotated" { r++ }
    $1 == run && $3 == "expired" { e++ }
    END { printf "clock  rotations %3d  staged after the moment: mean %5.2f s  worst %5.2f s  expired samples %d  passes %d  cpu %.2f s\n", r, n ? s / n : 0, w, e, passes, cpu / hz }
' samples.txt
awk -v run=poll -v passes="$passes_poll" -v cpu="$cpu_poll" -v hz="$hz" '
    $1 == run && $3 == "staged" { n++; s += $4; if ($4 > w) w = $4 }
    $1 == run && $3 == "rotated" { r++ }
    $1 == run && $3 == "expired" { e++ }
    END { printf "poll   rotations %3d  staged after the moment: mean %5.2f s  worst %5.2f s  expired samples %d  passes %d  cpu %.2f s\n", r, n ? s / n : 0, w, e, passes, cpu / hz }
' samples.txt
awk '
    $3 == "staged" { n[$1]++; s[$1] += $4 }
    END { if (n["clock"] && n["poll"] && s["clock"] > 0) printf "ratio  mean delay poll / clock: %.1f\n", (s["poll"] / n["poll"]) / (s["clock"] / n["clock"]) }
' samples.txt
