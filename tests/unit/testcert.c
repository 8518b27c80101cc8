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

/* An extension with the given content bytes, which OpenSSL does not check. */
static void
add_raw_ext(X509 *x, ASN1_OBJECT *obj, int crit, const uint8_t *val, int len)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e;

    if (os == NULL || !ASN1_OCTET_STRING_set(os, val, len) ||
        (e = X509_EXTENSION_create_by_OBJ(NULL, obj, crit, os)) == NULL ||
        !X509_add_ext(x, e, -1)) {
        abort();
    }
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
}

static void
make_odd(X509 *x, enum tc_odd odd, const char *sans)
{
    /* GeneralNames claiming 7 bytes of dNSName in 3: OpenSSL's d2i refuses it. */
    static const uint8_t bad_san[] = {0x30, 0x05, 0x82, 0x07, 'a', 'b', 'c'};
    static const uint8_t null_value[] = {0x05, 0x00};
    unsigned char *junk;
    ASN1_OBJECT *obj;
    BIGNUM *bn;

    switch (odd) {
    case TC_ODD_NONE:
        break;
    case TC_ODD_DUP_SAN:
        add_ext(x, x, NID_subject_alt_name, sans ? sans : "DNS:dup.example");
        break;
    case TC_ODD_BAD_SAN:
        add_raw_ext(x, OBJ_nid2obj(NID_subject_alt_name), 0, bad_san, sizeof(bad_san));
        break;
    case TC_ODD_V4:
        if (!X509_set_version(x, 3)) {
            abort();
        }
        break;
    case TC_ODD_BAD_KEY:
        /* rsaEncryption whose BIT STRING holds three bytes, not an RSAPublicKey. */
        if ((junk = OPENSSL_malloc(3)) == NULL) {
            abort();
        }
        memcpy(junk, "\x01\x02\x03", 3);
        if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_rsaEncryption),
                                    V_ASN1_NULL, NULL, junk, 3)) {
            abort();
        }
        break;
    case TC_ODD_CRIT_EXT:
        if ((obj = OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1)) == NULL) {
            abort();
        }
        add_raw_ext(x, obj, 1, null_value, sizeof(null_value));
        ASN1_OBJECT_free(obj);
        break;
    case TC_ODD_NEG_SERIAL:
        ASN1_INTEGER_set(X509_get_serialNumber(x), -4660);
        break;
    case TC_ODD_LONG_SERIAL: {
        unsigned char rnd[40];

        memset(rnd, 0x5a, sizeof(rnd));
        bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
        break;
    }
    default:
        abort();
    }
}

const char *
tc_odd_name(enum tc_odd odd)
{
    static const char *const names[TC_ODD_COUNT] = {
        "none",
        "duplicate subjectAltName",
        "malformed subjectAltName",
        "version 4",
        "undecodable public key",
        "unknown critical extension",
        "negative serial",
        "40-byte serial",
    };

    return odd < TC_ODD_COUNT ? names[odd] : "?";
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
        if (s->sans != NULL && s->odd != TC_ODD_BAD_SAN) {
            add_ext(x, x, NID_subject_alt_name, s->sans);
        }
    }
    make_odd(x, s->odd, s->sans);
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
