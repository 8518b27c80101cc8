/* SPDX-License-Identifier: Apache-2.0 */
/* Making real certificates in memory for the tests, with OpenSSL itself. */
#ifndef EVC_TESTCERT_H
#define EVC_TESTCERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Certificates OpenSSL parses (d2i_X509 takes them whole) that are odd in one way. */
enum tc_odd {
    TC_ODD_NONE = 0,
    TC_ODD_DUP_SAN,     /* two subjectAltName extensions */
    TC_ODD_BAD_SAN,     /* a subjectAltName whose content is not GeneralNames */
    TC_ODD_V4,          /* version 4: the INTEGER holds 3 */
    TC_ODD_BAD_KEY,     /* rsaEncryption with a key that does not decode */
    TC_ODD_CRIT_EXT,    /* an unknown extension marked critical */
    TC_ODD_NEG_SERIAL,  /* a negative serial number */
    TC_ODD_LONG_SERIAL, /* a 40-byte serial number (RFC 5280 allows 20) */
    TC_ODD_COUNT
};

struct tc_spec {
    EVP_PKEY *key;       /* subject key */
    EVP_PKEY *signer;    /* NULL: self-signed with key */
    X509_NAME *issuer;   /* NULL: the subject */
    const char *subject; /* "/CN=x/O=y", UTF-8 */
    int v1;              /* no extensions, version 1 */
    int ca;
    const char *sans;              /* "DNS:a,IP:1.2.3.4" */
    int64_t not_before, not_after; /* Unix time */
    long serial;                   /* 0: a random 16-byte serial */
    enum tc_odd odd;
};

EVP_PKEY *tc_key(const char *type); /* "ec:P-256", "rsa:2048", "ed25519", ... */
X509 *tc_cert(const struct tc_spec *s);
/* DER of x in a malloc'd buffer. */
uint8_t *tc_der(X509 *x, size_t *len);
/* "duplicate subjectAltName", ...: what is odd about a TC_ODD_* certificate. */
const char *tc_odd_name(enum tc_odd odd);
/* PEM of x appended to a malloc'd string. */
char *tc_pem(X509 *x);

#endif
