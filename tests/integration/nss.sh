#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The agent keeping NSS databases (cert9.db, what Firefox and Chromium
# read), judged by NSS's own certutil. `evercert serve` announces two
# successors of a self-signed certificate; `agent --once` writes them:
#   - into a database with entries of the user's own (the first
#     certificate as "my server", a CA for TLS and e-mail, a certificate
#     marked distrusted), which keep their nicknames and trust through
#     every change; the successors come in as "evercert <hex>" with CP,,;
#   - an expired predecessor evercert added leaves the database, one the
#     user added stays;
#   - nss:DIR, sql:DIR and a directory holding cert9.db (auto) all work;
#   - a database with a password, with password_file and without;
#   - a damaged, a missing and a locked database are errors naming the
#     directory and why, and the files stay as they were.
#
# usage: nss.sh PATH-TO-EVERCERT
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: nss.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
for tool in certutil python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (bootstrap.sh test installs it)" >&2; exit 77; }
done
T=$(mktemp -d /tmp/evc-nss-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$T" || exit 1
export TZ=UTC
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
PORT=$(port_block 8)
# nick DB: the lines of certutil -L, one "nickname|trust" per entry, sorted
listing() { certutil -L -d "sql:$1" | tail -n +5 | sed -E 's/ +([cCpPTu]*,[cCpPTu]*,[cCpPTu]*) *$/|\1/' | sort; }
evcnick() { echo "evercert $(fp "$1" | cut -c1-16)"; }

# Three generations of a two-day certificate: a from yesterday, b and c from now; SAs a->b, b->c.
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 2 --at "$(at '-1 day')" \
    --out-cert a.crt --out-key a.key >/dev/null &&
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 2 --out-cert b.crt --out-key b.key >/dev/null &&
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 2 --out-cert c.crt --out-key c.key >/dev/null &&
    "$EVC" ca init --out root --subject "CN=Other Root" >/dev/null ||
    { echo "FAIL: evercert made no certificates" >&2; exit 1; }
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa &&
    "$EVC" announce --current b.crt --current-key b.key --successor c.crt --successor-key c.key \
        --service web.test --generation 2 --activate-at "$(at '+2 hours')" --out bc.sa ||
    { echo "FAIL: evercert announce" >&2; exit 1; }
ROOT=$(ls root/*.crt 2>/dev/null | head -1)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bad.key -out bad.crt \
    -subj /CN=distrusted.test -days 30 2>/dev/null
cp a.crt live.crt && cp a.key live.key && cp ab.sa live.sa
"$EVC" serve --cert live.crt --key live.key --sa live.sa --listen 127.0.0.1:$PORT 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5

# The databases, as a browser profile has them.
newdb() { mkdir -p "$1" && certutil -N -d "sql:$1" --empty-password; }
newdb profile && certutil -A -d sql:profile -n "my server" -t "P,," -i a.crt &&
    certutil -A -d sql:profile -n "Other Root" -t "C,C," -i "$ROOT" &&
    certutil -A -d sql:profile -n "distrusted" -t "p,p," -i bad.crt || { echo "FAIL: certutil" >&2; exit 1; }
newdb auto && certutil -A -d sql:auto -n "my server" -t "CP,," -i a.crt
echo secret >pw.txt && echo wrong >wrong.txt
for d in pw nopw; do
    mkdir $d && certutil -N -d sql:$d -f pw.txt && certutil -A -d sql:$d -n "my server" -t "CP,," -i a.crt -f pw.txt
done
newdb damaged && certutil -A -d sql:damaged -n "my server" -t "CP,," -i a.crt &&
    head -c 3000 damaged/cert9.db >cut.db && cat cut.db >damaged/cert9.db
newdb locked && certutil -A -d sql:locked -n "my server" -t "CP,," -i a.crt
mkdir empty
listing profile >profile.before
for d in damaged locked empty; do (cd $d && ls -lA --time-style=+%s && sha256sum ./* 2>/dev/null) >$d.before; done

server() { # NAME TRUST [EXTRA]
    printf '[server "%s"]\nconnect = 127.0.0.1:%s\nservice = web.test\ntrust = %s\n%s\n' "$1" "$PORT" "$2" "${3:-}"
}
{
    printf '[agent]\nstate = agent.db\ndeleted = deleted\n'
    server profile nss:profile
    server auto auto
    server pw sql:pw "password_file = pw.txt"
    server nopw nss:nopw
    server wrongpw nss:pw "password_file = wrong.txt"
} >agent.ini
{
    printf '[agent]\nstate = bad.db\n'
    server damaged nss:damaged
    server empty nss:empty
    server locked nss:locked
} >bad.ini

# --- the first successor
status "agent --once: the good databases take the first successor, the others are errors" 2 \
    "$EVC" agent --config agent.ini --once
cp "$T/err" once1.err
B=$(evcnick b.crt) C=$(evcnick c.crt)
listing profile >profile.1
check "b is in the profile as evercert's, trusted CP,, (Firefox and Chromium)" grep -qx "$B|CP,," profile.1
check "the user's first certificate keeps its nickname and P,," grep -qx "my server|P,," profile.1
check "the user's root keeps C,C," grep -qx "Other Root|C,C," profile.1
check "the user's distrusted entry stays distrusted" grep -qx "distrusted|p,p," profile.1
check "nothing else changed in the profile" test "$(comm -13 profile.before profile.1)" = "$B|CP,,"
check "a directory holding cert9.db is an NSS database (auto)" sh -c "certutil -L -d sql:auto | grep -q '^$B '"
check "a database with a password is written with password_file" sh -c "certutil -L -d sql:pw | grep -q '^$B '"
check "without password_file it is an error naming the database" grep -q "server=nopw .*/nopw: the database has a password and no password_file gives it" once1.err
check "with a wrong password it is an error naming the database" grep -q "server=wrongpw .*/pw: the database has a password and password_file does not give it" once1.err
check "the database without a password_file is untouched" sh -c "! certutil -L -d sql:nopw | grep -q '^evercert '"

# --- the second successor; then, days later, the expired predecessors retire
cp b.crt live.crt.new && cp b.key live.key.new && mv live.key.new live.key && mv live.crt.new live.crt && cp bc.sa live.sa
i=0
until [ "$(echo | openssl s_client -connect 127.0.0.1:$PORT 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null)" = \
    "$(openssl x509 -in b.crt -noout -fingerprint -sha256)" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
"$EVC" agent --config agent.ini --once >/dev/null 2>once2.err
listing profile >profile.2
check "c is in the profile as evercert's, trusted CP,," grep -qx "$C|CP,," profile.2
check "b is still there beside it" grep -qx "$B|CP,," profile.2
"$EVC" agent --config agent.ini --once --at "$(at '+2 days +1 hour')" >/dev/null 2>once3.err
listing profile >profile.3
check "b, evercert's, expired and left the profile" sh -c "! grep -q '^$B|' profile.3"
check "c stays" grep -qx "$C|CP,," profile.3
check "the user's expired first certificate stays, with P,, (evercert did not add it)" grep -qx "my server|P,," profile.3
check "the user's root and distrusted entry are as they were" sh -c "grep -qx 'Other Root|C,C,' profile.3 && grep -qx 'distrusted|p,p,' profile.3"
check "the retired b is in the deleted store" sh -c "grep -l 'expired predecessor' deleted/* | xargs grep -l 'profile' | head -1 | grep -q ."

# --- bad databases: errors naming the directory and why; nothing changes
python3 - "$T/locked/cert9.db" "$T/held" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(30)
EOF
LOCKER=$!
PIDS="$PIDS $LOCKER"
wait_for_file() { i=0; while [ ! -f "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; }
wait_for_file held
status "agent --once on damaged, missing and locked databases: errors" 2 "$EVC" agent --config bad.ini --once
kill $LOCKER 2>/dev/null
wait $LOCKER 2>/dev/null
check "a damaged cert9.db is an error naming its directory" grep -q "server=damaged .*/damaged: NSS cannot open the database" "$T/err"
check "a directory without cert9.db is an error saying so" grep -q "server=empty .*/empty: not an NSS database: cert9.db: No such file" "$T/err"
check "a locked database is an error naming its directory" grep -q "server=locked .*/locked: NSS cannot open the database" "$T/err"
for d in damaged locked empty; do
    (cd $d && ls -lA --time-style=+%s && sha256sum ./* 2>/dev/null) >$d.after
    check "the $d database's files are as they were" cmp -s $d.before $d.after
done
check "no database was made where there was none" test ! -e empty/cert9.db
if [ "$fail" != 0 ]; then
    for f in once1.err once2.err once3.err err; do echo "--- $f" >&2 && tail -15 "$T/$f" >&2; done
    echo "--- profile" >&2 && certutil -L -d sql:profile >&2
fi
summary nss.sh
