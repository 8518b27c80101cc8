/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and certificates we make: roots, chained certificates, self-signed
 * server certificates, and renewals of any of them from the old one.
 *
 * These functions hand over OpenSSL objects (X509, EVP_PKEY); the caller
 * frees them with X509_free/EVP_PKEY_free. Private keys never leave these
 * functions except through evc_key_pem(), into a buffer that is wiped when
 * freed.
 */
#ifndef EVERCERT_CA_H
#define EVERCERT_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/time.h"

/* The root renew creates when a certificate's root is in no root store. */
#define EVC_DEFAULT_ROOT_CN "evercert default root"
#define EVC_DEFAULT_ROOT_LIFETIME ((int64_t)15 * 365 * 86400 + 4 * 86400)

/* Key types: "ec:P-256" "ec:P-384" "rsa:2048" "rsa:3072" "rsa:4096" "ed25519". */
#define EVC_KEY_DEFAULT "ec:P-256"

/* A new private key of type spec. EVC_ERR_USAGE for an unknown spec. */
EVC_EXPORT EVC_MUST_USE int evc_key_generate(const char *spec, EVP_PKEY **out, struct evc_err *err);
/* The spec of a key ("ec:P-256"), into out (at least 32 bytes). */
EVC_EXPORT EVC_MUST_USE int evc_key_spec(const EVP_PKEY *key, char *out, size_t outlen,
                                         struct evc_err *err);
/* A private key from PEM (PKCS#8 or traditional, unencrypted); whole input must be one key. */
EVC_EXPORT EVC_MUST_USE int evc_key_parse(const uint8_t *pem, size_t len, EVP_PKEY **out,
                                          struct evc_err *err);
/* Append the key as unencrypted PKCS#8 PEM to out. */
EVC_EXPORT EVC_MUST_USE int evc_key_pem(EVP_PKEY *key, struct evc_buf *out, struct evc_err *err);
/* The first certificate of a PEM or DER input. */
EVC_EXPORT EVC_MUST_USE int evc_x509_parse(const uint8_t *data, size_t len, X509 **out,
                                           struct evc_err *err);
/* Append the certificate as PEM to out. */
EVC_EXPORT EVC_MUST_USE int evc_x509_pem(X509 *cert, struct evc_buf *out, struct evc_err *err);
/* 0 if key is the private half of cert's public key, else EVC_ERR_KEY_MISMATCH. */
EVC_EXPORT EVC_MUST_USE int evc_key_check(X509 *cert, EVP_PKEY *key, struct evc_err *err);
/* 1 if issuer's key verifies cert's signature, else 0. */
EVC_EXPORT int evc_x509_signed_by(X509 *cert, X509 *issuer);
/* An ASN.1 UTCTime or GeneralizedTime as seconds since the epoch; EVC_ERR_BAD_TIME. */
EVC_EXPORT EVC_MUST_USE int evc_asn1_time(const ASN1_TIME *t, evc_time *out);
/* SHA-256 of the DER of cert. */
EVC_EXPORT EVC_MUST_USE int evc_x509_sha256(X509 *cert, uint8_t out[32]);

enum evc_profile {
    EVC_PROFILE_ROOT = 0,   /* CA, pathlen 0, keyCertSign and cRLSign */
    EVC_PROFILE_SERVER,     /* serverAuth, SAN required */
    EVC_PROFILE_CLIENT,     /* clientAuth */
    EVC_PROFILE_SELFSIGNED, /* a server certificate that signs itself, for pinning */
};

struct evc_cert_req {
    enum evc_profile profile;
    const char *subject;     /* "CN=x,O=y" (RFC 4514 order, commas); or NULL and cn */
    const char *cn;          /* used when subject is NULL */
    const char *const *sans; /* "DNS:name", "IP:addr" */
    size_t nsans;
    evc_time not_before;
    evc_time not_after;
};

/*
 * A new certificate for key as req says, signed by issuer_key and named
 * under issuer, or self-signed when issuer is NULL. EVC_ERR_USAGE for a
 * bad subject, SAN or validity.
 */
EVC_EXPORT EVC_MUST_USE int evc_ca_make(const struct evc_cert_req *req, EVP_PKEY *key, X509 *issuer,
                                        EVP_PKEY *issuer_key, X509 **out, struct evc_err *err);

/*
 * The successor of old, "along the lines of the old certificate with the
 * same attributes": same subject, extensions and lifetime length, a new
 * serial, valid from a tenth of its lifetime (at most five minutes)
 * before now, for clients whose clocks lag, for key, signed by issuer_key under issuer (or
 * by key itself when issuer is NULL). Key identifiers are recomputed.
 */
EVC_EXPORT EVC_MUST_USE int evc_ca_renew(X509 *old, EVP_PKEY *key, X509 *issuer,
                                         EVP_PKEY *issuer_key, evc_time now, X509 **out,
                                         struct evc_err *err);

#endif
