/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/tls: the extension's indexes and the SA a context serves. */
#ifndef EVC_TLS_INT_H
#define EVC_TLS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "evercert/error.h"

/* The SA a server context hands out, owned by that context (ex_data). */
struct evc_tls_sa {
    uint8_t *der;
    size_t len;
    uint64_t generation;
};

extern int evc_tls_ctx_sa_idx;

int evc_tls_init(void);
/* Register the extension's callbacks on ctx; 1 or 0 as OpenSSL does. */
int evc_tls_ext_add(SSL_CTX *ctx);
void evc_tls_sa_free(struct evc_tls_sa *sa);
/*
 * The extension's bytes, read apart from OpenSSL's callbacks so they can be
 * fuzzed. The ClientHello's: exactly 8 bytes, the client's generation
 * big-endian, into *have (0 on error). EncryptedExtensions': an SA of 1 to
 * EVC_SA_MAX bytes, whose content the SA decoder reads later. Pure. 0,
 * EVC_ERR_PARSE or EVC_ERR_LIMIT.
 */
int evc_ext_parse_have(const uint8_t *in, size_t inlen, uint64_t *have);
int evc_ext_parse_sa(const uint8_t *in, size_t inlen);
/*
 * Server side, after the handshake: 1 and the generation the client's
 * ClientHello carried, the first time it is asked for one connection;
 * 0 when the client sent none or it was handed over already.
 */
int evc_tls_hello_take(SSL *s, uint64_t *have);

/* A connected TCP socket with send/receive timeouts, or -1 with err set. */
int evc_tls_connect(const char *host, const char *port, int timeout_ms, struct evc_err *err);

#endif
