/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of the renewal run share: the stores as read (load.c),
 * the facts the planner gets from them (facts.c), the report rows
 * (rows.c), the actions that change them (actions.c, swap.c), the
 * clients' readiness under activate = ready (readiness.c) and the run
 * that holds it all (renew.c). Private to src/ca.
 */
#ifndef EVC_CA_RENEW_INT_H
#define EVC_CA_RENEW_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "evercert/ca.h"
#include "evercert/certfile.h"
#include "evercert/limits.h"
#include "evercert/renew.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "ca/plan.h"
#include "x509/x509_int.h"

struct root_st;

/*
 * A root store's format, behind one table as the trust stores' are: a
 * directory holding ca.crt and ca.key, or one PKCS#12 file.
 */
struct evc_root_ops {
    const char *name;
    /*
     * Read the root and its key into rs (paths set, password read). A
     * directory with neither file is empty: room for a default root.
     */
    int (*load)(struct root_st *rs, struct evc_err *err);
    /* Replace the root and its key in one durable step. */
    int (*save)(const struct root_st *rs, X509 *cert, EVP_PKEY *key, struct evc_err *err);
    /* Name the file of what (a certificate when !key, else its key) for a message. */
    const char *(*describe)(const struct root_st *rs, int key);
};

struct root_st {
    const struct evc_store_conf *conf;
    const struct evc_root_ops *ops;
    char cert_path[EVC_PATH_MAX], key_path[EVC_PATH_MAX];
    int empty; /* a directory with neither ca.crt nor ca.key: room for a default root */
    char *password;
    X509 *cert;
    EVP_PKEY *key;
    /*
     * The link certificate: this root's subject and key certified by the
     * root it replaced (CMP's NewWithOld). Clients under policy ca take a
     * new root from an SA only with it; it is public and kept beside the
     * root (ca.link.crt, or P12.link.crt), because the old key is not.
     */
    char link_path[EVC_PATH_MAX];
    X509 *link;
};

struct personal_st {
    const struct evc_store_conf *conf;
    STACK_OF(X509) * chain; /* leaf first */
    EVP_PKEY *key;
    long root;
    char next_cert[EVC_PATH_MAX], next_key[EVC_PATH_MAX], sa_path[EVC_PATH_MAX];
    uint64_t generation; /* of the SA on disk, 0 if none */
    /* The staged successor, when whole. */
    STACK_OF(X509) * next;
    EVP_PKEY *nkey;
    evc_time activate_at;
    evc_time activate_by; /* the SA's activateBy; 0 when it has none */
    /* activate = ready: what the clients hold of the staged successor, when asked. */
    int ready_asked;
    struct evc_readiness ready;
    int made; /* the staged successor was made in this run */
    /* .next files that are not a whole set: what is wrong, for the report; "" if none. */
    char debris[EVC_PATH_MAX + 64];
    int leftover; /* a lone <key>.next that is the live key */
    /* keystore = : its format (JKS or PKCS#12), the key entry's alias, the password (wiped). */
    enum evc_format ks_format;
    char *ks_alias;
    char *ks_password;
};

struct trust_st {
    const struct evc_store_conf *conf;
    struct evc_trust *t;
};

struct run {
    const struct evc_renew_opts *o;
    const struct evc_policy *policy;
    struct evc_renew_result *res;
    struct root_st roots[EVC_CONFIG_STORES_MAX];
    size_t nroots;
    struct personal_st pers[EVC_CONFIG_STORES_MAX];
    size_t npers;
    struct trust_st trusts[EVC_CONFIG_STORES_MAX];
    size_t ntrusts;
    const struct evc_store_conf *deleted_conf;
    struct evc_deleted *deleted;
    /* Facts for the planner. */
    struct evc_fact_root froots[EVC_CONFIG_STORES_MAX];
    struct evc_fact_personal fpers[EVC_CONFIG_STORES_MAX];
    struct evc_fact_trust *ftrusts;
    size_t nftrusts;
    struct evc_fact_signer *fsigners;
    size_t nfsigners;
    struct evc_fact_deleted *fdeleted;
    struct evc_batch *batch; /* staged successors not yet committed */
    int deleted_made;        /* the deleted store's directory was missing */
    size_t repairs;          /* repair lines: work due now for the monitor's clock */
};

static inline X509 *
leaf(const struct personal_st *p)
{
    return sk_X509_value(p->chain, 0);
}

/* A run that writes: not a dry run, not a plan-only look at the stores. */
static inline int
writes(const struct run *run)
{
    return !run->o->dry_run && !run->o->plan_only;
}

static inline evc_time
time_of(const ASN1_TIME *t)
{
    evc_time v = 0;

    return evc_asn1_time(t, &v) == 0 ? v : 0;
}

static inline evc_time
not_after(X509 *x)
{
    return time_of(X509_get0_notAfter(x));
}

static inline evc_time
not_before(X509 *x)
{
    return time_of(X509_get0_notBefore(x));
}

static inline int
self_issued(X509 *x)
{
    return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

static inline int
same_sha(X509 *a, X509 *b)
{
    uint8_t x[32], y[32];

    return a != NULL && b != NULL && evc_x509_sha256(a, x) == 0 && evc_x509_sha256(b, y) == 0 &&
           CRYPTO_memcmp(x, y, 32) == 0;
}

/* load.c: reading every store (nothing is written but a missing deleted directory). */

/*
 * Read every store of run->o into run, each checked (a root with its key,
 * a personal pair that matches, staged successors that agree with their
 * SA), after checking that no two stores share a file. Errors name the
 * store and the file; nothing is written. evc_renew_unload frees.
 */
int evc_renew_load(struct run *run, struct evc_err *err);
void evc_renew_unload(struct run *run);

/* facts.c: what the planner is told. Pure: the stores as read, no I/O. */

/* Fill run's facts (froots, fpers, ftrusts, fsigners, fdeleted) from its stores. */
int evc_renew_facts(struct run *run, struct evc_err *err);
/* The newest version of the signer a trust-store fact is about. */
X509 *evc_renew_newest_signer(const struct run *run, const struct evc_fact_trust *t);

/* rows.c: the report. Pure: the stores and facts as read, and o->now. */

/* One row per certificate in the stores, with when evercert replaces it; EVC_ERR_NOMEM. */
int evc_renew_rows(struct run *run);
/* A new action line in the result for a, or NULL when out of memory. */
struct evc_renew_action *evc_renew_action_add(struct run *run, const struct evc_action *a,
                                              const char *store);
void evc_renew_set_old(struct evc_renew_action *v, X509 *x);
void evc_renew_set_new(struct evc_renew_action *v, X509 *x);

/* actions.c: each planned step, written durably (nothing in a dry run). */

int evc_renew_purge(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err);
int evc_renew_create_root(struct run *run, size_t i, struct evc_renew_action *v,
                          struct evc_err *err);
int evc_renew_recreate(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err);
int evc_renew_stage(struct run *run, size_t i, enum evc_stale stale, struct evc_renew_action *v,
                    struct evc_err *err);
int evc_renew_add_signer(struct run *run, size_t i, struct evc_renew_action *v,
                         struct evc_err *err);
int evc_renew_retire(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err);
/* The repairs no plan needs, each with a report line. */
int evc_renew_repair(struct run *run, struct evc_err *err);
/* Make the staged successors durable before anything depends on them. */
int evc_renew_commit_staged(struct run *run, struct evc_err *err);
/* Stage next, nkey and sa as p's successor in the run's group commit (.next, .next, .sa). */
int evc_renew_write_staged(struct run *run, struct personal_st *p, STACK_OF(X509) * next,
                           EVP_PKEY *nkey, const struct evc_buf *sa, struct evc_err *err);
/* Keep x in the deleted store when the policy says so. */
int evc_renew_keep_deleted(struct run *run, X509 *x, const char *store, const char *why,
                           struct evc_err *err);
int evc_renew_pem_chain(STACK_OF(X509) * chain, struct evc_buf *out, struct evc_err *err);
/* "stale successor: expired" or "stale successor: web.key.next without web.crt.next". */
void evc_renew_stale_note(const struct personal_st *p, enum evc_stale st, char *out, size_t outlen);

/* swap.c: a successor goes live, the after_replace hook, the served-certificate check. */

int evc_renew_swap(struct run *run, struct personal_st *p, struct evc_renew_action *v,
                   struct evc_err *err);
int evc_renew_activate(struct run *run, const struct evc_action *a, struct evc_renew_action *v,
                       struct evc_err *err);

/* keystore.c: personal stores kept in a JKS or PKCS#12 keystore (keystore =). */

/*
 * Read the key entry (alias =, or the only one) into p->chain and p->key;
 * p->ks_password must be set. Errors name the keystore; several key
 * entries without alias, or none with it, are EVC_ERR_CONFIG.
 */
int evc_renew_keystore_load(struct personal_st *p, struct evc_err *err);
/* Write the keystore with chain and key under the same alias, atomically and durably. */
int evc_renew_keystore_save(const struct run *run, const struct personal_st *p,
                            STACK_OF(X509) * chain, EVP_PKEY *key, struct evc_err *err);

/* The file a personal store is known by: its keystore, else its certificate. */
static inline const char *
personal_file(const struct personal_st *p)
{
    return p->conf->keystore != NULL ? p->conf->keystore : p->conf->cert;
}

/* shared.c: a shared store's successor, made by the lease holder and used by every host. */

void evc_renew_offer_init(struct evc_shared_offer *o);
void evc_renew_offer_clear(struct evc_shared_offer *o);
/* Ask the fleet what this host does for p (no callbacks: EVC_SHARED_DOWN, never alone). */
void evc_renew_shared_turn(struct run *run, struct personal_st *p, enum evc_stale stale,
                           struct evc_shared_offer *o);
/* v becomes a wait line (reason lease, fleet-down or refused) with detail: nothing written. */
void evc_renew_shared_wait(struct evc_renew_action *v, enum evc_shared_turn turn, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));
/*
 * Check a published successor (turn USE) against p's live certificate and
 * stage it (a stale one it replaces, said by note, kept in the deleted
 * store): 0. A refusal is a wait line naming the row and why (1, nothing
 * written). An error only for a failure to write.
 */
int evc_renew_shared_use(struct run *run, struct personal_st *p, enum evc_stale stale,
                         const struct evc_shared_offer *o, const char *note,
                         struct evc_renew_action *v, struct evc_err *err);
/*
 * Publish what this lease holder made, before it is staged: 0 when
 * published; 1 when not (v is then a wait line and nothing may be staged);
 * a negative code for a local failure.
 */
int evc_renew_shared_publish(struct run *run, struct personal_st *p, uint64_t generation,
                             int64_t token, STACK_OF(X509) * next, EVP_PKEY *nkey,
                             evc_time activate_at, const struct evc_buf *sa,
                             struct evc_renew_action *v, struct evc_err *err);

/* readiness.c: activate = ready, the clients' side of an activation. */

/* Ask o->readiness about each staged successor past its activate_at; set the facts' ready. */
void evc_renew_ask_readiness(struct run *run);
/* A waiting successor's action line: its deadline, counts and unready clients. */
void evc_renew_wait(struct run *run, const struct evc_action *a, struct evc_renew_action *v);
/* The same figures on an activation under ready (before the swap writes its own detail). */
void evc_renew_readiness_note(struct run *run, const struct evc_action *a,
                              struct evc_renew_action *v);
/* Put note in front of what v->detail says already, cut to fit. */
void evc_renew_detail_prepend(struct evc_renew_action *v, const char *note);

#endif
