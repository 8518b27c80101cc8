#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Scan speed against two baselines measured in the same run:
#   (a) one process reading the same files with OpenSSL's PEM_read_X509;
#   (b) a shell loop of `openssl x509 -enddate -noout`, on a sample.
# The corpus: 100,000 EC certificates, in 1,000 PEM files of 90 and one
# bundle of 10,000. Then peak memory of a JSON scan of 1,000,000
# certificates (the corpus copied ten times).
#
# usage: bench/scan_bench.sh [BUILD-DIR]     (default: build)
set -eu
B=$(cd "${1:-build}" && pwd)
G=$B/bench
W=$(mktemp -d /tmp/evc-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/c"
now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

echo "making the corpus..." >&2
"$G/gencorpus" "$W/c" 1000 90 10000
total=100001 # and the root in the first file

best() { # best of three runs, seconds
    b=
    for i in 1 2 3; do
        t0=$(now); "$@" >/dev/null; t1=$(now)
        b=$(awk -v a="${b:-1e9}" -v t="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" 'BEGIN { print (t < a ? t : a) }')
    done
    echo "$b"
}
cat "$W"/c/*.pem > /dev/null # warm the page cache
t_scan=$(best sh -c "'$B/evercert' scan --format json '$W/c' >/dev/null; [ \$? -le 2 ]")
t_a=$(best "$G/pem_baseline" "$W"/c/*.pem)
n_b=200
mkdir -p "$W/one"
"$G/pem_baseline" "$W"/c/f0001.pem >/dev/null
i=0
awk -v d="$W/one" '/BEGIN CERT/{n++} n>0 && n<=200 {print > (d "/" n ".pem")}' "$W/c/f0001.pem" "$W/c/f0002.pem" "$W/c/f0003.pem"
t0=$(now)
for f in "$W"/one/*.pem; do openssl x509 -in "$f" -enddate -noout >/dev/null; done
t1=$(now)
t_b=$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')

r_scan=$(rate $total "$t_scan")
r_a=$(rate $total "$t_a")
r_b=$(rate $n_b "$t_b")
printf 'machine: %s cores, %s\n' "$(nproc)" "$(openssl version)"
printf '%-52s %12s %10s\n' "scan of $total certificates (1,001 files)" "certs/s" "vs evercert"
printf '%-52s %12s %10s\n' "evercert scan --format json" "$r_scan" "1.0x"
printf '%-52s %12s %10s\n' "(a) PEM_read_X509 loop, one process" "$r_a" \
    "$(awk -v a="$r_scan" -v b="$r_a" 'BEGIN{printf "%.1fx slower", a/b}')"
printf '%-52s %12s %10s\n' "(b) openssl x509 -enddate -noout loop ($n_b certs)" "$r_b" \
    "$(awk -v a="$r_scan" -v b="$r_b" 'BEGIN{printf "%.0fx slower", a/b}')"

echo "copying to 1,000,000 certificates..." >&2
for k in 1 2 3 4 5 6 7 8 9; do cp -r "$W/c" "$W/c$k"; done
mkdir -p "$W/m" && mv "$W/c" "$W"/c[1-9] "$W/m/"
t0=$(now)
kib=$("$G/peakrss" "$B/evercert" scan --format json "$W/m")
t1=$(now)
mib=$(awk -v k="$kib" 'BEGIN{printf "%.1f", k/1024}')
printf 'json scan of 1,000,010 certificates: peak RSS %s MiB, %s certs/s\n' "$mib" \
    "$(rate 1000010 "$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')")"
