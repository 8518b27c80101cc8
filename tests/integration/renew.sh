#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert ca/issue/selfsign/renew/activate against real tools: openssl
# verify and cms, nginx with curl, Java's keytool; every bad input the
# issue names; and a crash at every disk-changing step of a renewal run.
# Time moves with --at; nothing sleeps.
#
# usage: renew.sh PATH-TO-EVERCERT PATH-TO-STORECHECK
set -u
EVC=${1:?usage: renew.sh PATH-TO-EVERCERT PATH-TO-STORECHECK}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SC=${2:?usage: renew.sh PATH-TO-EVERCERT PATH-TO-STORECHECK}
SC=$(cd "$(dirname "$SC")" && pwd)/$(basename "$SC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/evc-renew-XXXXXX)
NGINX_PID=
cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
status() {
    d=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$d: exit $got, want $want"; cat "$T/err" >&2; fi
}
# errmsg DESCRIPTION TEXT: the last command's stderr names TEXT
errmsg() { if grep -qF -- "$2" "$T/err"; then ok; else bad "$1: stderr lacks '$2'"; cat "$T/err" >&2; fi; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
# the key pair matches: same public key
keymatch() {
    [ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" = \
      "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ] && [ -n "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]
}
mode() { stat -L -c %a "$1"; }
# a checksum of every file, link and mode under a directory
tree() { (cd "$1" && find . -printf '%p %l %m\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }

cd "$T" || exit 1

# --- 1. issuing ---------------------------------------------------------------
umask 000
status "ca init" 0 "$EVC" ca init --out ca1 --subject "CN=Test Root,O=evercert"
check "ca.key is 0600 under umask 000" test "$(mode ca1/ca.key)" = 600
umask 022
check "root is EC P-256" sh -c "openssl x509 -in ca1/ca.crt -noout -text | grep -q 'NIST CURVE: P-256'"
check "root has pathlen 0" sh -c "openssl x509 -in ca1/ca.crt -noout -text | grep -q 'CA:TRUE, pathlen:0'"
check "root can sign certificates" sh -c "openssl x509 -in ca1/ca.crt -noout -text | grep -q 'Certificate Sign, CRL Sign'"
check "root has a subject key id" sh -c "openssl x509 -in ca1/ca.crt -noout -text | grep -q 'Subject Key Identifier'"
check "root lives 15 years" sh -c "openssl x509 -in ca1/ca.crt -noout -checkend $((14 * 366 * 86400)) && ! openssl x509 -in ca1/ca.crt -noout -checkend $((16 * 365 * 86400))"
for k in ec:P-384 rsa:2048 ed25519; do
    status "ca init --key $k" 0 "$EVC" ca init --out "ca-$k" --key "$k" --days 30
    check "$k root verifies itself" openssl verify -CAfile "ca-$k/ca.crt" "ca-$k/ca.crt"
done
status "issue" 0 "$EVC" issue --ca ca1 --cn web.test --san DNS:web.test,IP:127.0.0.1 --out-cert w.crt --out-key w.key
check "openssl verify accepts the chain" openssl verify -CAfile ca1/ca.crt w.crt
check "issued for server auth" openssl verify -purpose sslserver -CAfile ca1/ca.crt w.crt
check "issued with an authority key id" sh -c "openssl x509 -in w.crt -noout -text | grep -q 'Authority Key Identifier'"
check "issued for 365 days" sh -c "openssl x509 -in w.crt -noout -checkend $((364 * 86400)) && ! openssl x509 -in w.crt -noout -checkend $((366 * 86400))"
check "issued key is 0600" test "$(mode w.key)" = 600
check "issued key matches" keymatch w.crt w.key
status "issue --client --minutes" 0 "$EVC" issue --ca ca1 --cn alice --client --minutes 5 --out-cert c.crt --out-key c.key
check "client cert verifies for client auth" openssl verify -purpose sslclient -CAfile ca1/ca.crt c.crt
check "client cert lives 5 minutes" sh -c "openssl x509 -in c.crt -noout -checkend 240 && ! openssl x509 -in c.crt -noout -checkend 360"
status "issue under an ed25519 root" 0 "$EVC" issue --ca ca-ed25519 --cn e.test --san DNS:e.test --hours 2 --out-cert e.crt --out-key e.key
check "ed25519 chain verifies" openssl verify -CAfile ca-ed25519/ca.crt e.crt
status "selfsign" 0 "$EVC" selfsign --cn pin.test --san DNS:pin.test --days 2 --out-cert s.crt --out-key s.key
check "a pinned self-signed cert verifies against itself" openssl verify -CAfile s.crt s.crt
check "self-signed is no CA" sh -c "openssl x509 -in s.crt -noout -text | grep -q 'CA:FALSE'"
# rejections: exit 3, a reason, nothing written
status "server cert without SAN" 3 "$EVC" issue --ca ca1 --cn x --out-cert n1.crt --out-key n1.key
errmsg "server cert without SAN" "needs --san"
check "nothing written without SAN" test ! -e n1.crt -a ! -e n1.key
status "existing key is not overwritten" 3 "$EVC" issue --ca ca1 --cn x --san DNS:x --out-cert n2.crt --out-key w.key
errmsg "existing key" "never overwritten"
check "the existing key is unchanged" keymatch w.crt w.key
status "unknown key type" 3 "$EVC" selfsign --cn x --san DNS:x --key dsa:1024 --out-cert n3.crt --out-key n3.key
errmsg "unknown key type" "unknown key type 'dsa:1024'"
status "bad SAN" 3 "$EVC" issue --ca ca1 --cn x --san DNS:bad_name! --out-cert n4.crt --out-key n4.key
errmsg "bad SAN" "is not a DNS name"
status "bad IP SAN" 3 "$EVC" issue --ca ca1 --cn x --san IP:300.1.1.1 --out-cert n4.crt --out-key n4.key
status "zero days" 3 "$EVC" issue --ca ca1 --cn x --san DNS:x --days 0 --out-cert n5.crt --out-key n5.key
status "two lifetimes" 3 "$EVC" issue --ca ca1 --cn x --san DNS:x --days 1 --hours 1 --out-cert n5.crt --out-key n5.key
mkdir nokey && cp ca1/ca.crt nokey/
status "CA without key" 3 "$EVC" issue --ca nokey --cn x --san DNS:x --out-cert n6.crt --out-key n6.key
errmsg "CA without key" "nokey/ca.key"
mkdir wrongkey && cp ca1/ca.crt wrongkey/ && cp ca-ec:P-384/ca.key wrongkey/
status "CA key mismatch" 3 "$EVC" issue --ca wrongkey --cn x --san DNS:x --out-cert n7.crt --out-key n7.key
errmsg "CA key mismatch" "does not match"
check "no refusal wrote a file" sh -c "! ls n*.crt n*.key 2>/dev/null | grep -q ."

# --- 2. a renewal run, step by step ----------------------------------------------
# A root that ends in 40 days, a chained server cert, a pinned self-signed one,
# and three trust stores: a bundle, a hashed directory, a PKCS#12 truststore.
setup() { # DIR
    mkdir -p "$1" && (
        cd "$1" || exit 1
        "$EVC" ca init --out root --subject "CN=Renew Root,O=evercert" --days 40 --at "$(at '-25 days')" >/dev/null
        "$EVC" issue --ca root --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 \
            --at "$(at '-20 days')" --out-cert web.crt --out-key web.key >/dev/null
        "$EVC" selfsign --cn pin.test --san DNS:pin.test --days 30 --at "$(at '-25 days')" \
            --out-cert pin.crt --out-key pin.key >/dev/null
        cat root/ca.crt pin.crt >bundle.pem
        mkdir hashed deleted && cp root/ca.crt hashed/root.pem && openssl rehash hashed 2>/dev/null
        echo 'p12 secret' >p12.pass
        cat >c.ini <<EOF
[policy]
expiration_threshold = 60d   ; capped at half of each lifetime
prenotification = 90d
auto_replace = true
delete_old = true
distribution_window = 1h
deleted_retention = 90d

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = web.crt
key = web.key
after_replace = echo swapped >>hook.log
after_replace_shell = true

[store "pin"]
role = personal
cert = pin.crt
key = pin.key

[store "bundle"]
role = trust
path = bundle.pem

[store "hashed"]
role = trust
path = hashed

[store "deleted"]
role = deleted
path = deleted
EOF
    )
}
setup R
cd R || exit 1
OLDROOT=$(fp root/ca.crt) OLDWEB=$(fp web.crt) OLDPIN=$(fp pin.crt)
before=$(tree .)
status "dry run" 0 "$EVC" renew --config c.ini --dry-run
check "dry run plans the root" grep -q "recreate-root root" "$T/out"
check "dry run plans web" grep -q "renew  *web  *root-recreated" "$T/out"
check "dry run plans pin" grep -q "renew  *pin  *threshold" "$T/out"
check "dry run writes nothing" test "$(tree .)" = "$before"
status "renew" 0 "$EVC" renew --config c.ini --format json
cp "$T/out" ../renew1.json
check "json report parses" jq -e '.actions | length > 0' ../renew1.json
check "json names old and new root" jq -e --arg o "$OLDROOT" '.actions[] | select(.action == "recreate-root" and .old_sha256 == $o and (.new_sha256 | length) == 64)' ../renew1.json
check "json lists the certificates" jq -e '[.certificates[] | select(.store == "web" and .status == "threshold" and .kind == "chained")] | length == 1' ../renew1.json
check "root recreated" test "$(fp root/ca.crt)" != "$OLDROOT"
check "new root keeps the subject" sh -c "openssl x509 -in root/ca.crt -noout -subject | grep -q 'CN = Renew Root, O = evercert'"
check "new root keeps its extensions" sh -c "openssl x509 -in root/ca.crt -noout -text | grep -q 'CA:TRUE, pathlen:0'"
check "new root keeps its lifetime" sh -c "openssl x509 -in root/ca.crt -noout -checkend $((39 * 86400)) && ! openssl x509 -in root/ca.crt -noout -checkend $((41 * 86400))"
check "new root key matches" keymatch root/ca.crt root/ca.key
check "root key still 0600" test "$(mode root/ca.key)" = 600
check "old root kept in the deleted store" test -f "deleted/$OLDROOT.pem"
check "deleted entry says when and why" sh -c "head -3 deleted/$OLDROOT.pem | grep -q 'reason: root recreated'"
check "bundle holds the new root" sh -c "grep -c BEGIN bundle.pem | grep -qx 4"
check "old web still verifies with the bundle" openssl verify -CAfile bundle.pem web.crt
check "successor verifies with the bundle" openssl verify -CAfile bundle.pem web.crt.next
check "successor verifies with the hashed dir" openssl verify -CApath hashed web.crt.next
check "old web verifies with the hashed dir" openssl verify -CApath hashed web.crt
check "successor key is 0600" test "$(mode web.key.next)" = 600
check "successor key matches" keymatch web.crt.next web.key.next
check "successor keeps the SANs" sh -c "openssl x509 -in web.crt.next -noout -ext subjectAltName | grep -q 'DNS:web.test, IP Address:127.0.0.1'"
check "successor has a new key" sh -c "[ \"\$(openssl pkey -in web.key -pubout)\" != \"\$(openssl pkey -in web.key.next -pubout)\" ]"
check "live web unchanged before activation" test "$(fp web.crt)" = "$OLDWEB"
check "openssl cms accepts the SA" openssl cms -verify -noverify -inform DER -in web.crt.sa -out sa.content
openssl cms -verify -noverify -inform DER -in web.crt.sa -out /dev/null -signer signers.pem 2>/dev/null
check "the SA has two signers" sh -c "grep -c BEGIN signers.pem | grep -qx 2"
check "the SA is signed by the old key" grep -q "$(sed -n 2p web.crt)" signers.pem
check "the SA is signed by the new key" grep -q "$(sed -n 2p web.crt.next)" signers.pem
check "the SA content is a SuccessorInfo for web.test" sh -c "openssl asn1parse -inform DER -in sa.content | grep -q 'UTF8STRING *:web.test'"
check "the SA carries the new root as anchor" sh -c "openssl asn1parse -inform DER -in sa.content | grep -q 'cont \[ 0 \]'"
check "the old root links to the new one (ca.link.crt)" sh -c "openssl verify -partial_chain -CAfile deleted/$OLDROOT.pem -check_ss_sig root/ca.link.crt >/dev/null && [ \"\$(openssl x509 -in root/ca.link.crt -noout -pubkey)\" = \"\$(openssl x509 -in root/ca.crt -noout -pubkey)\" ]"
check "the SA carries the root and its link" sh -c "'$EVC' inspect web.crt.sa --format json | jq -e '.anchors | length == 2'"
sed -n '/BEGIN/,/END/p' "deleted/$OLDROOT.pem" >oldroot.pem
check "a client under policy ca that trusts the old root accepts the SA" "$EVC" inspect web.crt.sa --trusted web.crt --policy ca --trust-store oldroot.pem
check "pin's SA verifies" openssl cms -verify -noverify -inform DER -in pin.crt.sa -out /dev/null
check "the bundle holds pin's successor" sh -c "openssl verify -CAfile bundle.pem pin.crt.next"
status "a second run" 0 "$EVC" renew --config c.ini
check "a second run has nothing to do" grep -q "^0 actions" "$T/out"
status "activate too early" 0 "$EVC" activate --config c.ini --at "$(at '+30 minutes')"
check "too early: nothing activated" grep -q "^0 successors activated" "$T/out"
check "too early: says when the next one waits until" grep -q "^the next staged successor waits until 20" "$T/out"
NEXTWEB=$(fp web.crt.next)
status "activate" 0 "$EVC" activate --config c.ini --at "$(at '+2 hours')"
check "web is the successor now" test "$(fp web.crt)" = "$NEXTWEB"
check "web key matches after the swap" keymatch web.crt web.key
check "web key 0600 after the swap" test "$(mode web.key)" = 600
check "the staged files are gone" test ! -e web.crt.next -a ! -e web.key.next
check "the SA stays" test -f web.crt.sa
check "after_replace ran once" sh -c "grep -c swapped hook.log | grep -qx 1"
check "old web kept in the deleted store" test -f "deleted/$OLDWEB.pem"
check "old pin kept in the deleted store" test -f "deleted/$OLDPIN.pem"
check "the bundle still has the old root" grep -q "$(sed -n 5p "deleted/$OLDROOT.pem")" bundle.pem
status "retire after the old certificates end" 0 "$EVC" renew --config c.ini --at "$(at '+12 days')"
check "old root retired" grep -q "retire  *bundle .*$(echo "$OLDROOT" | cut -c1-16)" "$T/out"
check "bundle lost the old root" sh -c "grep -c BEGIN bundle.pem | grep -qx 2"
check "hashed dir lost the old root" test ! -e hashed/root.pem
check "hashed links are whole" openssl verify -CApath hashed web.crt
check "new web verifies after retirement" openssl verify -CAfile bundle.pem web.crt
status "purge after the retention" 0 "$EVC" renew --config c.ini --at "$(at '+200 days')" --dry-run
check "old entries would be purged" grep -q "purge  *deleted" "$T/out"
cd "$T" || exit 1

# A window of 0 swaps at once, as WebSphere does.
setup Z
sed -i 's/distribution_window = 1h/distribution_window = 0/' Z/c.ini
OLDZ=$(fp Z/web.crt)
status "renew with window 0" 0 "$EVC" renew --config Z/c.ini
check "window 0 swaps at once" test "$(fp Z/web.crt)" != "$OLDZ" -a ! -e Z/web.crt.next
check "window 0 swapped cert verifies" openssl verify -CAfile Z/bundle.pem Z/web.crt

# A certificate whose root is in no root store: a new default root, as WebSphere does.
mkdir O O/deleted O/root O/lost
"$EVC" ca init --out O/lost --subject "CN=Lost Root" >/dev/null
"$EVC" issue --ca O/lost --cn app.test --san DNS:app.test --days 30 --at "$(at '-25 days')" \
    --out-cert O/app.crt --out-key O/app.key >/dev/null
cp O/lost/ca.crt O/bundle.pem
rm -r O/lost # the root's key is gone; clients still trust its certificate
printf '[policy]\ndistribution_window = 1h\n[store "root"]\nrole = root\npath = root\n[store "app"]\nrole = personal\ncert = app.crt\nkey = app.key\n[store "b"]\nrole = trust\npath = bundle.pem\n[store "d"]\nrole = deleted\npath = deleted\n' >O/c.ini
status "renew a certificate whose root is lost" 0 "$EVC" renew --config O/c.ini
check "a default root is created in the empty root store" grep -q "create-root  *root  *no-root" "$T/out"
check "the report says clients must be given the default root" grep -q "the new root has no link: clients must be given it by hand" "$T/out"
check "the default root is named so" sh -c "openssl x509 -in O/root/ca.crt -noout -subject | grep -q 'CN = evercert default root'"
check "its key is 0600 and matches" sh -c "[ \"\$(stat -L -c %a O/root/ca.key)\" = 600 ] && [ \"\$(openssl x509 -in O/root/ca.crt -noout -pubkey)\" = \"\$(openssl pkey -in O/root/ca.key -pubout)\" ]"
check "the certificate is renewed under it" openssl verify -CAfile O/root/ca.crt O/app.crt.next
check "the trust store that held the lost root gets the default root" openssl verify -CAfile O/bundle.pem O/app.crt.next
check "the old certificate still verifies meanwhile" openssl verify -CAfile O/bundle.pem O/app.crt
check "the SA carries the default root as anchor" sh -c "openssl cms -verify -noverify -inform DER -in O/app.crt.sa 2>/dev/null | openssl asn1parse -inform DER | grep -q 'cont \[ 0 \]'"
status "a second run" 0 "$EVC" renew --config O/c.ini
check "a second run makes no second root" grep -q "^0 actions" "$T/out"
mkdir P2 P2/deleted P2/lost
"$EVC" ca init --out P2/lost --subject "CN=Lost Root" >/dev/null
"$EVC" issue --ca P2/lost --cn app.test --san DNS:app.test --days 30 --at "$(at '-25 days')" \
    --out-cert P2/app.crt --out-key P2/app.key >/dev/null
cp P2/lost/ca.crt P2/bundle.pem && rm -r P2/lost
sed '/^\[store "root"\]/,+2d' O/c.ini >P2/c.ini
status "no empty root store: reported, left alone" 0 "$EVC" renew --config P2/c.ini
check "it is reported as external and not renewed" sh -c "grep -q '^app .*threshold  *external' '$T/out' && grep -q '^0 actions' '$T/out'"

# Ed25519: CMS in OpenSSL 3.0 cannot sign an SA, so the swap is at once, and said.
mkdir E E/deleted
"$EVC" selfsign --key ed25519 --cn ed.test --san DNS:ed.test --days 30 --at "$(at '-25 days')" \
    --out-cert E/ed.crt --out-key E/ed.key >/dev/null
cp E/ed.crt E/bundle.pem
printf '[store "ed"]\nrole = personal\ncert = ed.crt\nkey = ed.key\n[store "b"]\nrole = trust\npath = bundle.pem\n[store "d"]\nrole = deleted\npath = deleted\n' >E/c.ini
OLDED=$(fp E/ed.crt)
status "renew an Ed25519 certificate" 0 "$EVC" renew --config E/c.ini
check "Ed25519: swapped at once" test "$(fp E/ed.crt)" != "$OLDED" -a ! -e E/ed.crt.next -a ! -e E/ed.crt.sa
check "Ed25519: the report says why" grep -q "no SA for ED25519 keys; swapped at once" "$T/out"
check "Ed25519: the pair matches" keymatch E/ed.crt E/ed.key
check "Ed25519: the bundle pins the new one" openssl verify -CAfile E/bundle.pem E/ed.crt

# Hooks: a failing one and a hanging one are reported (exit 1); the swap stands.
setup H
sed -i 's/distribution_window = 1h/distribution_window = 0/; s|^after_replace = .*|after_replace = sh -c "echo broken >\&2; exit 7"|; /^after_replace_shell/d' H/c.ini
sed -i 's|^key = pin.key|key = pin.key\nafter_replace = sleep 30\nhook_timeout = 1s|' H/c.ini
OLDH=$(fp H/web.crt)
status "a failing hook" 1 "$EVC" renew --config H/c.ini --format json
check "the failing hook's status is reported" jq -e '.actions[] | select(.action == "activate" and .store == "web") | .hook.status == 7 and .hook.output == "broken"' "$T/out"
check "the swap stands after a failing hook" test "$(fp H/web.crt)" != "$OLDH"
check "the hanging hook is killed at its timeout" jq -e '.actions[] | select(.action == "activate" and .store == "pin") | (.detail | test("killed after 1s"))' "$T/out"
setup V
sed -i 's/distribution_window = 1h/distribution_window = 0/; s|^after_replace_shell = true|after_replace_shell = true\nverify = 127.0.0.1:1\nverify_timeout = 1s|' V/c.ini
status "a server that does not serve the new cert" 1 "$EVC" renew --config V/c.ini
check "the miss is reported" grep -q "NOT VERIFIED: 127.0.0.1:1 still does not serve the new certificate" "$T/out"

# The lock: a second concurrent run is refused.
setup L
if command -v flock >/dev/null; then
    flock L/c.ini sh -c "\"$EVC\" renew --config L/c.ini >\"$T/out\" 2>\"$T/err\"; echo \$? >\"$T/rc\""
    check "a concurrent run exits 3" test "$(cat "$T/rc")" = 3
    errmsg "a concurrent run" "another evercert run holds"
fi

# --- 3. real peers: nginx and curl ---------------------------------------------
if command -v nginx >/dev/null && command -v curl >/dev/null; then
    setup N
    . "$SRC/tests/integration/ports.sh"
    PORT=$(port_block 8)
    sed -i 's/distribution_window = 1h/distribution_window = 0/; s|^after_replace = .*|after_replace = nginx -p '"$T"'/N -c '"$T"'/N/nginx.conf -s reload\nverify = 127.0.0.1:'"$PORT"'\nverify_servername = web.test|; /^after_replace_shell/d' N/c.ini
    mkdir -p N/logs
    cat >N/nginx.conf <<EOF
pid $T/N/nginx.pid;
error_log $T/N/logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT ssl;
        server_name web.test;
        ssl_certificate $T/N/web.crt;
        ssl_certificate_key $T/N/web.key;
        location / { return 200 "ok\n"; }
    }
}
EOF
    if nginx -p "$T/N" -c "$T/N/nginx.conf" 2>"$T/err"; then
        NGINX_PID=$(cat N/nginx.pid)
        served() { openssl s_client -connect 127.0.0.1:$PORT -servername web.test </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
        check "nginx serves the old cert" test "$(served)" = "$(fp N/web.crt)"
        check "curl trusts the old cert" curl -sf --cacert N/bundle.pem --resolve web.test:$PORT:127.0.0.1 https://web.test:$PORT/
        status "renew under nginx" 0 "$EVC" renew --config N/c.ini --format json
        check "the hook (nginx -s reload, no shell) exited 0" jq -e '.actions[] | select(.action == "activate" and .store == "web") | .hook.status == 0' "$T/out"
        check "verify saw nginx serve the new cert" jq -e '.actions[] | select(.action == "activate" and .store == "web") | .verify.served' "$T/out"
        check "nginx serves the renewed cert after reload" test "$(served)" = "$(fp N/web.crt)"
        check "curl verifies it with the updated bundle" curl -sf --cacert N/bundle.pem --resolve web.test:$PORT:127.0.0.1 https://web.test:$PORT/
        check "curl verifies it with the hashed dir" curl -sf --capath N/hashed --resolve web.test:$PORT:127.0.0.1 https://web.test:$PORT/
        kill "$NGINX_PID"; NGINX_PID=
    else
        bad "nginx did not start: $(cat "$T/err")"
    fi
else
    echo "SKIP: nginx or curl not installed (bootstrap.sh installs them)" >&2
fi

# --- 4. PKCS#12 stores and Java's keytool -----------------------------------------
setup P
# A PKCS#12 truststore and a PKCS#12 root store, made by evercert's own writer
# during renew: start from stores openssl made.
openssl pkcs12 -export -nokeys -in P/root/ca.crt -out P/trust.p12 -passout 'pass:p12 secret' 2>/dev/null
openssl pkcs12 -export -in P/root/ca.crt -inkey P/root/ca.key -out P/root.p12 -passout 'pass:p12 secret' 2>/dev/null
sed -i 's|^path = root$|path = root.p12\npassword_file = p12.pass|' P/c.ini
cat >>P/c.ini <<EOF

[store "java"]
role = trust
path = trust.p12
password_file = p12.pass
EOF
status "renew with PKCS#12 stores" 0 "$EVC" renew --config P/c.ini
check "the p12 root was recreated" grep -q "recreate-root root" "$T/out"
check "the p12 truststore got the new root" grep -q "add-signer  *java" "$T/out"
openssl pkcs12 -in P/trust.p12 -nokeys -passin 'pass:p12 secret' -out P/trust.pem 2>/dev/null
check "openssl reads our truststore" sh -c "grep -c BEGIN P/trust.pem | grep -qx 2"
check "the p12 root key matches" sh -c "openssl pkcs12 -in P/root.p12 -nodes -passin 'pass:p12 secret' 2>/dev/null | openssl pkey -pubout >/dev/null"
check "the p12 root store is 0600" test "$(mode P/root.p12)" = 600
check "the successor verifies with the p12 truststore" openssl verify -CAfile P/trust.pem P/web.crt.next
if command -v keytool >/dev/null; then
    keytool -list -storetype PKCS12 -keystore P/trust.p12 -storepass 'p12 secret' >"$T/kt" 2>&1
    # The root openssl wrote keeps its bag as it was, without Java's trust
    # attribute (a rewrite adds no trust to entries evercert did not add).
    check "keytool lists the new root as trusted, the old bag unchanged" sh -c "grep -c trustedCertEntry '$T/kt' | grep -qx 1"
    keytool -list -storetype PKCS12 -keystore P/root.p12 -storepass 'p12 secret' >"$T/kt" 2>&1
    check "keytool reads our root keystore" grep -q PrivateKeyEntry "$T/kt"
else
    echo "SKIP: keytool not installed (apt-get install default-jre-headless)" >&2
fi
echo 'wrong' >P/p12.pass
before=$(tree P)
status "wrong PKCS#12 password" 3 "$EVC" renew --config P/c.ini
errmsg "wrong PKCS#12 password" 'store "root"'
errmsg "wrong PKCS#12 password" "wrong password"
check "wrong password: nothing written" test "$(tree P)" = "$before"

# --- 5. bad input: a clear error naming the store, nothing written ---------------
refuse() { # DESCRIPTION EXPECTED-TEXT: renew of B must fail and leave B as it was
    before=$(tree B)
    status "$1" 3 "$EVC" renew --config B/c.ini
    errmsg "$1" "$2"
    check "$1: nothing written" test "$(tree B)" = "$before"
}
fresh() { rm -rf B; setup B; }
fresh; sed -i 's|^cert = web.crt|cert = missing.crt|' B/c.ini
refuse "a store path that does not exist" 'store "web": B/missing.crt: No such file'
fresh; "$EVC" selfsign --cn o --san DNS:o --out-cert B/o.crt --out-key B/o.key >/dev/null; cp B/o.key B/web.key
refuse "a key that does not match" 'store "web": B/web.key does not match B/web.crt'
fresh; rm B/root/ca.key
refuse "a root store without a key" 'store "root": B/root/ca.key: a root store needs the root'"'"'s key'
fresh; echo garbage >B/hashed/junk.pem
refuse "a trust store directory of garbage" 'store "hashed": B/hashed/junk.pem: '
fresh; sed -i 's|^path = bundle.pem|path = web.crt|' B/c.ini
refuse "one file in two stores" 'web.crt is also used by store "web"'
fresh; ln -s web.crt B/alias.crt; sed -i 's|^path = bundle.pem|path = alias.crt|' B/c.ini
refuse "one file under two names" 'is the same file as'
fresh; sed -i 's|^role = trust|role = trust\ncolour = blue|' B/c.ini
refuse "an unknown key" "c.ini:$(grep -n colour B/c.ini | head -1 | cut -d: -f1): unknown key 'colour'"
fresh; sed -i 's|^expiration_threshold = 60d.*|expiration_threshold = soon|' B/c.ini
refuse "a bad duration" "c.ini:2: expiration_threshold: expected a duration"
fresh; sed -i 's|^auto_replace = true|auto_replace = maybe|' B/c.ini
refuse "a bad boolean" "c.ini:4: auto_replace: expected true or false"
fresh; sed -i 's|^\[store "pin"\]|[stor "pin"]|' B/c.ini
refuse "an unknown section" 'unknown section [stor "pin"]'
fresh; sed -i 's|^role = personal$|role = keystore|' B/c.ini
refuse "an unknown role" "role: expected root, personal, trust or deleted"
fresh; sed -i '/^\[store "deleted"\]/,$d' B/c.ini; echo '[store "d1"]
role = deleted
path = deleted
[store "d2"]
role = deleted
path = deleted2' >>B/c.ini
refuse "two deleted stores, at the second's line" "c.ini:$(grep -n 'store "d2"' B/c.ini | cut -d: -f1): store \"d2\": a second store with role = deleted"
fresh; sed -i 's|^key = web.key|key = web.key\nkey = pin.key|' B/c.ini
refuse "a key given twice" "'key' given twice"
status "no --config" 3 "$EVC" renew
status "a missing config" 3 "$EVC" renew --config nowhere.ini
errmsg "a missing config" "nowhere.ini"
status "a bad --at" 3 "$EVC" renew --config B/c.ini --at tomorrow
status "a bad --format" 3 "$EVC" renew --config B/c.ini --format xml

# --- 6. a crash at every step ------------------------------------------------------
# EVERCERT_FAULT_AT=N ends renew at its N-th disk-changing step (exit 99).
# After each crash every store must parse, every key match its certificate,
# and a plain re-run must finish the work; a third run then has nothing to do.
setup C0
sed -i 's/distribution_window = 1h/distribution_window = 0/' C0/c.ini
for i in 1 2 3; do
    (cd C0 && "$EVC" issue --ca root --cn "s$i.test" --san "DNS:s$i.test" --days 30 \
        --at "$(at '-20 days')" --out-cert "s$i.crt" --out-key "s$i.key" >/dev/null)
    printf '\n[store "s%s"]\nrole = personal\ncert = s%s.crt\nkey = s%s.key\n' $i $i $i >>C0/c.ini
done
whole() { # DIR: every pair matches, every staged SA verifies, clients still trust what is live
    set --  "$1" pair "$1/root/ca.crt" "$1/root/ca.key"
    d=$1; shift
    for p in web pin s1 s2 s3; do
        set -- "$@" pair "$d/$p.crt" "$d/$p.key" verify "$d/bundle.pem" - "$d/$p.crt"
        [ "$p" = pin ] || set -- "$@" verify - "$d/hashed" "$d/$p.crt"
        if [ -e "$d/$p.crt.next" ] && [ -e "$d/$p.key.next" ] && [ -e "$d/$p.crt.sa" ]; then
            set -- "$@" sa "$d/$p.crt.sa"
        fi
    done
    "$SC" "$@" || return 1
    "$EVC" scan "$d/deleted" >/dev/null 2>&1; [ $? -ne 3 ] || { echo "deleted store broken" >&2; return 1; }
}
done_ok() { # DIR: the work is finished: new root, new leaves, all trusted
    "$SC" differ C0/root/ca.crt "$1/root/ca.crt" differ C0/web.crt "$1/web.crt" \
        differ C0/pin.crt "$1/pin.crt" in "$1/bundle.pem" "$1/pin.crt" \
        in "$1/bundle.pem" "$1/root/ca.crt" verify - "$1/hashed" "$1/web.crt"
}
n=0 broken=0 unfinished=0
while [ $n -lt 2000 ]; do
    n=$((n + 1))
    rm -rf C && cp -a C0 C
    EVERCERT_FAULT_AT=$n "$EVC" renew --config C/c.ini >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] && break # no step $n: the whole run fitted in n-1 steps
    if [ $rc != 99 ]; then bad "crash at step $n: renew exited $rc"; broken=$((broken + 1)); break; fi
    whole C || { bad "crash at step $n left a broken store"; broken=$((broken + 1)); continue; }
    "$EVC" renew --config C/c.ini >"$T/out" 2>"$T/err" || { bad "re-run after step $n failed: $(cat "$T/err")"; unfinished=$((unfinished + 1)); continue; }
    "$EVC" renew --config C/c.ini >"$T/out" 2>&1
    if ! grep -q "^0 actions" "$T/out" || ! done_ok C; then
        bad "re-run after a crash at step $n did not finish the work: $(grep -A8 '^[0-9]* action' "$T/out" | tr '\n' '|')"
        unfinished=$((unfinished + 1))
    fi
done
steps=$((n - 1))
echo "crash test: $steps crash points, $broken broken stores, $unfinished unfinished" >&2
check "at least 200 crash points" test "$steps" -ge 200
check "0 broken stores" test "$broken" = 0

# --- 7. untrusted text: names and hook output, escaped for people, valid JSON ----
# pin's subject holds ESC [31m and, as a T61String, the C1 control CSI (0x9b)
# that terminals obey too (OpenSSL 3 refuses to load a name that is not valid
# in its own encoding, so the bytes that are not UTF-8 come from hooks): web's
# hook prints such bytes and succeeds, pin's prints them and fails.
cd "$T" || exit 1
setup U
cd U || exit 1
"$EVC" selfsign --cn 'pin QQQQQQQQ' --san DNS:pin.test --days 30 --at "$(at '-25 days')" \
    --out-cert q.crt --out-key q.key >/dev/null
openssl x509 -in q.crt -outform DER -out q.der
perl -0777 -pe 's/\x0c\x0cpin QQQQQQQQ/\x14\x0cpin \e[31m\x9b\xff\xfe/g' q.der >q2.der
openssl x509 -inform DER -in q2.der -signkey q.key -preserve_dates -out pin.crt 2>/dev/null
mv q.key pin.key
ESC=$(printf '\033') CSI=$(printf '\302\233') FF=$(printf '\377')
sed -i 's|^after_replace = .*|after_replace = printf '"'"'\\377\\376 reloaded \\033[2J\\300\\257\\n'"'"'|' c.ini
sed -i 's|^key = pin.key|key = pin.key\nafter_replace = printf '"'"'\\377 broken \\033]0;owned\\007\\n'"'"' >\&2 \&\& exit 5\nafter_replace_shell = true|' c.ini
status "scan prints the hostile subject" 1 "$EVC" scan pin.crt
check "scan text: no ESC, no CSI" sh -c "! grep -q '$ESC\\|$CSI' '$T/out'"
check "scan text: both shown escaped" grep -qF 'CN=pin \\1B[31m\u009b' "$T/out"
status "scan --format json" 1 "$EVC" scan --format json pin.crt
check "scan json: jq reads the subject" jq -e '.certificates[0].subject | startswith("CN=pin ")' "$T/out"
status "renew with a hostile subject" 0 "$EVC" renew --config c.ini
check "renew text: no ESC, no CSI" sh -c "! grep -q '$ESC\\|$CSI' '$T/out'"
check "renew text: the subject shown escaped" grep -qF 'CN=pin \\1B[31m\u009b' "$T/out"
cp -a . ../U2
cp -a . ../U3
status "activate, hooks printing bytes that are not UTF-8, as JSON" 1 "$EVC" activate --config c.ini --at "$(at '+2 hours')" --format json
cp "$T/out" ../untrusted.json
check "activate json parses" jq -e . ../untrusted.json
check "the hostile subject is listed" jq -e '[.certificates[] | select(.store == "pin" and (.subject | startswith("CN=pin ")))] | length > 0' ../untrusted.json
check "web's activate action is there, with its hook output" jq -e '.actions[] | select(.action == "activate" and .store == "web" and .hook.status == 0 and (.hook.output | startswith("\ufffd\ufffd reloaded")))' ../untrusted.json
check "pin's failed activate action is there, with the failure" jq -e '.actions[] | select(.action == "activate" and .store == "pin" and .hook.status == 5 and (.detail | contains("broken")))' ../untrusted.json
check "activate json: no byte that is not UTF-8" sh -c "! grep -q '$FF' ../untrusted.json"
cd ../U2 || exit 1
status "the same, as text" 1 "$EVC" activate --config c.ini --at "$(at '+2 hours')"
check "activate text: no ESC, no CSI, no byte that is not UTF-8" sh -c "! grep -q '$ESC\\|$CSI\\|$FF' '$T/out'"
check "activate text: the failure shown escaped" grep -qF '(after_replace failed (exit 5): \xff broken \x1b]0;owned\x07)' "$T/out"
# The monitor keeps the same in its history.
cd ../U3 || exit 1
"$EVC" monitor --config c.ini --once --at "$(at '+2 hours')" >/dev/null 2>&1
status "history --format json" 0 "$EVC" history --config c.ini --format json
check "history json: pin's failed activation is there" jq -e '.replacements[] | select(.action == "activate" and .store == "pin" and (.detail | contains("broken")))' "$T/out"
check "history json: no byte that is not UTF-8" sh -c "! grep -q '$FF' '$T/out'"
status "history as text" 0 "$EVC" history --config c.ini
check "history text: the failure shown escaped" grep -qF 'after_replace failed (exit 5): \xff broken \x1b]0;owned\x07' "$T/out"
check "history text: no ESC, no byte that is not UTF-8" sh -c "! grep -q '$ESC\\|$FF' '$T/out'"
# A wildcard cannot be an SA's service name: it speaks for the first name that can be.
cd "$T" || exit 1
setup W
cd W || exit 1
rm web.crt web.key
"$EVC" issue --ca root --cn web.test --san 'DNS:*.web.test,DNS:web.test' --days 30 \
    --at "$(at '-20 days')" --out-cert web.crt --out-key web.key >/dev/null
status "renew a certificate whose first name is a wildcard" 0 "$EVC" renew --config c.ini
status "its SA reads" 0 "$EVC" inspect web.crt.sa --format json
check "and speaks for web.test" jq -e '.service == "web.test"' "$T/out"
cd "$T" || exit 1

# --- 8. a new user's first steps ---------------------------------------------------
# Directories made on demand, a minimal configuration that works, activate
# saying what it did, each configuration with its own state, tables that fit.
mkdir F && cd F || exit 1
status "ca init into directories that do not exist" 0 "$EVC" ca init --out pki/ca/root
status "issue into directories that do not exist" 0 "$EVC" issue --ca pki/ca/root --cn web.test \
    --san DNS:web.test --out-cert srv/tls/certs/web.crt --out-key srv/tls/private/web.key
check "the certificate's new directories are 0755" sh -c '[ "$(stat -c %a srv)$(stat -c %a srv/tls)$(stat -c %a srv/tls/certs)" = 755755755 ]'
check "the key's new directory is 0700" test "$(mode srv/tls/private)" = 700
check "the new key is 0600" test "$(mode srv/tls/private/web.key)" = 600
check "the pair matches" keymatch srv/tls/certs/web.crt srv/tls/private/web.key
: >notadir
status "issue under a file" 3 "$EVC" issue --ca pki/ca/root --cn x --san DNS:x \
    --out-cert notadir/x.crt --out-key keys/x.key
errmsg "issue under a file" "notadir: not a directory"
check "the error names the path once" test "$(grep -o notadir "$T/err" | wc -l)" = 1
check "the refusal made no directory" test ! -e keys
status "selfsign with a key under a file" 3 "$EVC" selfsign --cn x --san DNS:x \
    --out-cert x.crt --out-key notadir/x.key
check "its error names the path once" test "$(grep -o notadir "$T/err" | wc -l)" = 1

for n in www pin tw tp other o2 t3; do
    "$EVC" selfsign --cn "$n.test" --san "DNS:$n.test" --days 30 --at "$(at '-25 days')" \
        --out-cert "$n.crt" --out-key "$n.key" >/dev/null
done
pstore() { printf '[store "%s"]\nrole = personal\ncert = %s.crt\nkey = %s.key\n\n' "$1" "$2" "$2"; }
# A minimal configuration: personal stores and nothing else.
{ pstore web www; pstore pin pin; } >first.ini
OLDWWW=$(fp www.crt)
status "a minimal configuration (personal stores only) renews" 0 "$EVC" renew --config first.ini
check "renew says where replaced certificates are kept" grep -qx 'replaced certificates are kept in ./first-deleted (no store has role = deleted)' "$T/out"
check "the default deleted store is made only when something is kept" test ! -e first-deleted
status "and activates" 0 "$EVC" activate --config first.ini --at "$(at '+3 days')"
check "the replaced certificate is kept beside the state" test -f "first-deleted/$OLDWWW.pem"
check "the default deleted store is 0700" test "$(mode first-deleted)" = 700
check "the deleted store reads" sh -c "'$EVC' scan first-deleted >/dev/null 2>&1; [ \$? -ne 3 ]"
# The example configuration works as it stands.
mkdir ex && cp "$SRC/examples/evercert.ini" ex/
"$EVC" selfsign --cn www.example --san DNS:www.example --days 30 --at "$(at '-25 days')" \
    --out-cert ex/tls/site.crt --out-key ex/tls/site.key >/dev/null
status "examples/evercert.ini renews an expired certificate at once" 0 "$EVC" renew --config ex/evercert.ini --at "$(at '+6 days')"
check "and keeps what it replaced where its comment says" sh -c "grep -qx 'replaced certificates are kept in ex/evercert-deleted (no store has role = deleted)' '$T/out' && [ -d ex/evercert-deleted ]"
# Tables as wide as their values; activate's own words.
mkdir kept
{ pstore www-frontend-production tw; pstore p tp; printf '[store "d"]\nrole = deleted\npath = kept\n'; } >tables.ini
status "renew with a long store name" 0 "$EVC" renew --config tables.ini
hcol=$(grep '^STORE' "$T/out" | awk '{ print index($0, "SUBJECT") }')
check "renew table: a long store name keeps every subject under SUBJECT" sh -c "[ \$(grep -cE '^(www-frontend-production|p) ' '$T/out') = 2 ] && grep -E '^(www-frontend-production|p) ' '$T/out' | awk -v c=$hcol '{ if (index(\$0, \"CN=\") != c) exit 1 }'"
status "activate before the time" 0 "$EVC" activate --config tables.ini
check "activate says it activated nothing" grep -qx '0 successors activated' "$T/out"
check "activate says until when the successors wait" grep -q '^the next staged successor waits until 20' "$T/out"
check "activate does not speak of renewing" sh -c "! grep -q '^renew' '$T/out'"
check "activate's header is its own" grep -q '^activate at 20' "$T/out"
status "activate when due" 0 "$EVC" activate --config tables.ini --at "$(at '+3 days')"
check "activate says what it activated" grep -qx '2 successors activated' "$T/out"
check "each activated store on its own line" grep -q '^  www-frontend-production .* activated$' "$T/out"
status "activate with nothing staged" 0 "$EVC" activate --config tables.ini --at "$(at '+3 days')"
check "activate says nothing is staged" grep -qx 'no successor is staged' "$T/out"
# Two configurations in one directory: two states, two histories.
{ printf '[policy]\ndelete_old = false\n'; pstore other-store-with-a-long-name other; pstore o2 o2; } >second.ini
{ printf '[policy]\ndelete_old = false\n'; pstore third t3; } >third.ini
"$EVC" monitor --config second.ini --once >/dev/null 2>&1
"$EVC" monitor --config third.ini --once >/dev/null 2>&1
check "each configuration has its own state beside it" test -f second-state.db -a -f third-state.db
status "history of the third configuration" 0 "$EVC" history --config third.ini
check "it has its own run only" test "$(grep -c '^run ' "$T/out")" = 1
check "it has none of the second's replacements" sh -c "! grep -q other-store '$T/out'"
status "history of the second configuration" 0 "$EVC" history --config second.ini
check "the second's history has its renewals" test "$(grep -c '^  run 1 .* renew ' "$T/out")" = 2
rcol=$(grep '^  run 1 .* other-store-with-a-long-name ' "$T/out" | awk '{ print index($0, "threshold") }')
ocol=$(grep '^  run 1 .* o2 ' "$T/out" | awk '{ print index($0, "threshold") }')
check "history table: a long store name keeps the columns aligned ($rcol, $ocol)" test -n "$rcol" -a "$rcol" = "$ocol"
cd "$T" || exit 1

# publish = DIR: nothing below the web root may lead the monitor's writes elsewhere.
mkdir -p "$T/pub" && cd "$T/pub" || exit 1
"$EVC" selfsign --cn web.test --san DNS:web.test --days 1 --out-cert web.crt --out-key web.key >/dev/null 2>&1
cat >pub.ini <<'INI'
[policy]
expiration_threshold = 90%
distribution_window = 10m
[store "web"]
role = personal
cert = web.crt
key = web.key
publish = www
INI
LATER=$(date -u -d '+13 hours' +%Y-%m-%dT%H:%M:%SZ) # past the renewal moment (half the day)
mkdir www outside
ln -s ../outside www/.well-known
status "publish through a linked .well-known" 3 "$EVC" renew --config pub.ini --at "$LATER"
check "... is refused, naming the link" grep -q "www/.well-known is a symbolic link, not a directory" "$T/out" "$T/err"
check "... and nothing is written outside the web root" test -z "$(ls -A outside)"
rm www/.well-known && mkdir -p www/.well-known && ln -s ../../outside www/.well-known/evercert
status "publish through a linked evercert directory" 3 "$EVC" renew --config pub.ini --at "$LATER"
check "... is refused" grep -q "www/.well-known/evercert is a symbolic link" "$T/out" "$T/err"
check "... and nothing is written outside" test -z "$(ls -A outside)"
rm www/.well-known/evercert && mkdir www/.well-known/evercert && echo keep >outside/victim
ln -s ../../../outside/victim www/.well-known/evercert/successor
status "publish onto a linked successor" 3 "$EVC" renew --config pub.ini --at "$LATER"
check "... is refused" grep -q "www/.well-known/evercert/successor is a symbolic link, not a file" "$T/out" "$T/err"
check "... and the file it points at is untouched" test "$(cat outside/victim)" = keep
rm www/.well-known/evercert/successor
status "publish into plain directories" 0 "$EVC" renew --config pub.ini --at "$LATER"
check "... writes the SA there" cmp -s web.crt.sa www/.well-known/evercert/successor
cd "$T" || exit 1

echo "renew.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
