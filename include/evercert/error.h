/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes of libevercert. A fallible function returns 0 or one of these
 * negative codes; a struct evc_err, where a function takes one, carries the
 * detail a person needs (which line, which block, OpenSSL's reason).
 *
 * The list is an X-macro so the enum and evc_strerror() cannot drift apart.
 * Codes are grouped by hundreds; a published code is never renumbered.
 */
#ifndef EVERCERT_ERROR_H
#define EVERCERT_ERROR_H

#include <stddef.h>

#define EVC_EXPORT __attribute__((visibility("default")))
#define EVC_MUST_USE __attribute__((warn_unused_result))

#define EVC_ERRORS(X)                                                                              \
    X(INTERNAL, -1, "internal error")                                                              \
    X(NOMEM, -2, "out of memory")                                                                  \
    X(IO, -100, "input/output error")                                                              \
    X(NOENT, -101, "no such file or directory")                                                    \
    X(ACCESS, -102, "permission denied")                                                           \
    X(NOT_REGULAR, -103, "not a regular file")                                                     \
    X(TOO_LARGE, -104, "file too large")                                                           \
    X(LOOP, -105, "too many levels of symbolic links")                                             \
    X(TOO_DEEP, -106, "directories nested too deeply")                                             \
    X(EXISTS, -107, "file exists")                                                                 \
    X(BUSY, -108, "locked by another process")                                                     \
    X(CRASH, -109, "stopped by fault injection")                                                   \
    X(PARSE, -200, "malformed input")                                                              \
    X(TRUNCATED, -201, "truncated input")                                                          \
    X(TRAILING, -202, "trailing data")                                                             \
    X(BAD_DER, -203, "invalid DER")                                                                \
    X(BAD_PEM, -204, "invalid PEM")                                                                \
    X(BAD_TIME, -205, "invalid time")                                                              \
    X(UNKNOWN_FORMAT, -206, "no certificate found (not PEM, DER, PKCS#12 or JKS)")                 \
    X(LIMIT, -207, "over a size limit")                                                            \
    X(BAD_DURATION, -208, "invalid duration")                                                      \
    X(CONFIG, -209, "invalid configuration")                                                       \
    X(CRYPTO, -300, "cryptographic library error")                                                 \
    X(BAD_PASSWORD, -301, "wrong password")                                                        \
    X(NEED_PASSWORD, -302, "password required")                                                    \
    X(KEY_MISMATCH, -303, "key does not match certificate")                                        \
    X(BAD_KEY, -304, "unsupported or invalid key")                                                 \
    X(POLICY, -400, "refused by policy")                                                           \
    X(USAGE, -500, "invalid argument")

enum evc_error {
    EVC_OK = 0,
#define EVC_ERR_ENUM(name, value, text) EVC_ERR_##name = (value),
    EVC_ERRORS(EVC_ERR_ENUM)
#undef EVC_ERR_ENUM
};

/* Longest detail message kept; longer ones are cut. */
#define EVC_ERR_DETAIL_MAX 256

/* A code and the sentence that explains it. Zero-initialise before use. */
struct evc_err {
    int code;
    char detail[EVC_ERR_DETAIL_MAX];
};

/* The fixed text of a code ("wrong password"); never NULL. */
EVC_EXPORT const char *evc_strerror(int code);

/*
 * Record code and a printf-style detail in err (which may be NULL) and
 * return code, so a caller writes `return evc_err_set(err, EVC_ERR_X, ...)`.
 */
EVC_EXPORT int evc_err_set(struct evc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Like evc_err_set(), then append OpenSSL's first queued reason (if any)
 * after ": " and clear OpenSSL's error queue.
 */
EVC_EXPORT int evc_err_openssl(struct evc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The best sentence for err: its detail, else the text of its code. */
EVC_EXPORT const char *evc_err_message(const struct evc_err *err);

#endif
