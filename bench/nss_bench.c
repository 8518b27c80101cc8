/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One certificate added to and removed from an NSS database that holds N
 * entries of others, through evercert (evc_trust_load + evc_trust_add,
 * evc_trust_load + evc_trust_remove: what the agent does, each opening
 * and closing the database) against NSS's own certutil -A and -D in the
 * same run. The database is made here with NSS (certutil -N's empty
 * password) and filled with N self-signed CA certificates trusted C,,.
 *
 * usage: nss_bench DIR N ROUNDS    (DIR must not exist)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cert.h>
#include <certdb.h>
#include <nss.h>
#include <pk11pub.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/stores.h"

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static X509 *
make(EVP_PKEY *k, const char *cn, int ca)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rand() & 0x7fffffff));
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                            ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(x, k, EVP_sha256());
    return x;
}

/* N foreign entries, as a browser profile collects them, in one NSS context. */
static int
fill(const char *dir, EVP_PKEY *k, int n)
{
    char spec[600], cn[64];
    NSSInitContext *ctx;
    PK11SlotInfo *slot;
    CERTCertTrust tr;

    snprintf(spec, sizeof(spec), "sql:%s", dir);
    if ((ctx = NSS_InitContext(spec, "", "", "", NULL, NSS_INIT_NOROOTINIT | NSS_INIT_NOMODDB)) ==
        NULL) {
        return -1;
    }
    slot = PK11_GetInternalKeySlot();
    if (PK11_NeedUserInit(slot)) {
        PK11_InitPin(slot, NULL, "");
    }
    CERT_DecodeTrustString(&tr, "C,,");
    for (int i = 0; i < n; i++) {
        unsigned char *der = NULL;
        X509 *x;
        int len;
        SECItem item;
        CERTCertificate *c;

        snprintf(cn, sizeof(cn), "Foreign Root %d", i);
        x = make(k, cn, 1);
        len = i2d_X509(x, &der);
        item.type = siBuffer;
        item.data = der;
        item.len = (unsigned)len;
        c = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &item, NULL, PR_FALSE, PR_TRUE);
        if (c == NULL || PK11_ImportCert(slot, c, CK_INVALID_HANDLE, cn, PR_FALSE) != SECSuccess ||
            CERT_ChangeCertTrust(CERT_GetDefaultCertDB(), c, &tr) != SECSuccess) {
            return -1;
        }
        CERT_DestroyCertificate(c);
        OPENSSL_free(der);
        X509_free(x);
    }
    PK11_FreeSlot(slot);
    return NSS_ShutdownContext(ctx) == SECSuccess ? 0 : -1;
}

int
main(int argc, char **argv)
{
    EVP_PKEY *k;
    X509 *x;
    FILE *f;
    struct evc_err err = {0};
    char pem[600], cmd[2048];
    double t0, evc = 0, cu = 0;
    uint8_t fp[32];
    unsigned fplen;
    int n, rounds;

    if (argc != 4 || mkdir(argv[1], 0700) != 0) {
        fprintf(stderr, "usage: nss_bench DIR N ROUNDS (DIR must not exist)\n");
        return 2;
    }
    n = (int)strtol(argv[2], NULL, 10);
    rounds = (int)strtol(argv[3], NULL, 10);
    if (n < 0 || rounds < 1) {
        fprintf(stderr, "usage: nss_bench DIR N ROUNDS\n");
        return 2;
    }
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    x = make(k, "web.test", 0);
    snprintf(pem, sizeof(pem), "%s.pem", argv[1]);
    if (k == NULL || x == NULL || (f = fopen(pem, "w")) == NULL) {
        return 1;
    }
    PEM_write_X509(f, x);
    fclose(f);
    if (fill(argv[1], k, n) != 0) {
        fprintf(stderr, "nss_bench: cannot fill %s\n", argv[1]);
        return 1;
    }
    if (X509_digest(x, EVP_sha256(), fp, &fplen) != 1) {
        return 1;
    }
    for (int r = 0; r < rounds; r++) {
        struct evc_trust *t = NULL;
        long i;

        t0 = now();
        if (evc_trust_load(argv[1], NULL, &t, &err) != 0 || evc_trust_add(t, x, &err) != 0) {
            fprintf(stderr, "nss_bench: %s\n", evc_err_message(&err));
            return 1;
        }
        evc_trust_free(t);
        if (evc_trust_load(argv[1], NULL, &t, &err) != 0 || (i = evc_trust_find(t, fp)) < 0 ||
            evc_trust_remove(t, (size_t)i, &err) != 0) {
            fprintf(stderr, "nss_bench: %s\n", evc_err_message(&err));
            return 1;
        }
        evc_trust_free(t);
        evc += now() - t0;

        t0 = now();
        snprintf(cmd, sizeof(cmd),
                 "certutil -A -d 'sql:%s' -n bench -t CP,, -i '%s' && certutil -D -d 'sql:%s' -n "
                 "bench",
                 argv[1], pem, argv[1]);
        if (system(cmd) != 0) {
            fprintf(stderr, "nss_bench: certutil failed\n");
            return 1;
        }
        cu += now() - t0;
    }
    printf(
        "%d foreign entries: evercert add+remove %.1f ms, certutil -A + -D %.1f ms, ratio %.2f\n",
        n, evc * 1000 / rounds, cu * 1000 / rounds, evc / cu);
    X509_free(x);
    EVP_PKEY_free(k);
    return 0;
}
