/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet layer's parts as its files share them: schema.c holds the
 * migrations, inventory.c applies one item to an inventory (idempotent
 * upserts, the same SQL on both engines), outbox.c keeps the items that
 * wait in the local state, writer.c is the service's side, query.c and
 * render.c answer `evercert fleet`.
 */
#ifndef EVC_FLEET_INT_H
#define EVC_FLEET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "evercert/fleet.h"

enum item_kind { ITEM_SNAPSHOT = 1, ITEM_EVENT, ITEM_HOLDING };

/*
 * One write for the inventory, as the outbox keeps it and an inventory
 * takes it. Strings are borrowed (from the caller, or from a statement's
 * row until it steps again).
 */
struct item {
    int64_t id; /* the outbox row; 0 when written directly */
    enum item_kind kind;
    const char *host, *service, *version;
    evc_time at;
    const char *uid; /* an event's: unique per host, so a resend is a no-op */
    /* ITEM_SNAPSHOT */
    const char *source;
    const struct evc_fleet_cert *certs;
    size_t ncerts;
    int cut; /* more rows than EVC_FLEET_SNAPSHOT_MAX were offered */
    /*
     * The snapshot's order: its outbox id (id) within the outbox origin,
     * carried when sent; "" and 0 for a direct write, which always applies.
     */
    const char *origin;
    /* ITEM_EVENT and ITEM_HOLDING */
    const char *what, *subject, *old_sha256, *new_sha256, *detail;
    uint64_t generation;
};

/* The inventory's schema (component "fleet") on either engine, and the outbox's (local). */
int evc_fleet_schema(struct evc_db *db, struct evc_err *err);
int evc_fleet_outbox_schema(struct evc_db *db, struct evc_err *err);

/*
 * Apply it to the inventory db inside the caller's transaction:
 * idempotent, so the same item applied twice leaves the rows as once. A
 * snapshot older than the source's last applied one changes nothing.
 * incomplete is the host's standing as the sender knows it (snapshots
 * dropped while waiting), lost the events it had to drop.
 */
int evc_fleet_apply(struct evc_db *db, const struct item *it, struct evc_err *err);
/* A host mark's time that is the database's own clock at the statement. */
#define EVC_FLEET_DB_NOW INT64_MIN
/* The database's clock (seconds since the epoch), one text per engine. */
const char *evc_fleet_now_sql(const struct evc_db *db);
int evc_fleet_db_now(struct evc_db *db, evc_time *now, struct evc_err *err);
int evc_fleet_host_mark(struct evc_db *db, const char *host, const char *service,
                        const char *version, evc_time at, int incomplete, int64_t lost,
                        const char *last_error, struct evc_err *err);
/* Drop events older than cutoff, those of host past EVC_FLEET_EVENTS_PER_HOST_MAX, and hosts
 * (with every row of theirs) not seen since cutoff. */
int evc_fleet_prune(struct evc_db *db, const char *host, evc_time cutoff, struct evc_err *err);

/* The outbox (outbox.c), in the local SQLite state. */
int evc_fleet_outbox_put(struct evc_db *db, const struct item *it, struct evc_err *err);
/* Rows (items plus their certificates) waiting. */
int evc_fleet_outbox_count(struct evc_db *db, size_t *rows, struct evc_err *err);
/* Items (writes: a snapshot, an event, a holding) waiting. */
int evc_fleet_outbox_items(struct evc_db *db, size_t *items, struct evc_err *err);
/*
 * The oldest items, up to EVC_FLEET_BATCH rows (at least one item), each
 * passed to cb with its certificates; *last gets the last id passed.
 */
int evc_fleet_outbox_each(struct evc_db *db, int (*cb)(void *arg, const struct item *it), void *arg,
                          int64_t *last, struct evc_err *err);
/* Delete the items up to id, once sent. */
int evc_fleet_outbox_done(struct evc_db *db, int64_t last, struct evc_err *err);
/* The standing the sender reports: snapshots dropped (sources without a newer one), events lost. */
int evc_fleet_outbox_standing(struct evc_db *db, int *incomplete, int64_t *lost,
                              struct evc_err *err);
/* The link's state as last logged ("" when never), and its new one. */
int evc_fleet_outbox_meta_get(struct evc_db *db, const char *key, char *out, size_t len,
                              struct evc_err *err);
int evc_fleet_outbox_meta_set(struct evc_db *db, const char *key, const char *value,
                              struct evc_err *err);

#endif
