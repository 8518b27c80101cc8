/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/db: the handles and each engine's entry points. */
#ifndef EVC_DB_INT_H
#define EVC_DB_INT_H

#include <libpq-fe.h>
#include <sqlite3.h>

#include "db/db.h"

/* Parameters a statement may bind: far more than any statement here uses. */
#define EVC_DB_PARAMS_MAX 32

struct evc_db {
    enum evc_db_engine engine;
    enum evc_db_fault fault;
    char name[512];
    char *target; /* as given, password and all: needed to reconnect */
    char *password;
    int connect_timeout, statement_ms;
    int in_tx;
    sqlite3 *lite;
    PGconn *pg;
};

struct evc_db_stmt {
    struct evc_db *db;
    sqlite3_stmt *lite;
    /* PostgreSQL: the rewritten text, the parameters as libpq takes them, the result. */
    char *sql;
    int nparams;
    char *vals[EVC_DB_PARAMS_MAX];
    int lens[EVC_DB_PARAMS_MAX], fmts[EVC_DB_PARAMS_MAX];
    PGresult *res;
    int row, nrows;
    int64_t changes;
    uint8_t *blob; /* the last bytea read, decoded */
};

int evc_db_lite_open(struct evc_db *db, const struct evc_db_opts *o, struct evc_err *err);
int evc_db_lite_err(struct evc_db *db, struct evc_err *err, const char *what);
int evc_db_pg_open(struct evc_db *db, struct evc_err *err);
int evc_db_pg_exec(struct evc_db *db, const char *sql, struct evc_err *err);
int evc_db_pg_step(struct evc_db_stmt *q, struct evc_err *err);
const uint8_t *evc_db_pg_blob(struct evc_db_stmt *q, int i, size_t *len);

#endif
