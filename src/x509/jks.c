/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Java keystores, read. The layout (Java's JavaKeyStore.engineLoad):
 *
 *   u32 magic (0xFEEDFEED JKS, 0xCECECECE JCEKS), u32 version (1 or 2),
 *   u32 count, then count entries:
 *     u32 tag, UTF alias (u16 length, bytes), u64 date in ms, then
 *     tag 1 (private key): u32 length, EncryptedPrivateKeyInfo; u32 chain
 *       length, each certificate as below;
 *     tag 2 (trusted certificate): one certificate;
 *     tag 3 (JCEKS secret key): a Java serialized object;
 *   a certificate: (version 2: UTF type, "X.509") u32 length, DER;
 *   20 bytes: SHA-1 of UTF-16BE(password) || "Mighty Aphrodite" || all before.
 *
 * Every length is checked against what is left, in subtraction form,
 * before anything is copied or allocated. A secret key entry has no length
 * of its own (only a full Java deserializer knows where it ends), so a
 * JCEKS file holding one is refused rather than guessed at.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "evercert/jks.h"
#include "evercert/limits.h"
#include "x509/jks_int.h"

#define DIGEST_LEN 20

struct rd {
    const uint8_t *p;
    size_t end, off;
};

static int
need(struct rd *r, size_t n, struct evc_err *err)
{
    if (n > r->end - r->off) {
        return evc_err_set(err, EVC_ERR_TRUNCATED, "truncated at byte %zu (%zu more needed)",
                           r->off, n);
    }
    return 0;
}

static int
get_u16(struct rd *r, uint32_t *v, struct evc_err *err)
{
    int rc;

    if ((rc = need(r, 2, err)) != 0) {
        return rc;
    }
    *v = (uint32_t)r->p[r->off] << 8 | r->p[r->off + 1];
    r->off += 2;
    return 0;
}

static int
get_u32(struct rd *r, uint32_t *v, struct evc_err *err)
{
    int rc;

    if ((rc = need(r, 4, err)) != 0) {
        return rc;
    }
    *v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
         (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
    r->off += 4;
    return 0;
}

static int
get_u64(struct rd *r, uint64_t *v, struct evc_err *err)
{
    uint32_t hi, lo;
    int rc;

    if ((rc = get_u32(r, &hi, err)) != 0 || (rc = get_u32(r, &lo, err)) != 0) {
        return rc;
    }
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* A UTF string's span (u16 length, bytes). */
static int
get_utf(struct rd *r, struct evc_jks_span *s, struct evc_err *err)
{
    uint32_t n;
    int rc;

    if ((rc = get_u16(r, &n, err)) != 0 || (rc = need(r, n, err)) != 0) {
        return rc;
    }
    s->off = r->off;
    s->len = n;
    r->off += n;
    return 0;
}

static int
get_cert(struct rd *r, uint32_t version, struct evc_jks_span *s, struct evc_err *err)
{
    struct evc_jks_span type;
    uint32_t n;
    int rc;

    if (version == 2) {
        if ((rc = get_utf(r, &type, err)) != 0) {
            return rc;
        }
        if (type.len != 5 || memcmp(r->p + type.off, "X.509", 5) != 0) {
            return evc_err_set(err, EVC_ERR_PARSE, "byte %zu: a certificate type other than X.509",
                               type.off);
        }
    }
    if ((rc = get_u32(r, &n, err)) != 0) {
        return rc;
    }
    if (n > EVC_CERT_DER_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "byte %zu: a certificate of %u bytes, over %zu",
                           r->off, n, EVC_CERT_DER_MAX);
    }
    if ((rc = need(r, n, err)) != 0) {
        return rc;
    }
    s->off = r->off;
    s->len = n;
    r->off += n;
    return 0;
}

int
evc_jks_password16(const char *password, uint8_t *out, size_t cap, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)password;
    size_t o = 0;

    *outlen = 0;
    while (*s != '\0') {
        uint32_t c;
        int more;

        if (*s < 0x80) {
            c = *s;
            more = 0;
        } else if ((*s & 0xe0) == 0xc0) {
            c = *s & 0x1f;
            more = 1;
        } else if ((*s & 0xf0) == 0xe0) {
            c = *s & 0x0f;
            more = 2;
        } else if ((*s & 0xf8) == 0xf0) {
            c = *s & 0x07;
            more = 3;
        } else {
            return EVC_ERR_USAGE;
        }
        s++;
        for (int k = 0; k < more; k++, s++) {
            if ((*s & 0xc0) != 0x80) {
                return EVC_ERR_USAGE;
            }
            c = c << 6 | (*s & 0x3f);
        }
        if (c > 0x10ffff) {
            return EVC_ERR_USAGE;
        }
        if (c >= 0x10000) {
            uint32_t v = c - 0x10000, hi = 0xd800 | v >> 10, lo = 0xdc00 | (v & 0x3ff);

            if (cap - o < 4) {
                return EVC_ERR_LIMIT;
            }
            out[o++] = (uint8_t)(hi >> 8);
            out[o++] = (uint8_t)hi;
            out[o++] = (uint8_t)(lo >> 8);
            out[o++] = (uint8_t)lo;
        } else {
            if (cap - o < 2) {
                return EVC_ERR_LIMIT;
            }
            out[o++] = (uint8_t)(c >> 8);
            out[o++] = (uint8_t)c;
        }
    }
    *outlen = o;
    return 0;
}

int
evc_jks_digest(const char *password, const uint8_t *data, size_t len, uint8_t md[20],
               struct evc_err *err)
{
    uint8_t pw[4 * EVC_PASSWORD_MAX];
    size_t pwlen = 0;
    EVP_MD_CTX *ctx = NULL;
    unsigned int mdlen = 0;
    int r = EVC_ERR_INTERNAL;

    if (evc_jks_password16(password, pw, sizeof(pw), &pwlen) != 0) {
        r = evc_err_set(err, EVC_ERR_USAGE, "the password is not UTF-8 of at most %d bytes",
                        EVC_PASSWORD_MAX);
        goto out;
    }
    if ((ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(ctx, pw, pwlen) ||
        !EVP_DigestUpdate(ctx, "Mighty Aphrodite", strlen("Mighty Aphrodite")) ||
        !EVP_DigestUpdate(ctx, data, len) || !EVP_DigestFinal_ex(ctx, md, &mdlen) ||
        mdlen != DIGEST_LEN) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "SHA-1");
        goto out;
    }
    r = 0;
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    EVP_MD_CTX_free(ctx);
    return r;
}

static int
add_cert_span(struct evc_jks_entry *e, size_t *cap, const struct evc_jks_span *s)
{
    if (e->ncerts == *cap) {
        size_t n = *cap ? *cap * 2 : 1;
        struct evc_jks_span *v = realloc(e->certs, n * sizeof(*v));

        if (v == NULL) {
            return EVC_ERR_NOMEM;
        }
        e->certs = v;
        *cap = n;
    }
    e->certs[e->ncerts++] = *s;
    return 0;
}

static int
parse_entry(struct rd *r, const struct evc_jks *ks, size_t idx, struct evc_jks_entry *e,
            struct evc_err *err)
{
    struct evc_jks_span alias, c;
    uint32_t tag, n;
    size_t cap = 0;
    int rc;

    e->raw.off = r->off;
    if ((rc = get_u32(r, &tag, err)) != 0 || (rc = get_utf(r, &alias, err)) != 0) {
        return rc;
    }
    if (memchr(r->p + alias.off, '\0', alias.len) != NULL) {
        return evc_err_set(err, EVC_ERR_PARSE, "entry %zu: a NUL byte in its alias", idx + 1);
    }
    if ((e->alias = malloc(alias.len + 1)) == NULL) {
        return EVC_ERR_NOMEM;
    }
    memcpy(e->alias, r->p + alias.off, alias.len);
    e->alias[alias.len] = '\0';
    if ((rc = get_u64(r, &e->date_ms, err)) != 0) {
        return rc;
    }
    switch (tag) {
    case EVC_JKS_KEY:
        e->tag = EVC_JKS_KEY;
        if ((rc = get_u32(r, &n, err)) != 0 || (rc = need(r, n, err)) != 0) {
            return rc;
        }
        e->key.off = r->off;
        e->key.len = n;
        r->off += n;
        if ((rc = get_u32(r, &n, err)) != 0) {
            return rc;
        }
        if (n > EVC_JKS_CHAIN_MAX) {
            return evc_err_set(err, EVC_ERR_LIMIT, "entry %zu: a chain of %u certificates, over %d",
                               idx + 1, n, EVC_JKS_CHAIN_MAX);
        }
        for (uint32_t k = 0; k < n; k++) {
            if ((rc = get_cert(r, ks->version, &c, err)) != 0) {
                return rc;
            }
            if (add_cert_span(e, &cap, &c) != 0) {
                return EVC_ERR_NOMEM;
            }
        }
        break;
    case EVC_JKS_TRUSTED:
        e->tag = EVC_JKS_TRUSTED;
        if ((rc = get_cert(r, ks->version, &c, err)) != 0) {
            return rc;
        }
        if (add_cert_span(e, &cap, &c) != 0) {
            return EVC_ERR_NOMEM;
        }
        break;
    case EVC_JKS_SECRET:
        if (ks->magic == EVC_JCEKS_MAGIC) {
            return evc_err_set(err, EVC_ERR_PARSE,
                               "entry %zu: a secret key entry, which evercert does not read",
                               idx + 1);
        }
        return evc_err_set(err, EVC_ERR_PARSE, "entry %zu: a secret key entry in a JKS file",
                           idx + 1);
    default:
        return evc_err_set(err, EVC_ERR_PARSE, "entry %zu: unknown entry tag %u", idx + 1, tag);
    }
    e->raw.len = r->off - e->raw.off;
    return 0;
}

int
evc_jks_parse(const uint8_t *data, size_t len, const char *password, struct evc_jks **out,
              struct evc_err *err)
{
    struct evc_jks *ks = NULL;
    struct rd r = {data, 0, 0};
    uint32_t count;
    size_t cap = 0;
    uint8_t md[DIGEST_LEN];
    int rc = EVC_ERR_INTERNAL;

    *out = NULL;
    if (len > EVC_STORE_FILE_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "a keystore over %zu bytes", EVC_STORE_FILE_MAX);
    }
    if (len < 12 + DIGEST_LEN) {
        return evc_err_set(err, EVC_ERR_TRUNCATED, "a keystore of %zu bytes is truncated", len);
    }
    if ((ks = calloc(1, sizeof(*ks))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    r.end = len - DIGEST_LEN;
    (void)get_u32(&r, &ks->magic, err);
    (void)get_u32(&r, &ks->version, err);
    (void)get_u32(&r, &count, err);
    if (ks->magic != EVC_JKS_MAGIC && ks->magic != EVC_JCEKS_MAGIC) {
        rc = evc_err_set(err, EVC_ERR_PARSE, "not a Java keystore (magic %08x)", ks->magic);
        goto out;
    }
    if (ks->version != 1 && ks->version != 2) {
        rc = evc_err_set(err, EVC_ERR_PARSE, "keystore version %u (1 or 2 expected)", ks->version);
        goto out;
    }
    if (count > EVC_JKS_ENTRIES_MAX) {
        rc = evc_err_set(err, EVC_ERR_LIMIT, "%u entries, over the cap of %d", count,
                         EVC_JKS_ENTRIES_MAX);
        goto out;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (ks->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct evc_jks_entry *v = realloc(ks->entries, ncap * sizeof(*v));

            if (v == NULL) {
                rc = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
            ks->entries = v;
            cap = ncap;
        }
        memset(&ks->entries[ks->n], 0, sizeof(ks->entries[0]));
        ks->n++;
        if ((rc = parse_entry(&r, ks, i, &ks->entries[ks->n - 1], err)) != 0) {
            if (rc == EVC_ERR_NOMEM) {
                evc_err_set(err, rc, "out of memory");
            }
            goto out;
        }
    }
    if (r.off != r.end) {
        rc = evc_err_set(err, EVC_ERR_TRAILING, "%zu bytes after the last entry", r.end - r.off);
        goto out;
    }
    /*
     * The digest after the layout, so a cut file is told as cut; nothing
     * read so far is believed before it matches.
     */
    if (password != NULL) {
        if ((rc = evc_jks_digest(password, data, len - DIGEST_LEN, md, err)) != 0) {
            goto out;
        }
        if (CRYPTO_memcmp(md, data + len - DIGEST_LEN, DIGEST_LEN) != 0) {
            rc = evc_err_set(err, EVC_ERR_BAD_PASSWORD,
                             "wrong password (or the keystore was changed)");
            goto out;
        }
        ks->verified = 1;
    }
    if ((ks->data = malloc(len)) == NULL) {
        rc = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(ks->data, data, len);
    ks->len = len;
    *out = ks;
    ks = NULL;
    rc = 0;
out:
    evc_jks_free(ks);
    return rc;
}

void
evc_jks_free(struct evc_jks *ks)
{
    if (ks == NULL) {
        return;
    }
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->entries[i].alias);
        free(ks->entries[i].certs);
    }
    free(ks->entries);
    if (ks->data != NULL) {
        /* Key entries are encrypted, but the bytes are a secret's container all the same. */
        OPENSSL_cleanse(ks->data, ks->len);
        free(ks->data);
    }
    free(ks);
}

int
evc_jks_each(const uint8_t *data, size_t len, const char *password,
             const struct evc_cert_sink *sink, struct evc_err *err)
{
    struct evc_jks *ks = NULL;
    size_t index = 0;
    int r;

    if ((r = evc_jks_parse(data, len, password, &ks, err)) != 0) {
        return r;
    }
    for (size_t i = 0; i < ks->n && r == 0; i++) {
        const struct evc_jks_entry *e = &ks->entries[i];

        for (size_t k = 0; k < e->ncerts && r == 0; k++) {
            struct evc_cert_loc loc = {index++, 0, e->certs[k].off,
                                       e->certs[k].off + e->certs[k].len, 0};

            if (e->certs[k].len == 0) {
                struct evc_err be = {0};

                /* An entry that says it holds no bytes is a bad certificate; the others are read.
                 */
                evc_err_set(&be, EVC_ERR_BAD_DER, "certificate %zu (entry \"%.60s\") is empty",
                            loc.index, e->alias);
                r = sink->bad(sink->arg, &loc, &be);
                continue;
            }
            r = sink->cert(sink->arg, data + e->certs[k].off, e->certs[k].len, &loc);
        }
    }
    evc_jks_free(ks);
    return r;
}

long
evc_jks_find(const struct evc_jks *ks, const char *alias)
{
    for (size_t i = 0; i < ks->n; i++) {
        const char *a = ks->entries[i].alias, *b = alias;

        while (*a != '\0' && *b != '\0') {
            int x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
            int y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;

            if (x != y) {
                break;
            }
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            return (long)i;
        }
    }
    return -1;
}

int
evc_jks_keystream(const char *password, const uint8_t salt[20], const uint8_t *in, uint8_t *out,
                  size_t len, struct evc_err *err)
{
    uint8_t pw[4 * EVC_PASSWORD_MAX], cur[DIGEST_LEN];
    size_t pwlen = 0;
    EVP_MD_CTX *ctx = NULL;
    int r = EVC_ERR_INTERNAL;

    if (evc_jks_password16(password, pw, sizeof(pw), &pwlen) != 0) {
        r = evc_err_set(err, EVC_ERR_USAGE, "the password is not UTF-8 of at most %d bytes",
                        EVC_PASSWORD_MAX);
        goto out;
    }
    if ((ctx = EVP_MD_CTX_new()) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(cur, salt, DIGEST_LEN);
    /* digest_i = SHA-1(password || digest_{i-1}), digest_0 the salt; XORed over the key. */
    for (size_t off = 0; off < len; off += DIGEST_LEN) {
        size_t n = len - off < DIGEST_LEN ? len - off : DIGEST_LEN;

        if (!EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, pw, pwlen) ||
            !EVP_DigestUpdate(ctx, cur, DIGEST_LEN) || !EVP_DigestFinal_ex(ctx, cur, NULL)) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "SHA-1");
            goto out;
        }
        for (size_t k = 0; k < n; k++) {
            out[off + k] = in[off + k] ^ cur[k];
        }
    }
    r = 0;
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(cur, sizeof(cur));
    EVP_MD_CTX_free(ctx);
    return r;
}

/* SHA-1(UTF-16BE(password) || plain): the key protector's check. */
int
evc_jks_key_check(const char *password, const uint8_t *plain, size_t len, uint8_t md[20],
                  struct evc_err *err)
{
    uint8_t pw[4 * EVC_PASSWORD_MAX];
    size_t pwlen = 0;
    int r = 0;

    if (evc_jks_password16(password, pw, sizeof(pw), &pwlen) != 0) {
        return evc_err_set(err, EVC_ERR_USAGE, "the password is not UTF-8 of at most %d bytes",
                           EVC_PASSWORD_MAX);
    }
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
            !EVP_DigestUpdate(ctx, pw, pwlen) || !EVP_DigestUpdate(ctx, plain, len) ||
            !EVP_DigestFinal_ex(ctx, md, NULL)) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "SHA-1");
        }
        EVP_MD_CTX_free(ctx);
    }
    OPENSSL_cleanse(pw, sizeof(pw));
    return r;
}

int
evc_jks_key_decrypt(const struct evc_jks *ks, size_t i, const char *password, EVP_PKEY **key,
                    struct evc_err *err)
{
    const struct evc_jks_entry *e;
    const unsigned char *p;
    X509_SIG *sig = NULL;
    const X509_ALGOR *alg = NULL;
    const ASN1_OCTET_STRING *oct = NULL;
    ASN1_OBJECT *oid = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    uint8_t *plain = NULL, md[DIGEST_LEN];
    size_t plen = 0;
    int r = EVC_ERR_INTERNAL;

    *key = NULL;
    if (i >= ks->n || ks->entries[i].tag != EVC_JKS_KEY) {
        return evc_err_set(err, EVC_ERR_USAGE, "not a key entry");
    }
    e = &ks->entries[i];
    p = ks->data + e->key.off;
    if ((sig = d2i_X509_SIG(NULL, &p, (long)e->key.len)) == NULL ||
        p != ks->data + e->key.off + e->key.len) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "%s: the protected key is not valid DER",
                            e->alias);
        goto out;
    }
    X509_SIG_get0(sig, &alg, &oct);
    if ((oid = OBJ_txt2obj(EVC_JKS_KEY_PROTECTOR_OID, 1)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "OID");
        goto out;
    }
    if (OBJ_cmp(alg->algorithm, oid) != 0) {
        r = evc_err_set(err, EVC_ERR_BAD_KEY,
                        "%s: the key is protected by another algorithm than JKS's own", e->alias);
        goto out;
    }
    if ((size_t)ASN1_STRING_length(oct) <= 2 * DIGEST_LEN) {
        r = evc_err_set(err, EVC_ERR_TRUNCATED, "%s: the protected key is too short", e->alias);
        goto out;
    }
    plen = (size_t)ASN1_STRING_length(oct) - 2 * DIGEST_LEN;
    if ((plain = malloc(plen)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    {
        const uint8_t *enc = ASN1_STRING_get0_data(oct);

        if ((r = evc_jks_keystream(password, enc, enc + DIGEST_LEN, plain, plen, err)) != 0 ||
            (r = evc_jks_key_check(password, plain, plen, md, err)) != 0) {
            goto out;
        }
        if (CRYPTO_memcmp(md, enc + DIGEST_LEN + plen, DIGEST_LEN) != 0) {
            r = evc_err_set(err, EVC_ERR_BAD_PASSWORD, "%s: wrong password for the key", e->alias);
            goto out;
        }
    }
    p = plain;
    if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)plen)) == NULL ||
        (*key = EVP_PKCS82PKEY(p8)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_KEY, "%s: the key does not decode", e->alias);
        goto out;
    }
    r = 0;
out:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, plen);
        free(plain);
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    ASN1_OBJECT_free(oid);
    X509_SIG_free(sig);
    ERR_clear_error();
    return r;
}
