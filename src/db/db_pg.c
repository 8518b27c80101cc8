/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL engine, on libpq. Every operation is bounded: the connect
 * timeout, a statement timeout set at connection, and TCP keepalives with
 * a user timeout, so a server that stops answering mid-statement is an
 * error in seconds. Results come back as text; bytea is decoded on read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

/* SQLSTATE classes and codes that say the database is away or takes no writes. */
static enum evc_db_fault
fault_of(const PGresult *res, const PGconn *conn)
{
    const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (conn == NULL || PQstatus(conn) != CONNECTION_OK || st == NULL) {
        return EVC_DB_FAULT_DOWN;
    }
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
        strcmp(st, "57P03") == 0) {
        return EVC_DB_FAULT_DOWN;
    }
    if (strcmp(st, "25006") == 0) {
        return EVC_DB_FAULT_READONLY;
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0) {
        return EVC_DB_FAULT_BUSY;
    }
    return EVC_DB_FAULT_OTHER;
}

/* libpq's message is one or more lines; the first says it. */
static int
pg_err(struct evc_db *db, const PGresult *res, struct evc_err *err, const char *what)
{
    const char *m = res != NULL ? PQresultErrorMessage(res) : "";
    int n;

    if (m == NULL || *m == '\0') {
        m = db->pg != NULL ? PQerrorMessage(db->pg) : "out of memory";
    }
    n = (int)strcspn(m, "\n");
    db->fault = fault_of(res, db->pg);
    return evc_err_set(err, db->fault == EVC_DB_FAULT_BUSY ? EVC_ERR_BUSY : EVC_ERR_IO,
                       "%s: %s%s: %.*s", db->name,
                       db->fault == EVC_DB_FAULT_DOWN       ? "unreachable: "
                       : db->fault == EVC_DB_FAULT_READONLY ? "read-only: "
                                                            : "",
                       what, n, m);
}

int
evc_db_pg_open(struct evc_db *db, struct evc_err *err)
{
    char ct[16], opts[96];
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "options",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "password",
                          NULL};
    const char *vals[sizeof(keys) / sizeof(keys[0])];
    char tut[16];
    size_t n = 0;

    snprintf(ct, sizeof(ct), "%d", db->connect_timeout);
    snprintf(opts, sizeof(opts), "-c statement_timeout=%d -c client_min_messages=warning",
             db->statement_ms);
    snprintf(tut, sizeof(tut), "%d", db->statement_ms + 5000);
    vals[n++] = db->target;
    vals[n++] = ct;
    vals[n++] = opts;
    vals[n++] = "evercert";
    vals[n++] = "1";
    vals[n++] = "10";
    vals[n++] = "5";
    vals[n++] = "3";
    vals[n++] = tut;
    vals[n] = db->password; /* libpq ignores a NULL value */
    vals[n + 1] = NULL;
    if (db->pg != NULL) {
        PQfinish(db->pg);
    }
    db->pg = PQconnectdbParams(keys, vals, 1);
    if (db->pg == NULL || PQstatus(db->pg) != CONNECTION_OK) {
        return pg_err(db, NULL, err, "cannot connect");
    }
    return 0;
}

int
evc_db_pg_exec(struct evc_db *db, const char *sql, struct evc_err *err)
{
    PGresult *res = PQexec(db->pg, sql);
    int r = 0;

    if (res == NULL ||
        (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)) {
        r = pg_err(db, res, err, "");
    }
    PQclear(res);
    return r;
}

int
evc_db_pg_step(struct evc_db_stmt *q, struct evc_err *err)
{
    struct evc_db *db = q->db;

    if (q->res == NULL) {
        ExecStatusType s;

        q->res = PQexecParams(db->pg, q->sql, q->nparams, NULL, (const char *const *)q->vals,
                              q->lens, q->fmts, 0);
        s = q->res != NULL ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            int r = pg_err(db, q->res, err, "");

            PQclear(q->res);
            q->res = NULL;
            return r;
        }
        q->nrows = PQntuples(q->res);
        q->row = -1;
        q->changes = strtoll(PQcmdTuples(q->res), NULL, 10);
    }
    if (q->row + 1 < q->nrows) {
        q->row++;
        return EVC_DB_ROW;
    }
    q->row = q->nrows;
    return EVC_DB_DONE;
}

const uint8_t *
evc_db_pg_blob(struct evc_db_stmt *q, int i, size_t *len)
{
    size_t n = 0;
    unsigned char *b;

    *len = 0;
    if (q->res == NULL || q->row < 0 || q->row >= q->nrows || PQgetisnull(q->res, q->row, i)) {
        return (const uint8_t *)"";
    }
    b = PQunescapeBytea((const unsigned char *)PQgetvalue(q->res, q->row, i), &n);
    if (b == NULL) {
        return (const uint8_t *)"";
    }
    PQfreemem(q->blob);
    q->blob = b;
    *len = n;
    return q->blob;
}
