/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal plan: what the expiration monitor replaces, and in what
 * order, as a pure function of the stores as read, the policy and now.
 * The facts below are what the executor (facts.c) learned from the stores
 * (signatures checked, staged successors read); the planner only decides.
 *
 * Every rule looks at the state, not at what happened earlier in a run, so
 * a run that was stopped half-way is finished by the next one.
 */
#ifndef EVC_CA_PLAN_H
#define EVC_CA_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/cert.h"
#include "evercert/policy.h"
#include "evercert/limits.h"
#include "evercert/time.h"

struct evc_fact_root {
    size_t store; /* index in the configuration */
    int empty;    /* a root store directory with no root yet: where a default root goes */
    evc_time not_before;
    evc_time not_after;
};

struct evc_fact_personal {
    size_t store;
    evc_time not_before;
    evc_time not_after;
    enum evc_kind kind;
    long root;            /* index into roots[] whose subject issued it, or -1 */
    int orphan;           /* issued by a CA we know (trust or deleted store) whose key no root
                             store holds; root is then where a default root is or will be */
    int signed_by_root;   /* that root's current key signed it */
    int staged;           /* a whole successor waits: cert.next, key.next and its SA */
    int staged_by_root;   /* the staged successor is signed by the root's current key */
    int staged_is_live;   /* the staged successor is already the live certificate */
    evc_time activate_at; /* of the staged successor */
    evc_time activate_by; /* its deadline: the SA's activateBy, else the policy's */
    int ready;            /* activate = ready: its clients were counted and are ready */
    evc_time staged_not_before, staged_not_after; /* of the staged successor */
    int debris; /* .next files that are not a whole set agreeing with their SA */
};

/* One signer found in a trust store that is a version of one of ours. */
struct evc_fact_signer {
    size_t trust;       /* index of the trust store in the configuration */
    long root;          /* a version of roots[root], or -1 */
    long personal;      /* a version of self-signed personals[personal], or -1 */
    int newest;         /* it is the current root / the newest self-signed certificate */
    evc_time retire_at; /* when an older version may leave: min(its end, end of all it signed) */
    uint8_t sha256[32]; /* which certificate it is */
};

/* Which trust stores hold a version of a signer, and whether they hold the newest. */
struct evc_fact_trust {
    size_t trust;
    long root;
    long personal;
    int has_newest;
};

struct evc_fact_deleted {
    evc_time deleted_at;
};

struct evc_facts {
    evc_time now;
    int activate_only; /* plan only the activations that are due */
    const struct evc_policy *policy;
    const struct evc_fact_root *roots;
    size_t nroots;
    const struct evc_fact_personal *personals;
    size_t npersonals;
    const struct evc_fact_signer *signers;
    size_t nsigners;
    const struct evc_fact_trust *trusts;
    size_t ntrusts;
    const struct evc_fact_deleted *deleted;
    size_t ndeleted;
};

enum evc_action_type {
    EVC_ACT_PURGE = 0,   /* deleted[index] is past its retention */
    EVC_ACT_CREATE_ROOT, /* roots[index], empty, gets a new default root */
    EVC_ACT_RECREATE,    /* roots[index] gets a new key and certificate */
    EVC_ACT_RENEW,       /* personals[index]: stage a successor and its SA */
    EVC_ACT_ADD_SIGNER,  /* trusts[index] gets the newest version of its signer */
    EVC_ACT_ACTIVATE,    /* personals[index]: the staged successor goes live */
    EVC_ACT_RETIRE,      /* signers[index] leaves its trust store for the deleted store */
    EVC_ACT_REPAIR,      /* never planned: the executor's report of a store it mended */
    EVC_ACT_NOTE,        /* never planned: a state left as it is, reported */
    EVC_ACT_WAIT,        /* personals[index]: past activate_at, its clients not ready yet */
    EVC_ACT_COUNT
};

/* Why a certificate is renewed. */
enum evc_reason {
    EVC_REASON_NONE = 0,
    EVC_REASON_EXPIRED,
    EVC_REASON_THRESHOLD,
    EVC_REASON_NEW_ROOT, /* its root was recreated */
    EVC_REASON_WINDOW,   /* activation time reached */
    EVC_REASON_RETIRED,
    EVC_REASON_RETENTION,
    EVC_REASON_NO_ROOT,    /* its root is in no root store */
    EVC_REASON_STALE,      /* its staged successor can never go live: made again */
    EVC_REASON_DEADLINE,   /* activate = ready: live at its deadline, clients ready or not */
    EVC_REASON_NOT_READY,  /* activate = ready: it waits for its clients */
    EVC_REASON_LEASE,      /* shared store: another host renews it; its successor is awaited */
    EVC_REASON_FLEET_DOWN, /* shared store: the fleet's database is out of reach: not alone */
    EVC_REASON_REFUSED,    /* shared store: the published successor failed its checks */
};

/* Why a staged successor can never go live, so that it is replaced. */
enum evc_stale {
    EVC_STALE_NONE = 0,
    EVC_STALE_EXPIRED,       /* its validity ended */
    EVC_STALE_NOT_YET_VALID, /* it starts later than EVC_SWAP_SLACK after now */
    EVC_STALE_OTHER_ROOT,    /* not signed by its root's current key */
    EVC_STALE_DEBRIS,        /* .next files that are not a whole set agreeing with the SA */
};

struct evc_action {
    enum evc_action_type type;
    size_t index;
    enum evc_reason reason;
    enum evc_stale stale; /* renew, activate: what is wrong with the staged successor */
};

/*
 * Fill out (room for max actions) with the plan, in the order the monitor
 * runs it: purge, create default roots, recreate roots, renew, add
 * signers, activate (or wait), retire. Under activate = ready a successor
 * past its activate_at goes live when its clients are ready (reason
 * activate) or at its deadline (deadline); before that it waits (wait,
 * not-ready). One made in this run has no clients holding it yet.
 * Returns the number of actions, or EVC_ERR_LIMIT if max is too small.
 */
long evc_plan_make(const struct evc_facts *f, struct evc_action *out, size_t max);

/*
 * The planner's clock: when the plan next changes by time alone, so the
 * monitor sleeps exactly until then. Every rule of evc_plan_make that
 * waits for a moment (a threshold, an activate_at, a deadline, a
 * retirement, the end of a retention) counts; external certificates do
 * not. A successor waiting for its clients is counted again every
 * EVC_READY_RECHECK_MAX seconds, or a tenth of the time to its deadline
 * when that is shorter (at least 1 s): readiness changes by itself.
 */
struct evc_plan_clock {
    evc_time next;     /* the earliest such moment after now; 0: none */
    evc_time latest;   /* a pass may start as late as this without any rule waiting past
                          its moment plus its slack (renewals allow a share of their
                          time left: room for jitter) */
    evc_time deadline; /* the earliest end of a certificate evercert replaces; 0: none */
    size_t waiting;    /* successors waiting for their clients: counted again at next */
    size_t overdue;    /* rules whose moment is now or past */
};

void evc_plan_clock(const struct evc_facts *f, struct evc_plan_clock *out);

/* How long a successor waiting for its clients at now waits before they are counted again. */
int64_t evc_plan_recheck(evc_time now, evc_time activate_by);

const char *evc_action_name(enum evc_action_type t);
const char *evc_reason_name(enum evc_reason r);
/* "expired", "not yet valid", ... for a report line; "" for EVC_STALE_NONE. */
const char *evc_stale_name(enum evc_stale s);

#endif
