/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deleted store: what renewal replaced, kept for deleted_retention.
 * One PEM file per certificate, named by its SHA-256, so keeping the same
 * certificate twice (a re-run after a crash) changes nothing. The first
 * lines say when, from which store and why; PEM readers skip them.
 * Certificates only: a replaced private key is not kept anywhere. A
 * directory that does not exist yet is an empty store, created (0700) with
 * its first entry, so a configuration needs no mkdir before its first run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"

#define HEADER "deleted-at: "

int
evc_deleted_header_parse(const char *text, size_t len, evc_time *deleted_at)
{
    char t[64];
    size_t n = strlen(HEADER), end;

    if (len < n || memcmp(text, HEADER, n) != 0) {
        return EVC_ERR_PARSE;
    }
    for (end = n; end < len && text[end] != '\n'; end++) {
    }
    if (end - n == 0 || end - n >= sizeof(t)) {
        return EVC_ERR_PARSE;
    }
    memcpy(t, text + n, end - n);
    t[end - n] = '\0';
    return evc_time_parse(t, deleted_at) == 0 ? 0 : EVC_ERR_PARSE;
}

static int
add_entry(struct evc_deleted *d, const char *name, evc_time when, X509 *x)
{
    struct evc_deleted_entry *e = realloc(d->entries, (d->n + 1) * sizeof(*e));

    if (e == NULL) {
        return EVC_ERR_NOMEM;
    }
    d->entries = e;
    e = &d->entries[d->n];
    if ((e->file = strdup(name)) == NULL) {
        return EVC_ERR_NOMEM;
    }
    e->deleted_at = when;
    e->x = x;
    d->n++;
    return 0;
}

int
evc_deleted_load(const char *path, struct evc_deleted **out, struct evc_err *err)
{
    struct evc_deleted *d = NULL;
    DIR *dir = NULL;
    struct dirent *de;
    struct evc_buf b;
    char p[EVC_PATH_MAX];
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    evc_buf_init(&b, EVC_CERT_DER_MAX * 2);
    if ((d = calloc(1, sizeof(*d))) == NULL || (d->path = strdup(path)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((dir = opendir(path)) == NULL) {
        if (errno == ENOENT) {
            /* Nothing kept yet: the directory comes with the first entry. */
            *out = d;
            d = NULL;
            r = 0;
            goto out;
        }
        r = evc_err_set(err, evc_errno_code(errno), "%s: %s", path, strerror(errno));
        goto out;
    }
    while ((de = readdir(dir)) != NULL) {
        evc_time when;
        STACK_OF(X509) *certs = NULL;
        size_t nl = strlen(de->d_name);

        if (de->d_name[0] == '.' || nl < 4 || strcmp(de->d_name + nl - 4, ".pem") != 0) {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        if ((r = evc_file_read(p, EVC_CERT_DER_MAX * 2, &b, err)) != 0) {
            evc_err_set(err, r, "%s: %s", p, evc_err_message(err));
            goto out;
        }
        if (evc_deleted_header_parse((const char *)b.data, b.len, &when) != 0) {
            r = evc_err_set(err, EVC_ERR_PARSE, "%s: no '" HEADER "TIME' first line", p);
            goto out;
        }
        if ((r = evc_certs_parse(b.data, b.len, NULL, &certs, err)) != 0) {
            evc_err_set(err, r, "%s: %s", p, evc_err_message(err));
            goto out;
        }
        r = add_entry(d, de->d_name, when, sk_X509_shift(certs));
        sk_X509_pop_free(certs, X509_free);
        if (r != 0) {
            r = evc_err_set(err, r, "out of memory");
            goto out;
        }
    }
    *out = d;
    d = NULL;
    r = 0;
out:
    if (dir != NULL) {
        closedir(dir);
    }
    evc_buf_free(&b);
    evc_deleted_free(d);
    return r;
}

int
evc_deleted_put(struct evc_deleted *d, X509 *x, const char *store, const char *reason, evc_time now,
                struct evc_err *err)
{
    uint8_t fp[32];
    char hex[65], name[80], p[EVC_PATH_MAX], when[EVC_TIME_TEXT_MAX];
    struct evc_buf b;
    struct stat st;
    int r;

    if (evc_x509_sha256(x, fp) != 0) {
        return evc_err_set(err, EVC_ERR_CRYPTO, "cannot hash a certificate");
    }
    evc_text_hex(fp, 32, hex);
    snprintf(name, sizeof(name), "%s.pem", hex);
    snprintf(p, sizeof(p), "%s/%s", d->path, name);
    if (lstat(p, &st) == 0) {
        return 0;
    }
    /* Created only when needed, 0700: what was replaced is nobody else's business. */
    if (lstat(d->path, &st) == -1 && errno == ENOENT && (r = evc_mkdirs(d->path, 0700, err)) != 0) {
        return r;
    }
    evc_time_format(now, when);
    evc_buf_init(&b, EVC_CERT_DER_MAX * 2);
    if ((r = evc_buf_printf(&b, HEADER "%s\nstore: %s\nreason: %s\n", when, store, reason)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
    } else if ((r = evc_x509_pem(x, &b, err)) == 0 &&
               (r = evc_atomic_write(p, b.data, b.len, 0644, err)) == 0) {
        X509_up_ref(x);
        if (add_entry(d, name, now, x) != 0) {
            X509_free(x);
        }
    }
    evc_buf_free(&b);
    return r;
}

int
evc_deleted_purge(struct evc_deleted *d, size_t i, struct evc_err *err)
{
    char p[EVC_PATH_MAX];
    int r;

    if (i >= d->n) {
        return evc_err_set(err, EVC_ERR_USAGE, "no such entry");
    }
    snprintf(p, sizeof(p), "%s/%s", d->path, d->entries[i].file);
    if ((r = evc_durable_unlink(p, err)) != 0) {
        return r;
    }
    X509_free(d->entries[i].x);
    d->entries[i].x = NULL;
    return 0;
}

void
evc_deleted_free(struct evc_deleted *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        X509_free(d->entries[i].x);
        free(d->entries[i].file);
    }
    free(d->entries);
    free(d->path);
    free(d);
}
