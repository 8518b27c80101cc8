/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's context holder (docs/DESIGN.md, "Server swap"). A swap builds and
 * checks a whole new SSL_CTX, then publishes it under a mutex; SSL_CTX is
 * reference-counted, so every SSL made before keeps the context it began
 * with, and the old one dies with its last connection. The session-ticket
 * keys and session-id context belong to the server, not to a context, so
 * a session made before a swap resumes after it, but never past the end of
 * the certificate it was made under (ticket_gen, ticket_dec, cache_new).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "evercert/tls.h"
#include "base/file.h"
#include "tls/tls_int.h"

struct evc_tls_server {
    pthread_mutex_t lock;
    SSL_CTX *ctx; /* the published context */
    uint8_t sha256[32];
    uint64_t sa_generation;
    unsigned char ticket_keys[80];
    void (*on_hello)(void *arg, SSL *ssl, uint64_t have);
    void *on_hello_arg;
};

/* A handshake done: tell the holder's caller what the client said it holds, once per SSL. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
    struct evc_tls_server *s;
    void (*cb)(void *, SSL *, uint64_t);
    void *arg;
    uint64_t have;

    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_DONE) ||
        (s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))) == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    cb = s->on_hello;
    arg = s->on_hello_arg;
    pthread_mutex_unlock(&s->lock);
    if (cb != NULL && evc_tls_hello_take((SSL *)ssl, &have)) {
        cb(arg, (SSL *)ssl, have);
    }
}

/*
 * A session lives no longer than the certificate it was made under. A
 * client that only resumes never sees the certificate again: with the
 * ticket keys kept across swaps it would go on past that certificate's
 * end, on trust it may no longer have, and fail hours later when the
 * session ends instead of meeting the successor at its next full
 * handshake. The end is not the current certificate's: after a swap that
 * is the successor, and a TLS 1.3 resumption copies the session with a
 * new start and its old timeout, so a client resuming within each
 * timeout would stay forever. So the ticket carries the end of the
 * certificate of the full handshake (its appdata), every ticket made
 * from a resumed session carries it on, and the decryption refuses a
 * ticket past it (a full handshake with the published certificate) and
 * caps the session's timeout at it. Only tickets cross a swap: a client
 * that takes none (curl over TLS 1.2) resumes by session id from the
 * context's own cache, which a swap leaves behind, and cache_new caps
 * what that cache keeps at the same end.
 */
#define TICKET_END_LEN 8

static int
cert_end(X509 *x, int64_t *end)
{
    int days = 0, secs = 0;

    if (x == NULL || !ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x))) {
        ERR_clear_error();
        return -1;
    }
    *end = (int64_t)time(NULL) + (int64_t)days * 86400 + secs;
    return 0;
}

/* The end a ticket carries, or -1 when it carries none of ours. */
static int
ticket_end(SSL_SESSION *sess, int64_t *end)
{
    void *data = NULL;
    size_t len = 0;
    uint64_t v = 0;

    if (SSL_SESSION_get0_ticket_appdata(sess, &data, &len) != 1 || data == NULL ||
        len != TICKET_END_LEN) {
        return -1;
    }
    for (size_t i = 0; i < TICKET_END_LEN; i++) {
        v = v << 8 | ((const unsigned char *)data)[i];
    }
    *end = (int64_t)v;
    return 0;
}

/* The session ends at end at the latest, counted from its own start. */
static void
cap_timeout(SSL_SESSION *sess, int64_t end)
{
    int64_t left = end - (int64_t)SSL_SESSION_get_time(sess);

    if (left < (int64_t)SSL_SESSION_get_timeout(sess)) {
        (void)SSL_SESSION_set_timeout(sess, left > 0 ? (long)left : 0);
    }
}

static int
ticket_gen(SSL *ssl, void *arg)
{
    SSL_SESSION *sess = SSL_get0_session(ssl);
    unsigned char be[TICKET_END_LEN];
    int64_t end;

    (void)arg;
    if (sess == NULL) {
        return 1;
    }
    /* A resumed session keeps the end it came with; a new one takes its certificate's. */
    if (ticket_end(sess, &end) != 0 && cert_end(SSL_get_certificate(ssl), &end) != 0) {
        return 1; /* no end: its ticket is refused at resumption, a handshake is not failed */
    }
    for (size_t i = 0; i < TICKET_END_LEN; i++) {
        be[i] = (unsigned char)((uint64_t)end >> (8 * (TICKET_END_LEN - 1 - i)));
    }
    if (SSL_SESSION_set1_ticket_appdata(sess, be, sizeof(be)) != 1) {
        ERR_clear_error();
        return 1;
    }
    cap_timeout(sess, end);
    return 1;
}

/*
 * A session entering the context's session-id cache ends with the
 * certificate it was made under too. 0: the cache keeps its own reference.
 */
static int
cache_new(SSL *ssl, SSL_SESSION *sess)
{
    int64_t end;

    if (ticket_end(sess, &end) == 0 || cert_end(SSL_get_certificate(ssl), &end) == 0) {
        cap_timeout(sess, end);
    }
    return 0;
}

static SSL_TICKET_RETURN
ticket_dec(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname, size_t keyname_len,
           SSL_TICKET_STATUS status, void *arg)
{
    int64_t end;

    (void)ssl;
    (void)keyname;
    (void)keyname_len;
    (void)arg;
    switch (status) {
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT:
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
        break;
    default:
        return SSL_TICKET_RETURN_ABORT;
    }
    /* Past its certificate's end, or with no end: a full handshake, under what is published now. */
    if (sess == NULL || ticket_end(sess, &end) != 0 || (int64_t)time(NULL) >= end) {
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    cap_timeout(sess, end);
    return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
}

void
evc_tls_server_on_hello(struct evc_tls_server *s, void (*cb)(void *arg, SSL *ssl, uint64_t have),
                        void *arg)
{
    pthread_mutex_lock(&s->lock);
    s->on_hello = cb;
    s->on_hello_arg = arg;
    pthread_mutex_unlock(&s->lock);
}

int
evc_tls_server_new(struct evc_tls_server **out, struct evc_err *err)
{
    struct evc_tls_server *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL || evc_tls_init() != 0) {
        free(s);
        return evc_err_set(err, EVC_ERR_NOMEM, "cannot set up TLS");
    }
    if (RAND_priv_bytes(s->ticket_keys, sizeof(s->ticket_keys)) != 1) {
        free(s);
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "no random bytes for ticket keys");
    }
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return 0;
}

void
evc_tls_server_free(struct evc_tls_server *s)
{
    if (s == NULL) {
        return;
    }
    SSL_CTX_free(s->ctx);
    OPENSSL_cleanse(s->ticket_keys, sizeof(s->ticket_keys));
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int
read_file(const char *path, size_t max, struct evc_buf *b, struct evc_err *err)
{
    int r = evc_file_read(path, max, b, err);

    return r == 0 ? 0 : evc_err_set(err, r, "%s: %s", path, evc_err_message(err));
}

int
evc_tls_server_load(struct evc_tls_server *s, const char *cert, const char *key, const char *chain,
                    const char *sa_path, evc_time now, struct evc_err *err)
{
    struct evc_buf b;
    STACK_OF(X509) *certs = NULL, *extra = NULL;
    EVP_PKEY *pkey = NULL;
    SSL_CTX *ctx = NULL, *old;
    struct evc_tls_sa *sa = NULL;
    struct evc_sa *decoded = NULL;
    X509 *leaf;
    evc_time nb = 0, na = 0;
    uint8_t fp[32];
    const char *keep;
    int r = EVC_ERR_INTERNAL;

    /* On a reload a refusal keeps what is served; at the start there is nothing yet. */
    pthread_mutex_lock(&s->lock);
    keep = s->ctx != NULL ? "; the old pair stays" : "";
    pthread_mutex_unlock(&s->lock);
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    /* read_file names the file; a parser's error gets the name here. */
    if ((r = read_file(cert, EVC_STORE_FILE_MAX, &b, err)) != 0) {
        goto out;
    }
    if ((r = evc_certs_parse(b.data, b.len, NULL, &certs, err)) != 0) {
        evc_err_set(err, r, "%s: %s", cert, evc_err_message(err));
        goto out;
    }
    if ((r = read_file(key, EVC_STORE_FILE_MAX, &b, err)) != 0) {
        goto out;
    }
    if ((r = evc_key_parse(b.data, b.len, &pkey, err)) != 0) {
        evc_err_set(err, r, "%s: %s", key, evc_err_message(err));
        goto out;
    }
    if (chain != NULL && (r = read_file(chain, EVC_STORE_FILE_MAX, &b, err)) != 0) {
        goto out;
    }
    if (chain != NULL && (r = evc_certs_parse(b.data, b.len, NULL, &extra, err)) != 0) {
        evc_err_set(err, r, "%s: %s", chain, evc_err_message(err));
        goto out;
    }
    leaf = sk_X509_value(certs, 0);
    /* Never publish a key with a certificate it does not belong to. */
    if ((r = evc_key_check(leaf, pkey, err)) != 0) {
        evc_err_set(err, r, "%s does not match %s%s", key, cert, keep);
        goto out;
    }
    if (evc_asn1_time(X509_get0_notBefore(leaf), &nb) != 0 ||
        evc_asn1_time(X509_get0_notAfter(leaf), &na) != 0 || now < nb - 300 || now >= na) {
        r = evc_err_set(err, EVC_ERR_BAD_TIME, "%s is not valid now%s", cert, keep);
        goto out;
    }
    if (sa_path != NULL) {
        /* The SA may appear later; one that is there but unusable is an error. */
        evc_buf_reset(&b);
        if ((r = evc_file_read(sa_path, EVC_SA_MAX, &b, err)) != 0 && r != EVC_ERR_NOENT) {
            evc_err_set(err, r, "%s: %s%s", sa_path, evc_err_message(err), keep);
            goto out;
        }
        if (r == EVC_ERR_NOENT) {
            memset(err, 0, sizeof(*err)); /* no SA yet is no error */
        }
        if (r == 0) {
            if ((r = evc_sa_decode(b.data, b.len, &decoded, err)) != 0) {
                evc_err_set(err, r, "%s: %s", sa_path, evc_err_message(err));
                goto out;
            }
            if ((sa = calloc(1, sizeof(*sa))) == NULL || (sa->der = malloc(b.len)) == NULL) {
                r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
            memcpy(sa->der, b.data, b.len);
            sa->len = b.len;
            sa->generation = decoded->generation;
        }
    }
    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
        !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 ||
        !SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"evercert", 8) ||
        SSL_CTX_set_tlsext_ticket_keys(ctx, s->ticket_keys, sizeof(s->ticket_keys)) != 1 ||
        SSL_CTX_set_session_ticket_cb(ctx, ticket_gen, ticket_dec, NULL) != 1 ||
        !evc_tls_ext_add(ctx) || !SSL_CTX_set_app_data(ctx, s)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build the TLS context");
        goto out;
    }
    SSL_CTX_set_info_callback(ctx, info_cb);
    SSL_CTX_sess_set_new_cb(ctx, cache_new);
    for (int i = 1; i < sk_X509_num(certs); i++) {
        if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i))) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot add the chain");
            goto out;
        }
    }
    for (int i = 0; extra != NULL && i < sk_X509_num(extra); i++) {
        if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(extra, i))) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot add the chain");
            goto out;
        }
    }
    if (sa != NULL && !SSL_CTX_set_ex_data(ctx, evc_tls_ctx_sa_idx, sa)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot attach the SA");
        goto out;
    }
    sa = NULL; /* the context owns it now */
    if ((r = evc_x509_sha256(leaf, fp)) != 0) {
        r = evc_err_set(err, r, "cannot hash the certificate");
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    old = s->ctx;
    s->ctx = ctx;
    memcpy(s->sha256, fp, 32);
    s->sa_generation = decoded != NULL ? decoded->generation : 0;
    pthread_mutex_unlock(&s->lock);
    ctx = old; /* freed below; connections using it hold their own reference */
    r = 0;
out:
    SSL_CTX_free(ctx);
    evc_tls_sa_free(sa);
    evc_sa_free(decoded);
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(extra, X509_free);
    evc_buf_free(&b);
    ERR_clear_error();
    return r;
}

SSL *
evc_tls_server_ssl(struct evc_tls_server *s)
{
    SSL *ssl = NULL;

    pthread_mutex_lock(&s->lock);
    if (s->ctx != NULL) {
        ssl = SSL_new(s->ctx);
    }
    pthread_mutex_unlock(&s->lock);
    return ssl;
}

void
evc_tls_server_current(struct evc_tls_server *s, uint8_t sha256[32], uint64_t *sa_generation)
{
    pthread_mutex_lock(&s->lock);
    memcpy(sha256, s->sha256, 32);
    *sa_generation = s->sa_generation;
    pthread_mutex_unlock(&s->lock);
}

int
evc_tls_server_sa(struct evc_tls_server *s, struct evc_buf *out)
{
    struct evc_tls_sa *sa;
    int r = 0;

    evc_buf_reset(out);
    pthread_mutex_lock(&s->lock);
    sa = s->ctx != NULL ? SSL_CTX_get_ex_data(s->ctx, evc_tls_ctx_sa_idx) : NULL;
    if (sa != NULL) {
        r = evc_buf_put(out, sa->der, sa->len);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}
