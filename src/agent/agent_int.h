/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/agent: one agent's runtime, and the parts the loop drives. */
#ifndef EVC_AGENT_INT_H
#define EVC_AGENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "evercert/agent.h"
#include "evercert/buf.h"
#include "evercert/config.h"
#include "evercert/log.h"
#include "evercert/state.h"
#include "evercert/tls.h"

/* The push channel's connection to one server. */
struct evc_push {
    struct evc_tls_conn c; /* c.fd == -1: not connected */
    X509 *leaf;            /* verified when it connected */
    struct evc_buf in;     /* bytes of the object being read */
    int64_t partial_since; /* monotonic ms when the object's first byte came; 0: none */
    int64_t retry_at;      /* monotonic ms of the next attempt */
    unsigned attempts;     /* failures since the last good connection */
    unsigned offered;      /* SAs read on this connection */
    /*
     * An SA this connection offered was refused as not signed by a
     * certificate trusted yet; once the server's generation moves past
     * this one (a person approved, a hold-down ended) the channel is
     * opened again, and the server hands its latest SA over at connect.
     */
    int refused_waits;
    uint64_t refused_at_generation;
    /*
     * The acknowledgements (docs/PROTOCOL.md): the generation installed,
     * told once the channel verified the server and again whenever a newer
     * one is written. An ack that could not be written whole at once keeps
     * its bytes, as SSL_write must be called again with the same ones.
     */
    int acked_any;  /* an ack went out whole on this connection */
    uint64_t acked; /* its generation */
    uint8_t ack[EVC_ACK_MAX];
    size_t ack_len;      /* 0: none being written */
    uint64_t ack_gen;    /* the generation of the one being written */
    int64_t ack_look_at; /* monotonic ms when the state is next read for a newer generation */
    int64_t acked_at;    /* monotonic ms of the last whole ack: it is said again each interval */
    int ack_wants_read;  /* the ack being written waits for the socket to be readable */
    int state_said;      /* an unreadable state was logged; said again once it was read */
};

/*
 * A log rate limit (pure): the first burst lines of each window go out,
 * the rest are counted, and the count is told in one line when the
 * window is over.
 */
struct evc_ratelimit {
    int64_t start;    /* ms: the window's start; 0: no window open */
    unsigned logged;  /* lines let through in this window */
    unsigned held;    /* lines held back in this window */
    unsigned repeats; /* events never logged one by one (the same SA again) */
};

/*
 * May a line go out at now_ms? 1 for the first burst of a window of
 * window_ms, else 0 (counted in held). A window that is over first closes
 * with evc_ratelimit_flush's result in *held and *repeats (to be told
 * before this line; both 0: nothing to tell). Pure.
 */
int evc_ratelimit_take(struct evc_ratelimit *rl, int64_t now_ms, unsigned burst, int64_t window_ms,
                       unsigned *held, unsigned *repeats);
/* Count an event that is never logged by itself, opening a window if none is. Pure. */
void evc_ratelimit_note(struct evc_ratelimit *rl, int64_t now_ms);
/*
 * Close the window if it is over (or force): 1 with what it held back in
 * *held and *repeats when there is something to tell, else 0. *due_ms
 * gets when to ask again (0: never; nothing is held). Pure.
 */
int evc_ratelimit_flush(struct evc_ratelimit *rl, int64_t now_ms, int64_t window_ms, int force,
                        unsigned *held, unsigned *repeats, int64_t *due_ms);

struct evc_agent {
    int64_t clock_offset;
    char config_path[4096];
    struct evc_config *conf;
    struct evc_state *st;
    struct evc_log log;
    struct evc_push *push;            /* one per server */
    struct evc_ratelimit *reject_log; /* one per server */
    int cancel_fd;                    /* readable when a stop signal waits; -1: none */
    int status; /* the worst of this round: 0, 1 (a person is needed), 2 (unreachable) */
    /* The fleet inventory (fleet.c): on in the service only, opened at its first use. */
    int fleet_on, fleet_failed;
    struct evc_fleet *fleet;
    struct evc_agent_told *fleet_told; /* per server, the holding last written */
    size_t nfleet_told;
    struct evc_agent_fleet_pending *fleet_pending; /* written at the end of the tick */
    size_t nfleet_pending, fleet_pending_lost;
};

/*
 * The fleet inventory's hooks: a decision (accept, activate, retire,
 * reject), what server's agent holds now (written when it changed, or at
 * least every ten minutes, which is the host's heartbeat), kept until the
 * flush at the end of a tick writes them to the outbox and sends it. They
 * never fail: a problem is a log line.
 */
void evc_agent_fleet_event(struct evc_agent *a, evc_time now, const char *server, const char *what,
                           uint64_t generation, const char *detail);
struct evc_agent_server;
void evc_agent_fleet_holding(struct evc_agent *a, evc_time now, const char *server,
                             const struct evc_agent_server *known);
void evc_agent_fleet_flush(struct evc_agent *a, evc_time now);
void evc_agent_fleet_close(struct evc_agent *a);

/*
 * The per-server runtime of a running agent: push connections and the
 * rejection log limits. Free tells what the limits held back, then frees.
 */
int evc_agent_runtime_alloc(struct evc_agent *a, struct evc_err *err);
void evc_agent_runtime_free(struct evc_agent *a);

/* Seconds: the wall clock moved by --at. */
evc_time evc_agent_now(const struct evc_agent *a);

/* Load the configuration, open the state; with exclusive, refuse a second agent. */
int evc_agent_open(struct evc_agent *a, const char *config_path, int64_t clock_offset,
                   int exclusive, struct evc_err *err);
void evc_agent_close(struct evc_agent *a);

/*
 * An SA that server i offered by source on a connection whose verified
 * leaf was conn_leaf: decide, record, and write it if accepted. Returns 1
 * when it was refused only because no certificate this agent trusts
 * signed it (it may follow a successor still waiting for a person or a
 * hold-down, and pass once that one is taken), else 0.
 */
int evc_agent_offer(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *conn_leaf,
                    const char *source, evc_time now);

/*
 * Rejections held back by server i's log rate limit, told in one line
 * (and one event) once its window is over, or now with force. *next_ms
 * gets the monotonic ms when it is next due, if earlier (0: none).
 */
void evc_agent_reject_flush(struct evc_agent *a, size_t i, int64_t now_ms, int force,
                            int64_t *next_ms);

/* A stop signal waits (a->cancel_fd is readable): drop everything that is not done. */
int evc_agent_stopping(const struct evc_agent *a);

/* One handshake (and one fetch of the URL) to server i. */
void evc_agent_contact(struct evc_agent *a, size_t i, evc_time now);

/*
 * What time alone decides: successors that became active, predecessors
 * that expired, holds that are over, writes a crash interrupted. *next
 * gets the earliest time something is due (0: nothing).
 */
void evc_agent_tick(struct evc_agent *a, evc_time now, evc_time *next);

/* The anchors of server i's trust store now, as a store to verify with. */
X509_STORE *evc_agent_trust_store(struct evc_agent *a, size_t i, struct evc_err *err);

/*
 * GET url at connect, verified against trust: the body (404: empty; at
 * most EVC_SA_MAX bytes, body's cap must allow them) and the leaf
 * presented. timeout_ms bounds the whole transfer, connect and TLS
 * included; a readable cancel_fd (-1: none) abandons it.
 */
int evc_agent_fetch(const char *url, const char *connect, X509_STORE *trust, long timeout_ms,
                    int cancel_fd, struct evc_buf *body, X509 **leaf, struct evc_err *err);

/* --- the push channel (push.c) --- */
/* Connect server i's push channel if it is time; logs why not. */
void evc_push_connect(struct evc_agent *a, size_t i);
/*
 * Read what is there, one object at a time and never past its end; offer
 * it when whole. Returns after one object or a bounded number of bytes so
 * the loop sees signals, timers and other servers; more waits in the
 * socket or in OpenSSL (SSL_has_pending). Drops the connection on garbage,
 * an object over the cap, or EOF.
 */
void evc_push_read(struct evc_agent *a, size_t i);
/* Drop a reader that has sat on part of an object too long; *next_ms: its deadline. */
void evc_push_check(struct evc_agent *a, size_t i, int64_t now_ms, int64_t *next_ms);
void evc_push_close(struct evc_agent *a, size_t i, const char *why);
/*
 * Tell server i's push channel the generation installed now, if it has
 * not been told it (or finish writing the ack that waits). Never blocks;
 * a write that fails drops the channel as a read error does.
 */
void evc_push_ack(struct evc_agent *a, size_t i);
/* 1 when server i's push channel has an ack half written (the loop then waits to write). */
int evc_push_ack_waits(const struct evc_agent *a, size_t i);

/* --- runtime.c: the runtime, and how the agent tells --- */

/* The worst status of this round rises to status (0, 1 or 2). */
void evc_agent_worse(struct evc_agent *a, int status);

/* Record a decision: the state (for `evercert history`) and the log. */
void evc_agent_event(struct evc_agent *a, evc_time now, const char *server, const char *what,
                     const char *reason, int64_t sa_id, uint64_t generation, const char *source,
                     const char *detail);

/*
 * Tell a person once per (key, value), across restarts: the line when the
 * value recorded under key changes, and e-mail when [notify] email_to is
 * set (recorded under its own key, so a mail that failed is sent by the
 * next round without the line being repeated). 1 when the line was told.
 */
int evc_agent_tell(struct evc_agent *a, evc_time now, int prio, const char *key, const char *value,
                   const char *line, const char *subject, const char *body);

/*
 * A conflict is told once per server and generation, across restarts (the
 * line, and mail when configured).
 */
void evc_agent_conflict_alert(struct evc_agent *a, size_t i, evc_time now, uint64_t gen,
                              const char *line, const char *body);

/*
 * A new refusal or conflict (what): its line and event, unless server i's
 * rate limit holds it back.
 */
void evc_agent_reject_event(struct evc_agent *a, size_t i, evc_time now, const char *what,
                            int64_t id, uint64_t gen, const char *source, const char *reason,
                            const char *message);

/* The earlier of *next and t; 0 is no time. */
void evc_agent_next_at(evc_time *next, evc_time t);

/* The name this agent gives its servers ([agent] client_id); "" for none. */
void evc_agent_id(const struct evc_agent *a, char out[EVC_ACK_ID_MAX + 1]);

/* The index of the server named name in the configuration, or -1. */
long evc_agent_server_index(const struct evc_agent *a, const char *name);

/* --- trust.c: the trust stores --- */

struct evc_trust;

/* Read server i's trust store, checking it is of the configured format; free with evc_trust_free.
 */
int evc_agent_trust_load(struct evc_agent *a, size_t i, struct evc_trust **out,
                         struct evc_err *err);
/* The anchors of t as a store to verify with (only what OpenSSL would find); NULL: out of memory.
 */
X509_STORE *evc_agent_store_of(const struct evc_trust *t, struct evc_err *err);
/*
 * The store an SA is checked against: the trust store, whose content says
 * what a successor must chain to, except for a pin file, which takes the
 * successor leaf itself. *out is NULL for a pin file. 0 or -1.
 */
int evc_agent_check_store(struct evc_agent *a, size_t i, X509_STORE **out, struct evc_err *err);
/*
 * Writers of one trust store take turns (the agent and `evercert
 * approve`): a lock on its directory. The descriptor to close, or -1.
 */
int evc_agent_store_lock(const char *trust, struct evc_err *err);
/* The DER of x appended to out: 0, EVC_ERR_CRYPTO or the buffer's error. */
int evc_agent_x509_der(X509 *x, struct evc_buf *out);
/* The certificate in b, or NULL when b is empty or does not parse. */
X509 *evc_agent_x509_of(const struct evc_buf *b);

/* --- hook.c --- */

/* Run server i's after_change command, if set, with EVERCERT_CHANGE=what. */
void evc_agent_after_change(struct evc_agent *a, size_t i, const char *what);

/* --- offer.c: deciding and writing an SA --- */

/* The checks of docs/PROTOCOL.md for server i, with trusted as the certificate it follows. */
int evc_agent_verify(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *trusted,
                     const struct evc_agent_server *known, int mode, X509_STORE *ca, evc_time now,
                     struct evc_sa_verdict *out);
/*
 * Write an accepted SA: what the trust store needs, then the state. The
 * SA row is applying while the store is written. current is the leaf
 * the SA follows; it is retired once expired if the successor itself was
 * added beside it.
 */
int evc_agent_apply(struct evc_agent *a, size_t i, const struct evc_agent_sa *row,
                    const struct evc_sa *sa, X509 *current, evc_time now, struct evc_err *err);

/* --- freeze.c and approve.c: alarms --- */

/* The freeze alarm for server i, which presents leaf (see freeze.c). */
void evc_agent_freeze_check(struct evc_agent *a, size_t i, X509 *leaf, evc_time now);
/* The SAs of server i that wait for a person; *next gets when a level next rises. */
void evc_agent_waits_check(struct evc_agent *a, size_t i, evc_time now, evc_time *next);

#endif
