/* SPDX-License-Identifier: Apache-2.0 */
/* What the JKS reader and writer share: the password's encoding, the digests, the key protector. */
#ifndef EVC_X509_JKS_INT_H
#define EVC_X509_JKS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

/* Sun's JKS key protector: a SHA-1 keystream and a SHA-1 check. */
#define EVC_JKS_KEY_PROTECTOR_OID "1.3.6.1.4.1.42.2.17.1.1"

/* password (UTF-8) as Java's char[] in UTF-16BE; EVC_ERR_USAGE for bad UTF-8, EVC_ERR_LIMIT. */
int evc_jks_password16(const char *password, uint8_t *out, size_t cap, size_t *outlen);
/* The keystore digest: SHA-1(UTF-16BE(password) || "Mighty Aphrodite" || data). */
int evc_jks_digest(const char *password, const uint8_t *data, size_t len, uint8_t md[20],
                   struct evc_err *err);
/* out = in XOR the key protector's keystream from salt (in and out may be the same). */
int evc_jks_keystream(const char *password, const uint8_t salt[20], const uint8_t *in, uint8_t *out,
                      size_t len, struct evc_err *err);
int evc_jks_key_check(const char *password, const uint8_t *plain, size_t len, uint8_t md[20],
                      struct evc_err *err);

#endif
