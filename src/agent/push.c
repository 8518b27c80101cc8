/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The push channel, client side: one TLS connection per server to its
 * announce port, verified like any other, then read without blocking.
 * The stream is DER objects back to back; each whole one is offered as an
 * SA. They are read one at a time, never past the end of the current one,
 * into a buffer of one SA; a wakeup reads at most one object or
 * PUSH_READ_BUDGET bytes, so a peer that never stops sending cannot keep
 * the loop from signals, timers and other servers. Garbage, an object
 * over the cap, a peer that sits on half an object and a close mid-object
 * each drop the connection with the reason logged; the next attempt waits
 * with exponential backoff and jitter. The connect and handshake have one
 * deadline and end at once when a stop signal waits.
 *
 * The client speaks once per generation: an Acknowledgement of the
 * generation installed, right after the channel verified the server and
 * after each durable write of a newer one (this process's, or `evercert
 * approve`'s, seen by reading the state every PUSH_LOOK_MS). The
 * generation comes from the state, where it is recorded only after the
 * trust store was written: an SA that waits for a person or a hold-down
 * is never told as held.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "evercert/time.h"
#include "agent/agent_int.h"

#define PUSH_CONNECT_TIMEOUT_MS 5000 /* TCP connect and TLS handshake, together */
#define PUSH_PARTIAL_MS 10000        /* the most time one SA may take, first byte to last */
#define PUSH_BACKOFF_CAP_MS 300000u  /* 5 minutes */
#define PUSH_READ_BUDGET 16384       /* bytes read in one wakeup */

static void
schedule_retry(struct evc_push *p)
{
    uint32_t rnd = 0;

    (void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
    p->retry_at = evc_mono_ms() + evc_agent_backoff(p->attempts, PUSH_BACKOFF_CAP_MS, rnd);
    if (p->attempts < 32) {
        p->attempts++;
    }
}

void
evc_push_close(struct evc_agent *a, size_t i, const char *why)
{
    struct evc_push *p = &a->push[i];

    if (p->c.fd != -1) {
        evc_logf(&a->log, LOG_WARNING, "server=%s push channel dropped: %s",
                 a->conf->servers[i].name, why);
        evc_tls_conn_close(&p->c);
    }
    X509_free(p->leaf);
    p->leaf = NULL;
    evc_buf_free(&p->in);
    evc_buf_init(&p->in, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    p->partial_since = 0;
    p->offered = 0;
    p->refused_waits = 0;
    p->acked_any = 0;
    p->acked = 0;
    p->ack_len = 0;
    p->ack_look_at = 0;
    p->acked_at = 0;
    p->ack_wants_read = 0;
    schedule_retry(p);
}

/*
 * The leaf the push channel verified is the one its SAs follow, as a
 * contact's is: recorded, so that a person's approval or the end of a
 * hold-down checks an SA that came by push alone against it.
 */
static void
remember_leaf(struct evc_agent *a, size_t i, X509 *leaf, const struct evc_agent_server *known)
{
    unsigned char *der = NULL;
    struct evc_err err = {0};
    int n = i2d_X509(leaf, &der);

    if (n <= 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s cannot encode the push channel's certificate",
                 a->conf->servers[i].name);
    } else if (((size_t)n != known->trusted.len ||
                memcmp(der, known->trusted.data, (size_t)n) != 0) &&
               evc_state_agent_trusted(a->st, a->conf->servers[i].name, der, (size_t)n, &err) !=
                   0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", a->conf->servers[i].name, evc_err_message(&err));
    }
    OPENSSL_free(der);
    ERR_clear_error();
}

void
evc_push_connect(struct evc_agent *a, size_t i)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_push *p = &a->push[i];
    struct evc_agent_server known;
    struct evc_probe pr;
    struct evc_err err = {0};
    X509_STORE *store;

    if (!(v->sources & EVC_SOURCE_PUSH) || p->c.fd != -1 || evc_mono_ms() < p->retry_at) {
        return;
    }
    if (evc_state_agent_server(a->st, v->name, &known, &err) != 0 ||
        (store = evc_agent_trust_store(a, i, &err)) == NULL) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        evc_agent_server_clear(&known);
        schedule_retry(p);
        return;
    }
    if (evc_tls_open_cancel(v->announce, v->service, store, known.generation,
                            PUSH_CONNECT_TIMEOUT_MS, a->cancel_fd, &pr, &p->c, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s push channel not reached: %s", v->name,
                 evc_err_message(&err));
        schedule_retry(p);
    } else if (!pr.verified) {
        evc_logf(&a->log, LOG_ERR,
                 "server=%s push channel at %s does not verify with the trust in %s (%s); it is "
                 "not a source of successors",
                 v->name, v->announce, v->trust, pr.reason);
        evc_tls_conn_close(&p->c);
        schedule_retry(p);
    } else {
        p->leaf = pr.leaf;
        pr.leaf = NULL;
        fcntl(p->c.fd, F_SETFL, fcntl(p->c.fd, F_GETFL) | O_NONBLOCK);
        evc_logf(&a->log, LOG_INFO, "server=%s push channel open to %s", v->name, v->announce);
        remember_leaf(a, i, p->leaf, &known);
    }
    evc_probe_clear(&pr);
    X509_STORE_free(store);
    evc_agent_server_clear(&known);
    evc_push_ack(a, i);
}

/*
 * The generation of the last SA this agent wrote for server i (0: none):
 * recorded after its trust store change was durable. -1 when the state
 * cannot be read.
 */
static int
installed(struct evc_agent *a, size_t i, uint64_t *g)
{
    struct evc_agent_server known;
    struct evc_err err = {0};

    *g = 0;
    if (evc_state_agent_server(a->st, a->conf->servers[i].name, &known, &err) != 0) {
        /* Read every 2 s: said once, not every time. */
        if (!a->push[i].state_said) {
            evc_logf(&a->log, LOG_ERR, "server=%s %s", a->conf->servers[i].name,
                     evc_err_message(&err));
            a->push[i].state_said = 1;
        }
        return -1;
    }
    a->push[i].state_said = 0;
    *g = known.generation;
    evc_agent_server_clear(&known);
    return 0;
}

/* The generation of the last SA this agent took for server i; 0: none, or unknown. */
static uint64_t
generation_of(struct evc_agent *a, size_t i)
{
    uint64_t g = 0;

    (void)installed(a, i, &g);
    return g;
}

int
evc_push_ack_waits(const struct evc_agent *a, size_t i)
{
    return a->push[i].c.fd != -1 && a->push[i].ack_len > 0 && !a->push[i].ack_wants_read;
}

void
evc_push_ack(struct evc_agent *a, size_t i)
{
    struct evc_push *p = &a->push[i];
    const char *name = a->conf->servers[i].name;
    struct evc_ack ack;
    char why[200];
    int n, e;

    if (p->c.fd == -1) {
        return;
    }
    if (p->ack_len == 0) {
        memset(&ack, 0, sizeof(ack));
        /*
         * Unknown is not told: a lower generation than the last would be a
         * false report. The same one is said again each interval, so a
         * server that counts clients over a window keeps this one.
         */
        if (installed(a, i, &ack.generation) != 0 || (p->acked_any && ack.generation < p->acked) ||
            (p->acked_any && ack.generation == p->acked &&
             evc_mono_ms() - p->acked_at < a->conf->servers[i].interval * 1000)) {
            return;
        }
        evc_agent_id(a, ack.client_id);
        if (evc_ack_encode(&ack, p->ack, sizeof(p->ack), &p->ack_len) != 0) {
            evc_logf(&a->log, LOG_ERR, "server=%s cannot encode an acknowledgement", name);
            p->ack_len = 0;
            return;
        }
        p->ack_gen = ack.generation;
    }
    ERR_clear_error();
    n = SSL_write(p->c.ssl, p->ack, (int)p->ack_len);
    if (n <= 0) {
        e = SSL_get_error(p->c.ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            /* The same bytes again when the socket takes them (or has something to read). */
            p->ack_wants_read = e == SSL_ERROR_WANT_READ;
            return;
        }
        snprintf(why, sizeof(why), "the acknowledgement of generation %llu was not sent: %s",
                 (unsigned long long)p->ack_gen,
                 e == SSL_ERROR_ZERO_RETURN ? "closed by the server" : "connection lost");
        ERR_clear_error();
        evc_push_close(a, i, why);
        return;
    }
    p->ack_wants_read = 0;
    p->acked_at = evc_mono_ms();
    p->ack_len = 0;
    if (!p->acked_any || p->ack_gen != p->acked) {
        p->acked_any = 1;
        p->acked = p->ack_gen;
        evc_logf(&a->log, LOG_INFO,
                 "server=%s push channel: told the server generation %llu is held", name,
                 (unsigned long long)p->acked);
    }
}

/*
 * How often an open channel reads the state for a successor written
 * meanwhile by another process (`evercert approve`): one to acknowledge,
 * or one an SA refused here may follow.
 */
#define PUSH_LOOK_MS 2000

void
evc_push_read(struct evc_agent *a, size_t i)
{
    struct evc_push *p = &a->push[i];
    struct evc_err err = {0};
    size_t want, budget = PUSH_READ_BUDGET;
    char why[300];
    int n, r;

    for (;;) {
        /* The header first, then exactly the rest of this object. */
        if ((r = evc_der_frame(p->in.data, p->in.len, EVC_SA_MAX, &want, &err)) < 0) {
            evc_push_close(a, i, evc_err_message(&err));
            return;
        }
        if (r == 0 && p->in.len == want) {
            if (evc_agent_offer(a, i, p->in.data, p->in.len, p->leaf, "push", evc_agent_now(a))) {
                p->refused_waits = 1;
                p->refused_at_generation = generation_of(a, i);
            }
            p->attempts = 0; /* a server that speaks the protocol */
            p->offered++;
            evc_buf_reset(&p->in);
            p->partial_since = 0;
            evc_push_ack(a, i); /* written now, if the SA was taken */
            return;             /* one object per wakeup */
        }
        if (budget == 0) {
            return;
        }
        want -= p->in.len;
        if (want > budget) {
            want = budget;
        }
        if (evc_buf_reserve(&p->in, want) != 0) {
            evc_push_close(a, i, "out of memory");
            return;
        }
        ERR_clear_error();
        n = SSL_read(p->c.ssl, p->in.data + p->in.len, (int)want);
        if (n <= 0) {
            int e = SSL_get_error(p->c.ssl, n);

            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return;
            }
            if (p->in.len > 0) {
                snprintf(why, sizeof(why), "closed after %zu bytes of an SA", p->in.len);
            } else {
                snprintf(why, sizeof(why), "%s",
                         e == SSL_ERROR_ZERO_RETURN ? "closed by the server" : "connection lost");
            }
            evc_push_close(a, i, why);
            return;
        }
        if (p->partial_since == 0) {
            p->partial_since = evc_mono_ms();
        }
        p->in.len += (size_t)n;
        budget -= (size_t)n;
    }
}

void
evc_push_check(struct evc_agent *a, size_t i, int64_t now_ms, int64_t *next_ms)
{
    struct evc_push *p = &a->push[i];
    char why[160];

    if (p->c.fd != -1 && p->refused_waits && generation_of(a, i) != p->refused_at_generation) {
        /* What was refused may pass now: the server hands its latest SA over at connect. */
        evc_push_close(a, i, "a successor was taken since an SA was refused; opening again");
        p->retry_at = now_ms;
        p->attempts = 0;
        return;
    }
    /* `evercert approve` is another process: look at the state again soon. */
    if (p->c.fd != -1 && now_ms >= p->ack_look_at) {
        p->ack_look_at = now_ms + PUSH_LOOK_MS;
        evc_push_ack(a, i);
        if (p->c.fd == -1) {
            return;
        }
    }
    if (p->c.fd != -1 && (*next_ms == 0 || p->ack_look_at < *next_ms)) {
        *next_ms = p->ack_look_at;
    }
    if (p->c.fd == -1 || p->partial_since == 0) {
        return;
    }
    if (now_ms - p->partial_since >= PUSH_PARTIAL_MS) {
        snprintf(why, sizeof(why), "sent %zu bytes of an SA, not all of it within %d s", p->in.len,
                 PUSH_PARTIAL_MS / 1000);
        evc_push_close(a, i, why);
        return;
    }
    if (*next_ms == 0 || p->partial_since + PUSH_PARTIAL_MS < *next_ms) {
        *next_ms = p->partial_since + PUSH_PARTIAL_MS;
    }
}
