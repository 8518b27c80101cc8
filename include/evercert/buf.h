/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer with a hard cap, in the spirit of OpenSSH's sshbuf
 * and curl's dynbuf: every append is checked against the cap before memory
 * is touched, so data from outside can never grow it without bound.
 */
#ifndef EVERCERT_BUF_H
#define EVERCERT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

struct evc_buf {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t max; /* appends that would pass this fail with EVC_ERR_LIMIT */
};

/* An empty buffer that will refuse to hold more than max bytes. */
EVC_EXPORT void evc_buf_init(struct evc_buf *b, size_t max);
/* Free the memory (wiped first: a buffer may have held a secret); NULL-safe. */
EVC_EXPORT void evc_buf_free(struct evc_buf *b);
/* Forget the contents, keep the memory. */
EVC_EXPORT void evc_buf_reset(struct evc_buf *b);
/* Make room for n more bytes. 0, EVC_ERR_LIMIT or EVC_ERR_NOMEM. */
EVC_EXPORT EVC_MUST_USE int evc_buf_reserve(struct evc_buf *b, size_t n);
EVC_EXPORT EVC_MUST_USE int evc_buf_put(struct evc_buf *b, const void *p, size_t n);
EVC_EXPORT EVC_MUST_USE int evc_buf_puts(struct evc_buf *b, const char *s);
EVC_EXPORT EVC_MUST_USE int evc_buf_putc(struct evc_buf *b, int c);
EVC_EXPORT EVC_MUST_USE int evc_buf_printf(struct evc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The contents as a C string (a NUL is kept after the last byte). */
EVC_EXPORT const char *evc_buf_str(struct evc_buf *b);

#endif
