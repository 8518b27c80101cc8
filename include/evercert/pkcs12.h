/* SPDX-License-Identifier: Apache-2.0 */
/* Writing PKCS#12 keystores and truststores, reading a keystore's key, and the cost check. */
#ifndef EVERCERT_PKCS12_H
#define EVERCERT_PKCS12_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"

/*
 * Encode a PKCS#12 store into out: a keystore (key with certs[0] as its
 * certificate, the rest as its chain) when key is set, else a truststore
 * whose certificates Java's keytool lists as trusted. password may be NULL
 * for the empty one.
 */
EVC_EXPORT EVC_MUST_USE int evc_pkcs12_encode(X509 *const *certs, size_t ncerts, EVP_PKEY *key,
                                              const char *password, struct evc_buf *out,
                                              struct evc_err *err);
/*
 * Check the cost a parsed PKCS#12 file asks for before any key is derived
 * from a password: the iteration count of its MAC and the parameters of
 * each encrypted safe, against EVC_PKCS12_ITER_MAX. EVC_ERR_LIMIT names
 * the count ("MAC iteration count 2147483648 over the cap of 1000000");
 * EVC_ERR_BAD_DER for a count that is not positive or parameters that do
 * not decode. Key bags inside encrypted safes carry their own parameters,
 * which only their decryption reveals; evc_pkcs12_each() never opens them.
 */
EVC_EXPORT EVC_MUST_USE int evc_pkcs12_check_cost(const PKCS12 *p12, struct evc_err *err);

/*
 * The key and its certificate from a PKCS#12 keystore. EVC_ERR_BAD_PASSWORD,
 * EVC_ERR_NEED_PASSWORD, EVC_ERR_BAD_KEY when it holds no key.
 */
EVC_EXPORT EVC_MUST_USE int evc_pkcs12_keypair(const uint8_t *data, size_t len,
                                               const char *password, EVP_PKEY **key, X509 **cert,
                                               struct evc_err *err);

/*
 * A PKCS#12 truststore opened to be changed in place. Parse is pure; the
 * password may be NULL (then no password or the empty one). Errors as
 * evc_pkcs12_each: EVC_ERR_BAD_PASSWORD, EVC_ERR_NEED_PASSWORD,
 * EVC_ERR_BAD_DER, EVC_ERR_LIMIT. The caller frees *out.
 */
struct evc_pkcs12_doc;
EVC_EXPORT EVC_MUST_USE int evc_pkcs12_doc_parse(const uint8_t *data, size_t len,
                                                 const char *password, struct evc_pkcs12_doc **out,
                                                 struct evc_err *err);
/* The X.509 certificates inside, in file order; get0 borrows. */
EVC_EXPORT size_t evc_pkcs12_doc_count(const struct evc_pkcs12_doc *d);
EVC_EXPORT X509 *evc_pkcs12_doc_get0(const struct evc_pkcs12_doc *d, size_t i);
/*
 * Encode the store as it is with certificate skip taken out (skip >=
 * count: none) and add put in (NULL: none) as a trusted entry with the
 * alias evercert-<first 8 bytes of its SHA-256>. Every other safe, bag and
 * attribute is kept; the MAC keeps its digest and iteration count. The
 * document itself does not change. A certificate inside a nested bag is
 * not removed (EVC_ERR_USAGE).
 */
EVC_EXPORT EVC_MUST_USE int evc_pkcs12_doc_encode(const struct evc_pkcs12_doc *d, size_t skip,
                                                  X509 *add, struct evc_buf *out,
                                                  struct evc_err *err);
EVC_EXPORT void evc_pkcs12_doc_free(struct evc_pkcs12_doc *d);

#endif
