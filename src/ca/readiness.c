/* SPDX-License-Identifier: Apache-2.0 */
/*
 * activate = ready in the renewal run: what the clients of each store
 * hold of its staged successor, as the caller counted it (o->readiness:
 * the ca layer does no I/O for it), and the report of a successor that
 * waits for them or goes live at its deadline without them. A count that
 * could not be made is never ready: the deadline bounds the wait.
 */
#include <stdio.h>
#include <string.h>

#include "base/share.h"
#include "ca/renew_int.h"

/* The tracker's rule (base/share.h): a count that may miss a client is never ready. */
static int
met(const struct evc_policy *p, const struct evc_readiness *r)
{
    return evc_share_met(r->known && r->complete, r->clients, r->ready, p->ready_share);
}

void
evc_renew_ask_readiness(struct run *run)
{
    const struct evc_renew_opts *o = run->o;

    for (size_t i = 0; i < run->npers; i++) {
        struct personal_st *p = &run->pers[i];
        struct evc_fact_personal *f = &run->fpers[i];
        int r = 0;

        if (run->policy->activate != EVC_ACTIVATE_READY || o->plan_only || !f->staged ||
            f->staged_is_live || f->debris || o->now < f->activate_at) {
            continue;
        }
        memset(&p->ready, 0, sizeof(p->ready));
        p->ready_asked = 1;
        if (o->readiness == NULL) {
            snprintf(p->ready.error, sizeof(p->ready.error), "nothing counts them here");
            continue;
        }
        r = o->readiness(o->readiness_arg, p->conf, p->generation, o->now, &p->ready);
        /* The caller's text is held to its buffers whatever it wrote. */
        p->ready.unready[sizeof(p->ready.unready) - 1] = '\0';
        p->ready.error[sizeof(p->ready.error) - 1] = '\0';
        if (r != 0 || !p->ready.known) {
            p->ready.known = 0;
            if (p->ready.error[0] == '\0') {
                snprintf(p->ready.error, sizeof(p->ready.error), "they could not be counted");
            }
        }
        f->ready = met(run->policy, &p->ready);
    }
}

/* The counts of p's clients into v, and a few words on them into note. */
static void
counts(const struct run *run, const struct personal_st *p, struct evc_renew_action *v, char *note,
       size_t len)
{
    v->activate_by = p->activate_by;
    if (p->made) {
        snprintf(note, len, "published in this run: no client holds generation %llu yet",
                 (unsigned long long)p->generation);
        return;
    }
    if (!p->ready_asked || !p->ready.known) {
        snprintf(note, len, "clients not counted: %.200s",
                 p->ready_asked ? p->ready.error : "not asked");
        snprintf(v->unready, sizeof(v->unready), "unknown");
        return;
    }
    v->ready_known = 1;
    v->clients = p->ready.clients;
    v->ready = p->ready.ready;
    memcpy(v->unready, p->ready.unready, sizeof(v->unready));
    if (!p->ready.complete) {
        snprintf(note, len,
                 "%zu of %zu clients hold generation %llu, a count that may miss "
                 "some: %.160s",
                 p->ready.ready, p->ready.clients, (unsigned long long)p->generation,
                 p->ready.error[0] != '\0' ? p->ready.error : "not a whole window");
        return;
    }
    snprintf(note, len, "%zu of %zu clients hold generation %llu (%u%% needed)", p->ready.ready,
             p->ready.clients, (unsigned long long)p->generation, run->policy->ready_share);
}

void
evc_renew_wait(struct run *run, const struct evc_action *a, struct evc_renew_action *v)
{
    struct personal_st *p = &run->pers[a->index];
    char note[sizeof(v->detail)], by[EVC_TIME_TEXT_MAX];

    evc_renew_set_old(v, leaf(p));
    if (p->next != NULL) {
        evc_renew_set_new(v, sk_X509_value(p->next, 0));
    }
    v->activate_at = p->activate_at;
    counts(run, p, v, note, sizeof(note));
    evc_time_format(p->activate_by, by);
    snprintf(v->detail, sizeof(v->detail), "%.200s; live by %s at the latest", note, by);
}

void
evc_renew_readiness_note(struct run *run, const struct evc_action *a, struct evc_renew_action *v)
{
    struct personal_st *p = &run->pers[a->index];
    char note[sizeof(v->detail)], by[EVC_TIME_TEXT_MAX];

    /* Only what waited for its clients: not a clean-up, not activate = at. */
    if (a->type != EVC_ACT_ACTIVATE || (!p->ready_asked && a->reason != EVC_REASON_DEADLINE)) {
        return;
    }
    counts(run, p, v, note, sizeof(note));
    if (a->reason == EVC_REASON_DEADLINE) {
        evc_time_format(p->activate_by, by);
        char full[sizeof(v->detail)];

        snprintf(full, sizeof(full), "deadline %s reached; %.200s", by, note);
        evc_renew_detail_prepend(v, full);
    } else {
        evc_renew_detail_prepend(v, note);
    }
}
