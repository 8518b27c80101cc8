/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificates of a PEM bundle with the place of each block, so that a
 * rewrite appends or cuts one block and keeps every other byte of the file:
 * comments, blank lines, keys and CRLs, and OpenSSL's TRUSTED CERTIFICATE
 * blocks, whose trust and reject settings are read along with the
 * certificate (d2i_X509_AUX) so that a reject mark stays a reject mark.
 * The blocks are found by the one PEM reader, evc_pem_each; this adds the
 * trust settings and refuses a file with a broken block. Pure: bytes in,
 * certificates out, no I/O, no clock, linear in the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "evercert/certfile.h"
#include "evercert/stores.h"

struct parse {
    struct evc_pem_cert *v;
    size_t n, cap;
    struct evc_err *err;
};

static int
append(struct parse *ps, const struct evc_pem_cert *c)
{
    if (ps->n == ps->cap) {
        size_t ncap = ps->cap != 0 ? ps->cap * 2 : 8;
        struct evc_pem_cert *nv = realloc(ps->v, ncap * sizeof(*nv));

        if (nv == NULL) {
            return EVC_ERR_NOMEM;
        }
        ps->v = nv;
        ps->cap = ncap;
    }
    ps->v[ps->n++] = *c;
    return 0;
}

/* One certificate block; a TRUSTED CERTIFICATE's settings follow its DER and are read with it. */
static int
on_cert(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct parse *ps = arg;
    const unsigned char *p = der;
    size_t all = len + loc->aux_len;
    struct evc_pem_cert c;

    memset(&c, 0, sizeof(c));
    c.x = loc->aux_len > 0 ? d2i_X509_AUX(NULL, &p, (long)all) : d2i_X509(NULL, &p, (long)len);
    ERR_clear_error();
    if (c.x == NULL || p != der + all) {
        X509_free(c.x);
        return evc_err_set(ps->err, EVC_ERR_BAD_DER, "line %lu: %s", loc->line,
                           c.x == NULL ? "invalid DER certificate" : "data after the certificate");
    }
    c.start = loc->start;
    c.end = loc->end;
    c.line = loc->line;
    if (append(ps, &c) != 0) {
        X509_free(c.x);
        return evc_err_set(ps->err, EVC_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* A store evercert rewrites must parse whole: a broken block stops the load, naming its line. */
static int
on_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *e)
{
    struct parse *ps = arg;

    (void)loc;
    return evc_err_set(ps->err, e->code != 0 ? e->code : EVC_ERR_BAD_PEM, "%s", evc_err_message(e));
}

int
evc_pem_certs_parse(const uint8_t *data, size_t len, struct evc_pem_cert **out, size_t *nout,
                    struct evc_err *err)
{
    struct parse ps = {NULL, 0, 0, err};
    struct evc_cert_sink sink = {on_cert, on_bad, &ps};
    int r;

    *out = NULL;
    *nout = 0;
    if ((r = evc_pem_each(data, len, &sink, err)) != 0) {
        evc_pem_certs_free(ps.v, ps.n);
        return r;
    }
    *out = ps.v;
    *nout = ps.n;
    return 0;
}

void
evc_pem_certs_free(struct evc_pem_cert *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        X509_free(v[i].x);
    }
    free(v);
}
