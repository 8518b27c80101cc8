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
};

struct evc_agent {
    int64_t clock_offset;
    char config_path[4096];
    struct evc_config *conf;
    struct evc_state *st;
    struct evc_log log;
    struct evc_push *push; /* one per server */
    int status;            /* the worst of this round: 0, 1 (a person is needed), 2 (unreachable) */
};

/* Seconds: the wall clock moved by --at. */
evc_time evc_agent_now(const struct evc_agent *a);

/* Load the configuration, open the state; with exclusive, refuse a second agent. */
int evc_agent_open(struct evc_agent *a, const char *config_path, int64_t clock_offset,
                   int exclusive, struct evc_err *err);
void evc_agent_close(struct evc_agent *a);

/*
 * An SA that server i offered by source on a connection whose verified
 * leaf was conn_leaf: decide, record, and write it if accepted.
 */
void evc_agent_offer(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *conn_leaf,
                     const char *source, evc_time now);

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

/* GET url at connect, verified against trust: the body (404: empty) and the leaf presented. */
int evc_agent_fetch(const char *url, const char *connect, X509_STORE *trust, long timeout,
                    struct evc_buf *body, X509 **leaf, struct evc_err *err);

/* --- the push channel (push.c) --- */
int64_t evc_agent_mono_ms(void);
/* Connect server i's push channel if it is time; logs why not. */
void evc_push_connect(struct evc_agent *a, size_t i);
/* Read what is there; offer each whole SA; drop the connection on garbage, a cap or EOF. */
void evc_push_read(struct evc_agent *a, size_t i);
/* Drop a reader that has sat on part of an object too long; *next_ms: its deadline. */
void evc_push_check(struct evc_agent *a, size_t i, int64_t now_ms, int64_t *next_ms);
void evc_push_close(struct evc_agent *a, size_t i, const char *why);

#endif
