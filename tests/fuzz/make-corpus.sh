#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Regenerate the seed corpora of the fuzz targets (corpus/NAME/) and the
# fixed trusted certificate of the SA targets (trusted.h), with the built
# evercert command and openssl:
#
#   tests/fuzz/make-corpus.sh build/evercert
#
# Real SAs, certificates, PEM and DER files, PKCS#12 stores (password
# "fuzz") made at fixed times, and small hand-written edge cases. Each
# corpus stays small: the fuzzer finds the rest. Inputs that once broke a
# target (corpus/NAME/regress-*) are kept as they are.
set -eu
evercert=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Fixed times: the certificates are valid at the targets' fixed now (2026-03-01).
at=2026-01-01T00:00:00Z
activate=2026-06-01T00:00:00Z
days=3650

for t in ack sa ext frame url pem der pkcs12 jks cert config time span mail status query log seal epurl starttls; do
    mkdir -p "$corpus/$t"
    find "$corpus/$t" -type f ! -name 'regress-*' -exec rm -f {} +
done

# --- certificates and SAs -----------------------------------------------------
"$evercert" ca init --out root --subject "CN=Fuzz Root,O=evercert" --days $days --at $at >/dev/null
"$evercert" issue --ca root --cn web.test --san DNS:web.test --days $days --at $at \
    --out-cert cur.crt --out-key cur.key >/dev/null
"$evercert" issue --ca root --cn web.test --san DNS:web.test --days $days --at $at \
    --out-cert next.crt --out-key next.key >/dev/null
"$evercert" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days $days --at $at \
    --key rsa:2048 --out-cert self.crt --out-key self.key >/dev/null
"$evercert" ca init --out root2 --subject "CN=Fuzz Root 2,O=evercert" --days $days --at $at >/dev/null
"$evercert" issue --ca root2 --cn web.test --san DNS:web.test --days $days --at $at \
    --out-cert other.crt --out-key other.key >/dev/null
cat next.crt root/ca.crt >next-chain.crt

announce() {
    out=$1
    shift
    "$evercert" announce --current cur.crt --current-key cur.key --service web.test \
        --activate-at $activate --at $at --out "$out" "$@" >/dev/null
}
announce valid.sa --successor next.crt --successor-key next.key --generation 2
announce chain.sa --successor next-chain.crt --successor-key next.key --generation 3
announce anchor.sa --successor other.crt --successor-key other.key --generation 4 \
    --anchor root2/ca.crt
announce selfsigned.sa --successor self.crt --successor-key self.key --generation 5
announce replay.sa --successor next.crt --successor-key next.key --generation 1
"$evercert" announce --current other.crt --current-key other.key --successor next.crt \
    --successor-key next.key --service web.test --generation 2 --activate-at $activate \
    --at $at --out stranger.sa >/dev/null

# The SA targets trust cur.crt, the signer of every SA above but the stranger's.
{
    echo '/* SPDX-License-Identifier: Apache-2.0 */'
    echo '/* Written by make-corpus.sh with the seed SAs: the certificate they follow. */'
    echo 'static const char fuzz_trusted_pem[] ='
    sed 's/.*/    "&\\n"/' cur.crt
    echo '    ;'
} >"$here/trusted.h"
if command -v clang-format >/dev/null; then
    clang-format -i "$here/trusted.h"
fi

for f in valid chain anchor selfsigned replay stranger; do
    cp $f.sa "$corpus/sa/$f.sa"
done
cp valid.sa anchor.sa "$corpus/url/"
head -c 200 valid.sa >"$corpus/sa/truncated.sa"
{ cat valid.sa; printf '\0'; } >"$corpus/sa/trailing.sa"
{ cat valid.sa; printf '\0'; } >"$corpus/url/trailing.sa"
openssl x509 -in cur.crt -outform DER >"$corpus/url/certificate.der"
printf '<html>Not Found</html>\n' >"$corpus/url/html.txt"
# A CMS SignedData that is no SA: openssl's own, of other content.
printf 'hello' >hello.txt
openssl cms -sign -in hello.txt -signer cur.crt -inkey cur.key -binary -nodetach \
    -outform DER -out "$corpus/sa/other-content.der"

# --- the handshake extension: a type byte (even: ClientHello, odd: SA), then the body
printf '\000\000\000\000\000\000\000\000\000' >"$corpus/ext/hello-gen0"
printf '\000\000\000\000\000\000\000\000\007' >"$corpus/ext/hello-gen7"
printf '\000\377\377\377\377\377\377\377\377' >"$corpus/ext/hello-genmax"
printf '\000\000\000\000\000\000\000\001' >"$corpus/ext/hello-short"
printf '\001' >"$corpus/ext/sa-empty"
{ printf '\001'; cat valid.sa; } >"$corpus/ext/sa-valid"
{ printf '\001'; head -c 100 valid.sa; } >"$corpus/ext/sa-truncated"

# --- the push channel: DER objects back to back ---------------------------------
cp valid.sa "$corpus/frame/one.sa"
cat valid.sa chain.sa >"$corpus/frame/two.sa"
{ cat valid.sa; head -c 300 anchor.sa; } >"$corpus/frame/one-and-part.sa"
printf 'GET / HTTP/1.1\r\n\r\n' >"$corpus/frame/http.txt"
printf '\060\200\000\000' >"$corpus/frame/indefinite"
printf '\060\205\000\000\000\000\001' >"$corpus/frame/five-length-bytes"
printf '\060\203\001\000\001' >"$corpus/frame/over-cap"
printf '\060\003\002\001\001\060\000' >"$corpus/frame/small"

# --- acknowledgements (the push channel, client to server) --------------------
printf '\060\006\002\001\001\002\001\005' >"$corpus/ack/gen5"
printf '\060\017\002\001\001\002\001\007\014\007agent-7' >"$corpus/ack/named"
printf '\060\016\002\001\001\002\011\000\377\377\377\377\377\377\377\377' >"$corpus/ack/max"
printf '\060\006\002\001\002\002\001\005' >"$corpus/ack/version2"

# --- readiness: the status text, the URL's query, access logs --------------------
printf 'evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 604800\nclients 12\nready 10\nentries 14\nforgotten 0\ngeneration 5 10\ngeneration 4 2\nunready 192.0.2.7 agent-7 4 2026-12-01T00:00:00Z ack\nunready 2001:db8::/64 - 4 2026-12-01T00:00:00Z hello\n' >"$corpus/status/full"
printf 'evercert-status 1\r\nat 2026-12-01T00:00:00Z\r\nsuccessor 0\r\nwindow 1\r\nclients 0\r\nready 0\r\n' >"$corpus/status/crlf"
printf 'evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 2\n' >"$corpus/status/more-ready"
printf 'held=5' >"$corpus/query/held"
printf 'held=5&client=agent-7' >"$corpus/query/named"
printf 'x=1&client=a&held=18446744073709551615' >"$corpus/query/max"
printf 'held=5&held=6' >"$corpus/query/repeated"
printf 'held=18446744073709551616' >"$corpus/query/over"
printf '192.0.2.1 - - [01/Dec/2026:00:00:00 +0000] "GET /.well-known/evercert/successor?held=5&client=a HTTP/1.1" 200 1234 "-" "evercert"\n' >"$corpus/log/combined"
printf '2001:db8::5 - u [01/Dec/2026:01:00:05 +0100] "GET https://h/.well-known/evercert/successor?held=4 HTTP/1.1" 404 0\n192.0.2.4 - - [01/Dec/2026:00:00:08 +0000] "GET /a\\"b HTTP/1.1" 400 1\ngarbage\n' >"$corpus/log/common"

# --- PEM --------------------------------------------------------------------------
cp cur.crt "$corpus/pem/leaf.pem"
cp next-chain.crt "$corpus/pem/chain.pem"
openssl crl2pkcs7 -nocrl -certfile next-chain.crt -out "$corpus/pem/chain.p7b"
openssl crl2pkcs7 -nocrl -certfile next-chain.crt -outform DER -out "$corpus/der/chain.p7c"
cat cur.key cur.crt >"$corpus/pem/key-and-cert.pem"
openssl x509 -in root/ca.crt -trustout -addtrust serverAuth >"$corpus/pem/trusted.pem"
sed 's/$/\r/' cur.crt >"$corpus/pem/crlf.pem"
head -n 5 cur.crt >"$corpus/pem/no-end.pem"
sed '3s/./*/' cur.crt >"$corpus/pem/bad-base64.pem"
printf -- '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n' >"$corpus/pem/empty.pem"
printf -- '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n' >"$corpus/pem/crl.pem"

# --- DER and the certificate reader -------------------------------------------------
for c in cur next self other; do
    openssl x509 -in $c.crt -outform DER -out $c.der
done
openssl x509 -in root/ca.crt -outform DER -out root.der
cp cur.der "$corpus/der/leaf.der"
cat cur.der root.der >"$corpus/der/two.der"
head -c 300 cur.der >"$corpus/der/truncated.der"
printf '0123ABCD\n' >"$corpus/der/serial.srl"
cp cur.der "$corpus/cert/leaf-ec.der"
cp root.der "$corpus/cert/root.der"
cp self.der "$corpus/cert/self-rsa.der"
head -c 300 self.der >"$corpus/cert/truncated.der"
{ cat cur.der; printf '\0'; } >"$corpus/cert/trailing.der"
# A version 1 certificate, as old roots are.
openssl req -new -key cur.key -subj /CN=v1.test -out v1.csr
openssl x509 -req -in v1.csr -signkey cur.key -days 30 -outform DER -out "$corpus/cert/v1.der" \
    2>/dev/null

# --- PKCS#12, password "fuzz" (one round mostly: the fuzzer runs faster) ------------
openssl pkcs12 -export -in cur.crt -inkey cur.key -certfile root/ca.crt -passout pass:fuzz \
    -noiter -nomaciter -out "$corpus/pkcs12/keystore.p12"
openssl pkcs12 -export -nokeys -in next-chain.crt -passout pass:fuzz -noiter -nomaciter \
    -out "$corpus/pkcs12/truststore.p12"
openssl pkcs12 -export -nokeys -in cur.crt -passout pass:fuzz -certpbe NONE -noiter -nomaciter \
    -out "$corpus/pkcs12/plain.p12"
openssl pkcs12 -export -nokeys -in cur.crt -passout pass:other -noiter -nomaciter \
    -out "$corpus/pkcs12/other-password.p12"
openssl pkcs12 -export -nokeys -in cur.crt -passout pass:fuzz \
    -out "$corpus/pkcs12/default-rounds.p12"
cp "$corpus/pkcs12/keystore.p12" "$corpus/der/keystore.p12"
# Java keystores, made by keytool when a JDK is there (password "fuzzfuzz": keytool wants six characters).
if command -v keytool >/dev/null; then
    keytool -importkeystore -srckeystore "$corpus/pkcs12/keystore.p12" -srcstoretype PKCS12 -srcstorepass fuzz \
        -destkeystore "$corpus/jks/keystore.jks" -deststoretype JKS -deststorepass fuzzfuzz -destkeypass fuzzfuzz -noprompt >/dev/null 2>&1
    cp "$corpus/jks/keystore.jks" "$corpus/jks/trusted.jks"
    keytool -importcert -noprompt -keystore "$corpus/jks/trusted.jks" -storepass fuzzfuzz -alias root \
        -file root/ca.crt >/dev/null 2>&1
    keytool -importcert -noprompt -keystore "$corpus/jks/trusted.jceks" -storetype JCEKS -storepass fuzzfuzz \
        -alias root -file root/ca.crt >/dev/null 2>&1
    head -c 200 "$corpus/jks/trusted.jks" >"$corpus/jks/truncated.jks"
fi

# --- configuration files ------------------------------------------------------------
cat >"$corpus/config/renew.ini" <<'INI'
[policy]
expiration_threshold = 33%
prenotification = 30d
auto_replace = true
deleted_retention = 90d
distribution_window = 7d

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = tls/site.crt
key = tls/site.key
after_replace = nginx -s reload
hook_timeout = 30s
verify = 127.0.0.1:443
verify_servername = web.test

[store "trust"]
role = trust
path = /etc/ssl/trust.pem

[store "deleted"]
role = deleted
path = deleted
INI
cat >"$corpus/config/monitor.ini" <<'INI'
; the monitor, WebSphere's schedule
[monitor]
enabled = yes
frequency = 14
day_of_week = sunday
hour = 21
minute = 30
state = state.db
metrics_file = /var/lib/node_exporter/evercert.prom

[notify]
log = syslog
report_file = report.json
email_to = a@example.com|b@example.org@smtp.example.org:587
email_from = evercert@example.com
smtp_user = evercert
smtp_password_file = smtp.pw

[store "web"]
role = personal
cert = site.crt
key = site.key
INI
cat >"$corpus/config/agent.ini" <<'INI'
[agent]
state = agent.db
deleted = deleted

[server "web"]
connect = 127.0.0.1:8443
service = web.test
trust = web.pem
trust_format = bundle
url = https://web.test/.well-known/evercert/successor
announce = [::1]:8444
sources = handshake,push,url
policy = holddown=30d
interval = 1h
after_change = systemctl reload app
INI
printf '[policy]\nexpiration_threshold = 60\n' >"$corpus/config/bad-span.ini"
printf '[store "x"]\nrole = personal\n' >"$corpus/config/no-cert.ini"
printf '[nosuch]\nkey = value\n' >"$corpus/config/unknown.ini"

# --- times, spans, mail addresses ---------------------------------------------------
i=0
for s in 2026-11-22T10:00:00Z 2026-11-22T11:00:00+01:00 2026-11-22t10:00:00.123456z \
    '2024-02-29 23:59:60-23:59' 0000-01-01T00:00:00Z 9999-12-31T23:59:59Z 2025-02-29T00:00:00Z \
    2026-13-01T00:00:00Z 2026-11-22T10:00:00; do
    i=$((i + 1))
    printf '%s' "$s" >"$corpus/time/t$i"
done
i=0
for s in 60d 1d12h30m15s 33% 100% 0s 101% 1d33% 10000000000000000000d d 5x; do
    i=$((i + 1))
    printf '%s' "$s" >"$corpus/span/s$i"
done
i=0
for s in a@example.com 'a@x.test|b@y.test@smtp.y.test:587' ' a@x.test | b@x.test ' \
    'a@x@' '@x.test' 'a b@x.test' 'a@x.test|' '<a@x.test>' 'a@x.test@mail@x'; do
    i=$((i + 1))
    printf '%s' "$s" >"$corpus/mail/m$i"
done
# Sealed keys: the layout's edges (version, nonce, ciphertext, tag), none opening.
z12=$(printf '%024d' 0)
z16=$(printf '%032d' 0)
i=0
for s in "01${z12}41${z16}" "01${z12}${z16}" "02${z12}41${z16}" "01${z12}$(printf '%0200d' 0)${z16}" 01 ""; do
    i=$((i + 1))
    printf '%s' "$s" | xxd -r -p >"$corpus/seal/k$i"
done

i=0
for s in tls://web.test:443 'tls://[::1]:8443?sni=web.test' tls://127.0.0.1:443 smtp://mx.test:25 \
    imap://127.0.0.1:143?sni=imap.test postgres://db.test:5432/ postgresql://db:5432 tls://h \
    tls://h:0 tls://h:65536 'tls://[::1:443' 'tls://a..b:1' http://x:80 'tls://h:1?x=y' 'tls://h:1?sni=1.2.3.4'; do
    i=$((i + 1))
    printf '%s' "$s" >"$corpus/epurl/u$i"
done
printf '\000220-mx.test ESMTP\r\n220 ready\r\n' >"$corpus/starttls/smtp-greeting"
printf '\000250-mx.test\r\n250-SIZE 1000\r\n250 STARTTLS\r\n' >"$corpus/starttls/smtp-ehlo"
printf '\000250-a\r\n251 b\r\n' >"$corpus/starttls/smtp-codes"
printf '\000220 go\r\n250 injected\r\n' >"$corpus/starttls/smtp-inject"
printf '\001* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n' >"$corpus/starttls/imap-greeting"
printf '\002* CAPABILITY IMAP4rev1\r\na OK begin TLS\r\n' >"$corpus/starttls/imap-ok"
printf '\002b OK wrong tag\r\n' >"$corpus/starttls/imap-tag"
printf '\002a NO\n' >"$corpus/starttls/imap-no"

du -sh "$corpus"/* | sed 's|'"$corpus"'/||'
