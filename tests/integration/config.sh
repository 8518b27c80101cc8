#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The configuration file through the real command: check-config and
# --check-config on good and bad files (the exit status, FILE:LINE and the
# reason, nothing written), the manual page made from the key table, and
# a monitor's SIGHUP that changes what only a restart can.
#
# usage: config.sh PATH-TO-EVERCERT PATH-TO-evercert.conf.5
set -u
EVC=${1:?usage: config.sh PATH-TO-EVERCERT PATH-TO-evercert.conf.5}
MAN5=${2:?usage: config.sh PATH-TO-EVERCERT PATH-TO-evercert.conf.5}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
T=$(mktemp -d /tmp/evc-config-XXXXXX)
S=$(mktemp -d /tmp/evc-config-snap-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T" "$S"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# A store that exists: a self-signed certificate for an hour.
"$EVC" selfsign --cn web.test --san DNS:web.test --days 1 --out-cert web.crt --out-key web.key \
    >/dev/null 2>&1 || { echo "cannot make a certificate" >&2; exit 1; }
cat >good.ini <<'INI'
; the policy first
[policy]
expiration_threshold = 33%

# the store
[store "web"]
role = personal
cert = web.crt
key = web.key
INI
# snapshot: every file with its size and content hash, to prove nothing is written
snap() {
    find "$T" -path "$T/out" -prune -o -path "$T/err" -prune -o -print | sort
    find "$T" -path "$T/out" -prune -o -path "$T/err" -prune -o -type f -print | sort | xargs sha256sum
}

# 1. A good file: FILE: ok on stdout, exit 0, nothing written (no state, no deleted store).
snap >"$S/before"
status "check-config good" 0 "$EVC" check-config good.ini
check "check-config says FILE: ok" grep -qx "good.ini: ok" out
snap >"$S/after"
check "check-config writes nothing" cmp -s "$S/before" "$S/after"
check "no state database made" test ! -e good-state.db
check "no deleted store made" test ! -e good-deleted
# the default deleted store is missing: a warning naming it, the status stays 0
check "a missing deleted store is a warning" grep -q "good.ini: warning: the default deleted store's path .*good-deleted is missing" err

# 2. A bad key after comments and blank lines: FILE:LINE: reason, exit 1, nothing written.
sed 's/^role = personal$/rolle = personal/' good.ini >typo.ini
snap >"$S/before"
status "check-config bad key" 1 "$EVC" check-config typo.ini
check "the bad key's own line" grep -qx "typo.ini:7: unknown key 'rolle' in a store" err
check "nothing on stdout for a bad file" test ! -s out
snap >"$S/after"
check "a bad file writes nothing" cmp -s "$S/before" "$S/after"

# 3. A bad value, a continuation line, a line without '=': each at its line.
printf '[monitor]\n\n; x\nhour = 24\n' >hour.ini
status "bad hour" 1 "$EVC" check-config hour.ini
check "bad hour line 4" grep -qx "hour.ini:4: hour: expected a whole number from 0 to 23, not '24'" err
printf '[notify]\nemail_to = a@b\n    c@d\n' >cont.ini
status "continuation" 1 "$EVC" check-config cont.ini
check "continuation line 3" grep -q "^cont.ini:3: an indented line continues the value above" err
printf '[policy]\n\n\nthis is not a key\n' >junk.ini
status "not a key" 1 "$EVC" check-config junk.ini
check "not a key line 4" grep -q "^junk.ini:4: not a section, a key = value or a comment" err

# 4. What only the disk can tell: a missing key file is an error naming its store and the
# key's own line.
sed 's/^key = web.key$/key = gone.key/' good.ini >nokey.ini
status "missing key file" 1 "$EVC" check-config nokey.ini
check "missing key file named with its store, at the key's line" \
    grep -qx "nokey.ini:9: store \"web\": key ./gone.key: No such file or directory" err
printf 'secret\n' >pw.txt
chmod 000 pw.txt
if [ "$(id -u)" != 0 ]; then
    printf '[policy]\ndelete_old = no\n[store "t"]\nrole = trust\npath = web.crt\npassword_file = pw.txt\n' >pw.ini
    status "unreadable password file" 1 "$EVC" check-config pw.ini
    check "unreadable password file named at its line" grep -q "^pw.ini:6: store \"t\": password_file ./pw.txt: Permission denied" err
else
    echo "note: running as root, who reads any file: the unreadable password file is not tried" >&2
fi
chmod 600 pw.txt

# 5. --check-config on the monitor and the agent: the file they would use, then exit.
snap >"$S/before"
status "monitor --check-config good" 0 "$EVC" monitor --config good.ini --check-config
check "monitor --check-config ok" grep -qx "good.ini: ok" out
status "monitor --check-config bad" 1 "$EVC" monitor --config typo.ini --check-config
check "monitor --check-config FILE:LINE" grep -qx "typo.ini:7: unknown key 'rolle' in a store" err
snap >"$S/after"
check "monitor --check-config starts nothing and writes nothing" cmp -s "$S/before" "$S/after"
cat >agent.ini <<'INI'
[agent]
state = agent.db
[server "web"]
connect = 127.0.0.1:9
trust = trust.pem
INI
status "agent --check-config good" 0 "$EVC" agent --config agent.ini --check-config
check "agent --check-config ok" grep -qx "agent.ini: ok" out
check "agent: the missing trust store is a warning at its line" grep -q "^agent.ini:5: warning: server \"web\": trust .*trust.pem is missing" err
check "agent --check-config opens no state" test ! -e agent.db
status "agent --check-config without servers" 1 "$EVC" agent --config good.ini --check-config
check "agent: no servers is said" grep -qx "good.ini: no \[server \"name\"\] sections to follow" err
status "check-config a missing file" 1 "$EVC" check-config nothere.ini
check "a missing file is named" grep -q "^nothere.ini: " err

# 5b. Cross-checks name the key's own line, a missing key its section's header.
cat >cross.ini <<'INI'
[server "web"]
connect = 127.0.0.1:9
; the trust store the applications read
trust = trust.pem

interval = 0s
INI
status "interval = 0s" 1 "$EVC" check-config cross.ini
check "interval = 0s at its line, with its bound" \
    grep -qx "cross.ini:6: interval: '0s' is too short; at least 1s" err
printf '[server "s"]\nconnect = h:1\ntrust = t\n\nurl = http://x/y\n' >url.ini
status "url not https" 1 "$EVC" check-config url.ini
check "url at its line" grep -qx "url.ini:5: server \"s\": url: expected https://host/path" err
printf '[server "s"]\nconnect = h:1\nsources = push\ntrust = t\n' >push.ini
status "push without announce" 1 "$EVC" check-config push.ini
check "sources at its line" \
    grep -qx "push.ini:3: server \"s\": sources has push but there is no announce = host:port" err
printf '[policy]\ndelete_old = no\n[store "r"]\nrole = root\npath = .\n\nafter_replace = true\n' >hook.ini
status "after_replace in a root store" 1 "$EVC" check-config hook.ini
check "after_replace at its line" grep -q "^hook.ini:7: store \"r\": service, after_replace" err
printf '[server "s"]\nconnect = h:1\n' >need.ini
status "a missing key" 1 "$EVC" check-config need.ini
check "a missing key at the section's line" grep -qx "need.ini:1: server \"s\": connect and trust are needed" err

# 5c. Durations within their bounds, said when not; DAY in any case.
printf '[store "w"]\nrole = trust\npath = web.crt\nhook_timeout = 0s\n' >hto.ini
status "hook_timeout = 0s" 1 "$EVC" check-config hto.ini
check "hook_timeout = 0s refused with its bound" grep -qx "hto.ini:4: hook_timeout: '0s' is too short; at least 1s" err
printf '[store "w"]\nrole = personal\ncert = web.crt\nkey = web.key\nverify = h:1\nverify_timeout = 0s\n' >vto.ini
status "verify_timeout = 0s" 1 "$EVC" check-config vto.ini
check "verify_timeout = 0s refused" grep -qx "vto.ini:6: verify_timeout: '0s' is too short; at least 1s" err
printf '[policy]\ndeleted_retention = 36500000d\n[store "w"]\nrole = trust\npath = web.crt\n' >big.ini
status "a duration too large to count" 1 "$EVC" check-config big.ini
check "too large says at most" grep -qx "big.ini:2: deleted_retention: '36500000d' is too long; at most 3650d" err
printf '[monitor]\nday_of_week = ANY\n[policy]\nreuse_key = yes\n[store "w"]\nrole = trust\npath = web.crt\n' >day.ini
status "day_of_week = ANY" 0 "$EVC" check-config day.ini
printf '[policy]\nreuse_key = True\n' >bool.ini
status "BOOL in another case" 1 "$EVC" check-config bool.ini
check "BOOL says the words it takes" grep -qx "bool.ini:2: reuse_key: expected true or false (or yes, on, no, off), not 'True'" err

# 5e. A state in PostgreSQL: the fleet's files are read at start; a password belongs in a 0600
# file, not in the URL; a readable fleet key is refused. Nothing is connected to.
printf 'h\n' >fleet.pw && chmod 600 fleet.pw
head -c 32 /dev/urandom >fleet.key && chmod 600 fleet.key
printf '[monitor]\nstate = postgresql://u:pw@127.0.0.1:1/f\n[fleet]\npassword_file = fleet.pw\nkey_file = fleet.key\n[store "s"]\nrole = trust\npath = ca.pem\n' >fleetpw.ini
: >ca.pem
status "a password in the state URL is refused" 1 "$EVC" check-config fleetpw.ini
check "... at the state's line" grep -q "^fleetpw.ini:2: \[monitor\] state: the URL holds a password" err
check "... and the password is not shown" sh -c '! grep -q "pw@" err'
for u in 'postgresql://127.0.0.1/f?sslpassword=x' 'postgresql://127.0.0.1/f?pass%77ord=x' 'postgresql://u:p?q@127.0.0.1/f'; do
    printf '[monitor]\nstate = %s\n[store "s"]\nrole = trust\npath = ca.pem\n' "$u" >fleetpw2.ini
    status "a password hidden in $u is refused" 1 "$EVC" check-config fleetpw2.ini
done
printf '[monitor]\nstate = postgresql://db.example/f\n[store "s"]\nrole = trust\npath = ca.pem\n' >fleettls.ini
status "a remote database without verify-full" 0 "$EVC" check-config fleettls.ini
check "... is a warning at the state's line" grep -q "^fleettls.ini:2: warning: \[monitor\] state: a database on another host without sslmode=verify-full" err
printf '[monitor]\nstate = postgresql://db.example/f?sslmode=verify-full\n[store "s"]\nrole = trust\npath = ca.pem\n' >fleettls.ini
status "... with verify-full" 0 "$EVC" check-config fleettls.ini
check "... is not" sh -c '! grep -q "verify-full" err'
printf '[monitor]\nstate = postgresql://127.0.0.1:1/f\n[fleet]\npassword_file = fleet.pw\nkey_file = fleet.key\n[store "s"]\nrole = trust\npath = ca.pem\n' >fleetpw.ini
chmod 644 fleet.key
status "a fleet key readable by others" 1 "$EVC" check-config fleetpw.ini
check "... is refused at key_file's line" grep -q "^fleetpw.ini:5: \[fleet\] key_file ./fleet.key: readable by others (mode 644)" err
printf '[monitor]\nstate = postgresql://127.0.0.1:1/f\n[fleet]\npassword_file = nowhere.pw\n[store "s"]\nrole = trust\npath = ca.pem\n' >fleetmiss.ini
status "a missing fleet password file" 1 "$EVC" check-config fleetmiss.ini
check "... names its line" grep -q "^fleetmiss.ini:4: \[fleet\] password_file ./nowhere.pw: No such file" err
printf '[fleet]\nhost = a\n[store "s"]\nrole = trust\npath = ca.pem\n' >fleetnone.ini
status "[fleet] without a postgresql:// state" 0 "$EVC" check-config fleetnone.ini
check "... is a warning" grep -q "^fleetnone.ini:2: warning: \[fleet\] is used only with a postgresql:// state" err

# 6. The manual page names every key of the table (the list from the command, not a copy).
# Rendered with man where it is installed; else its roff source, where a key is ".B key = TYPE".
if command -v man >/dev/null && command -v col >/dev/null; then
    MANWIDTH=200 man -l "$MAN5" 2>/dev/null | col -b >man.txt
    check "man -l renders evercert.conf(5)" grep -q "EVERCERT.CONF(5)" man.txt
else
    echo "note: man or col is not installed; the page's roff source is read instead" >&2
    sed -n 's/^\.B //p; s/^\.TH \([A-Z.]*\) 5.*/\1(5)/p' "$MAN5" | sed 's/\\-/-/g' >man.txt
    check "evercert.conf(5) has its title" grep -q "EVERCERT.CONF(5)" man.txt
fi
"$EVC" check-config --keys >keys.txt
check "the key list is not empty" test "$(wc -l <keys.txt)" -gt 40
while IFS="$(printf '\t')" read -r sec key type dflt reload; do
    if grep -q "^ *$key = $type\$" man.txt; then ok; else bad "man page lacks [$sec] $key = $type"; fi
done <keys.txt
check "the page says which keys need a restart" grep -q "Needs a restart" "$MAN5"
check "the page gives a duration's bounds" grep -q "From 1s to 1d" man.txt
# Each type its own tagged paragraph, each form of check-config on its own line: in the roff,
# and rendered where man is installed.
MAN1="$(dirname "$MAN5")/evercert-check-config.1"
# before WANT LINE FILE: the roff line before LINE in FILE is WANT
before() { grep -B1 -Fx -- "$2" "$3" | head -n 1 | grep -qFx -- "$1"; }
for t in BOOL DAY HOST:PORT SOURCES; do
    check "TYPES: $t is a tagged paragraph" before ".TP" ".B $t" "$MAN5"
done
check "check-config's SYNOPSIS breaks between forms" \
    before ".br" 'evercert check\-config \-\-keys' "$MAN1"
if command -v man >/dev/null && command -v col >/dev/null; then
    check "TYPES: BOOL's words beside it, not run on" grep -qE "^ +BOOL +true, yes" man.txt
    MANWIDTH=200 man -l "$MAN1" 2>/dev/null | col -b >man1.txt
    check "SYNOPSIS: --keys on its own line" grep -qxE " +evercert check-config --keys" man1.txt
fi

# 7. SIGHUP with a new state path: logged with FILE:LINE, the old state kept.
"$EVC" monitor --config good.ini 2>mon.log &
PIDS="$PIDS $!"
MON=$!
check "monitor started" wait_for mon.log "started;" 20
check "monitor uses its default state" test -e good-state.db
printf '[monitor]\nstate = moved.db\n' >>good.ini
kill -HUP "$MON"
check "reload logged" wait_for mon.log "configuration reloaded" 20
check "state change logged with FILE:LINE" \
    grep -q "\[monitor\] state changed in good.ini:11; takes effect after a restart" mon.log
check "the new state is not opened" test ! -e moved.db
# A bad file is refused with its line and the old configuration stays.
printf 'hour = 99\n' >>good.ini
kill -HUP "$MON"
check "bad reload refused with its line" wait_for mon.log "reload refused, the old configuration stays: good.ini:12:" 20
check "monitor still runs" kill -0 "$MON"
kill -TERM "$MON"
wait "$MON" 2>/dev/null
PIDS=

# 8. The agent's SIGHUP with a new state path: said with FILE:LINE, no database made there.
"$EVC" agent --config agent.ini 2>agent.log &
AG=$!
PIDS="$AG"
check "agent started" wait_for agent.log "following 1 server" 20
check "its start line names its state" grep -q "following 1 server; state ./agent.db" agent.log
check "agent uses its state" test -e agent.db
sed 's/^state = agent.db$/state = moved-agent.db/' agent.ini >agent.ini.t && mv agent.ini.t agent.ini
kill -HUP "$AG"
check "agent reload logged" wait_for agent.log "configuration reloaded" 20
check "agent: state change logged with FILE:LINE" \
    grep -q "\[agent\] state changed in agent.ini:2; takes effect after a restart" agent.log
check "agent: no database is made at the new path" test ! -e moved-agent.db
kill -TERM "$AG"
wait "$AG" 2>/dev/null
PIDS=

# 5. Stores check-config can judge before a run fails on them: a keystore without its
# password or with several key entries and no alias, an NSS database that is not there,
# a Java keystore trust store the agent could never write.
printf 'changeit\n' >ks.pw
mkdir nssdir
cat >nss.ini <<'INI'
[server "ff"]
connect = 127.0.0.1:1
trust = nss:nssdir
INI
status "an NSS trust store without cert9.db" 1 "$EVC" check-config nss.ini
check "the NSS error names the line and why" grep -q "^nss.ini:3: server \"ff\": trust .*nssdir: no NSS database (cert9.db) there" err
if command -v keytool >/dev/null; then
    for a in one two; do
        keytool -genkeypair -keystore two.jks -storetype JKS -storepass changeit -keypass changeit \
            -alias $a -keyalg EC -groupname secp256r1 -dname CN=$a.test -validity 1 >/dev/null 2>&1
    done
    printf '[store "tc"]\nrole = personal\nkeystore = two.jks\npassword_file = ks.pw\n' >two.ini
    status "a keystore with two key entries and no alias" 1 "$EVC" check-config two.ini
    check "... names the line and both aliases" grep -qE "^two.ini:3: store \"tc\": keystore ./two.jks holds 2 key entries \((one, two|two, one)\); name one with alias" err
    printf '[store "tc"]\nrole = personal\nkeystore = two.jks\npassword_file = ks.pw\nalias = three\n' >three.ini
    status "an alias the keystore does not have" 1 "$EVC" check-config three.ini
    check "... names the alias's line" grep -qE "^three.ini:5: store \"tc\": alias: ./two.jks has no key entry with that alias \(its key entries: (one, two|two, one)\)" err
    printf '[store "tc"]\nrole = personal\nkeystore = two.jks\nalias = two\n' >nopw.ini
    status "a keystore without password_file" 1 "$EVC" check-config nopw.ini
    check "... says the key needs the password" grep -q "^nopw.ini:3: store \"tc\": keystore ./two.jks: its key needs the keystore's password (password_file)" err
    printf '[store "tc"]\nrole = personal\nkeystore = two.jks\nalias = two\npassword_file = ks.pw\n' >ok.ini
    status "a keystore with its alias and password" 0 "$EVC" check-config ok.ini
    printf '[server "j"]\nconnect = 127.0.0.1:1\ntrust = two.jks\ntrust_format = jks\n' >jks.ini
    status "a jks trust store without password_file is a warning" 0 "$EVC" check-config jks.ini
    check "... saying every successor would fail" grep -q "^jks.ini:4: warning: server \"j\": trust .*two.jks: a Java keystore is written only with its password" err
else
    echo "note: keytool is not installed: the keystore checks of check-config are not tried" >&2
fi

summary config
