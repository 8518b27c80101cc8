#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Shared stores: the lease and a successor's publication and fetch, against
# a plain SELECT round trip in the same run, on a PostgreSQL the script
# starts (loopback, as tests/integration/lib.sh starts it) and on SQLite.
#
# usage: bench/shared_bench.sh [BUILD-DIR [N]]     (default: build 1000)
set -eu
B=$(cd "${1:-build}" && pwd)
N=${2:-1000}
. "$(dirname "$0")/../tests/integration/lib.sh"
W=$(mktemp -d /tmp/evc-sharedbench-XXXXXX)
trap 'pg_stop; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP PIPE
pg_start
"$B/bench/shared_bench" "$PGURL" "$N"
echo
"$B/bench/shared_bench" "$W/bench.db" "$N"
