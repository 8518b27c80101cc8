/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An SA offered by a server, decided and written. It is checked by
 * evc_sa_verify (every rule of docs/PROTOCOL.md), then by the server's policy:
 * auto writes it, manual queues it for `evercert approve`, holddown waits
 * until the same SA has been seen that long. Nothing is written before
 * every check passes.
 *
 * The trust store and the state database are two files, so "the
 * generation is stored with the trust store change" is kept by a
 * write-ahead mark: the SA is marked applying before the store is
 * touched, the store change is idempotent (a certificate already there is
 * not added again), and the generation is recorded after it. A crash at
 * any point leaves the store parsing and holding what it held, and the
 * next start finishes the write (tick.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "evercert/time.h"
#include "base/text.h"
#include "agent/agent_int.h"

/*
 * An earlier successor this agent wrote for server i that never went live
 * (not prev_trusted, not current, not the new successor) leaves the trust
 * store t, kept in the deleted store if one is set: the store holds one
 * successor at a time, so a key holder cannot stack up many. 1 if one was
 * removed, 0 if none, or an error.
 */
static int
drop_superseded(struct evc_agent *a, size_t i, struct evc_trust *t,
                const struct evc_agent_server *before, X509 *current, X509 *succ, evc_time now,
                struct evc_err *err)
{
    X509 *prev = evc_agent_x509_of(&before->successor), *live = evc_agent_x509_of(&before->trusted);
    struct evc_deleted *d = NULL;
    uint8_t fp[32];
    char hex[65];
    long k;
    int r = 0;

    if (prev == NULL || X509_cmp(prev, succ) == 0 ||
        (current != NULL && X509_cmp(prev, current) == 0) ||
        (live != NULL && X509_cmp(prev, live) == 0)) {
        goto out;
    }
    if ((r = evc_x509_sha256(prev, fp)) != 0 || (k = evc_trust_find(t, fp)) < 0) {
        goto out;
    }
    if (a->conf->agent.deleted != NULL &&
        ((r = evc_deleted_load(a->conf->agent.deleted, &d, err)) != 0 ||
         (r = evc_deleted_put(d, prev, a->conf->servers[i].trust, "superseded successor", now,
                              err)) != 0)) {
        goto out;
    }
    if ((r = evc_trust_remove(t, (size_t)k, err)) != 0) {
        goto out;
    }
    evc_text_hex(fp, 32, hex);
    evc_agent_event(a, now, a->conf->servers[i].name, "retire", "superseded", 0, 0, NULL, hex);
    r = 1;
out:
    evc_deleted_free(d);
    X509_free(prev);
    X509_free(live);
    ERR_clear_error();
    return r;
}

/*
 * Write an accepted SA: what the trust store needs, then the state. The
 * SA row is applying while the store is written. current is the leaf
 * the SA follows; it is retired once expired if the successor itself was
 * added beside it.
 */
int
evc_agent_apply(struct evc_agent *a, size_t i, const struct evc_agent_sa *row,
                const struct evc_sa *sa, X509 *current, evc_time now, struct evc_err *err)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_trust *t = NULL;
    X509_STORE *store = NULL;
    STACK_OF(X509) *add = NULL;
    struct evc_buf succ, old;
    uint8_t fp[32];
    char oldhex[65] = "";
    struct evc_agent_server before = {0};
    int lock = -1, changed = 0, retire = 0, r;
    evc_time old_end = 0;

    evc_buf_init(&succ, EVC_SA_MAX);
    evc_buf_init(&old, EVC_SA_MAX);
    /* What was trusted and which successor was written before this SA: see drop_superseded. */
    if ((r = evc_state_agent_server(a->st, v->name, &before, err)) != 0) {
        goto out;
    }
    /* The write-ahead mark, with the leaf the SA follows: what a resumed write checks against. */
    if (current != NULL &&
        ((r = evc_agent_x509_der(current, &old)) != 0 ||
         (r = evc_state_agent_trusted(a->st, v->name, old.data, old.len, err)) != 0)) {
        goto out;
    }
    evc_buf_reset(&old);
    if ((r = evc_state_agent_sa_status(a->st, row->id, EVC_SA_STATUS_APPLYING, NULL, err)) != 0 ||
        (lock = evc_agent_store_lock(v->trust, err)) == -1) {
        r = r != 0 ? r : EVC_ERR_BUSY;
        goto out;
    }
    if ((r = evc_agent_trust_load(a, i, &t, err)) != 0 ||
        (store = evc_agent_store_of(t, err)) == NULL) {
        r = r != 0 ? r : EVC_ERR_NOMEM;
        goto out;
    }
    /* A pin file changes at activate_at, to the successor alone (evc_agent_tick). */
    if (v->trust_format != EVC_TRUST_PIN &&
        (r = evc_agent_trust_plan(sa, (enum evc_sa_policy_mode)v->policy, store,
                                  sa->activate_at > now ? sa->activate_at : now, &add, err)) != 0) {
        goto out;
    }
    for (int k = 0; k < sk_X509_num(add); k++) {
        X509 *x = sk_X509_value(add, k);

        if ((r = evc_x509_sha256(x, fp)) != 0) {
            goto out;
        }
        if (evc_trust_find(t, fp) >= 0) {
            continue; /* written before a crash, or there all along */
        }
        if ((r = evc_trust_add(t, x, err)) != 0) {
            goto out;
        }
        changed = 1;
        retire = retire || x == sk_X509_value(sa->successor, 0);
    }
    if (v->trust_format != EVC_TRUST_PIN) {
        if ((r = drop_superseded(a, i, t, &before, current, sk_X509_value(sa->successor, 0), now,
                                 err)) < 0) {
            goto out;
        }
        changed = changed || r == 1;
        r = 0;
    }
    if (current != NULL && retire) {
        if ((r = evc_x509_sha256(current, fp)) != 0 ||
            (r = evc_agent_x509_der(current, &old)) != 0 ||
            (r = evc_asn1_time(X509_get0_notAfter(current), &old_end)) != 0) {
            goto out;
        }
        evc_text_hex(fp, 32, oldhex);
    }
    if ((r = evc_agent_x509_der(sk_X509_value(sa->successor, 0), &succ)) != 0) {
        goto out;
    }
    {
        struct evc_agent_applied ap = {
            v->name,   row->id,  sa->generation,  row->sha256,
            succ.data, succ.len, sa->activate_at, retire ? old.data : NULL,
            old.len,   oldhex,   old_end};

        if ((r = evc_state_agent_applied(a->st, &ap, err)) != 0) {
            goto out;
        }
    }
    {
        char detail[200], when[EVC_TIME_TEXT_MAX];

        evc_time_format(sa->activate_at, when);
        snprintf(detail, sizeof(detail), "%d certificate%s added to %s; active from %s",
                 changed ? sk_X509_num(add) : 0, changed && sk_X509_num(add) == 1 ? "" : "s",
                 v->trust, when);
        evc_agent_event(a, now, v->name, "accept", "ok", row->id, sa->generation, row->source,
                        detail);
    }
out:
    if (lock != -1) {
        close(lock);
    }
    sk_X509_pop_free(add, X509_free);
    X509_STORE_free(store);
    evc_trust_free(t);
    evc_buf_free(&succ);
    evc_buf_free(&old);
    evc_agent_server_clear(&before);
    if (r == 0 && changed) {
        evc_agent_after_change(a, i, "add");
    }
    return r;
}

/* The checks of docs/PROTOCOL.md for server i, with trusted as the certificate it follows. */
int
evc_agent_verify(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *trusted,
                 const struct evc_agent_server *known, int mode, X509_STORE *ca, evc_time now,
                 struct evc_sa_verdict *out)
{
    uint8_t last[32];
    struct evc_sa_known k = {trusted, a->conf->servers[i].service, known->generation, NULL};
    struct evc_sa_policy p = {(enum evc_sa_policy_mode)mode, ca, 300};

    /* The SA applied last, by its hash: none yet ("") or a stored value that does not read. */
    if (evc_text_unhex(known->sa_sha256, last, sizeof(last)) == 0) {
        k.last_sha256 = last;
    }
    return evc_sa_verify(der, len, &k, &p, now, out);
}

/* Another SA of the same generation while one is held: the older hold ends, a conflict. */
struct rival {
    struct evc_agent *a;
    size_t i;
    int64_t id;
    uint64_t generation;
    evc_time now;
};

static int
supersede(void *arg, const struct evc_agent_sa *s)
{
    struct rival *rv = arg;
    struct evc_err err = {0};
    char line[400];

    if (s->id == rv->id || s->generation != rv->generation) {
        return 0;
    }
    if (evc_state_agent_sa_status(rv->a->st, s->id, EVC_SA_STATUS_SUPERSEDED, "conflict", &err) !=
        0) {
        evc_logf(&rv->a->log, LOG_ERR, "%s", evc_err_message(&err));
        return 0;
    }
    evc_agent_reject_event(
        rv->a, rv->i, rv->now, "conflict", s->id, s->generation, s->source, "conflict",
        "another SA for the same generation arrived; the hold-down starts again");
    snprintf(line, sizeof(line),
             "CONFLICT for %s: two SAs for generation %llu while held; the hold-down starts again",
             s->server, (unsigned long long)s->generation);
    evc_agent_conflict_alert(rv->a, rv->i, rv->now, s->generation, line, line);
    evc_agent_worse(rv->a, 1);
    return 0;
}

/*
 * The row of an SA that passes now. Bytes a rule refused before (the trust
 * the agent had then did not hold, or the clock was off) are not refused
 * for ever: the row takes the status the SA earns now, as a new one would.
 */
static int
seen(struct evc_agent *a, size_t i, const char *hex, const struct evc_sa *sa, const uint8_t *der,
     size_t len, const char *source, evc_time now, enum evc_sa_status status,
     struct evc_agent_sa *row, int *is_new, struct evc_err *err)
{
    const char *name = a->conf->servers[i].name;
    int r;

    if ((r = evc_state_agent_sa_seen(a->st, name, hex, sa->generation, der, len, source, now,
                                     status, row, is_new, err)) != 0 ||
        *is_new || row->status != EVC_SA_STATUS_REFUSED) {
        return r;
    }
    if ((r = evc_state_agent_sa_status(a->st, row->id, status, "", err)) != 0) {
        return r;
    }
    row->status = status;
    *is_new = 1;
    return 0;
}

int
evc_agent_offer(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *conn_leaf,
                const char *source, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_agent_server known;
    struct evc_sa_verdict vd;
    struct evc_agent_sa row;
    struct evc_err err = {0};
    X509_STORE *ca = NULL;
    X509 *prev = NULL, *trusted = conn_leaf;
    uint8_t fp[32];
    char hex[65];
    int is_new = 0, recorded = 0, waits = 0;

    memset(&vd, 0, sizeof(vd));
    memset(&row, 0, sizeof(row));
    evc_buf_init(&row.der, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    if (evc_state_agent_server(a->st, v->name, &known, &err) != 0) {
        goto fail;
    }
    /* The bytes as received name the SA, decoded or not: malformed ones differ too. */
    if (EVP_Digest(der, len, fp, NULL, EVP_sha256(), NULL) != 1) {
        evc_err_set(&err, EVC_ERR_CRYPTO, "server %s: cannot hash the SA", v->name);
        goto fail;
    }
    evc_text_hex(fp, 32, hex);
    if (strcmp(hex, known.sa_sha256) == 0) {
        goto out; /* applied already: the same SA by another way, or again */
    }
    if (evc_agent_check_store(a, i, &ca, &err) != 0) {
        goto fail;
    }
    if (evc_agent_verify(a, i, der, len, trusted, &known, v->policy, ca, now, &vd) != 0) {
        evc_err_set(&err, EVC_ERR_INTERNAL, "server %s: cannot check the SA", v->name);
        goto fail;
    }
    /*
     * A push connection opened before a swap still shows the old leaf; the
     * SA then follows one trusted since: seen verified, or the successor
     * accepted before (the server may swap before our clock says so).
     */
    for (int k = 0; k < 2 && vd.reason == EVC_SA_R_NO_CURRENT_SIGNER; k++) {
        X509 *alt = evc_agent_x509_of(k == 0 ? &known.trusted : &known.successor);

        if (alt == NULL || X509_cmp(alt, conn_leaf) == 0) {
            X509_free(alt);
            continue;
        }
        X509_free(prev);
        prev = alt;
        trusted = prev;
        evc_sa_verdict_clear(&vd);
        if (evc_agent_verify(a, i, der, len, trusted, &known, v->policy, ca, now, &vd) != 0) {
            evc_err_set(&err, EVC_ERR_INTERNAL, "server %s: cannot check the SA", v->name);
            goto fail;
        }
    }
    if (vd.decision == EVC_SA_REJECT) {
        uint64_t gen = vd.sa != NULL ? vd.sa->generation : 0;
        struct evc_agent_refusal rf = {.server = v->name,
                                       .sha256hex = hex,
                                       .generation = gen,
                                       .der = der,
                                       .len = len,
                                       .source = source,
                                       .now = now,
                                       .reason = evc_sa_reason_name(vd.reason),
                                       .max_rows = EVC_AGENT_REFUSED_MAX,
                                       .max_bytes = EVC_AGENT_REFUSED_BYTES_MAX};
        int64_t id = 0;

        if (vd.reason == EVC_SA_R_REPLAY) {
            goto out; /* the one applied, seen again */
        }
        waits = vd.reason == EVC_SA_R_NO_CURRENT_SIGNER;
        if (evc_state_agent_refused(a->st, &rf, &id, &is_new, &err) != 0) {
            goto fail;
        }
        evc_agent_worse(a, 1);
        if (is_new) {
            evc_agent_reject_event(a, i, now,
                                   vd.reason == EVC_SA_R_CONFLICT ? "conflict" : "reject", id, gen,
                                   source, evc_sa_reason_name(vd.reason), vd.message);
        } else if (a->reject_log != NULL) {
            evc_ratelimit_note(&a->reject_log[i], evc_mono_ms());
        }
        if (vd.reason == EVC_SA_R_CONFLICT) {
            char line[300];

            snprintf(line, sizeof(line),
                     "CONFLICT for %s: a second SA for generation %llu; only a second holder of "
                     "the server's key can make one",
                     v->name, (unsigned long long)gen);
            evc_agent_conflict_alert(a, i, now, gen, line, vd.message);
        }
        goto out;
    }
    if (vd.decision == EVC_SA_QUEUE) {
        if (seen(a, i, hex, vd.sa, der, len, source, now, EVC_SA_STATUS_PENDING, &row, &is_new,
                 &err) != 0) {
            goto fail;
        }
        if (is_new) {
            evc_time unused = 0;

            evc_agent_event(a, now, v->name, "queue", "manual", row.id, vd.sa->generation, source,
                            "waits for evercert approve");
            /* When the server switches, told now; the level rises in evc_agent_tick. */
            evc_agent_waits_check(a, i, now, &unused);
        }
        recorded = 1;
        goto out;
    }
    /* Accepted by every rule. */
    if (v->holddown > 0) {
        if (seen(a, i, hex, vd.sa, der, len, source, now, EVC_SA_STATUS_HOLDING, &row, &is_new,
                 &err) != 0) {
            goto fail;
        }
        if (is_new) {
            struct rival rv = {a, i, row.id, vd.sa->generation, now};

            evc_agent_event(a, now, v->name, "hold", "holddown", row.id, vd.sa->generation, source,
                            NULL);
            if (evc_state_agent_sa_each(a->st, v->name, EVC_SA_STATUS_HOLDING, supersede, &rv,
                                        &err) != 0) {
                goto fail;
            }
        }
        recorded = 1;
        if (row.status != EVC_SA_STATUS_HOLDING || now - row.first_seen < v->holddown) {
            goto out;
        }
    } else if (seen(a, i, hex, vd.sa, der, len, source, now, EVC_SA_STATUS_APPLYING, &row, &is_new,
                    &err) != 0) {
        goto fail;
    }
    if (row.status == EVC_SA_STATUS_REJECTED || row.status == EVC_SA_STATUS_SUPERSEDED) {
        goto out; /* a person or a conflict dropped it */
    }
    recorded = 1;
    if (evc_agent_apply(a, i, &row, vd.sa, trusted, now, &err) != 0) {
        goto fail;
    }
    goto out;
fail:
    evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
    evc_agent_worse(a, 2);
out:
    if (recorded && trusted != NULL) {
        /* A successor for the leaf clears its freeze alarm now, whichever way it came. */
        evc_agent_freeze_check(a, i, trusted, now);
    }
    X509_free(prev);
    X509_STORE_free(ca);
    evc_sa_verdict_clear(&vd);
    evc_agent_sa_clear(&row);
    evc_agent_server_clear(&known);
    return waits;
}
