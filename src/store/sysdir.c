/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The system trust store's source directory (trust format "system"): a
 * directory of one PEM .crt file per certificate, as Debian's
 * update-ca-certificates reads /usr/local/share/ca-certificates and
 * p11-kit reads /etc/ca-certificates/trust-source/anchors. evercert's own
 * files are named evercert-<first 8 bytes of the SHA-256 in hex>.crt;
 * every other file is read for the trust it gives and left as it is,
 * except that a retired certificate in a person's file goes with its file
 * (or with its block, when the file holds others). There are no hash
 * links: the system's own tool builds what applications read from this
 * directory, and the store's after_change runs it (update-ca-certificates,
 * trust extract-compat). Files are 0644, written atomically and durably.
 * Subdirectories and files not named *.crt or *.pem are not read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/certfile.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"
#include "store/sysdir.h"

static int
push(struct evc_trust *t, X509 *x, const char *file)
{
    struct evc_trust_cert *c = realloc(t->certs, (t->n + 1) * sizeof(*c));

    if (c == NULL) {
        return EVC_ERR_NOMEM;
    }
    t->certs = c;
    c = &t->certs[t->n];
    memset(c, 0, sizeof(*c));
    if (evc_x509_sha256(x, c->sha256) != 0 || (c->file = strdup(file)) == NULL) {
        free(c->file);
        return EVC_ERR_NOMEM;
    }
    X509_up_ref(x);
    c->x = x;
    /* No links to make: whatever is in the directory is what the system tool reads. */
    c->linked = 1;
    t->n++;
    return 0;
}

/* The names the system tools take: update-ca-certificates reads *.crt only. */
static int
is_cert_name(const char *n)
{
    size_t len = strlen(n);

    return n[0] != '.' && len > 4 &&
           (strcmp(n + len - 4, ".crt") == 0 || strcmp(n + len - 4, ".pem") == 0);
}

static int
load_one(struct evc_trust *t, const char *path, const char *name, struct evc_err *err)
{
    struct evc_buf b;
    struct evc_pem_cert *v = NULL;
    STACK_OF(X509) *certs = NULL;
    size_t nv = 0;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_file_read(path, EVC_STORE_FILE_MAX, &b, err)) != 0) {
        goto out;
    }
    if (evc_format_detect(b.data, b.len) != EVC_FORMAT_PEM) {
        /* One DER certificate (p11-kit takes those); it goes with its file. */
        if ((r = evc_certs_parse(b.data, b.len, NULL, &certs, err)) != 0) {
            goto out;
        }
        for (int i = 0; i < sk_X509_num(certs) && r == 0; i++) {
            r = push(t, sk_X509_value(certs, i), name);
        }
    } else {
        if ((r = evc_pem_certs_parse(b.data, b.len, &v, &nv, err)) != 0) {
            goto out;
        }
        if (nv == 0) {
            r = evc_err_set(err, EVC_ERR_UNKNOWN_FORMAT, "no certificate inside");
            goto out;
        }
        for (size_t i = 0; i < nv && r == 0; i++) {
            r = push(t, v[i].x, name);
        }
    }
    if (r != 0) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
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

int
evc_trust_sysdir_load(struct evc_trust *t, struct evc_err *err)
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
        if (!is_cert_name(de->d_name)) {
            continue;
        }
        if (evc_path_fmt(p, sizeof(p), "%s/%s", t->path, de->d_name) != 0) {
            r = evc_err_set(err, EVC_ERR_LIMIT, "%s/%s: the path is too long", t->path, de->d_name);
        } else if (stat(p, &st) == -1) {
            r = evc_err_set(err, evc_errno_code(errno), "%s: %s", p, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            r = load_one(t, p, de->d_name, err);
        }
    }
    closedir(d);
    return r;
}

int
evc_trust_sysdir_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    struct evc_trust_cert *c = &t->certs[t->n - 1];
    char name[64], p[EVC_PATH_MAX], hex[17];
    struct evc_buf b;
    int r;

    evc_text_hex(c->sha256, 8, hex);
    snprintf(name, sizeof(name), "evercert-%s.crt", hex);
    if (evc_path_fmt(p, sizeof(p), "%s/%s", t->path, name) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: the path is too long", t->path);
    }
    free(c->file);
    if ((c->file = strdup(name)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    evc_buf_init(&b, EVC_CERT_DER_MAX * 2);
    if ((r = evc_x509_pem(x, &b, err)) == 0) {
        r = evc_atomic_write(p, b.data, b.len, 0644, err);
    }
    evc_buf_free(&b);
    return r;
}

/* Cut the block of the certificate with this SHA-256 out of the PEM file at p. */
static int
cut_block(const char *p, const uint8_t sha256[32], struct evc_err *err)
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

int
evc_trust_sysdir_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    char p[EVC_PATH_MAX];
    int others = 0;

    if (evc_path_fmt(p, sizeof(p), "%s/%s", t->path, t->certs[i].file) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: the path is too long", t->path);
    }
    for (size_t k = 0; k < t->n; k++) {
        others = others || (k != i && strcmp(t->certs[k].file, t->certs[i].file) == 0);
    }
    /* A file that holds others too loses that block only; one that holds it alone goes. */
    return others ? cut_block(p, t->certs[i].sha256, err) : evc_durable_unlink(p, err);
}
