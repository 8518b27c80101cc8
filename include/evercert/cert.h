/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What evercert knows about one certificate, read straight from its DER,
 * and how it classifies it at a given time.
 *
 * The reader walks the DER with OpenSSL's ASN.1 primitives and decodes only
 * the fields it reports, which is an order of magnitude faster than a full
 * d2i_X509(); tests/unit/cert_diff_test.c proves the two agree.
 */
#ifndef EVERCERT_CERT_H
#define EVERCERT_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"
#include "evercert/time.h"

/* Bytes of a name identity (128 bits: no collision among any real set). */
#define EVC_NAME_ID_LEN 16

/* Longest key description, e.g. "rsa-pss:16384" or "ec:brainpoolP512r1". */
#define EVC_KEY_TEXT_MAX 64

enum evc_status {
    EVC_STATUS_OK = 0,
    EVC_STATUS_PRENOTIFY,
    EVC_STATUS_THRESHOLD,
    EVC_STATUS_EXPIRED,
    EVC_STATUS_NOT_YET_VALID,
    EVC_STATUS_COUNT
};

enum evc_kind {
    EVC_KIND_ROOT = 0,    /* self-issued CA */
    EVC_KIND_SELF_SIGNED, /* self-issued, not a CA */
    EVC_KIND_CHAINED,     /* its issuer is among the certificates we hold */
    EVC_KIND_EXTERNAL,    /* issued by someone else */
    EVC_KIND_COUNT
};

struct evc_cert {
    int version;   /* 1, 2 or 3; more in a certificate read with a warning */
    char *serial;  /* upper-case hex, "-" first if negative */
    char *subject; /* RFC 2253 order and escaping, UTF-8 kept as is */
    char *issuer;
    evc_time not_before;
    evc_time not_after;
    uint8_t sha256[32];         /* of the whole DER */
    int is_ca;                  /* basicConstraints cA, or a v1 self-issued certificate */
    int self_issued;            /* subject and issuer are the same DER */
    char key[EVC_KEY_TEXT_MAX]; /* "ec:P-256", "rsa:2048", "ed25519", ... */
    char **sans;                /* "DNS:x", "IP:127.0.0.1", "email:a@b", "URI:u" */
    size_t nsans;
    /* Truncated SHA-256 of the names' DER: who issued whom, without keeping names. */
    uint8_t subject_id[EVC_NAME_ID_LEN];
    uint8_t issuer_id[EVC_NAME_ID_LEN];
    /* Borrowed from the input DER: valid only while it is. */
    const uint8_t *subject_der;
    size_t subject_der_len;
    const uint8_t *issuer_der;
    size_t issuer_der_len;
    /*
     * NULL, or what the fast reader found wrong with a certificate that
     * OpenSSL reads all the same ("duplicate subjectAltName extension"):
     * its fields are then OpenSSL's, and the subject_der and issuer_der
     * slices may be empty.
     */
    char *warning;
};

/* The thresholds of docs/DESIGN.md: defaults 60 days and 90 days before that. */
struct evc_thresholds {
    struct evc_span threshold;
    struct evc_span prenotify;
};
#define EVC_THRESHOLD_DEFAULT ((int64_t)60 * 86400)
#define EVC_PRENOTIFY_DEFAULT ((int64_t)90 * 86400)
EVC_EXPORT void evc_thresholds_default(struct evc_thresholds *t);

/*
 * A reader holds per-thread scratch (a digest context, a memory BIO, the
 * last issuer seen), so one reader must not be used by two threads at once.
 */
struct evc_cert_reader;
EVC_EXPORT EVC_MUST_USE int evc_cert_reader_new(struct evc_cert_reader **out);
EVC_EXPORT void evc_cert_reader_free(struct evc_cert_reader *r);

/*
 * Read one DER certificate that fills der exactly. On success *out owns its
 * strings (free with evc_cert_clear); on failure *out is empty and err says
 * why. A certificate the fast reader refuses but d2i_X509() takes whole is
 * read with OpenSSL and succeeds with out->warning set, so its expiry is
 * never lost. Errors (OpenSSL refuses it too, or its validity is not a
 * time): EVC_ERR_BAD_DER, TRUNCATED, TRAILING, BAD_TIME, LIMIT, NOMEM,
 * CRYPTO.
 */
EVC_EXPORT EVC_MUST_USE int evc_cert_read(struct evc_cert_reader *r, const uint8_t *der, size_t len,
                                          struct evc_cert *out, struct evc_err *err);
EVC_EXPORT void evc_cert_clear(struct evc_cert *c);

/*
 * The name identities of a certificate by a structural walk only, without
 * decoding the rest: what a scan needs to learn who issued whom.
 */
EVC_EXPORT EVC_MUST_USE int evc_cert_read_names(struct evc_cert_reader *r, const uint8_t *der,
                                                size_t len, uint8_t subject_id[EVC_NAME_ID_LEN],
                                                uint8_t issuer_id[EVC_NAME_ID_LEN]);

/*
 * Length of the first DER element in der (header and content), or 0 when
 * der does not start with a complete definite-length element. Pure.
 */
EVC_EXPORT size_t evc_der_element_len(const uint8_t *der, size_t len);

/*
 * The one DER framer, for bytes that are still coming (a stream) as well
 * as whole ones: given the first len bytes of an element, 0 with its
 * length (header and content) in *total once its header is in, whether or
 * not the content is; 1 when more bytes are needed to read the header,
 * *total then how many to have before asking again (never past the
 * header, so a reader never reads into what follows); EVC_ERR_BAD_DER for
 * an indefinite length or a header over EVC_DER_TAG_BYTES_MAX tag bytes or
 * EVC_DER_LENGTH_BYTES_MAX length bytes, *total then 0. Pure, linear.
 */
EVC_EXPORT EVC_MUST_USE int evc_der_element_head(const uint8_t *der, size_t len, size_t *total);

/*
 * When a certificate enters its expiration threshold: not_after minus the
 * threshold, a threshold over half the lifetime counting as half. The one
 * moment scan reports as "threshold", renew replaces at and the agent
 * expects the next SA by.
 */
EVC_EXPORT evc_time evc_renew_moment(evc_time not_before, evc_time not_after,
                                     const struct evc_thresholds *t);

/*
 * Classify a validity period at time now (docs/DESIGN.md, Classification):
 * expired if now >= not_after; not_yet_valid if now < not_before; threshold
 * from evc_renew_moment; prenotify from the prenotification period before
 * that, a period over half the time from not_before to the renewal moment
 * counting as half; else ok. Percentages are of the lifetime.
 */
EVC_EXPORT enum evc_status evc_classify(evc_time not_before, evc_time not_after, evc_time now,
                                        const struct evc_thresholds *t);

/* root, self-signed, chained (issuer_held: we hold its issuer) or external. */
EVC_EXPORT enum evc_kind evc_kind_of(const struct evc_cert *c, int issuer_held);

EVC_EXPORT const char *evc_status_name(enum evc_status s);
EVC_EXPORT const char *evc_kind_name(enum evc_kind k);

#endif
