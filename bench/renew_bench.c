/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Renewals per second, beside the raw OpenSSL rate measured in the same
 * run: generate a key, fill in and sign one certificate (the floor any
 * renewal pays). Three figures per key type:
 *   raw      EVP_PKEY_Q_keygen + X509_sign, nothing else;
 *   memory   evercert's renewal without the disk: key, successor
 *            certificate from the old one, the SA with its two signatures;
 *   run      evc_renew_run over N due personal stores: read, plan, renew,
 *            SA, and every write atomic and durable (fsync'd).
 *
 * usage: renew_bench [COUNT-EC [COUNT-RSA]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/config.h"
#include "evercert/renew.h"

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
    fprintf(stderr, "renew_bench: %s: %s\n", what, err != NULL ? evc_err_message(err) : "failed");
    exit(1);
}

static double
raw_rate(const char *alg, const char *curve, size_t bits, int n)
{
    double t0 = now_s();

    for (int i = 0; i < n; i++) {
        EVP_PKEY *k = curve != NULL ? EVP_PKEY_Q_keygen(NULL, NULL, alg, curve)
                                    : EVP_PKEY_Q_keygen(NULL, NULL, alg, bits);
        X509 *x = X509_new();

        if (k == NULL || x == NULL || !X509_set_version(x, 2) ||
            !ASN1_INTEGER_set(X509_get_serialNumber(x), i + 1) ||
            !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                        (const unsigned char *)"web.test", -1, -1, 0) ||
            !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
            !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, k) ||
            X509_sign(x, k, EVP_sha256()) <= 0) {
            die("raw", NULL);
        }
        X509_free(x);
        EVP_PKEY_free(k);
    }
    return n / (now_s() - t0);
}

struct fixture {
    X509 *ca;
    EVP_PKEY *ca_key;
    X509 *leaf;
    EVP_PKEY *key;
};

static void
make_fixture(const char *spec, evc_time now, struct fixture *f)
{
    struct evc_err err = {0};
    const char *sans[] = {"DNS:web.test"};
    struct evc_cert_req root = {EVC_PROFILE_ROOT,  NULL, "Bench Root", NULL, 0, now - 86400,
                                now + 86400 * 5000};
    struct evc_cert_req leaf = {
        EVC_PROFILE_SERVER,           NULL, "web.test", sans, 1, now - 300 * 86400,
        now + 65 * 86400 - 86400 * 10};

    if (evc_key_generate("ec:P-256", &f->ca_key, &err) != 0 ||
        evc_ca_make(&root, f->ca_key, NULL, NULL, &f->ca, &err) != 0 ||
        evc_key_generate(spec, &f->key, &err) != 0 ||
        evc_ca_make(&leaf, f->key, f->ca, f->ca_key, &f->leaf, &err) != 0) {
        die("fixture", &err);
    }
}

static double
memory_rate(const char *spec, const struct fixture *f, evc_time now, int n)
{
    struct evc_err err = {0};
    double t0 = now_s();

    for (int i = 0; i < n; i++) {
        EVP_PKEY *k = NULL;
        X509 *x = NULL;
        struct evc_buf sa;
        struct evc_sa_params sp = {"web.test", 1,    now,  now + 3600, f->leaf, f->key,
                                   NULL,       NULL, NULL, NULL,       0};

        evc_buf_init(&sa, EVC_SA_MAX);
        if (evc_key_generate(spec, &k, &err) != 0 ||
            evc_ca_renew(f->leaf, k, f->ca, f->ca_key, now, &x, &err) != 0) {
            die("memory", &err);
        }
        sp.successor = x;
        sp.successor_key = k;
        if (evc_sa_encode(&sp, &sa, &err) != 0) {
            die("memory SA", &err);
        }
        evc_buf_free(&sa);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    return n / (now_s() - t0);
}

static void
write_file(const char *path, struct evc_buf *b, mode_t mode)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL || fwrite(b->data, 1, b->len, fp) != b->len || fclose(fp) != 0 ||
        chmod(path, mode) != 0) {
        die(path, NULL);
    }
}

/* N due personal stores under one root; the whole renew run, timed. */
static double
run_rate(const char *spec, const struct fixture *f, evc_time now, int n, const char *dir)
{
    struct evc_err err = {0};
    struct evc_buf b, conf;
    struct evc_config *c = NULL;
    struct evc_renew_opts o = {.now = now};
    struct evc_renew_result res;
    char p[4096];
    double t0, t;

    (void)spec;
    evc_buf_init(&b, 1 << 20);
    evc_buf_init(&conf, 1 << 20);
    snprintf(p, sizeof(p), "%s/root", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/root/ca.crt", dir);
    if (evc_x509_pem(f->ca, &b, &err) != 0) {
        die("pem", &err);
    }
    write_file(p, &b, 0644);
    evc_buf_reset(&b);
    snprintf(p, sizeof(p), "%s/root/ca.key", dir);
    if (evc_key_pem(f->ca_key, &b, &err) != 0) {
        die("pem", &err);
    }
    write_file(p, &b, 0600);
    if (evc_buf_printf(&conf, "[policy]\ndelete_old = false\ndistribution_window = 1d\n"
                              "[store \"root\"]\nrole = root\npath = root\n") != 0) {
        die("config", NULL);
    }
    for (int i = 0; i < n; i++) {
        evc_buf_reset(&b);
        snprintf(p, sizeof(p), "%s/w%d.crt", dir, i);
        if (evc_x509_pem(f->leaf, &b, &err) != 0) {
            die("pem", &err);
        }
        write_file(p, &b, 0644);
        evc_buf_reset(&b);
        snprintf(p, sizeof(p), "%s/w%d.key", dir, i);
        if (evc_key_pem(f->key, &b, &err) != 0) {
            die("pem", &err);
        }
        write_file(p, &b, 0600);
        if (evc_buf_printf(&conf,
                           "[store \"w%d\"]\nrole = personal\ncert = w%d.crt\nkey = w%d.key\n", i,
                           i, i) != 0) {
            die("config", NULL);
        }
    }
    snprintf(p, sizeof(p), "%s/c.ini", dir);
    write_file(p, &conf, 0644);
    if (evc_config_load(p, &c, &err) != 0) {
        die("config", &err);
    }
    evc_config_renew_opts(c, &o);
    memset(&res, 0, sizeof(res));
    t0 = now_s();
    if (evc_renew_run(&o, &res, &err) != 0) {
        die("renew", &err);
    }
    t = now_s() - t0;
    if (res.nactions != (size_t)n) {
        fprintf(stderr, "renew_bench: %zu actions, want %d\n", res.nactions, n);
        exit(1);
    }
    evc_renew_result_clear(&res);
    evc_config_free(c);
    evc_buf_free(&b);
    evc_buf_free(&conf);
    return n / t;
}

/* A positive count from the command line. */
static int
count(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);

    if (*end != '\0' || n < 1 || n > 256) {
        fprintf(stderr, "renew_bench: '%s': expected a count from 1 to 256\n", s);
        exit(2);
    }
    return (int)n;
}

int
main(int argc, char **argv)
{
    const struct {
        const char *spec, *alg, *curve;
        size_t bits;
        int n, target;
    } types[] = {
        {"ec:P-256", "EC", "P-256", 0, argc > 1 ? count(argv[1]) : 200, 50},
        {"rsa:2048", "RSA", NULL, 2048, argc > 2 ? count(argv[2]) : 40, 80},
    };
    evc_time now = evc_time_now();

    printf("%-9s %10s %10s %10s %12s %12s %7s\n", "key", "raw/s", "memory/s", "run/s", "memory/raw",
           "run/raw", "target");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct fixture f;
        char dir[] = "/tmp/evc-renew-bench-XXXXXX", cmd[64];
        double raw, mem, run;

        if (mkdtemp(dir) == NULL) {
            die("mkdtemp", NULL);
        }
        make_fixture(types[i].spec, now, &f);
        raw = raw_rate(types[i].alg, types[i].curve, types[i].bits, types[i].n);
        mem = memory_rate(types[i].spec, &f, now, types[i].n);
        run = run_rate(types[i].spec, &f, now, types[i].n, dir);
        printf("%-9s %10.0f %10.0f %10.0f %11.0f%% %11.0f%% %6d%%\n", types[i].spec, raw, mem, run,
               100 * mem / raw, 100 * run / raw, types[i].target);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0) {
            die("cleanup", NULL);
        }
        X509_free(f.ca);
        X509_free(f.leaf);
        EVP_PKEY_free(f.ca_key);
        EVP_PKEY_free(f.key);
    }
    return 0;
}
