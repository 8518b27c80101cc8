/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS server of `evercert serve`, for embedding: HTTPS on one or more
 * addresses (each request gets the SHA-256 of the certificate its
 * connection was given; the well-known URL gives the SA), the push
 * channel on an address of its own, and the hot swap when the cert, key
 * or SA file changes. It runs on a libevent base, the caller's or its
 * own, in that base's thread. The caller ignores SIGPIPE: TLS writes go
 * to the socket directly, and a peer that leaves mid-answer would
 * otherwise end the process.
 */
#ifndef EVERCERT_SERVE_H
#define EVERCERT_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"
#include "evercert/limits.h"

struct event_base;
struct evc_server;

/* The path of the SA on a server's HTTPS addresses. */
#define EVC_SERVE_WELL_KNOWN "/.well-known/evercert/successor"

struct evc_server_opts {
    const char *const *listen; /* ADDR:PORT ("127.0.0.1:8443", "[::1]:8443"), nlisten of them */
    size_t nlisten;            /* 1 to EVC_SERVE_LISTEN_MAX */
    const char *cert, *key;    /* the pair; a chain may follow the leaf in cert */
    const char *chain;         /* more chain certificates, or NULL */
    const char *sa;            /* the SA to hand out, or NULL; it may appear later */
    const char *push_listen;   /* ADDR:PORT of the push channel, or NULL: none */
    int no_well_known;         /* 1: EVC_SERVE_WELL_KNOWN is not served (404) */
    int idle_timeout;          /* seconds a connection may stay silent, 1..86400; 0: 300 */
    int request_timeout;       /* seconds from a connection's accept, or a request's first byte,
                                  to the request's end (a push connection: to its handshake's
                                  end), 1..86400; 0: 30 */
    int handle_signals;        /* 1: SIGTERM and SIGINT stop it (evc_server_stop, 2 s) */
    /*
     * Readiness (ready.h): the generation each client holds, from its
     * handshakes, its acknowledgements on the push channel and the query
     * of its well-known fetches, served as plain HTTP (GET /status, GET
     * /metrics) on status_listen: ADDR:PORT or unix:PATH (made 0600), or
     * NULL for none. It has no authentication: bind it to loopback.
     */
    const char *status_listen;
    int64_t ready_window; /* seconds a client's report counts; 0: EVC_READY_WINDOW_DEFAULT */
    size_t ready_max;     /* entries kept; 0: EVC_READY_ENTRIES_DEFAULT */
    int no_readiness;     /* 1: no tracking at all (the status says no clients) */
    /* One line per event (listening, swaps, refusals, pushes); NULL: silent. */
    void (*log)(void *arg, const char *line);
    void *log_arg;
};

/* What the server did since it was made. */
struct evc_server_stats {
    uint64_t connections;      /* accepted on the HTTPS addresses */
    uint64_t requests;         /* HTTP requests answered, any status */
    uint64_t not_found;        /* of which 404 */
    uint64_t sa_by_url;        /* SAs sent at EVC_SERVE_WELL_KNOWN */
    uint64_t push_connections; /* accepted on the push channel */
    uint64_t sa_pushed;        /* SAs written down push connections */
    uint64_t swaps;            /* contexts published after the first */
    uint64_t refused;          /* changed files not used (broken pair, bad SA) */
    uint64_t acks;             /* acknowledgements read on the push channel */
    uint64_t push_dropped;     /* push connections dropped for what they sent */
    uint64_t status_requests;  /* answered on the status listener */
    uint64_t status_counts;    /* counts of the clients made for it (at most one a second) */
};

/*
 * Load the files, publish the first context and listen. base is the
 * caller's (NULL: the server makes its own, for evc_server_run). The
 * options' strings are copied. Errors name the file or the address and
 * the reason; nothing is left listening then.
 */
EVC_EXPORT EVC_MUST_USE int evc_server_new(struct evc_server **out, const struct evc_server_opts *o,
                                           struct event_base *base, struct evc_err *err);

/*
 * Dispatch the server's base until evc_server_stop's grace ends (or the
 * base has nothing left to do). A caller that owns the base dispatches it
 * itself instead.
 */
EVC_EXPORT EVC_MUST_USE int evc_server_run(struct evc_server *s, struct evc_err *err);

/*
 * Stop accepting on every address now; open connections have grace_ms to
 * finish, then the base's loop is broken: evc_server_run returns (or the
 * caller's event_base_dispatch, on the caller's base). Safe to call more
 * than once.
 */
EVC_EXPORT void evc_server_stop(struct evc_server *s, int grace_ms);

/*
 * Load the files now, as a change seen by the watch would (for a caller
 * that knows when it changed them: SIGHUP). On error the published
 * context stays and the error names the file and the reason.
 */
EVC_EXPORT EVC_MUST_USE int evc_server_reload(struct evc_server *s, struct evc_err *err);

EVC_EXPORT void evc_server_stats(const struct evc_server *s, struct evc_server_stats *out);

/*
 * What the clients hold now against the SA served (ready.h); all zero
 * but the time with readiness off. In the base's thread, as the rest.
 */
struct evc_ready_summary;
EVC_EXPORT void evc_server_readiness(struct evc_server *s, struct evc_ready_summary *out);

/* Close every connection and listener; the base stays if it is the caller's. NULL: nothing. */
EVC_EXPORT void evc_server_free(struct evc_server *s);

#endif
