/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One small SQL interface over two engines: SQLite (a file, the embedded
 * default) and PostgreSQL (libpq, a URL). SQL is written once with ?1 ?2
 * placeholders; the PostgreSQL engine rewrites them to $1 $2. Only what
 * both engines mean the same way is used: INTEGER/BIGINT, TEXT, ON CONFLICT
 * ... DO UPDATE, RETURNING. Schema differences (BLOB against BYTEA) live in
 * the migrations, one text per engine.
 *
 * Every network operation has a deadline: a connect timeout, a statement
 * timeout and a TCP user timeout, so a database that stops answering is an
 * error within seconds, never a hang.
 */
#ifndef EVC_DB_H
#define EVC_DB_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

struct evc_db;
struct evc_db_stmt;

enum evc_db_engine { EVC_DB_SQLITE, EVC_DB_PG };

/* What went wrong last, for callers that degrade rather than fail. */
enum evc_db_fault {
    EVC_DB_FAULT_NONE = 0,
    EVC_DB_FAULT_DOWN,     /* cannot connect, or the connection was lost */
    EVC_DB_FAULT_READONLY, /* the database takes no writes (a standby, a read-only file) */
    EVC_DB_FAULT_BUSY,     /* locked, or a serialization failure: try again */
    EVC_DB_FAULT_OTHER     /* a bad statement, a constraint, corruption */
};

struct evc_db_opts {
    const char *password; /* PostgreSQL; NULL: the URL's, ~/.pgpass, or none */
    int connect_timeout;  /* seconds; 0: 10 */
    int statement_ms;     /* per statement; 0: 30000 */
    int busy_ms;          /* SQLite's wait for a lock; 0: 2000 */
};

/* 1 when s names a PostgreSQL database (postgresql:// or postgres://). Pure. */
int evc_db_is_url(const char *s);

/*
 * The URL with any password taken out, for messages and logs: a password
 * never leaves this module. Pure; out is always terminated.
 */
void evc_db_redact(const char *target, char *out, size_t len);

/*
 * Open target: a PostgreSQL URL, or a path (SQLite, created if missing,
 * synchronous=FULL). Errors name the redacted target and say why;
 * evc_db_fault says whether it was unreachable.
 */
int evc_db_open(const char *target, const struct evc_db_opts *o, struct evc_db **out,
                struct evc_err *err);
void evc_db_close(struct evc_db *db);

enum evc_db_engine evc_db_engine_of(const struct evc_db *db);
/* The redacted target. */
const char *evc_db_name(const struct evc_db *db);
/* The fault of the last failed call on db (or on one of its statements). */
enum evc_db_fault evc_db_fault(const struct evc_db *db);

/* Run sql (one or more statements, no parameters). */
int evc_db_exec(struct evc_db *db, const char *sql, struct evc_err *err);

int evc_db_begin(struct evc_db *db, struct evc_err *err); /* a write transaction */
int evc_db_commit(struct evc_db *db, struct evc_err *err);
void evc_db_rollback(struct evc_db *db); /* quiet: on an error path */

/*
 * A statement. Bind parameters (1-based), then step: EVC_DB_ROW with a row
 * to read, EVC_DB_DONE when finished, or a negative EVC_ERR_* code. reset
 * makes it ready to bind and step again.
 */
#define EVC_DB_DONE 0
#define EVC_DB_ROW 1
int evc_db_prepare(struct evc_db *db, const char *sql, struct evc_db_stmt **out,
                   struct evc_err *err);
int evc_db_bind_int64(struct evc_db_stmt *q, int i, int64_t v);
int evc_db_bind_text(struct evc_db_stmt *q, int i, const char *s); /* NULL binds NULL */
int evc_db_bind_blob(struct evc_db_stmt *q, int i, const void *p, size_t len);
int evc_db_bind_null(struct evc_db_stmt *q, int i);
int evc_db_step(struct evc_db_stmt *q, struct evc_err *err);
/*
 * Columns of the current row, 0-based. NULL reads as 0, "" and an empty
 * blob. What a column returns lives until the next step, reset or
 * finalize, and a blob's only until the next evc_db_col_blob on the same
 * statement (PostgreSQL decodes into one buffer): copy it to keep it.
 */
int64_t evc_db_col_int64(struct evc_db_stmt *q, int i);
const char *evc_db_col_text(struct evc_db_stmt *q, int i);
const uint8_t *evc_db_col_blob(struct evc_db_stmt *q, int i, size_t *len);
int evc_db_col_is_null(struct evc_db_stmt *q, int i);
/* Rows changed by the statement's last step to EVC_DB_DONE. */
int64_t evc_db_changes(struct evc_db_stmt *q);
void evc_db_reset(struct evc_db_stmt *q);
void evc_db_finalize(struct evc_db_stmt *q);

/*
 * Schema migrations, numbered from 1, per component (the table
 * schema_version holds one row per component). Each newer migration runs
 * in its own transaction with its version's row. A database at a version
 * this code does not know is refused (EVC_ERR_POLICY): an older evercert
 * never writes a newer schema.
 */
struct evc_db_migration {
    int version;
    const char *sqlite;
    const char *pg; /* NULL: the same text as sqlite */
};
int evc_db_migrate(struct evc_db *db, const char *component, const struct evc_db_migration *m,
                   size_t n, struct evc_err *err);

/* Rewrite ?N placeholders to $N outside quoted text. Pure; 0, or -1 if out is too small. */
int evc_db_pg_sql(const char *sql, char *out, size_t len);

#endif
