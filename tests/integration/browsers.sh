#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Real browsers on the NSS databases the agent writes. `evercert monitor`
# renews two self-signed certificates that live LIFETIME seconds and
# swaps them in: web on nginx (after_replace reloads it; its SA at the
# well-known URL) and svc on `evercert serve` (the SA in the handshake
# and down the push channel). Four browser profiles, each with its own
# NSS database holding the first certificates as the user put them there
# (certutil -A, nicknames of the user's own, trust CP,,):
#   chromium-a, firefox-a  kept by `evercert agent` (trust = nss:DIR);
#   chromium-n, firefox-n  not kept.
# Headless Chromium (its own HOME, so its own ~/.pki/nssdb) and headless
# Firefox ESR (--profile) load a page from both servers, a fresh browser
# process each time, until each server has rotated ROTATIONS times. A
# load counts only with both proofs: the page (Chromium: its text, the
# marker nginx serves or the certificate fingerprint serve answers;
# Firefox: a screenshot) and the server's own record (nginx's access log
# line for that load, serve's request counter). Pass: every load of the
# kept profiles succeeds through every rotation, the unkept ones load
# before the first rotation and fail after it, and certutil shows the
# user's own entries still there with their own trust. Why CP,,: two more
# profiles hold the first web certificate trusted one way only, and
# Firefox refuses it as a trusted peer (P,,), Chromium as a CA (C,,).
#
# usage: browsers.sh PATH-TO-EVERCERT [LIFETIME-SECONDS [ROTATIONS]]
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: browsers.sh PATH-TO-EVERCERT [LIFETIME] [ROTATIONS]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
LIFE=${2:-60}
ROT=${3:-2}
for tool in nginx curl certutil chromium firefox-esr; do
    command -v $tool >/dev/null || {
        echo "SKIP: $tool is not installed (bootstrap.sh test installs it)" >&2
        exit 77
    }
done
[ "$LIFE" -ge 60 ] || { echo "usage: a lifetime of at least 60 s (browser loads take seconds)" >&2; exit 2; }
T=$(mktemp -d /tmp/evc-browsers-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    touch "$T/STOP" 2>/dev/null
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid" 2>/dev/null)" 2>/dev/null
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
chmod 755 "$T" && cd "$T" || exit 1
D=$T
OUT=$T/loads
mkdir logs deleted retired "$OUT"
BASE=$(port_block 8)
WEB=$BASE SVC=$((BASE + 1)) PUSH=$((BASE + 2)) STATUS=$((BASE + 3))
now() { date +%s; }

mkcert web web.test "$LIFE" && mkcert svc svc.test "$LIFE" || { echo "FAIL: openssl ca made no certificate" >&2; exit 1; }

# The browsers' profiles, each an NSS database with the first certificates as a user adds them.
nssdb() { # PROFILE: the directory its browser reads
    case $1 in chromium-*) echo "$T/$1/home/.pki/nssdb" ;; *) echo "$T/$1" ;; esac
}
for p in chromium-a firefox-a chromium-n firefox-n chromium-c firefox-p; do
    db=$(nssdb $p)
    mkdir -p "$db" "$T/$p/home" &&
        certutil -N -d "sql:$db" --empty-password &&
        certutil -A -d "sql:$db" -n "my web server" -t "CP,," -i web.crt &&
        certutil -A -d "sql:$db" -n "my svc server" -t "CP,," -i svc.crt ||
        { echo "FAIL: certutil cannot make the profile $p" >&2; exit 1; }
done
certutil -M -d "sql:$(nssdb chromium-c)" -n "my web server" -t "C,," &&
    certutil -M -d "sql:$(nssdb firefox-p)" -n "my web server" -t "P,," ||
    { echo "FAIL: certutil -M" >&2; exit 1; }

cat >nginx.conf <<EOF
pid $D/nginx.pid;
error_log $D/logs/error.log;
events {}
http {
    access_log $D/logs/access.log;
    server {
        listen 127.0.0.1:$WEB ssl;
        ssl_certificate $D/web.crt;
        ssl_certificate_key $D/web.key;
        location = / { default_type text/html; return 200 "<html><body><p>evercert-browser-page</p></body></html>\n"; }
        location = /.well-known/evercert/successor {
            alias $D/web.crt.sa;
            default_type application/octet-stream;
        }
    }
}
EOF
rig_monitor_ini "$D"
cat >agent.ini <<EOF
[agent]
state = agent.db
deleted = retired
EOF
for p in chromium-a firefox-a; do
    cat >>agent.ini <<EOF

[server "web-$p"]
connect = 127.0.0.1:$WEB
service = web.test
trust = nss:$(nssdb $p)
url = https://web.test/.well-known/evercert/successor
sources = url
interval = 1s

[server "svc-$p"]
connect = 127.0.0.1:$SVC
service = svc.test
trust = nss:$(nssdb $p)
announce = 127.0.0.1:$PUSH
sources = handshake, push
interval = 1s
EOF
done
for p in chromium-a firefox-a chromium-n firefox-n; do
    certutil -L -d "sql:$(nssdb $p)" >"$OUT/$p-before.txt" 2>&1
done

nginx -p "$D" -c "$D/nginx.conf" || { echo "FAIL: nginx did not start" >&2; exit 1; }
"$EVC" serve --cert svc.crt --key svc.key --sa svc.crt.sa --listen 127.0.0.1:$SVC \
    --announce-listen 127.0.0.1:$PUSH --status-listen 127.0.0.1:$STATUS 2>serve.log &
PIDS="$PIDS $!"
i=0
until curl -sf http://127.0.0.1:$STATUS/metrics >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
START=$(now)
"$EVC" monitor --config monitor.ini 2>monitor.log &
PIDS="$PIDS $!"
"$EVC" agent --config agent.ini 2>agent.log &
PIDS="$PIDS $!"

rotations() { grep -c "action=activate store=$1 .*done=1" monitor.log 2>/dev/null; }
served() { curl -s http://127.0.0.1:$STATUS/metrics | awk '$1 == "evercert_serve_requests_total" { print $2 }'; }

# load PROFILE SERVER: one fresh browser process loads one page; a line in loads.log says how it went.
N=0
load() {
    N=$((N + 1))
    p=$1 s=$2 tag=$N-$1-$2 page=0 record=0
    rot=$(rotations "$s")
    if [ "$s" = web ]; then url="https://127.0.0.1:$WEB/?load=$tag"; else url="https://127.0.0.1:$SVC/?load=$tag"; fi
    [ "$s" = svc ] && before=$(served)
    case $p in
    chromium-*)
        HOME=$T/$p/home timeout 40 chromium --headless --no-sandbox --disable-gpu --disable-quic \
            --no-first-run --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$T/$p/data" --dump-dom "$url" >"$OUT/$tag.html" 2>"$OUT/$tag.err"
        if [ "$s" = web ]; then
            grep -q "evercert-browser-page" "$OUT/$tag.html" && page=1
        else
            grep -Eq "[0-9a-f]{64}" "$OUT/$tag.html" && page=1
        fi
        ;;
    firefox-*)
        # On a certificate error the screenshot never comes: the bound says it failed.
        HOME=$T/$p/home timeout 25 firefox-esr --headless --no-remote --profile "$T/$p" \
            --screenshot "$OUT/$tag.png" "$url" >"$OUT/$tag.err" 2>&1 && [ -s "$OUT/$tag.png" ] && page=1
        ;;
    esac
    if [ "$s" = web ]; then
        grep -q "GET /?load=$tag HTTP/1.1\" 200" logs/access.log && record=1
    else
        after=$(served)
        [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ] && record=1
    fi
    if [ $page = 1 ] && [ $record = 1 ]; then r=ok; else r=FAIL; fi
    echo "$(now) $p $s rotation=$rot $r page=$page record=$record $tag" >>loads.log
}
round() { for s in web svc; do for p in "$@"; do load "$p" "$s"; done; done; }

# Before the first rotation every profile loads both pages; one trust flag alone is not enough.
round chromium-a firefox-a chromium-n firefox-n
load chromium-c web
load firefox-p web
limit=$((LIFE * 3 / 4 + ROT * LIFE * 2 / 5 + 60))
while { [ "$(rotations web)" -lt "$ROT" ] || [ "$(rotations svc)" -lt "$ROT" ]; } && [ $(($(now) - START)) -lt $limit ]; do
    round chromium-a firefox-a
    sleep 2 # a few loads per rotation are enough
done
# After the last swap: the kept profiles once more, the others must now fail.
round chromium-a firefox-a
round chromium-n firefox-n
ELAPSED=$(($(now) - START))
for p in chromium-a firefox-a chromium-n firefox-n; do
    certutil -L -d "sql:$(nssdb $p)" >"$OUT/$p-after.txt" 2>&1
done
check "Chromium refuses a self-signed server certificate trusted C,, only" grep -q " chromium-c web rotation=0 FAIL " loads.log
check "Firefox refuses a self-signed server certificate trusted P,, only" grep -q " firefox-p web rotation=0 FAIL " loads.log

echo "browsers: $(rotations web) rotations of web (nginx), $(rotations svc) of svc (evercert serve), ${LIFE} s certificates, $ELAPSED s"
for p in chromium-a firefox-a chromium-n firefox-n; do
    for s in web svc; do
        echo "  $p on $s: $(grep -c " $p $s " loads.log) loads, $(grep -c " $p $s .* FAIL " loads.log) failed"
    done
done
check "the monitor rotated nginx $ROT times" test "$(rotations web)" -ge "$ROT"
check "the monitor rotated serve $ROT times" test "$(rotations svc)" -ge "$ROT"
for p in chromium-a firefox-a; do
    for s in web svc; do
        check "$p on $s, kept by the agent: 0 failed loads" test "$(grep -c " $p $s .* FAIL " loads.log)" = 0
        check "$p on $s loaded the page after rotation $ROT" \
            test "$(grep " $p $s " loads.log | awk -v r="$ROT" '{ split($4, a, "="); if (a[2] >= r && $5 == "ok") n++ } END { print n + 0 }')" -ge 1
        for k in $(seq 1 "$ROT"); do
            check "$p on $s loaded the page between rotation $k and the next" \
                test "$(grep " $p $s rotation=$k ok " loads.log | wc -l)" -ge 1
        done
    done
done
for p in chromium-n firefox-n; do
    for s in web svc; do
        check "$p on $s, not kept: loads before the first rotation" grep -q " $p $s rotation=0 ok " loads.log
        check "$p on $s, not kept: fails after the rotations" grep -Eq " $p $s rotation=[1-9][0-9]* FAIL " loads.log
    done
done
for p in chromium-a firefox-a chromium-n firefox-n; do
    check "$p: the user's own web entry keeps its trust" grep -Eq "^my web server +CP,, *$" "$OUT/$p-after.txt"
    check "$p: the user's own svc entry keeps its trust" grep -Eq "^my svc server +CP,, *$" "$OUT/$p-after.txt"
done
for p in chromium-a firefox-a; do
    check "$p: the agent's successors are there as evercert's, trusted CP,," grep -Eq "^evercert [0-9a-f]{16} +CP,, *$" "$OUT/$p-after.txt"
done
for p in chromium-n firefox-n; do
    check "$p: nothing changed in the profile nobody kept" cmp -s "$OUT/$p-before.txt" "$OUT/$p-after.txt"
done
check "the agent wrote both profiles for every rotation" \
    test "$(grep -c "event=accept" agent.log)" -ge $((4 * ROT))
if [ "$fail" != 0 ]; then
    echo "--- loads.log (proof of each load in $OUT: page text or screenshot)" >&2 && cat loads.log >&2
    for f in $(awk '$5 == "FAIL" && $2 ~ /-a$/ { print $NF }' loads.log | head -4); do
        echo "--- $f" >&2 && cat "$OUT/$f.html" "$OUT/$f.err" 2>/dev/null | head -20 >&2
    done
    echo "--- agent.log" >&2 && tail -30 agent.log >&2
    echo "--- monitor.log" >&2 && tail -20 monitor.log >&2
    [ -n "${KEEP:-}" ] || echo "(KEEP=1 keeps $T)" >&2
fi
summary browsers.sh
