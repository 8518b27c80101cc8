#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert announce and inspect against openssl: the SA is a CMS that
# `openssl cms` verifies; inspect's decision and exit status (0 accept,
# 1 queue, 2 reject) for what an operator meets; the 64 KiB cap at both
# sides, the handshake's cap announced, serviceName checked when read.
#
# usage: announce.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: announce.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/evc-announce-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
status() {
    d=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$d: exit $got, want $want"; cat "$T/out" "$T/err" >&2; fi
}
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
cd "$T" || exit 1

"$EVC" ca init --out root >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test --days 30 --out-cert cur.crt --out-key cur.key >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test --days 30 --out-cert new.crt --out-key new.key >/dev/null
"$EVC" issue --ca root --cn web.test --san DNS:web.test,DNS:admin.test --days 30 --out-cert wide.crt --out-key wide.key >/dev/null
"$EVC" selfsign --cn other.test --san DNS:other.test --out-cert other.crt --out-key other.key >/dev/null
openssl req -x509 -newkey rsa:1024 -nodes -keyout weak.key -subj /CN=web.test \
    -addext subjectAltName=DNS:web.test -addext basicConstraints=critical,CA:FALSE \
    -addext extendedKeyUsage=serverAuth -days 30 -out weak.crt 2>/dev/null
sa() { # OUT SUCCESSOR KEY GENERATION [ACTIVATE [ANNOUNCE-OPTION...]]
    o=$1 c=$2 k=$3 g=$4 a=${5:-$(at '+1 day')}
    shift 4; [ $# -gt 0 ] && shift
    "$EVC" announce --current cur.crt --current-key cur.key --successor "$c" --successor-key "$k" \
        --service web.test --generation "$g" --activate-at "$a" "$@" --out "$o"
}
status "announce" 0 sa good.sa new.crt new.key 3
check "openssl cms verifies the SA" openssl cms -verify -noverify -inform DER -in good.sa -out content.der
check "the content is a SuccessorInfo for web.test" sh -c "openssl asn1parse -inform DER -in content.der | grep -q 'UTF8STRING *:web.test'"
openssl cms -verify -noverify -inform DER -in good.sa -out /dev/null -signer signers.pem 2>/dev/null
check "two signers" sh -c "grep -c BEGIN signers.pem | grep -qx 2"
status "inspect" 0 "$EVC" inspect good.sa
check "inspect names both signers" sh -c "grep -c '^signer' '$T/out' | grep -qx 2"
status "inspect --format json" 0 "$EVC" inspect good.sa --format json
check "json fields" jq -e '.service == "web.test" and .generation == 3 and (.signers | length) == 2 and (.successor | length) == 1' "$T/out"
status "accept" 0 "$EVC" inspect good.sa --trusted cur.crt --last-generation 2
check "accept says why" grep -q "decision *accept (ok)" "$T/out"
status "queue under policy manual" 1 "$EVC" inspect good.sa --trusted cur.crt --policy manual
status "policy ca with the root" 0 "$EVC" inspect good.sa --trusted cur.crt --policy ca --trust-store root/ca.crt
status "policy ca without it" 2 "$EVC" inspect good.sa --trusted cur.crt --policy ca --trust-store other.crt
check "no anchor is the reason" grep -q "(no-anchor)" "$T/out"
status "replay" 2 "$EVC" inspect good.sa --trusted cur.crt --last-generation 3
check "replay is the reason" grep -q "(replay)" "$T/out"
status "rollback" 2 "$EVC" inspect good.sa --trusted cur.crt --last-generation 9
check "rollback is the reason" grep -q "(rollback)" "$T/out"
status "another service" 2 "$EVC" inspect good.sa --trusted cur.crt --service www.test
check "service is the reason" grep -q "(service-mismatch)" "$T/out"
status "a stranger's trust" 2 "$EVC" inspect good.sa --trusted other.crt
check "no current signer is the reason" grep -q "(no-current-signer)" "$T/out"
sa wide.sa wide.crt wide.key 4
status "a successor that widens" 2 "$EVC" inspect wide.sa --trusted cur.crt
check "widens is the reason" grep -q "(widens)" "$T/out"
sa weak.sa weak.crt weak.key 4
status "RSA 1024" 2 "$EVC" inspect weak.sa --trusted cur.crt
check "weak key is the reason" grep -q "(weak-key)" "$T/out"
sa late.sa new.crt new.key 4 "$(at '+60 days')"
status "activation after the successor ends" 2 "$EVC" inspect late.sa --trusted cur.crt
check "validity is the reason" grep -q "(validity)" "$T/out"
# A successor for a hundred years, a step of a million generations, a second use: each refused.
"$EVC" issue --ca root --cn web.test --san DNS:web.test --days 36500 --out-cert long.crt --out-key long.key >/dev/null
sa long.sa long.crt long.key 4
status "a successor far longer-lived" 2 "$EVC" inspect long.sa --trusted cur.crt
check "lifetime-longer is the reason" grep -q "(lifetime-longer)" "$T/out"
sa jump.sa new.crt new.key 1000004
status "a generation far past the last" 2 "$EVC" inspect jump.sa --trusted cur.crt --last-generation 3
check "generation-jump is the reason" grep -q "(generation-jump)" "$T/out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout eku.key -subj /CN=web.test \
    -addext subjectAltName=DNS:web.test -addext basicConstraints=critical,CA:FALSE \
    -addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=serverAuth,codeSigning -days 30 -out eku.crt 2>/dev/null
sa eku.sa eku.crt eku.key 4
status "a successor with another extended key usage" 2 "$EVC" inspect eku.sa --trusted cur.crt
check "eku-wider is the reason" grep -q "(eku-wider)" "$T/out"

# --- anchors: a leaf key never introduces a CA
"$EVC" ca init --out root2 --subject "CN=New Root" >/dev/null
"$EVC" ca init --out other --subject "CN=Other Root" >/dev/null
"$EVC" issue --ca root2 --cn web.test --san DNS:web.test --days 30 --out-cert new2.crt --out-key new2.key >/dev/null
# The link: the new root's subject and key, certified by the root clients trust now (CMP's NewWithOld).
link() { # OUT CA-DIR
    openssl x509 -x509toreq -in root2/ca.crt -signkey root2/ca.key -out root2.csr 2>/dev/null &&
        printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >link.ext &&
        openssl x509 -req -in root2.csr -CA "$2/ca.crt" -CAkey "$2/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
            -days 30 -extfile link.ext -out "$1" 2>/dev/null
}
link link.crt root
link stranger-link.crt other
status "announce a new root with its link" 0 sa roll.sa new2.crt new2.key 4 "" --anchor root2/ca.crt --link link.crt
check "inspect shows the root and the link as anchors" sh -c "$EVC inspect roll.sa | grep -c '^anchor' | grep -qx 2"
status "policy ca: the linked root is accepted" 0 "$EVC" inspect roll.sa --trusted cur.crt --policy ca --trust-store root/ca.crt
check "the decision names the new root" grep -q "decision *accept (ok): .*with the new root /CN=New Root" "$T/out"
status "auto: anchors under a pinned certificate" 2 "$EVC" inspect roll.sa --trusted cur.crt
check "anchors-under-pin is the reason" grep -q "(anchors-under-pin)" "$T/out"
status "manual: anchors under a pinned certificate" 2 "$EVC" inspect roll.sa --trusted cur.crt --policy manual
check "anchors-under-pin is the reason (manual)" grep -q "(anchors-under-pin)" "$T/out"
status "announce a new root without a link: written" 0 sa nolink.sa new2.crt new2.key 4 "" --anchor root2/ca.crt
check "and it warns that every client refuses it" grep -q "warning: anchors without a --link" "$T/err"
check "a root with its link: no such warning" sh -c "! '$EVC' announce --current cur.crt --current-key cur.key --successor new2.crt --successor-key new2.key --service web.test --generation 4 --activate-at '$(at '+1 day')' --anchor root2/ca.crt --link link.crt --out roll2.sa 2>&1 | grep -q 'without a --link'"
sa anchored.sa new.crt new.key 4 "" --anchor root/ca.crt
status "auto: even an anchor the successor does not need" 2 "$EVC" inspect anchored.sa --trusted cur.crt
check "anchors-under-pin is the reason (unneeded anchor)" grep -q "(anchors-under-pin)" "$T/out"
status "policy ca: anchors of a successor that chains already are not looked at" 0 "$EVC" inspect anchored.sa --trusted cur.crt --policy ca --trust-store root/ca.crt
sa nolink.sa new2.crt new2.key 4 "" --anchor root2/ca.crt
status "policy ca: a new root with no link" 2 "$EVC" inspect nolink.sa --trusted cur.crt --policy ca --trust-store root/ca.crt
check "anchor-no-link is the reason" grep -q "(anchor-no-link)" "$T/out"
sa extra.sa new2.crt new2.key 4 "" --anchor root2/ca.crt --link link.crt --anchor other/ca.crt
status "policy ca: an unrelated root beside the linked one" 2 "$EVC" inspect extra.sa --trusted cur.crt --policy ca --trust-store root/ca.crt
check "anchor-unneeded is the reason" grep -q "(anchor-unneeded)" "$T/out"
sa stranger.sa new2.crt new2.key 4 "" --anchor root2/ca.crt --link stranger-link.crt
status "policy ca: a link from a root the client does not trust" 2 "$EVC" inspect stranger.sa --trusted cur.crt --policy ca --trust-store root/ca.crt
check "anchor-link-untrusted is the reason" grep -q "(anchor-link-untrusted)" "$T/out"
status "announce: a --link for no --anchor" 3 sa x.sa new2.crt new2.key 4 "" --anchor other/ca.crt --link link.crt
check "the link is named" grep -q "link.crt: not a link certificate for an --anchor" "$T/err"
check "nothing written (bad link)" test ! -e x.sa
status "announce: --link without --anchor" 3 sa x.sa new2.crt new2.key 4 "" --link link.crt
check "nothing written (no anchor)" test ! -e x.sa
status "announce: a root given as its own link" 3 sa x.sa new2.crt new2.key 4 "" --anchor root2/ca.crt --link root2/ca.crt

head -c 100 good.sa >trunc.sa
status "truncated" 2 "$EVC" inspect trunc.sa --trusted cur.crt
cp good.sa trail.sa && printf 'x' >>trail.sa
status "trailing bytes" 2 "$EVC" inspect trail.sa --trusted cur.crt
check "trailing is named" grep -q "after the SA" "$T/err"
head -c 70000 /dev/zero >big.sa
status "oversize" 2 "$EVC" inspect big.sa --trusted cur.crt
status "announce with a key that does not match" 3 "$EVC" announce --current cur.crt --current-key new.key \
    --successor new.crt --successor-key new.key --service web.test --generation 5 --activate-at "$(at '+1 day')" --out x.sa
check "nothing written" test ! -e x.sa
status "announce without --service" 3 "$EVC" announce --current cur.crt --current-key cur.key \
    --successor new.crt --successor-key new.key --generation 5 --activate-at "$(at '+1 day')" --out x.sa

# --- sizes and names -------------------------------------------------------
# The 64 KiB cap is exact: an SA of 65,536 bytes is written and read, one of
# 65,537 is not (sa_pad.sh makes them).
. "$HERE/sa_pad.sh"
pad_setup
pad_find 65536
len=$PAD_LEN
check "sa_pad.sh finds a padding for 65,536 bytes" test "$len" -gt 0
status "an SA of 65,536 bytes is written" 0 pad_sa max.sa "$PAD_CERT" "$len"
check "it is 65,536 bytes" test "$(pad_size max.sa)" = 65536
check "announce warns that the handshake cannot carry it, naming the size and the cap" \
    grep -q "max.sa: warning: the SA is 65536 bytes, over the 16384 the TLS handshake carries; it goes by the push channel and URL only" "$T/err"
status "inspect reads an SA of 65,536 bytes" 0 "$EVC" inspect max.sa --format json
check "all of it" jq -e ".generation == 9 and (.service | length) == $len" "$T/out"
check "openssl cms verifies it" openssl cms -verify -noverify -inform DER -in max.sa -out /dev/null
status "an SA of 65,537 bytes is refused" 3 pad_sa over.sa "$PAD_CERT" $((len + 1))
check "naming its size and the cap" grep -q "65537 bytes, over 65536" "$T/err"
check "and nothing is written" test ! -e over.sa
cp max.sa over.sa && printf 'x' >>over.sa
status "inspect refuses 65,537 bytes" 3 "$EVC" inspect over.sa
check "as too large, before reading it" grep -q "over 65536" "$T/err"
status "inspect --trusted rejects 65,537 bytes" 2 "$EVC" inspect over.sa --trusted pad-cur.crt
status "an SA the handshake carries" 0 sa small.sa new.crt new.key 5
check "gets no warning" test ! -s "$T/err"

# serviceName is a host name or an IP address; anything else is a malformed SA.
status "announce refuses a wildcard service" 3 "$EVC" announce --current cur.crt --current-key cur.key \
    --successor new.crt --successor-key new.key --service '*.web.test' --generation 5 \
    --activate-at "$(at '+1 day')" --out x.sa
check "saying why" grep -q "host name or an IP address" "$T/err"
status "announce takes an IP address" 0 "$EVC" announce --current cur.crt --current-key cur.key \
    --successor new.crt --successor-key new.key --service 127.0.0.1 --generation 5 \
    --activate-at "$(at '+1 day')" --out ip.sa
# A properly signed SA whose serviceName is ESC [31m web (8 bytes for "web.test").
openssl cms -verify -noverify -inform DER -in good.sa -out content.der 2>/dev/null
perl -0777 -pe 's/web\.test/\e[31mweb/' content.der >esc.der
openssl cms -sign -binary -nodetach -nosmimecap -outform DER -in esc.der -out esc.sa \
    -signer cur.crt -inkey cur.key -signer new.crt -inkey new.key 2>/dev/null
check "the escape is in the signed SA" sh -c "openssl cms -verify -noverify -inform DER -in esc.sa -out - 2>/dev/null | grep -q \"\$(printf '\033')\""
status "inspect: a serviceName with ESC is malformed" 3 "$EVC" inspect esc.sa
check "named as a bad serviceName" grep -q "bad serviceName" "$T/err"
check "the escape reaches no terminal" sh -c "! grep -q \"\$(printf '\033')\" '$T/out' '$T/err'"
status "inspect --trusted rejects it" 2 "$EVC" inspect esc.sa --trusted cur.crt
status "inspect --format json: nothing, exit 3" 3 "$EVC" inspect esc.sa --format json
check "no JSON for it" test ! -s "$T/out"
perl -0777 -pe 's/web\.test/\xff\xfeweb.te/' content.der >bad8.der
openssl cms -sign -binary -nodetach -nosmimecap -outform DER -in bad8.der -out bad8.sa \
    -signer cur.crt -inkey cur.key -signer new.crt -inkey new.key 2>/dev/null
status "inspect: a serviceName that is not UTF-8 is malformed" 3 "$EVC" inspect bad8.sa
check "named as a bad serviceName too" grep -q "bad serviceName" "$T/err"

echo "announce.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
