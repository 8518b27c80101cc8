/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text forms of names, serials and subjectAltName entries. Bytes inside a
 * certificate are whoever-made-it's choice: control bytes are written as
 * \XX here so no later consumer ever sees a NUL or a terminal escape.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "evercert/limits.h"
#include "x509/x509_int.h"

int
evc_x509_name_text(BIO *bio, const X509_NAME *name, char **out, struct evc_err *err)
{
    char *data = NULL;
    long n;

    *out = NULL;
    (void)BIO_reset(bio);
    if (X509_NAME_print_ex(bio, name, 0, EVC_NAME_FLAGS) < 0) {
        return evc_err_openssl(err, EVC_ERR_BAD_DER, "name cannot be printed");
    }
    n = BIO_get_mem_data(bio, &data);
    if (n < 0 || (size_t)n > EVC_NAME_TEXT_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "name longer than %zu bytes", EVC_NAME_TEXT_MAX);
    }
    if ((*out = strndup(n > 0 ? data : "", (size_t)n)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, NULL);
    }
    return 0;
}

int
evc_x509_serial_text(const ASN1_INTEGER *serial, char **out)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *d = ASN1_STRING_get0_data(serial);
    int n = ASN1_STRING_length(serial), neg = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
    char *s, *p;

    if ((s = malloc((size_t)n * 2 + 4)) == NULL) {
        *out = NULL;
        return EVC_ERR_NOMEM;
    }
    p = s;
    if (neg) {
        *p++ = '-';
    }
    if (n == 0) {
        *p++ = '0';
        *p++ = '0';
    }
    for (int i = 0; i < n; i++) {
        *p++ = hex[d[i] >> 4];
        *p++ = hex[d[i] & 15];
    }
    *p = '\0';
    *out = s;
    return 0;
}

/* An IA5String from a certificate, control bytes and backslash as \XX. */
static int
put_string(struct evc_buf *b, const char *prefix, const ASN1_STRING *s)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s), r;

    if ((r = evc_buf_puts(b, prefix)) != 0) {
        return r;
    }
    for (int i = 0; i < n && r == 0; i++) {
        if (d[i] < 0x20 || d[i] == 0x7f || d[i] == '\\') {
            r = evc_buf_printf(b, "\\%02X", d[i]);
        } else {
            r = evc_buf_putc(b, d[i]);
        }
    }
    return r;
}

int
evc_x509_general_name_text(BIO *bio, const GENERAL_NAME *gn, struct evc_buf *b)
{
    char txt[128];
    char *name = NULL;
    int r;

    switch (gn->type) {
    case GEN_DNS:
        return put_string(b, "DNS:", gn->d.dNSName);
    case GEN_EMAIL:
        return put_string(b, "email:", gn->d.rfc822Name);
    case GEN_URI:
        return put_string(b, "URI:", gn->d.uniformResourceIdentifier);
    case GEN_IPADD: {
        const unsigned char *d = ASN1_STRING_get0_data(gn->d.iPAddress);
        int n = ASN1_STRING_length(gn->d.iPAddress);

        if ((n == 4 && inet_ntop(AF_INET, d, txt, sizeof(txt)) != NULL) ||
            (n == 16 && inet_ntop(AF_INET6, d, txt, sizeof(txt)) != NULL)) {
            return evc_buf_printf(b, "IP:%s", txt);
        }
        if ((r = evc_buf_puts(b, "IP:invalid:")) != 0) {
            return r;
        }
        for (int i = 0; i < n && r == 0; i++) {
            r = evc_buf_printf(b, "%02X", d[i]);
        }
        return r;
    }
    case GEN_DIRNAME:
        if ((r = evc_x509_name_text(bio, gn->d.directoryName, &name, NULL)) != 0) {
            return r;
        }
        r = evc_buf_printf(b, "DirName:%s", name);
        free(name);
        return r;
    case GEN_RID:
        OBJ_obj2txt(txt, sizeof(txt), gn->d.registeredID, 1);
        return evc_buf_printf(b, "RID:%s", txt);
    case GEN_OTHERNAME:
        OBJ_obj2txt(txt, sizeof(txt), gn->d.otherName->type_id, 1);
        return evc_buf_printf(b, "othername:%s", txt);
    case GEN_X400:
        return evc_buf_puts(b, "X400Name");
    case GEN_EDIPARTY:
        return evc_buf_puts(b, "EdiPartyName");
    default:
        return evc_buf_puts(b, "unknown");
    }
}

const char *
evc_x509_curve_text(const char *sn)
{
    static const struct {
        const char *sn, *text;
    } nist[] = {
        {"prime256v1", "P-256"}, {"secp384r1", "P-384"},  {"secp521r1", "P-521"},
        {"secp224r1", "P-224"},  {"prime192v1", "P-192"},
    };

    for (size_t i = 0; i < sizeof(nist) / sizeof(nist[0]); i++) {
        if (strcmp(sn, nist[i].sn) == 0) {
            return nist[i].text;
        }
    }
    return sn;
}
