/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stores: the files and directories certificates live in. Reading detects
 * the format from the content, never from the file name; walking visits
 * every file below a set of paths once, however many links lead to it.
 */
#ifndef EVERCERT_STORE_H
#define EVERCERT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/certfile.h"
#include "evercert/error.h"

struct evc_store_opts {
    const char *password; /* for PKCS#12; NULL for none */
};

/*
 * Hand every certificate in data to sink, whatever the format. *format (may
 * be NULL) receives what was detected. EVC_ERR_UNKNOWN_FORMAT when the bytes
 * are no format we read; otherwise as the format's reader.
 */
EVC_EXPORT int evc_store_read(const uint8_t *data, size_t len, const struct evc_store_opts *opts,
                              const struct evc_cert_sink *sink, enum evc_format *format,
                              struct evc_err *err);

struct evc_walk_cb {
    /*
     * A regular file to read. wanted is 1 when the user named it or its name
     * ends in a certificate extension (.pem .crt .cer .der .p12 .pfx): such a
     * file must hold certificates; any other file counts only if it parses.
     */
    int (*file)(void *arg, const char *path, int wanted);
    /* A path that cannot be visited: missing, a broken link, a loop, a FIFO. */
    int (*error)(void *arg, const char *path, const struct evc_err *err);
    void *arg;
};

/*
 * Visit paths in order; directories recursively (entries sorted by name,
 * OpenSSL hash links such as 9d66eef0.0 after the files they point to, so
 * a certificate is reported under its own name). A file or directory
 * reached twice is visited once. Returns 0, or the nonzero value a callback
 * returned, or EVC_ERR_NOMEM.
 */
EVC_EXPORT int evc_store_walk(const char *const *paths, size_t npaths,
                              const struct evc_walk_cb *cb);

#endif
