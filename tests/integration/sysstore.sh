#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The system trust store (trust_format = system): the agent keeps one .crt
# file per certificate in a directory such as /usr/local/share/ca-certificates/NAME,
# the real update-ca-certificates (its after_change) builds the bundle from
# it, and curl on that bundle follows an evercert serve through two
# rotations; retired certificates evercert added leave the directory and
# the bundle; the files of others stay as they were, also when their
# certificate is retired. Everything is under a temporary
# directory: the machine's own trust store is never touched.
#
# usage: sysstore.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: sysstore.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/evc-sysstore-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$SRC/tests/integration/lib.sh"
UCC=$(command -v update-ca-certificates || echo /usr/sbin/update-ca-certificates)
[ -x "$UCC" ] || { echo "SKIP: update-ca-certificates is not installed (Debian's ca-certificates)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
cd "$T" || exit 1
PORT=$(port_block 8)

# Three generations, each ten days younger: the oldest ends first.
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --at "$(at '-20 days')" \
    --out-cert a.crt --out-key a.key >/dev/null
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --at "$(at '-10 days')" \
    --out-cert b.crt --out-key b.key >/dev/null
"$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 \
    --out-cert c.crt --out-key c.key >/dev/null
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa
"$EVC" announce --current b.crt --current-key b.key --successor c.crt --successor-key c.key \
    --service web.test --generation 2 --activate-at "$(at '+2 hours')" --out bc.sa
"$EVC" selfsign --cn other.test --san DNS:other.test --days 30 --out-cert other.crt --out-key other.key >/dev/null

# A system trust store in miniature: update-ca-certificates' directories, all here.
mkdir -p sys/usr/share/ca-certificates sys/local/web sys/etc/ssl/certs sys/hooks
: >sys/ca-certificates.conf
cp a.crt sys/local/web/web.crt             # what a person installed
cp other.crt sys/local/web/other-ca.crt     # another authority, not the server's
printf 'not a certificate\n' >sys/local/web/README
chmod 0640 sys/local/web/other-ca.crt
cp -p sys/local/web/other-ca.crt other.orig
UPDATE="$UCC --certsconf $T/sys/ca-certificates.conf --certsdir $T/sys/usr/share/ca-certificates \
--localcertsdir $T/sys/local --etccertsdir $T/sys/etc/ssl/certs --hooksdir $T/sys/hooks"
BUNDLE=$T/sys/etc/ssl/certs/ca-certificates.crt
# shellcheck disable=SC2086
$UPDATE >ucc.log 2>&1 || { bad "update-ca-certificates into $T/sys"; cat ucc.log >&2; exit 1; }
check "the bundle holds the installed certificate" grep -q "$(sed -n 2p a.crt)" "$BUNDLE"

cp a.crt live.crt && cp a.key live.key && cp ab.sa live.sa
"$EVC" serve --cert live.crt --key live.key --sa live.sa --listen 127.0.0.1:$PORT 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5
get() { curl -sS --max-time 5 --cacert "$BUNDLE" --resolve "web.test:$PORT:127.0.0.1" \
    "https://web.test:$PORT/.well-known/evercert/successor" -o /dev/null 2>>curl.err; }
check "curl on the system bundle reaches a" get

mkdir deleted
cat >agent.ini <<EOF
[agent]
state = agent.db
deleted = deleted
[server "web"]
connect = 127.0.0.1:$PORT
service = web.test
trust = $T/sys/local/web
trust_format = system
sources = handshake
after_change = $UPDATE >>$T/ucc.log 2>&1
after_change_shell = true
EOF
status "check-config takes trust_format = system" 0 "$EVC" agent --config agent.ini --check-config

# swap NEXT.crt NEXT.key [NEXT.sa]: the server switches (serve watches its files)
swap() {
    cp "$1" live.crt.tmp && cp "$2" live.key.tmp && mv live.key.tmp live.key && mv live.crt.tmp live.crt
    if [ -n "${3:-}" ]; then cp "$3" live.sa; else rm -f live.sa; fi
    i=0
    while [ $i -lt 50 ]; do
        got=$(echo | openssl s_client -connect 127.0.0.1:$PORT -servername web.test 2>/dev/null |
            openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//; s/://g' | tr A-F a-f)
        [ "$got" = "$(fp "$1")" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
hexname() { echo "evercert-$(fp "$1" | cut -c1-16).crt"; }

# --- rotation 1: a -> b
status "agent --once takes b" 0 "$EVC" agent --config agent.ini --once
B=sys/local/web/$(hexname b.crt)
check "b is written as $(basename "$B")" test -f "$B"
check "... one PEM certificate" sh -c "[ \$(grep -c 'BEGIN CERTIFICATE' '$B') = 1 ] && openssl x509 -in '$B' -noout"
check "... mode 0644" sh -c "[ \$(stat -c %a '$B') = 644 ]"
check "no hash links in the directory" sh -c "! find sys/local/web -type l | grep -q ."
check "no temporary file is left" sh -c "! ls -a sys/local/web | grep -Eq '\\.tmp|~'"
check "after_change ran update-ca-certificates: b is in the bundle" grep -q "$(sed -n 2p b.crt)" "$BUNDLE"
check "... and a still is" grep -q "$(sed -n 2p a.crt)" "$BUNDLE"
check "... and the other authority" grep -q "$(sed -n 2p other.crt)" "$BUNDLE"
check "swap to b" swap b.crt b.key bc.sa
check "curl on the system bundle reaches b" get

# --- rotation 2: b -> c
status "agent --once takes c" 0 "$EVC" agent --config agent.ini --once
C=sys/local/web/$(hexname c.crt)
check "c is written" test -f "$C"
check "c is in the bundle" grep -q "$(sed -n 2p c.crt)" "$BUNDLE"
check "swap to c" swap c.crt c.key
check "curl on the system bundle reaches c" get

# --- a ends: the agent retires it. Its file is the person's: it stays as it was (the person
# removes it), and a copy goes to the deleted store, as for an NSS database's foreign entries.
status "agent --once after a's end" 0 "$EVC" agent --config agent.ini --once --at "$(at '+11 days')"
check "a's file (the person's web.crt) stays as it was" cmp -s a.crt sys/local/web/web.crt
check "a is in the deleted store" sh -c "grep -lq '$(sed -n 2p a.crt)' deleted/*"
check "b and c are still in the bundle" sh -c "grep -q '$(sed -n 2p b.crt)' '$BUNDLE' && grep -q '$(sed -n 2p c.crt)' '$BUNDLE'"
check "curl still reaches c" get
check "the other authority's file is unchanged" cmp -s other.orig sys/local/web/other-ca.crt
check "... with its mode" sh -c "[ \$(stat -c %a sys/local/web/other-ca.crt) = 640 ]"
check "the README is untouched" sh -c "[ \"\$(cat sys/local/web/README)\" = 'not a certificate' ]"

# --- without the agent: a client on a bundle that was not kept fails at the first rotation.
mkdir -p stale/etc/ssl/certs stale/local/web
cp a.crt stale/local/web/web.crt
: >stale/ca-certificates.conf
"$UCC" --certsconf "$T/stale/ca-certificates.conf" --certsdir "$T/sys/usr/share/ca-certificates" \
    --localcertsdir "$T/stale/local" --etccertsdir "$T/stale/etc/ssl/certs" --hooksdir "$T/sys/hooks" >/dev/null 2>&1
if curl -sS --max-time 5 --cacert "$T/stale/etc/ssl/certs/ca-certificates.crt" \
    --resolve "web.test:$PORT:127.0.0.1" "https://web.test:$PORT/" -o /dev/null 2>/dev/null; then
    bad "a bundle without the agent's successors reaches c"
else
    ok
fi

# --- bad input changes nothing: a broken .crt is an error naming the file.
printf -- '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' >sys/local/web/broken.crt
ls -la sys/local/web >before.ls
status "a broken .crt in the directory is an error" 2 "$EVC" agent --config agent.ini --once
check "... naming the file" grep -q 'broken.crt' "$T/err"
ls -la sys/local/web >after.ls
check "... and nothing changed" cmp -s before.ls after.ls
rm sys/local/web/broken.crt

# trust_format = system on a file is refused, naming it.
sed "s#trust = $T/sys/local/web#trust = $T/a.crt#" agent.ini >file.ini
"$EVC" agent --config file.ini --once >out 2>err
check "a file as a system trust store is refused, naming it" grep -q "a.crt: a system trust store is a directory" err

# --- b ends: its file is evercert's, so it leaves the directory and the bundle; c stays.
# (c is then past its renewal moment with no successor: the agent warns of a freeze, exit 1.)
"$EVC" agent --config agent.ini --once --at "$(at '+21 days')" >b.out 2>&1
check "the agent retires b" grep -q "event=retire reason=expired .*: $(fp b.crt)" b.out
check "b's file (evercert's) is gone" test ! -e "$B"
check "b is out of the bundle" sh -c "! grep -q '$(sed -n 2p b.crt)' '$BUNDLE'"
check "c is still in the bundle" grep -q "$(sed -n 2p c.crt)" "$BUNDLE"
check "the person's web.crt is still as it was" cmp -s a.crt sys/local/web/web.crt

# --- update-ca-certificates reads *.crt at any depth, not *.pem: evercert reads the same.
mkdir -p sys/local/web/sub
cp other.crt sys/local/web/sub/deep.crt
printf 'not a certificate\n' >sys/local/web/notes.pem
# shellcheck disable=SC2086
$UPDATE >ucc.log 2>&1 || bad "update-ca-certificates with a subdirectory"
status "a .pem file is not read (update-ca-certificates does not read it)" 0 "$EVC" agent --config agent.ini --once
printf -- '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' >sys/local/web/sub/broken.crt
status "a broken .crt in a subdirectory is an error" 2 "$EVC" agent --config agent.ini --once
check "... naming it" grep -q 'sub/broken.crt' "$T/out" "$T/err"
rm sys/local/web/sub/broken.crt
check "the subdirectory's file is unchanged" cmp -s other.crt sys/local/web/sub/deep.crt
ln -s .. sys/local/web/sub/up
status "a directory linked inside itself is an error" 2 "$EVC" agent --config agent.ini --once
check "... naming the link" grep -q 'sub/up: a symbolic link loop' "$T/out" "$T/err"
rm sys/local/web/sub/up

summary sysstore
