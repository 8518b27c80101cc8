#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The fleet inventory at 1,000,000 certificates across 10,000 hosts, on a
# PostgreSQL started here (lib.sh's pg_start) and on SQLite: write time
# through the upsert path hosts' outboxes are sent by, rows per second,
# the database's size, then `evercert fleet`'s questions (certificates
# expiring within 30 days, every certificate with its host count, one
# host). Baselines in the same run: PostgreSQL's own COPY of the same rows
# (psql \copy into a table like the inventory's, its indexes included)
# and a plain SELECT count(*) over them.
#
# usage: bench/fleet_bench.sh [BUILD-DIR] [HOSTS] [PER-HOST]   (default: build 10000 100)
set -eu
B=$(cd "${1:-build}" && pwd)
HOSTS=${2:-10000}
PER=${3:-100}
T=$(mktemp -d /tmp/evc-fleet-bench-XXXXXX)
. "$(dirname "$0")/../tests/integration/lib.sh"
trap 'pg_stop; rm -rf "$T"' EXIT INT TERM
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
val() { sed -n "s/^$1 //p" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

pg_start
echo "PostgreSQL: $HOSTS hosts x $PER certificates..." >&2
"$B/bench/fleet_bench" "$PGURL" "$HOSTS" "$PER" "$T/rows.csv" >"$T/pg.txt"
pg_sql "CREATE TABLE copy_certs (LIKE fleet_certs INCLUDING ALL)"
t0=$(now)
"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U evercert -d evercert \
    -c "\\copy copy_certs FROM '$T/rows.csv' WITH (FORMAT csv)"
t_copy=$(secs "$t0" "$(now)")
t0=$(now)
n=$(pg_sql "SELECT count(*) FROM fleet_certs")
t_count=$(secs "$t0" "$(now)")
echo "SQLite: $HOSTS hosts x $PER certificates..." >&2
"$B/bench/fleet_bench" "$T/fleet.db" "$HOSTS" "$PER" >"$T/lite.txt"

# The command itself over the whole fleet, as a person runs it: time and peak memory.
t0=$(now)
kib_pg=$("$B/bench/peakrss" "$B/evercert" fleet --state "$PGURL" --at 2030-03-17T00:00:00Z --format json)
t_cmd_pg=$(secs "$t0" "$(now)")
t0=$(now)
kib_lite=$("$B/bench/peakrss" "$B/evercert" fleet --state "$T/fleet.db" --at 2030-03-17T00:00:00Z --format json)
t_cmd_lite=$(secs "$t0" "$(now)")
rows=$(val rows "$T/pg.txt")
echo "fleet inventory: $rows certificate rows on $HOSTS hosts"
printf '%-34s %12s %12s\n' "" PostgreSQL SQLite
for k in write_s rows_per_s db_bytes query_expiring_30d_s query_all_s query_one_host_s; do
    printf '%-34s %12s %12s\n' "$k" "$(val $k "$T/pg.txt")" "$(val $k "$T/lite.txt")"
done
printf '%-34s %12s %12s\n' "evercert fleet --format json (s)" "$t_cmd_pg" "$t_cmd_lite"
printf '%-34s %12s %12s\n' "  its peak memory (KiB)" "$kib_pg" "$kib_lite"
printf 'baseline: PostgreSQL \\copy of the same %s rows: %s s (%s rows/s)\n' "$rows" "$t_copy" \
    "$(awk -v n="$rows" -v t="$t_copy" 'BEGIN { printf "%.0f", n / t }')"
echo "baseline: SELECT count(*) over $n rows: ${t_count} s (psql, connection included)"
echo "ratio: upsert path / COPY on PostgreSQL: $(ratio "$(val write_s "$T/pg.txt")" "$t_copy")x"
echo "ratio: expiring-within-30d query / count(*): $(ratio "$(val query_expiring_30d_s "$T/pg.txt")" "$t_count")x"
