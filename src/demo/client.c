/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The demo's clients, one thread each. A client reads its trust store
 * (a PEM bundle) before each new session, as curl --cacert does, makes
 * the session with libevercert's handshake extension, asks for one page,
 * and records what it saw. An SA that arrives in a verified handshake is
 * checked by every rule of DESIGN.md and what it adds is written into the
 * client's own trust store. An open-session client keeps one connection
 * and sends a request on it every interval, connecting again if dropped.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "evercert/agent.h"
#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/stores.h"
#include "evercert/time.h"
#include "evercert/tls.h"
#include "demo/demo.h"

#define SESSION_TIMEOUT_MS 2000
#define RESPONSE_MAX 4096
#define SERVICE "web.test"

struct client {
    struct demo_run *run;
    struct demo_clients *all;
    pthread_t thread;
    int started;
    int id;
    int open; /* an open-session client */
    char trust[PATH_MAX];
    uint64_t have; /* the last generation accepted */
    uint8_t last_sa[32];
    uint64_t held[64]; /* leaves its trust store held so far */
    size_t nheld;
};

struct demo_clients {
    struct client *c;
    size_t n;
    double t0;
    atomic_int stop;
};

double
demo_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
leaf_id(X509 *x)
{
    uint8_t fp[32];
    uint64_t id = 0;

    if (x == NULL || evc_x509_sha256(x, fp) != 0) {
        return 0;
    }
    for (int i = 0; i < 8; i++) {
        id = id << 8 | fp[i];
    }
    return id;
}

/* The client's trust store as it is now; new certificates in it are noted as held from t. */
static X509_STORE *
load_trust(struct client *c, double t)
{
    X509_STORE *st = X509_STORE_new();
    STACK_OF(X509_OBJECT) * objs;

    if (st == NULL || X509_STORE_load_file(st, c->trust) != 1) {
        X509_STORE_free(st);
        ERR_clear_error();
        return NULL;
    }
    objs = X509_STORE_get0_objects(st);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        uint64_t id = leaf_id(x);
        size_t k;

        for (k = 0; k < c->nheld && c->held[k] != id; k++) {
        }
        if (id != 0 && k == c->nheld && c->nheld < sizeof(c->held) / sizeof(c->held[0])) {
            c->held[c->nheld++] = id;
            (void)demo_log_hold(&c->run->log, t, id, c->id);
        }
    }
    return st;
}

/* Check an SA by every rule and add what it needs to the trust store, with the store layer's
 * writer. */
static void
apply_sa(struct client *c, X509 *leaf, const struct evc_buf *sa, X509_STORE *st)
{
    struct evc_sa_known known = {leaf, SERVICE, c->have, c->have > 0 ? c->last_sa : NULL};
    struct evc_sa_policy policy = {EVC_SA_POLICY_AUTO, NULL, 300};
    struct evc_sa_verdict v;
    struct evc_err err = {0};
    struct evc_trust *t = NULL;
    STACK_OF(X509) *add = NULL;
    struct demo_log *l = &c->run->log;
    const char *why = NULL;

    memset(&v, 0, sizeof(v));
    if (evc_sa_verify(sa->data, sa->len, &known, &policy, evc_time_now(), &v) != 0 ||
        v.decision != EVC_SA_ACCEPT) {
        why = v.message[0] != '\0' ? v.message : "the SA could not be checked";
    } else if (evc_agent_trust_plan(v.sa, EVC_SA_POLICY_AUTO, st, v.sa->activate_at, &add, &err) !=
                   0 ||
               evc_trust_load(c->trust, NULL, &t, &err) != 0) {
        why = evc_err_message(&err);
    } else {
        for (int i = 0; i < sk_X509_num(add) && why == NULL; i++) {
            if (evc_trust_add(t, sk_X509_value(add, i), &err) != 0) {
                why = evc_err_message(&err);
            }
        }
        if (why == NULL) {
            c->have = v.sa->generation;
            memcpy(c->last_sa, v.sha256, sizeof(c->last_sa));
        }
    }
    if (why != NULL) {
        pthread_mutex_lock(&l->lock);
        l->sa_rejected++;
        snprintf(l->sa_reason, sizeof(l->sa_reason), "%.150s", why);
        pthread_mutex_unlock(&l->lock);
    }
    evc_trust_free(t);
    sk_X509_pop_free(add, X509_free);
    evc_sa_verdict_clear(&v);
}

/* One request on an open connection: 0 when a whole 200 answer came back. */
static int
request(struct evc_tls_conn *conn, int close_after)
{
    char resp[RESPONSE_MAX + 1];
    const char *req = close_after ? "GET / HTTP/1.1\r\nHost: " SERVICE
                                    "\r\nConnection: close\r\n\r\n"
                                  : "GET / HTTP/1.1\r\nHost: " SERVICE "\r\n\r\n";
    size_t have = 0;
    long body = -1;
    char *end = NULL;

    if (SSL_write(conn->ssl, req, (int)strlen(req)) <= 0) {
        ERR_clear_error();
        return -1;
    }
    for (;;) {
        int k;

        if (body >= 0 && end != NULL && (size_t)(end - resp) + 4 + (size_t)body <= have) {
            break;
        }
        if (have == RESPONSE_MAX ||
            (k = SSL_read(conn->ssl, resp + have, (int)(RESPONSE_MAX - have))) <= 0) {
            ERR_clear_error();
            return -1;
        }
        have += (size_t)k;
        resp[have] = '\0';
        if (body < 0 && (end = strstr(resp, "\r\n\r\n")) != NULL) {
            const char *cl = strstr(resp, "Content-Length: ");

            if (cl == NULL || cl > end) {
                return -1;
            }
            body = strtol(cl + 16, NULL, 10);
            if (body < 0 || body > RESPONSE_MAX) {
                return -1;
            }
        }
    }
    return strncmp(resp, "HTTP/1.1 200 ", 13) == 0 ? 0 : -1;
}

/* A handshake (and, for a new session, its request); conn stays open for an open session. */
static void
session(struct client *c, double t, struct evc_tls_conn *conn, int *connected)
{
    struct demo_session rec;
    struct evc_tls_timing tm;
    struct evc_probe p;
    struct evc_err err = {0};
    char hostport[64];
    double t0 = demo_now();
    X509_STORE *st = load_trust(c, t);
    int r;

    memset(&rec, 0, sizeof(rec));
    rec.t = t;
    rec.client = (int16_t)c->id;
    rec.kind = c->open ? DEMO_OPEN_CONNECT : DEMO_NEW;
    for (int i = 0; i < DEMO_STEPS; i++) {
        rec.step_ms[i] = -1;
    }
    snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", c->run->port);
    r = st == NULL ? -1
                   : evc_tls_session(hostport, SERVICE, st, c->have, SESSION_TIMEOUT_MS, &tm, &p,
                                     conn, &err);
    if (st != NULL) {
        rec.step_ms[DEMO_STEP_TCP] = (float)tm.tcp_ms;
        rec.step_ms[DEMO_STEP_CLIENT_HELLO] = (float)tm.client_hello_ms;
        rec.step_ms[DEMO_STEP_SERVER_HELLO] = (float)tm.server_hello_ms;
        rec.step_ms[DEMO_STEP_CERTIFICATE] = (float)tm.certificate_ms;
        rec.step_ms[DEMO_STEP_ALERT] = (float)tm.alert_ms;
        rec.step_ms[DEMO_STEP_FINISHED] = (float)tm.finished_ms;
        rec.alert = (int16_t)tm.alert;
        rec.leaf = leaf_id(p.leaf);
    } else {
        rec.alert = -1;
    }
    if (r == 0) {
        rec.sa_bytes = (uint32_t)p.sa.len;
        if (p.sa.len > 0) {
            apply_sa(c, p.leaf, &p.sa, st);
        }
        if (request(conn, !c->open) == 0) {
            rec.ok = 1;
            rec.step_ms[DEMO_STEP_RESPONSE] = (float)((demo_now() - t0) * 1e3);
        }
        if (!c->open || !rec.ok) {
            evc_tls_conn_close(conn);
        } else {
            *connected = 1;
        }
    }
    if (st != NULL) {
        evc_probe_clear(&p);
    }
    X509_STORE_free(st);
    (void)demo_log_session(&c->run->log, &rec);
}

static void
open_request(struct client *c, double t, struct evc_tls_conn *conn, int *connected)
{
    struct demo_session rec;
    double t0 = demo_now();

    memset(&rec, 0, sizeof(rec));
    rec.t = t;
    rec.client = (int16_t)c->id;
    rec.kind = DEMO_OPEN_REQUEST;
    rec.alert = -1;
    for (int i = 0; i < DEMO_STEPS; i++) {
        rec.step_ms[i] = -1;
    }
    if (request(conn, 0) == 0) {
        rec.ok = 1;
        rec.step_ms[DEMO_STEP_RESPONSE] = (float)((demo_now() - t0) * 1e3);
    } else {
        evc_tls_conn_close(conn);
        *connected = 0;
    }
    (void)demo_log_session(&c->run->log, &rec);
}

static void *
client_main(void *arg)
{
    struct client *c = arg;
    struct demo_clients *all = c->all;
    double interval = c->run->set->interval_ms / 1e3;
    /* Clients start spread over one interval, as independent clients would. */
    double next = all->t0 + interval * c->id / (double)all->n;
    struct evc_tls_conn conn = {NULL, NULL, -1};
    int connected = 0;

    while (!all->stop) {
        double now = demo_now();

        if (now < next) {
            struct timespec ts = {0, (long)((next - now) * 1e9)};

            if (ts.tv_nsec > 100000000) {
                ts.tv_nsec = 100000000; /* wake often enough to see stop */
            }
            nanosleep(&ts, NULL);
            continue;
        }
        if (c->open && connected) {
            open_request(c, now - all->t0, &conn, &connected);
        } else {
            session(c, now - all->t0, &conn, &connected);
        }
        next += interval;
        if (next < demo_now()) {
            next = demo_now(); /* a slow session does not make a burst after it */
        }
    }
    if (connected) {
        evc_tls_conn_close(&conn);
    }
    return NULL;
}

int
demo_clients_start(struct demo_run *run, const char *trust_dir, double t0,
                   struct demo_clients **out, struct evc_err *err)
{
    struct demo_clients *all = calloc(1, sizeof(*all));
    size_t n = (size_t)run->set->clients + (size_t)run->set->open_sessions;

    *out = NULL;
    if (all == NULL || (all->c = calloc(n, sizeof(*all->c))) == NULL) {
        free(all);
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    all->n = n;
    all->t0 = t0;
    for (size_t i = 0; i < n; i++) {
        struct client *c = &all->c[i];

        c->run = run;
        c->all = all;
        c->id = (int)i;
        c->open = i >= (size_t)run->set->clients;
        snprintf(c->trust, sizeof(c->trust), "%s/client-%02zu.pem", trust_dir, i);
    }
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&all->c[i].thread, NULL, client_main, &all->c[i]) != 0) {
            demo_clients_stop(all);
            return evc_err_set(err, EVC_ERR_IO, "cannot start client %zu: %s", i, strerror(errno));
        }
        all->c[i].started = 1;
    }
    *out = all;
    return 0;
}

void
demo_clients_stop(struct demo_clients *all)
{
    if (all == NULL) {
        return;
    }
    all->stop = 1;
    for (size_t i = 0; i < all->n; i++) {
        if (all->c[i].started) {
            pthread_join(all->c[i].thread, NULL);
        }
    }
    free(all->c);
    free(all);
}
