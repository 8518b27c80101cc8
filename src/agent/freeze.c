/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Contact with a server (one handshake, one fetch of its URL), and the
 * freeze alarm: the leaf a server presents is past its renewal moment and
 * grace and no successor has come for it, so an update may be withheld.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "base/text.h"
#include "agent/agent_int.h"

#define CONTACT_TIMEOUT_MS 10000 /* each handshake, each fetch: connect, TLS and reads together */

/* The SAs recorded for a server that follow one leaf (it signed them). */
struct follows {
    uint8_t leaf[32];
    int waiting;         /* a pending or held SA follows it */
    X509 *next;          /* the successor of the newest accepted SA that follows it */
    uint64_t generation; /* of that SA */
};

static int
follows_one(void *arg, const struct evc_agent_sa *s)
{
    struct follows *f = arg;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    uint8_t fps[2][32], succ[32];
    size_t n = 0, k;
    X509 *x;
    int accepted = s->status == EVC_SA_STATUS_APPLIED || s->status == EVC_SA_STATUS_APPLYING;

    if (evc_sa_decode(s->der.data, s->der.len, &sa, &err) != 0 ||
        (x = sk_X509_value(sa->successor, 0)) == NULL || evc_x509_sha256(x, succ) != 0 ||
        evc_sa_signers(s->der.data, s->der.len, fps, 2, &n, &err) != 0) {
        goto out;
    }
    /* The successor signs its own SA too; only the other signer is the leaf it follows. */
    if (CRYPTO_memcmp(succ, f->leaf, 32) == 0) {
        goto out;
    }
    for (k = 0; k < n && k < 2; k++) {
        if (CRYPTO_memcmp(fps[k], f->leaf, 32) == 0) {
            break;
        }
    }
    if (k == n || k == 2) {
        goto out;
    }
    if (!accepted) {
        f->waiting = 1;
    } else if ((f->next == NULL || s->generation > f->generation) && X509_up_ref(x) == 1) {
        X509_free(f->next);
        f->next = x;
        f->generation = s->generation;
    }
out:
    evc_sa_free(sa);
    return 0;
}

/*
 * The leaf whose renewal is awaited: the one served, or, when an SA that
 * follows it was accepted already, that SA's successor (the server may
 * still present its predecessor around the switch), and so on. *judged
 * gets a reference; *waiting is 1 when an SA for it waits (pending or
 * held): a successor has come, the approval alarm speaks for it.
 */
static int
judged_leaf(struct evc_agent *a, size_t i, X509 *served, X509 **judged, int *waiting,
            struct evc_err *err)
{
    static const enum evc_sa_status statuses[] = {EVC_SA_STATUS_APPLIED, EVC_SA_STATUS_APPLYING,
                                                  EVC_SA_STATUS_PENDING, EVC_SA_STATUS_HOLDING};
    const char *name = a->conf->servers[i].name;
    X509 *cur = served;
    int r = 0;

    *judged = NULL;
    *waiting = 0;
    if (X509_up_ref(cur) != 1) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    /* Each step is a newer generation; a few steps cover any switch in progress. */
    for (int step = 0; step < 4; step++) {
        struct follows f;

        memset(&f, 0, sizeof(f));
        if ((r = evc_x509_sha256(cur, f.leaf)) != 0) {
            goto out;
        }
        for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
            if ((r = evc_state_agent_sa_each(a->st, name, statuses[k], follows_one, &f, err)) !=
                0) {
                X509_free(f.next);
                goto out;
            }
        }
        if (f.waiting || f.next == NULL || X509_cmp(f.next, cur) == 0) {
            *waiting = f.waiting;
            X509_free(f.next);
            break;
        }
        X509_free(cur);
        cur = f.next;
    }
out:
    if (r != 0) {
        X509_free(cur);
        return r;
    }
    *judged = cur;
    return 0;
}

/*
 * The freeze alarm for server i, which presents leaf: raised once per
 * leaf (the state remembers it across restarts), an alarm for --once
 * while it stands, cleared with one line when an SA comes for the leaf or
 * the server presents another.
 */
void
evc_agent_freeze_check(struct evc_agent *a, size_t i, X509 *leaf, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_err err = {0};
    X509 *judged = NULL;
    int waiting = 0, frozen;
    /*
     * The monitor renews at the moment (jitter: a twentieth of the time
     * left) and retries a failure no later than a quarter of it: that
     * quarter, evc_agent_freeze_at's cap, is the grace.
     */
    int64_t grace = INT64_MAX;
    uint8_t fp[32], sfp[32];
    char hex[65], served[65], told[80], key[300], line[600], body[900], when[EVC_TIME_TEXT_MAX],
        left[32];
    evc_time due;

    snprintf(key, sizeof(key), "agent-freeze/%s", v->name);
    if (judged_leaf(a, i, leaf, &judged, &waiting, &err) != 0 || evc_x509_sha256(judged, fp) != 0 ||
        evc_x509_sha256(leaf, sfp) != 0 ||
        evc_state_agent_told(a->st, key, told, sizeof(told), &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name,
                 err.code != 0 ? evc_err_message(&err) : "cannot hash its certificate");
        X509_free(judged);
        return;
    }
    evc_text_hex(fp, 32, hex);
    evc_text_hex(sfp, 32, served);
    frozen = evc_agent_frozen(judged, waiting, &a->conf->policy.thresholds, grace, now);
    due = evc_agent_freeze_at(judged, &a->conf->policy.thresholds, grace);
    evc_time_format(due, when);
    evc_span_format(now - due, left, sizeof(left));
    switch (evc_agent_freeze_step(told, hex, frozen)) {
    case EVC_FREEZE_RAISE:
    case EVC_FREEZE_STANDS:
        /* Standing, the line is not told again; a mail not sent yet is tried again. */
        snprintf(line, sizeof(line),
                 "FREEZE for %s: certificate %.16s is past its renewal moment and grace (%s, %s "
                 "ago) and no successor has come; an update may be withheld",
                 v->name, hex, when, left);
        snprintf(body, sizeof(body),
                 "Server %s (%s) presents certificate SHA-256 %s.\n"
                 "Its server renews it at its threshold; with the time a renewal may take to be\n"
                 "published that was %s, %s ago, and no Successor Announcement has come.\n"
                 "An update may be withheld, or the server's renewal may have failed.\n",
                 v->name, v->service, hex, when, left);
        {
            char subject[400];

            snprintf(subject, sizeof(subject), "evercert agent: FREEZE for %s", v->name);
            (void)evc_agent_tell(a, now, LOG_WARNING, key, hex, line, subject, body);
        }
        evc_agent_worse(a, 1);
        break;
    case EVC_FREEZE_CLEAR:
        snprintf(line, sizeof(line), "FREEZE for %s cleared: %s", v->name,
                 /* The leaf told about is still presented: what changed is an SA for it. */
                 strcmp(told, served) == 0 ? "a successor has come"
                                           : "the server presents another certificate");
        snprintf(body, sizeof(body), "%s\n", line);
        {
            char subject[400];

            snprintf(subject, sizeof(subject), "evercert agent: FREEZE for %s cleared", v->name);
            (void)evc_agent_tell(a, now, LOG_INFO, key, "cleared", line, subject, body);
        }
        break;
    case EVC_FREEZE_QUIET:
    default:
        break;
    }
    X509_free(judged);
}

void
evc_agent_contact(struct evc_agent *a, size_t i, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_agent_server known;
    struct evc_probe p;
    struct evc_tls_conn c;
    struct evc_err err = {0};
    struct evc_buf body, leafder;
    X509_STORE *store;
    X509 *leaf = NULL;

    memset(&p, 0, sizeof(p));
    evc_buf_init(&body, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    evc_buf_init(&leafder, EVC_SA_MAX);
    if (evc_state_agent_server(a->st, v->name, &known, &err) != 0 ||
        (store = evc_agent_trust_store(a, i, &err)) == NULL) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        evc_agent_worse(a, 2);
        evc_agent_server_clear(&known);
        return;
    }
    if (v->sources & EVC_SOURCE_HANDSHAKE) {
        if (evc_tls_open_cancel(v->connect, v->service, store, known.generation, CONTACT_TIMEOUT_MS,
                                a->cancel_fd, &p, &c, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "server=%s not reached: %s", v->name, evc_err_message(&err));
            evc_agent_worse(a, 2);
        } else {
            evc_tls_conn_close(&c);
            if (!p.verified) {
                evc_logf(&a->log, LOG_ERR,
                         "server=%s at %s does not verify with the trust in %s (%s); it is not a "
                         "source of successors",
                         v->name, v->connect, v->trust, p.reason);
                evc_agent_worse(a, 2);
            } else {
                leaf = p.leaf;
                p.leaf = NULL;
                if (p.sa.len > 0) {
                    evc_agent_offer(a, i, p.sa.data, p.sa.len, leaf, "handshake", now);
                }
            }
        }
    }
    if ((v->sources & EVC_SOURCE_URL) && !evc_agent_stopping(a)) {
        X509 *uleaf = NULL;
        struct evc_agent_server now_held;
        char id[EVC_ACK_ID_MAX + 1], url[EVC_URL_HELD_MAX];
        uint64_t held = known.generation;

        /* What is held now, the handshake's SA included if it was just written. */
        if (evc_state_agent_server(a->st, v->name, &now_held, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        } else {
            held = now_held.generation;
            evc_agent_server_clear(&now_held);
        }
        evc_agent_id(a, id);
        if (evc_agent_url_held(v->url, held, id, url, sizeof(url)) != 0) {
            /* A URL too long for the query: fetched as configured, holding nothing said. */
            snprintf(url, sizeof(url), "%s", v->url);
        }
        if (evc_agent_fetch(url, v->connect, store, CONTACT_TIMEOUT_MS, a->cancel_fd, &body, &uleaf,
                            &err) != 0) {
            evc_logf(&a->log, LOG_ERR,
                     "server=%s url not fetched; it is not a source of "
                     "successors: %s",
                     v->name, evc_err_message(&err));
            evc_agent_worse(a, 2);
        } else {
            if (body.len > 0) {
                evc_agent_offer(a, i, body.data, body.len, uleaf, "url", now);
            }
            if (leaf == NULL) {
                leaf = uleaf;
                uleaf = NULL;
            }
        }
        X509_free(uleaf);
    }
    if (leaf != NULL) {
        /* The leaf seen verified is the one an SA must follow (or the one before it). */
        if (evc_agent_x509_der(leaf, &leafder) == 0 &&
            (leafder.len != known.trusted.len ||
             memcmp(leafder.data, known.trusted.data, leafder.len) != 0) &&
            evc_state_agent_trusted(a->st, v->name, leafder.data, leafder.len, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        }
        evc_agent_freeze_check(a, i, leaf, now);
    }
    X509_free(leaf);
    X509_STORE_free(store);
    evc_probe_clear(&p);
    evc_buf_free(&body);
    evc_buf_free(&leafder);
    evc_agent_server_clear(&known);
}
