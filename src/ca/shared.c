/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A shared store's renewal (shared = yes): the same certificate on several
 * hosts, renewed by the one holding the fleet's lease. Before a successor
 * is made the run asks the fleet (evc_renew_opts.shared_take): make it
 * (this host holds the lease; what it makes is published before it is
 * staged), use the one published, or wait. A published successor is bytes
 * from a database, so it is checked here as an agent checks an SA, and
 * more: its key opens and matches its leaf, the SA verifies under the live
 * certificate (both signatures, names never widened, a newer generation),
 * the SA announces exactly that chain for the row's activate_at, and the
 * leaf keeps the live certificate's subject and subjectAltName. Anything
 * else is refused with the reason and nothing is written. Without the
 * fleet (no callbacks, an unreachable or read-only database) a shared
 * store is never renewed alone: the live certificate stays and the run
 * says so on every pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/stores.h"
#include "ca/renew_int.h"

void
evc_renew_offer_init(struct evc_shared_offer *o)
{
    memset(o, 0, sizeof(*o));
    evc_buf_init(&o->chain, EVC_SHARED_CHAIN_MAX + 1);
    evc_buf_init(&o->sa, EVC_SA_MAX + 1);
    evc_buf_init(&o->key, EVC_SEAL_PLAIN_MAX + 1);
}

void
evc_renew_offer_clear(struct evc_shared_offer *o)
{
    evc_buf_free(&o->chain);
    evc_buf_free(&o->sa);
    evc_buf_free(&o->key); /* wipes the key */
}

/*
 * The generation a fetch must be above: a host whose staged set is debris
 * or stale asks for the same generation again, which others may have
 * staged, before it may make another (it would split the fleet).
 */
static uint64_t
fetch_above(const struct personal_st *p, enum evc_stale stale)
{
    return stale != EVC_STALE_NONE && p->generation > 0 ? p->generation - 1 : p->generation;
}

void
evc_renew_shared_turn(struct run *run, struct personal_st *p, enum evc_stale stale,
                      struct evc_shared_offer *o)
{
    uint8_t cur[32];

    if (run->o->shared_take == NULL) {
        o->turn = EVC_SHARED_DOWN;
        snprintf(o->detail, sizeof(o->detail),
                 "shared store \"%.64s\": no fleet database (state is not postgresql://); not "
                 "renewing alone",
                 p->conf->name);
        return;
    }
    if (evc_x509_sha256(leaf(p), cur) != 0) {
        o->turn = EVC_SHARED_REFUSED;
        snprintf(o->detail, sizeof(o->detail), "cannot hash the live certificate");
        return;
    }
    run->o->shared_take(run->o->shared_arg, p->conf, cur, fetch_above(p, stale), run->o->now, o);
}

/* The line of a shared store that was not renewed this time: nothing written. */
void
evc_renew_shared_wait(struct evc_renew_action *v, enum evc_shared_turn turn, const char *fmt, ...)
{
    va_list ap;

    v->action = evc_action_name(EVC_ACT_WAIT);
    v->reason = evc_reason_name(turn == EVC_SHARED_WAIT      ? EVC_REASON_LEASE
                                : turn == EVC_SHARED_REFUSED ? EVC_REASON_REFUSED
                                                             : EVC_REASON_FLEET_DOWN);
    va_start(ap, fmt);
    (void)vsnprintf(v->detail, sizeof(v->detail), fmt, ap); /* cut to fit */
    va_end(ap);
}

/* Equal DER of one extension in both certificates, or absent from both. */
static int
same_ext(X509 *a, X509 *b, int nid)
{
    int i = X509_get_ext_by_NID(a, nid, -1), k = X509_get_ext_by_NID(b, nid, -1);

    if (i < 0 || k < 0) {
        return i < 0 && k < 0;
    }
    return ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(X509_get_ext(a, i)),
                                 X509_EXTENSION_get_data(X509_get_ext(b, k))) == 0;
}

/* Every certificate of a and b, in order, the same DER: the row stages what the SA signed. */
static int
same_chain(STACK_OF(X509) * a, STACK_OF(X509) * b)
{
    uint8_t x[32], y[32];

    if (sk_X509_num(a) != sk_X509_num(b)) {
        return 0;
    }
    for (int i = 0; i < sk_X509_num(a); i++) {
        if (evc_x509_sha256(sk_X509_value(a, i), x) != 0 ||
            evc_x509_sha256(sk_X509_value(b, i), y) != 0 || CRYPTO_memcmp(x, y, 32) != 0) {
            return 0;
        }
    }
    return 1;
}

/*
 * Check o (turn USE) against p's live certificate; on success *next and
 * *nkey hold the successor and its key and *sa_out its decoded SA. why
 * gets the reason of a refusal (return 1); 0 when accepted; a negative
 * code for an internal failure.
 */
static int
check_offer(struct run *run, struct personal_st *p, uint64_t above,
            const struct evc_shared_offer *o, STACK_OF(X509) * *next, EVP_PKEY **nkey,
            struct evc_sa **sa_out, char *why, size_t whylen)
{
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    struct evc_sa_known known;
    struct evc_sa_policy pol;
    struct evc_sa_verdict vd;
    struct evc_err e = {0};
    uint8_t a[32];
    X509 *n;
    int r = 1;

    memset(&vd, 0, sizeof(vd));
    if (evc_certs_parse(o->chain.data, o->chain.len, NULL, &chain, &e) != 0 ||
        sk_X509_num(chain) < 1 || sk_X509_num(chain) > EVC_SA_CERTS_MAX) {
        snprintf(why, whylen, "its chain does not parse (%.150s)",
                 e.code != 0 ? evc_err_message(&e) : "no certificate, or too many");
        goto out;
    }
    n = sk_X509_value(chain, 0);
    if (evc_x509_sha256(n, a) != 0 || CRYPTO_memcmp(a, o->leaf_sha256, 32) != 0) {
        snprintf(why, whylen, "its chain's leaf is not the certificate its key was sealed for");
        goto out;
    }
    if (evc_key_parse(o->key.data, o->key.len, &key, &e) != 0 || evc_key_check(n, key, &e) != 0) {
        snprintf(why, whylen, "its key does not match its leaf (%.150s)", evc_err_message(&e));
        goto out;
    }
    if (X509_NAME_cmp(X509_get_subject_name(n), X509_get_subject_name(leaf(p))) != 0 ||
        !same_ext(n, leaf(p), NID_subject_alt_name)) {
        snprintf(why, whylen,
                 "its leaf's subject or subjectAltName differs from the live certificate's");
        goto out;
    }
    memset(&known, 0, sizeof(known));
    known.trusted = leaf(p);
    known.last_generation = above;
    memset(&pol, 0, sizeof(pol));
    pol.mode = EVC_SA_POLICY_AUTO;
    pol.skew = 300;
    if (evc_sa_verify(o->sa.data, o->sa.len, &known, &pol, run->o->now, &vd) != 0) {
        r = EVC_ERR_INTERNAL;
        goto out;
    }
    if (vd.decision != EVC_SA_ACCEPT) {
        snprintf(why, whylen, "its SA is refused under the live certificate: %s (%.150s)",
                 evc_sa_reason_name(vd.reason), vd.message);
        goto out;
    }
    if (vd.sa->generation != o->generation || vd.sa->activate_at != o->activate_at ||
        vd.sa->anchors != NULL || !same_chain(vd.sa->successor, chain)) {
        snprintf(why, whylen,
                 "its SA announces another generation, time or chain than the row says");
        goto out;
    }
    *next = chain;
    *nkey = key;
    *sa_out = vd.sa;
    vd.sa = NULL;
    chain = NULL;
    key = NULL;
    r = 0;
out:
    ERR_clear_error();
    evc_sa_verdict_clear(&vd);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    return r;
}

int
evc_renew_shared_use(struct run *run, struct personal_st *p, enum evc_stale stale,
                     const struct evc_shared_offer *o, const char *note, struct evc_renew_action *v,
                     struct evc_err *err)
{
    STACK_OF(X509) *next = NULL;
    EVP_PKEY *nkey = NULL;
    struct evc_sa *sa = NULL;
    char why[200];
    int r;

    why[0] = '\0';
    if ((r = check_offer(run, p, fetch_above(p, stale), o, &next, &nkey, &sa, why, sizeof(why))) !=
        0) {
        if (r < 0) {
            return evc_err_set(err, r, "cannot check a published successor");
        }
        evc_renew_shared_wait(v, EVC_SHARED_REFUSED,
                              "shared store \"%.64s\": generation %llu published by %.64s "
                              "refused: %s; nothing staged",
                              p->conf->name, (unsigned long long)o->generation, o->who, why);
        return 1;
    }
    evc_renew_set_new(v, sk_X509_value(next, 0));
    /* A stale successor it replaces is kept, as renew keeps one it makes again. */
    if (note[0] != '\0' && p->next != NULL &&
        (r = evc_renew_keep_deleted(run, sk_X509_value(p->next, 0), p->conf->name, note, err)) !=
            0) {
        goto out;
    }
    if ((r = evc_renew_write_staged(run, p, next, nkey, &o->sa, err)) != 0) {
        goto out;
    }
    v->activate_at = sa->activate_at;
    v->activate_by = run->policy->activate == EVC_ACTIVATE_READY ? sa->activate_by : 0;
    snprintf(v->detail, sizeof(v->detail), "generation %llu for %.100s from %.64s (shared)",
             (unsigned long long)sa->generation, sa->service, o->who);
    evc_renew_detail_prepend(v, note);
    sk_X509_pop_free(p->next, X509_free);
    EVP_PKEY_free(p->nkey);
    p->next = next;
    p->nkey = nkey;
    p->activate_at = sa->activate_at;
    p->activate_by = sa->activate_by != 0
                         ? sa->activate_by
                         : evc_policy_activate_by(run->policy, sa->activate_at, not_before(leaf(p)),
                                                  not_after(leaf(p)));
    p->generation = sa->generation;
    p->made = 1;
    next = NULL;
    nkey = NULL;
    r = 0;
out:
    sk_X509_pop_free(next, X509_free);
    EVP_PKEY_free(nkey);
    evc_sa_free(sa);
    return r;
}

int
evc_renew_shared_publish(struct run *run, struct personal_st *p, uint64_t generation, int64_t token,
                         STACK_OF(X509) * next, EVP_PKEY *nkey, evc_time activate_at,
                         const struct evc_buf *sa, struct evc_renew_action *v, struct evc_err *err)
{
    struct evc_shared_made m;
    struct evc_buf c, k;
    char d[sizeof(v->detail)];
    int r;

    evc_buf_init(&c, EVC_SHARED_CHAIN_MAX);
    evc_buf_init(&k, EVC_SEAL_PLAIN_MAX);
    memset(&m, 0, sizeof(m));
    if ((r = evc_renew_pem_chain(next, &c, err)) != 0 || (r = evc_key_pem(nkey, &k, err)) != 0) {
        goto out;
    }
    if (evc_x509_sha256(leaf(p), m.prev_sha256) != 0 ||
        evc_x509_sha256(sk_X509_value(next, 0), m.leaf_sha256) != 0) {
        r = evc_err_set(err, EVC_ERR_CRYPTO, "cannot hash a certificate");
        goto out;
    }
    /*
     * The followers' checks, run here on what this host made: a successor
     * they would refuse (a root's anchors, other names, a chain its SA does
     * not announce) is neither published nor staged.
     */
    {
        struct evc_shared_offer self;
        STACK_OF(X509) *chk = NULL;
        EVP_PKEY *ckey = NULL;
        struct evc_sa *csa = NULL;
        char why[200];

        memset(&self, 0, sizeof(self));
        self.turn = EVC_SHARED_USE;
        self.generation = generation;
        self.activate_at = activate_at;
        memcpy(self.leaf_sha256, m.leaf_sha256, 32);
        self.chain = c; /* borrowed, not freed here */
        self.sa = *sa;
        self.key = k;
        why[0] = '\0';
        r = check_offer(run, p, generation - 1, &self, &chk, &ckey, &csa, why, sizeof(why));
        sk_X509_pop_free(chk, X509_free);
        EVP_PKEY_free(ckey);
        evc_sa_free(csa);
        if (r < 0) {
            r = evc_err_set(err, r, "cannot check the successor made");
            goto out;
        }
        if (r > 0) {
            evc_renew_shared_wait(v, EVC_SHARED_REFUSED,
                                  "shared store \"%.64s\": the successor made here would be "
                                  "refused by the other hosts: %s; not published, nothing staged",
                                  p->conf->name, why);
            goto out; /* r = 1: not published */
        }
    }
    m.generation = generation;
    m.token = token;
    m.activate_at = activate_at;
    m.chain = c.data;
    m.chain_len = c.len;
    m.sa = sa->data;
    m.sa_len = sa->len;
    m.key = k.data;
    m.key_len = k.len;
    d[0] = '\0';
    if ((r = run->o->shared_publish(run->o->shared_arg, p->conf, &m, run->o->now, d, sizeof(d))) !=
        0) {
        /* A lease taken over meanwhile is the new holder's turn; anything else, the database's. */
        evc_renew_shared_wait(v, r == EVC_ERR_POLICY ? EVC_SHARED_WAIT : EVC_SHARED_DOWN, "%s", d);
        r = 1; /* not published: nothing is staged, and the run goes on */
        goto out;
    }
    r = 0;
out:
    evc_buf_free(&c);
    evc_buf_free(&k); /* wipes the key */
    return r;
}
