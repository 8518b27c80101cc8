/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Java keystores: JKS (magic 0xFEEDFEED) and JCEKS (0xCECECECE), as Java's
 * sun.security.provider.JavaKeyStore writes them. Reading is pure; writing
 * keeps every entry evercert does not change byte for byte and recomputes
 * the keystore's integrity digest.
 */
#ifndef EVERCERT_JKS_H
#define EVERCERT_JKS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/certfile.h"
#include "evercert/error.h"

#define EVC_JKS_MAGIC 0xFEEDFEEDu
#define EVC_JCEKS_MAGIC 0xCECECECEu

/* Entry tags as Java writes them. */
enum evc_jks_tag { EVC_JKS_KEY = 1, EVC_JKS_TRUSTED = 2, EVC_JKS_SECRET = 3 };

struct evc_jks_span {
    size_t off, len; /* into the keystore's bytes */
};

struct evc_jks_entry {
    enum evc_jks_tag tag;
    char *alias;                /* as stored (Java's modified UTF-8), NUL-terminated */
    uint64_t date_ms;           /* creation date, milliseconds since 1970 */
    struct evc_jks_span key;    /* EVC_JKS_KEY: the protected key (EncryptedPrivateKeyInfo) */
    struct evc_jks_span *certs; /* the chain (key entry) or the one certificate (trusted) */
    size_t ncerts;
    struct evc_jks_span raw; /* the whole entry, from its tag on */
};

struct evc_jks {
    uint32_t magic, version;
    int verified;  /* the integrity digest was checked with a password */
    uint8_t *data; /* a copy of the keystore's bytes */
    size_t len;
    struct evc_jks_entry *entries;
    size_t n;
};

/*
 * Parse a JKS or JCEKS keystore; pure, linear in len. password (UTF-8)
 * checks the trailing integrity digest: EVC_ERR_BAD_PASSWORD when it does
 * not match. With password NULL the certificates are read and the digest
 * is not checked (verified = 0), as `keytool -list` does without one.
 * JCEKS secret key entries (Java serialized objects without a length) are
 * refused: EVC_ERR_PARSE. Caps: EVC_JKS_ENTRIES_MAX, EVC_JKS_CHAIN_MAX,
 * EVC_CERT_DER_MAX per certificate, EVC_STORE_FILE_MAX in all. Other
 * errors: EVC_ERR_TRUNCATED, EVC_ERR_TRAILING, EVC_ERR_PARSE (bad magic,
 * version, tag or certificate type), EVC_ERR_LIMIT. The caller frees *out
 * with evc_jks_free.
 */
EVC_EXPORT EVC_MUST_USE int evc_jks_parse(const uint8_t *data, size_t len, const char *password,
                                          struct evc_jks **out, struct evc_err *err);
EVC_EXPORT void evc_jks_free(struct evc_jks *ks);

/*
 * The store reader: every certificate of every entry, in file order, to
 * sink (loc->start/end: the DER's bytes). Password as evc_jks_parse.
 */
EVC_EXPORT int evc_jks_each(const uint8_t *data, size_t len, const char *password,
                            const struct evc_cert_sink *sink, struct evc_err *err);

/* The index of the entry with this alias (compared as Java does, ASCII case folded), or -1. */
EVC_EXPORT long evc_jks_find(const struct evc_jks *ks, const char *alias);

/*
 * Decrypt a key entry's key with JKS's own key protector (OID
 * 1.3.6.1.4.1.42.2.17.1.1): EVC_ERR_BAD_PASSWORD when its check digest
 * does not match, EVC_ERR_BAD_KEY for another protector (JCEKS's). The
 * plaintext is wiped before return; the caller frees *key.
 */
EVC_EXPORT EVC_MUST_USE int evc_jks_key_decrypt(const struct evc_jks *ks, size_t i,
                                                const char *password, EVP_PKEY **key,
                                                struct evc_err *err);

/* What evc_jks_encode changes; everything else is copied byte for byte. */
struct evc_jks_edit {
    size_t skip;    /* an entry left out; SIZE_MAX for none */
    X509 *trusted;  /* added as a trusted entry "evercert-<first 8 bytes of SHA-256 in hex>" */
    size_t replace; /* a key entry given key and chain instead; SIZE_MAX for none */
    EVP_PKEY *key;  /* protected with JKS's key protector under password */
    STACK_OF(X509) * chain; /* the key's certificate first */
    uint64_t now_ms;        /* the date of an added or replaced entry */
};

/*
 * Encode ks with edit applied into out, the integrity digest computed
 * with password (required: EVC_ERR_NEED_PASSWORD). A replaced key entry
 * keeps its alias. JCEKS stores take no new key (EVC_ERR_USAGE).
 */
EVC_EXPORT EVC_MUST_USE int evc_jks_encode(const struct evc_jks *ks,
                                           const struct evc_jks_edit *edit, const char *password,
                                           struct evc_buf *out, struct evc_err *err);

/* An empty JKS keystore (version 2) with its digest under password. */
EVC_EXPORT EVC_MUST_USE int evc_jks_encode_empty(const char *password, struct evc_buf *out,
                                                 struct evc_err *err);

#endif
