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

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/time.h"

/* Every certificate of a PEM, DER or PKCS#12 input, as X509 objects. */
EVC_EXPORT EVC_MUST_USE int evc_certs_parse(const uint8_t *data, size_t len, const char *password,
                                            STACK_OF(X509) * *out, struct evc_err *err);

/* One certificate block of a PEM file and where its bytes are. */
struct evc_pem_cert {
    X509 *x;            /* a TRUSTED CERTIFICATE's with its trust and reject settings */
    size_t start, end;  /* from its BEGIN line to past its END line's line break */
    unsigned long line; /* of the BEGIN line */
};

/*
 * Every CERTIFICATE, X509 CERTIFICATE and TRUSTED CERTIFICATE block of a
 * PEM file, in order; other bytes are skipped. Pure and linear. A block
 * that does not decode is an error naming its line (EVC_ERR_BAD_PEM,
 * EVC_ERR_BAD_DER, EVC_ERR_TRUNCATED, EVC_ERR_LIMIT). *out (n entries) is
 * freed with evc_pem_certs_free.
 */
EVC_EXPORT EVC_MUST_USE int evc_pem_certs_parse(const uint8_t *data, size_t len,
                                                struct evc_pem_cert **out, size_t *n,
                                                struct evc_err *err);
EVC_EXPORT void evc_pem_certs_free(struct evc_pem_cert *v, size_t n);

struct evc_trust_cert {
    X509 *x; /* with the trust settings of a TRUSTED CERTIFICATE block */
    uint8_t sha256[32];
    char *file; /* the file of a hashed directory that holds it; an NSS nickname; else NULL */
    int linked; /* OpenSSL finds it: always, but in a hashed directory only with a <hash>.N link */
    size_t start, end; /* a PEM bundle: the bytes of its block */
};

struct evc_trust_ops;
struct evc_pkcs12_doc;
struct evc_jks;

struct evc_trust {
    char *path;
    char *password; /* PKCS#12 only; wiped on free */
    const struct evc_trust_ops *ops;
    struct evc_trust_cert *certs;
    size_t n;
    struct evc_buf pem;         /* a PEM bundle: the file as it is on disk */
    struct evc_pkcs12_doc *p12; /* a PKCS#12 truststore: every safe and bag as on disk */
    struct evc_jks *jks;        /* a Java keystore: every entry as on disk */
};

/*
 * Read the trust store at path: a directory is a hashed directory (every
 * file in it must hold certificates), a file a PEM bundle, a PKCS#12
 * truststore or a Java keystore (JKS or JCEKS: its trusted certificate
 * entries and its key entries' certificates; written only with its
 * password); a directory holding cert9.db, or "nss:DIR" or "sql:DIR", is
 * an NSS database (src/store/nss.c: what evercert adds is named
 * "evercert <hex>" and only that is ever deleted; a CA is trusted C,,, a
 * cA=FALSE one CP,,, any other P,,); "system:DIR" is a system trust
 * directory (*.crt files at any depth, no links). Errors name the file
 * and the reason.
 *
 * What is not evercert's stays as it is through every change: a bundle
 * gets one block appended or one block cut, every other byte kept
 * (comments, other blocks, TRUSTED CERTIFICATE blocks with their reject
 * marks, order); a hashed directory gets its own evercert-*.pem files and
 * links, other files untouched; a PKCS#12 store keeps every other bag with
 * its attributes. A file keeps its mode, owner and group; a path that is
 * a symbolic link is written through and stays a link (evc_atomic_write).
 * New files are 0644.
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

/*
 * Read every entry of the deleted store at path, a directory; one that
 * does not exist yet is empty, and evc_deleted_put creates it (0700).
 */
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
