/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing PKCS#12 stores and reading the key of a PKCS#12 keystore. A
 * truststore's certificate bags carry Java's trusted-key-usage attribute
 * (OID 2.16.840.1.113894.746875.1.1 = anyExtendedKeyUsage), without which
 * keytool and the JDK ignore certificates that have no key.
 *
 * A truststore that exists is changed in place (evc_pkcs12_doc_*): the
 * safes it does not touch are written back as they were read, and a safe
 * that loses a certificate keeps every other bag with all its attributes
 * (aliases, localKeyId, trusted-key-usage), so entries evercert did not
 * add keep their names and what Java makes of them.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/pkcs12.h"

#define JAVA_TRUSTED_KEY_USAGE "2.16.840.1.113894.746875.1.1"

static int
add_trusted_bag(STACK_OF(PKCS12_SAFEBAG) * *bags, X509 *x)
{
    PKCS12_SAFEBAG *bag;
    ASN1_OBJECT *any = NULL;
    int ok;

    if ((bag = PKCS12_add_cert(bags, x)) == NULL) {
        return 0;
    }
    ok = (any = OBJ_txt2obj("2.5.29.37.0", 1)) != NULL &&
         PKCS12_add1_attr_by_txt(bag, JAVA_TRUSTED_KEY_USAGE, V_ASN1_OBJECT,
                                 (const unsigned char *)any, -1);
    ASN1_OBJECT_free(any);
    return ok;
}

int
evc_pkcs12_encode(X509 *const *certs, size_t ncerts, EVP_PKEY *key, const char *password,
                  struct evc_buf *out, struct evc_err *err)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int len, r = EVC_ERR_INTERNAL;
    const char *pass = password != NULL ? password : "";

    if (key != NULL) {
        /* A keystore: the key and its certificate first, as keytool expects. */
        STACK_OF(X509) *rest = sk_X509_new_null();

        for (size_t i = 1; rest != NULL && i < ncerts; i++) {
            (void)sk_X509_push(rest, certs[i]);
        }
        p12 = rest == NULL ? NULL
                           : PKCS12_create(pass, "evercert", key, ncerts > 0 ? certs[0] : NULL,
                                           rest, 0, 0, 0, 0, 0);
        sk_X509_free(rest);
    } else {
        for (size_t i = 0; i < ncerts; i++) {
            if (!add_trusted_bag(&bags, certs[i])) {
                r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build a certificate bag");
                goto out;
            }
        }
        if (bags == NULL && (bags = sk_PKCS12_SAFEBAG_new_null()) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (PKCS12_add_safe(&safes, bags, -1, 0, pass) &&
            (p12 = PKCS12_add_safes(safes, 0)) != NULL &&
            !PKCS12_set_mac(p12, pass, -1, NULL, 0, 0, NULL)) {
            PKCS12_free(p12);
            p12 = NULL;
        }
    }
    if (p12 == NULL) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build the PKCS#12 store");
        goto out;
    }
    if ((len = i2d_PKCS12(p12, &der)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the PKCS#12 store");
        goto out;
    }
    if ((r = evc_buf_put(out, der, (size_t)len)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    r = 0;
out:
    if (der != NULL) {
        OPENSSL_clear_free(der, (size_t)len);
    }
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    return r;
}

int
evc_pkcs12_keypair(const uint8_t *data, size_t len, const char *password, EVP_PKEY **key,
                   X509 **cert, struct evc_err *err)
{
    const unsigned char *p = data;
    PKCS12 *p12 = NULL;
    STACK_OF(X509) *ca = NULL;
    int r = EVC_ERR_INTERNAL;

    *key = NULL;
    *cert = NULL;
    if (len > INT_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "not a PKCS#12 file");
        goto out;
    }
    /* Before any password is tried: each try derives a key at the file's cost. */
    if ((r = evc_pkcs12_check_cost(p12, err)) != 0) {
        goto out;
    }
    if (!PKCS12_verify_mac(p12, password != NULL ? password : "", -1)) {
        ERR_clear_error();
        r = evc_err_set(err, password != NULL ? EVC_ERR_BAD_PASSWORD : EVC_ERR_NEED_PASSWORD,
                        password != NULL ? "wrong password" : "password required");
        goto out;
    }
    if (!PKCS12_parse(p12, password != NULL ? password : "", key, cert, &ca)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot open the PKCS#12 file");
        goto out;
    }
    if (*key == NULL || *cert == NULL) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
        r = evc_err_set(err, EVC_ERR_BAD_KEY, "no private key with its certificate inside");
        goto out;
    }
    r = 0;
out:
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    return r;
}

/* --- a truststore changed in place ---------------------------------------- */

struct doc_cert {
    X509 *x;
    int safe; /* index in safes */
    int bag;  /* index in that safe's bags; -1 inside a nested bag */
};

struct evc_pkcs12_doc {
    PKCS12 *p12;                      /* as read: its MAC's digest and iterations are reused */
    STACK_OF(PKCS7) * safes;          /* as read; unchanged ones are written back as they are */
    STACK_OF(PKCS12_SAFEBAG) * *bags; /* per safe, decrypted; NULL for a kind we do not open */
    int nsafes;
    struct doc_cert *certs;
    size_t n;
    char *pass; /* what opened it: NULL, "" or the password; wiped on free */
};

static int
doc_push(struct evc_pkcs12_doc *d, PKCS12_SAFEBAG *bag, int safe, int idx)
{
    struct doc_cert *c;
    X509 *x;

    if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate) {
        return 0; /* an SDSI certificate: not X.509, kept as it is */
    }
    if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL) {
        return EVC_ERR_BAD_DER;
    }
    if ((c = realloc(d->certs, (d->n + 1) * sizeof(*c))) == NULL) {
        X509_free(x);
        return EVC_ERR_NOMEM;
    }
    d->certs = c;
    d->certs[d->n].x = x;
    d->certs[d->n].safe = safe;
    d->certs[d->n].bag = idx;
    d->n++;
    return 0;
}

static int
doc_walk(struct evc_pkcs12_doc *d, const STACK_OF(PKCS12_SAFEBAG) * bags, int safe, int depth,
         size_t *count, struct evc_err *err)
{
    int r;

    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);

        if (++*count > EVC_PKCS12_BAGS_MAX) {
            return evc_err_set(err, EVC_ERR_LIMIT, "more than %d bags", EVC_PKCS12_BAGS_MAX);
        }
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_certBag:
            if ((r = doc_push(d, bag, safe, depth == 0 ? i : -1)) != 0) {
                return evc_err_openssl(err, r, "certificate %zu: invalid DER in bag", d->n + 1);
            }
            break;
        case NID_safeContentsBag:
            if (depth >= EVC_PKCS12_NEST_MAX) {
                return evc_err_set(err, EVC_ERR_LIMIT, "bags nested deeper than %d",
                                   EVC_PKCS12_NEST_MAX);
            }
            if ((r = doc_walk(d, PKCS12_SAFEBAG_get0_safes(bag), safe, depth + 1, count, err)) !=
                0) {
                return r;
            }
            break;
        default:
            break; /* keys, CRLs, secrets: kept as they are */
        }
    }
    return 0;
}

int
evc_pkcs12_doc_parse(const uint8_t *data, size_t len, const char *password,
                     struct evc_pkcs12_doc **out, struct evc_err *err)
{
    const unsigned char *p = data;
    struct evc_pkcs12_doc *d = NULL;
    const char *pass = password;
    size_t count = 0;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    if ((d = calloc(1, sizeof(*d))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if (len > EVC_STORE_FILE_MAX || (d->p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12");
        goto out;
    }
    if (p != data + len) {
        r = evc_err_set(err, EVC_ERR_TRAILING, "data after the PKCS#12 structure");
        goto out;
    }
    if ((r = evc_pkcs12_check_cost(d->p12, err)) != 0) {
        goto out;
    }
    if (PKCS12_mac_present(d->p12)) {
        if (password != NULL) {
            if (!PKCS12_verify_mac(d->p12, password, -1)) {
                r = evc_err_set(err, EVC_ERR_BAD_PASSWORD, "wrong password");
                goto out;
            }
        } else if (PKCS12_verify_mac(d->p12, NULL, 0)) {
            pass = NULL;
        } else if (PKCS12_verify_mac(d->p12, "", 0)) {
            pass = "";
        } else {
            r = evc_err_set(err, EVC_ERR_NEED_PASSWORD, "password required");
            goto out;
        }
    }
    ERR_clear_error();
    if (pass != NULL && (d->pass = strdup(pass)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((d->safes = PKCS12_unpack_authsafes(d->p12)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12 contents");
        goto out;
    }
    d->nsafes = sk_PKCS7_num(d->safes);
    if ((d->bags = calloc((size_t)d->nsafes + 1, sizeof(*d->bags))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < d->nsafes; i++) {
        PKCS7 *p7 = sk_PKCS7_value(d->safes, i);

        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            d->bags[i] = PKCS12_unpack_p7data(p7);
            break;
        case NID_pkcs7_encrypted:
            d->bags[i] = PKCS12_unpack_p7encdata(p7, d->pass, d->pass != NULL ? -1 : 0);
            break;
        default:
            continue; /* enveloped (public-key privacy mode): kept, not opened */
        }
        if (d->bags[i] == NULL) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot open certificate bags");
            goto out;
        }
        if ((r = doc_walk(d, d->bags[i], i, 0, &count, err)) != 0) {
            goto out;
        }
    }
    *out = d;
    d = NULL;
    r = 0;
out:
    ERR_clear_error();
    evc_pkcs12_doc_free(d);
    return r;
}

size_t
evc_pkcs12_doc_count(const struct evc_pkcs12_doc *d)
{
    return d->n;
}

X509 *
evc_pkcs12_doc_get0(const struct evc_pkcs12_doc *d, size_t i)
{
    return i < d->n ? d->certs[i].x : NULL;
}

/* A safe like p7 (plain or encrypted) holding bags. */
static PKCS7 *
repack(const struct evc_pkcs12_doc *d, const PKCS7 *p7, STACK_OF(PKCS12_SAFEBAG) * bags)
{
    if (OBJ_obj2nid(p7->type) == NID_pkcs7_data) {
        return PKCS12_pack_p7data(bags);
    }
    return PKCS12_pack_p7encdata(NID_aes_256_cbc, d->pass, d->pass != NULL ? -1 : 0, NULL, 0,
                                 PKCS12_DEFAULT_ITER, bags);
}

/* New certificates are encrypted as the store's own are, or kept plain if none is. */
static int
has_encrypted(const struct evc_pkcs12_doc *d)
{
    for (int i = 0; i < d->nsafes; i++) {
        if (OBJ_obj2nid(sk_PKCS7_value(d->safes, i)->type) == NID_pkcs7_encrypted) {
            return 1;
        }
    }
    return 0;
}

/* A new safe with x's bag: its alias, and Java's trusted-key-usage. */
static PKCS7 *
safe_for(const struct evc_pkcs12_doc *d, X509 *x)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    PKCS7 *p7 = NULL;
    unsigned char md[32];
    char alias[32];
    unsigned int mdlen = 0;

    if (!add_trusted_bag(&bags, x) || !X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen < 8) {
        goto out;
    }
    snprintf(alias, sizeof(alias), "evercert-%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2],
             md[3], md[4], md[5], md[6], md[7]);
    if (!PKCS12_add_friendlyname_utf8(sk_PKCS12_SAFEBAG_value(bags, 0), alias, -1)) {
        goto out;
    }
    if (d->pass != NULL && has_encrypted(d)) {
        p7 =
            PKCS12_pack_p7encdata(NID_aes_256_cbc, d->pass, -1, NULL, 0, PKCS12_DEFAULT_ITER, bags);
    } else {
        p7 = PKCS12_pack_p7data(bags);
    }
out:
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    return p7;
}

/* A MAC as the file had: its digest and iteration count, new salt. */
static int
set_mac(const struct evc_pkcs12_doc *d, PKCS12 *p12)
{
    const X509_ALGOR *alg = NULL;
    const ASN1_INTEGER *iter = NULL;
    const ASN1_OBJECT *obj = NULL;
    const EVP_MD *md = NULL;
    long it = 0;

    if (!PKCS12_mac_present(d->p12)) {
        return 1;
    }
    PKCS12_get0_mac(NULL, &alg, NULL, &iter, d->p12);
    if (alg != NULL) {
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
        md = obj != NULL ? EVP_get_digestbyobj(obj) : NULL;
    }
    if (iter != NULL && (it = ASN1_INTEGER_get(iter)) > INT_MAX) {
        it = 0;
    }
    return PKCS12_set_mac(p12, d->pass, d->pass != NULL ? -1 : 0, NULL, 0, it > 0 ? (int)it : 0,
                          md);
}

int
evc_pkcs12_doc_encode(const struct evc_pkcs12_doc *d, size_t skip, X509 *add, struct evc_buf *out,
                      struct evc_err *err)
{
    STACK_OF(PKCS7) *safes = sk_PKCS7_new_null(), *made = sk_PKCS7_new_null();
    STACK_OF(PKCS12_SAFEBAG) *keep = NULL;
    PKCS12 *p12 = NULL;
    PKCS7 *p7 = NULL;
    unsigned char *der = NULL;
    int len = 0, r = EVC_ERR_INTERNAL;

    if (safes == NULL || made == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (skip < d->n && d->certs[skip].bag < 0) {
        r = evc_err_set(err, EVC_ERR_USAGE,
                        "certificate %zu is inside a nested bag; it is not removed", skip + 1);
        goto out;
    }
    for (int i = 0; i < d->nsafes; i++) {
        PKCS7 *orig = sk_PKCS7_value(d->safes, i);

        if (skip >= d->n || d->certs[skip].safe != i) {
            /* Untouched: the same bytes, whatever algorithm made them. */
            if (!sk_PKCS7_push(safes, orig)) {
                r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
            continue;
        }
        /* The safe that loses one bag: the others, with every attribute, in a new safe. */
        if ((keep = sk_PKCS12_SAFEBAG_new_null()) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (int k = 0; k < sk_PKCS12_SAFEBAG_num(d->bags[i]); k++) {
            if (k != d->certs[skip].bag &&
                !sk_PKCS12_SAFEBAG_push(keep, sk_PKCS12_SAFEBAG_value(d->bags[i], k))) {
                r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        if (sk_PKCS12_SAFEBAG_num(keep) > 0) {
            if ((p7 = repack(d, orig, keep)) == NULL || !sk_PKCS7_push(made, p7)) {
                PKCS7_free(p7);
                r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build a safe");
                goto out;
            }
            if (!sk_PKCS7_push(safes, p7)) {
                r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        sk_PKCS12_SAFEBAG_free(keep); /* the bags are the document's */
        keep = NULL;
    }
    if (add != NULL) {
        if ((p7 = safe_for(d, add)) == NULL || !sk_PKCS7_push(made, p7)) {
            PKCS7_free(p7);
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build a certificate bag");
            goto out;
        }
        if (!sk_PKCS7_push(safes, p7)) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if ((p12 = PKCS12_init(NID_pkcs7_data)) == NULL || !PKCS12_pack_authsafes(p12, safes) ||
        !set_mac(d, p12)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build the PKCS#12 store");
        goto out;
    }
    if ((len = i2d_PKCS12(p12, &der)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the PKCS#12 store");
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
        OPENSSL_clear_free(der, (size_t)len);
    }
    PKCS12_free(p12);
    sk_PKCS12_SAFEBAG_free(keep);
    sk_PKCS7_free(safes);
    sk_PKCS7_pop_free(made, PKCS7_free);
    ERR_clear_error();
    return r;
}

void
evc_pkcs12_doc_free(struct evc_pkcs12_doc *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        X509_free(d->certs[i].x);
    }
    free(d->certs);
    for (int i = 0; d->bags != NULL && i < d->nsafes; i++) {
        sk_PKCS12_SAFEBAG_pop_free(d->bags[i], PKCS12_SAFEBAG_free);
    }
    free(d->bags);
    sk_PKCS7_pop_free(d->safes, PKCS7_free);
    PKCS12_free(d->p12);
    if (d->pass != NULL) {
        OPENSSL_cleanse(d->pass, strlen(d->pass));
        free(d->pass);
    }
    free(d);
}
