/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crash test's judge, written against OpenSSL alone so it shares no
 * code with what it judges, and checks a whole store set in one process:
 *
 *   storecheck pair CERT KEY      the key is the certificate's
 *   storecheck sa FILE            a CMS SignedData whose signatures verify
 *   storecheck verify CAFILE CAPATH CERT   OpenSSL verifies CERT ("-" = none)
 *   storecheck in BUNDLE CERT     BUNDLE holds CERT
 *   storecheck differ A B         A and B are different certificates
 *
 * Any number of checks may follow one another on one command line.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static X509 *
cert_at(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f != NULL) {
        fclose(f);
    }
    return x;
}

static int
pair(const char *c, const char *k)
{
    FILE *f = fopen(k, "r");
    EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    X509 *x = cert_at(c);
    int ok = x != NULL && key != NULL && X509_check_private_key(x, key) == 1;

    if (f != NULL) {
        fclose(f);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static int
sa(const char *path)
{
    BIO *in = BIO_new_file(path, "rb");
    CMS_ContentInfo *cms = in != NULL ? d2i_CMS_bio(in, NULL) : NULL;
    BIO *out = BIO_new(BIO_s_null());
    int ok = cms != NULL &&
             CMS_verify(cms, NULL, NULL, NULL, out, CMS_NO_SIGNER_CERT_VERIFY) == 1 &&
             sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) == 2;

    BIO_free(in);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    return ok;
}

static int
verify(const char *cafile, const char *capath, const char *cert)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *x = cert_at(cert);
    int ok = st != NULL && ctx != NULL && x != NULL &&
             X509_STORE_load_locations(st, strcmp(cafile, "-") == 0 ? NULL : cafile,
                                       strcmp(capath, "-") == 0 ? NULL : capath) == 1 &&
             X509_STORE_CTX_init(ctx, st, x, NULL) == 1 && X509_verify_cert(ctx) == 1;

    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_free(x);
    return ok;
}

static int
in(const char *bundle, const char *cert)
{
    FILE *f = fopen(bundle, "r");
    X509 *want = cert_at(cert), *x;
    int found = 0;

    while (f != NULL && want != NULL && !found &&
           (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        found = X509_cmp(x, want) == 0;
        X509_free(x);
    }
    if (f != NULL) {
        fclose(f);
    }
    X509_free(want);
    return found;
}

static int
differ(const char *a, const char *b)
{
    X509 *x = cert_at(a), *y = cert_at(b);
    int ok = x != NULL && y != NULL && X509_cmp(x, y) != 0;

    X509_free(x);
    X509_free(y);
    return ok;
}

int
main(int argc, char **argv)
{
    int i = 1, ok;

    while (i < argc) {
        const char *op = argv[i];
        int at = i;

        if (strcmp(op, "pair") == 0 && i + 2 < argc) {
            ok = pair(argv[i + 1], argv[i + 2]);
            i += 3;
        } else if (strcmp(op, "sa") == 0 && i + 1 < argc) {
            ok = sa(argv[i + 1]);
            i += 2;
        } else if (strcmp(op, "verify") == 0 && i + 3 < argc) {
            ok = verify(argv[i + 1], argv[i + 2], argv[i + 3]);
            i += 4;
        } else if (strcmp(op, "in") == 0 && i + 2 < argc) {
            ok = in(argv[i + 1], argv[i + 2]);
            i += 3;
        } else if (strcmp(op, "differ") == 0 && i + 2 < argc) {
            ok = differ(argv[i + 1], argv[i + 2]);
            i += 3;
        } else {
            fprintf(stderr, "storecheck: bad arguments at '%s'\n", op);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "storecheck: failed:");
            for (int k = at; k < i; k++) {
                fprintf(stderr, " %s", argv[k]);
            }
            fputc('\n', stderr);
            ERR_print_errors_fp(stderr);
            return 1;
        }
    }
    return 0;
}
