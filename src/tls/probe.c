/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One TLS handshake to learn the served certificate, for `verify =` after
 * a reload: a reload is not proof (nginx keeps the old certificate when
 * the new pair is broken and says so only in its log).
 *
 * The connect and the handshake share one deadline, and the socket stays
 * non-blocking until the handshake is done: a peer that sends a byte now
 * and then cannot stretch a per-read timeout into forever. A caller that
 * must stop on a signal passes a descriptor (a signalfd) that is polled
 * alongside the socket.
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

/* Milliseconds on the monotonic clock. */
static double
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Is fd (-1: none) readable now? */
static int
readable(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};

    return fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

/*
 * Wait until fd is ready for events, the deadline (monotonic ms) passes,
 * or cancel_fd (-1: none) becomes readable. 0 when ready, else the error.
 */
static int
wait_fd(int fd, short events, double deadline, int cancel_fd, const char *peer, const char *what,
        struct evc_err *err)
{
    struct pollfd pfd[2];
    double left;
    int n;

    for (;;) {
        if ((left = deadline - mono_ms()) <= 0) {
            return evc_err_set(err, EVC_ERR_IO, "%s: %s not done within the deadline", peer, what);
        }
        pfd[0].fd = fd;
        pfd[0].events = events;
        pfd[0].revents = 0;
        pfd[1].fd = cancel_fd;
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        n = poll(pfd, cancel_fd >= 0 ? 2 : 1, (int)left + 1);
        if (n < 0 && errno != EINTR) {
            return evc_err_set(err, EVC_ERR_IO, "%s: poll: %s", peer, strerror(errno));
        }
        if (n > 0 && (pfd[1].revents & POLLIN) != 0) {
            return evc_err_set(err, EVC_ERR_IO, "%s: %s abandoned: asked to stop", peer, what);
        }
        if (n > 0 && pfd[0].revents != 0) {
            return 0;
        }
    }
}

/* A non-blocking TCP socket connected before deadline, or -1 with err set. */
static int
connect_until(const char *host, const char *port, double deadline, int cancel_fd,
              struct evc_err *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char peer[300];
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(peer, sizeof(peer), "%s:%s", host, port);
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        evc_err_set(err, EVC_ERR_IO, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    /* Every address shares the one deadline. */
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                         ai->ai_protocol)) == -1) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS) {
            evc_err_set(err, EVC_ERR_IO, "%s: %s", peer, strerror(errno));
        } else if (wait_fd(fd, POLLOUT, deadline, cancel_fd, peer, "TCP connect", err) == 0) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr == 0) {
                break;
            }
            evc_err_set(err, EVC_ERR_IO, "%s: %s", peer, strerror(soerr));
        }
        close(fd);
        fd = -1;
        if (deadline - mono_ms() <= 0 || readable(cancel_fd)) {
            break;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* A blocking socket from now on: each later read or write waits at most timeout_ms. */
static void
set_blocking(int fd, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
evc_tls_connect(const char *host, const char *port, int timeout_ms, struct evc_err *err)
{
    int fd = connect_until(host, port, mono_ms() + timeout_ms, -1, err);

    if (fd != -1) {
        set_blocking(fd, timeout_ms);
    }
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

/*
 * SSL_connect on the non-blocking socket until done, the deadline, or a
 * stop: 0 done, 1 the handshake failed (OpenSSL's queue says why), or an
 * error with err set.
 */
static int
handshake(SSL *ssl, int fd, double deadline, int cancel_fd, const char *peer, struct evc_err *err)
{
    int rc, e, r;

    for (;;) {
        ERR_clear_error();
        if ((rc = SSL_connect(ssl)) == 1) {
            return 0;
        }
        e = SSL_get_error(ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return 1;
        }
        if ((r = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, cancel_fd, peer,
                         "TLS handshake", err)) != 0) {
            return r;
        }
    }
}

static int
open_conn(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
          int timeout_ms, int cancel_fd, int strict, int max_version, struct evc_tls_timing *t,
          struct evc_probe *p, struct evc_tls_conn *c, struct evc_err *err)
{
    char host[256], port[16], name[256];
    struct timing_ctx tc = {t, mono_ms(), NULL};
    double deadline = tc.start + timeout_ms;
    long vr;
    int r = EVC_ERR_INTERNAL, hs;

    memset(p, 0, sizeof(*p));
    evc_buf_init(&p->sa, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
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
        !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(c->ctx, max_version) || !evc_tls_ext_add(c->ctx) ||
        (trust != NULL ? SSL_CTX_set1_cert_store(c->ctx, trust),
         1             : SSL_CTX_set_default_verify_paths(c->ctx)) != 1) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot set up TLS");
        goto fail;
    }
    /* A probe finishes the handshake either way, to show what was presented. */
    SSL_CTX_set_verify(c->ctx, strict ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       strict ? on_verify : NULL);
    SSL_CTX_set_info_callback(c->ctx, on_info);
    if ((c->fd = connect_until(host, port, deadline, cancel_fd, err)) == -1) {
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
    if ((hs = handshake(c->ssl, c->fd, deadline, cancel_fd, hostport, err)) != 0) {
        vr = SSL_get_verify_result(c->ssl);
        if (hs != 1) {
            r = hs;
        } else if (strict && vr != X509_V_OK) {
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
    set_blocking(c->fd, timeout_ms);
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
    return open_conn(hostport, servername, trust, have, timeout_ms, -1, 0, 0, NULL, p, c, err);
}

int
evc_tls_open_cancel(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
                    int timeout_ms, int cancel_fd, struct evc_probe *p, struct evc_tls_conn *c,
                    struct evc_err *err)
{
    return open_conn(hostport, servername, trust, have, timeout_ms, cancel_fd, 0, 0, NULL, p, c,
                     err);
}

int
evc_tls_session(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
                int timeout_ms, struct evc_tls_timing *t, struct evc_probe *p,
                struct evc_tls_conn *c, struct evc_err *err)
{
    return open_conn(hostport, servername, trust, have, timeout_ms, -1, 1, 0, t, p, c, err);
}

int
evc_tls_session_max(const char *hostport, const char *servername, X509_STORE *trust, uint64_t have,
                    int max_version, int timeout_ms, struct evc_tls_timing *t, struct evc_probe *p,
                    struct evc_tls_conn *c, struct evc_err *err)
{
    return open_conn(hostport, servername, trust, have, timeout_ms, -1, 1, max_version, t, p, c,
                     err);
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
