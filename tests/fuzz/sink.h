/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink the certificate-file targets hand their reader: it checks what
 * a reader promises about each certificate and reason it reports.
 */
#ifndef EVC_FUZZ_SINK_H
#define EVC_FUZZ_SINK_H

#include <string.h>

#include "evercert/cert.h"
#include "evercert/certfile.h"
#include "evercert/limits.h"
#include "fuzz.h"

struct sink_state {
    const char *target;
    size_t certs; /* reported good or bad, in order */
    unsigned long line;
    struct evc_cert_reader *reader; /* read each certificate too, when set */
};

static inline void
sink_loc(struct sink_state *s, const struct evc_cert_loc *loc)
{
    fuzz_check(loc->index == s->certs, s->target, "certificates not numbered in order");
    fuzz_check(loc->line >= s->line, s->target, "lines going backwards");
    s->line = loc->line;
    s->certs++;
}

static inline int
sink_cert(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct sink_state *s = arg;
    struct evc_err err = {0};
    struct evc_cert c;

    sink_loc(s, loc);
    fuzz_check(der != NULL && len > 0, s->target, "an empty certificate handed over");
    fuzz_check(len <= EVC_CERT_DER_MAX + 4 * 256, s->target, "a certificate over the cap");
    if (s->reader != NULL) {
        memset(&c, 0, sizeof(c));
        if (evc_cert_read(s->reader, der, len, &c, &err) == 0) {
            evc_cert_clear(&c);
        }
    }
    return 0;
}

static inline int
sink_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *err)
{
    struct sink_state *s = arg;

    sink_loc(s, loc);
    fuzz_check(err != NULL && err->code < 0 && err->detail[0] != '\0', s->target,
               "a bad certificate without a reason");
    return 0;
}

#endif
