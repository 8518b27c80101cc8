/* SPDX-License-Identifier: Apache-2.0 */
/* What the trust store backends (trust.c and its table's files) share. */
#ifndef EVC_STORE_TRUST_INT_H
#define EVC_STORE_TRUST_INT_H

#include <stdint.h>

#include <openssl/x509.h>

#include "evercert/stores.h"

/* The name of everything evercert adds: an alias, a file's name (then .pem/.crt follows). */
#define EVC_TRUST_OWN_PREFIX "evercert-"

/*
 * Append x (taking a reference of its own) to t->certs with a copy of file
 * (NULL: none) and linked as given. 0 or EVC_ERR_NOMEM; t is as it was on
 * failure.
 */
int evc_trust_push(struct evc_trust *t, X509 *x, const char *file, int linked);

/*
 * Cut the block of the certificate with this SHA-256 out of the PEM file
 * at p, every other byte kept, written atomically (0644).
 */
int evc_trust_cut_block(const char *p, const uint8_t sha256[32], struct evc_err *err);

/* Whether name (an alias or a file name) is one evercert gives what it adds. */
int evc_trust_own_name(const char *name);

#endif
