/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The report's rows: one per certificate in the stores, classified at the
 * run's now, with when evercert replaces it, so a status never contradicts
 * the actions; and the action lines the run fills in as it goes. Pure.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/renew_int.h"

static int
report_cert(struct run *run, const struct evc_store_conf *s, X509 *x, enum evc_kind kind)
{
    struct evc_renew_result *res = run->res;
    struct evc_renew_cert *c = realloc(res->certs, (res->ncerts + 1) * sizeof(*c));
    BIO *b;

    if (c == NULL) {
        return EVC_ERR_NOMEM;
    }
    res->certs = c;
    c = &c[res->ncerts];
    memset(c, 0, sizeof(*c));
    c->store = s->name;
    c->role = s->role;
    c->kind = kind;
    c->not_after = not_after(x);
    c->status = evc_classify(not_before(x), c->not_after, run->o->now, &run->policy->thresholds);
    if (evc_x509_sha256(x, c->sha256) != 0 || (b = BIO_new(BIO_s_mem())) == NULL) {
        return EVC_ERR_NOMEM;
    }
    /* As scan prints it: controls escaped, a name that is not valid UTF-8 shown as \XX bytes. */
    if (evc_x509_name_text(b, X509_get_subject_name(x), &c->subject, NULL) != 0 &&
        (c->subject = strdup("(a subject that cannot be printed)")) == NULL) {
        BIO_free(b);
        return EVC_ERR_NOMEM;
    }
    BIO_free(b);
    res->ncerts++;
    return 0;
}

/* What the plan holds for the certificate just reported: see evc_renew_cert. */
static void
last_cert(struct run *run, const char *plan, evc_time at)
{
    struct evc_renew_cert *c = &run->res->certs[run->res->ncerts - 1];

    c->plan = plan;
    c->renew_at = at;
}

int
evc_renew_rows(struct run *run)
{
    int r = 0;

    for (size_t i = 0; r == 0 && i < run->nroots; i++) {
        const struct evc_fact_root *f = &run->froots[i];

        if (!f->empty &&
            (r = report_cert(run, run->roots[i].conf, run->roots[i].cert, EVC_KIND_ROOT)) == 0) {
            last_cert(run, "renew",
                      evc_renew_moment(f->not_before, f->not_after, &run->policy->thresholds));
        }
    }
    for (size_t i = 0; r == 0 && i < run->npers; i++) {
        const struct evc_fact_personal *f = &run->fpers[i];

        if ((r = report_cert(run, run->pers[i].conf, leaf(&run->pers[i]), f->kind)) != 0) {
            break;
        }
        if (f->kind == EVC_KIND_EXTERNAL) {
            last_cert(run, "external", 0);
        } else if (f->kind == EVC_KIND_ROOT) {
            last_cert(run, "ca", 0);
        } else if (f->staged && !f->staged_is_live && !f->debris &&
                   (f->kind != EVC_KIND_CHAINED || f->staged_by_root) &&
                   f->staged_not_after > run->o->now &&
                   f->staged_not_before <= run->o->now + EVC_SWAP_SLACK) {
            /* A successor that can still go live; a stale one is made again now. */
            last_cert(run, "activate", f->activate_at);
        } else if ((f->staged && !f->staged_is_live) || f->debris) {
            last_cert(run, "renew", run->o->now);
        } else {
            last_cert(run, "renew",
                      evc_renew_moment(f->not_before, f->not_after, &run->policy->thresholds));
        }
    }
    for (size_t i = 0; r == 0 && i < run->ntrusts; i++) {
        for (size_t k = 0; r == 0 && k < run->trusts[i].t->n; k++) {
            X509 *x = run->trusts[i].t->certs[k].x;

            r = report_cert(run, run->trusts[i].conf, x,
                            self_issued(x)
                                ? (X509_check_ca(x) ? EVC_KIND_ROOT : EVC_KIND_SELF_SIGNED)
                                : EVC_KIND_EXTERNAL);
            if (r == 0) {
                last_cert(run, "signer", 0);
            }
        }
    }
    return r;
}

struct evc_renew_action *
evc_renew_action_add(struct run *run, const struct evc_action *a, const char *store)
{
    struct evc_renew_result *res = run->res;
    struct evc_renew_action *v = realloc(res->actions, (res->nactions + 1) * sizeof(*v));

    if (v == NULL) {
        return NULL;
    }
    res->actions = v;
    v = &v[res->nactions++];
    memset(v, 0, sizeof(*v));
    v->action = evc_action_name(a->type);
    v->reason = evc_reason_name(a->reason);
    v->store = store;
    return v;
}

void
evc_renew_set_old(struct evc_renew_action *v, X509 *x)
{
    v->has_old = x != NULL && evc_x509_sha256(x, v->old_sha256) == 0;
}

void
evc_renew_set_new(struct evc_renew_action *v, X509 *x)
{
    v->has_new = x != NULL && evc_x509_sha256(x, v->new_sha256) == 0;
}
