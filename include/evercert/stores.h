/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stores `renew` writes: trust stores (a PEM bundle, an OpenSSL hashed
 * directory, a PKCS#12 truststore; one interface, a table of backends) and
 * the deleted store (a directory of PEM files, each with the time and the
 * reason it was removed). Every change is written atomically and durably
 * before the function returns.
 */
#ifndef EVERCERT_STORES_H
#define EVERCERT_STORES_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "evercert/error.h"
#include "evercert/time.h"

/* Every certificate of a PEM, DER or PKCS#12 input, as X509 objects. */
EVC_EXPORT EVC_MUST_USE int evc_certs_parse(const uint8_t *data, size_t len, const char *password,
                                            STACK_OF(X509) * *out, struct evc_err *err);

struct evc_trust_cert {
    X509 *x;
    uint8_t sha256[32];
    char *file; /* the file of a hashed directory that holds it; NULL otherwise */
    int linked; /* OpenSSL finds it: always, but in a hashed directory only with a <hash>.N link */
};

struct evc_trust_ops;

struct evc_trust {
    char *path;
    char *password; /* PKCS#12 only; wiped on free */
    const struct evc_trust_ops *ops;
    struct evc_trust_cert *certs;
    size_t n;
};

/*
 * Read the trust store at path: a directory is a hashed directory (every
 * file in it must hold certificates), a file a PEM bundle or a PKCS#12
 * truststore. Errors name the file and the reason.
 */
EVC_EXPORT EVC_MUST_USE int evc_trust_load(const char *path, const char *password,
                                           struct evc_trust **out, struct evc_err *err);
/* Add x (a reference is taken) and write the store. */
EVC_EXPORT EVC_MUST_USE int evc_trust_add(struct evc_trust *t, X509 *x, struct evc_err *err);
/* Remove certs[i] and write the store. */
EVC_EXPORT EVC_MUST_USE int evc_trust_remove(struct evc_trust *t, size_t i, struct evc_err *err);
/* The index of the certificate with this SHA-256 that OpenSSL finds (linked), or -1. */
EVC_EXPORT long evc_trust_find(const struct evc_trust *t, const uint8_t sha256[32]);
EVC_EXPORT const char *evc_trust_format(const struct evc_trust *t);
EVC_EXPORT void evc_trust_free(struct evc_trust *t);

struct evc_deleted_entry {
    char *file;
    evc_time deleted_at;
    X509 *x;
};

struct evc_deleted {
    char *path;
    struct evc_deleted_entry *entries;
    size_t n;
};

/* Read every entry of the deleted store at path (a directory that must exist). */
EVC_EXPORT EVC_MUST_USE int evc_deleted_load(const char *path, struct evc_deleted **out,
                                             struct evc_err *err);
/*
 * Keep x in the deleted store with when, which store and why. Idempotent:
 * an entry for the same certificate is kept as it is.
 */
EVC_EXPORT EVC_MUST_USE int evc_deleted_put(struct evc_deleted *d, X509 *x, const char *store,
                                            const char *reason, evc_time now, struct evc_err *err);
/* Remove entries[i] for good. */
EVC_EXPORT EVC_MUST_USE int evc_deleted_purge(struct evc_deleted *d, size_t i, struct evc_err *err);
EVC_EXPORT void evc_deleted_free(struct evc_deleted *d);
/*
 * The deletion time from an entry's text ("deleted-at: RFC3339" on its
 * first line). Pure. EVC_ERR_PARSE if missing or malformed.
 */
EVC_EXPORT EVC_MUST_USE int evc_deleted_header_parse(const char *text, size_t len,
                                                     evc_time *deleted_at);

#endif
