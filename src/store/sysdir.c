/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The system trust store's source directory (trust format "system"): a
 * directory of one PEM .crt file per certificate, as Debian's
 * update-ca-certificates reads /usr/local/share/ca-certificates and
 * p11-kit reads /etc/ca-certificates/trust-source/anchors. evercert's own
 * files are named evercert-<first 8 bytes of the SHA-256 in hex>.crt;
 * every other file is read for the trust it gives and left as it is, also
 * when a certificate in it is retired (the agent still keeps a copy in its
 * deleted store; the file is the person's to remove). There are no hash
 * links: the system's own tool builds what applications read from this
 * directory, and the store's after_change runs it (update-ca-certificates,
 * trust extract-compat). Files are 0644, written atomically and durably.
 * What is read is what update-ca-certificates reads (find -L DIR -name
 * '*.crt'): files named *.crt, in subdirectories too (at most
 * EVC_SYSDIR_DEPTH_MAX levels and EVC_SYSDIR_FILES_MAX files), symbolic
 * links followed, a loop refused.
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
#include "store/trust_int.h"

/* The names update-ca-certificates takes (find -L DIR -name '*.crt'): dot files too. */
static int
is_cert_name(const char *n)
{
    size_t len = strlen(n);

    return len >= 4 && strcmp(n + len - 4, ".crt") == 0;
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
            r = evc_trust_push(t, sk_X509_value(certs, i), name, 1);
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
            r = evc_trust_push(t, v[i].x, name, 1);
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

/* A walk through the directory tree: the directories above, to refuse a loop, and the count. */
struct walk {
    dev_t dev[EVC_SYSDIR_DEPTH_MAX + 1];
    ino_t ino[EVC_SYSDIR_DEPTH_MAX + 1];
    size_t files;
};

/*
 * Every *.crt file under dir (rel: its name below t->path, "" at the top),
 * symbolic links followed as find -L follows them. A link that points
 * nowhere is skipped, as the system tool finds nothing to read there.
 */
static int
walk_dir(struct evc_trust *t, struct walk *w, const char *dir, const char *rel, size_t depth,
         struct evc_err *err)
{
    DIR *d;
    struct dirent *de;
    char p[EVC_PATH_MAX], name[EVC_PATH_MAX];
    struct stat st;
    int r = 0;

    if ((d = opendir(dir)) == NULL) {
        return evc_err_set(err, evc_errno_code(errno), "%s: %s", dir, strerror(errno));
    }
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (evc_path_fmt(p, sizeof(p), "%s/%s", dir, de->d_name) != 0 ||
            evc_path_fmt(name, sizeof(name), "%s%s%s", rel, *rel != '\0' ? "/" : "", de->d_name) !=
                0) {
            r = evc_err_set(err, EVC_ERR_LIMIT, "%s/%s: the path is too long", dir, de->d_name);
        } else if (stat(p, &st) == -1) {
            if (errno != ENOENT || lstat(p, &st) == -1 || !S_ISLNK(st.st_mode)) {
                r = evc_err_set(err, evc_errno_code(errno), "%s: %s", p, strerror(errno));
            }
        } else if (S_ISDIR(st.st_mode)) {
            for (size_t k = 0; k <= depth && r == 0; k++) {
                if (w->dev[k] == st.st_dev && w->ino[k] == st.st_ino) {
                    r = evc_err_set(err, EVC_ERR_USAGE,
                                    "%s: a symbolic link loop (a directory inside itself)", p);
                }
            }
            if (r == 0 && depth + 1 > EVC_SYSDIR_DEPTH_MAX) {
                r = evc_err_set(err, EVC_ERR_LIMIT, "%s: more than %d directory levels", p,
                                EVC_SYSDIR_DEPTH_MAX);
            }
            if (r == 0) {
                w->dev[depth + 1] = st.st_dev;
                w->ino[depth + 1] = st.st_ino;
                r = walk_dir(t, w, p, name, depth + 1, err);
            }
        } else if (S_ISREG(st.st_mode) && is_cert_name(de->d_name)) {
            if (++w->files > EVC_SYSDIR_FILES_MAX) {
                r = evc_err_set(err, EVC_ERR_LIMIT, "%s: more than %d certificate files", t->path,
                                EVC_SYSDIR_FILES_MAX);
            } else {
                r = load_one(t, p, name, err);
            }
        }
    }
    closedir(d);
    return r;
}

int
evc_trust_sysdir_load(struct evc_trust *t, struct evc_err *err)
{
    struct walk *w = calloc(1, sizeof(*w));
    struct stat st;
    int r;

    if (w == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if (stat(t->path, &st) == -1) {
        r = evc_err_set(err, evc_errno_code(errno), "%s: %s", t->path, strerror(errno));
    } else {
        w->dev[0] = st.st_dev;
        w->ino[0] = st.st_ino;
        r = walk_dir(t, w, t->path, "", 0, err);
    }
    free(w);
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

int
evc_trust_sysdir_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    char p[EVC_PATH_MAX];
    int others = 0;

    /* Not evercert's: a person's file stays whole, as the NSS backend keeps a person's entry. */
    if (!evc_trust_own_name(t->certs[i].file)) {
        return 0;
    }
    if (evc_path_fmt(p, sizeof(p), "%s/%s", t->path, t->certs[i].file) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: the path is too long", t->path);
    }
    for (size_t k = 0; k < t->n; k++) {
        others = others || (k != i && strcmp(t->certs[k].file, t->certs[i].file) == 0);
    }
    /* A file that holds others too loses that block only; one that holds it alone goes. */
    return others ? evc_trust_cut_block(p, t->certs[i].sha256, err) : evc_durable_unlink(p, err);
}
