/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The demo's clients, one thread each. A client reads its trust store
 * (a PEM bundle) before each new session, as curl --cacert does, makes
 * the session (TLS 1.3 with libevercert's handshake extension, or TLS 1.2
 * at most, as the study's clients), asks for one page, and records what
 * it saw. An open-session client keeps one connection and sends a request
 * on it every interval, connecting again if dropped.
 *
 * In the evercert run each client has its own agent: an evercert agent
 * opened from the client's own configuration, with its own state database
 * and trust store. The SA a TLS 1.3 handshake carries goes to the agent's
 * offer, the TLS 1.2 clients' agents hold the push channel of `evercert
 * serve` open, and the agent's tick does what time decides. So every
 * trust decision and write is the agent's own: generation tracking,
 * policy, hold-down and the write-ahead state. The agent runs in the
 * client's thread, not as a process of its own, so that the clients'
 * own handshakes are the handshake source and 20 clients cost 20 idle
 * threads, not 20 more processes and their handshakes. Under policy =
 * manual a person (`evercert approve`, a real process) approves each
 * waiting SA after a set delay.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "evercert/agent.h"
#include "evercert/ca.h"
#include "evercert/limits.h"
#include "evercert/state.h"
#include "evercert/time.h"
#include "evercert/tls.h"
#include "agent/agent_int.h"
#include "demo/demo.h"

#define SESSION_TIMEOUT_MS 2000
#define RESPONSE_MAX 4096
#define SERVICE "web.test"
#define SERVER "web"    /* the one [server] of each client's agent */
#define TICK_EVERY 0.25 /* seconds between the agent's looks at its timers */

struct client {
    struct demo_run *run;
    struct demo_clients *all;
    pthread_t thread;
    int started;
    int id;
    int open;  /* an open-session client */
    int tls12; /* offers TLS 1.2 at most */
    char trust[PATH_MAX];
    char config[PATH_MAX]; /* its agent's configuration; "" without an agent */
    struct evc_agent agent;
    int has_agent;
    int64_t approve_id; /* the waiting SA a person approves at approve_due; 0: none */
    double approve_due;
    pid_t approver; /* the running `evercert approve`; 0: none */
    double next_tick;
    uint64_t held[64]; /* leaves its trust store held so far */
    size_t nheld;
    double loaded; /* when it last read its trust store */
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

/*
 * When the store read at t was written: its modification time on the run's clock, never
 * before the previous read nor after t. A client reads its store once a session, so t alone
 * would date a successor up to a session late, after a swap that waited for it.
 */
static double
written_at(const struct client *c, double t)
{
    struct stat sb;
    struct timespec now;
    double age, w;

    if (stat(c->trust, &sb) != 0 || clock_gettime(CLOCK_REALTIME, &now) != 0) {
        return t;
    }
    age =
        (double)(now.tv_sec - sb.st_mtim.tv_sec) + (double)(now.tv_nsec - sb.st_mtim.tv_nsec) / 1e9;
    w = t - (age > 0 ? age : 0);
    return w < c->loaded ? c->loaded : w;
}

/* The client's trust store as it is now; new certificates in it are noted as held from when
 * it was written. */
static X509_STORE *
load_trust(struct client *c, double t)
{
    X509_STORE *st = X509_STORE_new();
    STACK_OF(X509_OBJECT) * objs;
    double since;

    if (st == NULL || X509_STORE_load_file(st, c->trust) != 1) {
        X509_STORE_free(st);
        ERR_clear_error();
        return NULL;
    }
    /* Stat after the read: a write in between dates what was read later, never earlier. */
    since = written_at(c, t);
    c->loaded = t;
    objs = X509_STORE_get0_objects(st);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        uint64_t id = leaf_id(x);
        size_t k;

        for (k = 0; k < c->nheld && c->held[k] != id; k++) {
        }
        if (id != 0 && k == c->nheld && c->nheld < sizeof(c->held) / sizeof(c->held[0])) {
            c->held[c->nheld++] = id;
            (void)demo_log_hold(&c->run->log, since, id, c->id);
        }
    }
    return st;
}

/* The agent's runtime for its push channel, as its own loop sets it up. */
static int
agent_start(struct client *c, struct evc_err *err)
{
    struct evc_agent *a = &c->agent;
    int r;

    if ((r = evc_agent_open(a, c->config, 0, 1, err)) != 0) {
        return r;
    }
    c->has_agent = 1;
    if ((r = evc_agent_runtime_alloc(a, err)) != 0) {
        return r;
    }
    return 0;
}

static void
agent_stop(struct client *c)
{
    struct evc_agent *a = &c->agent;

    if (!c->has_agent) {
        return;
    }
    evc_agent_runtime_free(a);
    evc_agent_close(a);
    c->has_agent = 0;
}

/* The generation the agent holds, which the handshake tells the server. */
static uint64_t
agent_generation(struct client *c)
{
    struct evc_agent_server known;
    struct evc_err err = {0};
    uint64_t g = 0;

    if (c->has_agent && evc_state_agent_server(c->agent.st, SERVER, &known, &err) == 0) {
        g = known.generation;
        evc_agent_server_clear(&known);
    }
    return g;
}

/*
 * A verified handshake: its leaf is the one SAs follow (as the agent's
 * own contact records it), and the SA it carried goes to the agent.
 */
static void
agent_handshake(struct client *c, X509 *leaf, const struct evc_buf *sa)
{
    struct evc_agent *a = &c->agent;
    struct evc_agent_server known;
    struct evc_err err = {0};
    unsigned char *der = NULL;
    int n;

    if (evc_state_agent_server(a->st, SERVER, &known, &err) == 0) {
        if ((n = i2d_X509(leaf, &der)) > 0 &&
            ((size_t)n != known.trusted.len || memcmp(der, known.trusted.data, (size_t)n) != 0)) {
            if (evc_state_agent_trusted(a->st, SERVER, der, (size_t)n, &err) != 0) {
                evc_logf(&a->log, LOG_ERR, "server=%s %s", SERVER, evc_err_message(&err));
            }
        }
        OPENSSL_free(der);
        evc_agent_server_clear(&known);
    }
    if (sa->len > 0) {
        evc_agent_offer(a, 0, sa->data, sa->len, leaf, "handshake", evc_agent_now(a));
    }
}

static int
first_pending(void *arg, const struct evc_agent_sa *s)
{
    if (*(int64_t *)arg == 0) {
        *(int64_t *)arg = s->id;
    }
    return 0;
}

/*
 * policy = manual: a person approves each SA that waits, approve_delay
 * seconds after the client's agent queued it, with `evercert approve`.
 */
static void
person(struct client *c, double now)
{
    const struct demo_settings *set = c->run->set;
    struct evc_err err = {0};
    int64_t id = 0;
    int st;

    if (c->approver > 0 && waitpid(c->approver, &st, WNOHANG) == c->approver) {
        c->approver = 0;
        pthread_mutex_lock(&c->run->log.lock);
        c->run->agent[c->id].approvals_run++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            c->run->agent[c->id].approvals_failed++;
        }
        pthread_mutex_unlock(&c->run->log.lock);
    }
    if (!set->manual || c->approver > 0 ||
        evc_state_agent_sa_each(c->agent.st, SERVER, EVC_SA_STATUS_PENDING, first_pending, &id,
                                &err) != 0) {
        return;
    }
    if (id == 0) {
        c->approve_id = 0;
        return;
    }
    if (id != c->approve_id) {
        c->approve_id = id;
        c->approve_due = now + (c->run->agent[c->id].late ? set->approve_late : set->approve_early);
        return;
    }
    if (now >= c->approve_due) {
        char idtext[32], log[PATH_MAX + 16];
        char *argv[] = {(char *)set->self, "approve", "--config", c->config, idtext, NULL};
        pid_t pid;

        snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
        snprintf(log, sizeof(log), "%.*s.approve.log", PATH_MAX, c->config);
        if (demo_spawn(argv, 0, log, &pid) == 0) {
            c->approver = pid;
            pthread_mutex_lock(&c->run->log.lock);
            c->run->agent[c->id].approved_at[c->run->agent[c->id].napproved++ % DEMO_APPROVALS] =
                now - c->all->t0;
            pthread_mutex_unlock(&c->run->log.lock);
        }
        c->approve_due = now + 1; /* once the process is done, only if it still waits */
    }
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
                   : evc_tls_session_max(hostport, SERVICE, st, agent_generation(c),
                                         c->tls12 ? TLS1_2_VERSION : 0, SESSION_TIMEOUT_MS, &tm, &p,
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
        if (c->has_agent && p.verified) {
            agent_handshake(c, p.leaf, &p.sa);
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

/*
 * Until the next session: the agent's push channel (connected when due,
 * read when it has bytes), what time decides, the person. At most 100 ms
 * at a time, to see stop.
 */
static void
wait_until(struct client *c, double next)
{
    struct evc_agent *a = &c->agent;
    double now = demo_now();
    int ms = (int)((next - now) * 1e3);
    struct pollfd pfd = {-1, POLLIN, 0};
    evc_time due;
    int64_t wake = 0;

    if (ms > 100) {
        ms = 100;
    }
    if (!c->has_agent) {
        struct timespec ts = {0, (long)ms * 1000000};

        nanosleep(&ts, NULL);
        return;
    }
    evc_push_connect(a, 0);
    evc_push_check(a, 0, evc_mono_ms(), &wake);
    pfd.fd = a->push[0].c.fd;
    if (pfd.fd != -1 && SSL_has_pending(a->push[0].c.ssl)) {
        ms = 0;
    }
    if (poll(&pfd, 1, ms < 0 ? 0 : ms) > 0 || (pfd.fd != -1 && SSL_has_pending(a->push[0].c.ssl))) {
        if (a->push[0].c.fd != -1) {
            evc_push_read(a, 0);
        }
    }
    /* What time decides is due at whole seconds; four looks a second are plenty. */
    if (demo_now() >= c->next_tick) {
        evc_agent_tick(a, evc_agent_now(a), &due);
        person(c, demo_now());
        c->next_tick = demo_now() + TICK_EVERY;
    }
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
            wait_until(c, next);
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
    if (c->approver > 0) {
        int st = demo_wait_bounded(c->approver, 10);

        c->approver = 0;
        pthread_mutex_lock(&c->run->log.lock);
        c->run->agent[c->id].approvals_run++;
        if (st != 0) {
            c->run->agent[c->id].approvals_failed++;
        }
        pthread_mutex_unlock(&c->run->log.lock);
    }
    return NULL;
}

/* What the client's agent decided, from its state: the figures of its row. */
static int
count_event(void *arg, const struct evc_agent_event *e)
{
    struct demo_agent_figures *g = arg;

    if (strcmp(e->event, "accept") == 0) {
        g->accepted++;
        if (e->source != NULL && strcmp(e->source, "handshake") == 0) {
            g->by_handshake++;
        } else if (e->source != NULL && strcmp(e->source, "push") == 0) {
            g->by_push++;
        }
    } else if (strcmp(e->event, "queue") == 0) {
        g->queued++;
    } else if (strcmp(e->event, "approve") == 0) {
        g->approved++;
    } else if (strcmp(e->event, "reject") == 0 || strcmp(e->event, "conflict") == 0) {
        g->rejected++;
        snprintf(g->reason, sizeof(g->reason), "%.60s: %.150s", e->reason != NULL ? e->reason : "-",
                 e->detail != NULL ? e->detail : "");
    } else if (strcmp(e->event, "activate") == 0) {
        g->activated++;
    }
    return 0;
}

static void
agent_figures(struct client *c)
{
    struct demo_agent_figures g;
    struct demo_agent_figures *out = &c->run->agent[c->id];
    struct evc_err err = {0};

    memset(&g, 0, sizeof(g));
    if (evc_state_agent_events(c->agent.st, count_event, &g, &err) != 0) {
        snprintf(g.reason, sizeof(g.reason), "%.200s", evc_err_message(&err));
        g.rejected++;
    }
    pthread_mutex_lock(&c->run->log.lock);
    out->accepted = g.accepted;
    out->by_handshake = g.by_handshake;
    out->by_push = g.by_push;
    out->queued = g.queued;
    out->approved = g.approved;
    out->rejected = g.rejected;
    out->activated = g.activated;
    memcpy(out->reason, g.reason, sizeof(out->reason));
    c->run->log.sa_rejected += g.rejected;
    if (g.rejected > 0) {
        memcpy(c->run->log.sa_reason, g.reason, sizeof(c->run->log.sa_reason));
    }
    pthread_mutex_unlock(&c->run->log.lock);
}

int
demo_clients_start(struct demo_run *run, const char *clients_dir, double t0,
                   struct demo_clients **out, struct evc_err *err)
{
    struct demo_clients *all = calloc(1, sizeof(*all));
    size_t n = (size_t)run->set->clients + (size_t)run->set->open_sessions;
    int r;

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
        c->tls12 = run->agent[i].tls12;
        c->agent.cancel_fd = -1;
        snprintf(c->trust, sizeof(c->trust), "%s/client-%02zu/trust.pem", clients_dir, i);
        if (run->agents) {
            snprintf(c->config, sizeof(c->config), "%s/client-%02zu/agent.ini", clients_dir, i);
            if ((r = agent_start(c, err)) != 0) {
                evc_err_set(err, r, "client %zu's agent: %s", i, evc_err_message(err));
                all->n = i + 1;
                demo_clients_stop(all);
                return r;
            }
        }
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
    for (size_t i = 0; i < all->n; i++) {
        if (all->c[i].has_agent) {
            agent_figures(&all->c[i]);
        }
        agent_stop(&all->c[i]);
    }
    free(all->c);
    free(all);
}
