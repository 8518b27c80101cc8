/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake extension on both ends, with OpenSSL's custom extension
 * API. The only bytes laid out by hand in evercert are these: a uint64
 * in the ClientHello and the SA's DER in EncryptedExtensions (only an SA
 * of at most EVC_SA_HANDSHAKE_MAX bytes), each read with an explicit
 * length check.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "evercert/announce.h"
#include "evercert/tls.h"
#include "tls/tls_int.h"

/* Per connection: what the client has (server side), what arrived (client side). */
struct conn_state {
    uint64_t have;
    int have_set;
    int have_told; /* evc_tls_hello_take handed it over */
    uint8_t *sa;
    size_t sa_len;
};

static int conn_idx = -1;
int evc_tls_ctx_sa_idx = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
free_conn(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct conn_state *c = ptr;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (c != NULL) {
        free(c->sa);
        free(c);
    }
}

static void
free_ctx_sa(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    evc_tls_sa_free(ptr);
}

static void
init_indexes(void)
{
    conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_conn);
    evc_tls_ctx_sa_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_ctx_sa);
}

int
evc_tls_init(void)
{
    pthread_once(&once, init_indexes);
    return conn_idx >= 0 && evc_tls_ctx_sa_idx >= 0 ? 0 : EVC_ERR_CRYPTO;
}

void
evc_tls_sa_free(struct evc_tls_sa *sa)
{
    if (sa != NULL) {
        free(sa->der);
        free(sa);
    }
}

static struct conn_state *
conn(SSL *s)
{
    struct conn_state *c = SSL_get_ex_data(s, conn_idx);

    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL && !SSL_set_ex_data(s, conn_idx, c)) {
        free(c);
        c = NULL;
    }
    return c;
}

static int
ext_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out, size_t *outlen,
        X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)type;
    (void)x;
    (void)chainidx;
    (void)arg;
    if (context == SSL_EXT_CLIENT_HELLO) {
        struct conn_state *c = conn(s);
        unsigned char *b;

        if (c == NULL || (b = OPENSSL_malloc(8)) == NULL) {
            *al = SSL_AD_INTERNAL_ERROR;
            return -1;
        }
        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)(c->have >> (56 - 8 * i));
        }
        *out = b;
        *outlen = 8;
        return 1;
    }
    if (context == SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS) {
        /*
         * Only when the client said which generation it has, and ours is
         * newer; and only an SA every OpenSSL client accepts in this
         * message (EVC_SA_HANDSHAKE_MAX): a larger one would fail the
         * handshake, so it goes by push and URL only.
         */
        struct conn_state *c = SSL_get_ex_data(s, conn_idx);
        struct evc_tls_sa *sa = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), evc_tls_ctx_sa_idx);

        if (c == NULL || !c->have_set || sa == NULL || sa->generation <= c->have ||
            sa->len > EVC_SA_HANDSHAKE_MAX) {
            return 0;
        }
        *out = sa->der;
        *outlen = sa->len;
        return 1;
    }
    return 0;
}

static void
ext_free(SSL *s, unsigned int type, unsigned int context, const unsigned char *out, void *arg)
{
    (void)s;
    (void)type;
    (void)arg;
    if (context == SSL_EXT_CLIENT_HELLO) {
        OPENSSL_free((unsigned char *)out);
    }
    /* The server's SA belongs to its context. */
}

int
evc_ext_parse_have(const uint8_t *in, size_t inlen, uint64_t *have)
{
    uint64_t v = 0;

    *have = 0;
    if (inlen != 8) {
        return EVC_ERR_PARSE;
    }
    for (size_t i = 0; i < 8; i++) {
        v = v << 8 | in[i];
    }
    *have = v;
    return 0;
}

int
evc_ext_parse_sa(const uint8_t *in, size_t inlen)
{
    (void)in;
    if (inlen == 0) {
        return EVC_ERR_PARSE;
    }
    if (inlen > EVC_SA_MAX) {
        return EVC_ERR_LIMIT;
    }
    return 0;
}

static int
ext_parse(SSL *s, unsigned int type, unsigned int context, const unsigned char *in, size_t inlen,
          X509 *x, size_t chainidx, int *al, void *arg)
{
    struct conn_state *c = conn(s);

    (void)type;
    (void)x;
    (void)chainidx;
    (void)arg;
    if (c == NULL) {
        *al = SSL_AD_INTERNAL_ERROR;
        return 0;
    }
    if (context == SSL_EXT_CLIENT_HELLO) {
        if (evc_ext_parse_have(in, inlen, &c->have) != 0) {
            *al = SSL_AD_DECODE_ERROR;
            return 0;
        }
        c->have_set = 1;
        return 1;
    }
    if (context == SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS) {
        if (evc_ext_parse_sa(in, inlen) != 0) {
            *al = SSL_AD_DECODE_ERROR;
            return 0;
        }
        free(c->sa);
        if ((c->sa = malloc(inlen)) == NULL) {
            *al = SSL_AD_INTERNAL_ERROR;
            return 0;
        }
        memcpy(c->sa, in, inlen);
        c->sa_len = inlen;
        return 1;
    }
    return 1;
}

int
evc_tls_hello_take(SSL *s, uint64_t *have)
{
    struct conn_state *c = SSL_get_ex_data(s, conn_idx);

    *have = 0;
    if (c == NULL || !c->have_set || c->have_told) {
        return 0;
    }
    c->have_told = 1;
    *have = c->have;
    return 1;
}

int
evc_tls_ext_add(SSL_CTX *ctx)
{
    if (evc_tls_init() != 0) {
        return 0;
    }
    return SSL_CTX_add_custom_ext(ctx, EVC_TLS_EXT_TYPE,
                                  SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
                                  ext_add, ext_free, NULL, ext_parse, NULL);
}

int
evc_tls_client_enable(SSL_CTX *ctx, struct evc_err *err)
{
    if (!evc_tls_ext_add(ctx)) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot add the evercert TLS extension");
    }
    return 0;
}

int
evc_tls_client_set_generation(SSL *ssl, uint64_t have)
{
    struct conn_state *c = evc_tls_init() == 0 ? conn(ssl) : NULL;

    if (c == NULL) {
        return EVC_ERR_NOMEM;
    }
    c->have = have;
    return 0;
}

int
evc_tls_client_sa(SSL *ssl, struct evc_buf *out, struct evc_err *err)
{
    struct conn_state *c = evc_tls_init() == 0 ? SSL_get_ex_data(ssl, conn_idx) : NULL;
    X509 *peer = SSL_get0_peer_certificate(ssl);

    evc_buf_reset(out);
    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK) {
        return evc_err_set(err, EVC_ERR_POLICY,
                           "the handshake did not verify the server; its SA is not read");
    }
    if (c == NULL || c->sa == NULL) {
        return 0;
    }
    if (evc_buf_put(out, c->sa, c->sa_len) != 0) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    return 0;
}
