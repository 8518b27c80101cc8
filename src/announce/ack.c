/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The acknowledgement (docs/PROTOCOL.md, "The acknowledgement"): what a
 * client sends on the push channel once it has written a successor, so
 * the server can count who is ready. Small and fixed, so it is read by
 * hand in strict DER: one SEQUENCE, version 1, a generation, an optional
 * client id, nothing else and nothing after.
 */
#include <string.h>

#include "evercert/announce.h"
#include "base/text.h"

int
evc_ack_id_check(const char *id, size_t len)
{
    return evc_text_id_check(id, len);
}

/* Minimal two's-complement INTEGER content for a non-negative v: 1..9 bytes. */
static size_t
uint_content(uint64_t v, uint8_t out[9])
{
    uint8_t tmp[9];
    size_t n = 0;

    do {
        tmp[n++] = (uint8_t)(v & 0xff);
        v >>= 8;
    } while (v != 0);
    if (tmp[n - 1] & 0x80) {
        tmp[n++] = 0; /* the sign bit stays clear */
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

int
evc_ack_encode(const struct evc_ack *a, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t ver[9], gen[9];
    size_t nver = uint_content(1, ver), ngen = uint_content(a->generation, gen);
    size_t nid = strnlen(a->client_id, EVC_ACK_ID_MAX + 1);
    size_t body = 2 + nver + 2 + ngen + (nid > 0 ? 2 + nid : 0), o = 0;

    *len = 0;
    if (nid > 0 && evc_ack_id_check(a->client_id, nid) != 0) {
        return EVC_ERR_USAGE;
    }
    /* Every part is short: one length byte each (body <= 2+1+2+9+2+64 < 128). */
    if (2 + body > cap) {
        return EVC_ERR_LIMIT;
    }
    out[o++] = 0x30;
    out[o++] = (uint8_t)body;
    out[o++] = 0x02;
    out[o++] = (uint8_t)nver;
    memcpy(out + o, ver, nver);
    o += nver;
    out[o++] = 0x02;
    out[o++] = (uint8_t)ngen;
    memcpy(out + o, gen, ngen);
    o += ngen;
    if (nid > 0) {
        out[o++] = 0x0c;
        out[o++] = (uint8_t)nid;
        memcpy(out + o, a->client_id, nid);
        o += nid;
    }
    *len = o;
    return 0;
}

/*
 * One element of tag at p (n bytes left): its content and length. Only
 * the short length form is possible within EVC_ACK_MAX, so it is the only
 * one accepted (DER says short form below 128).
 */
static int
element(const uint8_t **p, size_t *n, uint8_t tag, const uint8_t **content, size_t *clen)
{
    if (*n < 2 || (*p)[0] != tag || ((*p)[1] & 0x80) || (size_t)(*p)[1] > *n - 2) {
        return -1;
    }
    *content = *p + 2;
    *clen = (*p)[1];
    *p += 2 + *clen;
    *n -= 2 + *clen;
    return 0;
}

/* A non-negative minimal INTEGER that fits 64 bits. */
static int
read_uint(const uint8_t *c, size_t n, uint64_t *v)
{
    if (n == 0 || n > 9 || (c[0] & 0x80) || (n > 1 && c[0] == 0 && !(c[1] & 0x80)) ||
        (n == 9 && c[0] != 0)) {
        return -1;
    }
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        *v = *v << 8 | c[i];
    }
    return 0;
}

int
evc_ack_parse(const uint8_t *der, size_t len, struct evc_ack *out, const char **why)
{
    const uint8_t *p = der, *seq, *c;
    size_t n = len, slen, clen;
    uint64_t version;
    const char *dummy;

    if (why == NULL) {
        why = &dummy;
    }
    memset(out, 0, sizeof(*out));
    if (len > EVC_ACK_MAX) {
        *why = "longer than an acknowledgement may be";
        return EVC_ERR_LIMIT;
    }
    if (element(&p, &n, 0x30, &seq, &slen) != 0 || n != 0) {
        *why = "not one DER SEQUENCE";
        return EVC_ERR_PARSE;
    }
    p = seq;
    n = slen;
    if (element(&p, &n, 0x02, &c, &clen) != 0 || read_uint(c, clen, &version) != 0 ||
        version != 1) {
        *why = "version is not 1";
        return EVC_ERR_PARSE;
    }
    if (element(&p, &n, 0x02, &c, &clen) != 0 || read_uint(c, clen, &out->generation) != 0) {
        *why = "no generation, or not a non-negative 64-bit INTEGER";
        return EVC_ERR_PARSE;
    }
    if (n > 0) {
        if (element(&p, &n, 0x0c, &c, &clen) != 0 || evc_ack_id_check((const char *)c, clen) != 0) {
            *why = "clientId is not 1 to 64 letters, digits or . _ - : @";
            memset(out, 0, sizeof(*out));
            return EVC_ERR_PARSE;
        }
        memcpy(out->client_id, c, clen);
    }
    if (n != 0) {
        *why = "bytes after clientId";
        memset(out, 0, sizeof(*out));
        return EVC_ERR_PARSE;
    }
    return 0;
}
