/* SPDX-License-Identifier: Apache-2.0 */
/* Test certificates made with OpenSSL's own API (the reference we compare against). */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "testcert.h"

EVP_PKEY *
tc_key(const char *type)
{
    if (strncmp(type, "ec:", 3) == 0) {
        return EVP_EC_gen(type + 3);
    } else if (strncmp(type, "rsa:", 4) == 0) {
        return EVP_RSA_gen((unsigned)strtoul(type + 4, NULL, 10));
    }
    return EVP_PKEY_Q_keygen(NULL, NULL, strcmp(type, "ed25519") == 0 ? "ED25519" : "ED448");
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e == NULL || !X509_add_ext(x, e, -1)) {
        abort();
    }
    X509_EXTENSION_free(e);
}

X509 *
tc_cert(const struct tc_spec *s)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    EVP_PKEY *signer = s->signer ? s->signer : s->key;
    const char *p = s->subject;
    int mdless = EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448");

    /* "/CN=a/O=b": split on '/', each "type=value" in UTF-8; "+" joins an RDN. */
    while (p != NULL && *p == '/') {
        const char *eq = strchr(p, '='), *next = strchr(p + 1, '/');
        char type[32], val[1024];
        size_t vl = next ? (size_t)(next - eq - 1) : strlen(eq + 1);
        int set = 0;

        if (*(p + 1) == '+') {
            p++;
            set = -1;
        }
        snprintf(type, sizeof(type), "%.*s", (int)(eq - p - 1), p + 1);
        snprintf(val, sizeof(val), "%.*s", (int)vl, eq + 1);
        if (!X509_NAME_add_entry_by_txt(n, type, MBSTRING_UTF8, (unsigned char *)val, -1,
                                        set ? X509_NAME_entry_count(n) - 1 : -1, set ? 1 : 0)) {
            abort();
        }
        p = next;
    }
    X509_set_version(x, s->v1 ? X509_VERSION_1 : X509_VERSION_3);
    if (s->serial != 0) {
        ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
    } else {
        unsigned char rnd[16];
        BIGNUM *bn;

        RAND_bytes(rnd, sizeof(rnd));
        rnd[0] &= 0x7f;
        bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
    }
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, s->issuer ? s->issuer : n);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after);
    X509_set_pubkey(x, s->key);
    if (!s->v1) {
        add_ext(x, x, NID_basic_constraints, s->ca ? "critical,CA:TRUE" : "CA:FALSE");
        add_ext(x, x, NID_subject_key_identifier, "hash");
        if (s->sans != NULL) {
            add_ext(x, x, NID_subject_alt_name, s->sans);
        }
    }
    if (!X509_sign(x, signer, mdless ? NULL : EVP_sha256())) {
        abort();
    }
    X509_NAME_free(n);
    return x;
}

uint8_t *
tc_der(X509 *x, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);

    if (n <= 0) {
        abort();
    }
    *len = (size_t)n;
    return der;
}

char *
tc_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    PEM_write_bio_X509(b, x);
    n = BIO_get_mem_data(b, &data);
    out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}
