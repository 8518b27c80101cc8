#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Build the libFuzzer targets (tests/fuzz) with clang in build-fuzz and run
# each for a bounded time on a copy of its committed corpus:
#
#   scripts/fuzz.sh [SECONDS]     default 20 s per target
#   FUZZ_TARGETS="sa pem" scripts/fuzz.sh 60
#
# A crash, a leak, a timeout (10 s on one input), an input over 2 GiB of
# memory or a broken property fails the run; the input that did it is kept
# in a directory outside the repository, named in the output. Per target it
# prints the executions, executions per second and the corpus at the end
# (inputs, bytes). Nothing in the repository is written but build-fuzz/.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-20}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
targets=${FUZZ_TARGETS:-$(sed -n 's/^set(EVC_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)}

work=$(mktemp -d "${TMPDIR:-/tmp}/evercert-fuzz.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# libFuzzer comes with clang (Debian: clang and libclang-rt-14-dev).
unavailable() {
    echo "fuzz: $1; libFuzzer is needed (apt-get install clang libclang-rt-14-dev)" >&2
    if [ "${CI:-}" = true ]; then
        exit 1
    fi
    echo "fuzz: skipped (outside CI)" >&2
    exit 0
}
command -v clang >/dev/null || unavailable "no clang"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    >"$work/probe.c"
clang -fsanitize=fuzzer,address,undefined -o "$work/probe" "$work/probe.c" 2>"$work/probe.log" ||
    unavailable "clang cannot link with -fsanitize=fuzzer ($(head -n 1 "$work/probe.log"))"

CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVC_FUZZ=ON -DEVC_WERROR=ON >/dev/null
cmake --build build-fuzz --target fuzz

status=0
passed=0
failed=0
printf '\n%-8s %12s %10s %8s %10s %s\n' target executions execs/s inputs bytes result
for t in $targets; do
    bin=build-fuzz/tests/fuzz/fuzz_$t
    corpus=$work/corpus/$t
    mkdir -p "$corpus" "$work/crashes"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/
    # Leaks are findings; UBSan stops at the first report (built with no recovery).
    rc=0
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/crashes/$t-" "$corpus" >"$work/$t.log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -n 1)
    inputs=$(find "$corpus" -type f | wc -l)
    bytes=$(find "$corpus" -type f -exec cat {} + | wc -c)
    result=ok
    if [ $rc != 0 ]; then
        result="FAILED (exit $rc)"
        status=1
        keep=1
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
    printf '%-8s %12s %10s %8s %10s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$inputs" "$bytes" "$result"
    if [ $rc != 0 ]; then
        grep -E 'ERROR|SUMMARY|property broken|==[0-9]+==|Test unit written' "$work/$t.log" |
            head -n 20 | sed 's/^/    /'
        echo "    log: $work/$t.log; input: $work/crashes/"
    fi
done
[ $status = 0 ] && echo "every target ran ${seconds} s without a finding"
echo "fuzz: $passed passed, $failed failed"
exit $status
