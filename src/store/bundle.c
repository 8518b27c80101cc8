/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificates of a PEM bundle with the place of each block, so that a
 * rewrite appends or cuts one block and keeps every other byte of the file:
 * comments, blank lines, keys and CRLs, and OpenSSL's TRUSTED CERTIFICATE
 * blocks, whose trust and reject settings are read along with the
 * certificate (d2i_X509_AUX) so that a reject mark stays a reject mark.
 * Pure: bytes in, certificates out, no I/O, no clock, linear in the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/limits.h"
#include "evercert/stores.h"

#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
#define PEM_DASHES "-----"
/* Longest label looked at, as the scanner's; "TRUSTED CERTIFICATE" is 19. */
#define PEM_LABEL_MAX 64

static unsigned long
count_lines(const uint8_t *from, const uint8_t *to)
{
    unsigned long n = 0;
    const uint8_t *p = from;

    while (p < to && (p = memchr(p, '\n', (size_t)(to - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Decode one block's base64 into der; 0 or a reason in *why. */
static int
decode_body(EVP_ENCODE_CTX *ctx, const uint8_t *body, size_t len, struct evc_buf *der,
            const char **why)
{
    int outl = 0, finl = 0;

    if (len / 4 * 3 > EVC_CERT_DER_MAX + 3 * 256 || len > INT32_MAX) {
        *why = "certificate too large";
        return EVC_ERR_LIMIT;
    }
    evc_buf_reset(der);
    if (evc_buf_reserve(der, len / 4 * 3 + 3) != 0) {
        *why = "out of memory";
        return EVC_ERR_NOMEM;
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

/* The certificate of one block; a TRUSTED CERTIFICATE keeps its trust settings. */
static X509 *
cert_of(const struct evc_buf *der, int trusted, const char **why)
{
    const unsigned char *p = der->data;
    X509 *x = trusted ? d2i_X509_AUX(NULL, &p, (long)der->len) : d2i_X509(NULL, &p, (long)der->len);

    ERR_clear_error();
    if (x == NULL) {
        *why = "invalid DER certificate";
        return NULL;
    }
    if (p != der->data + der->len) {
        X509_free(x);
        *why = "data after the certificate";
        return NULL;
    }
    return x;
}

static int
append(struct evc_pem_cert **v, size_t *n, size_t *cap, const struct evc_pem_cert *c)
{
    if (*n == *cap) {
        size_t ncap = *cap != 0 ? *cap * 2 : 8;
        struct evc_pem_cert *nv = realloc(*v, ncap * sizeof(*nv));

        if (nv == NULL) {
            return EVC_ERR_NOMEM;
        }
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = *c;
    return 0;
}

int
evc_pem_certs_parse(const uint8_t *data, size_t len, struct evc_pem_cert **out, size_t *nout,
                    struct evc_err *err)
{
    EVP_ENCODE_CTX *ctx = NULL;
    struct evc_buf der;
    struct evc_pem_cert *v = NULL;
    size_t n = 0, cap = 0;
    const uint8_t *p = data, *end = data + len, *counted = data;
    unsigned long line = 1;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    *nout = 0;
    evc_buf_init(&der, EVC_CERT_DER_MAX + 4 * 256);
    if ((ctx = EVP_ENCODE_CTX_new()) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        const uint8_t *begin, *label, *label_end, *body, *stop, *nl;
        char lab[PEM_LABEL_MAX + 1], endmark[PEM_LABEL_MAX + 16];
        struct evc_pem_cert c;
        const char *why = NULL;
        size_t llen, elen;
        int trusted;

        if ((begin = memmem(p, (size_t)(end - p), PEM_BEGIN, strlen(PEM_BEGIN))) == NULL) {
            break;
        }
        line += count_lines(counted, begin);
        counted = begin;
        label = begin + strlen(PEM_BEGIN);
        nl = memchr(label, '\n', (size_t)(end - label));
        label_end =
            memmem(label, (size_t)((nl ? nl : end) - label), PEM_DASHES, strlen(PEM_DASHES));
        if (label_end == NULL || (llen = (size_t)(label_end - label)) > PEM_LABEL_MAX) {
            p = label; /* not a marker after all: its bytes are kept as text */
            continue;
        }
        memcpy(lab, label, llen);
        lab[llen] = '\0';
        body = nl ? nl + 1 : end;
        elen = (size_t)snprintf(endmark, sizeof(endmark), PEM_END "%s" PEM_DASHES, lab);
        stop = memmem(body, (size_t)(end - body), endmark, elen);
        trusted = strcmp(lab, "TRUSTED CERTIFICATE") == 0;
        if (!trusted && strcmp(lab, "CERTIFICATE") != 0 && strcmp(lab, "X509 CERTIFICATE") != 0) {
            /* Keys, CRLs, parameters: bytes to keep, never decoded. */
            if (stop == NULL) {
                break;
            }
            p = stop + elen;
            continue;
        }
        if (stop == NULL) {
            r = evc_err_set(err, EVC_ERR_TRUNCATED,
                            "line %lu: certificate has no END line (truncated PEM)", line);
            goto out;
        }
        if ((r = decode_body(ctx, body, (size_t)(stop - body), &der, &why)) != 0) {
            r = evc_err_set(err, r, "line %lu: %s", line, why);
            goto out;
        }
        memset(&c, 0, sizeof(c));
        if ((c.x = cert_of(&der, trusted, &why)) == NULL) {
            r = evc_err_set(err, EVC_ERR_BAD_DER, "line %lu: %s", line, why);
            goto out;
        }
        /* The block ends with its END line's line break, so a cut leaves no blank line. */
        p = stop + elen;
        if (p < end && *p == '\r') {
            p++;
        }
        if (p < end && *p == '\n') {
            p++;
        }
        c.start = (size_t)(begin - data);
        c.end = (size_t)(p - data);
        c.line = line;
        if (append(&v, &n, &cap, &c) != 0) {
            X509_free(c.x);
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    *out = v;
    *nout = n;
    v = NULL;
    n = 0;
    r = 0;
out:
    evc_pem_certs_free(v, n);
    EVP_ENCODE_CTX_free(ctx);
    evc_buf_free(&der);
    return r;
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
