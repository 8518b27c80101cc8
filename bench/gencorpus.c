/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Make a benchmark corpus: COUNT EC P-256 certificates issued by one root,
 * spread over FILES PEM files, plus a bundle of BUNDLE more.
 *
 * usage: gencorpus DIR FILES PER_FILE BUNDLE
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static X509 *
make(EVP_PKEY *key, EVP_PKEY *signer, X509_NAME *issuer, long serial, int ca)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    char cn[64], san[160];

    snprintf(cn, sizeof(cn), ca ? "Bench Root CA" : "host%ld.bench.example", serial);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (unsigned char *)"Bench", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (unsigned char *)cn, -1, -1, 0);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? issuer : n);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * (1 + serial % 400));
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
    snprintf(san, sizeof(san), "DNS:host%ld.bench.example,DNS:www%ld.bench.example", serial,
             serial);
    e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                            ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (!X509_sign(x, signer, EVP_sha256())) {
        exit(1);
    }
    X509_NAME_free(n);
    return x;
}

int
main(int argc, char **argv)
{
    EVP_PKEY *cakey, *key;
    X509 *ca;
    long serial = 1;
    int files, per, bundle;
    char path[4096];
    FILE *f;

    if (argc != 5) {
        fprintf(stderr, "usage: gencorpus DIR FILES PER_FILE BUNDLE\n");
        return 2;
    }
    files = (int)strtol(argv[2], NULL, 10);
    per = (int)strtol(argv[3], NULL, 10);
    bundle = (int)strtol(argv[4], NULL, 10);
    cakey = EVP_EC_gen("P-256");
    key = EVP_EC_gen("P-256");
    ca = make(cakey, cakey, NULL, 0, 1);
    for (int i = 0; i <= files; i++) {
        int n = i == files ? bundle : per;

        snprintf(path, sizeof(path), i == files ? "%s/bundle.pem" : "%s/f%04d.pem", argv[1], i);
        if ((f = fopen(path, "w")) == NULL) {
            perror(path);
            return 1;
        }
        for (int k = 0; k < n; k++) {
            X509 *x = make(key, cakey, X509_get_subject_name(ca), serial++, 0);

            PEM_write_X509(f, x);
            X509_free(x);
        }
        if (i == 0) {
            PEM_write_X509(f, ca);
        }
        fclose(f);
    }
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(cakey);
    return 0;
}
