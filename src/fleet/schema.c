/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inventory's tables and the outbox's, as numbered migrations. The
 * inventory's SQL is the same on both engines (BIGINT and TEXT only); the
 * outbox lives only in a host's SQLite state. Every table is prefixed
 * fleet_ because, on a host alone, the inventory shares the state file with
 * the monitor's and the agent's own tables.
 *
 * What bounds them: certs holds each host's current view only (a snapshot
 * replaces the source's rows), events are pruned past [fleet] keep and
 * past EVC_FLEET_EVENTS_PER_HOST_MAX per host, holdings is one row per
 * agent host and server, and a host not seen for keep goes with its rows.
 */
#include "fleet/fleet_int.h"

static const struct evc_db_migration inventory[] = {
    {1,
     "CREATE TABLE fleet_hosts(host TEXT NOT NULL, service TEXT NOT NULL,"
     " version TEXT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
     " last_error TEXT NOT NULL, incomplete BIGINT NOT NULL, lost BIGINT NOT NULL,"
     " PRIMARY KEY(host, service));"
     "CREATE INDEX fleet_hosts_seen ON fleet_hosts(last_seen);"
     "CREATE TABLE fleet_sources(host TEXT NOT NULL, source TEXT NOT NULL,"
     " seen_at BIGINT NOT NULL, cut BIGINT NOT NULL, PRIMARY KEY(host, source));"
     "CREATE TABLE fleet_certs(host TEXT NOT NULL, source TEXT NOT NULL,"
     " location TEXT NOT NULL, sha256 TEXT NOT NULL, subject TEXT NOT NULL,"
     " issuer TEXT NOT NULL, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,"
     " status TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, seen_at BIGINT NOT NULL,"
     " PRIMARY KEY(host, source, location, sha256));"
     "CREATE INDEX fleet_certs_sha256 ON fleet_certs(sha256);"
     "CREATE INDEX fleet_certs_after ON fleet_certs(not_after);"
     "CREATE TABLE fleet_events(host TEXT NOT NULL, uid TEXT NOT NULL, at BIGINT NOT NULL,"
     " what TEXT NOT NULL, subject TEXT NOT NULL, old_sha256 TEXT NOT NULL,"
     " new_sha256 TEXT NOT NULL, generation BIGINT NOT NULL, detail TEXT NOT NULL,"
     " PRIMARY KEY(host, uid));"
     "CREATE INDEX fleet_events_at ON fleet_events(at);"
     "CREATE INDEX fleet_events_host_at ON fleet_events(host, at);"
     "CREATE TABLE fleet_holdings(host TEXT NOT NULL, server TEXT NOT NULL,"
     " generation BIGINT NOT NULL, sha256 TEXT NOT NULL, at BIGINT NOT NULL,"
     " PRIMARY KEY(host, server));"
     "CREATE INDEX fleet_holdings_server ON fleet_holdings(server, generation);",
     NULL},
    /* A snapshot's order is its sender's outbox sequence, not a clock that may be off. */
    {2,
     "ALTER TABLE fleet_sources ADD COLUMN origin TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE fleet_sources ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;",
     NULL},
};

static const struct evc_db_migration outbox[] = {
    {1,
     "CREATE TABLE fleet_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL,"
     " host TEXT NOT NULL, service TEXT NOT NULL, version TEXT NOT NULL, at INTEGER NOT NULL,"
     " uid TEXT NOT NULL, source TEXT NOT NULL, cut INTEGER NOT NULL, what TEXT NOT NULL,"
     " subject TEXT NOT NULL, old_sha256 TEXT NOT NULL, new_sha256 TEXT NOT NULL,"
     " generation INTEGER NOT NULL, detail TEXT NOT NULL, ncerts INTEGER NOT NULL);"
     "CREATE INDEX fleet_outbox_source ON fleet_outbox(kind, source);"
     "CREATE TABLE fleet_outbox_certs(box INTEGER NOT NULL, seq INTEGER NOT NULL,"
     " location TEXT NOT NULL, sha256 TEXT NOT NULL, subject TEXT NOT NULL,"
     " issuer TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
     " status TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,"
     " PRIMARY KEY(box, seq));"
     "CREATE TABLE fleet_outbox_dropped(source TEXT PRIMARY KEY);"
     "CREATE TABLE fleet_outbox_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
     NULL},
};

int
evc_fleet_schema(struct evc_db *db, struct evc_err *err)
{
    return evc_db_migrate(db, "fleet", inventory, sizeof(inventory) / sizeof(inventory[0]), err);
}

int
evc_fleet_outbox_schema(struct evc_db *db, struct evc_err *err)
{
    return evc_db_migrate(db, "outbox", outbox, sizeof(outbox) / sizeof(outbox[0]), err);
}
