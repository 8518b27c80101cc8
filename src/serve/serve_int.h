/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/serve: the server's state and what each part offers the others. */
#ifndef EVC_SERVE_INT_H
#define EVC_SERVE_INT_H

#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/util.h>

#include "evercert/limits.h"
#include "evercert/serve.h"
#include "evercert/tls.h"

struct evconnlistener;
struct evc_ready;
struct evhttp;
struct event;
struct push_conn;
struct sockaddr;

struct evc_server {
    char *cert, *key, *chain, *sa;
    int well_known;
    int request_timeout; /* seconds; see evc_server_opts */
    struct event_base *base;
    int own_base;
    struct evc_tls_server *tls;
    struct evhttp *http;
    struct evconnlistener *listeners[EVC_SERVE_LISTEN_MAX]; /* owned by http */
    size_t nlisteners;
    struct evconnlistener *announce;        /* the push channel's */
    struct evc_ready *ready;                /* NULL: readiness off */
    struct evhttp *status_http;             /* the status listener's responder, or NULL */
    char *status_unix;                      /* the socket file it made, removed at the end */
    struct evc_ready_summary *status_cache; /* the last count, reused within its second */
    uint64_t status_cache_gen;
    struct event *inotify_ev, *timer, *debounce, *sigterm, *sigint, *resume, *grace;
    int inotify_fd;
    struct stat seen[3];
    uint64_t sa_generation;
    uint8_t sa_noted[32]; /* the last SA said to be too large for the handshake */
    struct push_conn *push;
    size_t npush;
    unsigned long push_refused; /* push connections refused at the caps since the last line */
    time_t push_refused_said;   /* when that line was last written */
    struct evc_server_stats st;
    int stopping;
    time_t accept_said;          /* monotonic second an accept failure was last logged */
    unsigned long accept_pauses; /* accept failures since */
    void (*log)(void *arg, const char *line);
    void *log_arg;
};

void evc_server_logf(struct evc_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* http.c: the HTTP responder on s->base; then evc_server_http_bind per address. */
int evc_server_http_new(struct evc_server *s, int idle_timeout, struct evc_err *err);
void evc_server_http_free(struct evc_server *s);

/* push.c: accept on the push listener; hand the current SA to every listener. */
void evc_server_push_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int len, void *arg);
void evc_server_push_all(struct evc_server *s);
void evc_server_push_free(struct evc_server *s);

/* status.c: the readiness a client gives (handshake, ack, URL), and the status listener. */
void evc_server_observe(struct evc_server *s, const struct sockaddr *peer, const char *id,
                        uint64_t held, int src);
int evc_server_status_new(struct evc_server *s, const char *where, struct evc_err *err);
void evc_server_status_free(struct evc_server *s);

/* watch.c: remember the files as they are, watch them, and reload on a change. */
int evc_server_watch_start(struct evc_server *s, struct evc_err *err);
void evc_server_watch_free(struct evc_server *s);
void evc_server_note_sa_size(struct evc_server *s);

#endif
