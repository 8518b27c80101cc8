/* SPDX-License-Identifier: Apache-2.0 */
/* The Java keystore backend of the trust stores (trust.c's table). */
#ifndef EVC_STORE_JKS_H
#define EVC_STORE_JKS_H

#include <openssl/x509.h>

#include "evercert/stores.h"

int evc_trust_jks_load(struct evc_trust *t, struct evc_err *err);
int evc_trust_jks_add(struct evc_trust *t, X509 *x, struct evc_err *err);
int evc_trust_jks_remove(struct evc_trust *t, size_t i, struct evc_err *err);

#endif
