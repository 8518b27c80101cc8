/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Java keystore (JKS or JCEKS) as a trust store. Java's TrustManager
 * trusts a keystore's trusted certificate entries and the certificate of
 * each key entry, so those are the store's certificates. An added entry
 * is named evercert-<first 8 bytes of its SHA-256 in hex>, and only such
 * entries are ever removed; key entries, and every entry evercert did not
 * add, are copied through each change byte for byte, also when their
 * certificate is retired (the agent still keeps a copy in its deleted
 * store). The integrity
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
#include "store/trust_int.h"
#include "base/text.h"

/* The index of the trusted entry evercert added that holds the store's i-th certificate. */
static size_t
entry_of(const struct evc_trust *t, size_t i)
{
    long k = t->certs[i].file != NULL ? evc_jks_find(t->jks, t->certs[i].file) : -1;

    if (k < 0 || t->jks->entries[k].tag != EVC_JKS_TRUSTED) {
        return SIZE_MAX;
    }
    return (size_t)k;
}

/* One certificate of the keystore as a member of t, named by its entry's alias (or NULL). */
static int
add_cert(struct evc_trust *t, const uint8_t *der, size_t len, const char *alias)
{
    const unsigned char *p = der;
    X509 *x;
    int r;

    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
        X509_free(x);
        return EVC_ERR_BAD_DER;
    }
    r = evc_trust_push(t, x, alias, 1);
    X509_free(x);
    return r;
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

        /*
         * Java's trust manager also trusts the certificate of a key entry:
         * a member, read only (no alias given, so never removed).
         */
        if ((e->tag != EVC_JKS_TRUSTED && e->tag != EVC_JKS_KEY) || e->ncerts == 0) {
            continue;
        }
        if ((r = add_cert(t, t->jks->data + e->certs[0].off, e->certs[0].len,
                          e->tag == EVC_JKS_TRUSTED ? e->alias : NULL)) != 0) {
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
 * t->jks. t->certs finds its entries by alias, so they need not be in
 * step with the keystore's order.
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
    struct evc_trust_cert *c = &t->certs[t->n - 1];
    struct evc_jks_edit edit = {SIZE_MAX, x, SIZE_MAX, NULL, NULL, 0};
    char alias[32], hex[17];
    int r;

    evc_text_hex(c->sha256, 8, hex);
    (void)snprintf(alias, sizeof(alias), EVC_TRUST_OWN_PREFIX "%s", hex);
    if ((r = write_edit(t, &edit, err)) != 0) {
        return r;
    }
    free(c->file);
    if ((c->file = strdup(alias)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int
evc_trust_jks_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    struct evc_jks_edit edit = {SIZE_MAX, NULL, SIZE_MAX, NULL, NULL, 0};

    /* Not evercert's (a person's trusted entry, a key entry's certificate): it stays. */
    if (!evc_trust_own_name(t->certs[i].file)) {
        return 0;
    }
    /* Gone already (a person deleted it with keytool): nothing to do. */
    if ((edit.skip = entry_of(t, i)) == SIZE_MAX) {
        return 0;
    }
    return write_edit(t, &edit, err);
}
