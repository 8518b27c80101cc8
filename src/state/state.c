/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite state. Every change is one transaction in WAL-less rollback
 * journal mode with synchronous=FULL: SQLite's own atomic, durable commit.
 * A database that fails quick_check is reported, never recreated: it may
 * be the only record of what was replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "evercert/state.h"
#include "base/text.h"

#include "state/state_int.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, started INTEGER NOT NULL,"
    " finished INTEGER NOT NULL, trigger TEXT NOT NULL, status INTEGER NOT NULL, message TEXT);"
    "CREATE TABLE IF NOT EXISTS replacements(run INTEGER NOT NULL REFERENCES runs(id),"
    " at INTEGER NOT NULL, action TEXT NOT NULL, store TEXT NOT NULL, reason TEXT,"
    " old_sha256 TEXT, new_sha256 TEXT, detail TEXT);"
    "CREATE TABLE IF NOT EXISTS notices(sha256 TEXT PRIMARY KEY, status TEXT NOT NULL,"
    " at INTEGER NOT NULL);" EVC_STATE_AGENT_SCHEMA;

int
evc_state_db_err(struct evc_state *st, struct evc_err *err, const char *what)
{
    int rc = sqlite3_errcode(st->db);
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)      ? EVC_ERR_BUSY
               : (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) ? EVC_ERR_PARSE
                                                               : EVC_ERR_IO;

    return evc_err_set(err, code, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

int
evc_state_exec(struct evc_state *st, const char *sql, struct evc_err *err)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_err(st, err, sql);
}

void
evc_state_close(struct evc_state *st)
{
    if (st == NULL) {
        return;
    }
    sqlite3_close(st->db);
    if (st->lockfd != -1) {
        close(st->lockfd);
    }
    free(st->path);
    free(st);
}

static int
check(struct evc_state *st, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int r = 0;

    if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL) != SQLITE_OK) {
        return db_err(st, err, "cannot read it");
    }
    if (sqlite3_step(q) != SQLITE_ROW) {
        r = db_err(st, err, "cannot read it");
    } else if (strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0) {
        r = evc_err_set(err, EVC_ERR_PARSE,
                        "%s: corrupt (%s); it is not replaced: move it away to start afresh",
                        st->path, (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    return r;
}

int
evc_state_open(const char *path, int exclusive, struct evc_state **out, struct evc_err *err)
{
    struct evc_state *st = calloc(1, sizeof(*st));
    char lock[4096];
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    st->lockfd = -1;
    if (exclusive) {
        /* A lock file beside the database: SQLite's own locks are per transaction. */
        snprintf(lock, sizeof(lock), "%s.lock", path);
        if ((st->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
            r = evc_err_set(err, EVC_ERR_IO, "%s: %s", lock, strerror(errno));
            goto out;
        }
        if (flock(st->lockfd, LOCK_EX | LOCK_NB) == -1) {
            r = evc_err_set(err, EVC_ERR_BUSY, "%s: another evercert is running on this state",
                            path);
            goto out;
        }
    }
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        r = db_err(st, err, "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(st->db, 2000);
    if ((r = check(st, err)) != 0 || (r = exec(st, "PRAGMA synchronous=FULL", err)) != 0 ||
        (r = exec(st, schema, err)) != 0) {
        goto out;
    }
    *out = st;
    st = NULL;
    r = 0;
out:
    evc_state_close(st);
    return r;
}

static int
meta_get(struct evc_state *st, const char *key, char *out, size_t len, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    out[0] = '\0';
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        return db_err(st, err, "read");
    }
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(st, err, "read");
}

static int
meta_set(struct evc_state *st, const char *key, const char *value, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &q,
                           NULL) != SQLITE_OK) {
        return db_err(st, err, "write");
    }
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_err(st, err, "write");
}

int
evc_state_next_get(struct evc_state *st, evc_time *next, char *schedule, size_t len,
                   struct evc_err *err)
{
    char v[64];
    int r;

    *next = 0;
    if ((r = meta_get(st, "next_start", v, sizeof(v), err)) != 0 ||
        (r = meta_get(st, "schedule", schedule, len, err)) != 0) {
        return r;
    }
    *next = strtoll(v, NULL, 10);
    return 0;
}

int
evc_state_next_set(struct evc_state *st, evc_time next, const char *schedule, struct evc_err *err)
{
    char v[32];
    int r;

    snprintf(v, sizeof(v), "%lld", (long long)next);
    if ((r = exec(st, "BEGIN IMMEDIATE", err)) != 0) {
        return r;
    }
    if ((r = meta_set(st, "next_start", v, err)) != 0 ||
        (r = meta_set(st, "schedule", schedule, err)) != 0) {
        exec(st, "ROLLBACK", NULL);
        return r;
    }
    return exec(st, "COMMIT", err);
}

int
evc_state_wake_set(struct evc_state *st, evc_time wake, const char *why, struct evc_err *err)
{
    char v[64 + 256];

    snprintf(v, sizeof(v), "%lld %.255s", (long long)wake, why);
    return meta_set(st, "next_wake", v, err);
}

int
evc_state_wake_get(struct evc_state *st, evc_time *wake, char *why, size_t len, struct evc_err *err)
{
    char v[64 + 256], *sp;
    int r;

    *wake = 0;
    why[0] = '\0';
    if ((r = meta_get(st, "next_wake", v, sizeof(v), err)) != 0) {
        return r;
    }
    *wake = strtoll(v, &sp, 10);
    snprintf(why, len, "%s", *sp == ' ' ? sp + 1 : "");
    return 0;
}

static void
bind_hex(sqlite3_stmt *q, int col, int has, const uint8_t *fp)
{
    char hex[65];

    if (!has) {
        sqlite3_bind_null(q, col);
        return;
    }
    evc_text_hex(fp, 32, hex);
    sqlite3_bind_text(q, col, hex, -1, SQLITE_TRANSIENT);
}

int
evc_state_record_run(struct evc_state *st, const struct evc_run_record *run,
                     const struct evc_renew_result *res, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    sqlite3_int64 id;
    int r;

    if ((r = exec(st, "BEGIN IMMEDIATE", err)) != 0) {
        return r;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO runs(started, finished, trigger, status, message)"
                           " VALUES(?, ?, ?, ?, ?)",
                           -1, &q, NULL) != SQLITE_OK) {
        r = db_err(st, err, "write");
        goto fail;
    }
    sqlite3_bind_int64(q, 1, run->started);
    sqlite3_bind_int64(q, 2, run->finished);
    sqlite3_bind_text(q, 3, run->trigger, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, run->status);
    if (run->message != NULL) {
        sqlite3_bind_text(q, 5, run->message, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(q) != SQLITE_DONE) {
        r = db_err(st, err, "write");
        goto fail;
    }
    sqlite3_finalize(q);
    q = NULL;
    id = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; res != NULL && i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];

        if (!a->done) {
            continue;
        }
        if (sqlite3_prepare_v2(st->db,
                               "INSERT INTO replacements(run, at, action, store, reason,"
                               " old_sha256, new_sha256, detail) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &q, NULL) != SQLITE_OK) {
            r = db_err(st, err, "write");
            goto fail;
        }
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, run->finished);
        sqlite3_bind_text(q, 3, a->action, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, a->store, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, a->reason, -1, SQLITE_STATIC);
        bind_hex(q, 6, a->has_old, a->old_sha256);
        bind_hex(q, 7, a->has_new, a->new_sha256);
        sqlite3_bind_text(q, 8, a->detail, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) {
            r = db_err(st, err, "write");
            goto fail;
        }
        sqlite3_finalize(q);
        q = NULL;
    }
    return exec(st, "COMMIT", err);
fail:
    sqlite3_finalize(q);
    exec(st, "ROLLBACK", NULL);
    return r;
}

static int
count(struct evc_state *st, const char *sql, int64_t *out, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    *out = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        return db_err(st, err, "read");
    }
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : db_err(st, err, "read");
}

int
evc_state_totals(struct evc_state *st, int64_t *renewals, int64_t *run_errors, struct evc_err *err)
{
    int r;

    if ((r = count(st,
                   "SELECT count(*) FROM replacements WHERE action IN ('renew','recreate-root')",
                   renewals, err)) != 0) {
        return r;
    }
    return count(st, "SELECT count(*) FROM runs WHERE status >= 3", run_errors, err);
}

int
evc_state_notice_changed(struct evc_state *st, const char *sha256hex, const char *status,
                         int *changed, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    *changed = 1;
    if (sqlite3_prepare_v2(st->db, "SELECT status FROM notices WHERE sha256 = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        return db_err(st, err, "read");
    }
    sqlite3_bind_text(q, 1, sha256hex, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        *changed = strcmp((const char *)sqlite3_column_text(q, 0), status) != 0;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(st, err, "read");
}

int
evc_state_notice_set(struct evc_state *st, const char *sha256hex, const char *status, evc_time now,
                     struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO notices(sha256, status, at) VALUES(?, ?, ?)", -1,
                           &q, NULL) != SQLITE_OK) {
        return db_err(st, err, "write");
    }
    sqlite3_bind_text(q, 1, sha256hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_err(st, err, "write");
}

const char *
evc_state_col(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    return t != NULL ? (const char *)t : "";
}

int
evc_state_history(struct evc_state *st, const struct evc_history_cb *cb, struct evc_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, r = 0;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, started, finished, trigger, status, message FROM runs"
                           " ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK) {
        return db_err(st, err, "read");
    }
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        r = cb->run(cb->arg, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                    sqlite3_column_int64(q, 2), col(q, 3), sqlite3_column_int(q, 4), col(q, 5));
    }
    sqlite3_finalize(q);
    if (r != 0) {
        return r;
    }
    if (sqlite3_prepare_v2(st->db,
                           "SELECT run, at, action, store, reason, old_sha256, new_sha256, detail"
                           " FROM replacements ORDER BY rowid",
                           -1, &q, NULL) != SQLITE_OK) {
        return db_err(st, err, "read");
    }
    while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        r = cb->action(cb->arg, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1), col(q, 2),
                       col(q, 3), col(q, 4), col(q, 5), col(q, 6), col(q, 7));
    }
    sqlite3_finalize(q);
    return r;
}
