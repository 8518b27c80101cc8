/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Java keystore (JKS or JCEKS) as a trust store. Java's TrustManager
 * trusts a keystore's trusted certificate entries, so those are the
 * store's certificates; key entries, and every entry evercert did not
 * add, are copied through each change byte for byte. An added entry is
 * named evercert-<first 8 bytes of its SHA-256 in hex>. The integrity
 * digest needs the password (password_file): without one the store is
 * read, as keytool lists it, but never written.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "base/atomic.h"
#include "base/file.h"
#include "evercert/jks.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "store/jks.h"

/* The index of the keystore entry that holds the store's i-th certificate. */
static size_t
entry_of(const struct evc_jks *ks, size_t i)
{
    for (size_t k = 0; k < ks->n; k++) {
        if (ks->entries[k].tag == EVC_JKS_TRUSTED && i-- == 0) {
            return k;
        }
    }
    return SIZE_MAX;
}

static int
add_cert(struct evc_trust *t, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    struct evc_trust_cert *c;
    X509 *x;

    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
        X509_free(x);
        return EVC_ERR_BAD_DER;
    }
    if ((c = realloc(t->certs, (t->n + 1) * sizeof(*c))) == NULL) {
        X509_free(x);
        return EVC_ERR_NOMEM;
    }
    t->certs = c;
    c = &t->certs[t->n];
    memset(c, 0, sizeof(*c));
    c->x = x;
    c->linked = 1;
    t->n++;
    return evc_x509_sha256(x, c->sha256) != 0 ? EVC_ERR_NOMEM : 0;
}

/* Read the keystore bytes into t: t->jks and its trusted entries as t->certs. */
static int
take(struct evc_trust *t, const uint8_t *data, size_t len, struct evc_err *err)
{
    int r;

    if ((r = evc_jks_parse(data, len, t->password, &t->jks, err)) != 0) {
        return r;
    }
    for (size_t i = 0; i < t->jks->n; i++) {
        const struct evc_jks_entry *e = &t->jks->entries[i];

        if (e->tag != EVC_JKS_TRUSTED) {
            continue;
        }
        if ((r = add_cert(t, t->jks->data + e->certs[0].off, e->certs[0].len)) != 0) {
            return evc_err_set(err, r, "entry %s: %s", e->alias,
                               r == EVC_ERR_BAD_DER ? "not a valid certificate" : evc_strerror(r));
        }
    }
    return 0;
}

int
evc_trust_jks_load(struct evc_trust *t, struct evc_err *err)
{
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_file_read(t->path, EVC_STORE_FILE_MAX, &b, err)) == 0) {
        r = take(t, b.data, b.len, err);
    }
    if (r != 0) {
        struct evc_err e = *err;

        evc_err_set(err, e.code, "%s: %s", t->path, evc_err_message(&e));
    }
    evc_buf_free(&b);
    return r;
}

/*
 * Write the keystore with edit applied and keep what was written as
 * t->jks. The store layer keeps t->certs in step: an added certificate is
 * its last, as the added entry is the keystore's last trusted one; a
 * removed one leaves both lists at the same place.
 */
static int
write_edit(struct evc_trust *t, struct evc_jks_edit *edit, struct evc_err *err)
{
    struct evc_jks *ks = NULL;
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    edit->now_ms = (uint64_t)time(NULL) * 1000;
    if ((r = evc_jks_encode(t->jks, edit, t->password, &b, err)) == 0 &&
        (r = evc_jks_parse(b.data, b.len, t->password, &ks, err)) == 0 &&
        (r = evc_atomic_write(t->path, b.data, b.len, 0644, err)) == 0) {
        evc_jks_free(t->jks);
        t->jks = ks;
        ks = NULL;
    }
    if (r != 0) {
        struct evc_err e = *err;

        evc_err_set(err, e.code, "%s: %s", t->path, evc_err_message(&e));
    }
    evc_jks_free(ks);
    evc_buf_free(&b);
    return r;
}

int
evc_trust_jks_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    struct evc_jks_edit edit = {SIZE_MAX, x, SIZE_MAX, NULL, NULL, 0};

    return write_edit(t, &edit, err);
}

int
evc_trust_jks_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    struct evc_jks_edit edit = {entry_of(t->jks, i), NULL, SIZE_MAX, NULL, NULL, 0};

    if (edit.skip == SIZE_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "%s: no such entry", t->path);
    }
    return write_edit(t, &edit, err);
}
