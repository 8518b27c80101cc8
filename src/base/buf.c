/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capped growable buffer. Growth doubles to amortise appends; the cap is
 * checked in subtraction form so no size computation can overflow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "evercert/buf.h"

void
evc_buf_init(struct evc_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void
evc_buf_free(struct evc_buf *b)
{
    if (b == NULL) {
        return;
    }
    if (b->data != NULL) {
        OPENSSL_cleanse(b->data, b->alloc);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void
evc_buf_reset(struct evc_buf *b)
{
    b->len = 0;
}

int
evc_buf_reserve(struct evc_buf *b, size_t n)
{
    size_t want, alloc;
    uint8_t *p;

    /* One byte more than asked keeps room for the NUL of evc_buf_str(). */
    if (n > b->max - b->len || b->max - b->len - n < 1) {
        return EVC_ERR_LIMIT;
    }
    want = b->len + n + 1;
    if (want <= b->alloc) {
        return 0;
    }
    alloc = b->alloc ? b->alloc : 256;
    while (alloc < want) {
        alloc = alloc > SIZE_MAX / 2 ? want : alloc * 2;
    }
    /* Not realloc: the old block may hold a key, and it is wiped before it goes. */
    if ((p = malloc(alloc)) == NULL) {
        return EVC_ERR_NOMEM;
    }
    if (b->data != NULL) {
        memcpy(p, b->data, b->len);
        OPENSSL_cleanse(b->data, b->alloc);
        free(b->data);
    }
    b->data = p;
    b->alloc = alloc;
    return 0;
}

int
evc_buf_put(struct evc_buf *b, const void *p, size_t n)
{
    int r;

    if ((r = evc_buf_reserve(b, n)) != 0) {
        return r;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return 0;
}

int
evc_buf_puts(struct evc_buf *b, const char *s)
{
    return evc_buf_put(b, s, strlen(s));
}

int
evc_buf_putc(struct evc_buf *b, int c)
{
    uint8_t ch = (uint8_t)c;

    return evc_buf_put(b, &ch, 1);
}

int
evc_buf_printf(struct evc_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, r;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return EVC_ERR_INTERNAL;
    }
    if ((r = evc_buf_reserve(b, (size_t)n)) != 0) {
        return r;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *
evc_buf_str(struct evc_buf *b)
{
    if (b->data == NULL) {
        return "";
    }
    b->data[b->len] = '\0';
    return (const char *)b->data;
}
