/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One TLS handshake to learn the served certificate, for `verify =` after
 * a reload: a reload is not proof (nginx keeps the old certificate when
 * the new pair is broken and says so only in its log).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "evercert/announce.h"
#include "evercert/tls.h"
#include "tls/tls_int.h"

/* Split "host:port" or "[v6]:port" into host and port. */
static int
split_hostport(const char *hp, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(hp, ':');
    const char *h = hp;
    size_t n;

    if (colon == NULL || colon[1] == '\0') {
        return -1;
    }
    n = (size_t)(colon - hp);
    if (*h == '[' && n >= 2 && hp[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen) {
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

int
evc_tls_connect(const char *host, const char *port, int timeout_ms, struct evc_err *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        evc_err_set(err, EVC_ERR_IO, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct pollfd pfd;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
            continue;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS) {
            soerr = errno;
        } else {
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (poll(&pfd, 1, timeout_ms) != 1) {
                soerr = ETIMEDOUT;
            } else {
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            }
        }
        if (soerr == 0) {
            fcntl(fd, F_SETFL, 0);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            break;
        }
        evc_err_set(err, EVC_ERR_IO, "%s:%s: %s", host, port, strerror(soerr));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int
evc_tls_served_leaf(const char *hostport, const char *servername, int timeout_ms, X509 **out,
                    struct evc_err *err)
{
    struct evc_probe p;
    int r;

    *out = NULL;
    /* A probe that claims every generation: no SA, and the leaf whether it verifies or not. */
    if ((r = evc_tls_probe(hostport, servername, NULL, UINT64_MAX, timeout_ms, &p, err)) != 0) {
        return r;
    }
    if (p.leaf == NULL) {
        evc_probe_clear(&p);
        return evc_err_set(err, EVC_ERR_IO, "%s: no certificate presented", hostport);
    }
    *out = p.leaf;
    p.leaf = NULL;
    evc_probe_clear(&p);
    return 0;
}

void
evc_probe_clear(struct evc_probe *p)
{
    X509_free(p->leaf);
    evc_buf_free(&p->sa);
    memset(p, 0, sizeof(*p));
}

void
evc_tls_conn_close(struct evc_tls_conn *c)
{
    if (c->ssl != NULL) {
        (void)SSL_shutdown(c->ssl);
    }
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->fd != -1) {
        close(c->fd);
    }
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
    ERR_clear_error();
}

/* Milliseconds on the monotonic clock. */
static double
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct timing_ctx {
    struct evc_tls_timing *t; /* or NULL */
    double start;
    X509 *leaf; /* what the server presented, seen by the verify callback */
};

/* Keep the leaf: after a failed verification OpenSSL does not keep it with the session. */
static int
on_verify(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct timing_ctx *tc = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(x);

    if (tc != NULL && tc->leaf == NULL && leaf != NULL && X509_up_ref(leaf) == 1) {
        tc->leaf = leaf;
    }
    return ok;
}

/* OpenSSL's info callback: a step is done when the state machine moves past it. */
static void
on_info(const SSL *ssl, int where, int ret)
{
    struct timing_ctx *tc = SSL_get_app_data(ssl);
    double now;

    if (tc == NULL || tc->t == NULL) {
        return;
    }
    now = mono_ms() - tc->start;
    if ((where & SSL_CB_ALERT) != 0) {
        if ((ret >> 8) == SSL3_AL_FATAL && tc->t->alert == -1) {
            tc->t->alert = ret & 0xff;
            tc->t->alert_sent = (where & SSL_CB_WRITE) != 0;
            tc->t->alert_ms = now;
        }
        return;
    }
    if ((where & SSL_CB_HANDSHAKE_DONE) != 0) {
        tc->t->finished_ms = now;
        return;
    }
    if ((where & SSL_CB_LOOP) == 0) {
        return;
    }
    switch (SSL_get_state(ssl)) {
    case TLS_ST_CW_CLNT_HELLO:
        tc->t->client_hello_ms = now;
        break;
    case TLS_ST_CR_SRVR_HELLO:
        tc->t->server_hello_ms = now;
        break;
    case TLS_ST_CR_CERT:
        tc->t->certificate_ms = now;
        break;
    default:
        break;
    }
}

static int
open_conn(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
          int timeout_ms, int strict, struct evc_tls_timing *t, struct evc_probe *p,
          struct evc_tls_conn *c, struct evc_err *err)
{
    char host[256], port[16], name[256];
    struct timing_ctx tc = {t, mono_ms(), NULL};
    long vr;
    int r = EVC_ERR_INTERNAL;

    memset(p, 0, sizeof(*p));
    evc_buf_init(&p->sa, EVC_SA_MAX);
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
    if (t != NULL) {
        t->tcp_ms = t->client_hello_ms = t->server_hello_ms = -1;
        t->certificate_ms = t->alert_ms = t->finished_ms = -1;
        t->alert = -1;
        t->alert_sent = 0;
    }
    if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) != 0) {
        return evc_err_set(err, EVC_ERR_USAGE, "'%s': expected host:port", hostport);
    }
    snprintf(name, sizeof(name), "%s", servername != NULL ? servername : host);
    if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
        !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) || !evc_tls_ext_add(c->ctx) ||
        (trust != NULL ? SSL_CTX_set1_cert_store(c->ctx, trust),
         1             : SSL_CTX_set_default_verify_paths(c->ctx)) != 1) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot set up TLS");
        goto fail;
    }
    /* A probe finishes the handshake either way, to show what was presented. */
    SSL_CTX_set_verify(c->ctx, strict ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       strict ? on_verify : NULL);
    SSL_CTX_set_info_callback(c->ctx, on_info);
    if ((c->fd = evc_tls_connect(host, port, timeout_ms, err)) == -1) {
        r = EVC_ERR_IO;
        goto fail;
    }
    if (t != NULL) {
        t->tcp_ms = mono_ms() - tc.start;
    }
    if ((c->ssl = SSL_new(c->ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd) ||
        !SSL_set_tlsext_host_name(c->ssl, name) || !SSL_set1_host(c->ssl, name) ||
        evc_tls_client_set_generation(c->ssl, have) != 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot set up TLS");
        goto fail;
    }
    SSL_set_app_data(c->ssl, &tc);
    if (SSL_connect(c->ssl) != 1) {
        vr = SSL_get_verify_result(c->ssl);
        if (strict && vr != X509_V_OK) {
            r = evc_err_set(err, EVC_ERR_IO, "%s: TLS handshake failed: %s", hostport,
                            X509_verify_cert_error_string(vr));
        } else {
            r = evc_err_openssl(err, EVC_ERR_IO, "%s: TLS handshake failed", hostport);
        }
        ERR_clear_error();
        SSL_set_app_data(c->ssl, NULL);
        /* What was presented, for the caller to see who answered. */
        p->leaf = tc.leaf;
        tc.leaf = NULL;
        SSL_free(c->ssl); /* no close_notify after a failed handshake */
        c->ssl = NULL;
        SSL_CTX_free(c->ctx);
        c->ctx = NULL;
        close(c->fd);
        c->fd = -1;
        evc_buf_free(&p->sa);
        return r;
    }
    SSL_set_app_data(c->ssl, NULL);
    X509_free(tc.leaf);
    tc.leaf = NULL;
    snprintf(p->protocol, sizeof(p->protocol), "%s", SSL_get_version(c->ssl));
    p->leaf = SSL_get1_peer_certificate(c->ssl);
    vr = SSL_get_verify_result(c->ssl);
    p->verified = p->leaf != NULL && vr == X509_V_OK;
    if (!p->verified) {
        snprintf(p->reason, sizeof(p->reason), "%s",
                 p->leaf == NULL ? "no certificate presented" : X509_verify_cert_error_string(vr));
    } else if ((r = evc_tls_client_sa(c->ssl, &p->sa, err)) != 0) {
        goto fail;
    }
    return 0;
fail:
    evc_tls_conn_close(c);
    evc_probe_clear(p);
    return r;
}

int
evc_tls_open(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
             int timeout_ms, struct evc_probe *p, struct evc_tls_conn *c, struct evc_err *err)
{
    return open_conn(hostport, servername, trust, have, timeout_ms, 0, NULL, p, c, err);
}

int
evc_tls_session(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
                int timeout_ms, struct evc_tls_timing *t, struct evc_probe *p,
                struct evc_tls_conn *c, struct evc_err *err)
{
    return open_conn(hostport, servername, trust, have, timeout_ms, 1, t, p, c, err);
}

int
evc_tls_probe(const char *hostport, const char *servername, const char *trust_file, uint64_t have,
              int timeout_ms, struct evc_probe *p, struct evc_err *err)
{
    struct evc_tls_conn c;
    X509_STORE *store = NULL;
    int r;

    memset(p, 0, sizeof(*p));
    if (trust_file != NULL &&
        ((store = X509_STORE_new()) == NULL || X509_STORE_load_file(store, trust_file) != 1)) {
        X509_STORE_free(store);
        ERR_clear_error();
        return evc_err_set(err, EVC_ERR_CRYPTO, "%s: cannot load the trust", trust_file);
    }
    r = evc_tls_open(hostport, servername, store, have, timeout_ms, p, &c, err);
    X509_STORE_free(store);
    if (r == 0) {
        evc_tls_conn_close(&c);
    }
    return r;
}
