/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet inventory at a platform's size: HOSTS hosts of PER certificates
 * each (a fifth of them the same on every host, as a load balancer's
 * certificates are; the rest each host's own), written through the upsert
 * path a host's outbox is sent by (evc_fleet_apply, EVC_FLEET_BATCH rows a
 * transaction), then the questions of `evercert fleet` timed through
 * evc_fleet_report. With CSV, the same rows are also written there for the
 * COPY baseline of fleet_bench.sh.
 *   fleet_bench TARGET HOSTS PER [CSV]
 * Prints "name value" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "db/db.h"
#include "evercert/fleet.h"
#include "evercert/limits.h"
#include "fleet/fleet_int.h"

#define T0 ((evc_time)1900000000)
#define DAY 86400

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const struct evc_err *err)
{
    fprintf(stderr, "fleet_bench: %s: %s\n", what, evc_err_message(err));
    exit(1);
}

static double
ask(const char *target, const char *host, int only_expiring)
{
    struct evc_fleet_query q;
    struct evc_err err = {0};
    FILE *out = fopen("/dev/null", "w");
    double t0;
    int status;

    memset(&q, 0, sizeof(q));
    q.target = target;
    q.now = T0;
    q.host = host;
    q.only_expiring = only_expiring;
    t0 = now_s();
    if (out == NULL || evc_fleet_report(&q, EVC_FLEET_JSON, out, &status, &err) != 0) {
        die("report", &err);
    }
    fclose(out);
    return now_s() - t0;
}

int
main(int argc, char **argv)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};
    struct evc_fleet_cert *rows;
    char(*sha)[65], (*loc)[48], (*subj)[64];
    FILE *csv = NULL;
    long hosts, per;
    size_t hosts_per_tx;
    double t0, t_write;

    if (argc < 4 || (hosts = strtol(argv[2], NULL, 10)) <= 0 ||
        (per = strtol(argv[3], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: fleet_bench TARGET HOSTS PER [CSV]\n");
        return 2;
    }
    if (argc > 4 && (csv = fopen(argv[4], "w")) == NULL) {
        perror(argv[4]);
        return 1;
    }
    rows = calloc((size_t)per, sizeof(*rows));
    sha = calloc((size_t)per, sizeof(*sha));
    loc = calloc((size_t)per, sizeof(*loc));
    subj = calloc((size_t)per, sizeof(*subj));
    if (rows == NULL || sha == NULL || loc == NULL || subj == NULL) {
        return 1;
    }
    if (evc_db_open(argv[1], NULL, &db, &err) != 0 || evc_fleet_schema(db, &err) != 0) {
        die(argv[1], &err);
    }
    hosts_per_tx = EVC_FLEET_BATCH / (size_t)per > 0 ? EVC_FLEET_BATCH / (size_t)per : 1;
    t0 = now_s();
    for (long h = 0; h < hosts; h++) {
        char host[32];
        struct item it;

        snprintf(host, sizeof(host), "h%05ld", h);
        for (long i = 0; i < per; i++) {
            int shared = i < per / 5;

            /* Distinct and stable: the shared ones by index, the others by host and index. */
            snprintf(sha[i], sizeof(sha[i]), "%064lx",
                     shared ? (unsigned long)i : (unsigned long)(h * per + i + per));
            snprintf(loc[i], sizeof(loc[i]), "/etc/tls/c%ld.pem", i);
            if (shared) {
                snprintf(subj[i], sizeof(subj[i]), "CN=shared%ld", i);
            } else {
                snprintf(subj[i], sizeof(subj[i]), "CN=%s-%ld", host, i);
            }
            rows[i].location = loc[i];
            rows[i].sha256 = sha[i];
            rows[i].subject = subj[i];
            rows[i].issuer = "CN=Fleet Root";
            rows[i].not_before = T0 - 30 * DAY;
            /* Ends spread over 400 days, so "expiring within 30d" is a small part. */
            rows[i].not_after = T0 + (evc_time)(((h * 7919 + i * 104729) % 400) + 1) * DAY;
            rows[i].status = "ok";
            rows[i].kind = "chained";
            if (csv != NULL) {
                fprintf(csv, "%s,stores,%s,%s,%s,%s,%lld,%lld,ok,chained,\"\",%lld\n", host, loc[i],
                        sha[i], subj[i], "CN=Fleet Root", (long long)rows[i].not_before,
                        (long long)rows[i].not_after, (long long)T0);
            }
        }
        if ((size_t)h % hosts_per_tx == 0 && evc_db_begin(db, &err) != 0) {
            die("begin", &err);
        }
        memset(&it, 0, sizeof(it));
        it.kind = ITEM_SNAPSHOT;
        it.host = host;
        it.service = "monitor";
        it.version = "bench";
        it.source = "stores";
        it.at = T0 - (h % 100 == 0 ? 3 * 3600 : 0); /* one host in a hundred is silent */
        it.certs = rows;
        it.ncerts = (size_t)per;
        if (evc_fleet_apply(db, &it, &err) != 0 ||
            evc_fleet_host_mark(db, host, "monitor", "bench", it.at, 0, 0, "", &err) != 0) {
            die("apply", &err);
        }
        if (((size_t)h + 1) % hosts_per_tx == 0 || h + 1 == hosts) {
            if (evc_db_commit(db, &err) != 0) {
                die("commit", &err);
            }
        }
    }
    t_write = now_s() - t0;
    printf("rows %ld\nwrite_s %.2f\nrows_per_s %.0f\n", hosts * per, t_write,
           (double)(hosts * per) / t_write);
    if (csv != NULL && fclose(csv) != 0) {
        return 1;
    }
    if (evc_db_engine_of(db) == EVC_DB_PG) {
        struct evc_db_stmt *q = NULL;

        if (evc_db_prepare(db, "SELECT pg_database_size(current_database())", &q, &err) != 0 ||
            evc_db_step(q, &err) != EVC_DB_ROW) {
            die("size", &err);
        }
        printf("db_bytes %lld\n", (long long)evc_db_col_int64(q, 0));
        evc_db_finalize(q);
    } else {
        struct stat sb;

        if (stat(argv[1], &sb) == 0) {
            printf("db_bytes %lld\n", (long long)sb.st_size);
        }
    }
    evc_db_close(db);
    printf("query_expiring_30d_s %.2f\n", ask(argv[1], NULL, 1));
    printf("query_all_s %.2f\n", ask(argv[1], NULL, 0));
    printf("query_one_host_s %.2f\n", ask(argv[1], "h00042", 0));
    free(rows);
    free(sha);
    free(loc);
    free(subj);
    return 0;
}
