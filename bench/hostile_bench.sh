#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# What hostile input costs `evercert scan`, against the baseline measured in
# the same run: a file of the same size full of ordinary certificates. Each
# hostile shape is a file of SIZE MiB (default 16) that once cost a
# quadratic reader minutes; a linear reader reads it at about the speed of
# the baseline or faster (the ratio is hostile MB/s over baseline MB/s).
# The PKCS#12 line compares a file whose MAC asks for 2^31-1 iterations
# with the same file at OpenSSL's default count.
#
# usage: bench/hostile_bench.sh [BUILD-DIR] [SIZE-MIB]
set -eu
B=$(cd "${1:-build}" && pwd)
MIB=${2:-16}
W=$(mktemp -d /tmp/evc-hostile-XXXXXX)
trap 'rm -rf "$W"' EXIT
now() { date +%s.%N; }
size=$((MIB * 1024 * 1024))

# fill FILE with PIECE repeated up to exactly $size bytes
fill() {
    printf '%s' "$2" >"$W/piece"
    n=$((size / $(wc -c <"$W/piece") + 1))
    awk -v n="$n" 'BEGIN { RS = "\001" } { for (i = 0; i < n; i++) printf "%s", $0 }' "$W/piece" |
        head -c "$size" >"$1"
}
# seconds for one scan of FILE (the exit status says what the scan found; any is fine here)
timed() {
    t0=$(now)
    "$B/evercert" scan --format json "$@" >/dev/null 2>&1 || true
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

echo "making ${MIB} MiB inputs..." >&2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/k.pem" \
    -subj /CN=bench -days 30 -out "$W/c.pem" 2>/dev/null
fill "$W/normal.pem" "$(cat "$W/c.pem")
"
letters=$(printf '%065d' 0 | tr 0 A)
fill "$W/label.pem" "-----BEGIN $letters"
fill "$W/begins.pem" "-----BEGIN CERTIFICATE-----
"
fill "$W/dashes.pem" "-----BEGIN X-----
----------"
fill "$W/keys.pem" "-----BEGIN RSA PRIVATE KEY-----
AAAA
"
openssl pkcs12 -export -in "$W/c.pem" -inkey "$W/k.pem" -passout pass:x -out "$W/ok.p12" 2>/dev/null
# The MAC's 8-byte salt and count 2048 become 6 bytes and 0x7fffffff: the same length.
perl -0777 -pe 's/\x04\x08(.{6}).{2}\x02\x02\x08\x00\z/\x04\x06$1\x02\x04\x7f\xff\xff\xff/s or die "no MAC count\n"' \
    "$W/ok.p12" >"$W/slow.p12"
base=$(timed "$W/normal.pem")
printf 'machine: %s cores, %s\n' "$(nproc)" "$(openssl version)"
printf '%-58s %9s %9s %8s\n' "input (${MIB} MiB each)" "seconds" "MB/s" "ratio"
line() { awk -v n="$1" -v t="$2" -v b="$base" -v s="$size" \
    'BEGIN { printf "%-58s %9.3f %9.1f %7.2fx\n", n, t, s / 1e6 / t, (s / t) / (s / b) }'; }
line "baseline: ordinary certificates, one PEM bundle" "$base"
line "'-----BEGIN ' and 65 letters, no newline, repeated" "$(timed "$W/label.pem")"
line "'-----BEGIN CERTIFICATE-----' lines, no END" "$(timed "$W/begins.pem")"
line "BEGIN X then runs of dashes, no END" "$(timed "$W/dashes.pem")"
line "unterminated RSA key blocks" "$(timed "$W/keys.pem")"
export EVC_BENCH_PW=x
pb=$(timed --password-env EVC_BENCH_PW "$W/ok.p12")
ps=$(timed --password-env EVC_BENCH_PW "$W/slow.p12")
awk -v a="$pb" -v b="$ps" 'BEGIN { printf "%-58s %9.3f (a file at the default count: %.3f s)\n", "PKCS#12 with a MAC count of 2^31-1", b, a }'
