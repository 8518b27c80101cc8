#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Java keystores against Java itself: keystores made by keytool are read
# by scan (with the right, a wrong and no password) and kept as the
# agent's trust store (jks, JCEKS, PKCS#12); what evercert writes is
# listed by `keytool -list -v` with every other entry as it was, and
# Java's own TLS (a Java client under -Djavax.net.ssl.trustStore) trusts
# the successor through it, where it did not before.
#
# usage: jks.sh PATH-TO-EVERCERT
set -u
EVC=${1:?usage: jks.sh PATH-TO-EVERCERT}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
for tool in keytool javac java; do
    command -v $tool >/dev/null || { echo "SKIP: $tool (a JDK) is not installed" >&2; exit 77; }
done
T=$(mktemp -d /tmp/evc-jks-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$SRC/tests/integration/lib.sh"
cd "$T" || exit 1
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
kt() { keytool "$@" 2>/dev/null; }
PORT=$(port_block 8)
SPORT=$((PORT + 1))

# --- a server's two generations and the SA between them
for n in a b; do
    "$EVC" selfsign --cn web.test --san DNS:web.test,IP:127.0.0.1 --days 30 --out-cert $n.crt --out-key $n.key >/dev/null
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.crt \
    -subj "/CN=Other Root" -days 30 2>/dev/null
"$EVC" announce --current a.crt --current-key a.key --successor b.crt --successor-key b.key \
    --service web.test --generation 1 --activate-at "$(at '+1 hour')" --out ab.sa
"$EVC" serve --cert a.crt --key a.key --sa ab.sa --listen 127.0.0.1:$PORT 2>serve.log &
PIDS="$PIDS $!"
check "serve starts" wait_for serve.log "listening on 127.0.0.1:$PORT" 5
# The successor's server, as clients will meet it after the switch.
openssl s_server -accept 127.0.0.1:$SPORT -cert b.crt -key b.key -www -quiet >/dev/null 2>&1 &
PIDS="$PIDS $!"
javac -d . "$SRC/tests/integration/java/TlsGet.java" || { bad "javac TlsGet.java"; exit 1; }
# jget STORE TYPE PASSWORD: the Java client on the successor's server, trusting STORE
jget() { java -Djavax.net.ssl.trustStore="$1" -Djavax.net.ssl.trustStoreType="$2" \
    -Djavax.net.ssl.trustStorePassword="$3" -cp . TlsGet 127.0.0.1 $SPORT >jget.out 2>&1; }

# --- keystores as keytool makes them: a key entry, the server, another root
echo changeit >pw
echo wrong >badpw
for t in JKS JCEKS PKCS12; do
    f=trust.$(echo $t | tr A-Z a-z)
    kt -genkeypair -keystore $f -storetype $t -storepass changeit -keypass changeit -alias mykey \
        -keyalg EC -groupname secp256r1 -dname CN=app.test -validity 30
    kt -importcert -noprompt -keystore $f -storetype $t -storepass changeit -alias web -file a.crt
    kt -importcert -noprompt -keystore $f -storetype $t -storepass changeit -alias other -file other.crt
done
check "keytool made the keystores" test -s trust.jks -a -s trust.jceks -a -s trust.pkcs12

# --- scan
status "scan: a JKS with its password" 0 "$EVC" scan --password-file pw trust.jks
check "scan: three certificates in the JKS" grep -q "^3 certificates" "$T/out"
check "scan: the key entry's certificate is read" grep -q "CN=app.test" "$T/out"
status "scan: a JCEKS with its password" 0 "$EVC" scan --password-file pw trust.jceks
check "scan: three certificates in the JCEKS" grep -q "^3 certificates" "$T/out"
status "scan: a JKS without a password is read as keytool -list reads it" 0 "$EVC" scan trust.jks
check "scan: three certificates without the password" grep -q "^3 certificates" "$T/out"
status "scan: a wrong password is an unreadable row" 3 "$EVC" scan --password-file badpw trust.jks
check "scan: the row names the file and the reason" grep -q "unreadable: trust.jks: wrong password" "$T/out"
mkdir dir && cp trust.jks dir/store.jks && head -c 100 trust.jks >dir/cut.keystore
status "scan: in a directory, a JKS is read and a cut one is reported" 3 "$EVC" scan --password-file pw dir
check "scan: the directory's JKS certificates are counted" grep -q "^3 certificates" "$T/out"
check "scan: the cut keystore is named with its reason" grep -q "unreadable: dir/cut.keystore: truncated" "$T/out"

# --- before the agent, Java does not trust the successor
if jget trust.jks JKS changeit; then bad "java: the JKS as keytool made it trusts the successor"; else ok; fi
check "java: its reason is the certification path" grep -q "PKIX path" jget.out

# --- the agent keeps each keystore
kt -list -v -keystore trust.jks -storepass changeit -alias mykey >mykey.before
kt -list -v -keystore trust.jks -storepass changeit -alias other >other.before
chmod 0640 trust.jks
cp trust.jks nopw.jks
mkdir deleted
cat >agent.ini <<EOF
[agent]
state = agent.db
deleted = deleted
[server "jks"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust.jks
trust_format = jks
password_file = pw
[server "jceks"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust.jceks
password_file = pw
[server "p12"]
connect = 127.0.0.1:$PORT
service = web.test
trust = trust.pkcs12
password_file = pw
EOF
status "agent --once adds the successor to each keystore" 0 "$EVC" agent --config agent.ini --once
alias=evercert-$(fp b.crt | cut -c1-16)
kt -list -v -keystore trust.jks -storepass changeit >jks.list
check "keytool: the JKS verifies and holds four entries" grep -q "Your keystore contains 4 entries" jks.list
check "keytool: the successor is a trusted entry named $alias" sh -c "grep -A3 '^Alias name: $alias' jks.list | grep -q trustedCertEntry"
kt -list -v -keystore trust.jks -storepass changeit -alias mykey >mykey.after
kt -list -v -keystore trust.jks -storepass changeit -alias other >other.after
check "keytool: the key entry is as it was (alias, date, chain)" cmp mykey.before mykey.after
check "keytool: the other trusted entry is as it was" cmp other.before other.after
check "the keystore keeps its mode" test "$(stat -c %a trust.jks)" = 640
check "keytool: the key entry's key still opens with its password" \
    keytool -importkeystore -srckeystore trust.jks -srcstorepass changeit -srcalias mykey -srckeypass changeit \
    -destkeystore copy.p12 -deststoretype PKCS12 -deststorepass changeit -noprompt
check "java: the JKS the agent wrote trusts the successor" jget trust.jks JKS changeit
check "java: it met the successor" grep -q "sha256: $(fp b.crt)" jget.out
check "keytool: the JCEKS verifies with the successor in it" sh -c "keytool -list -keystore trust.jceks -storetype JCEKS -storepass changeit 2>/dev/null | grep -A1 '^$alias' | grep -q trustedCertEntry"
check "java: the JCEKS the agent wrote trusts the successor" jget trust.jceks JCEKS changeit
check "keytool: the PKCS#12 trust store lists the successor as trusted" sh -c "keytool -list -keystore trust.pkcs12 -storepass changeit 2>/dev/null | grep -A1 '$alias' | grep -q trustedCertEntry"
check "java: the PKCS#12 the agent wrote trusts the successor" jget trust.pkcs12 PKCS12 changeit

# --- no password: read, never written
cat >nopw.ini <<EOF
[agent]
state = nopw.db
[server "nopw"]
connect = 127.0.0.1:$PORT
service = web.test
trust = nopw.jks
EOF
cp nopw.jks nopw.orig
status "agent: a JKS without its password is an error" 2 "$EVC" agent --config nopw.ini --once
check "the error names the keystore and the need for a password" grep -q "nopw.jks: a keystore is written only with its password" "$T/out" "$T/err"
check "the keystore without a password is unchanged" cmp nopw.jks nopw.orig

# --- a wrong password: refused, unchanged
sed 's/password_file = pw/password_file = badpw/' agent.ini | sed 's/agent.db/bad.db/' >bad.ini
cp trust.jks before.jks
status "agent: a wrong keystore password is an error" 2 "$EVC" agent --config bad.ini --once
check "the error names the keystore and the wrong password" grep -q "trust.jks: wrong password" "$T/out" "$T/err"
check "the keystore with a wrong password is unchanged" cmp trust.jks before.jks

# --- retirement: once a has expired the agent retires it; the person's entry web stays
"$EVC" agent --config agent.ini --once --at "$(at '+90 minutes')" >act.out 2>&1
"$EVC" agent --config agent.ini --once --at "$(at '+31 days')" >ret.out 2>&1
kt -list -v -keystore trust.jks -storepass changeit >ret.list
# The person's alias web stays: only evercert-<hex> entries are ever removed.
check "retire: keytool lists four entries" grep -q "Your keystore contains 4 entries" ret.list
check "retire: the person's entry of the retired certificate stays" grep -q '^Alias name: web$' ret.list
check "retire: the successor stays" grep -q "^Alias name: $alias" ret.list
kt -list -v -keystore trust.jks -storepass changeit -alias mykey >mykey.ret
check "retire: the key entry is as it was" cmp mykey.before mykey.ret
check "retire: the retired certificate is in the deleted store" sh -c "grep -l 'deleted-at' deleted/* | xargs -n1 openssl x509 -noout -fingerprint -sha256 -in | sed 's/.*=//; s/://g' | tr A-F a-f | grep -q $(fp a.crt)"
check "java: after the retirement the JKS still trusts the successor" jget trust.jks JKS changeit

# --- personal keystores: what renew refuses, naming the file and the reason, writing nothing
soon() { date -u -d "+$1" +%Y-%m-%dT%H:%M:%SZ; }
kt -genkeypair -keystore two.jks -storetype JKS -storepass changeit -keypass changeit -alias first \
    -keyalg EC -groupname secp256r1 -dname CN=first.test -ext san=dns:first.test -validity 30
kt -genkeypair -keystore two.jks -storetype JKS -storepass changeit -keypass changeit -alias second \
    -keyalg EC -groupname secp256r1 -dname CN=second.test -ext san=dns:second.test -validity 30
cp two.jks two.orig
mkdir www
cat >ks.ini <<EOF
[monitor]
state = ks.db

[store "two"]
role = personal
keystore = two.jks
password_file = pw
EOF
status "renew: a keystore with two key entries and no alias" 3 "$EVC" renew --config ks.ini
check "the error names the line, the keystore and both aliases" sh -c "grep -q 'line 4: ./two.jks holds 2 key entries (.*); name one with alias' '$T/err' && grep -q '\"first\"' '$T/err' && grep -q '\"second\"' '$T/err'"
printf 'alias = third\n' >>ks.ini
status "renew: an alias the keystore does not hold" 3 "$EVC" renew --config ks.ini
check "the error names the line that set the alias and the alias" grep -q 'line 8: .*two.jks: no key entry with the alias "third"' "$T/err"
sed -i 's/alias = third/alias = second/; s/password_file = pw/password_file = badpw/' ks.ini
status "renew: a keystore with a wrong password" 3 "$EVC" renew --config ks.ini
check "the error names the keystore and the wrong password" grep -q "two.jks: wrong password" "$T/err"
check "the refused keystore is unchanged" cmp two.jks two.orig
sed -i 's/password_file = badpw/password_file = pw/' ks.ini
printf 'publish = %s/nowhere\n' "$T" >>ks.ini
status "renew: publish = a directory that does not exist" 3 "$EVC" renew --config ks.ini --at "$(soon '25 days')"
check "the error names the web root" grep -q "publish = $T/nowhere is not a directory" "$T/err"
check "nothing was staged beside the keystore" test ! -e two.jks.next -a ! -e two.jks.sa -a ! -e two.jks.key.next
sed -i "s|publish = $T/nowhere|publish = www|" ks.ini
# Under the shipped units' UMask=0077 the web root must still be readable by the web server.
status "renew: the entry named by alias (umask 077)" 0 sh -c 'umask 077; exec "$@"' sh "$EVC" renew --config ks.ini --at "$(soon '25 days')"
check "its successor is staged as PEM beside the keystore, the key 0600" test "$(stat -c %a two.jks.key.next)" = 600
check "the SA is published at the well-known path" cmp two.jks.sa www/.well-known/evercert/successor
check "the published directories are 0755 under umask 077" test "$(stat -c %a www/.well-known)" = 755 -a "$(stat -c %a www/.well-known/evercert)" = 755
check "the published SA is 0644 under umask 077" test "$(stat -c %a www/.well-known/evercert/successor)" = 644
status "activate: the successor goes into the keystore" 0 "$EVC" activate --config ks.ini --at "$(soon '28 days')"
kt -list -v -keystore two.orig -storepass changeit -alias first >first.before
kt -list -v -keystore two.jks -storepass changeit -alias first >first.after
check "keytool: the other key entry is as it was" cmp first.before first.after
check "keytool: the renewed key opens with the keystore's password" \
    keytool -importkeystore -srckeystore two.jks -srcstorepass changeit -srcalias second -srckeypass changeit \
    -destkeystore second.p12 -deststoretype PKCS12 -deststorepass changeit -noprompt
openssl pkcs12 -in second.p12 -passin pass:changeit -clcerts -nokeys -out second.crt 2>/dev/null
openssl pkcs12 -in second.p12 -passin pass:changeit -nocerts -nodes -out second.key 2>/dev/null
check "the key in the keystore is the certificate's" sh -c "test \"\$(openssl pkey -in second.key -pubout 2>/dev/null)\" = \"\$(openssl x509 -in second.crt -noout -pubkey)\""
check "the certificate in the keystore is the SA's successor" sh -c "\"$EVC\" inspect two.jks.sa --format json | grep -q \"\$(fp second.crt)\""
# An alias is the keystore's text, not ours: it reaches the terminal escaped.
esc=$(printf '\033[31m')
kt -genkeypair -keystore esc.jks -storetype JKS -storepass changeit -keypass changeit -alias "a${esc}red" \
    -keyalg EC -groupname secp256r1 -dname CN=first.test -validity 30
kt -genkeypair -keystore esc.jks -storetype JKS -storepass changeit -keypass changeit -alias second \
    -keyalg EC -groupname secp256r1 -dname CN=second.test -validity 30
check "keytool: an alias holding ESC [ 3 1 m" sh -c "keytool -list -keystore esc.jks -storepass changeit 2>/dev/null | grep -qF 'a${esc}red'"
printf '[monitor]\nstate = esc.db\n[store "esc"]\nrole = personal\nkeystore = esc.jks\npassword_file = pw\n' >esc.ini
status "renew: a keystore whose aliases hold a terminal escape" 3 "$EVC" renew --config esc.ini
check "the error names the alias, escaped" grep -qF 'a\x1b[31mred' "$T/err"
check "no ESC byte reaches stderr" sh -c "! grep -q \"\$(printf '\\033')\" '$T/err'"
# A PKCS#12 keystore that holds more than its key entry is refused, not thinned.
kt -genkeypair -keystore mixed.p12 -storetype PKCS12 -storepass changeit -alias tomcat \
    -keyalg EC -groupname secp256r1 -dname CN=mixed.test -validity 30
kt -importcert -noprompt -keystore mixed.p12 -storepass changeit -alias other -file other.crt
printf '[monitor]\nstate = mx.db\n[store "mixed"]\nrole = personal\nkeystore = mixed.p12\npassword_file = pw\n' >mx.ini
status "renew: a PKCS#12 keystore with a trusted entry beside its key" 3 "$EVC" renew --config mx.ini
check "the error says why" grep -q "mixed.p12 holds trusted certificates besides its key entry" "$T/err"

summary jks
