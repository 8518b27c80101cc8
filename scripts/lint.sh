#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Checks CI runs on the sources: formatting per .clang-format, no call to
# the functions our style bans (unbounded or error-blind), and the layers.
set -eu
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]')
if command -v clang-format >/dev/null; then
    for f in $files; do
        clang-format --dry-run -Werror "$f" 2>/dev/null || { echo "lint: $f: not formatted (clang-format -i $f)"; status=1; }
    done
fi
# shellcheck disable=SC2086
if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)\s*\(' $files; then
    echo "lint: banned function used (see STYLE: strcpy, sprintf, atoi, strtok, ...)"
    status=1
fi
# The layer table; its symbol half runs in ctest (lint/layers) once objects exist.
./scripts/layers.sh "${1:-build}" || status=1
[ $status = 0 ] && echo "lint: ok"
exit $status
