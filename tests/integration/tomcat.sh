#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Tomcat as the server the study ran: Debian's tomcat10 with its own
# CATALINA_BASE here, two HTTPS connectors on 127.0.0.1, one on a JKS
# keystore and one on a PKCS#12 keystore, each key under the alias
# "tomcat". `evercert monitor` renews both short-lived certificates in
# place (keystore =, alias =), publishes each SA into a webapp
# (publish =), and reloads Tomcat's TLS configuration through JMX
# (reloadSslHostConfigs, Tomcat's documented reload; open connections
# stay) as after_replace; verify checks Tomcat serves the new
# certificate. `evercert agent` fetches the SAs from Tomcat's URL into a
# JKS, a PKCS#12 and a PEM trust store. Clients every 0.5 s: a Java
# client (the JDK's TrustManager on the agent's JKS and PKCS#12 stores)
# and curl (on the agent's PEM stores), through ROTATIONS rotations of
# each keystore with 0 failures; beside them the same clients on copies
# of the stores nobody updates, which must fail after the first rotation;
# and a Python client keeping one connection open, which the reloads keep.
#
# usage: tomcat.sh PATH-TO-EVERCERT [LIFETIME-SECONDS [ROTATIONS]]
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
EVC=${1:?usage: tomcat.sh PATH-TO-EVERCERT [LIFETIME] [ROTATIONS]}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
HERE=$(cd "$(dirname "$0")" && pwd)
LIFE=${2:-24}
ROT=${3:-2}
CATALINA_HOME=${CATALINA_HOME:-/usr/share/tomcat10}
[ -x "$CATALINA_HOME/bin/catalina.sh" ] || { echo "SKIP: tomcat10 is not installed ($CATALINA_HOME)" >&2; exit 77; }
for tool in java javac keytool curl python3; do
    command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (a JDK: default-jdk-headless)" >&2; exit 77; }
done
T=$(mktemp -d /tmp/evc-tomcat-XXXXXX)
export TZ=UTC
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "${TOMCAT:-}" ] && kill "$TOMCAT" 2>/dev/null && wait "$TOMCAT" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$T" || exit 1
now() { date +%s; }
BASE=$(port_block 8)
PJ=$BASE PP=$((BASE + 1)) JMX=$((BASE + 2))

javac -d . "$HERE/java/TlsGet.java" "$HERE/../../contrib/tomcat/TomcatReload.java" || { bad "javac"; exit 1; }

# --- the keystores, as keytool leaves them: a key entry "tomcat", and a CA beside it in the JKS
echo changeit >pw
mkcert web web.test "$LIFE" && mkcert alt alt.test "$LIFE" || { bad "openssl ca made no certificate"; exit 1; }
mkcert other other.test 3600 || exit 1
openssl pkcs12 -export -in web.crt -inkey web.key -name tomcat -out web.p12 -passout pass:changeit &&
    keytool -importkeystore -srckeystore web.p12 -srcstoretype PKCS12 -srcstorepass changeit \
        -destkeystore web.jks -deststoretype JKS -deststorepass changeit -noprompt >/dev/null 2>&1 &&
    keytool -importcert -noprompt -keystore web.jks -storepass changeit -alias other -file other.crt >/dev/null 2>&1 ||
    { bad "keytool made no JKS keystore"; exit 1; }
openssl pkcs12 -export -in alt.crt -inkey alt.key -name tomcat -out alt.p12 -passout pass:changeit || exit 1
chmod 600 web.jks alt.p12
rm web.p12

# --- the clients' stores, holding the first certificates; "static" copies nobody updates
for n in web alt; do
    cp $n.crt $n.pem && cp $n.crt static-$n.pem
done
keytool -importcert -noprompt -keystore trust.jks -storetype JKS -storepass changeit -alias web -file web.crt >/dev/null 2>&1
keytool -importcert -noprompt -keystore trust.p12 -storetype PKCS12 -storepass changeit -alias alt -file alt.crt >/dev/null 2>&1
cp trust.jks static.jks && cp trust.p12 static.p12

# --- Tomcat: its own base, a connector per keystore, JMX on 127.0.0.1
CB=$T/tomcat
mkdir -p "$CB/conf" "$CB/logs" "$CB/temp" "$CB/work" "$CB/webapps/ROOT" "$CB/webapps/alt"
cp /etc/tomcat10/web.xml /etc/tomcat10/catalina.properties /etc/tomcat10/logging.properties "$CB/conf/" 2>/dev/null ||
    cp "$CATALINA_HOME/conf/web.xml" "$CB/conf/"
echo "tomcat web" >"$CB/webapps/ROOT/index.html"
echo ok >"$CB/webapps/ROOT/ping" # what tlsclient.py asks for
echo "tomcat alt" >"$CB/webapps/alt/index.html"
cat >"$CB/conf/server.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="$PJ" address="127.0.0.1" protocol="org.apache.coyote.http11.Http11NioProtocol"
               SSLEnabled="true" maxThreads="20" maxKeepAliveRequests="-1">
      <SSLHostConfig>
        <Certificate certificateKeystoreFile="$T/web.jks" certificateKeystoreType="JKS"
                     certificateKeystorePassword="changeit" certificateKeyAlias="tomcat"/>
      </SSLHostConfig>
    </Connector>
    <Connector port="$PP" address="127.0.0.1" protocol="org.apache.coyote.http11.Http11NioProtocol"
               SSLEnabled="true" maxThreads="20">
      <SSLHostConfig>
        <Certificate certificateKeystoreFile="$T/alt.p12" certificateKeystoreType="PKCS12"
                     certificateKeystorePassword="changeit" certificateKeyAlias="tomcat"/>
      </SSLHostConfig>
    </Connector>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
EOF
CATALINA_BASE=$CB CATALINA_HOME=$CATALINA_HOME CATALINA_TMPDIR=$CB/temp \
    JAVA_OPTS="-Xmx256m -Djava.rmi.server.hostname=127.0.0.1 -Dcom.sun.management.jmxremote.port=$JMX -Dcom.sun.management.jmxremote.rmi.port=$JMX -Dcom.sun.management.jmxremote.host=127.0.0.1 -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false" \
    "$CATALINA_HOME/bin/catalina.sh" run >tomcat.log 2>&1 &
TOMCAT=$!
i=0
until curl -sk --max-time 2 https://127.0.0.1:$PJ/ >/dev/null 2>&1 && curl -sk --max-time 2 https://127.0.0.1:$PP/alt/ >/dev/null 2>&1 || [ $i -ge 300 ]; do
    sleep 0.2
    i=$((i + 1))
done
check "tomcat serves both connectors" curl -sf --cacert web.pem --resolve web.test:$PJ:127.0.0.1 https://web.test:$PJ/
[ $fail = 0 ] || { tail -30 tomcat.log >&2; exit 1; }
check "the JMX reload works before any rotation" java -cp . TomcatReload 127.0.0.1 $JMX

# --- the monitor and the agent
mkdir deleted retired
cat >monitor.ini <<EOF
[policy]
expiration_threshold = 50%
distribution_window = 50%

[monitor]
state = monitor.db
metrics_file = metrics.prom

[notify]
log = stderr

[store "web"]
role = personal
keystore = web.jks
alias = tomcat
password_file = pw
publish = $CB/webapps/ROOT
after_replace = java -cp $T TomcatReload 127.0.0.1 $JMX
verify = 127.0.0.1:$PJ
verify_servername = web.test

[store "alt"]
role = personal
keystore = alt.p12
password_file = pw
publish = $CB/webapps/alt
after_replace = java -cp $T TomcatReload 127.0.0.1 $JMX
verify = 127.0.0.1:$PP
verify_servername = alt.test

[store "deleted"]
role = deleted
path = deleted
EOF
cat >agent.ini <<EOF
[agent]
state = agent.db
deleted = retired
EOF
for s in "web-jks web $PJ trust.jks /" "web-pem web $PJ web.pem /" "alt-p12 alt $PP trust.p12 /alt/" "alt-pem alt $PP alt.pem /alt/"; do
    set -- $s
    cat >>agent.ini <<EOF
[server "$1"]
connect = 127.0.0.1:$3
service = $2.test
trust = $4
url = https://$2.test$5.well-known/evercert/successor
sources = url
interval = 1s
EOF
    case $4 in *.jks | *.p12) echo "password_file = pw" >>agent.ini ;; esac
done
START=$(now)
"$EVC" monitor --config monitor.ini 2>monitor.log &
MON=$!
"$EVC" agent --config agent.ini 2>agent.log &
AGENT=$!
PIDS="$PIDS $MON $AGENT"

# --- the clients
limit=$((LIFE * 3 / 4 + ROT * LIFE * 2 / 5 + 40))
curl_loop() { # NAME PORT PATH STORE LOG
    end=$(($(now) + limit + 10))
    while [ ! -f STOP ] && [ "$(now)" -lt $end ]; do
        if curl -sf --max-time 3 --cacert "$4" --resolve "$1.test:$2:127.0.0.1" "https://$1.test:$2$3" >/dev/null 2>&1; then
            echo "$(now) curl ok"
        else
            echo "$(now) curl FAIL"
        fi >>"$5"
        sleep 0.5
    done
}
jloop() { # PORT PATH STORE TYPE LOG
    java -Djavax.net.ssl.trustStore="$3" -Djavax.net.ssl.trustStoreType="$4" -Djavax.net.ssl.trustStorePassword=changeit \
        -cp . TlsGet 127.0.0.1 "$1" "$2" $((limit + 10)) STOP >"$5" 2>&1
}
curl_loop web $PJ / web.pem curl-web.log &
PIDS="$PIDS $!"
curl_loop alt $PP /alt/ alt.pem curl-alt.log &
PIDS="$PIDS $!"
curl_loop web $PJ / static-web.pem static-curl-web.log &
PIDS="$PIDS $!"
jloop $PJ / trust.jks JKS java-web.log &
PIDS="$PIDS $!"
jloop $PP /alt/ trust.p12 PKCS12 java-alt.log &
PIDS="$PIDS $!"
jloop $PJ / static.jks JKS static-java-web.log &
PIDS="$PIDS $!"
# One connection kept open across the reloads, as an application keeps one.
python3 "$HERE/tlsclient.py" web 127.0.0.1 $PJ web.test web.pem STOP py-web.log $((limit + 10)) >py-web.out 2>&1 &
PIDS="$PIDS $!"

rotations() { grep -c "action=activate store=$1 .*done=1" monitor.log 2>/dev/null; }
while { [ "$(rotations web)" -lt "$ROT" ] || [ "$(rotations alt)" -lt "$ROT" ]; } && [ $(($(now) - START)) -lt $limit ]; do
    sleep 0.2
done
# While the certificates live: Tomcat serves the SA the monitor published (a renewal may
# write a new one between the two reads: three tries).
served_sa() {
    for i in 1 2 3; do
        curl -sf --max-time 3 --cacert web.pem --resolve web.test:$PJ:127.0.0.1 \
            https://web.test:$PJ/.well-known/evercert/successor >served.sa && cmp -s served.sa web.jks.sa && return 0
        sleep 0.5
    done
    return 1
}
check "Tomcat serves the published SA at the well-known URL" served_sa
sleep 3 # the clients' next rounds, after the last swap
touch STOP
sleep 2
kill $MON $AGENT 2>/dev/null
wait $MON $AGENT 2>/dev/null

fails() { grep -c "FAIL" "$1" 2>/dev/null; }
oks() { grep -c " ok" "$1" 2>/dev/null; }
echo "tomcat: $(rotations web) rotations of the JKS keystore, $(rotations alt) of the PKCS#12 keystore, ${LIFE} s certificates, $(($(now) - START)) s"
for l in java-web curl-web java-alt curl-alt static-java-web static-curl-web; do
    echo "  $l: $(oks $l.log) ok, $(fails $l.log) failed"
done
echo "  $(cat py-web.out)"
check "the monitor rotated the JKS keystore $ROT times" test "$(rotations web)" -ge "$ROT"
check "the monitor rotated the PKCS#12 keystore $ROT times" test "$(rotations alt)" -ge "$ROT"
check "every swap was reloaded by JMX and verified (JKS)" test "$(grep -c "verify=127.0.0.1:$PJ serves it" monitor.log)" -ge "$ROT"
check "every swap was reloaded by JMX and verified (PKCS#12)" test "$(grep -c "verify=127.0.0.1:$PP serves it" monitor.log)" -ge "$ROT"
for l in java-web curl-web java-alt curl-alt; do
    check "$l: clients connected" test "$(oks $l.log)" -ge 10
    check "$l: 0 failures on the agent's store" test "$(fails $l.log)" = 0
done
check "Tomcat kept the open connection across the reloads" test "$(grep -c " connect " py-web.log)" = 1
check "the requests on it were answered" test "$(grep -c " ok" py-web.log)" -ge 10
check "java-web met $((ROT + 1)) certificates" test "$(awk '/ java ok / { print $4 }' java-web.log | sort -u | wc -l)" -ge $((ROT + 1))
check "without the agent, Java fails after the first rotation" test "$(fails static-java-web.log)" -ge 1
check "without the agent, curl fails after the first rotation" test "$(fails static-curl-web.log)" -ge 1
check "the JKS keystore keeps its other entry" keytool -list -keystore web.jks -storepass changeit -alias other
check "the JKS keystore keeps its mode" test "$(stat -c %a web.jks)" = 600
check "keytool reads the renewed key entry" keytool -importkeystore -srckeystore web.jks -srcstorepass changeit \
    -srcalias tomcat -destkeystore out.p12 -deststoretype PKCS12 -deststorepass changeit -noprompt
check "the PKCS#12 keystore keeps the alias" sh -c "keytool -list -keystore alt.p12 -storepass changeit 2>/dev/null | grep -q '^tomcat,'"
check "the published SA is the store's" cmp web.jks.sa "$CB/webapps/ROOT/.well-known/evercert/successor"
# The keystores are read with their password_file in the monitor's own scan, too.
check "the monitor's metrics read both keystores without an error" grep -qx 'evercert_scan_errors 0' metrics.prom
check "the metrics hold the PKCS#12 keystore's certificate" grep -q 'alt.p12' metrics.prom
check "the monitor ended every pass without an error" sh -c "! grep -q 'pass ended: status=[23]' monitor.log"
if [ $fail != 0 ]; then
    echo "--- monitor.log" >&2 && tail -30 monitor.log >&2
    echo "--- agent.log" >&2 && tail -20 agent.log >&2
    grep FAIL java-web.log java-alt.log curl-web.log curl-alt.log | head -10 >&2
fi
summary tomcat
