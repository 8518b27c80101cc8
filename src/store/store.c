/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One table of store formats. Adding a format is one reader in x509/ and
 * one row here; nothing else changes.
 */
#include "evercert/jks.h"
#include "evercert/store.h"

static int
read_pem(const uint8_t *d, size_t n, const struct evc_store_opts *o, const struct evc_cert_sink *s,
         struct evc_err *e)
{
    (void)o;
    return evc_pem_each(d, n, s, e);
}

static int
read_der(const uint8_t *d, size_t n, const struct evc_store_opts *o, const struct evc_cert_sink *s,
         struct evc_err *e)
{
    (void)o;
    return evc_der_each(d, n, s, e);
}

static int
read_pkcs12(const uint8_t *d, size_t n, const struct evc_store_opts *o,
            const struct evc_cert_sink *s, struct evc_err *e)
{
    return evc_pkcs12_each(d, n, o ? o->password : NULL, s, e);
}

/* JKS and JCEKS: the password is the store's, as for PKCS#12; without one the digest is not
 * checked. */
static int
read_jks(const uint8_t *d, size_t n, const struct evc_store_opts *o, const struct evc_cert_sink *s,
         struct evc_err *e)
{
    return evc_jks_each(d, n, o ? o->password : NULL, s, e);
}

static const struct store_format {
    enum evc_format format;
    int (*read)(const uint8_t *, size_t, const struct evc_store_opts *,
                const struct evc_cert_sink *, struct evc_err *);
} formats[] = {
    {EVC_FORMAT_PEM, read_pem}, {EVC_FORMAT_DER, read_der},   {EVC_FORMAT_PKCS12, read_pkcs12},
    {EVC_FORMAT_JKS, read_jks}, {EVC_FORMAT_JCEKS, read_jks},
};

int
evc_store_read(const uint8_t *data, size_t len, const struct evc_store_opts *opts,
               const struct evc_cert_sink *sink, enum evc_format *format, struct evc_err *err)
{
    enum evc_format f = evc_format_detect(data, len);

    if (format != NULL) {
        *format = f;
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (formats[i].format == f) {
            return formats[i].read(data, len, opts, sink, err);
        }
    }
    return evc_err_set(err, EVC_ERR_UNKNOWN_FORMAT, NULL);
}
