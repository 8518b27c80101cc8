/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's tables (schema in state_int.h). Each function is one
 * statement or one transaction, so a crash leaves either the old or the
 * new row, never a mix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/limits.h"
#include "evercert/state.h"
#include "state/state_int.h"

/* A certificate or an SA: both are capped far below this. */
#define STATE_BLOB_MAX ((size_t)1024 * 1024)

/*
 * The one table of status names, in enum order: the words agent_sas.status
 * has always held, so they are never respelled.
 */
static const char *const sa_status_names[] = {
    [EVC_SA_STATUS_PENDING] = "pending",       [EVC_SA_STATUS_HOLDING] = "holding",
    [EVC_SA_STATUS_APPLYING] = "applying",     [EVC_SA_STATUS_APPLIED] = "applied",
    [EVC_SA_STATUS_REFUSED] = "refused",       [EVC_SA_STATUS_REJECTED] = "rejected",
    [EVC_SA_STATUS_SUPERSEDED] = "superseded",
};
#define SA_STATUS_N (sizeof(sa_status_names) / sizeof(sa_status_names[0]))

const char *
evc_sa_status_name(enum evc_sa_status status)
{
    if ((int)status < 0 || (size_t)status >= SA_STATUS_N) {
        return "unknown";
    }
    return sa_status_names[status];
}

int
evc_sa_status_parse(const char *s, enum evc_sa_status *out)
{
    if (s == NULL) {
        return EVC_ERR_PARSE;
    }
    for (size_t k = 0; k < SA_STATUS_N; k++) {
        if (strcmp(s, sa_status_names[k]) == 0) {
            *out = (enum evc_sa_status)k;
            return 0;
        }
    }
    return EVC_ERR_PARSE;
}

void
evc_agent_server_clear(struct evc_agent_server *s)
{
    evc_buf_free(&s->trusted);
    evc_buf_free(&s->successor);
    memset(s, 0, sizeof(*s));
}

void
evc_agent_sa_clear(struct evc_agent_sa *a)
{
    evc_buf_free(&a->der);
    memset(a, 0, sizeof(*a));
}

static int
prepare(struct evc_state *st, const char *sql, sqlite3_stmt **q, struct evc_err *err)
{
    return sqlite3_prepare_v2(st->db, sql, -1, q, NULL) == SQLITE_OK ? 0 : db_err(st, err, sql);
}

/* Run a prepared statement that returns no rows, and finalize it. */
static int
done(struct evc_state *st, sqlite3_stmt *q, struct evc_err *err)
{
    int rc = sqlite3_step(q);

    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_err(st, err, "write");
}

static int
blob(sqlite3_stmt *q, int i, struct evc_buf *out, struct evc_err *err)
{
    const void *p = sqlite3_column_blob(q, i);
    int n = sqlite3_column_bytes(q, i);

    int r;

    evc_buf_reset(out);
    if (p != NULL && n > 0 && (r = evc_buf_put(out, p, (size_t)n)) != 0) {
        return evc_err_set(err, r, "a stored value of %d bytes: %s", n, evc_strerror(r));
    }
    return 0;
}

int
evc_state_agent_server(struct evc_state *st, const char *server, struct evc_agent_server *out,
                       struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, r = 0;

    memset(out, 0, sizeof(*out));
    evc_buf_init(&out->trusted, STATE_BLOB_MAX);
    evc_buf_init(&out->successor, STATE_BLOB_MAX);
    if ((r = prepare(st,
                     "SELECT generation, sa_sha256, trusted, successor, activate_at"
                     " FROM agent_servers WHERE server = ?",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        out->generation = (uint64_t)sqlite3_column_int64(q, 0);
        snprintf(out->sa_sha256, sizeof(out->sa_sha256), "%s", col(q, 1));
        out->activate_at = sqlite3_column_int64(q, 4);
        if ((r = blob(q, 2, &out->trusted, err)) == 0) {
            r = blob(q, 3, &out->successor, err);
        }
    } else if (rc != SQLITE_DONE) {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    return r;
}

int
evc_state_agent_trusted(struct evc_state *st, const char *server, const uint8_t *der, size_t len,
                        struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r;

    if ((r = prepare(st,
                     "INSERT INTO agent_servers(server, trusted) VALUES(?1, ?2)"
                     " ON CONFLICT(server) DO UPDATE SET trusted = ?2",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, der, (int)len, SQLITE_STATIC);
    return done(st, q, err);
}

static const char sa_columns[] = "SELECT id, server, sha256, generation, der, source, first_seen,"
                                 " last_seen, status, reason FROM agent_sas";

static int
sa_row(struct evc_state *st, sqlite3_stmt *q, struct evc_agent_sa *a, struct evc_err *err)
{
    a->id = sqlite3_column_int64(q, 0);
    snprintf(a->server, sizeof(a->server), "%s", col(q, 1));
    snprintf(a->sha256, sizeof(a->sha256), "%s", col(q, 2));
    a->generation = (uint64_t)sqlite3_column_int64(q, 3);
    snprintf(a->source, sizeof(a->source), "%s", col(q, 5));
    a->first_seen = sqlite3_column_int64(q, 6);
    a->last_seen = sqlite3_column_int64(q, 7);
    if (evc_sa_status_parse(col(q, 8), &a->status) != 0) {
        /* Written by another program, or a newer evercert: never guessed at. */
        return evc_err_set(err, EVC_ERR_PARSE,
                           "%s: announcement %lld has an unknown status \"%.32s\"", st->path,
                           (long long)a->id, col(q, 8));
    }
    snprintf(a->reason, sizeof(a->reason), "%s", col(q, 9));
    return blob(q, 4, &a->der, err);
}

static int
sa_by(struct evc_state *st, const char *where, int64_t id, const char *server, const char *sha,
      struct evc_agent_sa *out, struct evc_err *err)
{
    char sql[512];
    sqlite3_stmt *q = NULL;
    int rc, r;

    snprintf(sql, sizeof(sql), "%s WHERE %s", sa_columns, where);
    if ((r = prepare(st, sql, &q, err)) != 0) {
        return r;
    }
    if (server != NULL) {
        sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, sha, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(q, 1, id);
    }
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        r = sa_row(st, q, out, err);
    } else if (rc == SQLITE_DONE) {
        r = evc_err_set(err, EVC_ERR_NOENT, "%s: no such announcement", st->path);
    } else {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    return r;
}

int
evc_state_agent_sa_get(struct evc_state *st, int64_t id, struct evc_agent_sa *out,
                       struct evc_err *err)
{
    evc_buf_init(&out->der, STATE_BLOB_MAX);
    return sa_by(st, "id = ?1", id, NULL, NULL, out, err);
}

int
evc_state_agent_sa_seen(struct evc_state *st, const char *server, const char *sha256hex,
                        uint64_t generation, const uint8_t *der, size_t len, const char *source,
                        evc_time now, enum evc_sa_status status, struct evc_agent_sa *out,
                        int *is_new, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r;

    *is_new = 0;
    evc_buf_init(&out->der, STATE_BLOB_MAX);
    if ((r = prepare(st,
                     "INSERT OR IGNORE INTO agent_sas(server, sha256, generation, der, source,"
                     " first_seen, last_seen, status) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, sha256hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)generation);
    sqlite3_bind_blob(q, 4, der, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, now);
    sqlite3_bind_text(q, 7, evc_sa_status_name(status), -1, SQLITE_STATIC);
    if ((r = done(st, q, err)) != 0) {
        return r;
    }
    *is_new = sqlite3_changes(st->db) == 1;
    if (!*is_new) {
        if ((r = prepare(st,
                         "UPDATE agent_sas SET last_seen = ?3 WHERE server = ?1 AND sha256 = ?2",
                         &q, err)) != 0) {
            return r;
        }
        sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, sha256hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now);
        if ((r = done(st, q, err)) != 0) {
            return r;
        }
    }
    return sa_by(st, "server = ?1 AND sha256 = ?2", 0, server, sha256hex, out, err);
}

int
evc_keep_next(struct evc_keep *k, size_t size)
{
    /* Subtraction form: bytes never passes max_bytes, so max_bytes - bytes cannot wrap. */
    if (k->full || k->rows >= k->max_rows || size > k->max_bytes - k->bytes) {
        k->full = 1;
        return 0;
    }
    k->rows++;
    k->bytes += size;
    return 1;
}

/* Drop the server's refused rows that do not fit the caps: one pass, newest first. */
static int
refused_trim(struct evc_state *st, const struct evc_agent_refusal *rf, struct evc_err *err)
{
    struct evc_keep k = {rf->max_rows, rf->max_bytes, 0, 0, 0};
    sqlite3_stmt *q = NULL;
    int64_t cut_seen = 0, cut_id = 0;
    int rc, r, cut = 0;

    if ((r = prepare(st,
                     "SELECT id, last_seen, length(der) FROM agent_sas"
                     " WHERE server = ?1 AND status = ?2 ORDER BY last_seen DESC, id DESC",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, rf->server, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, evc_sa_status_name(EVC_SA_STATUS_REFUSED), -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!evc_keep_next(&k, (size_t)sqlite3_column_int64(q, 2))) {
            cut_id = sqlite3_column_int64(q, 0);
            cut_seen = sqlite3_column_int64(q, 1);
            cut = 1;
            break;
        }
    }
    if (!cut && rc != SQLITE_DONE) {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    if (r != 0 || !cut) {
        return r;
    }
    /* This row and every one after it in that order. */
    if ((r = prepare(st,
                     "DELETE FROM agent_sas WHERE server = ?1 AND status = ?4"
                     " AND (last_seen < ?2 OR (last_seen = ?2 AND id <= ?3))",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, rf->server, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, evc_sa_status_name(EVC_SA_STATUS_REFUSED), -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, cut_seen);
    sqlite3_bind_int64(q, 3, cut_id);
    return done(st, q, err);
}

int
evc_state_agent_refused(struct evc_state *st, const struct evc_agent_refusal *rf, int64_t *id,
                        int *is_new, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, r;

    *id = 0;
    *is_new = 0;
    if ((r = exec(st, "BEGIN IMMEDIATE", err)) != 0) {
        return r;
    }
    if ((r = prepare(st, "SELECT id FROM agent_sas WHERE server = ? AND sha256 = ?", &q, err)) !=
        0) {
        goto fail;
    }
    sqlite3_bind_text(q, 1, rf->server, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, rf->sha256hex, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
    } else if (rc != SQLITE_DONE) {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    if (r != 0) {
        goto fail;
    }
    if (*id != 0) {
        /* The same bytes again: counted by the caller, not stored again. */
        /* Unchanged within the second: no page is written, so the commit costs no sync. */
        if ((r = prepare(st,
                         "UPDATE agent_sas SET last_seen = ?2 WHERE id = ?1 AND last_seen <> ?2",
                         &q, err)) != 0) {
            goto fail;
        }
        sqlite3_bind_int64(q, 1, *id);
        sqlite3_bind_int64(q, 2, rf->now);
    } else {
        if ((r = prepare(st,
                         "INSERT INTO agent_sas(server, sha256, generation, der, source,"
                         " first_seen, last_seen, status, reason)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?8, ?7)",
                         &q, err)) != 0) {
            goto fail;
        }
        sqlite3_bind_text(q, 1, rf->server, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, rf->sha256hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)rf->generation);
        sqlite3_bind_blob(q, 4, rf->der, (int)rf->len, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, rf->source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 6, rf->now);
        sqlite3_bind_text(q, 7, rf->reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 8, evc_sa_status_name(EVC_SA_STATUS_REFUSED), -1, SQLITE_STATIC);
    }
    if ((r = done(st, q, err)) != 0) {
        goto fail;
    }
    /* Only a new row can take the server past a cap. */
    if (*id == 0) {
        *id = sqlite3_last_insert_rowid(st->db);
        *is_new = 1;
        if ((r = refused_trim(st, rf, err)) != 0) {
            goto fail;
        }
    }
    return exec(st, "COMMIT", err);
fail:
    *id = 0;
    *is_new = 0;
    exec(st, "ROLLBACK", NULL);
    return r;
}

int
evc_state_agent_sa_status(struct evc_state *st, int64_t id, enum evc_sa_status status,
                          const char *reason, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r;

    if ((r = prepare(st, "UPDATE agent_sas SET status = ?2, reason = ?3 WHERE id = ?1", &q, err)) !=
        0) {
        return r;
    }
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, evc_sa_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
    return done(st, q, err);
}

int
evc_state_agent_sa_each(struct evc_state *st, const char *server, enum evc_sa_status status,
                        int (*cb)(void *arg, const struct evc_agent_sa *a), void *arg,
                        struct evc_err *err)
{
    char sql[512];
    sqlite3_stmt *q = NULL;
    struct evc_agent_sa a;
    int rc, r;

    snprintf(sql, sizeof(sql),
             "%s WHERE (?1 IS NULL OR server = ?1) AND (?2 IS NULL OR status = ?2)"
             " ORDER BY id",
             sa_columns);
    if ((r = prepare(st, sql, &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
    if (status != EVC_SA_STATUS_ANY) {
        sqlite3_bind_text(q, 2, evc_sa_status_name(status), -1, SQLITE_STATIC);
    }
    memset(&a, 0, sizeof(a));
    evc_buf_init(&a.der, STATE_BLOB_MAX);
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if ((r = sa_row(st, q, &a, err)) == 0) {
            r = cb(arg, &a);
        }
    }
    if (r == 0 && rc != SQLITE_DONE) {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    evc_agent_sa_clear(&a);
    return r;
}

int
evc_state_agent_applied(struct evc_state *st, const struct evc_agent_applied *a,
                        struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r;

    if ((r = exec(st, "BEGIN IMMEDIATE", err)) != 0) {
        return r;
    }
    if ((r = prepare(st,
                     "INSERT INTO agent_servers(server, generation, sa_sha256, successor,"
                     " activate_at) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(server) DO UPDATE SET"
                     " generation = ?2, sa_sha256 = ?3, successor = ?4, activate_at = ?5",
                     &q, err)) != 0) {
        goto fail;
    }
    sqlite3_bind_text(q, 1, a->server, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)a->generation);
    sqlite3_bind_text(q, 3, a->sa_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, a->successor, (int)a->successor_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, a->activate_at);
    if ((r = done(st, q, err)) != 0 ||
        (r = evc_state_agent_sa_status(st, a->sa_id, EVC_SA_STATUS_APPLIED, NULL, err)) != 0) {
        goto fail;
    }
    if (a->retire != NULL) {
        if ((r = prepare(st,
                         "INSERT OR REPLACE INTO agent_retire(server, sha256, der, not_after)"
                         " VALUES(?, ?, ?, ?)",
                         &q, err)) != 0) {
            goto fail;
        }
        sqlite3_bind_text(q, 1, a->server, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, a->retire_sha256, -1, SQLITE_STATIC);
        sqlite3_bind_blob(q, 3, a->retire, (int)a->retire_len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, a->retire_at);
        if ((r = done(st, q, err)) != 0) {
            goto fail;
        }
    }
    return exec(st, "COMMIT", err);
fail:
    exec(st, "ROLLBACK", NULL);
    return r;
}

int
evc_state_agent_activated(struct evc_state *st, const char *server, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r;

    if ((r = prepare(st,
                     "UPDATE agent_servers SET trusted = successor, successor = NULL,"
                     " activate_at = 0 WHERE server = ? AND successor IS NOT NULL",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
    return done(st, q, err);
}

int
evc_state_agent_retire_due(struct evc_state *st, evc_time now,
                           int (*cb)(void *arg, const char *server, const char *sha256hex,
                                     const uint8_t *der, size_t len),
                           void *arg, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, r;

    if ((r = prepare(st,
                     "SELECT server, sha256, der FROM agent_retire WHERE not_after <= ?"
                     " ORDER BY not_after",
                     &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_int64(q, 1, now);
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        r = cb(arg, col(q, 0), col(q, 1), sqlite3_column_blob(q, 2),
               (size_t)sqlite3_column_bytes(q, 2));
    }
    if (r == 0 && rc != SQLITE_DONE) {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    return r;
}

int
evc_state_agent_retired(struct evc_state *st, const char *server, const char *sha256hex,
                        struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r;

    if ((r = prepare(st, "DELETE FROM agent_retire WHERE server = ? AND sha256 = ?", &q, err)) !=
        0) {
        return r;
    }
    sqlite3_bind_text(q, 1, server, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, sha256hex, -1, SQLITE_STATIC);
    return done(st, q, err);
}

int
evc_state_agent_retire_next(struct evc_state *st, evc_time *next, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, r;

    *next = 0;
    if ((r = prepare(st, "SELECT min(not_after) FROM agent_retire", &q, err)) != 0) {
        return r;
    }
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        *next = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : db_err(st, err, "read");
}

int
evc_state_agent_event(struct evc_state *st, const struct evc_agent_event *e, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    /* A rule's rejections are what a hostile peer can make many of: keep the newest. */
    int trim =
        strcmp(e->event, "reject") == 0 && (e->reason == NULL || strcmp(e->reason, "person"));
    int r;

    if (trim && (r = exec(st, "BEGIN IMMEDIATE", err)) != 0) {
        return r;
    }
    if ((r = prepare(st,
                     "INSERT INTO agent_events(at, server, event, reason, sa, generation, source,"
                     " detail) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                     &q, err)) != 0) {
        goto out;
    }
    sqlite3_bind_int64(q, 1, e->at);
    sqlite3_bind_text(q, 2, e->server, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, e->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, e->reason, -1, SQLITE_STATIC);
    if (e->sa_id != 0) {
        sqlite3_bind_int64(q, 5, e->sa_id);
    }
    sqlite3_bind_int64(q, 6, (sqlite3_int64)e->generation);
    sqlite3_bind_text(q, 7, e->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, e->detail, -1, SQLITE_STATIC);
    if ((r = done(st, q, err)) != 0 || !trim) {
        goto out;
    }
    if ((r = prepare(st,
                     "DELETE FROM agent_events WHERE server = ?1 AND event = 'reject'"
                     " AND coalesce(reason, '') <> 'person' AND id <= (SELECT id FROM agent_events"
                     " WHERE server = ?1 AND event = 'reject' AND coalesce(reason, '') <> 'person'"
                     " ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                     &q, err)) != 0) {
        goto out;
    }
    sqlite3_bind_text(q, 1, e->server, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, EVC_AGENT_REJECT_EVENTS_MAX);
    if ((r = done(st, q, err)) == 0) {
        return exec(st, "COMMIT", err);
    }
out:
    if (trim) {
        exec(st, r == 0 ? "COMMIT" : "ROLLBACK", NULL);
    }
    return r;
}

int
evc_state_agent_events(struct evc_state *st, int (*cb)(void *arg, const struct evc_agent_event *e),
                       void *arg, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    struct evc_agent_event e;
    int rc, r;

    if ((r = prepare(st,
                     "SELECT at, server, event, reason, sa, generation, source, detail"
                     " FROM agent_events ORDER BY id",
                     &q, err)) != 0) {
        return r;
    }
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        e.at = sqlite3_column_int64(q, 0);
        e.server = col(q, 1);
        e.event = col(q, 2);
        e.reason = col(q, 3);
        e.sa_id = sqlite3_column_int64(q, 4);
        e.generation = (uint64_t)sqlite3_column_int64(q, 5);
        e.source = col(q, 6);
        e.detail = col(q, 7);
        r = cb(arg, &e);
    }
    if (r == 0 && rc != SQLITE_DONE) {
        r = db_err(st, err, "read");
    }
    sqlite3_finalize(q);
    return r;
}

int
evc_state_agent_told(struct evc_state *st, const char *key, char *out, size_t len,
                     struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, r;

    out[0] = '\0';
    if ((r = prepare(st, "SELECT status FROM notices WHERE sha256 = ?", &q, err)) != 0) {
        return r;
    }
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        snprintf(out, len, "%s", col(q, 0));
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(st, err, "read");
}
