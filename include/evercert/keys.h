/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and certificates as OpenSSL objects (the x509 layer): make, read
 * and write keys, read and write certificates, and the checks between them.
 *
 * These functions hand over OpenSSL objects (X509, EVP_PKEY); the caller
 * frees them with X509_free/EVP_PKEY_free. Private keys never leave these
 * functions except through evc_key_pem(), into a buffer that is wiped when
 * freed.
 */
#ifndef EVERCERT_KEYS_H
#define EVERCERT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/time.h"

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

#endif
