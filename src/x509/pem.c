/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PEM and DER certificate files. PEM blocks are found by their markers
 * (RFC 7468) and their base64 decoded by OpenSSL's EVP_Decode*; a block
 * whose content is broken is reported by line and the reading goes on, so
 * one bad certificate in a bundle never hides the others.
 */
#include <limits.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/cert.h"
#include "evercert/certfile.h"
#include "evercert/limits.h"

#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
#define PEM_DASHES "-----"
/* Longest label we look at; "TRUSTED CERTIFICATE" is 19. */
#define PEM_LABEL_MAX 64

/* Whether a DER element is a ContentInfo of type signedData (1.2.840.113549.1.7.2). */
static int
is_p7_der(const uint8_t *d, size_t n)
{
    static const uint8_t oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
    size_t hdr;

    if (n < 2 || d[0] != 0x30) {
        return 0;
    }
    hdr = d[1] < 0x80 ? 2 : 2 + (size_t)(d[1] & 0x7f);
    return n >= hdr + sizeof(oid) && memcmp(d + hdr, oid, sizeof(oid)) == 0;
}

const char *
evc_format_name(enum evc_format f)
{
    switch (f) {
    case EVC_FORMAT_PEM:
        return "PEM";
    case EVC_FORMAT_DER:
        return "DER";
    case EVC_FORMAT_PKCS12:
        return "PKCS#12";
    case EVC_FORMAT_JKS:
        return "JKS";
    case EVC_FORMAT_JCEKS:
        return "JCEKS";
    default:
        return "unknown";
    }
}

enum evc_format
evc_format_detect(const uint8_t *data, size_t len)
{
    const unsigned char *p = data;
    long n;
    int tag, cls, ret;
    size_t hdr;

    /* A Java keystore's magic first: an alias may spell a PEM marker. */
    if (len >= 4 && data[0] == 0xfe && data[1] == 0xed && data[2] == 0xfe && data[3] == 0xed) {
        return EVC_FORMAT_JKS;
    }
    if (len >= 4 && data[0] == 0xce && data[1] == 0xce && data[2] == 0xce && data[3] == 0xce) {
        return EVC_FORMAT_JCEKS;
    }
    if (memmem(data, len, PEM_BEGIN, strlen(PEM_BEGIN)) != NULL) {
        return EVC_FORMAT_PEM;
    }
    /*
     * A certificate or a PFX is never under 128 bytes, so its outer length
     * is in long form (0x81..0x84). Text that starts "0" then a digit (an
     * OpenSSL ca.srl serial file) is not mistaken for truncated DER.
     */
    if (len < 2 || data[0] != (V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED) || data[1] < 0x81 ||
        data[1] > 0x84) {
        return EVC_FORMAT_UNKNOWN;
    }
    /*
     * Certificate and PFX are both SEQUENCEs; the first thing inside tells
     * them apart (a SEQUENCE, or the INTEGER version 3). ASN1_get_object()
     * reports the header even when the length runs past the end, so a
     * truncated file is still recognised, and then reported as truncated.
     */
    ret = ASN1_get_object(&p, &n, &tag, &cls, (long)(len > 1L << 30 ? 1L << 30 : len));
    ERR_clear_error();
    if (ret == 0x80 || !(ret & V_ASN1_CONSTRUCTED)) {
        return EVC_FORMAT_UNKNOWN;
    }
    hdr = (size_t)(p - data);
    if (hdr >= len) {
        return EVC_FORMAT_DER;
    }
    /* A certificate starts with a SEQUENCE; a .p7b chain is signedData's OID then the data. */
    if (data[hdr] == (V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED) || is_p7_der(data, len)) {
        return EVC_FORMAT_DER;
    }
    if (len - hdr >= 3 && data[hdr] == V_ASN1_INTEGER && data[hdr + 1] == 1 && data[hdr + 2] == 3) {
        return EVC_FORMAT_PKCS12;
    }
    return EVC_FORMAT_UNKNOWN;
}

/*
 * The reader's bytes and the work it has done: the bytes it examined, for
 * the tests that prove each is examined a bounded number of times.
 */
struct pem_scan {
    const uint8_t *end;
    size_t work;
};

static const uint8_t *
find(struct pem_scan *s, const uint8_t *from, size_t max, const char *needle, size_t nlen)
{
    const uint8_t *at = memmem(from, max, needle, nlen);

    s->work += at != NULL ? (size_t)(at - from) + nlen : max;
    return at;
}

/* Whether p starts with prefix; only the bytes up to the first difference count. */
static int
starts(struct pem_scan *s, const uint8_t *p, const char *prefix)
{
    size_t n = strlen(prefix), avail = (size_t)(s->end - p);

    for (size_t i = 0; i < n; i++) {
        s->work++;
        if (i >= avail || p[i] != (uint8_t)prefix[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Where the block whose BEGIN line closes at close stops: the first END or
 * BEGIN line after it (*ended says which), found by the dashes both start
 * with, so the search never runs past the next marker; NULL when there is
 * neither. close itself may open the next BEGIN line.
 */
static const uint8_t *
block_stop(struct pem_scan *s, const uint8_t *close, int *ended)
{
    const uint8_t *d = close;

    *ended = 0;
    if (starts(s, close, PEM_BEGIN)) {
        return close;
    }
    for (d = close + strlen(PEM_DASHES); d < s->end; d++) {
        if ((d = find(s, d, (size_t)(s->end - d), PEM_DASHES, strlen(PEM_DASHES))) == NULL) {
            return NULL;
        }
        /* In a run of dashes only the last five can open a marker. */
        while ((size_t)(s->end - d) > strlen(PEM_DASHES) && d[strlen(PEM_DASHES)] == '-') {
            s->work++;
            d++;
        }
        if (starts(s, d, PEM_END)) {
            *ended = 1;
            return d;
        }
        if (starts(s, d, PEM_BEGIN)) {
            return d;
        }
    }
    return NULL;
}

/* A PKCS#7 SignedData that carries a chain (.p7b, .p7c): its certificates are read too. */
static int
is_p7_label(const char *label)
{
    return strcmp(label, "PKCS7") == 0 || strcmp(label, "PKCS #7 SIGNED DATA") == 0;
}

/*
 * Each certificate of a PKCS#7 SignedData to the sink, numbered on from
 * *index, so a chain kept as .p7b hides no expiry. One that does not parse
 * is one bad entry. 0, or what the sink returned.
 */
static int
p7_each(const uint8_t *der, size_t len, const struct evc_cert_sink *sink, struct evc_cert_loc *loc,
        size_t *index)
{
    const unsigned char *p = der;
    PKCS7 *p7 = len <= LONG_MAX ? d2i_PKCS7(NULL, &p, (long)len) : NULL;
    STACK_OF(X509) * certs;
    struct evc_err e = {0};
    int r = 0;

    if (p7 == NULL || p != der + len || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
        PKCS7_free(p7);
        ERR_clear_error();
        loc->index = (*index)++;
        evc_err_set(&e, EVC_ERR_BAD_DER, "line %lu: not a PKCS#7 SignedData", loc->line);
        return sink->bad(sink->arg, loc, &e);
    }
    certs = p7->d.sign->cert;
    for (int i = 0; r == 0 && i < sk_X509_num(certs); i++) {
        unsigned char *c = NULL;
        int n = i2d_X509(sk_X509_value(certs, i), &c);

        loc->index = (*index)++;
        if (n <= 0) {
            evc_err_set(&e, EVC_ERR_BAD_DER,
                        "line %lu: certificate %d of the PKCS#7 cannot be read", loc->line, i + 1);
            r = sink->bad(sink->arg, loc, &e);
        } else {
            r = sink->cert(sink->arg, c, (size_t)n, loc);
        }
        OPENSSL_free(c);
    }
    PKCS7_free(p7);
    ERR_clear_error();
    return r;
}

static int
is_cert_label(const char *label)
{
    return strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0 ||
           strcmp(label, "TRUSTED CERTIFICATE") == 0;
}

static unsigned long
count_lines(struct pem_scan *s, const uint8_t *from, const uint8_t *to)
{
    unsigned long n = 0;
    const uint8_t *p = from;

    s->work += (size_t)(to - from);
    while (p < to && (p = memchr(p, '\n', (size_t)(to - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/*
 * The label of a BEGIN line: printable characters up to "-----" on the
 * same line, at most PEM_LABEL_MAX of them. Only that many bytes are
 * looked at, so text that merely contains "-----BEGIN " costs little.
 * Its length, or 0 when this is not a marker we read.
 */
static size_t
read_label(struct pem_scan *s, const uint8_t *label)
{
    size_t avail = (size_t)(s->end - label), n;
    const uint8_t *dashes;

    n = avail < PEM_LABEL_MAX + strlen(PEM_DASHES) ? avail : PEM_LABEL_MAX + strlen(PEM_DASHES);
    if ((dashes = find(s, label, n, PEM_DASHES, strlen(PEM_DASHES))) == NULL) {
        return 0;
    }
    n = (size_t)(dashes - label);
    for (size_t i = 0; i < n; i++) {
        if (label[i] < 0x20 || label[i] > 0x7e) {
            return 0;
        }
    }
    return n;
}

/* Whether the END line at stop closes the block labelled lab. */
static int
end_matches(struct pem_scan *s, const uint8_t *stop, const char *lab, size_t llen)
{
    const uint8_t *name = stop + strlen(PEM_END);
    size_t avail = (size_t)(s->end - name);

    s->work += llen + strlen(PEM_DASHES);
    return avail >= llen + strlen(PEM_DASHES) && memcmp(name, lab, llen) == 0 &&
           memcmp(name + llen, PEM_DASHES, strlen(PEM_DASHES)) == 0;
}

static int
report_bad(const struct evc_cert_sink *sink, const struct evc_cert_loc *loc, int code,
           const char *why)
{
    struct evc_err e = {0};

    evc_err_set(&e, code, "line %lu: %s", loc->line, why);
    return sink->bad(sink->arg, loc, &e);
}

/* Decode one block's base64 into der; 0 or a reason in *why. */
static int
decode_body(EVP_ENCODE_CTX *ctx, const uint8_t *body, size_t len, struct evc_buf *der,
            const char **why)
{
    int outl = 0, finl = 0, r;

    /* Base64 is 4 characters for 3 bytes, plus line breaks. */
    if (len / 4 * 3 > EVC_CERT_DER_MAX + 3 * 256) {
        *why = "certificate too large";
        return EVC_ERR_LIMIT;
    }
    evc_buf_reset(der);
    if ((r = evc_buf_reserve(der, len / 4 * 3 + 3)) != 0) {
        *why = "out of memory";
        return r;
    }
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, der->data, &outl, body, (int)len) < 0 ||
        EVP_DecodeFinal(ctx, der->data + outl, &finl) != 1) {
        ERR_clear_error();
        *why = "invalid base64";
        return EVC_ERR_BAD_PEM;
    }
    der->len = (size_t)outl + (size_t)finl;
    if (der->len == 0) {
        *why = "empty block";
        return EVC_ERR_BAD_PEM;
    }
    return 0;
}

int
evc_pem_each(const uint8_t *data, size_t len, const struct evc_cert_sink *sink, struct evc_err *err)
{
    return evc_pem_each_work(data, len, sink, NULL, err);
}

/*
 * A block ends at the first END line after its BEGIN line. One that meets
 * another BEGIN line or the end of the file first, or whose END line names
 * another label, is unterminated: it is reported, whatever its label, and
 * reading resumes at the next BEGIN line, so a broken key block never
 * hides the certificates after it.
 */
int
evc_pem_each_work(const uint8_t *data, size_t len, const struct evc_cert_sink *sink, size_t *work,
                  struct evc_err *err)
{
    EVP_ENCODE_CTX *ctx = NULL;
    struct evc_buf der;
    struct pem_scan s = {data + len, 0};
    const uint8_t *p = data, *counted = data;
    unsigned long line = 1;
    size_t index = 0;
    int r = EVC_ERR_INTERNAL;

    evc_buf_init(&der, EVC_CERT_DER_MAX + 4 * 256);
    if ((ctx = EVP_ENCODE_CTX_new()) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    for (;;) {
        const uint8_t *begin, *label, *close, *body, *stop, *nl;
        char lab[PEM_LABEL_MAX + 1];
        struct evc_cert_loc loc;
        const char *why = NULL;
        size_t llen;
        int cert, p7, ended;

        if ((begin = find(&s, p, (size_t)(s.end - p), PEM_BEGIN, strlen(PEM_BEGIN))) == NULL) {
            break;
        }
        line += count_lines(&s, counted, begin);
        counted = begin;
        label = begin + strlen(PEM_BEGIN);
        if ((llen = read_label(&s, label)) == 0) {
            /* Not a marker after all (or one we would not read); look further on. */
            p = label;
            continue;
        }
        memcpy(lab, label, llen);
        lab[llen] = '\0';
        close = label + llen;
        body = close + strlen(PEM_DASHES);
        memset(&loc, 0, sizeof(loc));
        loc.line = line;
        loc.index = index;
        loc.start = loc.end = (size_t)(begin - data);
        cert = is_cert_label(lab);
        stop = block_stop(&s, close, &ended);
        if (!ended || !end_matches(&s, stop, lab, llen)) {
            struct evc_err e = {0};

            index += cert;
            evc_err_set(&e, EVC_ERR_TRUNCATED, "unterminated -----BEGIN %s----- at line %lu: %s",
                        lab, line,
                        ended ? "the END line after it is for another label" : "no END line");
            if ((r = sink->bad(sink->arg, &loc, &e)) != 0) {
                goto out;
            }
            /* Resume at the next BEGIN line, which may share the marker's closing dashes. */
            p = close;
            continue;
        }
        /* At the END line's closing dashes, which may open the next marker. */
        p = stop + strlen(PEM_END) + llen;
        /* The block's bytes end with its END line's line break, so a cut leaves no blank line. */
        loc.end = (size_t)(p + strlen(PEM_DASHES) - data);
        if (loc.end < len && data[loc.end] == '\r') {
            loc.end++;
        }
        if (loc.end < len && data[loc.end] == '\n') {
            loc.end++;
        }
        p7 = is_p7_label(lab);
        if (!cert && !p7) {
            /* Keys, CRLs, parameters: not ours to read. Never decoded. */
            continue;
        }
        index += cert;
        /* The base64 starts on the line after BEGIN (or right after it, on one line). */
        if ((nl = find(&s, body, (size_t)(stop - body), "\n", 1)) != NULL) {
            body = nl + 1;
        }
        s.work += (size_t)(stop - body);
        if ((r = decode_body(ctx, body, (size_t)(stop - body), &der, &why)) != 0) {
            if ((r = report_bad(sink, &loc, r, why)) != 0) {
                goto out;
            }
            continue;
        }
        if (p7) {
            if ((r = p7_each(der.data, der.len, sink, &loc, &index)) != 0) {
                goto out;
            }
            continue;
        }
        if (strcmp(lab, "TRUSTED CERTIFICATE") == 0) {
            /* OpenSSL's trusted form: the certificate, then its trust settings. */
            size_t n = evc_der_element_len(der.data, der.len);

            if (n != 0) {
                loc.aux_len = der.len - n;
                der.len = n;
            }
        }
        if ((r = sink->cert(sink->arg, der.data, der.len, &loc)) != 0) {
            goto out;
        }
    }
    r = 0;
out:
    if (work != NULL) {
        *work += s.work;
    }
    EVP_ENCODE_CTX_free(ctx);
    evc_buf_free(&der);
    return r;
}

int
evc_der_each(const uint8_t *data, size_t len, const struct evc_cert_sink *sink, struct evc_err *err)
{
    size_t off = 0, index = 0;
    int r;

    (void)err;
    while (off < len) {
        struct evc_cert_loc loc = {index++, 0, off, off, 0};
        size_t n = evc_der_element_len(data + off, len - off);

        if (n == 0) {
            struct evc_err e = {0};

            evc_err_set(&e, EVC_ERR_TRUNCATED, "certificate %zu: truncated or invalid DER",
                        loc.index);
            return sink->bad(sink->arg, &loc, &e);
        }
        loc.end = off + n;
        if (is_p7_der(data + off, n)) {
            index--; /* the chain's certificates take the numbers */
            r = p7_each(data + off, n, sink, &loc, &index);
        } else {
            r = sink->cert(sink->arg, data + off, n, &loc);
        }
        if (r != 0) {
            return r;
        }
        off += n;
    }
    return 0;
}
