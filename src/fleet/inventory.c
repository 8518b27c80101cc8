/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying one item to an inventory, on either engine, inside the caller's
 * transaction. Every statement is an idempotent upsert, so an outbox batch
 * sent again after a crash between the database's commit and the outbox's
 * delete leaves the inventory as it was: an event is keyed by its host and
 * a uid made when it happened, a snapshot replaces its source's rows (and
 * one older than the source's last is ignored), a holding keeps the newest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/limits.h"
#include "fleet/fleet_int.h"

/*
 * Certificate rows per INSERT: two rows of 12 values stay within the 32
 * parameters a statement of the db layer takes.
 */
#define CHUNK 2
#define CERT_COLS 12

static const char *
nz(const char *s)
{
    return s != NULL ? s : "";
}

const char *
evc_fleet_now_sql(const struct evc_db *db)
{
    return evc_db_engine_of(db) == EVC_DB_PG ? "EXTRACT(EPOCH FROM statement_timestamp())::bigint"
                                             : "CAST(strftime('%s','now') AS INTEGER)";
}

int
evc_fleet_db_now(struct evc_db *db, evc_time *now, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    char sql[128];
    int r;

    *now = 0;
    snprintf(sql, sizeof(sql), "SELECT %s", evc_fleet_now_sql(db));
    if ((r = evc_db_prepare(db, sql, &q, err)) != 0) {
        return r;
    }
    if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        *now = evc_db_col_int64(q, 0);
    }
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_host_mark(struct evc_db *db, const char *host, const char *service, const char *version,
                    evc_time at, int incomplete, int64_t lost, const char *last_error,
                    struct evc_err *err)
{
    static const char fmt[] =
        "INSERT INTO fleet_hosts(host, service, version, first_seen, last_seen, last_error,"
        " incomplete, lost) VALUES(?1, ?2, ?3, %s, %s, ?4, ?5, ?6)"
        " ON CONFLICT(host, service) DO UPDATE SET version = excluded.version,"
        " first_seen = CASE WHEN excluded.first_seen < fleet_hosts.first_seen"
        " THEN excluded.first_seen ELSE fleet_hosts.first_seen END,"
        " last_seen = CASE WHEN excluded.last_seen > fleet_hosts.last_seen"
        " THEN excluded.last_seen ELSE fleet_hosts.last_seen END,"
        " last_error = excluded.last_error, incomplete = excluded.incomplete,"
        " lost = excluded.lost";
    struct evc_db_stmt *q = NULL;
    /* The time last, so the database's clock leaves no gap in the parameters. */
    const char *t = at == EVC_FLEET_DB_NOW ? evc_fleet_now_sql(db) : "?7";
    char sql[sizeof(fmt) + 128];
    int r;

    snprintf(sql, sizeof(sql), fmt, t, t);
    if ((r = evc_db_prepare(db, sql, &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, host);
    evc_db_bind_text(q, 2, service);
    evc_db_bind_text(q, 3, nz(version));
    evc_db_bind_text(q, 4, nz(last_error));
    evc_db_bind_int64(q, 5, incomplete);
    evc_db_bind_int64(q, 6, lost);
    if (at != EVC_FLEET_DB_NOW) {
        evc_db_bind_int64(q, 7, at);
    }
    r = evc_db_step(q, err);
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

/* INSERT of n certificate rows: the SQL text for n, built once per size. */
static int
certs_sql(size_t n, char *out, size_t len)
{
    size_t used;
    int k;

    k = snprintf(out, len,
                 "INSERT INTO fleet_certs(host, source, location, sha256, subject, issuer,"
                 " not_before, not_after, status, kind, detail, seen_at) VALUES");
    if (k < 0 || (size_t)k >= len) {
        return -1;
    }
    used = (size_t)k;
    for (size_t i = 0; i < n; i++) {
        size_t b = i * CERT_COLS;

        k = snprintf(out + used, len - used,
                     "%s(?%zu,?%zu,?%zu,?%zu,?%zu,?%zu,?%zu,?%zu,?%zu,?%zu,?%zu,?%zu)",
                     i > 0 ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8,
                     b + 9, b + 10, b + 11, b + 12);
        if (k < 0 || (size_t)k >= len - used) {
            return -1;
        }
        used += (size_t)k;
    }
    /* Only a row twice in one snapshot can conflict (the source's rows were deleted). */
    k = snprintf(out + used, len - used, " ON CONFLICT DO NOTHING");
    return k < 0 || (size_t)k >= len - used ? -1 : 0;
}

static int
insert_certs(struct evc_db *db, const struct item *it, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    size_t qn = 0;
    char *sql = NULL;
    int r = 0;

    if ((sql = malloc(CHUNK * 64 + 512)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    for (size_t at = 0; at < it->ncerts; at += CHUNK) {
        size_t n = it->ncerts - at < CHUNK ? it->ncerts - at : CHUNK;

        if (q == NULL || qn != n) {
            evc_db_finalize(q);
            q = NULL;
            if (certs_sql(n, sql, CHUNK * 64 + 512) != 0) {
                r = evc_err_set(err, EVC_ERR_INTERNAL, "certificate insert too long");
                goto out;
            }
            if ((r = evc_db_prepare(db, sql, &q, err)) != 0) {
                goto out;
            }
            qn = n;
        } else {
            evc_db_reset(q);
        }
        for (size_t i = 0; i < n; i++) {
            const struct evc_fleet_cert *c = &it->certs[at + i];
            int b = (int)(i * CERT_COLS);

            evc_db_bind_text(q, b + 1, it->host);
            evc_db_bind_text(q, b + 2, it->source);
            evc_db_bind_text(q, b + 3, nz(c->location));
            evc_db_bind_text(q, b + 4, nz(c->sha256));
            evc_db_bind_text(q, b + 5, nz(c->subject));
            evc_db_bind_text(q, b + 6, nz(c->issuer));
            evc_db_bind_int64(q, b + 7, c->not_before);
            evc_db_bind_int64(q, b + 8, c->not_after);
            evc_db_bind_text(q, b + 9, nz(c->status));
            evc_db_bind_text(q, b + 10, nz(c->kind));
            evc_db_bind_text(q, b + 11, nz(c->detail));
            if (evc_db_bind_int64(q, b + 12, it->at) != 0) {
                r = evc_err_set(err, EVC_ERR_INTERNAL, "fleet: a certificate row cannot be bound");
                goto out;
            }
        }
        if ((r = evc_db_step(q, err)) < 0) {
            goto out;
        }
        r = 0;
    }
out:
    evc_db_finalize(q);
    free(sql);
    return r;
}

static int
apply_snapshot(struct evc_db *db, const struct item *it, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    /*
     * A snapshot older than the one applied (a late resend) changes nothing:
     * older by its sender's outbox sequence, never by a host's clock, which
     * may have been ahead. Another origin (a state made anew) applies.
     */
    if ((r = evc_db_prepare(db,
                            "INSERT INTO fleet_sources(host, source, seen_at, cut, origin, seq)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(host, source) DO UPDATE"
                            " SET seen_at = excluded.seen_at, cut = excluded.cut,"
                            " origin = excluded.origin, seq = excluded.seq"
                            " WHERE fleet_sources.origin <> excluded.origin"
                            " OR fleet_sources.seq <= excluded.seq",
                            &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, it->host);
    evc_db_bind_text(q, 2, it->source);
    evc_db_bind_int64(q, 3, it->at);
    evc_db_bind_int64(q, 4, it->cut);
    evc_db_bind_text(q, 5, nz(it->origin));
    evc_db_bind_int64(q, 6, it->origin != NULL && it->origin[0] != '\0' ? it->id : 0);
    if ((r = evc_db_step(q, err)) < 0) {
        goto out;
    }
    if (evc_db_changes(q) == 0) {
        r = 0;
        goto out;
    }
    evc_db_finalize(q);
    q = NULL;
    if ((r = evc_db_prepare(db, "DELETE FROM fleet_certs WHERE host = ?1 AND source = ?2", &q,
                            err)) != 0) {
        goto out;
    }
    evc_db_bind_text(q, 1, it->host);
    evc_db_bind_text(q, 2, it->source);
    if ((r = evc_db_step(q, err)) < 0) {
        goto out;
    }
    r = insert_certs(db, it, err);
out:
    evc_db_finalize(q);
    return r;
}

static int
apply_event(struct evc_db *db, const struct item *it, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db,
                            "INSERT INTO fleet_events(host, uid, at, what, subject, old_sha256,"
                            " new_sha256, generation, detail)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                            " ON CONFLICT(host, uid) DO NOTHING",
                            &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, it->host);
    evc_db_bind_text(q, 2, it->uid);
    evc_db_bind_int64(q, 3, it->at);
    evc_db_bind_text(q, 4, nz(it->what));
    evc_db_bind_text(q, 5, nz(it->subject));
    evc_db_bind_text(q, 6, nz(it->old_sha256));
    evc_db_bind_text(q, 7, nz(it->new_sha256));
    evc_db_bind_int64(q, 8, (int64_t)it->generation);
    evc_db_bind_text(q, 9, nz(it->detail));
    r = evc_db_step(q, err);
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

static int
apply_holding(struct evc_db *db, const struct item *it, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db,
                            "INSERT INTO fleet_holdings(host, server, generation, sha256, at)"
                            " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(host, server) DO UPDATE"
                            " SET generation = excluded.generation, sha256 = excluded.sha256,"
                            " at = excluded.at WHERE fleet_holdings.at <= excluded.at",
                            &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, it->host);
    evc_db_bind_text(q, 2, nz(it->subject));
    evc_db_bind_int64(q, 3, (int64_t)it->generation);
    evc_db_bind_text(q, 4, nz(it->new_sha256));
    evc_db_bind_int64(q, 5, it->at);
    r = evc_db_step(q, err);
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_apply(struct evc_db *db, const struct item *it, struct evc_err *err)
{
    switch (it->kind) {
    case ITEM_SNAPSHOT:
        return apply_snapshot(db, it, err);
    case ITEM_EVENT:
        return apply_event(db, it, err);
    case ITEM_HOLDING:
        return apply_holding(db, it, err);
    default:
        return evc_err_set(err, EVC_ERR_INTERNAL, "fleet: an item of kind %d", (int)it->kind);
    }
}

/*
 * Run sql with its parameters: text ?1 when t1 is not NULL, then the
 * integer (?2, or ?1 without text) when nint.
 */
static int
run2(struct evc_db *db, const char *sql, const char *t1, int nint, int64_t i2, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db, sql, &q, err)) != 0) {
        return r;
    }
    if (t1 != NULL) {
        evc_db_bind_text(q, 1, t1);
    }
    if (nint) {
        evc_db_bind_int64(q, t1 != NULL ? 2 : 1, i2);
    }
    r = evc_db_step(q, err);
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_prune(struct evc_db *db, const char *host, evc_time cutoff, struct evc_err *err)
{
    static const char *const gone[] = {
        "DELETE FROM fleet_certs WHERE host = ?1",    "DELETE FROM fleet_sources WHERE host = ?1",
        "DELETE FROM fleet_holdings WHERE host = ?1", "DELETE FROM fleet_events WHERE host = ?1",
        "DELETE FROM fleet_hosts WHERE host = ?1",
    };
    struct evc_db_stmt *q = NULL;
    char names[16][EVC_FLEET_HOST_MAX + 1];
    size_t n = 0;
    int r;

    if ((r = run2(db, "DELETE FROM fleet_events WHERE at < ?1", NULL, 1, cutoff, err)) != 0 ||
        (r = run2(db,
                  "DELETE FROM fleet_events WHERE host = ?1 AND at < (SELECT at FROM fleet_events"
                  " WHERE host = ?1 ORDER BY at DESC LIMIT 1 OFFSET ?2)",
                  host, 1, EVC_FLEET_EVENTS_PER_HOST_MAX, err)) != 0) {
        return r;
    }
    /* Hosts gone for longer than keep, a few at a time, so a prune stays short. */
    if ((r = evc_db_prepare(db,
                            "SELECT host FROM fleet_hosts GROUP BY host"
                            " HAVING max(last_seen) < ?1 ORDER BY host LIMIT 16",
                            &q, err)) != 0) {
        return r;
    }
    evc_db_bind_int64(q, 1, cutoff);
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW && n < 16) {
        snprintf(names[n++], sizeof(names[0]), "%s", evc_db_col_text(q, 0));
    }
    evc_db_finalize(q);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(gone) / sizeof(gone[0]); k++) {
            if ((r = run2(db, gone[k], names[i], 0, 0, err)) != 0) {
                return r;
            }
        }
    }
    return 0;
}
