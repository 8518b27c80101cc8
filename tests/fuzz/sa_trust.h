/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixed trust of the SA targets: the certificate that signed the seed
 * SAs as "current" (trusted.h, written by make-corpus.sh with them), and a
 * fixed now, so that a run depends on neither the clock nor a file.
 */
#ifndef EVC_FUZZ_SA_TRUST_H
#define EVC_FUZZ_SA_TRUST_H

#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "evercert/announce.h"
#include "fuzz.h"
#include "trusted.h"

/* 2026-03-01T00:00:00Z: inside the seed certificates' validity. */
#define FUZZ_NOW ((evc_time)1772323200)

/* Parsed once; kept for the process's life. */
static inline X509 *
fuzz_trusted(void)
{
    static X509 *x;

    if (x == NULL) {
        BIO *b = BIO_new_mem_buf(fuzz_trusted_pem, -1);

        x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        fuzz_check(x != NULL, "sa", "the fixed trusted certificate does not parse");
    }
    return x;
}

/* The same certificate as a trust store, for policy ca. */
static inline X509_STORE *
fuzz_trust_store(void)
{
    static X509_STORE *s;

    if (s == NULL) {
        s = X509_STORE_new();
        fuzz_check(s != NULL && X509_STORE_add_cert(s, fuzz_trusted()) == 1, "sa",
                   "cannot build the fixed trust store");
    }
    return s;
}

/* What every verdict promises, whatever the input. */
static inline void
fuzz_verdict_check(const char *target, const struct evc_sa_verdict *v, int decoded,
                   const struct evc_sa_known *k)
{
    fuzz_check(v->decision == EVC_SA_ACCEPT || v->decision == EVC_SA_QUEUE ||
                   v->decision == EVC_SA_REJECT,
               target, "a decision out of range");
    fuzz_check(strcmp(evc_sa_reason_name(v->reason), "?") != 0, target, "a reason out of range");
    fuzz_check((v->decision != EVC_SA_REJECT) == (v->reason == EVC_SA_R_OK), target,
               "a rejection without a reason, or a reason without a rejection");
    fuzz_check(v->message[0] != '\0', target, "a verdict without a message");
    fuzz_check(decoded || v->reason == EVC_SA_R_MALFORMED, target,
               "an SA the decoder refuses judged on other grounds");
    fuzz_check(v->reason == EVC_SA_R_MALFORMED || v->sa != NULL, target,
               "a verdict past parsing without the SA");
    if (v->decision != EVC_SA_REJECT) {
        fuzz_check(v->sa->generation > k->last_generation, target,
                   "accepted without a newer generation");
        fuzz_check(k->service == NULL || strcmp(k->service, v->sa->service) == 0, target,
                   "accepted for another service");
    }
}

#endif
