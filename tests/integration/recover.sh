#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Recovery from any state the stores can be in. A renewal, an activation
# and a retirement are each stopped at every disk-changing step; every
# state left is then met by a clock jump (none, past the successor's life,
# past the old certificate's life, days later, backwards) and one pass of
# `renew --at T` or `monitor --once --at T`, which must end with a valid
# live pair at T, no .next debris, an SA generation that never went down,
# and an exit status that is not a failure. Then the states a person or a
# lost disk leave: stale successors, .next files that are not a whole set,
# a lone key.next, a missing deleted store, an emptied trust bundle, a root
# made again by hand, a trust store edited by hand. With keytool, a third
# personal store is a Java keystore (keystore =, a key entry under an
# alias beside a trusted entry, publish = a web root): every crash state
# must recover for it as for the PEM pairs, judged by keytool and OpenSSL.
# Certificates live ten minutes; time moves with --at; nothing sleeps.
#
# usage: recover.sh PATH-TO-EVERCERT PATH-TO-STORECHECK
set -u
EVC=${1:?usage: recover.sh PATH-TO-EVERCERT PATH-TO-STORECHECK}
EVC=$(cd "$(dirname "$EVC")" && pwd)/$(basename "$EVC")
SC=${2:?usage: recover.sh PATH-TO-EVERCERT PATH-TO-STORECHECK}
SC=$(cd "$(dirname "$SC")" && pwd)/$(basename "$SC")
T=$(mktemp -d /tmp/evc-recover-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
# a checksum of every file, link and mode under a directory
tree() { (cd "$1" && find . -printf '%p %l %m\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }

# All times are offsets from T0, in seconds.
T0=$(date +%s)
at() { date -u -d "@$((T0 + $1))" +%Y-%m-%dT%H:%M:%SZ; }
T1=480  # renew: web and pin (ten minutes, due after five) get successors that start now
T2=590  # activate: after their activate_at (T1 + 108 s), before the old ones end (600)
T3=660  # renew: the old pin has ended and leaves the bundle
cd "$T" || exit 1
KEYTOOL=$(command -v keytool)
[ -n "$KEYTOOL" ] || echo "SKIP (part): keytool is not installed; no keystore store is crashed" >&2

# A root, a chained server certificate, a pinned self-signed one, a bundle
# that trusts both, and the deleted store.
mkdir S0 && (
    cd S0 || exit 1
    "$EVC" ca init --out root --subject "CN=Recover Root,O=evercert" --days 365 --at "$(at 0)" >/dev/null
    "$EVC" issue --ca root --cn web.test --san DNS:web.test --minutes 10 --at "$(at 0)" \
        --out-cert web.crt --out-key web.key >/dev/null
    "$EVC" selfsign --cn pin.test --san DNS:pin.test --minutes 10 --at "$(at 0)" \
        --out-cert pin.crt --out-key pin.key >/dev/null
    cat root/ca.crt pin.crt >bundle.pem
    mkdir deleted www
    if [ -n "$KEYTOOL" ]; then
        "$EVC" issue --ca root --cn ks.test --san DNS:ks.test --minutes 10 --at "$(at 0)" \
            --out-cert ks.crt --out-key ks.key >/dev/null
        openssl pkcs12 -export -in ks.crt -inkey ks.key -name server -out ks.p12 -passout pass:changeit
        keytool -importkeystore -srckeystore ks.p12 -srcstoretype PKCS12 -srcstorepass changeit \
            -destkeystore ks.jks -deststoretype JKS -deststorepass changeit -noprompt >/dev/null 2>&1
        keytool -importcert -noprompt -keystore ks.jks -storepass changeit -alias other -file pin.crt >/dev/null 2>&1
        rm ks.crt ks.key ks.p12
        echo changeit >ks.pass
    fi
    cat >c.ini <<EOF
[policy]
auto_replace = true
delete_old = true
distribution_window = 1h

[monitor]
state = state.db

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = web.crt
key = web.key

[store "pin"]
role = personal
cert = pin.crt
key = pin.key

[store "bundle"]
role = trust
path = bundle.pem
EOF
    [ -z "$KEYTOOL" ] || cat >>c.ini <<EOF

[store "ks"]
role = personal
keystore = ks.jks
password_file = ks.pass
publish = www
EOF
    cat >>c.ini <<EOF

[store "deleted"]
role = deleted
path = deleted
EOF
) || exit 1
cp -a S0 S1 && "$EVC" renew --config S1/c.ini --at "$(at $T1)" >/dev/null 2>&1 || bad "the first renewal failed"
check "both successors are staged" test -e S1/web.crt.next -a -e S1/pin.crt.next
[ -z "$KEYTOOL" ] || check "the keystore's successor is staged and published" cmp S1/ks.jks.sa S1/www/.well-known/evercert/successor
cp -a S1 S2 && "$EVC" activate --config S2/c.ini --at "$(at $T2)" >/dev/null 2>&1 || bad "the activation failed"
check "both successors are live" test ! -e S2/web.crt.next -a ! -e S2/pin.crt.next
ksleaf() { keytool -list -keystore "$1" -storepass changeit -alias server 2>/dev/null | grep 'SHA-256'; }
if [ -n "$KEYTOOL" ]; then
    k0=$(ksleaf S0/ks.jks) k2=$(ksleaf S2/ks.jks)
    check "the keystore's successor is live" test ! -e S2/ks.jks.next -a -n "$k2" -a "$k2" != "$k0"
fi

gen() { # SA: its generation, 0 if none can be read
    if [ -e "$1" ]; then "$EVC" inspect "$1" --format json 2>/dev/null | jq -r '.generation // 0'; else echo 0; fi
}
# settled DIR OFFSET: a valid live pair at T0 + OFFSET, and staged files that are none or a whole set
settled() {
    sd=$1 sat=$((T0 + $2))
    "$SC" pair "$sd/web.crt" "$sd/web.key" pair "$sd/pin.crt" "$sd/pin.key" || { echo "a live pair does not match" >&2; return 1; }
    openssl verify -attime "$sat" -CAfile "$sd/bundle.pem" "$sd/web.crt" "$sd/pin.crt" >/dev/null 2>&1 ||
        { echo "a live certificate is not valid at $(at "$2")" >&2; return 1; }
    for sp in web pin; do
        if [ -e "$sd/$sp.crt.next" ] || [ -e "$sd/$sp.key.next" ]; then
            "$SC" pair "$sd/$sp.crt.next" "$sd/$sp.key.next" sa "$sd/$sp.crt.sa" || { echo "$sp: .next debris" >&2; return 1; }
        fi
    done
    [ -e "$sd/ks.jks" ] || return 0
    if [ -e "$sd/ks.jks.next" ] || [ -e "$sd/ks.jks.key.next" ]; then
        "$SC" pair "$sd/ks.jks.next" "$sd/ks.jks.key.next" sa "$sd/ks.jks.sa" || { echo "ks: .next debris" >&2; return 1; }
    fi
    if [ -e "$sd/ks.jks.sa" ]; then
        cmp -s "$sd/ks.jks.sa" "$sd/www/.well-known/evercert/successor" || { echo "ks: the published SA is not the store's" >&2; return 1; }
    fi
    # The keystore loads whole (digest, key, pair) for evercert; Java's own reading below.
    "$EVC" renew --config "$sd/c.ini" --at "$(at "$2")" --dry-run >/dev/null 2>&1 || { echo "ks: the keystore does not load" >&2; return 1; }
    [ "${JUDGE_JAVA:-0}" = 1 ] || return 0
    rm -f "$T/kx.p12"
    keytool -importkeystore -srckeystore "$sd/ks.jks" -srcstorepass changeit -srcalias server -srckeypass changeit \
        -destkeystore "$T/kx.p12" -deststoretype PKCS12 -deststorepass changeit -noprompt >/dev/null 2>&1 ||
        { echo "ks: keytool cannot read the key entry" >&2; return 1; }
    keytool -list -keystore "$sd/ks.jks" -storepass changeit -alias other >/dev/null 2>&1 || { echo "ks: the trusted entry is gone" >&2; return 1; }
    openssl pkcs12 -in "$T/kx.p12" -passin pass:changeit -clcerts -nokeys -out "$T/kx.crt" 2>/dev/null &&
        openssl pkcs12 -in "$T/kx.p12" -passin pass:changeit -nocerts -nodes -out "$T/kx.key" 2>/dev/null &&
        "$SC" pair "$T/kx.crt" "$T/kx.key" || { echo "ks: the keystore's key is not its certificate's" >&2; return 1; }
    openssl verify -attime "$sat" -CAfile "$sd/bundle.pem" "$T/kx.crt" >/dev/null 2>&1 ||
        { echo "ks: the keystore's certificate is not valid at $(at "$2")" >&2; return 1; }
}

# --- 1. a crash at every step, then any clock ---------------------------------
# EVERCERT_FAULT_AT=N ends the command at its N-th disk-changing step (exit 99).
cases=0 states=0
for phase in renew activate retire; do
    case $phase in
    renew) base=S0 cmd=renew when=$T1 back=120 ;;    # back: the new successors start 6 min later
    activate) base=S1 cmd=activate when=$T2 back=500 ;; # back: before activate_at, after they start
    retire) base=S2 cmd=renew when=$T3 back=500 ;;
    esac
    n=0
    while [ $n -lt 500 ]; do
        n=$((n + 1))
        rm -rf C && cp -a $base C
        EVERCERT_FAULT_AT=$n "$EVC" $cmd --config C/c.ini --at "$(at $when)" >/dev/null 2>&1
        rc=$?
        [ $rc = 0 ] && break # no step $n: the whole command fitted in n-1 steps
        if [ $rc != 99 ]; then bad "$phase: crash at step $n: exit $rc"; break; fi
        states=$((states + 1))
        rm -rf K && mv C K
        g0=$(gen K/web.crt.sa)
        for jump in none old succ days back; do
            case $jump in
            none) t=$when ;;
            old) t=700 ;;     # the old certificates ended at 600, the successors live
            succ) t=1200 ;;   # the successors ended too (at T1 + 600)
            days) t=$((3 * 86400)) ;;
            back) t=$back ;;
            esac
            cases=$((cases + 1))
            rm -rf C && cp -a K C
            if [ $jump = succ ]; then
                # The monitor's pass: its exit status is Nagios's, 3 is a failure.
                "$EVC" monitor --config C/c.ini --once --at "$(at $t)" >"$T/out" 2>"$T/err"
                rc=$?
                [ $rc -lt 3 ] || { bad "$phase step $n, clock $jump: monitor exit $rc: $(tail -1 "$T/err")"; continue; }
            else
                "$EVC" renew --config C/c.ini --at "$(at $t)" >"$T/out" 2>"$T/err" ||
                    { bad "$phase step $n, clock $jump: renew failed: $(cat "$T/err")"; continue; }
            fi
            # Java judges the keystore once per crashed state; evercert's own load every time.
            JUDGE_JAVA=0
            [ $jump != none ] || JUDGE_JAVA=1
            settled C $t || { bad "$phase step $n, clock $jump: not settled"; continue; }
            g1=$(gen C/web.crt.sa)
            [ "$g1" -ge "$g0" ] || { bad "$phase step $n, clock $jump: the SA generation went down ($g0 -> $g1)"; continue; }
            ok
        done
    done
    echo "recover: $phase stopped at $((n - 1)) steps" >&2
    check "$phase has crash points" test $n -gt 2
done
echo "recover: $states crashed states, $cases passes after a clock jump" >&2

# --- 2. a stale successor: the state of the issue ---------------------------------
# Staged at T1, never activated (the monitor was down), and its life ended.
fresh() { rm -rf R && cp -a "$1" R; }
fresh S1
OLDNEXT=$(fp R/web.crt.next)
before=$(tree R)
status "activate with an expired successor" 0 "$EVC" activate --config R/c.ini --at "$(at 1200)"
check "activate says why it does not swap" grep -q "^  web .*stale successor: expired; not swapped" "$T/out"
check "activate does not count it as activated" grep -q "^0 successors activated" "$T/out"
check "activate changed nothing" test "$(tree R)" = "$before"
status "renew with an expired successor" 0 "$EVC" renew --config R/c.ini --at "$(at 1200)" --format json
check "renew says the successor was stale" jq -e '.actions[] | select(.action == "renew" and .store == "web" and .reason == "stale-successor" and (.detail | startswith("stale successor: expired; generation 2")))' "$T/out"
check "the stale successor is in the deleted store" grep -q "reason: stale successor: expired" "R/deleted/$OLDNEXT.pem"
check "a new successor went live at once" settled R 1200
check "the live one is new" test "$(fp R/web.crt)" != "$OLDNEXT"
check "its SA's generation is above the stale one's" test "$(gen R/web.crt.sa)" = 2
# The old pin and the stale one leave the bundle in the next run, as a replaced signer does.
status "the next run" 0 "$EVC" renew --config R/c.ini --at "$(at 1200)"
status "the run after" 0 "$EVC" renew --config R/c.ini --at "$(at 1200)"
check "then there is nothing to do" grep -q "^0 actions" "$T/out"

# Not yet valid: the clock was set back before the successor starts.
fresh S1
status "renew with a successor that starts later" 0 "$EVC" renew --config R/c.ini --at "$(at 60)"
check "it is stale: not yet valid" grep -q "renew  *web  *stale-successor .*stale successor: not yet valid" "$T/out"
check "the new one starts now" openssl verify -attime "$((T0 + 60))" -CAfile R/bundle.pem R/web.crt.next
check "the new one is staged whole" settled R 60
# Still valid at its activation time: activated as always.
fresh S1
status "renew after activate_at" 0 "$EVC" renew --config R/c.ini --at "$(at 700)"
check "a valid successor is activated, not replaced" grep -q "activate  *web  *activate " "$T/out"
check "no stale successor when it is valid" sh -c "! grep -q stale '$T/out'"

# --- 3. .next files that are not a whole set --------------------------------------
"$EVC" selfsign --cn x.test --san DNS:x.test --minutes 10 --out-cert x.crt --out-key x.key >/dev/null
debris() { # DESCRIPTION EXPECTED-DETAIL: renew of R reports and replaces the debris
    status "$1" 0 "$EVC" renew --config R/c.ini --at "$(at 500)"
    check "$1: reported" grep -qF "stale successor: $2" "$T/out"
    check "$1: replaced by a whole set" settled R 500
    check "$1: staged again" test -e R/web.crt.next
}
fresh S1; rm R/web.crt.sa
debris "a successor without its SA" "R/web.crt.next without a readable R/web.crt.sa"
fresh S1; cp x.key R/web.key.next
debris "a successor with another key" "R/web.key.next does not match R/web.crt.next"
fresh S1; rm R/web.key.next
debris "a successor without its key" "R/web.crt.next without R/web.key.next"
fresh S1; rm R/web.crt.next
debris "a key without its successor" "R/web.key.next without R/web.crt.next"
fresh S1; echo garbage >R/web.crt.next
debris "a successor of garbage" "R/web.crt.next cannot be read"
fresh S1; echo garbage >R/web.key.next
debris "a key of garbage" "R/web.key.next cannot be read"
fresh S1; cp R/pin.crt.sa R/web.crt.sa
debris "an SA for another certificate" "R/web.crt.sa announces another certificate than R/web.crt.next"
check "the SA's generation still rises" test "$(gen R/web.crt.sa)" -ge 2
# The lone live key an activation leaves when it stops between its two removals.
fresh S2; cp R/web.key R/web.key.next
status "a lone key.next that is the live key" 0 "$EVC" renew --config R/c.ini --at "$(at 620)"
check "it is reported" grep -q "repair  *web .*web.key.next, the live key, left by an activation that stopped; removed" "$T/out"
check "it is gone" test ! -e R/web.key.next
check "nothing else was renewed" sh -c "! grep -q '^  renew' '$T/out'"

# --- 4. stores changed on disk ------------------------------------------------------
# A root's link file of garbage is no link: ignored, and the run goes on.
fresh S1; echo garbage >R/root/ca.link.crt
status "a link file of garbage" 0 "$EVC" renew --config R/c.ini --at "$(at 700)"
check "the activation went on beside it" settled R 700
# The deleted store's directory was removed.
fresh S1; rm -rf R/deleted
status "a dry run without the deleted store" 0 "$EVC" renew --config R/c.ini --at "$(at 1200)" --dry-run
check "the dry run says it is missing" grep -q "repair  *deleted .*deleted was missing; made again" "$T/out"
check "the dry run made nothing" test ! -e R/deleted
status "a run without the deleted store" 0 "$EVC" renew --config R/c.ini --at "$(at 1200)"
check "the run says it made it again" grep -q "repair  *deleted .*deleted was missing; made again" "$T/out"
check "the deleted store is back, with the stale successor" sh -c "grep -l 'stale successor: expired' R/deleted/*.pem"
check "and the live pair is valid" settled R 1200
# A trust bundle a person emptied: left empty, said, and the run goes on.
fresh S1; : >R/bundle.pem
status "an emptied bundle" 0 "$EVC" renew --config R/c.ini --at "$(at 700)"
check "the report notes it" grep -q "note  *bundle .*bundle.pem holds no certificate; left empty" "$T/out"
check "the note is not work left undone" sh -c "! grep -q 'note .*NOT DONE' '$T/out'"
check "the activation went on" test ! -e R/web.crt.next
check "the bundle stays empty" test ! -s R/bundle.pem
# A signer a person removed: the newest is put back.
fresh S1
awk '/BEGIN/ { n++ } n <= 2' R/bundle.pem >R/b && mv R/b R/bundle.pem
status "the pin successor removed from the bundle" 0 "$EVC" renew --config R/c.ini --at "$(at 500)"
check "it is added back" grep -q "add-signer  *bundle" "$T/out"
check "the bundle trusts the staged successor" openssl verify -attime "$((T0 + 500))" -CAfile R/bundle.pem R/pin.crt.next
# A certificate a person added: kept, and runs go on.
fresh S1; cat x.crt >>R/bundle.pem
status "a certificate added by a person" 0 "$EVC" renew --config R/c.ini --at "$(at 1200)"
check "it is kept" grep -q "$(sed -n 2p x.crt)" R/bundle.pem
check "and the live pair is valid" settled R 1200
# The root made again by hand while a successor waits under the old one.
fresh S1; rm -rf R/root
"$EVC" ca init --out R/root --subject "CN=Recover Root,O=evercert" --days 365 --at "$(at 0)" >/dev/null
OLDNEXT=$(fp R/web.crt.next)
status "a root replaced by hand" 0 "$EVC" renew --config R/c.ini --at "$(at 500)"
check "web is renewed under the new root" grep -q "renew  *web  *root-recreated .*stale successor: signed by a replaced root" "$T/out"
check "the old successor is in the deleted store" grep -q "reason: stale successor: signed by a replaced root" "R/deleted/$OLDNEXT.pem"
check "the new successor chains to the new root" openssl verify -attime "$((T0 + 500))" -CAfile R/root/ca.crt R/web.crt.next
check "the bundle trusts the new root" openssl verify -attime "$((T0 + 500))" -CAfile R/bundle.pem R/web.crt.next

summary recover.sh
