/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evc_server: the TLS server of `evercert serve` as a library object. It
 * holds the published context (src/tls/server.c), binds the HTTPS
 * addresses to the HTTP responder (http.c) and the push channel's address
 * to its own accept path (push.c: it is a stream of DER objects, not
 * HTTP), watches the files (watch.c), and stops on request or signal.
 * Everything runs in the thread of the base.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "evercert/ready.h"
#include "serve/serve_int.h"

#define IDLE_DEFAULT 300   /* seconds; a connection silent longer is closed */
#define REQUEST_DEFAULT 30 /* seconds from accept or a request's first byte to its end */
#define TIMEOUT_MAX 86400
#define STOP_GRACE_MS 2000

/*
 * evhttp takes a listener's callback argument for its own, and an accept
 * error reaches us with that argument; this maps the listener back to
 * its server, so the pause below still knows whose listeners to pause.
 */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct registered {
    struct evconnlistener *l;
    struct evc_server *s;
} registry[64];

/* -1 when full: a listener without its server could not pause on accept errors, and would spin. */
static int
registry_add(struct evconnlistener *l, struct evc_server *s)
{
    int r = -1;

    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].l == NULL) {
            registry[i].l = l;
            registry[i].s = s;
            r = 0;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return r;
}

static struct evc_server *
registry_find(struct evconnlistener *l)
{
    struct evc_server *s = NULL;

    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].l == l) {
            s = registry[i].s;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return s;
}

static void
registry_drop(struct evc_server *s)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].s == s) {
            registry[i].l = NULL;
            registry[i].s = NULL;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

void
evc_server_logf(struct evc_server *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (s->log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->log(s->log_arg, line);
}

static void
listeners_enable(struct evc_server *s, int on)
{
    for (size_t i = 0; i < s->nlisteners; i++) {
        if (on) {
            evconnlistener_enable(s->listeners[i]);
        } else {
            evconnlistener_disable(s->listeners[i]);
        }
    }
    if (s->announce != NULL) {
        if (on) {
            evconnlistener_enable(s->announce);
        } else {
            evconnlistener_disable(s->announce);
        }
    }
}

/*
 * accept() failed (out of descriptors, most likely): pause every listener
 * for 100 ms instead of spinning on a queue we cannot empty.
 */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
    struct evc_server *s = registry_find(l);
    struct timeval pause = {0, 100000};
    int e = EVUTIL_SOCKET_ERROR();

    (void)arg;
    if (s == NULL) {
        return;
    }
    listeners_enable(s, 0);
    if (!evtimer_pending(s->resume, NULL)) {
        struct timespec ts;
        time_t now;

        clock_gettime(CLOCK_MONOTONIC,
                      &ts); /* a log's rate, not a decision: the wall clock may jump */
        now = ts.tv_sec;

        /* Said once a minute, with how often it happened since, not ten times a second. */
        s->accept_pauses++;
        if (s->accept_said == 0 || now - s->accept_said >= 60) {
            evc_server_logf(s, "cannot accept: %s; pausing new connections for 100 ms (%lu time%s)",
                            evutil_socket_error_to_string(e), s->accept_pauses,
                            s->accept_pauses == 1 ? "" : "s");
            s->accept_said = now;
            s->accept_pauses = 0;
        }
        evtimer_add(s->resume, &pause);
    }
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct evc_server *s = arg;

    (void)fd;
    (void)what;
    if (!s->stopping) {
        listeners_enable(s, 1);
    }
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct evc_server *s = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(s->base);
}

void
evc_server_stop(struct evc_server *s, int grace_ms)
{
    struct timeval grace = {grace_ms / 1000, (grace_ms % 1000) * 1000};

    if (s == NULL || s->stopping) {
        return;
    }
    s->stopping = 1;
    listeners_enable(s, 0);
    evtimer_add(s->grace, &grace);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct evc_server *s = arg;

    (void)what;
    if (s->stopping) {
        return;
    }
    evc_server_logf(s, "%s: no new connections; stopping in %d s", strsignal((int)sig),
                    STOP_GRACE_MS / 1000);
    evc_server_stop(s, STOP_GRACE_MS);
}

static int
parse_addr(const char *addr, struct sockaddr_storage *ss, int *len, struct evc_err *err)
{
    *len = (int)sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, len) != 0) {
        return evc_err_set(err, EVC_ERR_USAGE,
                           "%s: expected ADDR:PORT, like 127.0.0.1:8443 or [::1]:8443", addr);
    }
    return 0;
}

static int
listen_on(struct evc_server *s, const char *addr, evconnlistener_cb cb, struct evconnlistener **out,
          struct evc_err *err)
{
    struct sockaddr_storage ss;
    int len, r, one = 1;

    *out = NULL;
    if ((r = parse_addr(addr, &ss, &len, err)) != 0) {
        return r;
    }
    *out = evconnlistener_new_bind(
        s->base, cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
        (struct sockaddr *)&ss, len);
    if (*out == NULL) {
        return evc_err_set(err, EVC_ERR_IO, "%s: cannot listen: %s", addr, strerror(errno));
    }
    /*
     * Accepted sockets inherit it (Linux): evhttp writes a head and a body
     * as two TLS records, and Nagle would hold the second for the peer's
     * delayed ACK (40 ms a keep-alive request).
     */
    (void)setsockopt(evconnlistener_get_fd(*out), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evconnlistener_set_error_cb(*out, on_accept_error);
    if (registry_add(*out, s) != 0) {
        evconnlistener_free(*out);
        *out = NULL;
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: this process listens on %zu addresses already",
                           addr, sizeof(registry) / sizeof(registry[0]));
    }
    return 0;
}

/* A placeholder until evhttp takes the listener over. */
static void
on_accept_unbound(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                  void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    (void)arg;
    evutil_closesocket(fd);
}

/* A handshake whose client said which generation it holds: the peer of its socket holds it. */
static void
on_hello(void *arg, SSL *ssl, uint64_t have)
{
    struct evc_server *s = arg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = SSL_get_fd(ssl);

    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        evc_server_observe(s, (struct sockaddr *)&ss, NULL, have, EVC_READY_HELLO);
    }
}

static char *
dup_opt(const char *p, int *bad)
{
    char *d;

    if (p == NULL) {
        return NULL;
    }
    if ((d = strdup(p)) == NULL) {
        *bad = 1;
    }
    return d;
}

int
evc_server_new(struct evc_server **out, const struct evc_server_opts *o, struct event_base *base,
               struct evc_err *err)
{
    struct evc_server *s = NULL;
    int bad = 0, r = EVC_ERR_INTERNAL;

    *out = NULL;
    if (o->cert == NULL || o->key == NULL || o->nlisten == 0 || o->nlisten > EVC_SERVE_LISTEN_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "a server needs a cert, a key and 1 to %d addresses",
                           EVC_SERVE_LISTEN_MAX);
    }
    if (o->idle_timeout < 0 || o->idle_timeout > TIMEOUT_MAX || o->request_timeout < 0 ||
        o->request_timeout > TIMEOUT_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "timeouts are 1 to %d seconds (0: the default)",
                           TIMEOUT_MAX);
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    s->inotify_fd = -1;
    s->log = o->log;
    s->log_arg = o->log_arg;
    s->cert = dup_opt(o->cert, &bad);
    s->key = dup_opt(o->key, &bad);
    s->chain = dup_opt(o->chain, &bad);
    s->sa = dup_opt(o->sa, &bad);
    s->well_known = !o->no_well_known;
    s->request_timeout = o->request_timeout > 0 ? o->request_timeout : REQUEST_DEFAULT;
    if (bad) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!o->no_readiness) {
        struct evc_ready_opts ro = {o->ready_window, o->ready_max, evc_time_now()};

        if ((r = evc_ready_new(&s->ready, &ro, err)) != 0) {
            goto out;
        }
    }
    if ((r = evc_tls_server_new(&s->tls, err)) != 0 ||
        (r = evc_tls_server_load(s->tls, s->cert, s->key, s->chain, s->sa, evc_time_now(), err)) !=
            0) {
        goto out;
    }
    s->base = base;
    if (base == NULL) {
        if ((s->base = event_base_new()) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "cannot set up the event loop");
            goto out;
        }
        s->own_base = 1;
    }
    if ((s->resume = evtimer_new(s->base, on_resume, s)) == NULL ||
        (s->grace = evtimer_new(s->base, on_grace, s)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "cannot set up events");
        goto out;
    }
    if ((r = evc_server_http_new(s, o->idle_timeout > 0 ? o->idle_timeout : IDLE_DEFAULT, err)) !=
        0) {
        goto out;
    }
    for (size_t i = 0; i < o->nlisten; i++) {
        struct evconnlistener *l;

        if ((r = listen_on(s, o->listen[i], on_accept_unbound, &l, err)) != 0) {
            goto out;
        }
        if (evhttp_bind_listener(s->http, l) == NULL) {
            evconnlistener_free(l);
            r = evc_err_set(err, EVC_ERR_NOMEM, "%s: cannot serve HTTP", o->listen[i]);
            goto out;
        }
        s->listeners[s->nlisteners++] = l;
    }
    if (o->push_listen != NULL &&
        (r = listen_on(s, o->push_listen, evc_server_push_accept, &s->announce, err)) != 0) {
        goto out;
    }
    if (o->status_listen != NULL && (r = evc_server_status_new(s, o->status_listen, err)) != 0) {
        goto out;
    }
    if (s->ready != NULL) {
        evc_tls_server_on_hello(s->tls, on_hello, s);
    }
    if ((r = evc_server_watch_start(s, err)) != 0) {
        goto out;
    }
    if (o->handle_signals &&
        ((s->sigterm = evsignal_new(s->base, SIGTERM, on_signal, s)) == NULL ||
         (s->sigint = evsignal_new(s->base, SIGINT, on_signal, s)) == NULL ||
         event_add(s->sigterm, NULL) != 0 || event_add(s->sigint, NULL) != 0)) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "cannot set up the stop signals");
        goto out;
    }
    {
        char where[512];
        size_t at = 0;

        for (size_t i = 0; i < o->nlisten && at < sizeof(where); i++) {
            at += (size_t)snprintf(where + at, sizeof(where) - at, "%s%s", i > 0 ? ", " : "",
                                   o->listen[i]);
        }
        evc_server_logf(s, "listening on %s%s%s%s%s%s", where,
                        o->push_listen != NULL ? ", announcing on " : "",
                        o->push_listen != NULL ? o->push_listen : "",
                        o->status_listen != NULL ? ", status on " : "",
                        o->status_listen != NULL ? o->status_listen : "",
                        s->ready == NULL ? "; readiness off" : "");
    }
    *out = s;
    s = NULL;
    r = 0;
out:
    evc_server_free(s);
    return r;
}

int
evc_server_run(struct evc_server *s, struct evc_err *err)
{
    if (event_base_dispatch(s->base) == -1) {
        return evc_err_set(err, EVC_ERR_INTERNAL, "the event loop failed");
    }
    return 0;
}

void
evc_server_stats(const struct evc_server *s, struct evc_server_stats *out)
{
    *out = s->st;
}

void
evc_server_free(struct evc_server *s)
{
    if (s == NULL) {
        return;
    }
    registry_drop(s);
    evc_server_push_free(s);
    evc_server_http_free(s);
    evc_server_status_free(s);
    if (s->announce != NULL) {
        evconnlistener_free(s->announce);
    }
    evc_server_watch_free(s);
    if (s->resume != NULL) {
        event_free(s->resume);
    }
    if (s->grace != NULL) {
        event_free(s->grace);
    }
    if (s->sigterm != NULL) {
        event_free(s->sigterm);
    }
    if (s->sigint != NULL) {
        event_free(s->sigint);
    }
    if (s->own_base && s->base != NULL) {
        event_base_free(s->base);
    }
    evc_tls_server_free(s->tls);
    evc_ready_free(s->ready);
    free(s->cert);
    free(s->key);
    free(s->chain);
    free(s->sa);
    free(s);
}
