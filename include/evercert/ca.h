/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates we make: roots, chained certificates, self-signed server
 * certificates, and renewals of any of them from the old one. The keys and
 * certificates themselves, as OpenSSL objects, are evercert/keys.h's.
 */
#ifndef EVERCERT_CA_H
#define EVERCERT_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/keys.h"
#include "evercert/time.h"

/* The root renew creates when a certificate's root is in no root store. */
#define EVC_DEFAULT_ROOT_CN "evercert default root"
#define EVC_DEFAULT_ROOT_LIFETIME ((int64_t)15 * 365 * 86400 + 4 * 86400)

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
