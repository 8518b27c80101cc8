/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The system trust directory (trust_format = system) against the hashed
 * directory, in the same run, on directories of N certificates: what the
 * agent pays to read the store (every file parsed) and to add and then
 * remove one certificate (a file written and synced; the hashed directory
 * also rebuilds its subject's <hash>.N links). Prints ms per operation for
 * each backend and the ratio system / hashdir.
 *
 *   trustdir_bench [N [ROUNDS]]   (default 1000 certificates, 20 rounds)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/stores.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A self-signed certificate with subject CN=bench-i; one key serves them all. */
static X509 *
make_cert(EVP_PKEY *key, long i)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    char cn[32];

    snprintf(cn, sizeof(cn), "bench-%ld", i);
    if (x == NULL || n == NULL || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), i + 1) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
        X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30) == NULL || !X509_set_pubkey(x, key) ||
        X509_sign(x, key, EVP_sha256()) == 0) {
        X509_free(x);
        x = NULL;
    }
    X509_NAME_free(n);
    return x;
}

struct figures {
    double fill_s, load_s, add_s, remove_s;
};

/* Fill path (through the backend itself), then time loads and add+remove rounds. */
static int
run(const char *path, X509 **certs, long n, int rounds, X509 *extra, struct figures *f)
{
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    double t0;
    long i;

    memset(f, 0, sizeof(*f));
    t0 = now_s();
    if (evc_trust_load(path, NULL, &t, &err) != 0) {
        fprintf(stderr, "trustdir_bench: %s\n", evc_err_message(&err));
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (evc_trust_add(t, certs[i], &err) != 0) {
            fprintf(stderr, "trustdir_bench: %s\n", evc_err_message(&err));
            evc_trust_free(t);
            return -1;
        }
    }
    f->fill_s = now_s() - t0;
    evc_trust_free(t);
    t = NULL;
    for (int r = 0; r < rounds; r++) {
        long k;

        t0 = now_s();
        if (evc_trust_load(path, NULL, &t, &err) != 0) {
            fprintf(stderr, "trustdir_bench: %s\n", evc_err_message(&err));
            return -1;
        }
        f->load_s += now_s() - t0;
        if (t->n != (size_t)n) {
            fprintf(stderr, "trustdir_bench: %s: %zu certificates, not %ld\n", path, t->n, n);
            evc_trust_free(t);
            return -1;
        }
        t0 = now_s();
        if (evc_trust_add(t, extra, &err) != 0) {
            fprintf(stderr, "trustdir_bench: %s\n", evc_err_message(&err));
            evc_trust_free(t);
            return -1;
        }
        f->add_s += now_s() - t0;
        t0 = now_s();
        k = (long)t->n - 1;
        if (evc_trust_remove(t, (size_t)k, &err) != 0) {
            fprintf(stderr, "trustdir_bench: %s\n", evc_err_message(&err));
            evc_trust_free(t);
            return -1;
        }
        f->remove_s += now_s() - t0;
        evc_trust_free(t);
        t = NULL;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
    char base[] = "/tmp/evc-trustdir-bench-XXXXXX", hd[64], sd[64], sys[80], cmd[128];
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 **certs = NULL, *extra = NULL;
    struct figures h, s;
    int ret = 1;

    if (n < 1 || n > 100000 || rounds < 1 || key == NULL || mkdtemp(base) == NULL) {
        fprintf(stderr, "usage: trustdir_bench [N (1..100000) [ROUNDS]]\n");
        goto out;
    }
    snprintf(hd, sizeof(hd), "%s/hashdir", base);
    snprintf(sd, sizeof(sd), "%s/system", base);
    snprintf(sys, sizeof(sys), "system:%s", sd);
    if (mkdir(hd, 0755) != 0 || mkdir(sd, 0755) != 0 ||
        (certs = calloc((size_t)n, sizeof(*certs))) == NULL) {
        goto out;
    }
    for (long i = 0; i < n; i++) {
        if ((certs[i] = make_cert(key, i)) == NULL) {
            goto out;
        }
    }
    if ((extra = make_cert(key, n)) == NULL || run(hd, certs, n, rounds, extra, &h) != 0 ||
        run(sys, certs, n, rounds, extra, &s) != 0) {
        goto out;
    }
    printf("%ld certificates, %d rounds (ms per operation)\n", n, rounds);
    printf("%-22s %12s %12s %8s\n", "", "hashdir", "system", "ratio");
    printf("%-22s %12.1f %12.1f %8.2f\n", "fill (N adds)", h.fill_s * 1e3, s.fill_s * 1e3,
           s.fill_s / h.fill_s);
    printf("%-22s %12.2f %12.2f %8.2f\n", "load", h.load_s * 1e3 / rounds, s.load_s * 1e3 / rounds,
           s.load_s / h.load_s);
    printf("%-22s %12.2f %12.2f %8.2f\n", "add one", h.add_s * 1e3 / rounds, s.add_s * 1e3 / rounds,
           s.add_s / h.add_s);
    printf("%-22s %12.2f %12.2f %8.2f\n", "remove one", h.remove_s * 1e3 / rounds,
           s.remove_s * 1e3 / rounds, s.remove_s / h.remove_s);
    ret = 0;
out:
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (base[sizeof(base) - 7] != 'X' && system(cmd) != 0) {
        ret = 1;
    }
    for (long i = 0; certs != NULL && i < n; i++) {
        X509_free(certs[i]);
    }
    free(certs);
    X509_free(extra);
    EVP_PKEY_free(key);
    return ret;
}
