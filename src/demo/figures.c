/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The demo's records and the figures computed from them. Pure apart from
 * the lock: what the table and the JSON say is only what the clients
 * recorded, so it is unit-tested on hand-made records.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo/demo.h"

int
demo_log_init(struct demo_log *l)
{
    memset(l, 0, sizeof(*l));
    return pthread_mutex_init(&l->lock, NULL) == 0 ? 0 : -1;
}

void
demo_log_free(struct demo_log *l)
{
    free(l->s);
    free(l->h);
    pthread_mutex_destroy(&l->lock);
    memset(l, 0, sizeof(*l));
}

/* Make room for one more element of size sz in *p (length n, capacity *cap). */
static int
grow(void **p, size_t n, size_t *cap, size_t sz)
{
    size_t ncap;
    void *q;

    if (n < *cap) {
        return 0;
    }
    if (n >= DEMO_SESSIONS_MAX) {
        return -1;
    }
    ncap = *cap == 0 ? 1024 : *cap * 2;
    if (ncap > DEMO_SESSIONS_MAX) {
        ncap = DEMO_SESSIONS_MAX;
    }
    if ((q = realloc(*p, ncap * sz)) == NULL) {
        return -1;
    }
    *p = q;
    *cap = ncap;
    return 0;
}

int
demo_log_session(struct demo_log *l, const struct demo_session *s)
{
    int r;

    pthread_mutex_lock(&l->lock);
    if ((r = grow((void **)&l->s, l->n, &l->cap, sizeof(*l->s))) == 0) {
        l->s[l->n++] = *s;
        if (!s->ok) {
            l->failed++;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return r;
}

int
demo_log_hold(struct demo_log *l, double t, uint64_t leaf, int client)
{
    int r;

    pthread_mutex_lock(&l->lock);
    if ((r = grow((void **)&l->h, l->nh, &l->caph, sizeof(*l->h))) == 0) {
        l->h[l->nh].t = t;
        l->h[l->nh].leaf = leaf;
        l->h[l->nh].client = client;
        l->nh++;
    }
    pthread_mutex_unlock(&l->lock);
    return r;
}

/* By client, then time: each client's story in order. */
static int
by_client_time(const void *a, const void *b)
{
    const struct demo_session *x = a, *y = b;

    if (x->client != y->client) {
        return x->client < y->client ? -1 : 1;
    }
    return x->t < y->t ? -1 : x->t > y->t ? 1 : 0;
}

static int
by_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* Median of the step's times over the sessions that reached it; -1 if none did. */
static double
median_step(const struct demo_session *s, size_t n, int ok, int step, float *tmp)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i].kind != DEMO_OPEN_REQUEST && s[i].ok == ok && s[i].step_ms[step] >= 0) {
            tmp[m++] = s[i].step_ms[step];
        }
    }
    if (m == 0) {
        return -1;
    }
    qsort(tmp, m, sizeof(*tmp), by_float);
    return m % 2 == 1 ? tmp[m / 2] : (tmp[m / 2 - 1] + tmp[m / 2]) / 2.0;
}

int
demo_figures_compute(struct demo_session *s, size_t n, struct demo_hold *h, size_t nh, int nclients,
                     double end, struct demo_figures *f)
{
    uint64_t leaves[17];
    size_t nleaves = 0, handshakes = 0;
    double sa_bytes = 0;
    float *tmp = NULL;

    memset(f, 0, sizeof(*f));
    f->worst_client = -1;
    if (n > 0) {
        qsort(s, n, sizeof(*s), by_client_time);
    }

    /* Counts, and the leaves in the order the clients first saw them presented. */
    for (size_t i = 0; i < n; i++) {
        if (s[i].kind == DEMO_OPEN_REQUEST) {
            f->open_requests++;
            f->open_failed += !s[i].ok;
        } else {
            f->sessions++;
            f->failed_handshakes += !s[i].ok;
            if (s[i].step_ms[DEMO_STEP_FINISHED] >= 0) {
                handshakes++;
                sa_bytes += s[i].sa_bytes;
            }
        }
        if (s[i].alert >= 0 && s[i].alert < DEMO_ALERTS) {
            f->alerts[s[i].alert]++;
        }
    }
    for (;;) {
        double first = INFINITY;
        uint64_t leaf = 0;

        for (size_t i = 0; i < n; i++) {
            int seen = 0;

            for (size_t k = 0; k < nleaves && !seen; k++) {
                seen = leaves[k] == s[i].leaf;
            }
            if (s[i].leaf != 0 && !seen && s[i].t < first) {
                first = s[i].t;
                leaf = s[i].leaf;
            }
        }
        if (leaf == 0 || nleaves == sizeof(leaves) / sizeof(leaves[0])) {
            break;
        }
        if (nleaves > 0 && f->nswaps < (int)(sizeof(f->swaps) / sizeof(f->swaps[0]))) {
            f->swaps[f->nswaps++] = first;
        }
        leaves[nleaves++] = leaf;
    }
    f->renewals = nleaves > 0 ? (int)nleaves - 1 : 0;
    f->sa_bytes_per_handshake = handshakes > 0 ? sa_bytes / (double)handshakes : 0;

    /* Downtime: each streak of failures lasts from its first failure to the next success. */
    for (size_t i = 0; i < n;) {
        int c = s[i].client;
        double down = 0, since = -1;
        long seen[DEMO_ALERTS] = {0};
        struct demo_client_figures *cf = c >= 0 && c < DEMO_CLIENTS_MAX + 2 ? &f->client[c] : NULL;

        for (; i < n && s[i].client == c; i++) {
            if (cf != NULL) {
                cf->tries++;
                cf->failed += !s[i].ok;
                if (s[i].alert >= 0 && s[i].alert < DEMO_ALERTS) {
                    seen[s[i].alert]++;
                }
            }
            if (!s[i].ok && since < 0) {
                since = s[i].t;
            } else if (s[i].ok && since >= 0) {
                down += s[i].t - since;
                since = -1;
            }
        }
        if (since >= 0) {
            down += end - since;
        }
        if (cf != NULL) {
            cf->down = down;
            cf->alert = -1;
            for (int a = 0; a < DEMO_ALERTS; a++) {
                if (seen[a] > 0 && (cf->alert < 0 || seen[a] > seen[cf->alert])) {
                    cf->alert = a;
                }
            }
            if (c + 1 > f->nclients_seen) {
                f->nclients_seen = c + 1;
            }
        }
        f->downtime_total += down;
        if (down > f->downtime_worst || f->worst_client < 0) {
            f->downtime_worst = down;
            f->worst_client = c;
        }
    }

    /* Convergence: for each successor, when the last client held it, against its first use. */
    for (size_t k = 1; k < nleaves; k++) {
        double last = -INFINITY;
        int never = 0;

        for (int c = 0; c < nclients && !never; c++) {
            double held = INFINITY;

            for (size_t j = 0; j < nh; j++) {
                if (h[j].client == c && h[j].leaf == leaves[k] && h[j].t < held) {
                    held = h[j].t;
                }
            }
            if (isinf(held)) {
                never = 1;
            } else if (held > last) {
                last = held;
            }
        }
        if (never) {
            f->converge_state = DEMO_CONVERGE_NEVER;
            break;
        }
        if (f->converge_state == DEMO_CONVERGE_NONE || last - f->swaps[k - 1] > f->converge) {
            f->converge = last - f->swaps[k - 1];
        }
        f->converge_state = DEMO_CONVERGE_KNOWN;
    }

    if (n > 0 && (tmp = malloc(n * sizeof(*tmp))) == NULL) {
        return EVC_ERR_NOMEM;
    }
    for (int st = 0; st < DEMO_STEPS; st++) {
        f->step_ok[st] = median_step(s, n, 1, st, tmp);
        f->step_failed[st] = median_step(s, n, 0, st, tmp);
    }
    free(tmp);
    return 0;
}

const char *
demo_alert_name(int alert, char *buf, size_t len)
{
    /* RFC 8446 section 6 and RFC 5246 7.2. */
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {0, "close_notify"},
        {10, "unexpected_message"},
        {20, "bad_record_mac"},
        {22, "record_overflow"},
        {40, "handshake_failure"},
        {42, "bad_certificate"},
        {43, "unsupported_certificate"},
        {44, "certificate_revoked"},
        {45, "certificate_expired"},
        {46, "certificate_unknown"},
        {47, "illegal_parameter"},
        {48, "unknown_ca"},
        {49, "access_denied"},
        {50, "decode_error"},
        {51, "decrypt_error"},
        {70, "protocol_version"},
        {71, "insufficient_security"},
        {80, "internal_error"},
        {86, "inappropriate_fallback"},
        {90, "user_canceled"},
        {109, "missing_extension"},
        {110, "unsupported_extension"},
        {112, "unrecognized_name"},
        {116, "certificate_required"},
        {120, "no_application_protocol"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].code == alert) {
            return names[i].name;
        }
    }
    snprintf(buf, len, "alert_%d", alert);
    return buf;
}

void
demo_group_sum(const struct demo_figures *f, const struct demo_agent_figures *kind, int n,
               int tls12, int late, struct demo_group *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < n && i < DEMO_CLIENTS_MAX + 2; i++) {
        const struct demo_client_figures *c = &f->client[i];

        if ((tls12 >= 0 && kind[i].tls12 != tls12) || (late >= 0 && kind[i].late != late)) {
            continue;
        }
        out->clients++;
        out->tries += c->tries;
        out->failed += c->failed;
        out->down_total += c->down;
        if (c->down > out->down_worst) {
            out->down_worst = c->down;
        }
    }
}
