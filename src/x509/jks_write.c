/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Java keystores, written. Every entry evercert does not change is copied
 * as it was read, byte for byte (alias, date, protected key, chain); an
 * added trusted entry and a replaced key entry are laid out as Java's
 * JavaKeyStore.engineStore lays them out, in the file's own version, and
 * the integrity digest is computed again over the whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "evercert/jks.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "base/text.h"
#include "x509/jks_int.h"

static int
put_u16(struct evc_buf *b, uint32_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    return evc_buf_put(b, x, 2);
}

static int
put_u32(struct evc_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return evc_buf_put(b, x, 4);
}

static int
put_u64(struct evc_buf *b, uint64_t v)
{
    int r;

    return (r = put_u32(b, (uint32_t)(v >> 32))) != 0 ? r : put_u32(b, (uint32_t)v);
}

static int
put_utf(struct evc_buf *b, const char *s)
{
    size_t n = strlen(s);
    int r;

    if (n > 0xffff) {
        return EVC_ERR_LIMIT;
    }
    return (r = put_u16(b, (uint32_t)n)) != 0 ? r : evc_buf_put(b, s, n);
}

static int
put_cert(struct evc_buf *b, uint32_t version, X509 *x)
{
    unsigned char *der = NULL;
    int len, r;

    if ((len = i2d_X509(x, &der)) <= 0) {
        ERR_clear_error();
        return EVC_ERR_BAD_DER;
    }
    if ((version != 2 || (r = put_utf(b, "X.509")) == 0) && (r = put_u32(b, (uint32_t)len)) == 0) {
        r = evc_buf_put(b, der, (size_t)len);
    }
    OPENSSL_free(der);
    return r;
}

/* An EncryptedPrivateKeyInfo under JKS's key protector: salt || key XOR stream || check. */
static int
protect_key(EVP_PKEY *key, const char *password, struct evc_buf *out, struct evc_err *err)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *plain = NULL, *der = NULL;
    uint8_t *enc = NULL;
    int plen = 0, dlen, r = EVC_ERR_INTERNAL;
    X509_SIG *sig = NULL;
    X509_ALGOR *alg = NULL;
    ASN1_OCTET_STRING *oct = NULL;
    ASN1_OBJECT *oid = NULL;

    if ((p8 = EVP_PKEY2PKCS8(key)) == NULL || (plen = i2d_PKCS8_PRIV_KEY_INFO(p8, &plain)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_BAD_KEY, "the key cannot be encoded");
        goto out;
    }
    if ((enc = malloc((size_t)plen + 40)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (RAND_bytes(enc, 20) != 1) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "no random salt");
        goto out;
    }
    if ((r = evc_jks_keystream(password, enc, plain, enc + 20, (size_t)plen, err)) != 0 ||
        (r = evc_jks_key_check(password, plain, (size_t)plen, enc + 20 + plen, err)) != 0) {
        goto out;
    }
    if ((sig = X509_SIG_new()) == NULL ||
        (oid = OBJ_txt2obj(EVC_JKS_KEY_PROTECTOR_OID, 1)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    X509_SIG_getm(sig, &alg, &oct);
    if (!X509_ALGOR_set0(alg, oid, V_ASN1_NULL, NULL)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "algorithm");
        goto out;
    }
    oid = NULL;
    if (!ASN1_OCTET_STRING_set(oct, enc, plen + 40) || (dlen = i2d_X509_SIG(sig, &der)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "EncryptedPrivateKeyInfo");
        goto out;
    }
    if ((r = put_u32(out, (uint32_t)dlen)) != 0 || (r = evc_buf_put(out, der, (size_t)dlen)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    r = 0;
out:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, (size_t)plen);
        OPENSSL_free(plain);
    }
    free(enc);
    OPENSSL_free(der);
    ASN1_OBJECT_free(oid);
    X509_SIG_free(sig);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return r;
}

/* The digest over everything so far, appended. */
static int
seal(struct evc_buf *out, const char *password, struct evc_err *err)
{
    uint8_t md[20];
    int r;

    if ((r = evc_jks_digest(password, out->data, out->len, md, err)) != 0) {
        return r;
    }
    if ((r = evc_buf_put(out, md, sizeof(md))) != 0) {
        return evc_err_set(err, r, "%s", evc_strerror(r));
    }
    return 0;
}

int
evc_jks_encode(const struct evc_jks *ks, const struct evc_jks_edit *edit, const char *password,
               struct evc_buf *out, struct evc_err *err)
{
    size_t count = 0, replace = edit->replace, skip = edit->skip;
    int r = 0;

    if (password == NULL) {
        return evc_err_set(err, EVC_ERR_NEED_PASSWORD,
                           "a keystore is written only with its password (password_file)");
    }
    if (replace != SIZE_MAX &&
        (replace >= ks->n || ks->entries[replace].tag != EVC_JKS_KEY || edit->key == NULL ||
         edit->chain == NULL || sk_X509_num(edit->chain) < 1 || ks->magic != EVC_JKS_MAGIC)) {
        return evc_err_set(err, EVC_ERR_USAGE, "only a JKS key entry takes a new key and chain");
    }
    for (size_t i = 0; i < ks->n; i++) {
        count += i != skip;
    }
    count += edit->trusted != NULL;
    if (count > EVC_JKS_ENTRIES_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "over %d entries", EVC_JKS_ENTRIES_MAX);
    }
    evc_buf_reset(out);
    if ((r = put_u32(out, ks->magic)) != 0 || (r = put_u32(out, ks->version)) != 0 ||
        (r = put_u32(out, (uint32_t)count)) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < ks->n; i++) {
        const struct evc_jks_entry *e = &ks->entries[i];

        if (i == skip) {
            continue;
        }
        if (i != replace) {
            if ((r = evc_buf_put(out, ks->data + e->raw.off, e->raw.len)) != 0) {
                goto fail;
            }
            continue;
        }
        if ((r = put_u32(out, EVC_JKS_KEY)) != 0 || (r = put_utf(out, e->alias)) != 0 ||
            (r = put_u64(out, edit->now_ms)) != 0) {
            goto fail;
        }
        if ((r = protect_key(edit->key, password, out, err)) != 0) {
            return r;
        }
        if ((r = put_u32(out, (uint32_t)sk_X509_num(edit->chain))) != 0) {
            goto fail;
        }
        for (int k = 0; k < sk_X509_num(edit->chain); k++) {
            if ((r = put_cert(out, ks->version, sk_X509_value(edit->chain, k))) != 0) {
                goto fail;
            }
        }
    }
    if (edit->trusted != NULL) {
        uint8_t sha[32];
        char alias[32], hex[17];
        long had;

        if (evc_x509_sha256(edit->trusted, sha) != 0) {
            return evc_err_openssl(err, EVC_ERR_CRYPTO, "SHA-256");
        }
        evc_text_hex(sha, 8, hex);
        (void)snprintf(alias, sizeof(alias), "evercert-%s", hex);
        /* Java keeps the last of two entries of one alias: the one there would be hidden. */
        if ((had = evc_jks_find(ks, alias)) >= 0 && (size_t)had != edit->skip) {
            return evc_err_set(err, EVC_ERR_POLICY,
                               "the keystore already has an entry named %s; not added again",
                               alias);
        }
        if ((r = put_u32(out, EVC_JKS_TRUSTED)) != 0 || (r = put_utf(out, alias)) != 0 ||
            (r = put_u64(out, edit->now_ms)) != 0 ||
            (r = put_cert(out, ks->version, edit->trusted)) != 0) {
            goto fail;
        }
    }
    return seal(out, password, err);
fail:
    return evc_err_set(err, r, "%s", evc_strerror(r));
}

int
evc_jks_encode_empty(const char *password, struct evc_buf *out, struct evc_err *err)
{
    int r;

    if (password == NULL) {
        return evc_err_set(err, EVC_ERR_NEED_PASSWORD,
                           "a keystore is written only with its password (password_file)");
    }
    evc_buf_reset(out);
    if ((r = put_u32(out, EVC_JKS_MAGIC)) != 0 || (r = put_u32(out, 2)) != 0 ||
        (r = put_u32(out, 0)) != 0) {
        return evc_err_set(err, r, "%s", evc_strerror(r));
    }
    return seal(out, password, err);
}
