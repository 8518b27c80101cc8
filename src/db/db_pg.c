/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL engine, on libpq. Every operation is bounded: the connect
 * timeout, a statement timeout set at connection, and TCP keepalives with
 * a user timeout, so a server that stops answering mid-statement is an
 * error in seconds. Results come back as text; bytea is decoded on read.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The server's primary message, else libpq's first line; "what" only when there is one. */
static int
pg_err(struct evc_db *db, const PGresult *res, struct evc_err *err, const char *what)
{
    const char *m = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int n;

    if (m == NULL || *m == '\0') {
        m = db->pg != NULL ? PQerrorMessage(db->pg) : "out of memory";
    }
    n = (int)strcspn(m, "\n");
    db->fault = fault_of(res, db->pg);
    return evc_err_set(err, db->fault == EVC_DB_FAULT_BUSY ? EVC_ERR_BUSY : EVC_ERR_IO,
                       "%s: %s%s%s%.*s", db->name,
                       db->fault == EVC_DB_FAULT_DOWN       ? "unreachable: "
                       : db->fault == EVC_DB_FAULT_READONLY ? "read-only: "
                                                            : "",
                       what, *what != '\0' ? ": " : "", n, m);
}

/* One name's lookup, in a block of its own: one the resolver will not cancel is left to it. */
struct lookup {
    struct gaicb cb; /* first */
    struct addrinfo hints;
    char name[256];
};

/*
 * libpq's connect_timeout does not cover the host name's lookup, which may
 * block for as long as the resolver likes. Each name of the URL's host
 * list is looked up here with a deadline, and libpq gets the addresses as
 * hostaddr (the names stay, for TLS's name check). Numeric hosts and
 * socket directories are passed as they are.
 */
static int
lookup_hosts(struct evc_db *db, const char *hosts, char *out, size_t len, struct evc_err *err)
{
    struct lookup *q[8] = {NULL};
    const struct gaicb *list[8];
    char names[8][256];
    size_t n = 0, o = 0;
    int nq = 0, r = 0;
    struct timespec end;

    out[0] = '\0';
    for (const char *p = hosts; *p != '\0' && n < 8; n++) {
        size_t k = strcspn(p, ",");

        snprintf(names[n], sizeof(names[n]), "%.*s", (int)(k < 255 ? k : 255), p);
        p += k + (p[k] == ',');
    }
    for (size_t i = 0; i < n; i++) {
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *ai = NULL;

        if (names[i][0] == '\0' || names[i][0] == '/' ||
            getaddrinfo(names[i], NULL, &hints, &ai) == 0) {
            freeaddrinfo(ai);
            continue; /* an address, a socket directory, or libpq's default */
        }
        if ((q[i] = calloc(1, sizeof(*q[i]))) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(q[i]->name, names[i], sizeof(q[i]->name));
        q[i]->hints.ai_socktype = SOCK_STREAM;
        q[i]->cb.ar_name = q[i]->name;
        q[i]->cb.ar_request = &q[i]->hints;
        list[nq++] = &q[i]->cb;
    }
    if (nq == 0) {
        goto out;
    }
    if (getaddrinfo_a(GAI_NOWAIT, (struct gaicb **)list, nq, NULL) != 0) {
        db->fault = EVC_DB_FAULT_DOWN;
        r = evc_err_set(err, EVC_ERR_IO, "%s: unreachable: the resolver could not be started",
                        db->name);
        goto out;
    }
    /*
     * One deadline for all the names, polled every 5 ms: gai_suspend() races
     * with glibc's resolver threads (a crash seen with many names at once).
     */
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += db->connect_timeout;
    for (;;) {
        struct timespec now, left, nap = {0, 5000000};
        int pending = 0;

        for (int i = 0; i < nq; i++) {
            pending += gai_error((struct gaicb *)list[i]) == EAI_INPROGRESS;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = end.tv_sec - now.tv_sec;
        left.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        if (pending == 0 || left.tv_sec < 0) {
            break;
        }
        nanosleep(&nap, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        char addr[64] = "";
        int ge;

        if (q[i] != NULL && (ge = gai_error(&q[i]->cb)) != 0) {
            if (ge == EAI_INPROGRESS && gai_cancel(&q[i]->cb) != EAI_CANCELED) {
                q[i] = NULL; /* still the resolver's */
            }
            db->fault = EVC_DB_FAULT_DOWN;
            r = evc_err_set(err, EVC_ERR_IO, "%s: unreachable: %s: %s", db->name, names[i],
                            ge == EAI_INPROGRESS ? "not resolved in time" : gai_strerror(ge));
            goto out;
        }
        if (q[i] != NULL && getnameinfo(q[i]->cb.ar_result->ai_addr, q[i]->cb.ar_result->ai_addrlen,
                                        addr, sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0) {
            addr[0] = '\0';
        }
        o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", i > 0 ? "," : "", addr);
    }
    if (o >= len) {
        r = evc_err_set(err, EVC_ERR_LIMIT, "%s: too many hosts", db->name);
    }
out:
    for (size_t i = 0; i < n; i++) {
        if (q[i] != NULL) {
            if (q[i]->cb.ar_result != NULL) {
                freeaddrinfo(q[i]->cb.ar_result);
            }
            free(q[i]);
        }
    }
    return r;
}

int
evc_db_pg_open(struct evc_db *db, struct evc_err *err)
{
    char ct[16], opts[96], tut[16], hostaddr[8 * 64];
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "options",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "hostaddr",
                          "password",
                          NULL};
    const char *vals[sizeof(keys) / sizeof(keys[0])];
    PQconninfoOption *parsed;
    const char *host = "";
    char *why = NULL;
    size_t n = 0;
    int r;

    /* libpq's own message about a URL it cannot read may quote the password: not shown. */
    if ((parsed = PQconninfoParse(db->target, &why)) == NULL) {
        PQfreemem(why);
        db->fault = EVC_DB_FAULT_OTHER;
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: not a URL libpq can read", db->name);
    }
    for (PQconninfoOption *o = parsed; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "host") == 0 && o->val != NULL) {
            host = o->val;
        }
    }
    r = lookup_hosts(db, host, hostaddr, sizeof(hostaddr), err);
    PQconninfoFree(parsed);
    if (r != 0) {
        return r;
    }
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
    vals[n++] = strspn(hostaddr, ",") == strlen(hostaddr) ? NULL : hostaddr; /* none resolved */
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
