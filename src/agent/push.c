/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The push channel, client side: one TLS connection per server to its
 * announce port, verified like any other, then read without blocking.
 * The stream is DER objects back to back; each whole one is offered as an
 * SA. Garbage, an object over the cap, a peer that sits on half an object
 * and a close mid-object each drop the connection with the reason logged;
 * the next attempt waits with exponential backoff and jitter.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "agent/agent_int.h"

#define PUSH_CONNECT_TIMEOUT_MS 5000
#define PUSH_PARTIAL_MS 10000       /* the most time half an SA may take */
#define PUSH_BACKOFF_CAP_MS 300000u /* 5 minutes */
#define PUSH_READ_CHUNK 16384

int64_t
evc_agent_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
schedule_retry(struct evc_push *p)
{
    uint32_t rnd = 0;

    (void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
    p->retry_at = evc_agent_mono_ms() + evc_agent_backoff(p->attempts, PUSH_BACKOFF_CAP_MS, rnd);
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
    evc_buf_init(&p->in, EVC_SA_MAX);
    p->partial_since = 0;
    p->offered = 0;
    schedule_retry(p);
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

    if (!(v->sources & EVC_SOURCE_PUSH) || p->c.fd != -1 || evc_agent_mono_ms() < p->retry_at) {
        return;
    }
    if (evc_state_agent_server(a->st, v->name, &known, &err) != 0 ||
        (store = evc_agent_trust_store(a, i, &err)) == NULL) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        evc_agent_server_clear(&known);
        schedule_retry(p);
        return;
    }
    if (evc_tls_open(v->announce, v->service, store, known.generation, PUSH_CONNECT_TIMEOUT_MS, &pr,
                     &p->c, &err) != 0) {
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
    }
    evc_probe_clear(&pr);
    X509_STORE_free(store);
    evc_agent_server_clear(&known);
}

void
evc_push_read(struct evc_agent *a, size_t i)
{
    struct evc_push *p = &a->push[i];
    uint8_t chunk[PUSH_READ_CHUNK];
    char why[300];
    struct evc_err err = {0};
    size_t total;
    int n, r;

    for (;;) {
        ERR_clear_error();
        n = SSL_read(p->c.ssl, chunk, sizeof(chunk));
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
        if (evc_buf_put(&p->in, chunk, (size_t)n) != 0) {
            evc_push_close(a, i, "an object over the SA's 64 KiB cap");
            return;
        }
        if (p->partial_since == 0) {
            p->partial_since = evc_agent_mono_ms();
        }
        /* Every whole object in the buffer, in order. */
        while (p->in.len > 0) {
            if ((r = evc_der_frame(p->in.data, p->in.len, EVC_SA_MAX, &total, &err)) != 0) {
                if (r == 1) {
                    break;
                }
                evc_push_close(a, i, evc_err_message(&err));
                return;
            }
            if (p->in.len < total) {
                break;
            }
            evc_agent_offer(a, i, p->in.data, total, p->leaf, "push", evc_agent_now(a));
            p->attempts = 0; /* a server that speaks the protocol */
            p->offered++;
            memmove(p->in.data, p->in.data + total, p->in.len - total);
            p->in.len -= total;
            p->partial_since = p->in.len > 0 ? evc_agent_mono_ms() : 0;
        }
    }
}

void
evc_push_check(struct evc_agent *a, size_t i, int64_t now_ms, int64_t *next_ms)
{
    struct evc_push *p = &a->push[i];
    char why[160];

    if (p->c.fd == -1 || p->partial_since == 0) {
        return;
    }
    if (now_ms - p->partial_since >= PUSH_PARTIAL_MS) {
        snprintf(why, sizeof(why), "sent %zu bytes of an SA and nothing more for %d s", p->in.len,
                 PUSH_PARTIAL_MS / 1000);
        evc_push_close(a, i, why);
        return;
    }
    if (*next_ms == 0 || p->partial_since + PUSH_PARTIAL_MS < *next_ms) {
        *next_ms = p->partial_since + PUSH_PARTIAL_MS;
    }
}
