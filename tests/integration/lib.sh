# SPDX-License-Identifier: Apache-2.0
#
# What the integration scripts share: counting checks, waiting for a line
# with a bound, fingerprints. Sourced; T (the script's temporary
# directory) must be set for status().

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: the command succeeds
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok; else bad "$d"; fi; }
# status DESCRIPTION WANT COMMAND...: the command exits WANT; its output in $T/out and $T/err
status() {
    d=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$d: exit $got, want $want"; cat "$T/err" >&2; fi
}
# wait_for FILE TEXT SECONDS: until FILE holds TEXT (bounded)
wait_for() {
    i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    grep -qF -- "$2" "$1" 2>/dev/null
}
# fp FILE: the SHA-256 fingerprint of the first certificate in FILE, lower-case hex
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
# summary NAME: the closing line, and the exit status
summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
