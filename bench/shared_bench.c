/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared stores' database costs, against a plain round trip in the same
 * run: SELECT ?1 (the baseline), a lease kept by its holder, a lease
 * taken over (a new token each time), a successor published (sealing its
 * key, the fencing check, the insert, one transaction) and one fetched
 * (the query and opening the sealed key). Sizes are a renewal's: an EC
 * P-256 chain of one certificate, its SA, its key.
 *
 * usage: shared_bench TARGET [N]   (TARGET: postgresql://... or a SQLite path; N default 1000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evercert/shared.h"
#include "db/db.h"

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double base_mean;

static void
report(const char *what, double *t, size_t n)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        sum += t[i];
    }
    qsort(t, n, sizeof(*t), cmp);
    if (base_mean == 0) {
        base_mean = sum / (double)n;
    }
    printf("%-28s %6zu %10.1f %10.1f %10.1f %8.1fx\n", what, n, sum / (double)n, t[n / 2],
           t[n * 99 / 100], sum / (double)n / base_mean);
}

static void
die(const char *what, const struct evc_err *err)
{
    fprintf(stderr, "shared_bench: %s: %s\n", what, evc_err_message(err));
    exit(1);
}

int
main(int argc, char **argv)
{
    static const uint8_t key[EVC_FLEET_KEY_LEN] = {7};
    struct evc_db *db = NULL;
    struct evc_err err = {0};
    struct evc_lease l;
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    double *t;
    uint8_t cur[32] = {1}, sa[2600], pem_key[241];
    char chain[1300];
    char dbname[256];

    if (argc < 2 || n == 0) {
        fprintf(stderr, "usage: shared_bench TARGET [N]\n");
        return 2;
    }
    memset(chain, 'A', sizeof(chain) - 1);
    chain[sizeof(chain) - 1] = '\0';
    memset(sa, 0x30, sizeof(sa));
    memset(pem_key, 'k', sizeof(pem_key));
    if ((t = calloc(n, sizeof(*t))) == NULL) {
        return 1;
    }
    if (evc_db_open(argv[1], NULL, &db, &err) != 0) {
        die("open", &err);
    }
    evc_db_redact(argv[1], dbname, sizeof(dbname));
    if (evc_db_exec(db,
                    "DROP TABLE IF EXISTS leases; DROP TABLE IF EXISTS successors; "
                    "DELETE FROM schema_version WHERE component = 'shared'",
                    NULL) != 0) {
        /* A new database has no schema_version yet. */
    }
    if (evc_shared_migrate(db, &err) != 0) {
        die("migrate", &err);
    }
    printf("%s, %s\n", evc_db_engine_of(db) == EVC_DB_PG ? "PostgreSQL" : "SQLite", dbname);
    printf("%-28s %6s %10s %10s %10s %9s\n", "operation (µs)", "n", "mean", "p50", "p99",
           "/SELECT");
    for (size_t i = 0; i < n; i++) {
        struct evc_db_stmt *q = NULL;
        double a = now_us();

        if (evc_db_prepare(db, "SELECT ?1", &q, &err) != 0 || evc_db_bind_int64(q, 1, 1) != 0 ||
            evc_db_step(q, &err) != EVC_DB_ROW) {
            die("select", &err);
        }
        evc_db_finalize(q);
        t[i] = now_us() - a;
    }
    report("SELECT ?1 (baseline)", t, n);
    memset(&l, 0, sizeof(l));
    for (size_t i = 0; i < n; i++) {
        double a = now_us();

        if (evc_lease_take(db, "web", "hostA", 1000 + (int64_t)i, 60, &l, &err) != 0 || !l.held) {
            die("lease keep", &err);
        }
        t[i] = now_us() - a;
    }
    report("lease kept by its holder", t, n);
    for (size_t i = 0; i < n; i++) {
        struct evc_lease o;
        double a = now_us();

        memset(&o, 0, sizeof(o));
        if (evc_lease_take(db, "web", i % 2 ? "hostA" : "hostB", 100000 + 100 * (int64_t)i, 60, &o,
                           &err) != 0 ||
            !o.held) {
            die("lease takeover", &err);
        }
        t[i] = now_us() - a;
        l = o;
    }
    report("lease taken over", t, n);
    for (size_t i = 0; i < n; i++) {
        struct evc_shared_pub p;
        struct evc_seal_ad ad;
        struct evc_buf sealed;
        double a = now_us();

        memset(&ad, 0, sizeof(ad));
        ad.store = "web";
        ad.generation = i + 1;
        evc_buf_init(&sealed, EVC_SEAL_RECORD_MAX);
        if (evc_seal(key, &ad, pem_key, sizeof(pem_key), &sealed, &err) != 0) {
            die("seal", &err);
        }
        memset(&p, 0, sizeof(p));
        p.store = "web";
        p.generation = i + 1;
        cur[1] = (uint8_t)i;
        cur[2] = (uint8_t)(i >> 8);
        memcpy(p.prev_sha256, cur, 32);
        p.chain = (const uint8_t *)chain;
        p.chain_len = strlen(chain);
        p.sa = sa;
        p.sa_len = sizeof(sa);
        p.sealed = sealed.data;
        p.sealed_len = sealed.len;
        p.token = l.token;
        p.activate_at = 2000;
        if (evc_shared_publish(db, &p, l.holder, &err) != 0) {
            die("publish", &err);
        }
        evc_buf_free(&sealed);
        t[i] = now_us() - a;
    }
    report("successor published", t, n);
    for (size_t i = 0; i < n; i++) {
        struct evc_shared_offer o;
        double a = now_us();

        memset(&o, 0, sizeof(o));
        evc_buf_init(&o.chain, EVC_SHARED_CHAIN_MAX + 1);
        evc_buf_init(&o.sa, 64 * 1024 + 1);
        evc_buf_init(&o.key, EVC_SEAL_PLAIN_MAX + 1);
        cur[1] = (uint8_t)i;
        cur[2] = (uint8_t)(i >> 8);
        if (evc_shared_fetch(db, "web", cur, 0, key, &o, &err) != 1 || o.turn != EVC_SHARED_USE) {
            die("fetch", &err);
        }
        t[i] = now_us() - a;
        evc_buf_free(&o.chain);
        evc_buf_free(&o.sa);
        evc_buf_free(&o.key);
    }
    report("successor fetched", t, n);
    evc_db_close(db);
    free(t);
    return 0;
}
