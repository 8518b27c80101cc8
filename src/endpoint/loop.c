/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scanner: one thread, one poll() loop, at most `parallel` endpoints
 * in flight, each a small state machine (connect, the protocol's bytes
 * before TLS, a non-blocking SSL_connect) under its own deadline. A peer
 * can cost no more than the deadline and EVC_EP_READ_MAX bytes, whatever
 * it does; its failure is written into its own result and the loop goes
 * on with the others.
 *
 * Names are the one blocking step of a connection, so they are resolved
 * before the loop, all at once with getaddrinfo_a(), and waited for at most
 * one timeout; an address needs no lookup.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "endpoint/endpoint_int.h"

enum stage { ST_IDLE = 0, ST_CONNECT, ST_PRE, ST_TLS, ST_DONE };

struct conn {
    size_t idx; /* into urls and results */
    int fd;
    SSL *ssl;
    enum stage stage;
    int step; /* of the exchange before TLS */
    int64_t deadline;
    size_t inlen, pretls_total;
    const char *out; /* bytes to send before TLS, then wait for the reply */
    size_t outlen, outoff;
    size_t tls_read;               /* counted by the BIO callback */
    uint8_t in[EVC_EP_PRETLS_MAX]; /* last: not cleared between endpoints */
};

struct loop {
    const struct evc_ep_url *urls;
    struct evc_ep_result *res;
    struct sockaddr_storage *addr;
    socklen_t *addrlen;
    const struct evc_ep_opts *o;
    SSL_CTX *ctx;
    X509_STORE *store;   /* opts->ca's, when cas is NULL */
    X509_STORE **stores; /* the distinct anchors of cas, loaded once each */
    const char **store_ca;
    size_t nstores;
    X509_STORE **epstore; /* by endpoint, with cas: its anchors (NULL: not loaded) */
    /*
     * The first `parallel` endpoints count their deadline from the scan's
     * start, name resolution included, so a scan of no more endpoints
     * than that ends within one timeout; later ones from their own start.
     */
    int64_t t0;
    int first_wave;
};

static int64_t
now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void fail(struct loop *l, struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* End c with an error; the first reason given stays. */
static void
fail(struct loop *l, struct conn *c, const char *fmt, ...)
{
    struct evc_ep_result *r = &l->res[c->idx];
    char msg[EVC_ERR_DETAIL_MAX];
    va_list ap;

    if (r->error == NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        r->error = strdup(msg); /* NULL when out of memory: the row then says "no chain" */
    }
    c->stage = ST_DONE;
}

static void
conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl); /* no close_notify: the peer may be the one that misbehaves */
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static const char *
stage_name(const struct conn *c)
{
    switch (c->stage) {
    case ST_CONNECT:
        return "connecting";
    case ST_PRE:
        return "before TLS";
    case ST_TLS:
        return "in the TLS handshake";
    default:
        return "";
    }
}

/* Counts what the TLS layer reads from the peer and refuses more than EVC_EP_READ_MAX. */
static long
count_read(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
           size_t *processed)
{
    struct conn *c = (struct conn *)BIO_get_callback_arg(b);

    (void)argp;
    (void)len;
    (void)argi;
    (void)argl;
    if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed != NULL) {
        if (*processed > EVC_EP_READ_MAX - c->tls_read) {
            return -1;
        }
        c->tls_read += *processed;
    }
    return ret;
}

static void
start_tls(struct loop *l, struct conn *c)
{
    const struct evc_ep_url *u = &l->urls[c->idx];
    BIO *bio;

    c->stage = ST_TLS;
    if ((c->ssl = SSL_new(l->ctx)) == NULL || (bio = BIO_new_socket(c->fd, BIO_NOCLOSE)) == NULL) {
        ERR_clear_error();
        fail(l, c, "out of memory");
        return;
    }
    BIO_set_callback_ex(bio, count_read);
    BIO_set_callback_arg(bio, (char *)c);
    SSL_set_bio(c->ssl, bio, bio);
    if (u->sni[0] != '\0' && SSL_set_tlsext_host_name(c->ssl, u->sni) != 1) {
        ERR_clear_error();
        fail(l, c, "SNI name refused");
        return;
    }
    SSL_set_connect_state(c->ssl);
}

/* Queue what to send next before TLS, or start TLS (s NULL). */
static void
send_next(struct loop *l, struct conn *c, const char *s, size_t n)
{
    if (s == NULL) {
        start_tls(l, c);
        return;
    }
    c->out = s;
    c->outlen = n;
    c->outoff = 0;
}

static void
pre_begin(struct loop *l, struct conn *c)
{
    static const char sslrequest[8] = {0, 0, 0, 8, 0x04, (char)0xd2, 0x16, 0x2f};

    c->stage = ST_PRE;
    c->step = 0;
    switch (l->urls[c->idx].proto) {
    case EVC_EP_TLS:
        start_tls(l, c);
        break;
    case EVC_EP_POSTGRES:
        send_next(l, c, sslrequest, sizeof(sslrequest));
        break;
    case EVC_EP_SMTP:
    case EVC_EP_IMAP:
        break; /* the server speaks first */
    default:
        fail(l, c, "unknown protocol");
        break;
    }
}

/*
 * Read what the peer sent so far before TLS and move the exchange on. The
 * last reply must end the peer's bytes: anything after it would be read as
 * if it came inside TLS (the STARTTLS command injection of CVE-2011-0411,
 * seen from the client's side), so it is an error.
 */
static void
pre_input(struct loop *l, struct conn *c)
{
    struct evc_err e = {0};
    size_t used = 0;
    int r, code = 0, ok = 0, last = 0;

    switch (l->urls[c->idx].proto) {
    case EVC_EP_POSTGRES:
        if (c->in[0] == 'N') {
            fail(l, c, "the server does not accept SSL (SSLRequest answered 'N')");
        } else if (c->in[0] != 'S') {
            fail(l, c, "not a PostgreSQL server (SSLRequest answered 0x%02x)", c->in[0]);
        } else if (c->inlen > 1) {
            fail(l, c, "bytes after the SSLRequest's answer");
        } else {
            start_tls(l, c);
        }
        return;
    case EVC_EP_SMTP:
        if ((r = evc_ep_smtp_reply(c->in, c->inlen, &code, &used, &e)) == 1) {
            return;
        }
        if (r != 0) {
            fail(l, c, "SMTP: %s", evc_err_message(&e));
            return;
        }
        if (code != (c->step == 1 ? 250 : 220)) {
            fail(l, c, "SMTP: %s answered %d",
                 c->step == 0   ? "greeting"
                 : c->step == 1 ? "EHLO"
                                : "STARTTLS",
                 code);
            return;
        }
        last = c->step == 2;
        break;
    case EVC_EP_IMAP:
        if ((r = evc_ep_imap_reply(c->in, c->inlen, c->step == 0 ? NULL : "a", &ok, &used, &e)) ==
            1) {
            return;
        }
        if (r != 0) {
            fail(l, c, "IMAP: %s", evc_err_message(&e));
            return;
        }
        if (!ok) {
            fail(l, c, "IMAP: %s refused", c->step == 0 ? "greeting" : "STARTTLS");
            return;
        }
        last = c->step == 1;
        break;
    default:
        fail(l, c, "unknown protocol");
        return;
    }
    memmove(c->in, c->in + used, c->inlen - used);
    c->inlen -= used;
    if (last && c->inlen > 0) {
        fail(l, c, "bytes after the STARTTLS reply");
        return;
    }
    if (!last && c->inlen > 0) {
        fail(l, c, "bytes before its turn");
        return;
    }
    c->step++;
    if (l->urls[c->idx].proto == EVC_EP_SMTP) {
        send_next(l, c,
                  c->step == 1   ? "EHLO evercert.invalid\r\n"
                  : c->step == 2 ? "STARTTLS\r\n"
                                 : NULL,
                  c->step == 1 ? 23 : 10);
    } else {
        send_next(l, c, c->step == 1 ? "a STARTTLS\r\n" : NULL, 12);
    }
}

static void
pre_io(struct loop *l, struct conn *c, short revents)
{
    ssize_t n;

    if (c->out != NULL) {
        n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (n < 0) {
            fail(l, c, "send: %s", strerror(errno));
            return;
        }
        c->outoff += (size_t)n;
        if (c->outoff == c->outlen) {
            c->out = NULL;
        }
        return;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR))) {
        return;
    }
    if (c->inlen == sizeof(c->in) || c->pretls_total >= EVC_EP_PRETLS_MAX) {
        fail(l, c, "more than %d bytes before TLS", EVC_EP_PRETLS_MAX);
        return;
    }
    n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n < 0) {
        fail(l, c, "%s before TLS", strerror(errno));
        return;
    }
    if (n == 0) {
        fail(l, c, "the connection was closed before TLS");
        return;
    }
    c->inlen += (size_t)n;
    c->pretls_total += (size_t)n;
    pre_input(l, c);
}

static void
tls_io(struct loop *l, struct conn *c)
{
    unsigned long e;
    int rc = SSL_do_handshake(c->ssl), se;
    char why[256];

    if (rc == 1) {
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);

        if (evc_ep_chain_check(l->epstore != NULL ? l->epstore[c->idx] : l->store, chain,
                               &l->urls[c->idx], l->o->at, &l->res[c->idx]) != 0) {
            fail(l, c, "out of memory");
        }
        c->stage = ST_DONE;
        return;
    }
    se = SSL_get_error(c->ssl, rc);
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
        return;
    }
    e = ERR_peek_last_error();
    if (c->tls_read >= EVC_EP_READ_MAX - 16 * 1024 && e == 0) {
        fail(l, c, "TLS handshake: the peer sent over %d bytes", EVC_EP_READ_MAX);
    } else if (e != 0) {
        ERR_error_string_n(e, why, sizeof(why));
        fail(l, c, "TLS handshake: %s",
             ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : why);
    } else if (se == SSL_ERROR_SYSCALL && errno != 0) {
        fail(l, c, "TLS handshake: %s", strerror(errno));
    } else {
        fail(l, c, "TLS handshake: the connection was closed");
    }
    ERR_clear_error();
}

static void
conn_start(struct loop *l, struct conn *c, size_t idx)
{
    struct sockaddr_storage *sa = &l->addr[idx];
    int one = 1;

    /* A slot serves one endpoint after another: everything but the input buffer starts afresh. */
    memset(c, 0, offsetof(struct conn, in));
    c->idx = idx;
    c->fd = -1;
    c->stage = ST_CONNECT;
    c->deadline = (l->first_wave ? l->t0 : now_ms()) +
                  (l->o->timeouts_ms != NULL ? l->o->timeouts_ms[idx] : l->o->timeout_ms);
    if (l->addrlen[idx] == 0 || (l->epstore != NULL && l->epstore[idx] == NULL)) {
        c->stage = ST_DONE; /* not resolved: its error is in already */
        return;
    }
    if ((c->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        fail(l, c, "socket: %s", strerror(errno));
        return;
    }
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)sa, l->addrlen[idx]) == 0) {
        pre_begin(l, c);
    } else if (errno != EINPROGRESS) {
        fail(l, c, "connect: %s", strerror(errno));
    }
}

static void
conn_io(struct loop *l, struct conn *c, short revents)
{
    int soerr = 0;
    socklen_t sl = sizeof(soerr);

    switch (c->stage) {
    case ST_CONNECT:
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            soerr = errno;
        }
        if (soerr != 0) {
            fail(l, c, "connect: %s", strerror(soerr));
            return;
        }
        if (revents & (POLLOUT | POLLERR | POLLHUP)) {
            pre_begin(l, c);
            if (c->stage == ST_TLS) {
                tls_io(l, c);
            }
        }
        return;
    case ST_PRE:
        pre_io(l, c, revents);
        if (c->stage == ST_TLS) {
            tls_io(l, c);
        }
        return;
    case ST_TLS:
        tls_io(l, c);
        return;
    default:
        return;
    }
}

static short
conn_events(const struct conn *c)
{
    switch (c->stage) {
    case ST_CONNECT:
        return POLLOUT;
    case ST_PRE:
        return c->out != NULL ? POLLOUT : POLLIN;
    case ST_TLS:
        return SSL_want_write(c->ssl) ? POLLOUT : POLLIN;
    default:
        return 0;
    }
}

/* A name's request to getaddrinfo_a, and all it points to. */
struct req {
    struct gaicb cb; /* first: the block is freed through it */
    struct addrinfo hints;
    char name[EVC_EP_HOST_MAX + 1];
    char port[8];
};

/*
 * Resolve every name with getaddrinfo_a, at most timeout_ms in all. An
 * unresolved name is its endpoint's error; its request is cancelled, and
 * one the resolver cannot cancel is left to finish on its own (the memory
 * it writes is then not freed).
 */
static int
resolve(struct loop *l, size_t n)
{
    struct gaicb **reqs = NULL, **list = NULL;
    struct addrinfo hints;
    size_t nreq = 0;
    int64_t end = now_ms() + l->o->timeout_ms;
    int r = EVC_ERR_NOMEM;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    for (size_t i = 0; i < n; i++) {
        const struct evc_ep_url *u = &l->urls[i];
        struct addrinfo nh = hints, *ai = NULL;
        char port[8];

        if (!u->numeric) {
            continue;
        }
        nh.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        snprintf(port, sizeof(port), "%u", (unsigned)u->port);
        if (getaddrinfo(u->host, port, &nh, &ai) == 0 && ai != NULL) {
            memcpy(&l->addr[i], ai->ai_addr, ai->ai_addrlen);
            l->addrlen[i] = ai->ai_addrlen;
        } else if ((l->res[i].error = strdup("not an address")) == NULL) {
            freeaddrinfo(ai);
            goto out;
        }
        freeaddrinfo(ai);
    }
    if ((reqs = calloc(n + 1, sizeof(*reqs))) == NULL ||
        (list = calloc(n + 1, sizeof(*list))) == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct req *q;

        if (l->urls[i].numeric) {
            continue;
        }
        /* One block a request, name and port inside: one left to the resolver needs nothing else.
         */
        if ((q = calloc(1, sizeof(*q))) == NULL) {
            goto out;
        }
        reqs[i] = &q->cb;
        q->hints = hints;
        snprintf(q->name, sizeof(q->name), "%s", l->urls[i].host);
        snprintf(q->port, sizeof(q->port), "%u", (unsigned)l->urls[i].port);
        q->cb.ar_name = q->name;
        q->cb.ar_service = q->port;
        q->cb.ar_request = &q->hints;
        list[nreq++] = reqs[i];
    }
    if (nreq > 0 && getaddrinfo_a(GAI_NOWAIT, list, (int)nreq, NULL) != 0) {
        for (size_t i = 0; i < n; i++) {
            if (reqs[i] != NULL && l->res[i].error == NULL &&
                (l->res[i].error = strdup("the resolver could not be started")) == NULL) {
                goto out;
            }
        }
        nreq = 0;
    }
    for (;;) {
        int64_t left = end - now_ms();
        size_t pending = 0;
        struct timespec ts;

        for (size_t i = 0; i < nreq; i++) {
            pending += gai_error(list[i]) == EAI_INPROGRESS;
        }
        if (pending == 0 || left <= 0) {
            break;
        }
        /*
         * Polled, not gai_suspend(): glibc's resolver threads could still
         * touch gai_suspend's waiters after it returned, and crashed the
         * process when many names were looked up at once.
         */
        ts.tv_sec = 0;
        ts.tv_nsec = (left < 5 ? left : 5) * 1000000;
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        int ge;

        if (reqs[i] == NULL) {
            continue;
        }
        if ((ge = gai_error(reqs[i])) == EAI_INPROGRESS) {
            if (gai_cancel(reqs[i]) != EAI_CANCELED) {
                reqs[i] = NULL; /* still the resolver's: left to it, with its name and port */
            }
            if (l->res[i].error == NULL) {
                l->res[i].error = strdup("the name was not resolved in time");
            }
        } else if (l->res[i].error != NULL) {
            /* Already an error (its anchors): resolved for nothing. */
        } else if (ge != 0) {
            char msg[EVC_ERR_DETAIL_MAX];

            snprintf(msg, sizeof(msg), "%s: %s", l->urls[i].host, gai_strerror(ge));
            l->res[i].error = strdup(msg);
        } else if (reqs[i]->ar_result != NULL) {
            memcpy(&l->addr[i], reqs[i]->ar_result->ai_addr, reqs[i]->ar_result->ai_addrlen);
            l->addrlen[i] = reqs[i]->ar_result->ai_addrlen;
        }
        if (l->res[i].error == NULL && l->addrlen[i] == 0) {
            l->res[i].error = strdup("no address");
        }
        if (reqs[i] != NULL && l->addrlen[i] == 0 && l->res[i].error == NULL) {
            goto out;
        }
    }
    r = 0;
out:
    for (size_t i = 0; reqs != NULL && i < n; i++) {
        /* Out of memory half-way: one still being resolved is left to the resolver. */
        if (reqs[i] != NULL && gai_error(reqs[i]) == EAI_INPROGRESS &&
            gai_cancel(reqs[i]) != EAI_CANCELED) {
            continue;
        }
        if (reqs[i] != NULL) {
            if (reqs[i]->ar_result != NULL) {
                freeaddrinfo(reqs[i]->ar_result);
            }
            free((struct req *)reqs[i]); /* cb is the block's first member */
        }
    }
    free(reqs);
    free(list);
    return r;
}

/*
 * The anchors of each endpoint, each distinct file loaded once; one that
 * cannot be loaded is the error of its endpoints. 0 or EVC_ERR_NOMEM.
 */
static int
load_stores(struct loop *l, size_t n)
{
    if ((l->epstore = calloc(n + 1, sizeof(*l->epstore))) == NULL ||
        (l->stores = calloc(n + 1, sizeof(*l->stores))) == NULL ||
        (l->store_ca = calloc(n + 1, sizeof(*l->store_ca))) == NULL) {
        return EVC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *ca = l->o->cas[i];
        struct evc_err e = {0};
        size_t k;

        for (k = 0; k < l->nstores; k++) {
            if ((ca == NULL && l->store_ca[k] == NULL) ||
                (ca != NULL && l->store_ca[k] != NULL && strcmp(ca, l->store_ca[k]) == 0)) {
                break;
            }
        }
        if (k == l->nstores) {
            int r = evc_ep_store_load(ca, &l->stores[k], &e);

            if (r == EVC_ERR_NOMEM) {
                return r;
            }
            l->store_ca[k] = ca;
            l->nstores++;
            if (r != 0 && (l->res[i].error = strdup(evc_err_message(&e))) == NULL) {
                return EVC_ERR_NOMEM;
            }
        } else if (l->stores[k] == NULL && l->res[i].error == NULL &&
                   (l->res[i].error = strdup("the anchors could not be loaded")) == NULL) {
            return EVC_ERR_NOMEM;
        }
        l->epstore[i] = l->stores[k];
    }
    return 0;
}

void
evc_ep_opts_default(struct evc_ep_opts *o, evc_time now)
{
    memset(o, 0, sizeof(*o));
    o->parallel = 64;
    o->timeout_ms = 10000;
    o->at = now;
}

void
evc_ep_results_free(struct evc_ep_result *res, size_t n)
{
    if (res == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(res[i].url);
        free(res[i].error);
        free(res[i].verify_error);
        for (size_t k = 0; k < res[i].ncerts; k++) {
            OPENSSL_free(res[i].der[k]);
        }
    }
    free(res);
}

int
evc_ep_scan(const struct evc_ep_url *urls, size_t n, const struct evc_ep_opts *o,
            struct evc_ep_result **out, struct evc_err *err)
{
    struct loop l;
    struct conn *conns = NULL;
    struct pollfd *pfd = NULL;
    size_t next = 0, active = 0, par;
    sigset_t pipeset, oldmask;
    int r = EVC_ERR_INTERNAL, masked = 0;

    *out = NULL;
    memset(&l, 0, sizeof(l));
    l.urls = urls;
    l.o = o;
    if (n > EVC_EP_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "more than %d endpoints", EVC_EP_MAX);
    }
    par = o->parallel < 1 ? 1 : (size_t)o->parallel;
    par = par > EVC_EP_PARALLEL_MAX ? EVC_EP_PARALLEL_MAX : par;
    par = par > n ? (n > 0 ? n : 1) : par;
    if ((l.res = calloc(n + 1, sizeof(*l.res))) == NULL ||
        (l.addr = calloc(n + 1, sizeof(*l.addr))) == NULL ||
        (l.addrlen = calloc(n + 1, sizeof(*l.addrlen))) == NULL ||
        (conns = calloc(par, sizeof(*conns))) == NULL ||
        (pfd = calloc(par, sizeof(*pfd))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char text[EVC_EP_URL_MAX + 1];

        evc_ep_url_format(&urls[i], text, sizeof(text));
        if ((l.res[i].url = strdup(text)) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
            goto out;
        }
    }
    if (o->cas == NULL && (r = evc_ep_store_load(o->ca, &l.store, err)) != 0) {
        goto out;
    }
    if (o->cas != NULL && (r = load_stores(&l, n)) != 0) {
        r = evc_err_set(err, r, NULL);
        goto out;
    }
    if ((l.ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot set up TLS");
        goto out;
    }
    /* Whatever a server presents is reported, so no handshake is refused for its strength. */
    SSL_CTX_set_security_level(l.ctx, 0);
    SSL_CTX_set_verify(l.ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(l.ctx, SSL_SESS_CACHE_OFF);
    l.t0 = now_ms();
    l.first_wave = 1;
    /*
     * OpenSSL writes to the socket with write(): a peer that resets
     * mid-handshake must cost an error row, not the process (SIGPIPE).
     * Blocked for this thread while the loop runs; one raised here is
     * taken back before the old mask returns.
     */
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    masked = pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask) == 0;
    if ((r = resolve(&l, n)) != 0) {
        r = evc_err_set(err, r, NULL);
        goto out;
    }
    for (size_t k = 0; k < par; k++) {
        conns[k].stage = ST_IDLE;
        conns[k].fd = -1;
    }
    for (;;) {
        int64_t t = now_ms(), wait = -1;
        nfds_t np = 0;
        int pr;

        /* Fill free slots, retire finished and late ones. */
        for (size_t k = 0; k < par; k++) {
            struct conn *c = &conns[k];

            if (c->stage != ST_IDLE && c->stage != ST_DONE && t >= c->deadline) {
                fail(&l, c, "no answer within %lld ms (%s)", (long long)o->timeout_ms,
                     stage_name(c));
            }
            if (c->stage == ST_DONE) {
                conn_close(c);
                c->stage = ST_IDLE;
                active--;
            }
            while (c->stage == ST_IDLE && next < n) {
                conn_start(&l, c, next++);
                active++;
                if (c->stage == ST_DONE) {
                    conn_close(c);
                    c->stage = ST_IDLE;
                    active--;
                }
            }
        }
        l.first_wave = 0;
        if (active == 0 && next >= n) {
            break;
        }
        for (size_t k = 0; k < par; k++) {
            struct conn *c = &conns[k];

            pfd[k].fd = -1;
            pfd[k].events = 0;
            pfd[k].revents = 0;
            if (c->stage == ST_IDLE || c->stage == ST_DONE) {
                continue;
            }
            pfd[k].fd = c->fd;
            pfd[k].events = conn_events(c);
            if (wait < 0 || c->deadline - t < wait) {
                wait = c->deadline - t < 0 ? 0 : c->deadline - t;
            }
            np = k + 1;
        }
        pr = poll(pfd, np, (int)(wait < 0 ? 1000 : wait));
        if (pr < 0 && errno != EINTR) {
            r = evc_err_set(err, EVC_ERR_IO, "poll: %s", strerror(errno));
            goto out;
        }
        for (size_t k = 0; pr > 0 && k < np; k++) {
            if (pfd[k].fd >= 0 && pfd[k].revents != 0) {
                conn_io(&l, &conns[k], pfd[k].revents);
            }
        }
    }
    *out = l.res;
    l.res = NULL;
    r = 0;
out:
    for (size_t k = 0; conns != NULL && k < par; k++) {
        conn_close(&conns[k]);
    }
    if (masked) {
        struct timespec zero = {0, 0};

        while (!sigismember(&oldmask, SIGPIPE) && sigtimedwait(&pipeset, NULL, &zero) > 0) {
        }
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    }
    evc_ep_results_free(l.res, n);
    free(l.addr);
    free(l.addrlen);
    free(conns);
    free(pfd);
    SSL_CTX_free(l.ctx);
    X509_STORE_free(l.store);
    for (size_t i = 0; i < l.nstores; i++) {
        X509_STORE_free(l.stores[i]);
    }
    free(l.stores);
    free(l.store_ca);
    free(l.epstore);
    ERR_clear_error();
    return r;
}
