/* SPDX-License-Identifier: Apache-2.0 */
/* TLS client helpers: what does a server present right now? */
#ifndef EVERCERT_TLS_H
#define EVERCERT_TLS_H

#include <openssl/x509.h>

#include "evercert/error.h"

/*
 * Connect to hostport ("host:port", "[v6]:port"), handshake with SNI
 * servername (or the host when NULL), and hand over the leaf the server
 * presented. The peer is not verified: this asks which certificate is
 * served, not whether to trust it. Each step gives up after timeout_ms.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_served_leaf(const char *hostport, const char *servername,
                                                int timeout_ms, X509 **out, struct evc_err *err);

#endif
