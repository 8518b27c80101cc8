/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `renew`: the expiration monitor's replacement run over the stores of a
 * configuration (docs/DESIGN.md, "The life of one certificate"):
 *   1. purge the deleted store, 2. recreate roots that are due,
 *   3. renew what those roots signed, 4. renew personal certificates that
 *   are due (staged as <cert>.next, <key>.next and <cert>.sa),
 *   5. add the newest signers to trust stores, 6. activate staged
 *   successors whose time has come, 7. retire old signers.
 * Every store is read and checked before anything is written; every write
 * is atomic and durable; a run stopped anywhere is finished by the next.
 */
#ifndef EVERCERT_RENEW_H
#define EVERCERT_RENEW_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/buf.h"
#include "evercert/cert.h"
#include "evercert/policy.h"
#include "evercert/error.h"
#include "evercert/limits.h"
#include "evercert/time.h"

/*
 * What the clients of one personal store hold, as the caller counted it
 * for a staged successor's generation: known (0: could not be counted,
 * error says why; unknown is never ready), address groups seen and those
 * holding the generation, and the unready ones named, cut to fit.
 */
struct evc_readiness {
    int known;
    int complete; /* the count covers a whole window (ready.h); else error says why not */
    size_t clients, ready;
    char unready[512];
    char error[256];
};

/*
 * A shared store's successor ([store] shared = yes), as the fleet decides
 * it for this host (include/evercert/shared.h fills these callbacks).
 */
enum evc_shared_turn {
    EVC_SHARED_MAKE = 0, /* this host holds the lease and nothing is published: make it */
    EVC_SHARED_USE,      /* a successor is published: stage it once the ca layer checked it */
    EVC_SHARED_WAIT,     /* another host holds the lease and has published nothing yet */
    EVC_SHARED_DOWN,     /* the fleet's database cannot be reached or written: not alone */
    EVC_SHARED_REFUSED,  /* what is published cannot be used (its sealed key does not open) */
};

struct evc_shared_offer {
    enum evc_shared_turn turn;
    uint64_t generation;               /* MAKE: the generation to make; USE: the published one */
    int64_t token;                     /* MAKE: the lease's fencing token, for the publication */
    evc_time activate_at;              /* USE */
    uint8_t leaf_sha256[32];           /* USE: the leaf its key was sealed for */
    struct evc_buf chain;              /* USE: PEM, leaf first */
    struct evc_buf sa;                 /* USE: DER */
    struct evc_buf key;                /* USE: the unsealed private key, PEM (wiped when freed) */
    char who[EVC_SHARED_HOST_MAX + 1]; /* the lease's holder, or the host that made the row */
    char detail[256];                  /* WAIT, DOWN, REFUSED: why */
    /*
     * In: a generation this host's ca layer refused (0: none), its reason
     * in detail; the lease holder may then supersede it if no host staged it.
     */
    uint64_t refused;
};

/* What the lease holder made, to publish before it stages it (borrowed). */
struct evc_shared_made {
    uint64_t generation;
    int64_t token;
    uint8_t prev_sha256[32]; /* the certificate it succeeds */
    uint8_t leaf_sha256[32];
    evc_time activate_at;
    const uint8_t *chain, *sa, *key; /* PEM, DER, PEM */
    size_t chain_len, sa_len, key_len;
};

struct evc_renew_opts {
    const struct evc_policy *policy;
    const struct evc_store_conf *stores; /* every store, in the configuration's order */
    size_t nstores;
    /*
     * An existing file (the configuration) that a run which writes holds
     * an exclusive lock on, so two runs never change the same stores at
     * once; required unless dry_run or plan_only.
     */
    const char *lock;
    evc_time now;
    int dry_run;       /* decide and report, write nothing */
    int activate_only; /* `evercert activate`: only swap staged successors */
    int plan_only;     /* read, classify and plan; list the actions due, carry out none */
    /*
     * Under activate = ready, how ready the clients of store are for
     * generation at now (0, or a negative code with out->error set). Asked
     * for each staged successor past its activate_at, never in a
     * plan_only run; NULL: the clients are never known to be ready, and
     * successors go live at their deadline. The ca layer does no I/O for it.
     */
    int (*readiness)(void *arg, const struct evc_store_conf *store, uint64_t generation,
                     evc_time now, struct evc_readiness *out);
    void *readiness_arg;
    /*
     * Shared stores: asked before a successor is made (current is the
     * SHA-256 of the live leaf, generation the last staged locally), and
     * told what the lease holder made before it stages it (0, or an error
     * with detail set: nothing is staged then; EVC_ERR_POLICY when the
     * lease was taken over meanwhile). Never called in a dry or
     * plan-only run. NULL: a shared store is never renewed by this run
     * alone. out's buffers are initialised by the caller.
     */
    void (*shared_take)(void *arg, const struct evc_store_conf *store, const uint8_t current[32],
                        uint64_t generation, evc_time now, struct evc_shared_offer *out);
    int (*shared_publish)(void *arg, const struct evc_store_conf *store,
                          const struct evc_shared_made *m, evc_time now, char *detail, size_t len);
    /* Told after a shared store's successor is committed to this host's disk (may be NULL). */
    void (*shared_staged)(void *arg, const struct evc_store_conf *store, uint64_t generation,
                          evc_time now);
    void *shared_arg;
};

/* One certificate found in the stores, classified at now. */
struct evc_renew_cert {
    const char *store; /* borrowed from the stores of the options */
    enum evc_role role;
    char *subject;
    enum evc_status status;
    enum evc_kind kind;
    evc_time not_after;
    uint8_t sha256[32];
    /*
     * When evercert replaces it, so a status never contradicts the actions:
     * the renewal moment (the threshold), or a staged successor's
     * activate_at; 0 when it never does, and plan says why.
     */
    evc_time renew_at;
    const char *plan; /* "renew", "activate", "external", "signer", "ca", "deleted" */
};

/* One step of the plan, and what came of it. */
struct evc_renew_action {
    const char *action; /* "recreate-root", "renew", "add-signer", "activate", "wait", ... */
    const char *reason; /* "threshold", "expired", "root-recreated", "deadline", ... or "" */
    const char *store;
    int has_old, has_new;
    uint8_t old_sha256[32];
    uint8_t new_sha256[32];
    evc_time activate_at;  /* renew: when the successor goes live */
    evc_time activate_by;  /* renew, wait, activate under ready: its deadline (0: none) */
    int ready_known;       /* wait, activate under ready: the clients were counted ... */
    size_t clients, ready; /* ... these address groups seen, these holding the successor ... */
    char unready[512];     /* ... and these not ready, named; or why they could not be counted */
    int done;              /* 1 once written (0 in a dry run) */
    int hook_ran;          /* activate: after_replace ran ... */
    int hook_status;       /* ... with this exit status (128+N: signal N; -1: not started) */
    char hook_output[512]; /* its output, cut */
    int verified;          /* with verify =: 1 served, -1 not served in time, 0 not asked */
    char verify_detail[256];
    char detail[256]; /* a note or the error that stopped the run */
};

struct evc_renew_result {
    struct evc_renew_cert *certs;
    size_t ncerts;
    struct evc_renew_action *actions;
    size_t nactions;
    /* The earliest activate_at of a staged successor still waiting; 0 if none. */
    evc_time next_activation;
    /*
     * The run's clock, from the stores as read at the start: the earliest
     * moment after now at which a rule fires (0: none), how late a pass
     * may start for it (room for jitter), the earliest end of a
     * certificate evercert replaces (a retry must come before it), and
     * how many rules were due at now.
     */
    evc_time next_due;
    evc_time next_due_latest;
    evc_time deadline;
    size_t overdue;
};

/*
 * Run (or with dry_run, plan) the renewal. result must be zeroed; it is
 * filled even when an action fails, so the caller can report how far the
 * run got. Errors: the store that cannot be read (nothing written), or
 * the action that failed (the actions before it are done; the next run
 * finishes the work). EVC_ERR_BUSY when another run holds the lock;
 * EVC_ERR_USAGE without a policy, or without a lock in a run that writes.
 */
EVC_EXPORT EVC_MUST_USE int evc_renew_run(const struct evc_renew_opts *o,
                                          struct evc_renew_result *result, struct evc_err *err);
EVC_EXPORT void evc_renew_result_clear(struct evc_renew_result *r);

#endif
