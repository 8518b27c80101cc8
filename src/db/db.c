/* SPDX-License-Identifier: Apache-2.0 */
/* The interface over both engines, the placeholder rewrite and the migrations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db/db_int.h"

int
evc_db_is_url(const char *s)
{
    return s != NULL &&
           (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

/*
 * Only what names the place: user, host, port and database, as libpq
 * itself parses the URL (a password may hide in the user part, in
 * password=, in a percent-escaped key; none of it is copied). A URL libpq
 * cannot parse is not echoed at all.
 */
void
evc_db_redact(const char *target, char *out, size_t len)
{
    const char *user = "", *host = "", *port = "", *dbname = "";
    PQconninfoOption *opts;
    char *why = NULL;

    if (len == 0) {
        return;
    }
    if (!evc_db_is_url(target)) {
        snprintf(out, len, "%s", target);
        return;
    }
    if ((opts = PQconninfoParse(target, &why)) == NULL) {
        PQfreemem(why); /* it may quote the password */
        snprintf(out, len, "postgresql://(a URL libpq cannot read)");
        return;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = o->val != NULL ? o->val : "";

        if (strcmp(o->keyword, "user") == 0) {
            user = v;
        } else if (strcmp(o->keyword, "host") == 0) {
            host = v;
        } else if (strcmp(o->keyword, "port") == 0) {
            port = v;
        } else if (strcmp(o->keyword, "dbname") == 0) {
            dbname = v;
        }
    }
    snprintf(out, len, "postgresql://%s%s%s%s%s/%s", user, *user != '\0' ? "@" : "", host,
             *port != '\0' ? ":" : "", port, dbname);
    PQconninfoFree(opts);
}

int
evc_db_pg_sql(const char *sql, char *out, size_t len)
{
    char quote = 0;
    size_t o = 0;

    for (const char *p = sql; *p != '\0'; p++) {
        char c = *p;

        if (quote != 0) {
            quote = c == quote ? 0 : quote;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '?' && p[1] >= '0' && p[1] <= '9') {
            c = '$';
        }
        if (o + 1 >= len) {
            return -1;
        }
        out[o++] = c;
    }
    if (len == 0) {
        return -1;
    }
    out[o] = '\0';
    return 0;
}

int
evc_db_open(const char *target, const struct evc_db_opts *o, struct evc_db **out,
            struct evc_err *err)
{
    struct evc_db *db = calloc(1, sizeof(*db));
    int r;

    *out = NULL;
    if (db == NULL || (db->target = strdup(target)) == NULL ||
        (o != NULL && o->password != NULL && (db->password = strdup(o->password)) == NULL)) {
        evc_db_close(db);
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    evc_db_redact(target, db->name, sizeof(db->name));
    db->connect_timeout = o != NULL && o->connect_timeout > 0 ? o->connect_timeout : 10;
    db->statement_ms = o != NULL && o->statement_ms > 0 ? o->statement_ms : 30000;
    if (evc_db_is_url(target)) {
        db->engine = EVC_DB_PG;
        r = evc_db_pg_open(db, err);
    } else {
        db->engine = EVC_DB_SQLITE;
        r = evc_db_lite_open(db, o, err);
    }
    if (r != 0) {
        evc_db_close(db);
        return r;
    }
    *out = db;
    return 0;
}

void
evc_db_close(struct evc_db *db)
{
    if (db == NULL) {
        return;
    }
    sqlite3_close(db->lite);
    if (db->pg != NULL) {
        PQfinish(db->pg);
    }
    if (db->password != NULL) {
        OPENSSL_cleanse(db->password, strlen(db->password));
    }
    free(db->password);
    if (db->target != NULL) {
        OPENSSL_cleanse(db->target, strlen(db->target)); /* a URL may hold a password */
    }
    free(db->target);
    free(db);
}

enum evc_db_engine
evc_db_engine_of(const struct evc_db *db)
{
    return db->engine;
}

const char *
evc_db_name(const struct evc_db *db)
{
    return db->name;
}

enum evc_db_fault
evc_db_fault(const struct evc_db *db)
{
    return db->fault;
}

/* A lost PostgreSQL connection is opened again between transactions, never inside one. */
static int
ready(struct evc_db *db, struct evc_err *err)
{
    db->fault = EVC_DB_FAULT_NONE;
    if (db->engine == EVC_DB_PG && !db->in_tx && PQstatus(db->pg) != CONNECTION_OK) {
        return evc_db_pg_open(db, err);
    }
    return 0;
}

int
evc_db_exec(struct evc_db *db, const char *sql, struct evc_err *err)
{
    int r;

    if ((r = ready(db, err)) != 0) {
        return r;
    }
    if (db->engine == EVC_DB_PG) {
        return evc_db_pg_exec(db, sql, err);
    }
    return sqlite3_exec(db->lite, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : evc_db_lite_err(db, err, "cannot run a statement");
}

int
evc_db_begin(struct evc_db *db, struct evc_err *err)
{
    int r = evc_db_exec(db, db->engine == EVC_DB_PG ? "BEGIN" : "BEGIN IMMEDIATE", err);

    db->in_tx = r == 0;
    return r;
}

int
evc_db_commit(struct evc_db *db, struct evc_err *err)
{
    int r = evc_db_exec(db, "COMMIT", err);

    if (r != 0) {
        evc_db_rollback(db);
    }
    db->in_tx = 0;
    return r;
}

void
evc_db_rollback(struct evc_db *db)
{
    enum evc_db_fault f = db->fault;

    if (db->engine == EVC_DB_PG) {
        PQclear(PQexec(db->pg, "ROLLBACK"));
    } else {
        sqlite3_exec(db->lite, "ROLLBACK", NULL, NULL, NULL);
    }
    db->in_tx = 0;
    db->fault = f; /* the fault is the one that made the caller roll back */
}

int
evc_db_prepare(struct evc_db *db, const char *sql, struct evc_db_stmt **out, struct evc_err *err)
{
    struct evc_db_stmt *q;
    size_t n = strlen(sql) + 1;
    int r;

    *out = NULL;
    if ((r = ready(db, err)) != 0) {
        return r;
    }
    if ((q = calloc(1, sizeof(*q))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    q->db = db;
    if (db->engine == EVC_DB_PG) {
        /* ?N -> $N never lengthens the text. */
        if ((q->sql = malloc(n)) == NULL || evc_db_pg_sql(sql, q->sql, n) != 0) {
            evc_db_finalize(q);
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
    } else if (sqlite3_prepare_v2(db->lite, sql, -1, &q->lite, NULL) != SQLITE_OK) {
        r = evc_db_lite_err(db, err, "cannot prepare a statement");
        evc_db_finalize(q);
        return r;
    }
    *out = q;
    return 0;
}

/* PostgreSQL parameters: a copy of each value, in text, or binary for a blob. */
static int
pg_bind(struct evc_db_stmt *q, int i, const void *p, size_t len, int binary)
{
    if (i < 1 || i > EVC_DB_PARAMS_MAX) {
        return EVC_ERR_USAGE;
    }
    free(q->vals[i - 1]);
    q->vals[i - 1] = NULL;
    if (p != NULL) {
        if ((q->vals[i - 1] = malloc(len + 1)) == NULL) {
            return EVC_ERR_NOMEM;
        }
        memcpy(q->vals[i - 1], p, len);
        q->vals[i - 1][len] = '\0';
    }
    q->lens[i - 1] = (int)len;
    q->fmts[i - 1] = binary;
    if (i > q->nparams) {
        q->nparams = i;
    }
    return 0;
}

int
evc_db_bind_int64(struct evc_db_stmt *q, int i, int64_t v)
{
    char s[24];

    if (q->db->engine == EVC_DB_SQLITE) {
        return sqlite3_bind_int64(q->lite, i, v) == SQLITE_OK ? 0 : EVC_ERR_USAGE;
    }
    snprintf(s, sizeof(s), "%lld", (long long)v);
    return pg_bind(q, i, s, strlen(s), 0);
}

int
evc_db_bind_text(struct evc_db_stmt *q, int i, const char *s)
{
    if (q->db->engine == EVC_DB_SQLITE) {
        return sqlite3_bind_text(q->lite, i, s, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0
                                                                                   : EVC_ERR_USAGE;
    }
    return pg_bind(q, i, s, s != NULL ? strlen(s) : 0, 0);
}

int
evc_db_bind_blob(struct evc_db_stmt *q, int i, const void *p, size_t len)
{
    if (len > (size_t)0x7fffffff) {
        return EVC_ERR_LIMIT;
    }
    if (q->db->engine == EVC_DB_SQLITE) {
        return sqlite3_bind_blob(q->lite, i, len > 0 ? p : "", (int)len, SQLITE_TRANSIENT) ==
                       SQLITE_OK
                   ? 0
                   : EVC_ERR_USAGE;
    }
    return pg_bind(q, i, len > 0 ? p : "", len, 1);
}

int
evc_db_bind_null(struct evc_db_stmt *q, int i)
{
    if (q->db->engine == EVC_DB_SQLITE) {
        return sqlite3_bind_null(q->lite, i) == SQLITE_OK ? 0 : EVC_ERR_USAGE;
    }
    return pg_bind(q, i, NULL, 0, 0);
}

int
evc_db_step(struct evc_db_stmt *q, struct evc_err *err)
{
    int rc;

    q->db->fault = EVC_DB_FAULT_NONE;
    if (q->db->engine == EVC_DB_PG) {
        return evc_db_pg_step(q, err);
    }
    rc = sqlite3_step(q->lite);
    if (rc == SQLITE_ROW) {
        return EVC_DB_ROW;
    }
    if (rc == SQLITE_DONE) {
        q->changes = sqlite3_changes(q->db->lite);
        return EVC_DB_DONE;
    }
    return evc_db_lite_err(q->db, err, "cannot run a statement");
}

static int
pg_has(struct evc_db_stmt *q, int i)
{
    return q->res != NULL && q->row >= 0 && q->row < q->nrows && i >= 0 && i < PQnfields(q->res) &&
           !PQgetisnull(q->res, q->row, i);
}

int64_t
evc_db_col_int64(struct evc_db_stmt *q, int i)
{
    if (q->db->engine == EVC_DB_SQLITE) {
        return sqlite3_column_int64(q->lite, i);
    }
    return pg_has(q, i) ? strtoll(PQgetvalue(q->res, q->row, i), NULL, 10) : 0;
}

const char *
evc_db_col_text(struct evc_db_stmt *q, int i)
{
    const char *s;

    if (q->db->engine == EVC_DB_SQLITE) {
        s = (const char *)sqlite3_column_text(q->lite, i);
        return s != NULL ? s : "";
    }
    return pg_has(q, i) ? PQgetvalue(q->res, q->row, i) : "";
}

const uint8_t *
evc_db_col_blob(struct evc_db_stmt *q, int i, size_t *len)
{
    const uint8_t *p;

    if (q->db->engine == EVC_DB_PG) {
        return evc_db_pg_blob(q, i, len);
    }
    p = sqlite3_column_blob(q->lite, i);
    *len = p != NULL ? (size_t)sqlite3_column_bytes(q->lite, i) : 0;
    return p != NULL ? p : (const uint8_t *)"";
}

int
evc_db_col_is_null(struct evc_db_stmt *q, int i)
{
    if (q->db->engine == EVC_DB_SQLITE) {
        return sqlite3_column_type(q->lite, i) == SQLITE_NULL;
    }
    return !pg_has(q, i);
}

int64_t
evc_db_changes(struct evc_db_stmt *q)
{
    return q->changes;
}

void
evc_db_reset(struct evc_db_stmt *q)
{
    if (q->db->engine == EVC_DB_SQLITE) {
        sqlite3_reset(q->lite);
        sqlite3_clear_bindings(q->lite);
        return;
    }
    PQclear(q->res);
    q->res = NULL;
    q->row = -1;
    q->nrows = 0;
}

void
evc_db_finalize(struct evc_db_stmt *q)
{
    if (q == NULL) {
        return;
    }
    sqlite3_finalize(q->lite);
    PQclear(q->res);
    PQfreemem(q->blob);
    for (int i = 0; i < EVC_DB_PARAMS_MAX; i++) {
        free(q->vals[i]);
    }
    free(q->sql);
    free(q);
}

static int
version_of(struct evc_db *db, const char *component, int *version, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    *version = 0;
    if ((r = evc_db_prepare(db, "SELECT version FROM schema_version WHERE component = ?1", &q,
                            err)) != 0) {
        return r;
    }
    if ((r = evc_db_bind_text(q, 1, component)) == 0 && (r = evc_db_step(q, err)) == EVC_DB_ROW) {
        *version = (int)evc_db_col_int64(q, 0);
        r = 0;
    }
    evc_db_finalize(q);
    return r;
}

int
evc_db_migrate(struct evc_db *db, const char *component, const struct evc_db_migration *m, size_t n,
               struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    struct evc_err quiet = {0};
    int r = 0, have = 0;

    /*
     * Current already: nothing is written, so a read-only database or a
     * standby opens as well (the table may not be there yet: then migrate).
     */
    if (n > 0 && version_of(db, component, &have, &quiet) == 0 && have >= m[n - 1].version) {
        if (have > m[n - 1].version) {
            return evc_err_set(err, EVC_ERR_POLICY,
                               "%s: %s schema version %d is newer than this evercert knows (%d)",
                               db->name, component, have, m[n - 1].version);
        }
        return 0;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        if ((r = evc_db_begin(db, err)) != 0) {
            return r;
        }
        /* Hosts that start together migrate one at a time. */
        if ((db->engine == EVC_DB_PG &&
             (r = evc_db_exec(db, "SELECT pg_advisory_xact_lock(7270417)", err)) != 0) ||
            (r = evc_db_exec(db,
                             "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY,"
                             " version INTEGER NOT NULL)",
                             err)) != 0 ||
            (r = version_of(db, component, &have, err)) != 0) {
            break;
        }
        if (have > m[n - 1].version) {
            r = evc_err_set(err, EVC_ERR_POLICY,
                            "%s: %s schema version %d is newer than this evercert knows (%d)",
                            db->name, component, have, m[n - 1].version);
            break;
        }
        if (have >= m[i].version) {
            evc_db_rollback(db);
            continue;
        }
        if ((r = evc_db_exec(db, db->engine == EVC_DB_PG && m[i].pg != NULL ? m[i].pg : m[i].sqlite,
                             err)) != 0 ||
            (r = evc_db_prepare(db,
                                "INSERT INTO schema_version(component, version) VALUES(?1, ?2)"
                                " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                                &q, err)) != 0) {
            break;
        }
        if (evc_db_bind_text(q, 1, component) != 0 || evc_db_bind_int64(q, 2, m[i].version) != 0) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "%s: out of memory", db->name);
            break;
        }
        if ((r = evc_db_step(q, err)) < 0) {
            break;
        }
        evc_db_finalize(q);
        q = NULL;
        r = evc_db_commit(db, err);
    }
    evc_db_finalize(q);
    if (r != 0 && db->in_tx) {
        evc_db_rollback(db);
    }
    return r;
}
