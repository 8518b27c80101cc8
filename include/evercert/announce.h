/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Successor Announcement (DESIGN.md): a CMS SignedData whose content
 * is a SuccessorInfo, signed by the current certificate's key and by the
 * successor's. This header builds one and reads its content back; the
 * client's checks (signers, names, generation) come with the agent.
 */
#ifndef EVERCERT_ANNOUNCE_H
#define EVERCERT_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/time.h"

/* An SA is at most this long; longer input is rejected before parsing. */
#define EVC_SA_MAX ((size_t)64 * 1024)
/* successor and anchors hold 1..8 certificates each. */
#define EVC_SA_CERTS_MAX 8
#define EVC_SA_SERVICE_MAX 253

struct evc_sa {
    char service[EVC_SA_SERVICE_MAX + 1];
    uint64_t generation;
    evc_time published_at;
    evc_time activate_at;
    STACK_OF(X509) * successor; /* leaf first */
    STACK_OF(X509) * anchors;   /* NULL when absent */
};

struct evc_sa_params {
    const char *service;
    uint64_t generation;
    evc_time published_at;
    evc_time activate_at;
    X509 *current; /* signs first: continuity */
    EVP_PKEY *current_key;
    X509 *successor; /* signs second: proof of possession */
    EVP_PKEY *successor_key;
    STACK_OF(X509) * chain;   /* issuers of the successor, or NULL */
    STACK_OF(X509) * anchors; /* new roots, or NULL */
};

/*
 * Build the DER of an SA into out. EVC_ERR_BAD_KEY for a key CMS cannot
 * sign with (Ed25519 in OpenSSL 3.0), EVC_ERR_USAGE for bad parameters.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_encode(const struct evc_sa_params *p, struct evc_buf *out,
                                          struct evc_err *err);

/*
 * Read an SA's content without checking its signatures (that is the
 * agent's policy): the CMS structure, then the SuccessorInfo, each
 * consuming its whole input. *out is freed with evc_sa_free.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_decode(const uint8_t *der, size_t len, struct evc_sa **out,
                                          struct evc_err *err);
EVC_EXPORT void evc_sa_free(struct evc_sa *sa);

#endif
