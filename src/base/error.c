/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes to text, and the detail sentence that travels with a code.
 * OpenSSL keeps its own per-thread error queue; evc_err_openssl() moves its
 * first reason into our detail and empties the queue, so a failure in one
 * certificate never leaks into the report of the next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "evercert/error.h"

const char *
evc_strerror(int code)
{
    switch (code) {
    case EVC_OK:
        return "success";
#define EVC_ERR_CASE(name, value, text)                                                            \
    case EVC_ERR_##name:                                                                           \
        return text;
        EVC_ERRORS(EVC_ERR_CASE)
#undef EVC_ERR_CASE
    default:
        return "unknown error";
    }
}

/* A printf format and its arguments: clang checks the callers' formats through it. */
static int err_vset(struct evc_err *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int
err_vset(struct evc_err *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    if (fmt == NULL) {
        err->detail[0] = '\0';
    } else {
        /* Through a copy: the arguments may point into err->detail itself. */
        char tmp[sizeof(err->detail)];

        vsnprintf(tmp, sizeof(tmp), fmt, ap);
        memcpy(err->detail, tmp, sizeof(tmp));
    }
    return code;
}

int
evc_err_set(struct evc_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int
evc_err_openssl(struct evc_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    unsigned long e;
    char reason[160];
    size_t used;

    va_start(ap, fmt);
    err_vset(err, code, fmt, ap);
    va_end(ap);
    e = ERR_peek_error();
    if (err != NULL && e != 0) {
        const char *r = ERR_reason_error_string(e);

        if (r == NULL) {
            snprintf(reason, sizeof(reason), "error %lx", e);
            r = reason;
        }
        used = strlen(err->detail);
        snprintf(err->detail + used, sizeof(err->detail) - used, "%s%s", used ? ": " : "", r);
    }
    ERR_clear_error();
    return code;
}

const char *
evc_err_message(const struct evc_err *err)
{
    if (err->detail[0] != '\0') {
        return err->detail;
    }
    return evc_strerror(err->code);
}
