/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What time alone decides: a successor whose activate_at has come (a pin
 * file then names it alone), a predecessor that expired (it leaves the
 * trust store for the deleted store), a hold-down that is over, and a
 * write a crash interrupted (finished from its applying mark).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "agent/agent_int.h"

/* The successor is active: a pin file now names it alone. */
static void
activate(struct evc_agent *a, size_t i, const struct evc_agent_server *known, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_err err = {0};
    struct evc_buf pem;
    X509 *x = evc_agent_x509_of(&known->successor);
    int lock = -1, r = 0;

    evc_buf_init(&pem, EVC_SA_MAX);
    if (x == NULL) {
        r = evc_err_set(&err, EVC_ERR_PARSE, "server %s: the stored successor does not parse",
                        v->name);
    } else if (v->trust_format == EVC_TRUST_PIN) {
        if ((lock = evc_agent_store_lock(v->trust, &err)) == -1 ||
            (r = evc_x509_pem(x, &pem, &err)) != 0 ||
            (r = evc_atomic_write(v->trust, pem.data, pem.len, 0644, &err)) != 0) {
            r = r != 0 ? r : EVC_ERR_BUSY;
        }
    }
    if (r == 0 && (r = evc_state_agent_activated(a->st, v->name, &err)) == 0) {
        evc_agent_event(a, now, v->name, "activate", NULL, 0, known->generation, NULL,
                        v->trust_format == EVC_TRUST_PIN ? "the pin file now holds the successor"
                                                         : NULL);
    }
    if (lock != -1) {
        close(lock);
    }
    X509_free(x);
    evc_buf_free(&pem);
    if (r != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        evc_agent_worse(a, 2);
    } else if (v->trust_format == EVC_TRUST_PIN) {
        evc_agent_after_change(a, i, "pin");
    }
}

struct tick {
    struct evc_agent *a;
    evc_time now;
    evc_time next;
};

/* An expired predecessor leaves the trust store for the deleted store. */
static int
retire_one(void *arg, const char *server, const char *sha256hex, const uint8_t *der, size_t len)
{
    struct tick *tk = arg;
    struct evc_agent *a = tk->a;
    long i = evc_agent_server_index(a, server);
    struct evc_trust *t = NULL;
    struct evc_deleted *d = NULL;
    struct evc_err err = {0};
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    uint8_t fp[32];
    long k;
    int lock = -1, r = 0, removed = 0;

    if (i < 0 || x == NULL || a->conf->agent.deleted == NULL) {
        /* A server no longer followed, or no deleted store: the certificate stays. */
        goto done;
    }
    if ((lock = evc_agent_store_lock(a->conf->servers[i].trust, &err)) == -1 ||
        (r = evc_agent_trust_load(a, (size_t)i, &t, &err)) != 0 ||
        (r = evc_deleted_load(a->conf->agent.deleted, &d, &err)) != 0 ||
        (r = evc_x509_sha256(x, fp)) != 0) {
        r = r != 0 ? r : EVC_ERR_BUSY;
        goto done;
    }
    if ((k = evc_trust_find(t, fp)) >= 0) {
        if ((r = evc_deleted_put(d, x, a->conf->servers[i].trust, "expired predecessor", tk->now,
                                 &err)) != 0 ||
            (r = evc_trust_remove(t, (size_t)k, &err)) != 0) {
            goto done;
        }
        removed = 1;
    }
    /* The deleted store grows only here: what is past deleted_retention goes now. */
    for (size_t j = 0; r == 0 && j < d->n; j++) {
        if (d->entries[j].x != NULL &&
            tk->now - d->entries[j].deleted_at >= a->conf->policy.deleted_retention) {
            r = evc_deleted_purge(d, j, &err);
        }
    }
done:
    if (lock != -1) {
        close(lock);
    }
    if (r == 0 && (r = evc_state_agent_retired(a->st, server, sha256hex, &err)) == 0 && removed) {
        evc_agent_event(a, tk->now, server, "retire", "expired", 0, 0, NULL, sha256hex);
        evc_agent_after_change(a, (size_t)i, "retire");
    }
    if (r != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s retire: %s", server, evc_err_message(&err));
        evc_agent_worse(a, 2);
    }
    evc_deleted_free(d);
    evc_trust_free(t);
    X509_free(x);
    return 0;
}

/* A crash between the mark and the record: finish the write. A hold that is over: decide. */
static int
resume_one(void *arg, const struct evc_agent_sa *row)
{
    struct tick *tk = arg;
    struct evc_agent *a = tk->a;
    long i = evc_agent_server_index(a, row->server);
    struct evc_agent_server known;
    struct evc_sa_verdict vd;
    struct evc_err err = {0};
    X509 *trusted;
    X509_STORE *ca = NULL;
    int holding = row->status == EVC_SA_STATUS_HOLDING, ca_policy;

    if (i < 0) {
        return 0;
    }
    ca_policy = a->conf->servers[i].policy == EVC_SA_POLICY_CA;
    if (holding) {
        evc_time due = row->first_seen + a->conf->servers[i].holddown;

        /* Seen continuously: still offered within the last interval. */
        if (due > tk->now) {
            evc_agent_next_at(&tk->next, due);
            return 0;
        }
        if (row->last_seen + a->conf->servers[i].interval + 60 < tk->now) {
            return 0;
        }
    }
    memset(&vd, 0, sizeof(vd));
    if (evc_state_agent_server(a->st, row->server, &known, &err) != 0) {
        goto fail;
    }
    trusted = evc_agent_x509_of(&known.trusted);
    /* Decided by the server's policy again; manual's approval was given before the mark. */
    if (evc_agent_check_store(a, (size_t)i, &ca, &err) != 0) {
        X509_free(trusted);
        evc_agent_server_clear(&known);
        goto fail;
    }
    if (evc_agent_verify(a, (size_t)i, row->der.data, row->der.len, trusted, &known,
                         ca_policy ? EVC_SA_POLICY_CA : EVC_SA_POLICY_AUTO, ca, tk->now,
                         &vd) != 0 ||
        vd.sa == NULL) {
        evc_err_set(&err, EVC_ERR_INTERNAL, "server %s: cannot read SA %lld", row->server,
                    (long long)row->id);
    } else if (vd.decision != EVC_SA_ACCEPT && !(!holding && vd.reason == EVC_SA_R_REPLAY)) {
        if (evc_state_agent_sa_status(a->st, row->id, EVC_SA_STATUS_REFUSED,
                                      evc_sa_reason_name(vd.reason), &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        }
        err.code = 0;
        evc_agent_event(a, tk->now, row->server, "reject", evc_sa_reason_name(vd.reason), row->id,
                        vd.sa->generation, row->source, vd.message);
    } else if (evc_agent_apply(a, (size_t)i, row, vd.sa, trusted, tk->now, &err) == 0) {
        err.code = 0;
    }
    X509_free(trusted);
    X509_STORE_free(ca);
    evc_sa_verdict_clear(&vd);
    evc_agent_server_clear(&known);
    if (err.code == 0) {
        return 0;
    }
fail:
    evc_logf(&a->log, LOG_ERR, "server=%s %s", row->server, evc_err_message(&err));
    evc_agent_worse(a, 2);
    return 0;
}

void
evc_agent_tick(struct evc_agent *a, evc_time now, evc_time *next)
{
    struct tick tk = {a, now, 0};
    struct evc_err err = {0};
    evc_time retire_next;

    if (evc_state_agent_sa_each(a->st, NULL, EVC_SA_STATUS_APPLYING, resume_one, &tk, &err) != 0 ||
        evc_state_agent_sa_each(a->st, NULL, EVC_SA_STATUS_HOLDING, resume_one, &tk, &err) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < a->conf->nservers; i++) {
        struct evc_agent_server known;

        if (evc_state_agent_server(a->st, a->conf->servers[i].name, &known, &err) != 0) {
            goto fail;
        }
        if (known.successor.len > 0) {
            if (known.activate_at <= now) {
                activate(a, i, &known, now);
            } else {
                evc_agent_next_at(&tk.next, known.activate_at);
            }
        }
        evc_agent_fleet_holding(a, now, a->conf->servers[i].name, &known);
        evc_agent_server_clear(&known);
        evc_agent_waits_check(a, i, now, &tk.next);
    }
    if (evc_state_agent_retire_due(a->st, now, retire_one, &tk, &err) != 0 ||
        evc_state_agent_retire_next(a->st, &retire_next, &err) != 0) {
        goto fail;
    }
    /* Without a deleted store the rows stay; wake for them only when something can be done. */
    if (a->conf->agent.deleted != NULL) {
        evc_agent_next_at(&tk.next, retire_next);
    }
    *next = tk.next;
    evc_agent_fleet_flush(a, now);
    return;
fail:
    evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    evc_agent_worse(a, 2);
    *next = tk.next;
}
