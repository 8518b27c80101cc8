/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The expiration monitor's decisions, as WebSphere's monitor orders them,
 * and docs/DESIGN.md's staged life of a certificate (renew = publish a
 * successor, activate at activate_at, retire the old signer later).
 */
#include <string.h>

#include "ca/plan.h"

static const char *const action_names[] = {"purge",      "create-root", "recreate-root", "renew",
                                           "add-signer", "activate",    "retire",        "repair",
                                           "note",       "wait"};
static const char *const reason_names[] = {
    "",          "expired",   "threshold",  "root-recreated",  "activate",
    "retired",   "retention", "no-root",    "stale-successor", "deadline",
    "not-ready", "lease",     "fleet-down", "refused"};
_Static_assert(sizeof(action_names) / sizeof(action_names[0]) == EVC_ACT_COUNT,
               "a name for every action");
static const char *const stale_names[] = {"", "expired", "not yet valid",
                                          "signed by a replaced root", "not a whole set"};

const char *
evc_action_name(enum evc_action_type t)
{
    return (unsigned)t < EVC_ACT_COUNT ? action_names[t] : "?";
}

const char *
evc_reason_name(enum evc_reason r)
{
    return (unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "?";
}

const char *
evc_stale_name(enum evc_stale s)
{
    return (unsigned)s < sizeof(stale_names) / sizeof(stale_names[0]) ? stale_names[s] : "?";
}

/* Due for replacement: expired, or inside the (capped) threshold. */
static enum evc_reason
due(evc_time nb, evc_time na, const struct evc_facts *f)
{
    if (f->now >= na) {
        return EVC_REASON_EXPIRED;
    }
    return f->now >= evc_renew_moment(nb, na, &f->policy->thresholds) ? EVC_REASON_THRESHOLD
                                                                      : EVC_REASON_NONE;
}

/*
 * What keeps the staged successor of c from ever going live, judged at
 * now. A successor already live is never stale (activate only cleans up);
 * one signed by a root other than the current one (root_gone: replaced in
 * this run) is, for a chained certificate. Without this a successor that
 * outlived its window would be refused at every activation, forever.
 */
static enum evc_stale
stale_of(const struct evc_fact_personal *c, const struct evc_facts *f, int root_gone)
{
    if (c->debris) {
        return EVC_STALE_DEBRIS;
    }
    if (!c->staged || c->staged_is_live) {
        return EVC_STALE_NONE;
    }
    if (f->now >= c->staged_not_after) {
        return EVC_STALE_EXPIRED;
    }
    if (c->staged_not_before > f->now + EVC_SWAP_SLACK) {
        return EVC_STALE_NOT_YET_VALID;
    }
    if (c->kind == EVC_KIND_CHAINED && c->root >= 0 && (root_gone || !c->staged_by_root)) {
        return EVC_STALE_OTHER_ROOT;
    }
    return EVC_STALE_NONE;
}

/*
 * A successor past its activate_at: live now (activate = at, or its
 * clients are ready), at its deadline, or it waits for its clients.
 */
static enum evc_reason
go_live(const struct evc_facts *f, evc_time by, int ready)
{
    if (f->policy->activate != EVC_ACTIVATE_READY || ready) {
        return EVC_REASON_WINDOW;
    }
    return f->now >= by ? EVC_REASON_DEADLINE : EVC_REASON_NOT_READY;
}

struct out {
    struct evc_action *v;
    size_t n;
    size_t max;
    int full;
};

static void
emit(struct out *o, enum evc_action_type t, size_t i, enum evc_reason why)
{
    if (o->n >= o->max) {
        o->full = 1;
        return;
    }
    o->v[o->n].type = t;
    o->v[o->n].index = i;
    o->v[o->n].reason = why;
    o->v[o->n].stale = EVC_STALE_NONE;
    o->n++;
}

/* The last action emitted says what is wrong with the successor it replaces. */
static void
mark_stale(struct out *o, enum evc_stale s)
{
    if (o->n > 0 && !o->full) {
        o->v[o->n - 1].stale = s;
    }
}

long
evc_plan_make(const struct evc_facts *f, struct evc_action *v, size_t max)
{
    struct out o = {v, 0, max, 0};
    const struct evc_policy *p = f->policy;
    /* Bit i: root i is recreated in this run; personal i renewed in this run. */
    unsigned char recreate[EVC_CONFIG_STORES_MAX], renew[EVC_CONFIG_STORES_MAX];
    unsigned char create[EVC_CONFIG_STORES_MAX];

    if (f->nroots > EVC_CONFIG_STORES_MAX || f->npersonals > EVC_CONFIG_STORES_MAX) {
        return EVC_ERR_LIMIT;
    }
    memset(recreate, 0, sizeof(recreate));
    memset(renew, 0, sizeof(renew));
    memset(create, 0, sizeof(create));
    if (f->activate_only) {
        /* `evercert activate`: staged successors whose time has come, nothing else. */
        for (size_t i = 0; i < f->npersonals; i++) {
            const struct evc_fact_personal *c = &f->personals[i];
            enum evc_stale st = stale_of(c, f, 0);

            /*
             * A stale successor is not swapped; the action reports it and
             * leaves it to the next renewal run, which replaces it.
             */
            if (st != EVC_STALE_NONE && c->kind != EVC_KIND_EXTERNAL && c->kind != EVC_KIND_ROOT) {
                emit(&o, EVC_ACT_ACTIVATE, i, EVC_REASON_STALE);
                mark_stale(&o, st);
            } else if (c->staged && c->staged_is_live) {
                emit(&o, EVC_ACT_ACTIVATE, i, EVC_REASON_WINDOW);
            } else if (c->staged && f->now >= c->activate_at) {
                enum evc_reason why = go_live(f, c->activate_by, c->ready);

                emit(&o, why == EVC_REASON_NOT_READY ? EVC_ACT_WAIT : EVC_ACT_ACTIVATE, i, why);
            }
        }
        return o.full ? EVC_ERR_LIMIT : (long)o.n;
    }

    /* 1. Purge the deleted store. */
    for (size_t i = 0; i < f->ndeleted; i++) {
        if (f->now - f->deleted[i].deleted_at >= p->deleted_retention) {
            emit(&o, EVC_ACT_PURGE, i, EVC_REASON_RETENTION);
        }
    }
    /* 2. Roots expired or inside the threshold are recreated. */
    /*
     * 2a. A certificate due for renewal whose root is in no root store gets
     * a new default root, as WebSphere's monitor does, in an empty root
     * store; then it is renewed under it (3 and 4).
     */
    for (size_t i = 0; i < f->npersonals; i++) {
        const struct evc_fact_personal *c = &f->personals[i];

        if (c->orphan && c->root >= 0 && f->roots[c->root].empty && !create[c->root] &&
            !(c->staged && c->staged_by_root) &&
            (due(c->not_before, c->not_after, f) != EVC_REASON_NONE ||
             stale_of(c, f, 0) != EVC_STALE_NONE)) {
            create[c->root] = 1;
            emit(&o, EVC_ACT_CREATE_ROOT, (size_t)c->root, EVC_REASON_NO_ROOT);
        }
    }
    for (size_t i = 0; i < f->nroots; i++) {
        enum evc_reason why = f->roots[i].empty
                                  ? EVC_REASON_NONE
                                  : due(f->roots[i].not_before, f->roots[i].not_after, f);

        if (why != EVC_REASON_NONE) {
            recreate[i] = 1;
            emit(&o, EVC_ACT_RECREATE, i, why);
        }
    }
    /*
     * 3 and 4. Chained certificates under a new root, then personal
     * certificates that are due; external ones are only reported. A
     * successor already staged counts unless its root was replaced since.
     */
    for (size_t i = 0; i < f->npersonals; i++) {
        const struct evc_fact_personal *c = &f->personals[i];
        int chained = c->kind == EVC_KIND_CHAINED && c->root >= 0;
        /* An orphan moves to the default root when it is due, not before. */
        int root_new = chained && !c->orphan && (recreate[c->root] || !c->signed_by_root);
        enum evc_stale stale = stale_of(c, f, chained && recreate[c->root]);
        int staged_ok = c->staged && stale == EVC_STALE_NONE;
        enum evc_reason why = EVC_REASON_NONE;

        if (c->kind == EVC_KIND_EXTERNAL || c->kind == EVC_KIND_ROOT) {
            continue;
        }
        if (staged_ok && c->staged_is_live) {
            /* Activated; activate cleans up what is left, unless the live one is due itself. */
            why = due(c->not_before, c->not_after, f);
        } else if (root_new && !staged_ok) {
            why = EVC_REASON_NEW_ROOT;
        } else if (stale != EVC_STALE_NONE) {
            why = EVC_REASON_STALE;
        } else if (!staged_ok) {
            why = due(c->not_before, c->not_after, f);
        }
        if (why != EVC_REASON_NONE) {
            renew[i] = 1;
            emit(&o, EVC_ACT_RENEW, i, why);
            mark_stale(&o, stale);
        }
    }
    /*
     * 5. Every trust store that holds a version of a signer gets its
     * newest version beside the old one, before anything switches to it.
     */
    for (size_t i = 0; p->auto_replace && i < f->ntrusts; i++) {
        const struct evc_fact_trust *t = &f->trusts[i];
        int changed = (t->root >= 0 && (recreate[t->root] || create[t->root])) ||
                      (t->personal >= 0 && renew[t->personal]);

        if (changed || !t->has_newest) {
            emit(&o, EVC_ACT_ADD_SIGNER, i, EVC_REASON_NONE);
        }
    }
    /* 6. Staged successors whose time has come go live. */
    for (size_t i = 0; i < f->npersonals; i++) {
        const struct evc_fact_personal *c = &f->personals[i];
        evc_time at = renew[i] ? evc_policy_activate_at(p, f->now, c->not_after) : c->activate_at;
        evc_time by =
            renew[i] ? evc_policy_activate_by(p, at, c->not_before, c->not_after) : c->activate_by;
        enum evc_reason why;

        if (c->kind == EVC_KIND_EXTERNAL || c->kind == EVC_KIND_ROOT || !(renew[i] || c->staged)) {
            continue;
        }
        /* A successor made in this run waits for its time even where the last one is live. */
        if (c->staged_is_live && !renew[i]) {
            emit(&o, EVC_ACT_ACTIVATE, i, EVC_REASON_WINDOW);
        } else if (f->now >= at) {
            /* No client can hold a successor made in this run. */
            why = go_live(f, by, !renew[i] && c->ready);
            emit(&o, why == EVC_REASON_NOT_READY ? EVC_ACT_WAIT : EVC_ACT_ACTIVATE, i, why);
        }
    }
    /*
     * 7. An older signer leaves a trust store once it has expired or
     * everything it signed has: whichever comes first.
     */
    for (size_t i = 0; p->delete_old && i < f->nsigners; i++) {
        const struct evc_fact_signer *s = &f->signers[i];

        if (!s->newest && f->now >= s->retire_at) {
            emit(&o, EVC_ACT_RETIRE, i, EVC_REASON_RETIRED);
        }
    }
    return o.full ? EVC_ERR_LIMIT : (long)o.n;
}

int64_t
evc_plan_recheck(evc_time now, evc_time activate_by)
{
    int64_t d = (activate_by - now) / 10;

    if (d > EVC_READY_RECHECK_MAX) {
        d = EVC_READY_RECHECK_MAX;
    }
    return d >= 1 ? d : 1;
}

/* Room for jitter after a renewal moment: a twentieth of the time left, at most 10 minutes. */
#define JITTER_SHARE 20
#define JITTER_MAX 600

static void
moment(struct evc_plan_clock *c, evc_time now, evc_time at, int64_t slack)
{
    if (at <= now) {
        c->overdue++;
        return;
    }
    if (c->next == 0 || at < c->next) {
        c->next = at;
    }
    /* No rule may wait past its own moment plus its slack. */
    if (c->latest == 0 || at + slack < c->latest) {
        c->latest = at + slack;
    }
}

static void
ends(struct evc_plan_clock *c, evc_time na)
{
    if (c->deadline == 0 || na < c->deadline) {
        c->deadline = na;
    }
}

static int64_t
renew_slack(evc_time at, evc_time na)
{
    int64_t s = (na - at) / JITTER_SHARE;

    return s > JITTER_MAX ? JITTER_MAX : s > 0 ? s : 0;
}

void
evc_plan_clock(const struct evc_facts *f, struct evc_plan_clock *out)
{
    const struct evc_policy *p = f->policy;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < f->ndeleted; i++) {
        moment(out, f->now, f->deleted[i].deleted_at + p->deleted_retention, 0);
    }
    for (size_t i = 0; i < f->nroots; i++) {
        const struct evc_fact_root *r = &f->roots[i];
        evc_time at;

        if (!r->empty) {
            at = evc_renew_moment(r->not_before, r->not_after, &p->thresholds);
            moment(out, f->now, at, renew_slack(at, r->not_after));
            ends(out, r->not_after);
        }
    }
    for (size_t i = 0; i < f->npersonals; i++) {
        const struct evc_fact_personal *c = &f->personals[i];
        enum evc_stale stale = stale_of(c, f, 0);
        int staged_ok = c->staged && stale == EVC_STALE_NONE;
        evc_time at;

        if (c->kind == EVC_KIND_EXTERNAL || c->kind == EVC_KIND_ROOT) {
            continue;
        }
        ends(out, c->not_after);
        if (stale != EVC_STALE_NONE || (staged_ok && c->staged_is_live)) {
            out->overdue++; /* a successor to make again, or an activation's clean-up */
        } else if (staged_ok && p->activate == EVC_ACTIVATE_READY && f->now >= c->activate_at &&
                   f->now < c->activate_by) {
            /* Waiting for its clients: count them again soon, and go live at the deadline. */
            out->waiting++;
            moment(out, f->now, f->now + evc_plan_recheck(f->now, c->activate_by), 0);
            moment(out, f->now, c->activate_by, 0);
            moment(out, f->now, c->staged_not_after, 0);
        } else if (staged_ok) {
            moment(out, f->now, c->activate_at, 0);
            /* Should it outlive its window (a distribution window past its end), then too. */
            moment(out, f->now, c->staged_not_after, 0);
        } else {
            at = evc_renew_moment(c->not_before, c->not_after, &p->thresholds);
            moment(out, f->now, at, renew_slack(at, c->not_after));
        }
    }
    for (size_t i = 0; p->delete_old && i < f->nsigners; i++) {
        if (!f->signers[i].newest) {
            moment(out, f->now, f->signers[i].retire_at, 0);
        }
    }
}
