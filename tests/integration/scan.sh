#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# evercert scan against real stores made by the openssl command: PEM, DER,
# bundles, hashed directories, PKCS#12; every bad input the scan must
# survive; every exit status; every output format.
#
# usage: scan.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: scan.sh PATH-TO-EVERCERT}
T=$(mktemp -d /tmp/evc-scan-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: the command must succeed
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
# status DESCRIPTION WANT COMMAND...: the command must exit with WANT
status() {
    d=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$d: exit $got, want $want"; cat "$T/err" >&2; fi
}

ossl() { openssl "$@" 2>/dev/null || { echo "openssl $* failed" >&2; exit 1; }; }

# --- a small PKI made with the openssl command ----------------------------------
S=$T/stores
mkdir -p "$S/pem" "$S/hashed" "$S/nested/a/b" "$S/bad" "$T/keys"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/keys/ca.key" \
    -subj "/O=Test/CN=Test Root CA" -days 3650 -out "$S/pem/ca.crt"
leaf() { # name days [ca]
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/keys/$1.key" \
        -subj "/CN=$1.example" -addext "subjectAltName=DNS:$1.example,IP:127.0.0.1" -out "$T/$1.csr"
    ossl x509 -req -in "$T/$1.csr" -CA "${3:-$S/pem/ca.crt}" -CAkey "${4:-$T/keys/ca.key}" \
        -CAcreateserial -days "$2" -copy_extensions copy -out "$T/$1.crt"
}
leaf soon 30     # ok: threshold 15d before the end (half the life), prenotify from day 7.5
leaf mid 100     # ok: threshold 50d before the end, prenotify from day 25
leaf far 400     # ok
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$T/keys/self.key" -subj "/CN=self.example" \
    -addext "basicConstraints=critical,CA:FALSE" -days 400 -out "$T/self.crt"
# an external certificate: its issuer is not among the scanned
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$T/keys/other.key" \
    -subj "/CN=Other CA" -days 3650 -out "$T/other-ca.crt"
leaf ext 400 "$T/other-ca.crt" "$T/keys/other.key"

cat "$T/soon.crt" "$T/mid.crt" > "$S/pem/chain.pem"
cat "$T/keys/far.key" "$T/far.crt" > "$S/pem/combined.pem"       # key and certificate in one file
ossl x509 -in "$T/self.crt" -outform DER -out "$S/nested/a/b/self.der"
ossl x509 -in "$T/ext.crt" -out "$S/nested/a/ext.cer"
echo "s3cret pass" > "$T/pw"
ossl pkcs12 -export -in "$T/far.crt" -inkey "$T/keys/far.key" -certfile "$S/pem/ca.crt" \
    -passout file:"$T/pw" -out "$S/nested/web.p12"
cp "$S/pem/ca.crt" "$T/soon.crt" "$S/hashed/"
ossl rehash "$S/hashed"
echo "just some notes" > "$S/nested/README"                         # not a certificate: skipped

# --- a clean scan ------------------------------------------------------------------
# Fresh certificates are ok: the prenotification period counts at most half
# the time before the renewal moment, so nothing cries wolf on its first day.
status "clean scan" 0 "$EVC" scan --format json --password-file "$T/pw" "$S"
J=$T/out
check "JSON parses" jq -e . "$J"
count() { jq -r "$1" "$J"; }
[ "$(count '.summary.total')" = 10 ] && ok || bad "total $(count '.summary.total'), want 10"
[ "$(count '.summary.errors')" = 0 ] && ok || bad "errors: $(jq -c .errors "$J")"
[ "$(count '[.certificates[]|select(.path|endswith("hashed/soon.crt"))]|length')" = 1 ] && ok ||
    bad "hash links reported twice"
[ "$(count '[.certificates[]|select(.path|test("/[0-9a-f]{8}\\.0$"))]|length')" = 0 ] && ok ||
    bad "a hash link was reported instead of the file"
kind() { jq -r --arg p "$1" '[.certificates[]|select(.path|endswith($p))][0].kind' "$J"; }
field() { jq -r --arg p "$1" --arg i "$2" ".certificates[]|select((.path|endswith(\$p)) and .index==(\$i|tonumber)).$3" "$J"; }
[ "$(kind pem/ca.crt)" = root ] && ok || bad "ca kind $(kind pem/ca.crt)"
[ "$(kind a/b/self.der)" = self-signed ] && ok || bad "self kind $(kind a/b/self.der)"
[ "$(kind a/ext.cer)" = external ] && ok || bad "ext kind $(kind a/ext.cer)"
[ "$(field pem/chain.pem 0 kind)" = chained ] && ok || bad "chained kind"
[ "$(field pem/chain.pem 0 status)" = ok ] && ok || bad "soon status (prenotification capped at a quarter of the life)"
# The status says what renew does: threshold from the moment a monitor replaces it.
soon_at=$(field pem/chain.pem 0 renew_at)
[ "$(date -u -d "$soon_at" +%s)" -ge $(($(date +%s) + 14 * 86400)) ] && ok || bad "soon renew_at $soon_at"
[ "$(field a/ext.cer 0 renew_at)" = null ] && ok || bad "an external certificate is never renewed"
[ "$(field pem/chain.pem 1 status)" = ok ] && ok || bad "mid status (prenotification capped)"
[ "$(field pem/combined.pem 0 status)" = ok ] && ok || bad "far status"
[ "$(field nested/web.p12 1 subject)" = "CN=Test Root CA,O=Test" ] && ok || bad "p12 second cert"
[ "$(field a/b/self.der 0 key)" = rsa:2048 ] && ok || bad "rsa key"
[ "$(field a/ext.cer 0 sans | jq -c .)" = '["DNS:ext.example","IP:127.0.0.1"]' ] && ok || bad "sans"
# the fields agree with what the openssl command says of the same certificate
want_fp=$(openssl x509 -in "$T/mid.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
[ "$(field pem/chain.pem 1 sha256)" = "$want_fp" ] && ok || bad "sha256 differs from openssl"
want_serial=$(openssl x509 -in "$T/mid.crt" -noout -serial | sed 's/.*=//')
[ "$(field pem/chain.pem 1 serial)" = "$want_serial" ] && ok || bad "serial differs from openssl"
want_end=$(date -u -d "$(openssl x509 -in "$T/mid.crt" -noout -enddate | sed 's/.*=//')" +%Y-%m-%dT%H:%M:%SZ)
[ "$(field pem/chain.pem 1 not_after)" = "$want_end" ] && ok || bad "not_after differs from openssl"
# The same results with one thread and with several.
"$EVC" scan --format json --password-file "$T/pw" -j 1 --at 2030-01-01T00:00:00Z "$S" > "$T/j1"
"$EVC" scan --format json --password-file "$T/pw" -j 4 --at 2030-01-01T00:00:00Z "$S" > "$T/j4"
check "output does not depend on --jobs" cmp "$T/j1" "$T/j4"

# --- exit statuses and --at ----------------------------------------------------------
status "all ok: 0" 0 "$EVC" scan "$S/pem/ca.crt"
status "not yet prenotify on day 24: 0" 0 "$EVC" scan --at "$(date -u -d '+24 days' +%Y-%m-%dT%H:%M:%SZ)" "$T/mid.crt"
status "prenotify on day 26: 1" 1 "$EVC" scan --at "$(date -u -d '+26 days' +%Y-%m-%dT%H:%M:%SZ)" "$T/mid.crt"
grep -q '^prenotify ' "$T/out" && ok || bad "prenotify from half the time before the renewal moment: $(sed -n 2p "$T/out")"
status "threshold: 1" 1 "$EVC" scan --at "$(date -u -d '+16 days' +%Y-%m-%dT%H:%M:%SZ)" "$T/soon.crt"
grep -q '^threshold ' "$T/out" && ok || bad "threshold from half a 30-day life: $(sed -n 2p "$T/out")"
status "expired with --at: 2" 2 "$EVC" scan --at 2099-01-01T00:00:00Z "$T/far.crt"
status "not yet valid with --at: 2" 2 "$EVC" scan --at 2000-01-01T00:00:00Z "$T/far.crt"
status "a smaller threshold: 0" 0 "$EVC" scan --threshold 7d --prenotify 1d "$T/soon.crt"
status "a lifetime share: 0" 0 "$EVC" scan --threshold 50% --prenotify 0s "$T/far.crt"
status "a lifetime share: 1" 1 "$EVC" scan --threshold 50% --prenotify 0s \
    --at "$(date -u -d '+201 days' +%Y-%m-%dT%H:%M:%SZ)" "$T/far.crt"
status "unreadable only: 3" 3 "$EVC" scan "$S/nested/README"
status "unreadable and expired: 2" 2 "$EVC" scan --at 2099-01-01T00:00:00Z "$S/nested/README" "$T/far.crt"

# --- a server's directory after normal rotations ---------------------------------------
# renew leaves the Successor Announcement site.crt.sa beside the certificate:
# a CMS SignedData holding the old (signer's) certificate. It is not a store:
# reading it as a .p7b reported "expired site.crt.sa[0]", exit 2.
R=$T/rot
mkdir -p "$R/tls"
check "selfsign for rotation" "$EVC" selfsign --cn s.test --san DNS:s.test --days 30 \
    --out-cert "$R/tls/site.crt" --out-key "$R/tls/site.key"
cat > "$R/e.ini" <<EOF
[policy]
expiration_threshold = 10d

[store "site"]
role = personal
cert = tls/site.crt
key = tls/site.key
EOF
days() { date -u -d "+$1 days" +%Y-%m-%dT%H:%M:%SZ; }
check "renew on day 21" "$EVC" renew --config "$R/e.ini" --at "$(days 21)"
check "renew on day 24" "$EVC" renew --config "$R/e.ini" --at "$(days 24)"
[ -s "$R/tls/site.crt.sa" ] && ok || bad "renew left no site.crt.sa: $(ls "$R/tls")"
# On day 31 the new certificate is in pre-notification (1); the old one, in
# the SA, expired the day before and must not make it 2.
status "an SA beside the certificate is no alarm: 1" 1 "$EVC" scan --at "$(days 31)" "$R/tls"
if grep -q 'site.crt.sa' "$T/out"; then bad "the SA was read as a store: $(cat "$T/out")"; else ok; fi
grep -q '^1 successor announcement skipped' "$T/out" && ok || bad "no note of the skipped SA: $(cat "$T/out")"
status "json: the SA is counted, not an error: 1" 1 "$EVC" scan --format json --at "$(days 31)" "$R/tls"
[ "$(jq -r '.summary.expired' "$T/out")" = 0 ] && ok || bad "expired: $(jq -c .summary "$T/out")"
[ "$(jq -r '.summary.announcements' "$T/out")" = 1 ] && ok || bad "announcements: $(jq -c .summary "$T/out")"
[ "$(jq -r '.summary.errors' "$T/out")" = 0 ] && ok || bad "the SA is an error: $(jq -c .errors "$T/out")"
# a .p7b chain is still read as a store
ossl crl2pkcs7 -nocrl -certfile "$T/mid.crt" -certfile "$S/pem/ca.crt" -outform DER -out "$R/chain.p7b"
status "a .p7b chain is still a store: 0" 0 "$EVC" scan --format json "$R/chain.p7b"
[ "$(jq -r '.summary.total' "$T/out")" = 2 ] && ok || bad "p7b total: $(jq -c .summary "$T/out")"

# --- bad input: one error row each, the scan goes on ---------------------------------
B=$S/bad
head -c 4096 /dev/urandom > "$B/garbage.pem"
head -c 300 "$T/far.crt" > "$B/truncated.pem"
{ echo "-----BEGIN CERTIFICATE-----"; head -c 600 /dev/zero | base64; echo "-----END CERTIFICATE-----"; } > "$B/broken-der.pem"
ossl x509 -in "$T/far.crt" -outform DER -out "$T/far.der"
head -c 200 "$T/far.der" > "$B/short.der"
ln -s loop-b "$B/loop-a.pem"; ln -s loop-a.pem "$B/loop-b"
mkfifo "$B/fifo.pem"
truncate -s 2G "$B/huge.pem"
cp "$S/nested/web.p12" "$B/web.p12"
cp "$T/far.crt" "$B/good.pem"
export EVC_WRONG="not it"
status "bad inputs: 3" 3 timeout 60 "$EVC" scan --format json --password-env EVC_WRONG "$B"
check "bad-input JSON parses" jq -e . "$J"
[ "$(count '.summary.total')" = 1 ] && ok || bad "the good certificate among bad ones: $(count .summary.total)"
err_of() { jq -r --arg p "$1" '[.errors[]|select(.path|endswith($p))|.error]|join("; ")' "$J"; }
expect_err() { # file pattern
    e=$(err_of "$1")
    case "$e" in *$2*) ok ;; *) bad "$1: error '$e', want '$2'" ;; esac
}
expect_err garbage.pem "no certificate found"
expect_err truncated.pem "no END line"
expect_err broken-der.pem "line 1: certificate 0"
expect_err short.der "truncated"
expect_err loop-a.pem "levels of symbolic links"
expect_err fifo.pem "FIFO"
expect_err huge.pem "file too large"
expect_err web.p12 "wrong password"
[ "$(count '.summary.errors')" = 9 ] && ok || bad "errors $(count .summary.errors), want 9: $(jq -c .errors "$J")"
status "PKCS#12 without a password" 3 "$EVC" scan "$B/web.p12"
case $(cat "$T/out") in *"password required"*) ok ;; *) bad "no 'password required' in text report" ;; esac
status "PKCS#12 password from the environment" 0 env EVC_PW="$(cat "$T/pw")" \
    "$EVC" scan --password-env EVC_PW --threshold 0s --prenotify 0s "$B/web.p12"

# --- an unterminated block hides nothing ----------------------------------------------
H=$T/hidden
mkdir -p "$H"
{ printf -- '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n'; cat "$T/far.crt"; } > "$H/key-then-cert.pem"
status "a certificate after an unterminated key block, expired: 2" 2 \
    "$EVC" scan --format json --at 2099-01-01T00:00:00Z "$H/key-then-cert.pem"
[ "$(count '.summary.total')" = 1 ] && [ "$(count '.summary.expired')" = 1 ] && ok ||
    bad "the certificate after an unterminated block: $(jq -c .summary "$J")"
[ "$(count '.summary.errors')" = 1 ] && ok || bad "unterminated block not counted unreadable: $(jq -c .summary "$J")"
expect_err key-then-cert.pem "unterminated -----BEGIN RSA PRIVATE KEY----- at line 1: no END line"
status "an unterminated block and nothing worse: 3" 3 "$EVC" scan --threshold 0s --prenotify 0s "$H/key-then-cert.pem"
grep -q '^1 certificate: .*; 1 unreadable$' "$T/out" && ok || bad "text summary: $(cat "$T/out")"

# --- errors over the rows a file may show are still counted ----------------------------
i=0
while [ $i -lt 40 ]; do printf -- '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n'; i=$((i + 1)); done >"$H/many.pem"
status "40 unterminated blocks: 3" 3 "$EVC" scan --format json "$H/many.pem"
[ "$(count '.summary.errors')" = 40 ] && ok || bad "errors over the cap not counted: $(jq -c .summary "$J")"

# --- a chain kept as PKCS#7 (.p7b PEM, .p7c DER) hides no expiry ----------------------
mkdir -p "$H/p7"
ossl crl2pkcs7 -nocrl -certfile "$T/far.crt" -certfile "$T/mid.crt" -out "$H/p7/chain.p7b"
ossl crl2pkcs7 -nocrl -certfile "$T/far.crt" -certfile "$T/mid.crt" -outform DER -out "$H/p7/chain.p7c"
for f in chain.p7b chain.p7c; do
    status "$f: its certificates are rows, expired: 2" 2 \
        "$EVC" scan --format json --at 2099-01-01T00:00:00Z "$H/p7/$f"
    [ "$(count '.summary.total')" = 2 ] && [ "$(count '.summary.errors')" = 0 ] && ok ||
        bad "$f: $(jq -c .summary "$J")"
done
status "a directory scan reads .p7b and .p7c files" 2 \
    "$EVC" scan --format json --at 2099-01-01T00:00:00Z "$H/p7"
[ "$(count '.summary.total')" = 4 ] && ok || bad "p7 directory: $(jq -c .summary "$J")"

# --- a PKCS#12 file asking for 2^31-1 MAC iterations: refused before any derivation -------
ossl pkcs12 -export -in "$T/far.crt" -inkey "$T/keys/far.key" -passout file:"$T/pw" -out "$T/cost.p12"
# The MAC's 8-byte salt and count 2048 become 6 bytes and 0x7fffffff: the same length.
perl -0777 -pe 's/\x04\x08(.{6}).{2}\x02\x02\x08\x00\z/\x04\x06$1\x02\x04\x7f\xff\xff\xff/s or die "no MAC count\n"' \
    "$T/cost.p12" > "$H/web.p12" || bad "cannot patch the MAC count"
for pw in "--password-file $T/pw" ""; do
    # shellcheck disable=SC2086
    status "MAC count over the cap ($pw): 3" 3 timeout 60 "$EVC" scan --format json $pw "$H/web.p12"
    expect_err web.p12 "MAC iteration count 2147483647 over the cap of 1000000"
done

# --- certificates OpenSSL reads are rows, oddities as warnings -------------------------
O=$T/odd
mkdir -p "$O"
odd() { # name [openssl req arguments]
    n=$1; shift
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -days 1 \
        -subj "/CN=$n.example" -outform DER -out "$T/$n.der" "$@"
}
patch() { perl -0777 -pe "$1 or die qq(no match\n)" "$2" > "$3" || bad "cannot patch $2"; }
odd dupsan -addext "subjectAltName=DNS:a.example" -addext "issuerAltName=DNS:b.example"
patch 's/\x06\x03\x55\x1d\x12/\x06\x03\x55\x1d\x11/' "$T/dupsan.der" "$O/dupsan.der"
odd badsan -addext "2.5.29.17=DER:30058207616263"
cp "$T/badsan.der" "$O/badsan.der"
odd v4
patch 's/\xa0\x03\x02\x01\x02/\xa0\x03\x02\x01\x03/' "$T/v4.der" "$O/v4.der"
ossl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -days 1 -subj "/CN=badkey.example" \
    -outform DER -out "$T/badkey.der"
patch 's/\x00\x30\x82\x01\x0a\x02\x82\x01\x01/\x00\x31\x82\x01\x0a\x02\x82\x01\x01/' \
    "$T/badkey.der" "$O/badkey.der"
odd crit -addext "1.3.6.1.4.1.55555.1=critical,DER:0500"
odd negserial -set_serial -4660
odd longserial -set_serial "0x$(printf '5A%.0s' $(seq 40))"
for n in crit negserial longserial; do cp "$T/$n.der" "$O/$n.der"; done
status "seven odd certificates, expired: 2" 2 "$EVC" scan --format json --at 2099-01-01T00:00:00Z "$O"
check "odd JSON parses" jq -e . "$J"
[ "$(count '.summary.total')" = 7 ] && [ "$(count '.summary.expired')" = 7 ] && ok ||
    bad "odd certificates not all rows: $(jq -c '.summary, .errors' "$J")"
[ "$(count '.summary.errors')" = 0 ] && ok || bad "odd certificates as errors: $(jq -c .errors "$J")"
warn() { jq -r --arg p "$1" '[.certificates[]|select(.path|endswith($p))][0].warning // "none"' "$J"; }
expect_warn() { # file pattern
    w=$(warn "$1")
    case "$w" in *$2*) ok ;; *) bad "$1: warning '$w', want '$2'" ;; esac
}
expect_warn dupsan.der "duplicate subjectAltName extension"
expect_warn badsan.der "malformed subjectAltName extension"
expect_warn v4.der "version is not 1, 2 or 3"
expect_warn badkey.der "undecodable public key"
expect_warn crit.der "unknown critical extension 1.3.6.1.4.1.55555.1"
expect_warn negserial.der "negative serial number"
expect_warn longserial.der "serial number of 40 bytes"
[ "$(field v4.der 0 serial)" = "$(openssl x509 -inform DER -in "$O/v4.der" -noout -serial | sed 's/.*=//')" ] && ok ||
    bad "v4 serial differs from openssl"
[ "$(field negserial.der 0 serial)" = -1234 ] && ok || bad "negative serial $(field negserial.der 0 serial)"
status "odd certificates in the text table: 2" 2 "$EVC" scan --at 2099-01-01T00:00:00Z "$O/dupsan.der"
grep -q '^expired .*dupsan.der\[0\]  CN=dupsan.example  (warning: duplicate subjectAltName extension)$' "$T/out" &&
    ok || bad "text warning: $(cat "$T/out")"

# --- output formats ------------------------------------------------------------------
AT9=$(date -u -d '+9 days' +%Y-%m-%dT%H:%M:%SZ) # soon is prenotify from day 7.5
status "text" 1 "$EVC" scan --at "$AT9" --password-file "$T/pw" "$S/pem"
head -1 "$T/out" | grep -q '^STATUS  *LEFT  *NOT AFTER  *RENEW AT  *KIND  *PATH  *SUBJECT$' && ok || bad "text header"
sed -n 2p "$T/out" | grep -q '^prenotify .*chain.pem\[0\]' && ok || bad "text not sorted by time left"
grep -q '^4 certificates: 0 expired' "$T/out" && ok || bad "text summary: $(tail -1 "$T/out")"
if grep -q "$(printf '\033')" "$T/out"; then bad "colour when not a terminal"; else ok; fi
status "prometheus" 1 "$EVC" scan --at "$AT9" --format prometheus "$S/pem"
grep -q '^# TYPE evercert_cert_not_after_timestamp_seconds gauge$' "$T/out" && ok || bad "prom TYPE"
grep -q '^evercert_cert_status{path="[^"]*chain.pem",index="0",.*status="prenotify"} 1$' "$T/out" && ok ||
    bad "prom status sample"
grep -q '^evercert_scan_errors 0$' "$T/out" && ok || bad "prom errors gauge"

# --- usage -----------------------------------------------------------------------------
status "--version" 0 "$EVC" --version
grep -q '^evercert [0-9]' "$T/out" && ok || bad "version text"
status "help scan" 0 "$EVC" help scan
grep -q -- '--threshold SPAN' "$T/out" && ok || bad "help text"
status "scan --help" 0 "$EVC" scan --help
status "no path" 3 "$EVC" scan
status "bad threshold" 3 "$EVC" scan --threshold 60 "$S"
grep -q '^evercert: --threshold: .60.: expected a duration' "$T/err" && ok || bad "threshold message: $(cat "$T/err")"
status "bad --at" 3 "$EVC" scan --at tomorrow "$S"
status "bad format" 3 "$EVC" scan --format xml "$S"
status "password on argv refused" 3 "$EVC" scan --password secret "$S"
status "missing password file" 3 "$EVC" scan --password-file "$T/nope" "$S"
grep -q "^evercert: $T/nope: No such file or directory" "$T/err" && ok || bad "password file message: $(cat "$T/err")"
status "unset password variable" 3 "$EVC" scan --password-env EVC_UNSET_VAR "$S"
status "unknown command" 3 "$EVC" frobnicate
status "help for an unknown command" 3 "$EVC" help frobnicate

# --- table columns: as wide as their widest value, bounded ------------------------------
# A path of 200 characters widens its own row only: the SUBJECT column stays
# where a short path puts it, and the long path is shown whole.
W=$T/wide
LONG=$W/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))/$(printf 'f%.0s' $(seq 1 60))
mkdir -p "$LONG"
cp "$T/soon.crt" "$W/a.crt"
cp "$T/soon.crt" "$LONG/long-named-certificate.crt"
status "scan a short and a long path" 0 "$EVC" scan "$W"
hcol=$(head -1 "$T/out" | awk '{ print index($0, "SUBJECT") }')
scol=$(grep "$W/a.crt" "$T/out" | awk '{ print index($0, "CN=soon.example") }')
check "the subject column is not pushed by a long path ($hcol)" test "$hcol" -gt 0 -a "$hcol" -le 120
check "a short path's row is aligned with the header" test "$hcol" = "$scol"
check "the long path is shown whole" grep -qF "$LONG/long-named-certificate.crt" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
