/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Personal stores kept in a keystore, as Tomcat and WebSphere keep their
 * server key: a JKS or PKCS#12 file (told by its content) holding the key
 * and its chain under an alias. The key entry is read and, at a swap,
 * replaced in one atomic write of the whole file, under the same alias.
 *
 * A JKS keystore keeps every other entry byte for byte (evc_jks_encode).
 * A PKCS#12 keystore is written whole by OpenSSL (AES-256 and a SHA-256
 * MAC, which Java reads since 8u301), so one that holds anything but its
 * key entry and that entry's chain is refused rather than thinned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "base/file.h"
#include "ca/renew_int.h"
#include "evercert/jks.h"
#include "evercert/keys.h"
#include "evercert/pkcs12.h"

/* Java's attribute on a PKCS#12 trusted certificate entry. */
#define JAVA_TRUSTED_OID "2.16.840.1.113894.746875.1.1"

static int
path_err(struct evc_err *err, int r, const char *path)
{
    struct evc_err e = *err;

    return evc_err_set(err, r, "%s: %s", path, evc_err_message(&e));
}

/* The line that set alias, for an error about it (the [store] header's when unset). */
static unsigned long
alias_line(const struct evc_store_conf *s)
{
    return s->alias_line != 0 ? s->alias_line : s->line;
}

/* Which key entry: the one alias names, or the only one. */
static int
jks_pick(const struct personal_st *p, const struct evc_jks *ks, size_t *out, struct evc_err *err)
{
    const struct evc_store_conf *s = p->conf;
    size_t nkeys = 0, first = 0;
    char names[256] = "";

    if (s->alias != NULL) {
        long i = evc_jks_find(ks, s->alias);

        if (i < 0 || ks->entries[i].tag != EVC_JKS_KEY) {
            return evc_err_set(err, EVC_ERR_CONFIG,
                               "line %lu: %s: no key entry with the alias \"%s\"", alias_line(s),
                               s->keystore, s->alias);
        }
        *out = (size_t)i;
        return 0;
    }
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->entries[i].tag == EVC_JKS_KEY) {
            size_t used = strlen(names);

            if (nkeys++ == 0) {
                first = i;
            }
            snprintf(names + used, sizeof(names) - used, "%s\"%.60s\"", used ? ", " : "",
                     ks->entries[i].alias);
        }
    }
    if (nkeys == 0) {
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: no key entry", s->keystore);
    }
    if (nkeys > 1) {
        return evc_err_set(err, EVC_ERR_CONFIG,
                           "line %lu: %s holds %zu key entries (%s); name one with alias", s->line,
                           s->keystore, nkeys, names);
    }
    *out = first;
    return 0;
}

static int
jks_load(struct personal_st *p, const struct evc_buf *b, struct evc_err *err)
{
    struct evc_jks *ks = NULL;
    const struct evc_jks_entry *e;
    size_t i = 0;
    int r;

    if ((r = evc_jks_parse(b->data, b->len, p->ks_password, &ks, err)) != 0 ||
        (r = jks_pick(p, ks, &i, err)) != 0) {
        goto out;
    }
    e = &ks->entries[i];
    if ((r = evc_jks_key_decrypt(ks, i, p->ks_password, &p->key, err)) != 0) {
        goto out;
    }
    if ((p->chain = sk_X509_new_null()) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < e->ncerts; k++) {
        const unsigned char *d = ks->data + e->certs[k].off;
        X509 *x = d2i_X509(NULL, &d, (long)e->certs[k].len);

        if (x == NULL || !sk_X509_push(p->chain, x)) {
            X509_free(x);
            r = evc_err_openssl(err, EVC_ERR_BAD_DER, "%s: certificate %zu of the chain", e->alias,
                                k + 1);
            goto out;
        }
    }
    if (sk_X509_num(p->chain) == 0) {
        r = evc_err_set(err, EVC_ERR_PARSE, "%s: the key entry has no certificate", e->alias);
        goto out;
    }
    if ((p->ks_alias = strdup(e->alias)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    r = 0;
out:
    evc_jks_free(ks);
    return r;
}

/*
 * What a PKCS#12 keystore holds: its key bags (and the first one's
 * friendlyName) and whether any certificate bag is a Java trusted entry.
 */
static int
p12_census(STACK_OF(PKCS7) * safes, const char *pass, size_t *nkeys, int *trusted, char **alias,
           struct evc_err *err)
{
    ASN1_OBJECT *java = OBJ_txt2obj(JAVA_TRUSTED_OID, 1);
    int r = 0;

    *nkeys = 0;
    *trusted = 0;
    for (int i = 0; i < sk_PKCS7_num(safes) && r == 0; i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;

        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            bags = PKCS12_unpack_p7data(p7);
            break;
        case NID_pkcs7_encrypted:
            bags = PKCS12_unpack_p7encdata(p7, pass, -1);
            break;
        default:
            continue;
        }
        if (bags == NULL) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot open its bags");
            break;
        }
        for (int k = 0; k < sk_PKCS12_SAFEBAG_num(bags); k++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, k);
            int nid = PKCS12_SAFEBAG_get_nid(bag);

            if (nid == NID_keyBag || nid == NID_pkcs8ShroudedKeyBag) {
                if ((*nkeys)++ == 0 && *alias == NULL) {
                    *alias = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
                }
            } else if (nid == NID_certBag && java != NULL) {
                const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);

                for (int a = 0; a < sk_X509_ATTRIBUTE_num(attrs); a++) {
                    if (OBJ_cmp(X509_ATTRIBUTE_get0_object(sk_X509_ATTRIBUTE_value(attrs, a)),
                                java) == 0) {
                        *trusted = 1;
                    }
                }
            } else if (nid == NID_safeContentsBag) {
                *trusted = 1; /* nested bags: not a plain key entry either */
            }
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    ASN1_OBJECT_free(java);
    ERR_clear_error();
    return r;
}

static int
p12_load(struct personal_st *p, const struct evc_buf *b, struct evc_err *err)
{
    const struct evc_store_conf *s = p->conf;
    const unsigned char *d = b->data;
    PKCS12 *p12 = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    STACK_OF(X509) *ca = NULL;
    X509 *cert = NULL;
    char *alias = NULL;
    size_t nkeys = 0;
    int trusted = 0, r = EVC_ERR_INTERNAL;

    if ((p12 = d2i_PKCS12(NULL, &d, (long)b->len)) == NULL || d != b->data + b->len) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12");
        goto out;
    }
    if ((r = evc_pkcs12_check_cost(p12, err)) != 0) {
        goto out;
    }
    if (!PKCS12_verify_mac(p12, p->ks_password, -1)) {
        r = evc_err_set(err, EVC_ERR_BAD_PASSWORD, "wrong password");
        goto out;
    }
    if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12 contents");
        goto out;
    }
    if ((r = p12_census(safes, p->ks_password, &nkeys, &trusted, &alias, err)) != 0) {
        goto out;
    }
    if (nkeys != 1 || trusted) {
        r = evc_err_set(err, EVC_ERR_CONFIG,
                        "line %lu: %s holds %s; a PKCS#12 keystore is renewed only when it holds "
                        "one key entry and its chain (JKS keeps other entries)",
                        s->line, s->keystore,
                        trusted     ? "trusted certificates besides its key entry"
                        : nkeys > 1 ? "several key entries"
                                    : "no key entry");
        goto out;
    }
    if (s->alias != NULL && (alias == NULL || strcmp(alias, s->alias) != 0)) {
        r = evc_err_set(err, EVC_ERR_CONFIG, "line %lu: %s: no key entry with the alias \"%s\"",
                        alias_line(s), s->keystore, s->alias);
        goto out;
    }
    if (!PKCS12_parse(p12, p->ks_password, &p->key, &cert, &ca) || p->key == NULL || cert == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_KEY, "the key entry cannot be read");
        goto out;
    }
    if ((p->chain = sk_X509_new_null()) == NULL || !sk_X509_push(p->chain, cert)) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    cert = NULL;
    while (sk_X509_num(ca) > 0) {
        X509 *x = sk_X509_shift(ca);

        if (!sk_X509_push(p->chain, x)) {
            X509_free(x);
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    p->ks_alias = alias != NULL ? alias : strdup("1");
    alias = NULL;
    if (p->ks_alias == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    r = 0;
out:
    OPENSSL_free(alias);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    ERR_clear_error();
    return r;
}

int
evc_renew_keystore_load(struct personal_st *p, struct evc_err *err)
{
    const char *path = p->conf->keystore;
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if (p->ks_password == NULL) {
        r = evc_err_set(err, EVC_ERR_NEED_PASSWORD,
                        "%s: a keystore's key needs its password (password_file)", path);
        goto out;
    }
    if ((r = evc_file_read(path, EVC_STORE_FILE_MAX, &b, err)) != 0) {
        r = path_err(err, r, path);
        goto out;
    }
    p->ks_format = evc_format_detect(b.data, b.len);
    switch (p->ks_format) {
    case EVC_FORMAT_JKS:
        r = jks_load(p, &b, err);
        break;
    case EVC_FORMAT_PKCS12:
        r = p12_load(p, &b, err);
        break;
    default:
        r = evc_err_set(err, EVC_ERR_UNKNOWN_FORMAT, "%s: not a JKS or PKCS#12 keystore", path);
        goto out;
    }
    if (r != 0 && err->code != EVC_ERR_CONFIG) {
        r = path_err(err, r, path);
    }
out:
    evc_buf_free(&b);
    return r;
}

static int
jks_save(const struct run *run, const struct personal_st *p, STACK_OF(X509) * chain, EVP_PKEY *key,
         struct evc_buf *out, struct evc_err *err)
{
    struct evc_jks *ks = NULL;
    struct evc_buf b;
    long i;
    int r;

    /* The file as it is now: entries a person added since the load are kept too. */
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    if ((r = evc_file_read(p->conf->keystore, EVC_STORE_FILE_MAX, &b, err)) != 0 ||
        (r = evc_jks_parse(b.data, b.len, p->ks_password, &ks, err)) != 0) {
        goto out;
    }
    if ((i = evc_jks_find(ks, p->ks_alias)) < 0 || ks->entries[i].tag != EVC_JKS_KEY) {
        r = evc_err_set(err, EVC_ERR_CONFIG, "the key entry \"%s\" is gone", p->ks_alias);
        goto out;
    }
    {
        struct evc_jks_edit edit = {SIZE_MAX, NULL,  (size_t)i,
                                    key,      chain, (uint64_t)run->o->now * 1000};

        r = evc_jks_encode(ks, &edit, p->ks_password, out, err);
    }
out:
    evc_jks_free(ks);
    evc_buf_free(&b);
    return r;
}

static int
p12_save(const struct personal_st *p, STACK_OF(X509) * chain, EVP_PKEY *key, struct evc_buf *out,
         struct evc_err *err)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int len = 0, r = EVC_ERR_INTERNAL;

    for (int k = 1; ca != NULL && k < sk_X509_num(chain); k++) {
        if (!sk_X509_push(ca, sk_X509_value(chain, k))) {
            break;
        }
    }
    /* OpenSSL 3's defaults: PBES2 with AES-256-CBC, PBKDF2, a SHA-256 MAC. */
    if (ca == NULL ||
        (p12 = PKCS12_create(p->ks_password, p->ks_alias, key, sk_X509_value(chain, 0), ca, 0, 0, 0,
                             0, 0)) == NULL ||
        (len = i2d_PKCS12(p12, &der)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the keystore");
        goto out;
    }
    evc_buf_reset(out);
    if ((r = evc_buf_put(out, der, (size_t)len)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    r = 0;
out:
    if (der != NULL) {
        OPENSSL_cleanse(der, (size_t)len);
        OPENSSL_free(der);
    }
    PKCS12_free(p12);
    sk_X509_free(ca);
    ERR_clear_error();
    return r;
}

int
evc_renew_keystore_save(const struct run *run, const struct personal_st *p, STACK_OF(X509) * chain,
                        EVP_PKEY *key, struct evc_err *err)
{
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    r = p->ks_format == EVC_FORMAT_JKS ? jks_save(run, p, chain, key, &b, err)
                                       : p12_save(p, chain, key, &b, err);
    /* The mode of the file is kept; a keystore made new is 0600. */
    if (r == 0) {
        r = evc_atomic_write(p->conf->keystore, b.data, b.len, 0600, err);
    }
    if (r != 0) {
        r = path_err(err, r, p->conf->keystore);
    }
    evc_buf_free(&b);
    return r;
}
