/* SPDX-License-Identifier: Apache-2.0 */
/* The system trust store directory backend of the trust stores (trust.c's table). */
#ifndef EVC_STORE_SYSDIR_H
#define EVC_STORE_SYSDIR_H

#include <openssl/x509.h>

#include "evercert/stores.h"

/* The prefix of a path that names a system trust directory: "system:DIR". */
#define EVC_TRUST_SYSDIR_PREFIX "system:"

int evc_trust_sysdir_load(struct evc_trust *t, struct evc_err *err);
int evc_trust_sysdir_add(struct evc_trust *t, X509 *x, struct evc_err *err);
int evc_trust_sysdir_remove(struct evc_trust *t, size_t i, struct evc_err *err);

#endif
