#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# NSS databases: one certificate added and removed through evercert (as
# the agent does it, the database opened and closed for each change)
# against NSS's certutil -A and -D, in the same run, with 10, 100 and
# 1,000 foreign entries in the database.
#
# usage: bench/nss_bench.sh [BUILD-DIR [ROUNDS]]     (default: build 20)
set -eu
B=$(cd "${1:-build}" && pwd)
R=${2:-20}
command -v certutil >/dev/null || { echo "nss_bench: certutil is not installed (libnss3-tools)" >&2; exit 1; }
W=$(mktemp -d /tmp/evc-nssbench-XXXXXX)
trap 'rm -rf "$W"' EXIT
for n in 10 100 1000; do
    "$B/bench/nss_bench" "$W/db$n" "$n" "$R"
done
