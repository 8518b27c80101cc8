/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lease of a shared store: one row per store naming the host that
 * renews it, until when, and a fencing token raised at every new holding.
 * Taking it is one UPDATE whose WHERE says "it has lapsed, or it is still
 * mine under my token", so of two hosts racing exactly one wins, in either
 * engine (PostgreSQL locks the row and evaluates the WHERE again after a
 * concurrent update). A holder that stopped is replaced once its until
 * passes; whatever it still tries to publish carries the old token, and
 * the publication (shared.c) checks it.
 *
 * Times are the database's clock (evc_lease_db_now), never a host's: a
 * host whose clock runs ahead, or a run moved in time with --at, would
 * otherwise take a live lease, and hold it until a skewed until_at.
 */
#include <stdio.h>
#include <string.h>

#include "evercert/shared.h"
#include "db/db.h"

/* The database's time, one text per engine. */
static const char sql_now_sqlite[] = "SELECT CAST(strftime('%s', 'now') AS INTEGER)";
static const char sql_now_pg[] = "SELECT EXTRACT(EPOCH FROM statement_timestamp())::bigint";
static const char sql_first[] = "INSERT INTO leases (name, holder, until_at, token) "
                                "VALUES (?1, '', 0, 0) ON CONFLICT (name) DO NOTHING";
/* ?1 store, ?2 host, ?3 now, ?4 period, ?5 the token this host holds (0: none). */
static const char sql_take[] =
    "UPDATE leases SET token = CASE WHEN holder = ?2 AND token = ?5 AND until_at >= ?3 "
    "THEN token ELSE token + 1 END, holder = ?2, until_at = ?3 + ?4 "
    "WHERE name = ?1 AND (until_at < ?3 OR (holder = ?2 AND token = ?5))";
static const char sql_read[] = "SELECT holder, until_at, token FROM leases WHERE name = ?1";
static const char sql_release[] =
    "UPDATE leases SET until_at = 0 WHERE name = ?1 AND holder = ?2 AND token = ?3";

/* Run q to its end and finalize it; *changes (may be NULL) gets the rows it changed. */
static int
finish(struct evc_db_stmt *q, int bound, int64_t *changes, struct evc_err *err)
{
    int r;

    if (!bound) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "lease: cannot bind");
    } else if ((r = evc_db_step(q, err)) >= 0) {
        if (changes != NULL) {
            *changes = evc_db_changes(q);
        }
        r = 0;
    }
    evc_db_finalize(q);
    return r;
}

int
evc_lease_db_now(struct evc_db *db, evc_time *now, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    *now = 0;
    if ((r = evc_db_prepare(db, evc_db_engine_of(db) == EVC_DB_PG ? sql_now_pg : sql_now_sqlite, &q,
                            err)) != 0) {
        return r;
    }
    if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        *now = evc_db_col_int64(q, 0);
        r = *now > 0 ? 0 : evc_err_set(err, EVC_ERR_INTERNAL, "the database has no time");
    } else if (r >= 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "the database has no time");
    }
    evc_db_finalize(q);
    return r;
}

int
evc_lease_take(struct evc_db *db, const char *store, const char *host, evc_time now, int64_t period,
               struct evc_lease *out, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int64_t mine = out->held ? out->token : 0, changed = 0;
    int r, began = 0;

    memset(out, 0, sizeof(*out));
    if (strlen(host) > EVC_SHARED_HOST_MAX || period <= 0) {
        return evc_err_set(err, EVC_ERR_USAGE,
                           "lease: a host name of at most %d bytes and a "
                           "period are needed",
                           EVC_SHARED_HOST_MAX);
    }
    if ((r = evc_db_begin(db, err)) != 0) {
        return r;
    }
    began = 1;
    if ((r = evc_db_prepare(db, sql_first, &q, err)) != 0 ||
        (r = finish(q, evc_db_bind_text(q, 1, store) == 0, NULL, err)) != 0) {
        q = NULL;
        goto out;
    }
    if ((r = evc_db_prepare(db, sql_take, &q, err)) != 0 ||
        (r = finish(q,
                    evc_db_bind_text(q, 1, store) == 0 && evc_db_bind_text(q, 2, host) == 0 &&
                        evc_db_bind_int64(q, 3, now) == 0 && evc_db_bind_int64(q, 4, period) == 0 &&
                        evc_db_bind_int64(q, 5, mine) == 0,
                    &changed, err)) != 0) {
        q = NULL;
        goto out;
    }
    if ((r = evc_db_prepare(db, sql_read, &q, err)) != 0) {
        goto out;
    }
    if (evc_db_bind_text(q, 1, store) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "lease: cannot bind");
        goto out;
    }
    if ((r = evc_db_step(q, err)) != EVC_DB_ROW) {
        r = r < 0 ? r : evc_err_set(err, EVC_ERR_INTERNAL, "lease of %s: no row", store);
        goto out;
    }
    snprintf(out->holder, sizeof(out->holder), "%.*s", EVC_SHARED_HOST_MAX, evc_db_col_text(q, 0));
    out->until = evc_db_col_int64(q, 1);
    out->token = evc_db_col_int64(q, 2);
    out->held = changed == 1;
    evc_db_finalize(q);
    q = NULL;
    if ((r = evc_db_commit(db, err)) != 0) {
        began = 0;
        memset(out, 0, sizeof(*out));
        goto out;
    }
    began = 0;
    r = 0;
out:
    evc_db_finalize(q);
    if (began) {
        evc_db_rollback(db);
    }
    return r;
}

int
evc_lease_release(struct evc_db *db, const char *store, const char *host, int64_t token,
                  struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db, sql_release, &q, err)) != 0) {
        return r;
    }
    return finish(q,
                  evc_db_bind_text(q, 1, store) == 0 && evc_db_bind_text(q, 2, host) == 0 &&
                      evc_db_bind_int64(q, 3, token) == 0,
                  NULL, err);
}
