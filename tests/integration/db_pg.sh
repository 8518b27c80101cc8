#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The database interface's unit checks on a real PostgreSQL, started here:
# the same checks unit/db runs on SQLite.
#   db_pg.sh DB_TEST
set -u
TEST=$1
T=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
trap 'pg_stop; rm -rf "$T"' EXIT INT TERM
pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
EVC_TEST_PGURL=$PGURL "$TEST"
