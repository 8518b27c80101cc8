/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the stores of a renewal run: roots (a directory or a PKCS#12
 * file, behind one table of operations), personal pairs with their staged
 * successors, trust stores and the deleted store. Every store is read and
 * checked before anything is written; a bad one stops the run with its
 * name, its file and the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "evercert/pkcs12.h"
#include "base/file.h"
#include "ca/renew_int.h"

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
    int r;

    *out = NULL;
    if (s->password_file == NULL) {
        return 0;
    }
    evc_buf_init(&b, EVC_PASSWORD_MAX + 2);
    if ((r = evc_password_read(s->password_file, &b, err)) == 0 &&
        (*out = strdup(evc_buf_str(&b))) == NULL) {
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

/* --- root stores: a directory with ca.crt and ca.key, or one PKCS#12 file -- */

static int
dir_load(struct root_st *rs, struct evc_err *err)
{
    const char *path = rs->conf->path;
    STACK_OF(X509) *c = NULL;
    int r;

    snprintf(rs->cert_path, sizeof(rs->cert_path), "%s/ca.crt", path);
    snprintf(rs->key_path, sizeof(rs->key_path), "%s/ca.key", path);
    snprintf(rs->link_path, sizeof(rs->link_path), "%s/ca.link.crt", path);
    if (access(rs->key_path, F_OK) == -1 && access(rs->cert_path, F_OK) == -1 && errno == ENOENT) {
        rs->empty = 1;
        return 0;
    }
    if (access(rs->key_path, F_OK) == -1) {
        return evc_err_set(err, EVC_ERR_NOENT, "%s: a root store needs the root's key",
                           rs->key_path);
    }
    if ((r = read_chain(rs->cert_path, &c, err)) != 0) {
        return r;
    }
    rs->cert = sk_X509_shift(c);
    sk_X509_pop_free(c, X509_free);
    return read_key(rs->key_path, &rs->key, err);
}

/* The pair changes in one switch (evc_pair_save), so a reader never sees a mixed pair. */
static int
dir_save(const struct root_st *rs, X509 *cert, EVP_PKEY *key, struct evc_err *err)
{
    struct evc_buf c, k;
    int r;

    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    if ((r = evc_x509_pem(cert, &c, err)) == 0 && (r = evc_key_pem(key, &k, err)) == 0) {
        r = evc_pair_save(rs->cert_path, c.data, c.len, rs->key_path, k.data, k.len, err);
    }
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

static const char *
dir_describe(const struct root_st *rs, int key)
{
    return key ? rs->key_path : rs->cert_path;
}

static int
p12_load(struct root_st *rs, struct evc_err *err)
{
    const char *path = rs->conf->path;
    struct evc_buf b;
    int r;

    snprintf(rs->cert_path, sizeof(rs->cert_path), "%s", path);
    snprintf(rs->key_path, sizeof(rs->key_path), "%s", path);
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
    return r;
}

/* One file holds both: one rename replaces them together. */
static int
p12_save(const struct root_st *rs, X509 *cert, EVP_PKEY *key, struct evc_err *err)
{
    struct evc_buf k;
    int r;

    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    if ((r = evc_pkcs12_encode(&cert, 1, key, rs->password, &k, err)) == 0) {
        r = evc_atomic_write(rs->conf->path, k.data, k.len, 0600, err);
    }
    evc_buf_free(&k);
    return r;
}

static const char *
p12_describe(const struct root_st *rs, int key)
{
    (void)key;
    return rs->conf->path;
}

static const struct evc_root_ops root_ops[] = {
    {"directory", dir_load, dir_save, dir_describe},
    {"PKCS#12", p12_load, p12_save, p12_describe},
};

static int
load_root(struct root_st *rs, struct evc_err *err)
{
    struct stat st;
    int r;

    if (stat(rs->conf->path, &st) == -1) {
        return evc_err_set(err, evc_errno_code(errno), "%s: %s", rs->conf->path, strerror(errno));
    }
    rs->ops = S_ISDIR(st.st_mode) ? &root_ops[0] : &root_ops[1];
    if ((r = rs->ops->load(rs, err)) != 0 || rs->empty) {
        return r;
    }
    if ((r = evc_key_check(rs->cert, rs->key, err)) != 0) {
        return evc_err_set(err, r, "%s: the key does not match the root certificate",
                           rs->ops->describe(rs, 1));
    }
    if (X509_check_ca(rs->cert) == 0 || X509_check_issued(rs->cert, rs->cert) != X509_V_OK) {
        return evc_err_set(err, EVC_ERR_POLICY, "%s: not a self-signed CA certificate",
                           rs->ops->describe(rs, 0));
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
    p->activate_by = sa->activate_by;
    next = NULL;
    nkey = NULL;
out:
    memcpy(p->debris, why, sizeof(why));
    sk_X509_pop_free(next, X509_free);
    EVP_PKEY_free(nkey);
    evc_sa_free(sa);
}

/*
 * A keystore's successor is staged beside it as PEM, as a pair's is:
 * KEYSTORE.next (the chain), KEYSTORE.key.next (the key, 0600) and
 * KEYSTORE.sa; a swap writes the keystore itself.
 */
static int
load_personal(struct personal_st *p, struct evc_err *err)
{
    const char *cert = p->conf->keystore != NULL ? p->conf->keystore : p->conf->cert;
    int r;

    if (p->conf->keystore != NULL) {
        if ((r = read_password(p->conf, &p->ks_password, err)) != 0 ||
            (r = evc_renew_keystore_load(p, err)) != 0) {
            return r;
        }
        if ((r = evc_key_check(leaf(p), p->key, err)) != 0) {
            return evc_err_set(err, r, "%s: the key of \"%s\" does not match its certificate",
                               p->conf->keystore, p->ks_alias);
        }
    } else {
        if ((r = read_chain(p->conf->cert, &p->chain, err)) != 0 ||
            (r = read_key(p->conf->key, &p->key, err)) != 0) {
            return r;
        }
        if ((r = evc_key_check(leaf(p), p->key, err)) != 0) {
            return evc_err_set(err, r, "%s does not match %s", p->conf->key, p->conf->cert);
        }
    }
    if ((size_t)snprintf(p->next_cert, sizeof(p->next_cert), "%s.next", cert) >=
            sizeof(p->next_cert) ||
        (size_t)snprintf(p->next_key, sizeof(p->next_key),
                         p->conf->keystore != NULL ? "%s.key.next" : "%s.next",
                         p->conf->keystore != NULL ? cert : p->conf->key) >= sizeof(p->next_key) ||
        (size_t)snprintf(p->sa_path, sizeof(p->sa_path), "%s.sa", cert) >= sizeof(p->sa_path)) {
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
check_distinct(const struct evc_store_conf *stores, size_t nstores, struct evc_err *err)
{
    struct file_id *ids = calloc(nstores * 4 + 1, sizeof(*ids));
    size_t n = 0;
    struct stat st;
    int r = 0;

    if (ids == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nstores; i++) {
        const char *f[4] = {stores[i].path, stores[i].cert, stores[i].key, stores[i].keystore};

        for (size_t k = 0; k < 4; k++) {
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
                            stores[ids[i].store].name, ids[i].path, ids[i - 1].path,
                            stores[ids[i - 1].store].name);
        }
    }
    free(ids);
    return r;
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

int
evc_renew_load(struct run *run, struct evc_err *err)
{
    const struct evc_renew_opts *o = run->o;
    int r;

    if (o->nstores > EVC_CONFIG_STORES_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "more than %d stores", EVC_CONFIG_STORES_MAX);
    }
    if ((r = check_distinct(o->stores, o->nstores, err)) != 0) {
        return r;
    }
    for (size_t i = 0; i < o->nstores; i++) {
        const struct evc_store_conf *s = &o->stores[i];
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

void
evc_renew_unload(struct run *run)
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
        free(run->pers[i].ks_alias);
        free_password(run->pers[i].ks_password);
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
