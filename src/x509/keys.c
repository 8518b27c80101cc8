/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private keys and whole-certificate objects: generate, name, parse and
 * encode. Key bytes only ever pass through evc_buf, which is wiped on free.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "evercert/keys.h"

static const struct {
    const char *spec;
    const char *alg;   /* EVP_PKEY_Q_keygen type */
    const char *curve; /* or NULL */
    size_t bits;
} key_types[] = {
    {"ec:P-256", "EC", "P-256", 0},  {"ec:P-384", "EC", "P-384", 0},
    {"rsa:2048", "RSA", NULL, 2048}, {"rsa:3072", "RSA", NULL, 3072},
    {"rsa:4096", "RSA", NULL, 4096}, {"ed25519", "ED25519", NULL, 0},
};

int
evc_key_generate(const char *spec, EVP_PKEY **out, struct evc_err *err)
{
    EVP_PKEY *k = NULL;

    *out = NULL;
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
        if (strcmp(spec, key_types[i].spec) != 0) {
            continue;
        }
        if (key_types[i].curve != NULL) {
            k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", key_types[i].curve);
        } else if (key_types[i].bits != 0) {
            k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", key_types[i].bits);
        } else {
            k = EVP_PKEY_Q_keygen(NULL, NULL, key_types[i].alg);
        }
        if (k == NULL) {
            return evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot generate a %s key", spec);
        }
        *out = k;
        return 0;
    }
    return evc_err_set(err, EVC_ERR_USAGE,
                       "unknown key type '%s' (ec:P-256, ec:P-384, rsa:2048, rsa:3072, "
                       "rsa:4096 or ed25519)",
                       spec);
}

int
evc_key_spec(const EVP_PKEY *key, char *out, size_t outlen, struct evc_err *err)
{
    char curve[64];

    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        snprintf(out, outlen, "rsa:%d", EVP_PKEY_get_bits(key));
        return 0;
    case EVP_PKEY_EC:
        if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                            NULL)) {
            return evc_err_openssl(err, EVC_ERR_BAD_KEY, "EC key without a named curve");
        }
        if (strcmp(curve, "prime256v1") == 0) {
            snprintf(out, outlen, "ec:P-256");
        } else if (strcmp(curve, "secp384r1") == 0) {
            snprintf(out, outlen, "ec:P-384");
        } else {
            return evc_err_set(err, EVC_ERR_BAD_KEY, "EC curve %s is not supported", curve);
        }
        return 0;
    case EVP_PKEY_ED25519:
        snprintf(out, outlen, "ed25519");
        return 0;
    default:
        return evc_err_set(err, EVC_ERR_BAD_KEY, "key type %s is not supported",
                           EVP_PKEY_get0_type_name(key));
    }
}

int
evc_key_parse(const uint8_t *pem, size_t len, EVP_PKEY **out, struct evc_err *err)
{
    BIO *b = NULL;
    EVP_PKEY *k = NULL;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    if (len > INT_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "cannot read key");
        goto out;
    }
    /* An empty password callback: an encrypted key fails instead of prompting. */
    if ((k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"")) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_KEY, "not an unencrypted PEM private key");
        goto out;
    }
    *out = k;
    k = NULL;
    r = 0;
out:
    EVP_PKEY_free(k);
    BIO_free(b);
    return r;
}

/* Move a memory BIO's contents into out, then wipe the BIO's copy. */
static int
bio_to_buf(BIO *b, struct evc_buf *out, struct evc_err *err)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    int r;

    if (n < 0) {
        return evc_err_set(err, EVC_ERR_INTERNAL, "empty PEM output");
    }
    r = evc_buf_put(out, p, (size_t)n);
    OPENSSL_cleanse(p, (size_t)n);
    return r != 0 ? evc_err_set(err, r, "%s", evc_strerror(r)) : 0;
}

int
evc_key_pem(EVP_PKEY *key, struct evc_buf *out, struct evc_err *err)
{
    BIO *b;
    int r;

    if ((b = BIO_new(BIO_s_secmem())) == NULL && (b = BIO_new(BIO_s_mem())) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if (!PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the key");
    } else {
        r = bio_to_buf(b, out, err);
    }
    BIO_free(b);
    return r;
}

int
evc_x509_parse(const uint8_t *data, size_t len, X509 **out, struct evc_err *err)
{
    const uint8_t *p = data;
    BIO *b = NULL;
    X509 *x = NULL;

    *out = NULL;
    if (len > INT_MAX) {
        return evc_err_set(err, EVC_ERR_TOO_LARGE, "certificate too large");
    }
    if (len > 0 && data[0] == 0x30) {
        if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
            return evc_err_openssl(err, EVC_ERR_BAD_DER, "not a DER certificate");
        }
    } else {
        if ((b = BIO_new_mem_buf(data, (int)len)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        if (x == NULL) {
            return evc_err_openssl(err, EVC_ERR_BAD_PEM, "no PEM certificate");
        }
    }
    *out = x;
    return 0;
}

int
evc_x509_pem(X509 *cert, struct evc_buf *out, struct evc_err *err)
{
    BIO *b;
    int r;

    if ((b = BIO_new(BIO_s_mem())) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if (!PEM_write_bio_X509(b, cert)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the certificate");
    } else {
        r = bio_to_buf(b, out, err);
    }
    BIO_free(b);
    return r;
}

int
evc_key_check(X509 *cert, EVP_PKEY *key, struct evc_err *err)
{
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        return evc_err_set(err, EVC_ERR_KEY_MISMATCH, "the key does not match the certificate");
    }
    return 0;
}

int
evc_x509_signed_by(X509 *cert, X509 *issuer)
{
    EVP_PKEY *pub = X509_get0_pubkey(issuer);
    int ok = pub != NULL && X509_verify(cert, pub) == 1;

    ERR_clear_error();
    return ok;
}

int
evc_x509_sha256(X509 *cert, uint8_t out[32])
{
    unsigned int n = 0;

    if (!X509_digest(cert, EVP_sha256(), out, &n) || n != 32) {
        ERR_clear_error();
        return EVC_ERR_CRYPTO;
    }
    return 0;
}

int
evc_asn1_time(const ASN1_TIME *t, evc_time *out)
{
    struct tm g;

    if (t == NULL || !ASN1_TIME_to_tm(t, &g)) {
        ERR_clear_error();
        return EVC_ERR_BAD_TIME;
    }
    *out = evc_time_from_civil((int64_t)g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, g.tm_hour,
                               g.tm_min, g.tm_sec);
    return 0;
}
