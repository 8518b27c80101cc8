/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal run: read every store of the configuration, turn what was
 * read into facts, let the planner (plan.c) decide, then carry the plan
 * out one durable step at a time.
 *
 * Order of writes inside each step, so a crash anywhere leaves whole
 * stores and the next run finishes the work:
 *   recreate root: old root to the deleted store, then the new pair in one
 *     switch (evc_pair_save) or one PKCS#12 rename;
 *   renew: <key>.next, <cert>.next, then <cert>.sa; a successor counts as
 *     staged only when all three agree, so debris is simply made again;
 *   activate: old certificate to the deleted store, the pair switch, the
 *     after_replace hook, then the .next files go; the .sa stays for the
 *     well-known URL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/limits.h"
#include "evercert/pkcs12.h"
#include "evercert/renew.h"
#include "evercert/stores.h"
#include "evercert/tls.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/spawn.h"
#include "ca/plan.h"
#include "x509/x509_int.h"

struct root_st {
    const struct evc_store_conf *conf;
    char cert_path[EVC_PATH_MAX], key_path[EVC_PATH_MAX];
    int p12;
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
    /* .next files that are not a whole set: what is wrong, for the report; "" if none. */
    char debris[EVC_PATH_MAX + 64];
    int leftover; /* a lone <key>.next that is the live key */
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

static X509 *
leaf(const struct personal_st *p)
{
    return sk_X509_value(p->chain, 0);
}

/* "store \"web\": reason", keeping the reason a callee put in err. */
static int
store_err(struct evc_err *err, const struct evc_store_conf *s, int code)
{
    struct evc_err e = *err;

    return evc_err_set(err, code != 0 ? code : EVC_ERR_INTERNAL, "store \"%s\": %s", s->name,
                       evc_err_message(&e));
}

static int
read_password(const struct evc_store_conf *s, char **out, struct evc_err *err)
{
    struct evc_buf b;
    size_t n;
    int r;

    *out = NULL;
    if (s->password_file == NULL) {
        return 0;
    }
    evc_buf_init(&b, EVC_PASSWORD_MAX + 2);
    if ((r = evc_file_read(s->password_file, EVC_PASSWORD_MAX, &b, err)) != 0) {
        evc_err_set(err, r, "%s: %s", s->password_file, evc_err_message(err));
        evc_buf_free(&b);
        return r;
    }
    for (n = 0; n < b.len && b.data[n] != '\n' && b.data[n] != '\r'; n++) {
    }
    if ((*out = strndup((const char *)b.data, n)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    evc_buf_free(&b);
    return r;
}

static void
free_password(char *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

/* Put path in front of the reason in err; err may be NULL (a probe that only needs r). */
static int
path_err(struct evc_err *err, int r, const char *path)
{
    return err != NULL ? evc_err_set(err, r, "%s: %s", path, evc_err_message(err)) : r;
}

static int
read_file(const char *path, struct evc_buf *b, struct evc_err *err)
{
    int r = evc_file_read(path, EVC_STORE_FILE_MAX, b, err);

    return r == 0 ? 0 : path_err(err, r, path);
}

static int
read_key(const char *path, EVP_PKEY **key, struct evc_err *err)
{
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = read_file(path, &b, err)) == 0 && (r = evc_key_parse(b.data, b.len, key, err)) != 0) {
        path_err(err, r, path);
    }
    evc_buf_free(&b);
    return r;
}

static int
read_chain(const char *path, STACK_OF(X509) * *chain, struct evc_err *err)
{
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = read_file(path, &b, err)) == 0 &&
        (r = evc_certs_parse(b.data, b.len, NULL, chain, err)) != 0) {
        path_err(err, r, path);
    }
    evc_buf_free(&b);
    return r;
}

/*
 * The link beside a root, if it certifies this root's subject and key
 * with another key. A link left by a run that stopped before the new root
 * was saved names another key and is ignored; the next recreation
 * replaces it.
 */
static void
load_link(struct root_st *rs)
{
    STACK_OF(X509) *c = NULL;
    X509 *l;

    if (access(rs->link_path, F_OK) == -1 || read_chain(rs->link_path, &c, NULL) != 0) {
        return;
    }
    l = sk_X509_value(c, 0);
    if (l != NULL && X509_cmp(l, rs->cert) != 0 &&
        X509_NAME_cmp(X509_get_subject_name(l), X509_get_subject_name(rs->cert)) == 0 &&
        EVP_PKEY_eq(X509_get0_pubkey(l), X509_get0_pubkey(rs->cert)) == 1 &&
        !evc_x509_signed_by(l, l)) {
        rs->link = sk_X509_shift(c);
    }
    sk_X509_pop_free(c, X509_free);
    ERR_clear_error();
}

static int
load_root(struct root_st *rs, struct evc_err *err)
{
    const char *path = rs->conf->path;
    struct stat st;
    struct evc_buf b;
    int r;

    if (stat(path, &st) == -1) {
        return evc_err_set(err, evc_errno_code(errno), "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(rs->cert_path, sizeof(rs->cert_path), "%s/ca.crt", path);
        snprintf(rs->key_path, sizeof(rs->key_path), "%s/ca.key", path);
        snprintf(rs->link_path, sizeof(rs->link_path), "%s/ca.link.crt", path);
        if (access(rs->key_path, F_OK) == -1 && access(rs->cert_path, F_OK) == -1 &&
            errno == ENOENT) {
            rs->empty = 1;
            return 0;
        }
        if (access(rs->key_path, F_OK) == -1) {
            return evc_err_set(err, EVC_ERR_NOENT, "%s: a root store needs the root's key",
                               rs->key_path);
        }
        STACK_OF(X509) *c = NULL;

        if ((r = read_chain(rs->cert_path, &c, err)) != 0) {
            return r;
        }
        rs->cert = sk_X509_shift(c);
        sk_X509_pop_free(c, X509_free);
        if ((r = read_key(rs->key_path, &rs->key, err)) != 0) {
            return r;
        }
    } else {
        rs->p12 = 1;
        snprintf(rs->link_path, sizeof(rs->link_path), "%s.link.crt", path);
        if ((r = read_password(rs->conf, &rs->password, err)) != 0) {
            return r;
        }
        evc_buf_init(&b, EVC_STORE_FILE_MAX);
        if ((r = read_file(path, &b, err)) == 0 &&
            (r = evc_pkcs12_keypair(b.data, b.len, rs->password, &rs->key, &rs->cert, err)) != 0) {
            evc_err_set(err, r, "%s: %s", path, evc_err_message(err));
        }
        evc_buf_free(&b);
        if (r != 0) {
            return r;
        }
    }
    if ((r = evc_key_check(rs->cert, rs->key, err)) != 0) {
        return evc_err_set(err, r, "%s: the key does not match the root certificate", path);
    }
    if (X509_check_ca(rs->cert) == 0 || X509_check_issued(rs->cert, rs->cert) != X509_V_OK) {
        return evc_err_set(err, EVC_ERR_POLICY, "%s: not a self-signed CA certificate", path);
    }
    load_link(rs);
    return 0;
}

/*
 * The staged successor, if <cert>.next, <key>.next and <cert>.sa agree.
 * .next files that do not are debris, noted with what is wrong, except a
 * lone <key>.next holding the live key: what an activation stopped between
 * its two removals leaves, finished by removing it (leftover).
 */
static void
load_staged(struct personal_st *p)
{
    struct evc_buf b;
    struct evc_sa *sa = NULL;
    STACK_OF(X509) *next = NULL;
    EVP_PKEY *nkey = NULL;
    uint8_t a[32], c[32];
    int has_cert = access(p->next_cert, F_OK) == 0, has_key = access(p->next_key, F_OK) == 0;
    char why[sizeof(p->debris)] = "";

    evc_buf_init(&b, EVC_SA_MAX + 2); /* + 2: a NUL, and the byte that tells a longer file */
    if (evc_file_read(p->sa_path, EVC_SA_MAX, &b, NULL) == 0 &&
        evc_sa_decode(b.data, b.len, &sa, NULL) == 0) {
        p->generation = sa->generation;
    }
    evc_buf_free(&b);
    if (!has_cert && !has_key) {
        goto out; /* nothing staged: an SA alone is the last one, kept for the URL */
    }
    if (!has_cert) {
        if (read_key(p->next_key, &nkey, NULL) == 0 &&
            EVP_PKEY_eq(nkey, X509_get0_pubkey(leaf(p))) == 1) {
            p->leftover = 1;
        } else {
            snprintf(why, sizeof(why), "%.2000s without %.2000s", p->next_key, p->next_cert);
        }
        goto out;
    }
    if (!has_key) {
        snprintf(why, sizeof(why), "%.2000s without %.2000s", p->next_cert, p->next_key);
    } else if (read_chain(p->next_cert, &next, NULL) != 0) {
        snprintf(why, sizeof(why), "%.2000s cannot be read", p->next_cert);
    } else if (read_key(p->next_key, &nkey, NULL) != 0) {
        snprintf(why, sizeof(why), "%.2000s cannot be read", p->next_key);
    } else if (evc_key_check(sk_X509_value(next, 0), nkey, NULL) != 0) {
        snprintf(why, sizeof(why), "%.2000s does not match %.2000s", p->next_key, p->next_cert);
    } else if (sa == NULL) {
        snprintf(why, sizeof(why), "%.2000s without a readable %.2000s", p->next_cert, p->sa_path);
    } else if (evc_x509_sha256(sk_X509_value(next, 0), a) != 0 ||
               evc_x509_sha256(sk_X509_value(sa->successor, 0), c) != 0 ||
               CRYPTO_memcmp(a, c, 32) != 0) {
        snprintf(why, sizeof(why), "%.2000s announces another certificate than %.2000s", p->sa_path,
                 p->next_cert);
    }
    ERR_clear_error();
    if (why[0] != '\0') {
        goto out;
    }
    p->next = next;
    p->nkey = nkey;
    p->activate_at = sa->activate_at;
    next = NULL;
    nkey = NULL;
out:
    memcpy(p->debris, why, sizeof(why));
    sk_X509_pop_free(next, X509_free);
    EVP_PKEY_free(nkey);
    evc_sa_free(sa);
}

static int
load_personal(struct personal_st *p, struct evc_err *err)
{
    int r;

    if ((r = read_chain(p->conf->cert, &p->chain, err)) != 0 ||
        (r = read_key(p->conf->key, &p->key, err)) != 0) {
        return r;
    }
    if ((r = evc_key_check(leaf(p), p->key, err)) != 0) {
        return evc_err_set(err, r, "%s does not match %s", p->conf->key, p->conf->cert);
    }
    if ((size_t)snprintf(p->next_cert, sizeof(p->next_cert), "%s.next", p->conf->cert) >=
            sizeof(p->next_cert) ||
        (size_t)snprintf(p->next_key, sizeof(p->next_key), "%s.next", p->conf->key) >=
            sizeof(p->next_key) ||
        (size_t)snprintf(p->sa_path, sizeof(p->sa_path), "%s.sa", p->conf->cert) >=
            sizeof(p->sa_path)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "path too long");
    }
    load_staged(p);
    return 0;
}

/* Two names for one file are one file: stores must not share any. */
struct file_id {
    dev_t dev;
    ino_t ino;
    size_t store;
    const char *path;
};

static int
cmp_file_id(const void *a, const void *b)
{
    const struct file_id *x = a, *y = b;

    if (x->dev != y->dev) {
        return x->dev < y->dev ? -1 : 1;
    }
    if (x->ino != y->ino) {
        return x->ino < y->ino ? -1 : 1;
    }
    return x->store < y->store ? -1 : x->store > y->store;
}

static int
check_distinct(const struct evc_config *c, struct evc_err *err)
{
    struct file_id *ids = calloc(c->nstores * 3 + 1, sizeof(*ids));
    size_t n = 0;
    struct stat st;
    int r = 0;

    if (ids == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->nstores; i++) {
        const char *f[3] = {c->stores[i].path, c->stores[i].cert, c->stores[i].key};

        for (size_t k = 0; k < 3; k++) {
            if (f[k] != NULL && stat(f[k], &st) == 0) {
                ids[n++] = (struct file_id){st.st_dev, st.st_ino, i, f[k]};
            }
        }
    }
    qsort(ids, n, sizeof(*ids), cmp_file_id);
    for (size_t i = 1; i < n && r == 0; i++) {
        if (ids[i].dev == ids[i - 1].dev && ids[i].ino == ids[i - 1].ino) {
            r = evc_err_set(err, EVC_ERR_CONFIG,
                            "store \"%s\": %s is the same file as %s of store \"%s\"",
                            c->stores[ids[i].store].name, ids[i].path, ids[i - 1].path,
                            c->stores[ids[i - 1].store].name);
        }
    }
    free(ids);
    return r;
}

/* A run that writes: not a dry run, not a plan-only look at the stores. */
static int
writes(const struct run *run)
{
    return !run->o->dry_run && !run->o->plan_only;
}

/*
 * The deleted store. A configured directory removed on disk is made again
 * (a run that does not write only says so): it holds no state a run
 * depends on, and refusing would stop every later run, so renewals would
 * stop with it. The implicit store is made when something is first kept.
 */
static int
load_deleted(struct run *run, const struct evc_store_conf *s, struct evc_err *err)
{
    struct stat st;
    int r;

    if (!s->implicit && stat(s->path, &st) == -1 && errno == ENOENT) {
        run->deleted_made = 1;
        if (writes(run) && (r = evc_mkdirs(s->path, 0700, err)) != 0) {
            return r;
        }
    }
    return evc_deleted_load(s->path, &run->deleted, err);
}

static int
load_all(struct run *run, struct evc_err *err)
{
    const struct evc_config *c = run->o->config;
    int r;

    if ((r = check_distinct(c, err)) != 0) {
        return r;
    }
    for (size_t i = 0; i < c->nstores; i++) {
        const struct evc_store_conf *s = &c->stores[i];
        char *pw = NULL;

        switch (s->role) {
        case EVC_ROLE_ROOT:
            run->roots[run->nroots].conf = s;
            r = load_root(&run->roots[run->nroots++], err);
            break;
        case EVC_ROLE_PERSONAL:
            run->pers[run->npers].conf = s;
            run->pers[run->npers].root = -1;
            r = load_personal(&run->pers[run->npers++], err);
            break;
        case EVC_ROLE_TRUST:
            run->trusts[run->ntrusts].conf = s;
            if ((r = read_password(s, &pw, err)) == 0) {
                r = evc_trust_load(s->path, pw, &run->trusts[run->ntrusts].t, err);
            }
            free_password(pw);
            run->ntrusts++;
            break;
        case EVC_ROLE_DELETED:
            run->deleted_conf = s;
            r = load_deleted(run, s, err);
            break;
        default:
            r = evc_err_set(err, EVC_ERR_INTERNAL, "unknown role");
            break;
        }
        if (r != 0) {
            return store_err(err, s, r);
        }
    }
    return 0;
}

/* --- facts --------------------------------------------------------------- */

static evc_time
time_of(const ASN1_TIME *t)
{
    evc_time v = 0;

    return evc_asn1_time(t, &v) == 0 ? v : 0;
}

static evc_time
not_after(X509 *x)
{
    return time_of(X509_get0_notAfter(x));
}

static evc_time
not_before(X509 *x)
{
    return time_of(X509_get0_notBefore(x));
}

static int
self_issued(X509 *x)
{
    return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

static int
same_sha(X509 *a, X509 *b)
{
    uint8_t x[32], y[32];

    return a != NULL && b != NULL && evc_x509_sha256(a, x) == 0 && evc_x509_sha256(b, y) == 0 &&
           CRYPTO_memcmp(x, y, 32) == 0;
}

/* The newest version of what a trust store fact is about. */
static X509 *
newest_signer(const struct run *run, const struct evc_fact_trust *t)
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
    X509 *n = newest_signer(run, t);

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

    n = newest_signer(run, &f);
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
        if (run->roots[k].empty && !run->roots[k].p12) {
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

static int
make_facts(struct run *run, struct evc_err *err)
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

/* --- the report ---------------------------------------------------------- */

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

static int
report_all(struct run *run)
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

static struct evc_renew_action *
new_action(struct run *run, const struct evc_action *a, const char *store)
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

static void
set_old(struct evc_renew_action *v, X509 *x)
{
    v->has_old = x != NULL && evc_x509_sha256(x, v->old_sha256) == 0;
}

static void
set_new(struct evc_renew_action *v, X509 *x)
{
    v->has_new = x != NULL && evc_x509_sha256(x, v->new_sha256) == 0;
}

/* --- the actions --------------------------------------------------------- */

static int
pem_chain(STACK_OF(X509) * chain, struct evc_buf *out, struct evc_err *err)
{
    int r = 0;

    for (int i = 0; r == 0 && i < sk_X509_num(chain); i++) {
        r = evc_x509_pem(sk_X509_value(chain, i), out, err);
    }
    return r;
}

static int
keep_deleted(struct run *run, X509 *x, const char *store, const char *why, struct evc_err *err)
{
    if (!run->policy->delete_old || run->deleted == NULL) {
        return 0;
    }
    return evc_deleted_put(run->deleted, x, store, why, run->o->now, err);
}

static int
save_root(struct root_st *rs, X509 *cert, EVP_PKEY *key, struct evc_err *err)
{
    struct evc_buf c, k;
    int r;

    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    if (rs->p12) {
        if ((r = evc_pkcs12_encode(&cert, 1, key, rs->password, &k, err)) == 0) {
            r = evc_atomic_write(rs->conf->path, k.data, k.len, 0600, err);
        }
    } else if ((r = evc_x509_pem(cert, &c, err)) == 0 && (r = evc_key_pem(key, &k, err)) == 0) {
        r = evc_pair_save(rs->cert_path, c.data, c.len, rs->key_path, k.data, k.len, err);
    }
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

static int
new_key_like(EVP_PKEY *old, EVP_PKEY **out, struct evc_err *err)
{
    char spec[32];
    int r;

    if ((r = evc_key_spec(old, spec, sizeof(spec), err)) != 0) {
        return r;
    }
    return evc_key_generate(spec, out, err);
}

/* A new default root in an empty root store, as WebSphere's monitor makes one. */
static int
do_create_root(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    struct root_st *rs = &run->roots[i];
    struct evc_cert_req req = {
        EVC_PROFILE_ROOT, "CN=" EVC_DEFAULT_ROOT_CN ",O=evercert", NULL, NULL, 0,
        run->o->now,      run->o->now + EVC_DEFAULT_ROOT_LIFETIME};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int r;

    if ((r = evc_key_generate(EVC_KEY_DEFAULT, &key, err)) != 0 ||
        (r = evc_ca_make(&req, key, NULL, NULL, &cert, err)) != 0) {
        goto out;
    }
    set_new(v, cert);
    if (!run->o->dry_run && (r = save_root(rs, cert, key, err)) != 0) {
        goto out;
    }
    rs->cert = cert;
    rs->key = key;
    rs->empty = 0;
    cert = NULL;
    key = NULL;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return r;
}

static int
do_recreate(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    struct root_st *rs = &run->roots[i];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL, *link = NULL;
    struct evc_buf lb;
    int r;

    evc_buf_init(&lb, EVC_STORE_FILE_MAX);
    set_old(v, rs->cert);
    if ((r = new_key_like(rs->key, &key, err)) != 0 ||
        (r = evc_ca_renew(rs->cert, key, NULL, NULL, run->o->now, &cert, err)) != 0 ||
        (r = evc_ca_renew(cert, key, rs->cert, rs->key, run->o->now, &link, err)) != 0) {
        goto out;
    }
    set_new(v, cert);
    if (run->o->dry_run) {
        goto out;
    }
    /* The link first: a link without its root is ignored, a root without its link is not made. */
    if ((r = evc_x509_pem(link, &lb, err)) != 0 ||
        (r = evc_atomic_write(rs->link_path, lb.data, lb.len, 0644, err)) != 0 ||
        (r = keep_deleted(run, rs->cert, rs->conf->name, "root recreated", err)) != 0 ||
        (r = save_root(rs, cert, key, err)) != 0) {
        goto out;
    }
out:
    if (r == 0) {
        /* Later steps sign with the new root (a dry run's would-be root) and link to it. */
        X509_free(rs->cert);
        EVP_PKEY_free(rs->key);
        X509_free(rs->link);
        rs->cert = cert;
        rs->key = key;
        rs->link = link;
        cert = NULL;
        key = NULL;
        link = NULL;
    }
    evc_buf_free(&lb);
    X509_free(cert);
    X509_free(link);
    EVP_PKEY_free(key);
    return r;
}

/* The service name an SA speaks for: configured, else the first DNS SAN, else the CN. */
static void
service_of(const struct personal_st *p, char *out, size_t outlen)
{
    GENERAL_NAMES *gens;

    snprintf(out, outlen, "%s", p->conf->service != NULL ? p->conf->service : "");
    if (*out != '\0') {
        return;
    }
    gens = X509_get_ext_d2i(leaf(p), NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        /* A wildcard or a name with odd bytes cannot be a service name; the next may. */
        if (g->type == GEN_DNS &&
            evc_sa_service_check((const char *)ASN1_STRING_get0_data(g->d.dNSName),
                                 (size_t)ASN1_STRING_length(g->d.dNSName), NULL) == 0) {
            snprintf(out, outlen, "%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
            break;
        }
    }
    GENERAL_NAMES_free(gens);
    if (*out == '\0') {
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf(p)), NID_commonName, out, (int)outlen);
    }
}

/*
 * Stage a successor: <key>.next, <cert>.next, then <cert>.sa, in the run's
 * group commit (renamed in this order after one sync). load_staged()
 * accepts the three only when they agree, so a crash anywhere in between
 * leaves debris that the next run simply stages again.
 */
static int
write_staged(struct run *run, struct personal_st *p, STACK_OF(X509) * next, EVP_PKEY *nkey,
             const struct evc_buf *sa, struct evc_err *err)
{
    struct evc_buf c, k;
    int r;

    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    if ((r = pem_chain(next, &c, err)) != 0 || (r = evc_key_pem(nkey, &k, err)) != 0) {
        goto out;
    }
    if (run->batch == NULL && (r = evc_batch_new(&run->batch, err)) != 0) {
        goto out;
    }
    if ((r = evc_batch_write(run->batch, p->next_key, k.data, k.len, 0600, err)) != 0 ||
        (r = evc_batch_write(run->batch, p->next_cert, c.data, c.len, 0644, err)) != 0 ||
        (r = evc_batch_write(run->batch, p->sa_path, sa->data, sa->len, 0644, err)) != 0) {
        goto out;
    }
out:
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

/* Make the staged successors durable before anything depends on them. */
static int
commit_staged(struct run *run, struct evc_err *err)
{
    int r = 0;

    if (run->batch != NULL) {
        r = evc_batch_commit(run->batch, err);
        evc_batch_free(run->batch);
        run->batch = NULL;
    }
    return r;
}

static int swap_in(struct run *run, struct personal_st *p, struct evc_renew_action *v,
                   struct evc_err *err);

/* "stale successor: expired" or "stale successor: web.key.next without web.crt.next". */
static void
stale_note(const struct personal_st *p, enum evc_stale st, char *out, size_t outlen)
{
    snprintf(out, outlen, "stale successor: %.180s",
             st == EVC_STALE_DEBRIS ? p->debris : evc_stale_name(st));
}

/* Put note in front of what v->detail says already, cut to fit. */
static void
detail_prepend(struct evc_renew_action *v, const char *note)
{
    char rest[sizeof(v->detail)];
    size_t n = strlen(note), m = strlen(v->detail), room = sizeof(v->detail) - 1;

    if (n == 0) {
        return;
    }
    memcpy(rest, v->detail, m + 1);
    n = n < room ? n : room;
    memcpy(v->detail, note, n);
    if (m > 0 && n + 2 < room) {
        memcpy(v->detail + n, "; ", 2);
        n += 2;
        m = m < room - n ? m : room - n;
        memcpy(v->detail + n, rest, m);
        n += m;
    }
    v->detail[n] = '\0';
}

/*
 * Make a new successor for personals[i]. A staged one it replaces (stale
 * says why) goes to the deleted store first, so the record of what was
 * announced stays; the new SA's generation is above the old one's, so
 * clients that saw the old take the new.
 */
static int
do_renew(struct run *run, size_t i, enum evc_stale stale, struct evc_renew_action *v,
         struct evc_err *err)
{
    struct personal_st *p = &run->pers[i];
    struct root_st *rs = p->root >= 0 ? &run->roots[p->root] : NULL;
    EVP_PKEY *nkey = NULL;
    X509 *n = NULL;
    STACK_OF(X509) *next = NULL, *anchors = NULL;
    struct evc_buf sa;
    char service[EVC_SA_SERVICE_MAX + 1], note[200];
    struct evc_sa_params sp;
    int r;

    evc_buf_init(&sa, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    set_old(v, leaf(p));
    note[0] = '\0';
    if (stale != EVC_STALE_NONE) {
        stale_note(p, stale, note, sizeof(note));
    }
    if (stale != EVC_STALE_NONE && p->next != NULL && !run->o->dry_run &&
        (r = keep_deleted(run, sk_X509_value(p->next, 0), p->conf->name, note, err)) != 0) {
        goto out;
    }
    if (run->policy->reuse_key) {
        EVP_PKEY_up_ref(p->key);
        nkey = p->key;
    } else if ((r = new_key_like(p->key, &nkey, err)) != 0) {
        goto out;
    }
    if ((r = evc_ca_renew(leaf(p), nkey, rs != NULL ? rs->cert : NULL, rs != NULL ? rs->key : NULL,
                          run->o->now, &n, err)) != 0) {
        goto out;
    }
    set_new(v, n);
    if ((next = sk_X509_new_null()) == NULL || !X509_add_cert(next, n, X509_ADD_FLAG_UP_REF) ||
        (rs != NULL && sk_X509_num(p->chain) > 1 &&
         !X509_add_cert(next, rs->cert, X509_ADD_FLAG_UP_REF))) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    /*
     * A new root travels in the SA with its link from the old root, so
     * clients under policy ca can trust it before the switch. A root
     * without a link (a default root for a lost one) is carried too, and
     * clients refuse it: the operator brings that root to them.
     */
    if (rs != NULL && !evc_x509_signed_by(leaf(p), rs->cert)) {
        if ((anchors = sk_X509_new_null()) == NULL ||
            !X509_add_cert(anchors, rs->cert, X509_ADD_FLAG_UP_REF) ||
            (rs->link != NULL && !X509_add_cert(anchors, rs->link, X509_ADD_FLAG_UP_REF))) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    service_of(p, service, sizeof(service));
    memset(&sp, 0, sizeof(sp));
    sp.service = service;
    sp.generation = p->generation + 1;
    sp.published_at = run->o->now;
    sp.activate_at = evc_policy_activate_at(run->policy, run->o->now, not_after(leaf(p)));
    sp.current = leaf(p);
    sp.current_key = p->key;
    sp.successor = n;
    sp.successor_key = nkey;
    sp.anchors = anchors;
    v->activate_at = sp.activate_at;
    if ((r = evc_sa_encode(&sp, &sa, err)) == EVC_ERR_BAD_KEY) {
        /*
         * No SA can be signed with this key (Ed25519 in OpenSSL 3.0), so
         * there is nothing to publish first: swap at once, as WebSphere does.
         */
        sk_X509_pop_free(p->next, X509_free);
        EVP_PKEY_free(p->nkey);
        p->next = next;
        p->nkey = nkey;
        next = NULL;
        nkey = NULL;
        v->activate_at = run->o->now;
        if ((r = commit_staged(run, err)) != 0 || (r = swap_in(run, p, v, err)) != 0) {
            goto out;
        }
        snprintf(v->detail, sizeof(v->detail), "no SA for %s keys; swapped at once",
                 EVP_PKEY_get0_type_name(p->nkey));
        detail_prepend(v, note);
        goto out;
    }
    if (r != 0) {
        goto out;
    }
    if (!run->o->dry_run && (r = write_staged(run, p, next, nkey, &sa, err)) != 0) {
        goto out;
    }
    snprintf(v->detail, sizeof(v->detail), "generation %llu for %.100s%s%s",
             (unsigned long long)sp.generation, service,
             sa.len > EVC_SA_HANDSHAKE_MAX ? "; over the handshake's 16 KiB: push and URL only"
                                           : "",
             anchors != NULL && rs->link == NULL
                 ? "; the new root has no link: clients must be given it by hand"
                 : "");
    detail_prepend(v, note);
    sk_X509_pop_free(p->next, X509_free);
    EVP_PKEY_free(p->nkey);
    p->next = next;
    p->nkey = nkey;
    p->activate_at = sp.activate_at;
    p->generation = sp.generation;
    next = NULL;
    nkey = NULL;
    r = 0;
out:
    evc_buf_free(&sa);
    X509_free(n);
    sk_X509_pop_free(next, X509_free);
    sk_X509_pop_free(anchors, X509_free);
    EVP_PKEY_free(nkey);
    return r;
}

/*
 * Mend what needs no plan, each with a report line: a deleted store made
 * again, and <key>.next files an interrupted activation left behind. A
 * trust store a person emptied is left so, and said.
 */
static int
do_repairs(struct run *run, struct evc_err *err)
{
    struct evc_action a = {EVC_ACT_REPAIR, 0, EVC_REASON_NONE, EVC_STALE_NONE};
    struct evc_renew_action *v;
    int r;

    if (run->deleted_made) {
        if ((v = new_action(run, &a, run->deleted_conf->name)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        snprintf(v->detail, sizeof(v->detail), "%.200s was missing; made again",
                 run->deleted_conf->path);
        v->done = writes(run);
        run->repairs++;
    }
    for (size_t i = 0; i < run->npers; i++) {
        struct personal_st *p = &run->pers[i];

        if (!p->leftover) {
            continue;
        }
        if ((v = new_action(run, &a, p->conf->name)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        set_new(v, leaf(p));
        snprintf(v->detail, sizeof(v->detail),
                 "%.150s, the live key, left by an activation that stopped; removed", p->next_key);
        if (writes(run) && (r = evc_durable_unlink(p->next_key, err)) != 0) {
            snprintf(v->detail, sizeof(v->detail), "%s", evc_err_message(err));
            return r;
        }
        v->done = writes(run);
        run->repairs++;
    }
    a.type = EVC_ACT_NOTE;
    for (size_t i = 0; i < run->ntrusts; i++) {
        if (run->trusts[i].t->n > 0) {
            continue;
        }
        if ((v = new_action(run, &a, run->trusts[i].conf->name)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        snprintf(v->detail, sizeof(v->detail),
                 "%.150s holds no certificate; left empty, nothing in it to keep current",
                 run->trusts[i].conf->path);
        /* Nothing written: a note must not read as work done (the monitor mails work done). */
    }
    return 0;
}

static int
do_add_signer(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    const struct evc_fact_trust *f = &run->ftrusts[i];
    struct trust_st *ts = &run->trusts[f->trust];
    X509 *n = newest_signer(run, f);
    uint8_t fp[32];

    v->store = ts->conf->name;
    if (n == NULL) {
        return evc_err_set(err, EVC_ERR_INTERNAL, "no signer to add");
    }
    set_new(v, n);
    if (evc_x509_sha256(n, fp) != 0) {
        return evc_err_set(err, EVC_ERR_CRYPTO, "cannot hash a certificate");
    }
    if (evc_trust_find(ts->t, fp) >= 0) {
        snprintf(v->detail, sizeof(v->detail), "already there");
        return 0;
    }
    if (run->o->dry_run) {
        return 0;
    }
    return evc_trust_add(ts->t, n, err);
}

/*
 * Run the store's after_replace command: split and exec'd (or sh -c with
 * after_replace_shell), killed at hook_timeout; status and output go in
 * the report. A failure is reported; the swap stands.
 */
static void
run_hook(const struct personal_st *p, struct evc_renew_action *v)
{
    char e1[EVC_PATH_MAX + 32], e2[EVC_PATH_MAX + 32], e3[EVC_PATH_MAX + 32];
    char *env[] = {e1, e2, e3, NULL};
    struct evc_spawn_result res;
    struct evc_err err = {0};
    size_t n;

    if (p->conf->after_replace == NULL) {
        return;
    }
    snprintf(e1, sizeof(e1), "EVERCERT_STORE=%s", p->conf->name);
    snprintf(e2, sizeof(e2), "EVERCERT_CERT=%s", p->conf->cert);
    snprintf(e3, sizeof(e3), "EVERCERT_KEY=%s", p->conf->key);
    fflush(NULL);
    if (evc_spawn_run(p->conf->after_replace, p->conf->after_replace_shell, p->conf->hook_timeout,
                      env, &res, &err) != 0) {
        snprintf(v->detail, sizeof(v->detail), "after_replace: %s", evc_err_message(&err));
        v->hook_status = -1;
        return;
    }
    v->hook_status = res.status;
    v->hook_ran = 1;
    /* The last line of output, as a hint; the whole is in hook_output. */
    for (n = res.output_len; n > 0 && (res.output[n - 1] == '\n' || res.output[n - 1] == ' ');
         n--) {
    }
    res.output[n] = '\0';
    if (n >= sizeof(v->hook_output)) {
        n = sizeof(v->hook_output) - 1;
        /* Cut between characters, not inside one. */
        while (n > 0 && ((unsigned char)res.output[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    memcpy(v->hook_output, res.output, n);
    v->hook_output[n] = '\0';
    if (res.timed_out) {
        snprintf(v->detail, sizeof(v->detail), "after_replace killed after %llds",
                 (long long)p->conf->hook_timeout);
    } else if (res.status != 0) {
        snprintf(v->detail, sizeof(v->detail), "after_replace failed (exit %d): %.150s", res.status,
                 res.output);
    } else {
        snprintf(v->detail, sizeof(v->detail), "after_replace ran");
    }
}

/*
 * With verify = host:port: after the hook, the server must present the new
 * certificate within verify_timeout; a reload is not proof. The outcome
 * goes in the report, and a miss is a failure of the run.
 */
static void
verify_served(const struct personal_st *p, X509 *want, struct evc_renew_action *v)
{
    struct timespec start, t;
    struct evc_err err = {0};
    int64_t ms = 0, limit = p->conf->verify_timeout * 1000;

    if (p->conf->verify == NULL) {
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        X509 *got = NULL;
        int same = evc_tls_served_leaf(p->conf->verify, p->conf->verify_servername,
                                       (int)(limit > 2000 ? 2000 : limit + 1), &got, &err) == 0 &&
                   X509_cmp(got, want) == 0;

        X509_free(got);
        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = (t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000;
        if (same) {
            v->verified = 1;
            snprintf(v->verify_detail, sizeof(v->verify_detail), "%s serves it after %lld ms",
                     p->conf->verify, (long long)ms);
            return;
        }
        if (ms >= limit) {
            break;
        }
        usleep(50 * 1000);
    }
    v->verified = -1;
    snprintf(v->verify_detail, sizeof(v->verify_detail),
             "%s still does not serve the new certificate after %lld s%s%.150s", p->conf->verify,
             (long long)p->conf->verify_timeout, err.code != 0 ? ": " : "",
             err.code != 0 ? evc_err_message(&err) : "");
}

/*
 * Put the successor in p->next live: keep the old certificate in the
 * deleted store, switch the pair, run the hook, drop the .next files.
 * Afterwards p->chain is the successor, so a second call does nothing.
 */
static int
swap_in(struct run *run, struct personal_st *p, struct evc_renew_action *v, struct evc_err *err)
{
    struct evc_buf c, k;
    X509 *n = sk_X509_value(p->next, 0);
    int r = 0, live = same_sha(n, leaf(p));

    set_old(v, leaf(p));
    set_new(v, n);
    if (run->o->dry_run) {
        return 0;
    }
    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    /* Never hand a server a broken pair. */
    if (!live && ((r = evc_key_check(n, p->nkey, err)) != 0 ||
                  not_before(n) > run->o->now + EVC_SWAP_SLACK || not_after(n) <= run->o->now)) {
        r = evc_err_set(err, r != 0 ? r : EVC_ERR_BAD_TIME,
                        "the successor of %s is not a valid pair now; not swapped", p->conf->cert);
        goto out;
    }
    if (!live) {
        if ((r = keep_deleted(run, leaf(p), p->conf->name, "renewed", err)) != 0 ||
            (r = pem_chain(p->next, &c, err)) != 0 || (r = evc_key_pem(p->nkey, &k, err)) != 0 ||
            (r = evc_pair_save(p->conf->cert, c.data, c.len, p->conf->key, k.data, k.len, err)) !=
                0) {
            goto out;
        }
    }
    /*
     * The hook runs while the .next files are still there: a run that
     * ends between the switch and the hook leaves them, and the next run
     * finds the successor live and runs the hook then, so a server is
     * never left on the old certificate. A hook may run twice, never not.
     */
    if (!live || access(p->next_cert, F_OK) == 0) {
        run_hook(p, v);
        verify_served(p, n, v);
    }
    if (!live) {
        STACK_OF(X509) *now_live = X509_chain_up_ref(p->next);

        if (now_live != NULL) {
            sk_X509_pop_free(p->chain, X509_free);
            p->chain = now_live;
        }
    }
    if ((r = evc_durable_unlink(p->next_cert, err)) != 0 ||
        (r = evc_durable_unlink(p->next_key, err)) != 0) {
        goto out;
    }
out:
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

static int
do_activate(struct run *run, const struct evc_action *a, struct evc_renew_action *v,
            struct evc_err *err)
{
    struct personal_st *p = &run->pers[a->index];
    char note[200];

    if (a->reason == EVC_REASON_STALE) {
        /* `activate` only swaps: a stale successor waits for the renewal run that replaces it. */
        stale_note(p, a->stale, note, sizeof(note));
        snprintf(v->detail, sizeof(v->detail), "%s; not swapped, the next renewal replaces it",
                 note);
        set_old(v, leaf(p));
        if (p->next != NULL) {
            set_new(v, sk_X509_value(p->next, 0));
        }
        return 0;
    }
    return swap_in(run, p, v, err);
}

static int
do_retire(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    const struct evc_fact_signer *s = &run->fsigners[i];
    struct trust_st *ts = &run->trusts[s->trust];
    long k = evc_trust_find(ts->t, s->sha256);
    int r;

    v->store = ts->conf->name;
    if (k < 0) {
        snprintf(v->detail, sizeof(v->detail), "already gone");
        return 0;
    }
    set_old(v, ts->t->certs[k].x);
    if (run->o->dry_run) {
        return 0;
    }
    if ((r = keep_deleted(run, ts->t->certs[k].x, ts->conf->name, "old signer retired", err)) !=
        0) {
        return r;
    }
    return evc_trust_remove(ts->t, (size_t)k, err);
}

static int
do_purge(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    v->store = run->deleted_conf->name;
    set_old(v, run->deleted->entries[i].x);
    return run->o->dry_run ? 0 : evc_deleted_purge(run->deleted, i, err);
}

static const char *
action_store(const struct run *run, const struct evc_action *a)
{
    switch (a->type) {
    case EVC_ACT_RECREATE:
    case EVC_ACT_CREATE_ROOT:
        return run->roots[a->index].conf->name;
    case EVC_ACT_RENEW:
    case EVC_ACT_ACTIVATE:
        return run->pers[a->index].conf->name;
    default:
        return "";
    }
}

static void
free_run(struct run *run)
{
    for (size_t i = 0; i < run->nroots; i++) {
        X509_free(run->roots[i].cert);
        X509_free(run->roots[i].link);
        EVP_PKEY_free(run->roots[i].key);
        free_password(run->roots[i].password);
    }
    for (size_t i = 0; i < run->npers; i++) {
        sk_X509_pop_free(run->pers[i].chain, X509_free);
        sk_X509_pop_free(run->pers[i].next, X509_free);
        EVP_PKEY_free(run->pers[i].key);
        EVP_PKEY_free(run->pers[i].nkey);
    }
    for (size_t i = 0; i < run->ntrusts; i++) {
        evc_trust_free(run->trusts[i].t);
    }
    evc_deleted_free(run->deleted);
    evc_batch_free(run->batch);
    free(run->ftrusts);
    free(run->fsigners);
    free(run->fdeleted);
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
    run->policy = &o->config->policy;
    run->res = res;
    /* One run per configuration at a time; a dry run only reads. */
    if (!o->dry_run && !o->plan_only) {
        if ((r = evc_lock_take(o->config->file, &lockfd, err)) != 0) {
            goto out;
        }
    }
    if ((r = load_all(run, err)) != 0 || (r = make_facts(run, err)) != 0) {
        goto out;
    }
    if ((r = report_all(run)) != 0) {
        r = evc_err_set(err, r, "out of memory");
        goto out;
    }
    if ((r = do_repairs(run, err)) != 0) {
        goto out;
    }
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
            if (new_action(run, &plan[i], action_store(run, &plan[i])) == NULL) {
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

        if (a->type != EVC_ACT_RENEW && (r = commit_staged(run, err)) != 0) {
            goto out;
        }
        if ((v = new_action(run, a, action_store(run, a))) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        switch (a->type) {
        case EVC_ACT_PURGE:
            r = do_purge(run, a->index, v, err);
            break;
        case EVC_ACT_CREATE_ROOT:
            r = do_create_root(run, a->index, v, err);
            break;
        case EVC_ACT_RECREATE:
            r = do_recreate(run, a->index, v, err);
            break;
        case EVC_ACT_RENEW:
            r = do_renew(run, a->index, a->stale, v, err);
            break;
        case EVC_ACT_ADD_SIGNER:
            r = do_add_signer(run, a->index, v, err);
            break;
        case EVC_ACT_ACTIVATE:
            r = do_activate(run, a, v, err);
            break;
        case EVC_ACT_RETIRE:
            r = do_retire(run, a->index, v, err);
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
        /* A stale successor that `activate` left alone: nothing was written. */
        v->done = !o->dry_run && !(a->type == EVC_ACT_ACTIVATE && a->reason == EVC_REASON_STALE);
    }
    r = commit_staged(run, err);
    for (size_t i = 0; r == 0 && i < run->npers; i++) {
        const struct personal_st *p = &run->pers[i];

        if (p->next != NULL && !same_sha(sk_X509_value(p->next, 0), leaf(p)) &&
            p->activate_at > o->now &&
            (res->next_activation == 0 || p->activate_at < res->next_activation)) {
            res->next_activation = p->activate_at;
        }
    }
out:
    free(plan);
    free_run(run);
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
