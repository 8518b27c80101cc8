/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `evercert fleet`: the questions asked of an inventory, each one
 * statement the indexes answer, its rows streamed to the renderer:
 * hosts (silent past stale), certificates grouped by SHA-256 and sorted by
 * their end (one certificate on 300 hosts is one row with a count), the
 * generations each server's agents hold and the hosts behind the newest,
 * and the error rows. Classification is at the query's now (--at).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evercert/limits.h"
#include "fleet/fleet_int.h"
#include "fleet/render.h"

#define DAY 86400
#define SQL_MAX 1024

struct ask {
    const struct evc_fleet_query *q;
    struct evc_db *db;
    struct fleet_out *o;
    struct fleet_summary s;
    const char *host; /* "" for all */
    evc_time stale, expiring;
};

/*
 * The host filter of a statement: "host = ?N" with --host, so the
 * indexes that start with the host answer it; else a clause that is
 * always true for the "" bound in its place.
 */
static int
sql_for(const struct ask *a, const char *fmt, const char *col, int n, char *out, size_t len)
{
    char clause[64];
    const char *at;
    int k;

    if (a->host[0] != '\0') {
        snprintf(clause, sizeof(clause), "%s = ?%d", col, n);
    } else {
        snprintf(clause, sizeof(clause), "?%d = ''", n);
    }
    /* The clause goes where fmt says @HOST@ (spliced, as fmt is no printf format). */
    if ((at = strstr(fmt, "@HOST@")) == NULL) {
        return -1;
    }
    k = snprintf(out, len, "%.*s%s%s", (int)(at - fmt), fmt, clause, at + 6);
    return k < 0 || (size_t)k >= len ? -1 : 0;
}

static int
prep(const struct ask *a, const char *fmt, const char *col, int n, struct evc_db_stmt **q,
     struct evc_err *err)
{
    char sql[SQL_MAX];

    if (sql_for(a, fmt, col, n, sql, sizeof(sql)) != 0) {
        return evc_err_set(err, EVC_ERR_INTERNAL, "fleet: a query too long");
    }
    return evc_db_prepare(a->db, sql, q, err);
}

static int
hosts(struct ask *a, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = prep(a,
                  "SELECT host, service, version, first_seen, last_seen, last_error,"
                  " incomplete, lost, (SELECT count(*) FROM fleet_sources s"
                  " WHERE s.host = h.host AND s.cut <> 0)"
                  " FROM fleet_hosts h WHERE @HOST@"
                  " ORDER BY host, service",
                  "host", 1, &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, a->host);
    if ((r = evc_fleet_out_section(a->o, "hosts")) != 0) {
        goto out;
    }
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        struct fleet_host_row h;

        memset(&h, 0, sizeof(h));
        h.host = evc_db_col_text(q, 0);
        h.service = evc_db_col_text(q, 1);
        h.version = evc_db_col_text(q, 2);
        h.first_seen = evc_db_col_int64(q, 3);
        h.last_seen = evc_db_col_int64(q, 4);
        h.last_error = evc_db_col_text(q, 5);
        h.incomplete = evc_db_col_int64(q, 6) != 0 || evc_db_col_int64(q, 8) != 0;
        h.lost = evc_db_col_int64(q, 7);
        h.silent = h.last_seen < a->q->now - a->stale;
        a->s.hosts++;
        a->s.silent += h.silent;
        a->s.incomplete += h.incomplete;
        if ((r = evc_fleet_out_host(a->o, &h)) != 0) {
            r = evc_err_set(err, r, "fleet: the report cannot be written");
            goto out;
        }
    }
out:
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

static int
locations(struct ask *a, const char *sha256, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = prep(a,
                  "SELECT host, location FROM fleet_certs WHERE sha256 = ?1"
                  " AND @HOST@ ORDER BY host, location",
                  "host", 2, &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, sha256);
    evc_db_bind_text(q, 2, a->host);
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        if (evc_fleet_out_location(a->o, evc_db_col_text(q, 0), evc_db_col_text(q, 1)) != 0) {
            r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
            break;
        }
    }
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

static int
certs(struct ask *a, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = prep(a,
                  /*
                   * One row per certificate: reporters know more or less of it (a
                   * store's row has no issuer, an endpoint's has), so what is known wins.
                   */
                  "SELECT sha256, max(subject), max(issuer), max(not_before), max(not_after),"
                  " max(kind), count(DISTINCT host), count(*) FROM fleet_certs"
                  " WHERE sha256 <> '' AND @HOST@ AND not_after <= ?2"
                  " GROUP BY sha256 ORDER BY max(not_after), sha256",
                  "host", 1, &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, a->host);
    evc_db_bind_int64(q, 2, a->q->only_expiring ? a->q->now + a->expiring : INT64_MAX);
    if ((r = evc_fleet_out_section(a->o, "certificates")) != 0) {
        goto out;
    }
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        struct fleet_cert_row c;

        memset(&c, 0, sizeof(c));
        c.sha256 = evc_db_col_text(q, 0);
        c.subject = evc_db_col_text(q, 1);
        c.issuer = evc_db_col_text(q, 2);
        c.not_before = evc_db_col_int64(q, 3);
        c.not_after = evc_db_col_int64(q, 4);
        c.kind = evc_db_col_text(q, 5);
        c.hosts = evc_db_col_int64(q, 6);
        c.locations = evc_db_col_int64(q, 7);
        a->s.certs++;
        if (c.not_after <= a->q->now) {
            c.status = "expired";
            a->s.expired++;
        } else if (c.not_before > a->q->now) {
            c.status = "not_yet_valid";
            a->s.not_yet_valid++;
        } else if (c.not_after - a->q->now <= a->expiring) {
            c.status = "expiring";
            a->s.expiring++;
        } else {
            c.status = "ok";
            a->s.ok++;
        }
        if (evc_fleet_out_cert(a->o, &c) != 0) {
            r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
            goto out;
        }
        if (a->q->verbose && (r = locations(a, c.sha256, err)) != 0) {
            goto out;
        }
    }
out:
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

static int
generations(struct ask *a, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    char server[512] = "";
    size_t behind = 0;
    int r;

    if ((r = prep(a,
                  "SELECT server, generation, count(*) FROM fleet_holdings"
                  " WHERE @HOST@ GROUP BY server, generation"
                  " ORDER BY server, generation DESC",
                  "host", 1, &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, a->host);
    if ((r = evc_fleet_out_section(a->o, "generations")) != 0) {
        goto out;
    }
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        struct fleet_gen_row g;

        g.server = evc_db_col_text(q, 0);
        g.generation = (uint64_t)evc_db_col_int64(q, 1);
        g.hosts = evc_db_col_int64(q, 2);
        /* Newest first within a server: the first row of each server is its newest. */
        g.newest = strcmp(server, g.server) != 0;
        snprintf(server, sizeof(server), "%s", g.server);
        if (evc_fleet_out_gen(a->o, &g) != 0) {
            r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
            goto out;
        }
    }
    evc_db_finalize(q);
    q = NULL;
    if (r < 0) {
        goto out;
    }
    if ((r = prep(a,
                  "SELECT h.server, h.host, h.generation FROM fleet_holdings h"
                  " WHERE @HOST@ AND h.generation <"
                  " (SELECT max(m.generation) FROM fleet_holdings m"
                  " WHERE m.server = h.server) ORDER BY h.server, h.host",
                  "h.host", 1, &q, err)) != 0) {
        goto out;
    }
    evc_db_bind_text(q, 1, a->host);
    if ((r = evc_fleet_out_section(a->o, "behind")) != 0) {
        goto out;
    }
    server[0] = '\0';
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        struct fleet_behind_row b;

        b.server = evc_db_col_text(q, 0);
        b.host = evc_db_col_text(q, 1);
        b.generation = (uint64_t)evc_db_col_int64(q, 2);
        if (strcmp(server, b.server) != 0) {
            snprintf(server, sizeof(server), "%s", b.server);
            behind = 0;
        }
        /* Named up to a cap per server: a report stays readable when a thousand lag. */
        if (behind++ >= EVC_FLEET_BEHIND_MAX) {
            continue;
        }
        if (evc_fleet_out_behind(a->o, &b) != 0) {
            r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
            goto out;
        }
    }
out:
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

static int
errors(struct ask *a, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = prep(a,
                  "SELECT host, location, detail FROM fleet_certs WHERE sha256 = ''"
                  " AND @HOST@ ORDER BY host, location",
                  "host", 1, &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, a->host);
    if ((r = evc_fleet_out_section(a->o, "errors")) != 0) {
        goto out;
    }
    while ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        struct fleet_error_row e;

        e.host = evc_db_col_text(q, 0);
        e.location = evc_db_col_text(q, 1);
        e.detail = evc_db_col_text(q, 2);
        a->s.errors++;
        if (evc_fleet_out_error(a->o, &e) != 0) {
            r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
            goto out;
        }
    }
out:
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_report(const struct evc_fleet_query *q, enum evc_fleet_format format, FILE *out,
                 int *status, struct evc_err *err)
{
    struct evc_db_opts dbo;
    struct ask a;
    struct stat sb;
    struct evc_db_stmt *probe = NULL;
    char *buf = NULL;
    size_t blen = 0;
    FILE *mem = NULL;
    int r = EVC_ERR_INTERNAL;

    *status = 3;
    memset(&a, 0, sizeof(a));
    a.q = q;
    a.host = q->host != NULL ? q->host : "";
    a.stale = q->stale > 0 ? q->stale : 2 * 3600;
    a.expiring = q->expiring > 0 ? q->expiring : 30 * DAY;
    /* A reader never creates a state file: a wrong path is an error, not an empty fleet. */
    if (!evc_db_is_url(q->target) && stat(q->target, &sb) != 0) {
        return evc_err_set(err, EVC_ERR_NOENT, "%s: no such state database", q->target);
    }
    memset(&dbo, 0, sizeof(dbo));
    dbo.password = q->password;
    if ((r = evc_db_open(q->target, &dbo, &a.db, err)) != 0) {
        return r;
    }
    if (evc_db_prepare(a.db, "SELECT count(*) FROM fleet_hosts", &probe, err) != 0 ||
        evc_db_step(probe, err) < 0) {
        r = evc_err_set(err, EVC_ERR_NOENT,
                        "%s: no fleet inventory (no evercert monitor or agent has reported to it)",
                        evc_db_name(a.db));
        goto out;
    }
    /* The whole answer is made before any of it is written: an error leaves the output empty. */
    if ((mem = open_memstream(&buf, &blen)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = evc_fleet_out_new(format, mem, q->now, q->verbose, &a.o)) != 0) {
        r = evc_err_set(err, r, "out of memory");
        goto out;
    }
    if ((r = hosts(&a, err)) != 0 || (r = certs(&a, err)) != 0 || (r = generations(&a, err)) != 0 ||
        (r = errors(&a, err)) != 0) {
        goto out;
    }
    if (evc_fleet_out_finish(a.o, &a.s) != 0 || fclose(mem) != 0) {
        mem = NULL;
        r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
        goto out;
    }
    mem = NULL;
    if (fwrite(buf, 1, blen, out) != blen || fflush(out) != 0) {
        r = evc_err_set(err, EVC_ERR_IO, "fleet: the report cannot be written");
        goto out;
    }
    *status = a.s.expired > 0 || a.s.not_yet_valid > 0                                     ? 2
              : a.s.expiring > 0 || a.s.silent > 0 || a.s.incomplete > 0 || a.s.errors > 0 ? 1
                                                                                           : 0;
    r = 0;
out:
    evc_db_finalize(probe);
    evc_fleet_out_free(a.o);
    if (mem != NULL) {
        fclose(mem);
    }
    free(buf);
    evc_db_close(a.db);
    return r;
}
