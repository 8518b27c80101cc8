/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one DER framer: how long the element at the start of a buffer is,
 * from its header alone, so a reader of a stream (the push channel) knows
 * how much more to read before it has one whole object, and a reader of a
 * buffer (PEM's and DER's store readers) where the next one starts. Strict
 * DER: no indefinite length, a bounded number of tag and length bytes.
 */
#include <stddef.h>
#include <stdint.h>

#include "evercert/cert.h"
#include "evercert/error.h"
#include "evercert/limits.h"

int
evc_der_element_head(const uint8_t *der, size_t len, size_t *total)
{
    size_t i = 1, k, hdr;
    uint64_t n = 0;

    *total = 2; /* a tag and the first length byte, before anything is known */
    if (len < 1) {
        return 1;
    }
    if ((der[0] & 0x1f) == 0x1f) {
        /* A high tag number: base 128 in the bytes after, the last without 0x80. */
        for (;; i++) {
            if (i >= EVC_DER_TAG_BYTES_MAX) {
                *total = 0;
                return EVC_ERR_BAD_DER;
            }
            if (i >= len) {
                *total = i + 2; /* this tag byte, and at least one length byte */
                return 1;
            }
            if ((der[i] & 0x80) == 0) {
                i++;
                break;
            }
        }
    }
    /* i: the tag's bytes; then the length. */
    if (len < i + 1) {
        *total = i + 1;
        return 1;
    }
    if (der[i] < 0x80) {
        hdr = i + 1;
        n = der[i];
    } else {
        k = der[i] & 0x7f;
        /* 0x80 is BER's indefinite length, never DER. */
        if (k == 0 || k > EVC_DER_LENGTH_BYTES_MAX) {
            *total = 0;
            return EVC_ERR_BAD_DER;
        }
        hdr = i + 1 + k;
        if (len < hdr) {
            *total = hdr;
            return 1;
        }
        for (size_t j = i + 1; j < hdr; j++) {
            n = n << 8 | der[j];
        }
    }
    /* Subtraction form: hdr is at most a dozen bytes, n under 2^32; a 32-bit size_t may not hold
     * the sum. */
    if (n > SIZE_MAX - hdr) {
        *total = 0;
        return EVC_ERR_BAD_DER;
    }
    *total = hdr + (size_t)n;
    return 0;
}

size_t
evc_der_element_len(const uint8_t *der, size_t len)
{
    size_t total;

    if (evc_der_element_head(der, len, &total) != 0 || total > len) {
        return 0;
    }
    return total;
}
