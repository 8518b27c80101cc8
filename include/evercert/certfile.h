/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding certificates inside the bytes of a file: PEM (one or many blocks,
 * keys and other blocks skipped), DER (one or several back to back) and
 * PKCS#12. Every function here is pure: bytes in, callbacks out, no I/O,
 * no clock, so each can be fuzzed directly.
 */
#ifndef EVERCERT_CERTFILE_H
#define EVERCERT_CERTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

enum evc_format {
    EVC_FORMAT_UNKNOWN = 0,
    EVC_FORMAT_PEM,
    EVC_FORMAT_DER,
    EVC_FORMAT_PKCS12,
    EVC_FORMAT_JKS,  /* a Java keystore, magic 0xFEEDFEED */
    EVC_FORMAT_JCEKS /* a Java JCE keystore, magic 0xCECECECE */
};

/* Where a certificate sits in its file. */
struct evc_cert_loc {
    size_t index;       /* 0 for the first certificate of the file */
    unsigned long line; /* line of the BEGIN marker; 0 where there are no lines */
    /*
     * PEM: the block's bytes, from its BEGIN line to past its END line's
     * line break, so a rewrite can cut exactly this block; DER: the element.
     */
    size_t start, end;
    /* A TRUSTED CERTIFICATE's trust settings: this many bytes right after the DER. */
    size_t aux_len;
};

struct evc_cert_sink {
    /* One certificate's DER, borrowed for the call. Nonzero stops the reader. */
    int (*cert)(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc);
    /* One certificate that could not be extracted; reading goes on. */
    int (*bad)(void *arg, const struct evc_cert_loc *loc, const struct evc_err *err);
    void *arg;
};

/* Decide the format from the content alone. */
EVC_EXPORT enum evc_format evc_format_detect(const uint8_t *data, size_t len);
EVC_EXPORT const char *evc_format_name(enum evc_format f);

/*
 * Each reader returns 0 when the file could be read as that format (bad
 * certificates inside it go to sink->bad), or a negative code when the file
 * as a whole cannot be (err says why), or the nonzero value a callback
 * returned to stop it.
 */
EVC_EXPORT int evc_pem_each(const uint8_t *data, size_t len, const struct evc_cert_sink *sink,
                            struct evc_err *err);
/*
 * evc_pem_each(), adding to *work the number of bytes the reader examined
 * (searched, counted, compared or decoded): how tests prove that its cost
 * is linear in len whatever the bytes are.
 */
EVC_EXPORT int evc_pem_each_work(const uint8_t *data, size_t len, const struct evc_cert_sink *sink,
                                 size_t *work, struct evc_err *err);
EVC_EXPORT int evc_der_each(const uint8_t *data, size_t len, const struct evc_cert_sink *sink,
                            struct evc_err *err);
/*
 * password may be NULL: then a file without a password, or with the empty
 * one, is read; otherwise EVC_ERR_NEED_PASSWORD. A wrong one gives
 * EVC_ERR_BAD_PASSWORD. Key bags are never decrypted.
 */
EVC_EXPORT int evc_pkcs12_each(const uint8_t *data, size_t len, const char *password,
                               const struct evc_cert_sink *sink, struct evc_err *err);

#endif
