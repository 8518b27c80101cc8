/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal run: read every store (load.c), turn what was read into
 * facts (facts.c) and report rows (rows.c), let the planner (plan.c)
 * decide, then carry the plan out one durable step at a time (actions.c,
 * swap.c). A crash anywhere leaves whole stores, and the next run finishes
 * the work: every rule looks at the state, not at what a run did before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/renew_int.h"

static const char *
action_store(const struct run *run, const struct evc_action *a)
{
    switch (a->type) {
    case EVC_ACT_RECREATE:
    case EVC_ACT_CREATE_ROOT:
        return run->roots[a->index].conf->name;
    case EVC_ACT_RENEW:
    case EVC_ACT_ACTIVATE:
    case EVC_ACT_WAIT:
        return run->pers[a->index].conf->name;
    default:
        return "";
    }
}

int
evc_renew_run(const struct evc_renew_opts *o, struct evc_renew_result *res, struct evc_err *err)
{
    struct run *run = NULL;
    struct evc_action *plan = NULL;
    struct evc_facts f;
    int lockfd = -1, r = EVC_ERR_INTERNAL;
    long n;
    size_t max;

    if ((run = calloc(1, sizeof(*run))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    run->o = o;
    run->policy = o->policy;
    run->res = res;
    if (o->policy == NULL || (o->nstores > 0 && o->stores == NULL)) {
        r = evc_err_set(err, EVC_ERR_USAGE, "a run needs a policy and its stores");
        goto out;
    }
    /* One run per configuration at a time; a dry run only reads. */
    if (writes(run)) {
        if (o->lock == NULL) {
            r = evc_err_set(err, EVC_ERR_USAGE, "a run that writes needs a file to lock");
            goto out;
        }
        if ((r = evc_lock_take(o->lock, &lockfd, err)) != 0) {
            goto out;
        }
    }
    if ((r = evc_renew_load(run, err)) != 0 || (r = evc_renew_facts(run, err)) != 0) {
        goto out;
    }
    if ((r = evc_renew_rows(run)) != 0) {
        r = evc_err_set(err, r, "out of memory");
        goto out;
    }
    if ((r = evc_renew_repair(run, err)) != 0) {
        goto out;
    }
    evc_renew_ask_readiness(run);
    memset(&f, 0, sizeof(f));
    f.now = o->now;
    f.activate_only = o->activate_only;
    f.policy = run->policy;
    f.roots = run->froots;
    f.nroots = run->nroots;
    f.personals = run->fpers;
    f.npersonals = run->npers;
    f.signers = run->fsigners;
    f.nsigners = run->nfsigners;
    f.trusts = run->ftrusts;
    f.ntrusts = run->nftrusts;
    f.deleted = run->fdeleted;
    f.ndeleted = run->deleted != NULL ? run->deleted->n : 0;
    max = f.ndeleted + f.nroots + 2 * f.npersonals + f.ntrusts + f.nsigners + 1;
    if ((plan = calloc(max, sizeof(*plan))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((n = evc_plan_make(&f, plan, max)) < 0) {
        r = evc_err_set(err, (int)n, "the plan is too long");
        goto out;
    }
    {
        struct evc_plan_clock ck;

        evc_plan_clock(&f, &ck);
        res->next_due = ck.next;
        res->next_due_latest = ck.latest;
        res->deadline = ck.deadline;
        res->overdue = ck.overdue + run->repairs;
    }
    if (o->plan_only) {
        for (long i = 0; i < n; i++) {
            if (evc_renew_action_add(run, &plan[i], action_store(run, &plan[i])) == NULL) {
                r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        r = 0;
        goto out;
    }
    for (long i = 0; i < n; i++) {
        const struct evc_action *a = &plan[i];
        struct evc_renew_action *v;

        if (a->type != EVC_ACT_RENEW && (r = evc_renew_commit_staged(run, err)) != 0) {
            goto out;
        }
        if ((v = evc_renew_action_add(run, a, action_store(run, a))) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        switch (a->type) {
        case EVC_ACT_PURGE:
            r = evc_renew_purge(run, a->index, v, err);
            break;
        case EVC_ACT_CREATE_ROOT:
            r = evc_renew_create_root(run, a->index, v, err);
            break;
        case EVC_ACT_RECREATE:
            r = evc_renew_recreate(run, a->index, v, err);
            break;
        case EVC_ACT_RENEW:
            r = evc_renew_stage(run, a->index, a->stale, v, err);
            break;
        case EVC_ACT_ADD_SIGNER:
            r = evc_renew_add_signer(run, a->index, v, err);
            break;
        case EVC_ACT_ACTIVATE:
            if ((r = evc_renew_activate(run, a, v, err)) == 0) {
                evc_renew_readiness_note(run, a, v);
            }
            break;
        case EVC_ACT_WAIT:
            evc_renew_wait(run, a, v);
            r = 0;
            break;
        case EVC_ACT_RETIRE:
            r = evc_renew_retire(run, a->index, v, err);
            break;
        default:
            r = evc_err_set(err, EVC_ERR_INTERNAL, "unknown action");
            break;
        }
        if (r != 0) {
            snprintf(v->detail, sizeof(v->detail), "%s", evc_err_message(err));
            evc_err_set(err, r, "%s%s%s: %s", v->action, *v->store != '\0' ? " of store " : "",
                        v->store, v->detail);
            goto out;
        }
        /* A stale successor that `activate` left alone, or one that waits: nothing was written. */
        v->done = !o->dry_run && !(a->type == EVC_ACT_ACTIVATE && a->reason == EVC_REASON_STALE) &&
                  a->type != EVC_ACT_WAIT && strcmp(v->action, "wait") != 0;
    }
    r = evc_renew_commit_staged(run, err);
    for (size_t i = 0; r == 0 && i < run->npers; i++) {
        const struct personal_st *p = &run->pers[i];

        /* On disk now: the fleet learns this host staged it, so it is never superseded. */
        if (p->conf->shared && p->made && p->next != NULL && !o->dry_run &&
            o->shared_staged != NULL) {
            o->shared_staged(o->shared_arg, p->conf, p->generation, o->now);
        }

        if (p->next != NULL && !same_sha(sk_X509_value(p->next, 0), leaf(p)) &&
            p->activate_at > o->now &&
            (res->next_activation == 0 || p->activate_at < res->next_activation)) {
            res->next_activation = p->activate_at;
        }
    }
out:
    free(plan);
    evc_renew_unload(run);
    free(run);
    evc_lock_release(lockfd);
    return r;
}

void
evc_renew_result_clear(struct evc_renew_result *r)
{
    for (size_t i = 0; i < r->ncerts; i++) {
        free(r->certs[i].subject);
    }
    free(r->certs);
    free(r->actions);
    memset(r, 0, sizeof(*r));
}
