/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing a shared store's private key for the fleet's database: AES-256-GCM
 * under the fleet key, which every host of the store holds and the database
 * never does. A record is version (1 byte), a random 96-bit nonce, the
 * ciphertext and the 128-bit tag; the associated data binds the store's
 * name, the generation and the leaf's SHA-256, so a sealed key copied to
 * another row does not open. The record parser is pure (fuzz_seal), and
 * every plaintext is wiped once used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "evercert/shared.h"
#include "base/text.h"
#include "base/atomic.h"
#include "base/file.h"

/* The associated data's label: a record of another purpose or version never opens as this one. */
static const char ad_label[] = "evercert shared key v1";

int
evc_seal_parse(const uint8_t *p, size_t len, struct evc_seal_rec *out, const char **why)
{
    const char *w = NULL;
    int r = EVC_ERR_PARSE;

    memset(out, 0, sizeof(*out));
    if (p == NULL || len <= EVC_SEAL_OVERHEAD) {
        w = "shorter than a sealed record";
        r = EVC_ERR_TRUNCATED;
    } else if (len > EVC_SEAL_RECORD_MAX) {
        w = "longer than a sealed key may be";
        r = EVC_ERR_LIMIT;
    } else if (p[0] != EVC_SEAL_VERSION) {
        w = "an unknown version of sealed record";
    } else {
        out->version = p[0];
        out->nonce = p + 1;
        out->ct = p + 1 + EVC_SEAL_NONCE_LEN;
        out->ct_len = len - EVC_SEAL_OVERHEAD;
        out->tag = p + len - EVC_SEAL_TAG_LEN;
        r = 0;
    }
    if (why != NULL) {
        *why = w;
    }
    return r;
}

/* label, NUL, store, NUL, generation (8 bytes, big-endian), leaf SHA-256. */
static int
ad_feed(EVP_CIPHER_CTX *ctx, const struct evc_seal_ad *ad)
{
    uint8_t g[8];
    int n;

    for (int i = 0; i < 8; i++) {
        g[i] = (uint8_t)(ad->generation >> (56 - 8 * i));
    }
    return EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)ad_label, (int)sizeof(ad_label)) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)ad->store,
                            (int)strlen(ad->store) + 1) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &n, g, (int)sizeof(g)) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &n, ad->leaf_sha256, 32) == 1;
}

int
evc_seal(const uint8_t key[EVC_FLEET_KEY_LEN], const struct evc_seal_ad *ad, const uint8_t *pt,
         size_t len, struct evc_buf *out, struct evc_err *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *o;
    int n, m, r = EVC_ERR_INTERNAL;

    if (ad == NULL || ad->store == NULL || len == 0 || len > EVC_SEAL_PLAIN_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "nothing to seal, or more than a key");
    }
    evc_buf_reset(out);
    if ((r = evc_buf_reserve(out, len + EVC_SEAL_OVERHEAD)) != 0) {
        return evc_err_set(err, r, "out of memory");
    }
    o = out->data;
    o[0] = EVC_SEAL_VERSION;
    if (RAND_bytes(o + 1, EVC_SEAL_NONCE_LEN) != 1 || (ctx = EVP_CIPHER_CTX_new()) == NULL ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, EVC_SEAL_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, o + 1) != 1 || !ad_feed(ctx, ad) ||
        EVP_EncryptUpdate(ctx, o + 1 + EVC_SEAL_NONCE_LEN, &n, pt, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, o + 1 + EVC_SEAL_NONCE_LEN + n, &m) != 1 ||
        (size_t)(n + m) != len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, EVC_SEAL_TAG_LEN,
                            o + 1 + EVC_SEAL_NONCE_LEN + len) != 1) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot seal a key");
        evc_buf_reset(out);
        goto out;
    }
    out->len = len + EVC_SEAL_OVERHEAD;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return r;
}

int
evc_unseal(const uint8_t key[EVC_FLEET_KEY_LEN], const struct evc_seal_ad *ad, const uint8_t *rec,
           size_t len, struct evc_buf *out, struct evc_err *err)
{
    struct evc_seal_rec s;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t tag[EVC_SEAL_TAG_LEN];
    const char *why;
    int n, m, r = EVC_ERR_INTERNAL;

    evc_buf_reset(out);
    if ((r = evc_seal_parse(rec, len, &s, &why)) != 0) {
        return evc_err_set(err, r, "sealed key: %s", why);
    }
    if (ad == NULL || ad->store == NULL) {
        return evc_err_set(err, EVC_ERR_USAGE, "sealed key: nothing to bind it to");
    }
    if ((r = evc_buf_reserve(out, s.ct_len + 1)) != 0) {
        return evc_err_set(err, r, "out of memory");
    }
    memcpy(tag, s.tag, sizeof(tag));
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, EVC_SEAL_NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, s.nonce) != 1 || !ad_feed(ctx, ad) ||
        EVP_DecryptUpdate(ctx, out->data, &n, s.ct, (int)s.ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, EVC_SEAL_TAG_LEN, tag) != 1) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "sealed key: cannot open");
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, out->data + n, &m) != 1 || (size_t)(n + m) != s.ct_len) {
        /* Another key, another row, or changed bytes: GCM cannot tell which, and need not. */
        ERR_clear_error();
        r = evc_err_set(err, EVC_ERR_POLICY,
                        "sealed key does not open under the fleet key for store \"%.64s\" "
                        "generation %llu (another key, another row, or changed bytes)",
                        ad->store, (unsigned long long)ad->generation);
        goto out;
    }
    out->len = s.ct_len;
    out->data[out->len] = '\0';
    r = 0;
out:
    if (r != 0) {
        /* Plaintext of a record that failed its tag is never handed out, and never kept. */
        OPENSSL_cleanse(out->data, out->alloc);
        evc_buf_reset(out);
    }
    EVP_CIPHER_CTX_free(ctx);
    return r;
}

int
evc_fleet_key_load(const char *path, uint8_t key[EVC_FLEET_KEY_LEN], struct evc_err *err)
{
    uint8_t raw[2 * EVC_FLEET_KEY_LEN + 3];
    struct stat st;
    ssize_t got;
    size_t n = 0;
    int fd = -1, r = EVC_ERR_INTERNAL;

    memset(key, 0, EVC_FLEET_KEY_LEN);
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) == -1) {
        r = errno == ELOOP ? EVC_ERR_LOOP : evc_errno_code(errno);
        evc_err_set(err, r, "fleet key %.200s: %s", path,
                    errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        r = evc_err_set(err, EVC_ERR_NOT_REGULAR, "fleet key %.200s: not a regular file", path);
        goto out;
    }
    /* A key others can read is a key others may hold: refused, as ssh refuses such a key. */
    if ((st.st_mode & 077) != 0) {
        r = evc_err_set(err, EVC_ERR_ACCESS,
                        "fleet key %.200s: mode %04o lets others read it (chmod 600)", path,
                        (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_uid != geteuid()) {
        r = evc_err_set(err, EVC_ERR_ACCESS,
                        "fleet key %.200s: owned by uid %lu, not by this service's uid %lu", path,
                        (unsigned long)st.st_uid, (unsigned long)geteuid());
        goto out;
    }
    while (n < sizeof(raw) && (got = read(fd, raw + n, sizeof(raw) - n)) != 0) {
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = evc_err_set(err, EVC_ERR_IO, "fleet key %.200s: %s", path, strerror(errno));
            goto out;
        }
        n += (size_t)got;
    }
    if (n == EVC_FLEET_KEY_LEN) {
        memcpy(key, raw, EVC_FLEET_KEY_LEN);
        r = 0;
        goto out;
    }
    if (n > 2 * EVC_FLEET_KEY_LEN && raw[2 * EVC_FLEET_KEY_LEN] == '\n' &&
        n == 2 * EVC_FLEET_KEY_LEN + 1) {
        n--; /* one line break after the digits */
    }
    if (n == 2 * EVC_FLEET_KEY_LEN) {
        raw[n] = '\0';
        if (evc_text_unhex((const char *)raw, key, EVC_FLEET_KEY_LEN) != 0) {
            r = evc_err_set(err, EVC_ERR_PARSE, "fleet key %.200s: not 64 hexadecimal digits",
                            path);
            goto out;
        }
        r = 0;
        goto out;
    }
    r = evc_err_set(err, EVC_ERR_PARSE,
                    "fleet key %.200s: expected 32 bytes or 64 hexadecimal digits, found %s%zu "
                    "bytes",
                    path, n == sizeof(raw) ? "at least " : "", n);
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    if (r != 0) {
        OPENSSL_cleanse(key, EVC_FLEET_KEY_LEN);
    }
    if (fd != -1) {
        close(fd);
    }
    return r;
}

int
evc_fleet_key_new(const char *path, struct evc_err *err)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t key[EVC_FLEET_KEY_LEN];
    char text[2 * EVC_FLEET_KEY_LEN + 1];
    int r;

    if (RAND_bytes(key, sizeof(key)) != 1) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "no random bytes for a fleet key");
    }
    for (size_t i = 0; i < sizeof(key); i++) {
        text[2 * i] = digits[key[i] >> 4];
        text[2 * i + 1] = digits[key[i] & 15];
    }
    text[2 * EVC_FLEET_KEY_LEN] = '\n';
    r = evc_key_file_create(path, text, sizeof(text), err);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(text, sizeof(text));
    return r;
}
