/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trust stores behind one table of backends. A change touches only what
 * evercert adds or removes: a bundle gets one PEM block appended or cut and
 * keeps every other byte; a PKCS#12 file keeps every other safe and bag; a
 * hashed directory gets one new file per certificate and its <hash>.N
 * links rebuilt, numbered from 0 without gaps, because OpenSSL stops
 * looking at the first gap. Each file is replaced whole by
 * evc_atomic_write (temp file, fsync, rename), which keeps its mode and
 * owner and writes through a symbolic link.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/jks.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/pkcs12.h"
#include "evercert/store.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"
#include "store/nss.h"
#include "store/sysdir.h"
#include "store/jks.h"
#include "store/trust_int.h"

struct collect {
    STACK_OF(X509) * certs;
    int bad;
    struct evc_err *err;
};

static int
collect_cert(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct collect *c = arg;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);

    if (x == NULL || !sk_X509_push(c->certs, x)) {
        X509_free(x);
        c->bad = evc_err_openssl(c->err, EVC_ERR_BAD_DER, "certificate %zu is not valid",
                                 loc->index + 1);
        return 1;
    }
    return 0;
}

static int
collect_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *e)
{
    struct collect *c = arg;

    c->bad = evc_err_set(c->err, e->code, "certificate %zu%s%.0lu: %s", loc->index + 1,
                         loc->line != 0 ? " at line " : "", loc->line, evc_err_message(e));
    return 1;
}

int
evc_certs_parse(const uint8_t *data, size_t len, const char *password, STACK_OF(X509) * *out,
                struct evc_err *err)
{
    struct collect c = {sk_X509_new_null(), 0, err};
    struct evc_store_opts opts = {password};
    struct evc_cert_sink sink = {collect_cert, collect_bad, &c};
    int r;

    *out = NULL;
    if (c.certs == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    r = evc_store_read(data, len, &opts, &sink, NULL, err);
    if (r == 0 && c.bad != 0) {
        r = c.bad;
    }
    if (r == 0 && sk_X509_num(c.certs) == 0) {
        r = evc_err_set(err, EVC_ERR_UNKNOWN_FORMAT, "no certificate inside");
    }
    if (r != 0) {
        sk_X509_pop_free(c.certs, X509_free);
        return r;
    }
    *out = c.certs;
    return 0;
}

struct evc_trust_ops {
    const char *name;
    int (*load)(struct evc_trust *t, struct evc_err *err);
    int (*add)(struct evc_trust *t, X509 *x, struct evc_err *err);     /* after the push */
    int (*remove)(struct evc_trust *t, size_t i, struct evc_err *err); /* before the drop */
};

int
evc_trust_push(struct evc_trust *t, X509 *x, const char *file, int linked)
{
    struct evc_trust_cert *c = realloc(t->certs, (t->n + 1) * sizeof(*c));

    if (c == NULL) {
        return EVC_ERR_NOMEM;
    }
    t->certs = c;
    c = &t->certs[t->n];
    memset(c, 0, sizeof(*c));
    if (evc_x509_sha256(x, c->sha256) != 0 || (file != NULL && (c->file = strdup(file)) == NULL)) {
        return EVC_ERR_NOMEM;
    }
    X509_up_ref(x);
    c->x = x;
    c->linked = linked;
    t->n++;
    return 0;
}

int
evc_trust_own_name(const char *name)
{
    return name != NULL && strncmp(name, EVC_TRUST_OWN_PREFIX, strlen(EVC_TRUST_OWN_PREFIX)) == 0 &&
           strchr(name, '/') == NULL;
}

/* A certificate of a hashed directory is found once a link names it; elsewhere always. */
static int
push(struct evc_trust *t, X509 *x, const char *file)
{
    return evc_trust_push(t, x, file, file == NULL);
}

static int
push_all(struct evc_trust *t, STACK_OF(X509) * certs, const char *file, struct evc_err *err)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        if (push(t, sk_X509_value(certs, i), file) != 0) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

/*
 * The certificates of one file, each with the place of its block when the
 * file is PEM (then, if pem is set, the bytes are kept there too). A file
 * in another format is read whole.
 */
static int
load_file(struct evc_trust *t, const char *path, const char *file, struct evc_buf *pem,
          struct evc_err *err)
{
    struct evc_buf b;
    STACK_OF(X509) *certs = NULL;
    struct evc_pem_cert *v = NULL;
    size_t nv = 0;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_file_read(path, EVC_STORE_FILE_MAX, &b, err)) != 0) {
        goto out;
    }
    if (evc_format_detect(b.data, b.len) != EVC_FORMAT_PEM) {
        if ((r = evc_certs_parse(b.data, b.len, t->password, &certs, err)) == 0) {
            r = push_all(t, certs, file, err);
        }
        goto out;
    }
    if ((r = evc_pem_certs_parse(b.data, b.len, &v, &nv, err)) != 0) {
        goto out;
    }
    if (nv == 0) {
        r = evc_err_set(err, EVC_ERR_UNKNOWN_FORMAT, "no certificate inside");
        goto out;
    }
    for (size_t i = 0; i < nv; i++) {
        if (push(t, v[i].x, file) != 0) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        t->certs[t->n - 1].start = v[i].start;
        t->certs[t->n - 1].end = v[i].end;
    }
    if (pem != NULL) {
        struct evc_buf tmp = *pem;

        *pem = b;
        b = tmp;
    }
out:
    if (r != 0) {
        struct evc_err e = *err;

        evc_err_set(err, e.code, "%s: %s", path, evc_err_message(&e));
    }
    evc_pem_certs_free(v, nv);
    sk_X509_pop_free(certs, X509_free);
    evc_buf_free(&b);
    return r;
}

/* --- a PEM bundle: one block appended or cut, every other byte kept ----- */

static int
bundle_load(struct evc_trust *t, struct evc_err *err)
{
    struct stat st;

    /* A bundle a person emptied is an empty store, not garbage: renewal goes on around it. */
    if (stat(t->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        return 0;
    }
    return load_file(t, t->path, NULL, &t->pem, err);
}

/* A bundle that is not PEM (one DER certificate) has no bytes to keep: written whole. */
static int
bundle_write_whole(struct evc_trust *t, size_t skip, struct evc_err *err)
{
    struct evc_buf b;
    int r = 0;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    for (size_t i = 0; i < t->n && r == 0; i++) {
        if (i != skip) {
            r = evc_x509_pem(t->certs[i].x, &b, err);
        }
    }
    if (r == 0) {
        r = evc_atomic_write(t->path, b.data, b.len, 0644, err);
    }
    evc_buf_free(&b);
    return r;
}

/* Put b on disk; then it is what the bundle is. */
static int
bundle_commit(struct evc_trust *t, struct evc_buf *b, struct evc_err *err)
{
    struct evc_buf tmp;
    int r;

    if ((r = evc_atomic_write(t->path, b->data, b->len, 0644, err)) != 0) {
        return r;
    }
    tmp = t->pem;
    t->pem = *b;
    *b = tmp;
    return 0;
}

static int
bundle_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    struct evc_trust_cert *c = &t->certs[t->n - 1];
    struct evc_buf b;
    size_t start;
    int r;

    if (t->pem.len == 0) {
        return bundle_write_whole(t, t->n, err);
    }
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_buf_put(&b, t->pem.data, t->pem.len)) != 0 ||
        (t->pem.data[t->pem.len - 1] != '\n' && (r = evc_buf_putc(&b, '\n')) != 0)) {
        r = evc_err_set(err, r, "%s: %s", t->path, evc_strerror(r));
        goto out;
    }
    start = b.len;
    if ((r = evc_x509_pem(x, &b, err)) != 0 || (r = bundle_commit(t, &b, err)) != 0) {
        goto out;
    }
    c->start = start;
    c->end = t->pem.len;
out:
    evc_buf_free(&b);
    return r;
}

static int
bundle_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    size_t start = t->certs[i].start, end = t->certs[i].end;
    struct evc_buf b;
    int r;

    if (t->pem.len == 0) {
        return bundle_write_whole(t, i, err);
    }
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_buf_put(&b, t->pem.data, start)) != 0 ||
        (r = evc_buf_put(&b, t->pem.data + end, t->pem.len - end)) != 0) {
        r = evc_err_set(err, r, "%s: %s", t->path, evc_strerror(r));
        goto out;
    }
    if ((r = bundle_commit(t, &b, err)) != 0) {
        goto out;
    }
    for (size_t k = 0; k < t->n; k++) {
        if (t->certs[k].start >= end) {
            t->certs[k].start -= end - start;
            t->certs[k].end -= end - start;
        }
    }
out:
    evc_buf_free(&b);
    return r;
}

/* --- a PKCS#12 truststore: one bag added or taken out, the rest kept --- */

static int
pkcs12_load(struct evc_trust *t, struct evc_err *err)
{
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_file_read(t->path, EVC_STORE_FILE_MAX, &b, err)) != 0 ||
        (r = evc_pkcs12_doc_parse(b.data, b.len, t->password, &t->p12, err)) != 0) {
        goto out;
    }
    if (evc_pkcs12_doc_count(t->p12) == 0) {
        r = evc_err_set(err, EVC_ERR_UNKNOWN_FORMAT, "no certificate inside");
        goto out;
    }
    for (size_t i = 0; i < evc_pkcs12_doc_count(t->p12); i++) {
        if (push(t, evc_pkcs12_doc_get0(t->p12, i), NULL) != 0) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
out:
    if (r != 0) {
        struct evc_err e = *err;

        evc_err_set(err, e.code, "%s: %s", t->path, evc_err_message(&e));
    }
    evc_buf_free(&b);
    return r;
}

/* Write the store as it will be once certs[skip] is gone (skip = n for none) and add is in. */
static int
pkcs12_write(struct evc_trust *t, size_t skip, X509 *add, struct evc_err *err)
{
    struct evc_pkcs12_doc *d = NULL;
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_pkcs12_doc_encode(t->p12, skip, add, &b, err)) == 0 &&
        (r = evc_atomic_write(t->path, b.data, b.len, 0644, err)) == 0 &&
        (r = evc_pkcs12_doc_parse(b.data, b.len, t->password, &d, err)) == 0) {
        evc_pkcs12_doc_free(t->p12);
        t->p12 = d;
    }
    evc_buf_free(&b);
    return r;
}

static int
pkcs12_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    return pkcs12_write(t, SIZE_MAX, x, err);
}

static int
pkcs12_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    return pkcs12_write(t, i, NULL, err);
}

/* --- an OpenSSL hashed directory --------------------------------------- */

/* "5ed36f99.0": eight hex digits, a dot, a number. */
static int
is_hash_link_name(const char *n)
{
    size_t i;

    for (i = 0; i < 8; i++) {
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f'))) {
            return 0;
        }
    }
    if (n[8] != '.' || n[9] == '\0') {
        return 0;
    }
    return strspn(n + 9, "0123456789") == strlen(n + 9);
}

/* What is at <hash>.k: 0 nothing, 1 a link, 2 something else (a file of the user's own). */
static int
slot_kind(const char *dir, unsigned long h, unsigned long k, char *name, size_t namesz)
{
    char p[EVC_PATH_MAX];
    struct stat st;

    (void)evc_path_fmt(name, namesz, "%08lx.%lu", h, k);
    if (evc_path_fmt(p, sizeof(p), "%s/%s", dir, name) != 0 || lstat(p, &st) == -1) {
        return 0;
    }
    return S_ISLNK(st.st_mode) ? 1 : 2;
}

/*
 * A file that no <hash>.N link names is invisible to OpenSSL: a run that
 * stopped between writing it and linking it. It counts as absent, so the
 * next add writes and links it again. A regular file named <hash>.N (as
 * c_rehash makes where links are not possible) names itself.
 */
static void
mark_linked(struct evc_trust *t)
{
    char link[EVC_PATH_MAX], target[EVC_PATH_MAX], name[32];

    for (size_t i = 0; i < t->n; i++) {
        unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(t->certs[i].x), NULL, NULL, NULL);

        for (unsigned long k = 0; !t->certs[i].linked; k++) {
            ssize_t n;
            int kind = slot_kind(t->path, h, k, name, sizeof(name));

            if (kind == 0) {
                break;
            }
            if (kind == 2) {
                t->certs[i].linked = strcmp(name, t->certs[i].file) == 0;
                continue;
            }
            if (evc_path_fmt(link, sizeof(link), "%s/%s", t->path, name) != 0 ||
                (n = readlink(link, target, sizeof(target) - 1)) < 0) {
                break;
            }
            target[n] = '\0';
            t->certs[i].linked = strcmp(target, t->certs[i].file) == 0;
        }
    }
}

static int
hashdir_load(struct evc_trust *t, struct evc_err *err)
{
    DIR *d;
    struct dirent *de;
    char p[EVC_PATH_MAX];
    struct stat st;
    int r = 0;

    if ((d = opendir(t->path)) == NULL) {
        return evc_err_set(err, evc_errno_code(errno), "%s: %s", t->path, strerror(errno));
    }
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", t->path, de->d_name);
        if (lstat(p, &st) == -1) {
            r = evc_err_set(err, evc_errno_code(errno), "%s: %s", p, strerror(errno));
        } else if (S_ISLNK(st.st_mode) && is_hash_link_name(de->d_name)) {
            continue; /* rebuilt from the files */
        } else {
            r = load_file(t, p, de->d_name, NULL, err);
        }
    }
    closedir(d);
    if (r == 0) {
        mark_linked(t);
    }
    return r;
}

/*
 * Rebuild the <hash>.N links for the files whose certificates have this
 * subject hash, numbered from 0 without gaps. Only links change: a regular
 * file of the user's own named <hash>.N keeps its name and its place, and
 * the links number around it.
 */
static int
rehash(struct evc_trust *t, unsigned long h, size_t skip, struct evc_err *err)
{
    char link[EVC_PATH_MAX], name[32];
    unsigned long k = 0;
    int kind, r;

    for (size_t i = 0; i < t->n; i++) {
        if (i == skip ||
            X509_NAME_hash_ex(X509_get_subject_name(t->certs[i].x), NULL, NULL, NULL) != h ||
            (is_hash_link_name(t->certs[i].file) && strtoul(t->certs[i].file, NULL, 16) == h)) {
            continue;
        }
        /* One link per file, however many of its certificates share the hash. */
        size_t j;

        for (j = 0; j < i; j++) {
            if (j != skip && strcmp(t->certs[j].file, t->certs[i].file) == 0 &&
                X509_NAME_hash_ex(X509_get_subject_name(t->certs[j].x), NULL, NULL, NULL) == h) {
                break;
            }
        }
        if (j < i) {
            continue;
        }
        while (slot_kind(t->path, h, k, name, sizeof(name)) == 2) {
            k++;
        }
        (void)evc_path_fmt(link, sizeof(link), "%s/%s", t->path, name);
        if ((r = evc_atomic_symlink(t->certs[i].file, link, err)) != 0) {
            return r;
        }
        t->certs[i].linked = 1;
        k++;
    }
    /* Links past the last one are stale; the numbering ends at the first empty name. */
    for (;; k++) {
        if ((kind = slot_kind(t->path, h, k, name, sizeof(name))) == 0) {
            return 0;
        }
        (void)evc_path_fmt(link, sizeof(link), "%s/%s", t->path, name);
        if (kind == 1 && (r = evc_durable_unlink(link, err)) != 0) {
            return r;
        }
    }
}

static int
hashdir_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    struct evc_trust_cert *c = &t->certs[t->n - 1];
    char name[64], p[EVC_PATH_MAX], hex[17];
    struct evc_buf b;
    int r;

    evc_text_hex(c->sha256, 8, hex);
    snprintf(name, sizeof(name), "evercert-%s.pem", hex);
    snprintf(p, sizeof(p), "%s/%s", t->path, name);
    free(c->file);
    if ((c->file = strdup(name)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    evc_buf_init(&b, EVC_CERT_DER_MAX * 2);
    if ((r = evc_x509_pem(x, &b, err)) == 0 &&
        (r = evc_atomic_write(p, b.data, b.len, 0644, err)) == 0) {
        r = rehash(t, X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, NULL), t->n, err);
    }
    evc_buf_free(&b);
    return r;
}

int
evc_trust_cut_block(const char *p, const uint8_t sha256[32], struct evc_err *err)
{
    struct evc_buf in, out;
    struct evc_pem_cert *v = NULL;
    size_t nv = 0, i;
    uint8_t fp[32];
    int r;

    evc_buf_init(&in, EVC_STORE_FILE_MAX);
    evc_buf_init(&out, EVC_STORE_FILE_MAX);
    if ((r = evc_file_read(p, EVC_STORE_FILE_MAX, &in, err)) != 0 ||
        (r = evc_pem_certs_parse(in.data, in.len, &v, &nv, err)) != 0) {
        struct evc_err e = *err;

        evc_err_set(err, e.code, "%s: %s", p, evc_err_message(&e));
        goto out;
    }
    for (i = 0; i < nv; i++) {
        if (evc_x509_sha256(v[i].x, fp) == 0 && CRYPTO_memcmp(fp, sha256, 32) == 0) {
            break;
        }
    }
    if (i == nv) {
        r = evc_err_set(err, EVC_ERR_USAGE, "%s: the certificate is not (or no longer) there", p);
        goto out;
    }
    if ((r = evc_buf_put(&out, in.data, v[i].start)) != 0 ||
        (r = evc_buf_put(&out, in.data + v[i].end, in.len - v[i].end)) != 0) {
        r = evc_err_set(err, r, "%s: %s", p, evc_strerror(r));
        goto out;
    }
    r = evc_atomic_write(p, out.data, out.len, 0644, err);
out:
    evc_pem_certs_free(v, nv);
    evc_buf_free(&in);
    evc_buf_free(&out);
    return r;
}

static int
hashdir_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(t->certs[i].x), NULL, NULL, NULL);
    char p[EVC_PATH_MAX];
    int r = 0, others = 0;

    snprintf(p, sizeof(p), "%s/%s", t->path, t->certs[i].file);
    /* Links first: a link to a file that is gone would end OpenSSL's search. */
    if ((r = rehash(t, h, i, err)) != 0) {
        return r;
    }
    for (size_t k = 0; k < t->n; k++) {
        others = others || (k != i && strcmp(t->certs[k].file, t->certs[i].file) == 0);
    }
    /* A file that holds others too loses that block only; one that holds it alone goes. */
    if ((r = others ? evc_trust_cut_block(p, t->certs[i].sha256, err)
                    : evc_durable_unlink(p, err)) != 0) {
        return r;
    }
    /* A file that was itself <hash>.N leaves a gap OpenSSL would stop at: the links move up. */
    if (!others && is_hash_link_name(t->certs[i].file)) {
        r = rehash(t, h, i, err);
    }
    return r;
}

/* The rows of trust_ops. */
enum { TRUST_BUNDLE, TRUST_HASHDIR, TRUST_PKCS12, TRUST_NSS, TRUST_SYSTEM, TRUST_JKS };

static const struct evc_trust_ops trust_ops[] = {
    {"PEM bundle", bundle_load, bundle_add, bundle_remove},
    {"hashed directory", hashdir_load, hashdir_add, hashdir_remove},
    {"PKCS#12", pkcs12_load, pkcs12_add, pkcs12_remove},
    {"NSS database", evc_nss_load, evc_nss_add, evc_nss_remove},
    {"system directory", evc_trust_sysdir_load, evc_trust_sysdir_add, evc_trust_sysdir_remove},
    {"JKS", evc_trust_jks_load, evc_trust_jks_add, evc_trust_jks_remove},
};

int
evc_trust_load(const char *path, const char *password, struct evc_trust **out, struct evc_err *err)
{
    struct evc_trust *t = NULL;
    struct stat st;
    struct evc_buf head;
    const struct evc_trust_ops *ops = NULL;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    evc_buf_init(&head, EVC_STORE_FILE_MAX);
    /*
     * "nss:DIR" and "sql:DIR" (NSS's own spelling) name an NSS database whatever DIR holds;
     * "system:DIR" a system trust directory, which no content tells from a hashed one.
     */
    if (evc_nss_path(path) != NULL) {
        path = evc_nss_path(path);
        ops = &trust_ops[TRUST_NSS];
    } else if (strncmp(path, EVC_TRUST_SYSDIR_PREFIX, strlen(EVC_TRUST_SYSDIR_PREFIX)) == 0) {
        path += strlen(EVC_TRUST_SYSDIR_PREFIX);
        ops = &trust_ops[TRUST_SYSTEM];
    }
    if (stat(path, &st) == -1) {
        return evc_err_set(err, evc_errno_code(errno), "%s: %s", path, strerror(errno));
    }
    if ((t = calloc(1, sizeof(*t))) != NULL) {
        evc_buf_init(&t->pem, EVC_STORE_FILE_MAX);
    }
    if (t == NULL || (t->path = strdup(path)) == NULL ||
        (password != NULL && (t->password = strdup(password)) == NULL)) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ops == &trust_ops[TRUST_SYSTEM] && !S_ISDIR(st.st_mode)) {
        r = evc_err_set(err, EVC_ERR_USAGE, "%s: a system trust store is a directory", path);
        goto out;
    }
    if (ops != NULL) {
        t->ops = ops;
    } else if (S_ISDIR(st.st_mode) && evc_nss_detect(path)) {
        t->ops = &trust_ops[TRUST_NSS];
    } else if (S_ISDIR(st.st_mode)) {
        t->ops = &trust_ops[TRUST_HASHDIR];
    } else {
        if ((r = evc_file_read(path, EVC_STORE_FILE_MAX, &head, err)) != 0) {
            evc_err_set(err, r, "%s: %s", path, evc_err_message(err));
            goto out;
        }
        enum evc_format f = evc_format_detect(head.data, head.len);

        t->ops = f == EVC_FORMAT_PKCS12                         ? &trust_ops[TRUST_PKCS12]
                 : f == EVC_FORMAT_JKS || f == EVC_FORMAT_JCEKS ? &trust_ops[TRUST_JKS]
                                                                : &trust_ops[TRUST_BUNDLE];
    }
    if ((r = t->ops->load(t, err)) != 0) {
        goto out;
    }
    *out = t;
    t = NULL;
    r = 0;
out:
    evc_buf_free(&head);
    evc_trust_free(t);
    return r;
}

int
evc_trust_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    int r;

    if (push(t, x, t->ops == &trust_ops[TRUST_HASHDIR] ? "" : NULL) != 0) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if ((r = t->ops->add(t, x, err)) != 0) {
        /* Forget it again: the disk did not change or holds a state the next load reads. */
        t->n--;
        X509_free(t->certs[t->n].x);
        free(t->certs[t->n].file);
    }
    return r;
}

int
evc_trust_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    int r;

    if (i >= t->n) {
        return evc_err_set(err, EVC_ERR_USAGE, "no such certificate");
    }
    if ((r = t->ops->remove(t, i, err)) != 0) {
        return r;
    }
    X509_free(t->certs[i].x);
    free(t->certs[i].file);
    memmove(&t->certs[i], &t->certs[i + 1], (t->n - i - 1) * sizeof(t->certs[0]));
    t->n--;
    return 0;
}

long
evc_trust_find(const struct evc_trust *t, const uint8_t sha256[32])
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->certs[i].linked && CRYPTO_memcmp(t->certs[i].sha256, sha256, 32) == 0) {
            return (long)i;
        }
    }
    return -1;
}

const char *
evc_trust_format(const struct evc_trust *t)
{
    return t->ops->name;
}

void
evc_trust_free(struct evc_trust *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        X509_free(t->certs[i].x);
        free(t->certs[i].file);
    }
    free(t->certs);
    evc_buf_free(&t->pem);
    evc_pkcs12_doc_free(t->p12);
    evc_jks_free(t->jks);
    if (t->password != NULL) {
        OPENSSL_cleanse(t->password, strlen(t->password));
        free(t->password);
    }
    free(t->path);
    free(t);
}
