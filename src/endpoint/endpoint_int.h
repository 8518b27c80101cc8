/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the event loop and the chain checks of endpoint scanning. */
#ifndef EVC_ENDPOINT_INT_H
#define EVC_ENDPOINT_INT_H

#include <openssl/x509.h>

#include "evercert/endpoint.h"

/* The anchors of opts->ca (a file or a hashed directory), or the system's. */
int evc_ep_store_load(const char *ca, X509_STORE **out, struct evc_err *err);

/*
 * Keep the presented chain in r (DER, at most EVC_EP_CHAIN_MAX) and verify
 * it against store at time at for u's name: r->verified, r->verify_error,
 * r->chain_not_after. 0 or EVC_ERR_NOMEM.
 */
int evc_ep_chain_check(X509_STORE *store, STACK_OF(X509) * presented, const struct evc_ep_url *u,
                       evc_time at, struct evc_ep_result *r);

#endif
