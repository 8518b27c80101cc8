/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a Java keystore against reading a PKCS#12 file of the same
 * certificates, in one run: N trusted certificates in a JKS (integrity
 * digest checked with the password) and in a PKCS#12 truststore (MAC
 * checked, encrypted certificate safe opened) made by evercert's own
 * writer, each read REPEAT times through the store reader a scan uses.
 *
 *   bench/jks_bench [N [REPEAT]]     default 1000 certificates, 20 reads
 *
 * Prints the file sizes, the milliseconds per read of each and the ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/jks.h"
#include "evercert/limits.h"
#include "evercert/pkcs12.h"
#include "evercert/store.h"
#include "x509/jks_int.h"

#define PW "changeit"

static double
ms_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int
count(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    (void)der;
    (void)len;
    (void)loc;
    ++*(size_t *)arg;
    return 0;
}

static int
bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *err)
{
    (void)arg;
    (void)loc;
    fprintf(stderr, "jks_bench: %s\n", evc_err_message(err));
    return 1;
}

static X509 *
make_cert(EVP_PKEY *key, int i)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    char cn[64];

    snprintf(cn, sizeof(cn), "Bench Root %d", i);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), i + 1);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    X509_NAME_free(name);
    return x;
}

static void
put32(struct evc_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    if (evc_buf_put(b, x, 4) != 0) {
        exit(1);
    }
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    int repeat = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 **certs = calloc(n, sizeof(*certs));
    struct evc_buf jks, p12;
    struct evc_err err = {0};
    double t0, tj, tp;
    size_t got;
    struct evc_cert_sink sink = {count, bad, &got};
    struct evc_store_opts o = {PW};
    uint8_t md[20];

    if (key == NULL || certs == NULL || n == 0 || repeat < 1) {
        fprintf(stderr, "usage: jks_bench [N [REPEAT]]\n");
        return 2;
    }
    evc_buf_init(&jks, EVC_STORE_FILE_MAX);
    evc_buf_init(&p12, EVC_STORE_FILE_MAX);
    /* The JKS laid out as Java's engineStore does: version 2, one trusted entry per certificate. */
    put32(&jks, EVC_JKS_MAGIC);
    put32(&jks, 2);
    put32(&jks, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        unsigned char *der = NULL;
        int len;
        char alias[32];

        certs[i] = make_cert(key, (int)i);
        len = i2d_X509(certs[i], &der);
        snprintf(alias, sizeof(alias), "root%zu", i);
        put32(&jks, EVC_JKS_TRUSTED);
        if (evc_buf_putc(&jks, 0) != 0 || evc_buf_putc(&jks, (int)strlen(alias)) != 0 ||
            evc_buf_puts(&jks, alias) != 0) {
            return 1;
        }
        put32(&jks, 0);
        put32(&jks, 0);
        if (evc_buf_put(&jks, "\0\5X.509", 7) != 0) {
            return 1;
        }
        put32(&jks, (uint32_t)len);
        if (evc_buf_put(&jks, der, (size_t)len) != 0) {
            return 1;
        }
        OPENSSL_free(der);
    }
    if (evc_jks_digest(PW, jks.data, jks.len, md, &err) != 0 || evc_buf_put(&jks, md, 20) != 0 ||
        evc_pkcs12_encode(certs, n, NULL, PW, &p12, &err) != 0) {
        fprintf(stderr, "jks_bench: %s\n", evc_err_message(&err));
        return 1;
    }
    t0 = ms_now();
    for (int k = 0; k < repeat; k++) {
        got = 0;
        if (evc_store_read(jks.data, jks.len, &o, &sink, NULL, &err) != 0 || got != n) {
            fprintf(stderr, "jks_bench: JKS: %s (%zu read)\n", evc_err_message(&err), got);
            return 1;
        }
    }
    tj = (ms_now() - t0) / repeat;
    t0 = ms_now();
    for (int k = 0; k < repeat; k++) {
        got = 0;
        if (evc_store_read(p12.data, p12.len, &o, &sink, NULL, &err) != 0 || got != n) {
            fprintf(stderr, "jks_bench: PKCS#12: %s (%zu read)\n", evc_err_message(&err), got);
            return 1;
        }
    }
    tp = (ms_now() - t0) / repeat;
    printf("%zu certificates, %d reads each\n", n, repeat);
    printf("JKS      %9zu bytes  %8.2f ms per read (digest checked)\n", jks.len, tj);
    printf("PKCS#12  %9zu bytes  %8.2f ms per read (MAC checked, safe decrypted)\n", p12.len, tp);
    printf("JKS/PKCS#12 time ratio: %.4f (PKCS#12 takes %.0f times as long)\n", tj / tp, tp / tj);
    for (size_t i = 0; i < n; i++) {
        X509_free(certs[i]);
    }
    free(certs);
    EVP_PKEY_free(key);
    evc_buf_free(&jks);
    evc_buf_free(&p12);
    return 0;
}
