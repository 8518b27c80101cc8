/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the planner (plan.c) is told about the stores as read: each
 * certificate's kind and root, its staged successor, which trust stores
 * hold which version of a signer and when an old one may leave. Pure: it
 * looks only at what load.c read, so it is tested on stores made in memory.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/renew_int.h"

/* The newest version of what a trust store fact is about. */
X509 *
evc_renew_newest_signer(const struct run *run, const struct evc_fact_trust *t)
{
    if (t->root >= 0) {
        return run->roots[t->root].cert;
    }
    const struct personal_st *p = &run->pers[t->personal];

    return p->next != NULL ? sk_X509_value(p->next, 0) : leaf(p);
}

/* Is x a version of the signer fact t is about (same subject, self-issued)? */
static int
is_version(const struct run *run, const struct evc_fact_trust *t, X509 *x)
{
    X509 *n = evc_renew_newest_signer(run, t);

    return self_issued(x) && X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(n)) == 0;
}

/* The latest end of what an old root signed (personal, staged, deleted), or its own end. */
static evc_time
retire_at(const struct run *run, X509 *old)
{
    evc_time own = not_after(old), last = 0;
    int any = 0;

    for (size_t i = 0; i < run->npers; i++) {
        X509 *xs[2] = {leaf(&run->pers[i]),
                       run->pers[i].next != NULL ? sk_X509_value(run->pers[i].next, 0) : NULL};

        for (size_t k = 0; k < 2; k++) {
            if (xs[k] != NULL && !self_issued(xs[k]) && evc_x509_signed_by(xs[k], old)) {
                any = 1;
                last = not_after(xs[k]) > last ? not_after(xs[k]) : last;
            }
        }
    }
    for (size_t i = 0; run->deleted != NULL && i < run->deleted->n; i++) {
        X509 *x = run->deleted->entries[i].x;

        if (x != NULL && !self_issued(x) && evc_x509_signed_by(x, old)) {
            any = 1;
            last = not_after(x) > last ? not_after(x) : last;
        }
    }
    return any && last < own ? last : own;
}

static int
add_trust_fact(struct run *run, size_t t, long root, long personal, struct evc_err *err)
{
    struct evc_fact_trust f = {t, root, personal, 0};
    struct evc_trust *ts = run->trusts[t].t;
    X509 *n;
    int any = 0;

    n = evc_renew_newest_signer(run, &f);
    for (size_t i = 0; i < ts->n; i++) {
        if (!ts->certs[i].linked || !is_version(run, &f, ts->certs[i].x)) {
            continue;
        }
        any = 1;
        if (same_sha(ts->certs[i].x, n)) {
            f.has_newest = 1;
            continue;
        }
        struct evc_fact_signer *s = realloc(run->fsigners, (run->nfsigners + 1) * sizeof(*s));

        if (s == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        run->fsigners = s;
        s[run->nfsigners].trust = t;
        memcpy(s[run->nfsigners].sha256, ts->certs[i].sha256, 32);
        s[run->nfsigners].root = root;
        s[run->nfsigners].personal = personal;
        /* The live self-signed certificate stays while it is live. */
        s[run->nfsigners].newest =
            personal >= 0 && same_sha(ts->certs[i].x, leaf(&run->pers[personal]));
        s[run->nfsigners].retire_at =
            root >= 0 ? retire_at(run, ts->certs[i].x) : not_after(ts->certs[i].x);
        run->nfsigners++;
    }
    if (any) {
        struct evc_fact_trust *v = realloc(run->ftrusts, (run->nftrusts + 1) * sizeof(*v));

        if (v == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        run->ftrusts = v;
        v[run->nftrusts++] = f;
    }
    return 0;
}

/* A CA certificate in a trust store or the deleted store that signed x, or NULL. */
static X509 *
known_issuer(const struct run *run, X509 *x)
{
    for (size_t t = 0; t < run->ntrusts; t++) {
        for (size_t i = 0; i < run->trusts[t].t->n; i++) {
            X509 *ca = run->trusts[t].t->certs[i].x;

            if (X509_check_ca(ca) && evc_x509_signed_by(x, ca)) {
                return ca;
            }
        }
    }
    for (size_t i = 0; run->deleted != NULL && i < run->deleted->n; i++) {
        X509 *ca = run->deleted->entries[i].x;

        if (ca != NULL && X509_check_ca(ca) && evc_x509_signed_by(x, ca)) {
            return ca;
        }
    }
    return NULL;
}

static int
is_default_root(X509 *x)
{
    X509_NAME *n = X509_NAME_new();
    int same = n != NULL &&
               X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                          (const unsigned char *)EVC_DEFAULT_ROOT_CN, -1, -1, 0) &&
               X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"evercert",
                                          -1, -1, 0) &&
               X509_NAME_cmp(n, X509_get_subject_name(x)) == 0;

    X509_NAME_free(n);
    return same;
}

/* Where a default root is or goes: the first root store holding one, else the first empty one. */
static long
default_root_store(const struct run *run)
{
    for (size_t k = 0; k < run->nroots; k++) {
        if (!run->roots[k].empty && is_default_root(run->roots[k].cert)) {
            return (long)k;
        }
    }
    for (size_t k = 0; k < run->nroots; k++) {
        if (run->roots[k].empty) { /* only a directory is ever empty */
            return (long)k;
        }
    }
    return -1;
}

/* Trust store t holds the missing root of an orphan: it must get the default root. */
static int
add_orphan_facts(struct run *run, size_t t, struct evc_err *err)
{
    struct evc_trust *ts = run->trusts[t].t;

    for (size_t j = 0; j < run->npers; j++) {
        const struct evc_fact_personal *f = &run->fpers[j];
        struct root_st *rs;
        int holds = 0, dup = 0;

        if (!f->orphan) {
            continue;
        }
        rs = &run->roots[f->root];
        for (size_t i = 0; !holds && i < ts->n; i++) {
            holds = X509_check_ca(ts->certs[i].x) &&
                    evc_x509_signed_by(leaf(&run->pers[j]), ts->certs[i].x);
        }
        for (size_t i = 0; i < run->nftrusts; i++) {
            dup |= run->ftrusts[i].trust == t && run->ftrusts[i].root == f->root;
        }
        if (!holds || dup) {
            continue;
        }
        struct evc_fact_trust *v = realloc(run->ftrusts, (run->nftrusts + 1) * sizeof(*v));
        uint8_t fp[32];

        if (v == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        run->ftrusts = v;
        v[run->nftrusts].trust = t;
        v[run->nftrusts].root = f->root;
        v[run->nftrusts].personal = -1;
        v[run->nftrusts].has_newest =
            !rs->empty && evc_x509_sha256(rs->cert, fp) == 0 && evc_trust_find(ts, fp) >= 0;
        run->nftrusts++;
    }
    return 0;
}

int
evc_renew_facts(struct run *run, struct evc_err *err)
{
    int r;

    for (size_t i = 0; i < run->nroots; i++) {
        run->froots[i].store = i;
        run->froots[i].empty = run->roots[i].empty;
        if (!run->roots[i].empty) {
            run->froots[i].not_before = not_before(run->roots[i].cert);
            run->froots[i].not_after = not_after(run->roots[i].cert);
        }
    }
    for (size_t i = 0; i < run->npers; i++) {
        struct personal_st *p = &run->pers[i];
        struct evc_fact_personal *f = &run->fpers[i];
        X509 *x = leaf(p);

        f->store = i;
        f->not_before = not_before(x);
        f->not_after = not_after(x);
        f->root = -1;
        if (self_issued(x)) {
            f->kind = X509_check_ca(x) ? EVC_KIND_ROOT : EVC_KIND_SELF_SIGNED;
        } else {
            f->kind = EVC_KIND_EXTERNAL;
            for (size_t k = 0; k < run->nroots; k++) {
                if (!run->roots[k].empty &&
                    X509_NAME_cmp(X509_get_issuer_name(x),
                                  X509_get_subject_name(run->roots[k].cert)) == 0) {
                    f->kind = EVC_KIND_CHAINED;
                    f->root = (long)k;
                    f->signed_by_root = evc_x509_signed_by(x, run->roots[k].cert);
                    break;
                }
            }
            if (f->kind == EVC_KIND_EXTERNAL && known_issuer(run, x) != NULL &&
                (f->root = default_root_store(run)) >= 0) {
                /* Our CA, whose key no root store holds: renewed under a default root. */
                f->kind = EVC_KIND_CHAINED;
                f->orphan = 1;
                f->signed_by_root =
                    !run->roots[f->root].empty && evc_x509_signed_by(x, run->roots[f->root].cert);
            }
        }
        p->root = f->root;
        if (p->next != NULL) {
            X509 *n = sk_X509_value(p->next, 0);

            f->staged = 1;
            f->activate_at = p->activate_at;
            /* An SA from before activateBy: the deadline the policy gives it now. */
            if (p->activate_by == 0) {
                p->activate_by = evc_policy_activate_by(run->policy, p->activate_at, f->not_before,
                                                        f->not_after);
            }
            f->activate_by = p->activate_by;
            f->staged_not_before = not_before(n);
            f->staged_not_after = not_after(n);
            f->staged_is_live = same_sha(n, x);
            f->staged_by_root = f->root >= 0 && !run->roots[f->root].empty &&
                                evc_x509_signed_by(n, run->roots[f->root].cert);
        }
        f->debris = p->debris[0] != '\0';
    }
    for (size_t t = 0; t < run->ntrusts; t++) {
        for (size_t k = 0; k < run->nroots; k++) {
            if (!run->roots[k].empty && (r = add_trust_fact(run, t, (long)k, -1, err)) != 0) {
                return r;
            }
        }
        if ((r = add_orphan_facts(run, t, err)) != 0) {
            return r;
        }
        for (size_t k = 0; k < run->npers; k++) {
            if (run->fpers[k].kind == EVC_KIND_SELF_SIGNED &&
                (r = add_trust_fact(run, t, -1, (long)k, err)) != 0) {
                return r;
            }
        }
    }
    if (run->deleted != NULL && run->deleted->n > 0) {
        if ((run->fdeleted = calloc(run->deleted->n, sizeof(*run->fdeleted))) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < run->deleted->n; i++) {
            run->fdeleted[i].deleted_at = run->deleted->entries[i].deleted_at;
        }
    }
    return 0;
}
