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
    size_t certs; /* the index the next certificate may have */
    int slack;    /* after a bad block: it may have been a certificate, or not (a key) */
    unsigned long line;
    struct evc_cert_reader *reader; /* read each certificate too, when set */
};

/*
 * Certificates are numbered in order. A bad block may be a certificate
 * (it takes its number) or another block left unterminated (it does not),
 * so the report after one may have its number or the next.
 */
static inline void
sink_loc(struct sink_state *s, const struct evc_cert_loc *loc, int good)
{
    fuzz_check(loc->index == s->certs || (s->slack && loc->index == s->certs + 1), s->target,
               "certificates not numbered in order");
    fuzz_check(loc->line >= s->line, s->target, "lines going backwards");
    fuzz_check(loc->start <= loc->end, s->target, "a block that ends before it starts");
    s->line = loc->line;
    s->certs = good ? loc->index + 1 : loc->index;
    s->slack = !good;
}

static inline int
sink_cert(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct sink_state *s = arg;
    struct evc_err err = {0};
    struct evc_cert c;

    sink_loc(s, loc, 1);
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

    sink_loc(s, loc, 0);
    fuzz_check(err != NULL && err->code < 0 && err->detail[0] != '\0', s->target,
               "a bad certificate without a reason");
    return 0;
}

#endif
