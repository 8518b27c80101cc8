/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Escaping for the three places our output goes. Names inside certificates
 * are chosen by whoever made the certificate, so they may hold anything:
 * terminal escape sequences, quotes, invalid UTF-8.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "evercert/error.h"
#include "evercert/limits.h"
#include "base/text.h"

size_t
evc_utf8_seq(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint32_t c;
    size_t n;

    if (len == 0) {
        return 0;
    }
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        c = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        c = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > len) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    /* Reject overlong forms, surrogates and values past Unicode. */
    if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
        (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return n;
}

static const char hexdig[] = "0123456789abcdef";

int
evc_text_json(struct evc_buf *b, const char *str)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t len = strlen(str), i = 0, run = 0;
    int r;

    if ((r = evc_buf_putc(b, '"')) != 0) {
        return r;
    }
    while (i < len) {
        uint32_t cp;
        size_t n = evc_utf8_seq(s + i, len - i, &cp);
        char esc[8];
        const char *rep = NULL;

        if (n == 1 && cp >= 0x20 && cp != '"' && cp != '\\' && cp != 0x7f) {
            i++;
            run++;
            continue;
        }
        if (n > 1) {
            i += n;
            run += n;
            continue;
        }
        /* Flush the plain run before writing an escape. */
        if ((r = evc_buf_put(b, s + i - run, run)) != 0) {
            return r;
        }
        run = 0;
        if (n == 0) {
            rep = "\\ufffd";
        } else if (cp == '"') {
            rep = "\\\"";
        } else if (cp == '\\') {
            rep = "\\\\";
        } else if (cp == '\n') {
            rep = "\\n";
        } else if (cp == '\t') {
            rep = "\\t";
        } else {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexdig[cp >> 4];
            esc[5] = hexdig[cp & 15];
            esc[6] = '\0';
            rep = esc;
        }
        if ((r = evc_buf_puts(b, rep)) != 0) {
            return r;
        }
        i++;
    }
    if ((r = evc_buf_put(b, s + i - run, run)) != 0) {
        return r;
    }
    return evc_buf_putc(b, '"');
}

/*
 * C1 controls (a terminal may act on 0x9b as on ESC [) and the bidirectional
 * formatting characters (U+202E shows a name reversed): valid UTF-8 that
 * must not reach a person's screen as it is.
 */
static int
unsafe_format(uint32_t cp)
{
    return (cp >= 0x80 && cp < 0xa0) || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

int
evc_text_prom(struct evc_buf *b, const char *str)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t len = strlen(str), i = 0;
    int r = 0;

    while (i < len && r == 0) {
        uint32_t cp;
        size_t n = evc_utf8_seq(s + i, len - i, &cp);

        if (n == 0 || unsafe_format(cp)) {
            r = evc_buf_puts(b, "\xef\xbf\xbd");
            i += n == 0 ? 1 : n;
        } else if (cp == '\\' || cp == '"') {
            r = evc_buf_putc(b, '\\');
            if (r == 0) {
                r = evc_buf_putc(b, (int)cp);
            }
            i++;
        } else if (cp == '\n') {
            r = evc_buf_puts(b, "\\n");
            i++;
        } else {
            r = evc_buf_put(b, s + i, n);
            i += n;
        }
    }
    return r;
}

/*
 * One unit of terminal text: the escape or the character at s, into out
 * (at most 7 bytes); returns the input bytes it stands for.
 */
static size_t
vis_unit(const uint8_t *s, size_t len, char out[8], size_t *outlen)
{
    uint32_t cp;
    size_t n = evc_utf8_seq(s, len, &cp);

    if (n == 0 || cp < 0x20 || cp == 0x7f) {
        out[0] = '\\';
        out[1] = 'x';
        out[2] = hexdig[s[0] >> 4];
        out[3] = hexdig[s[0] & 15];
        *outlen = 4;
        return 1;
    }
    if (unsafe_format(cp)) {
        out[0] = '\\';
        out[1] = 'u';
        out[2] = hexdig[cp >> 12 & 15];
        out[3] = hexdig[cp >> 8 & 15];
        out[4] = hexdig[cp >> 4 & 15];
        out[5] = hexdig[cp & 15];
        *outlen = 6;
        return n;
    }
    if (cp == '\\') {
        out[0] = out[1] = '\\';
        *outlen = 2;
        return 1;
    }
    memcpy(out, s, n);
    *outlen = n;
    return n;
}

int
evc_text_nvis(struct evc_buf *b, const char *str, size_t max)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t len = strlen(str), i, total = 0, room, u, ulen;
    char unit[8];
    int r = 0;

    /* Measure first: only a text that does not fit is cut, and then "..." must fit too. */
    for (i = 0; i < len; i += u) {
        u = vis_unit(s + i, len - i, unit, &ulen);
        total += ulen;
    }
    room = total <= max ? total : (max > 3 ? max - 3 : 0);
    for (i = 0; i < len && r == 0; i += u) {
        u = vis_unit(s + i, len - i, unit, &ulen);
        if (ulen > room) {
            break;
        }
        room -= ulen;
        r = evc_buf_put(b, unit, ulen);
    }
    if (r == 0 && i < len) {
        r = evc_buf_put(b, "...", max < 3 ? max : 3);
    }
    return r;
}

int
evc_text_vis(struct evc_buf *b, const char *str)
{
    return evc_text_nvis(b, str, SIZE_MAX);
}

int
evc_text_utf8(struct evc_buf *b, const char *str)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t len = strlen(str), i = 0;
    int r = 0;

    while (i < len && r == 0) {
        uint32_t cp;
        size_t n = evc_utf8_seq(s + i, len - i, &cp);

        if (n == 0) {
            r = evc_buf_puts(b, "\xef\xbf\xbd");
            i++;
        } else {
            r = evc_buf_put(b, s + i, n);
            i += n;
        }
    }
    return r;
}

json_t *
evc_text_jstring(const char *s)
{
    struct evc_buf b;
    json_t *j = NULL;

    evc_buf_init(&b, SIZE_MAX / 2);
    if (evc_text_utf8(&b, s != NULL ? s : "") == 0) {
        j = json_stringn(evc_buf_str(&b), b.len);
    }
    evc_buf_free(&b);
    return j;
}

void
evc_text_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        *out++ = hexdig[p[i] >> 4];
        *out++ = hexdig[p[i] & 15];
    }
    *out = '\0';
}

/* The value of one hex digit, or -1: no locale, no sign, no space. */
static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int
evc_text_unhex(const char *s, uint8_t *out, size_t n)
{
    size_t k;

    if (s == NULL) {
        return EVC_ERR_PARSE;
    }
    /* Checked whole before out is touched; the scan stops at the first NUL, never past it. */
    for (k = 0; k < 2 * n; k++) {
        if (hexval(s[k]) < 0) {
            return EVC_ERR_PARSE; /* short (the NUL is not a digit), or not a digit */
        }
    }
    if (s[k] != '\0') {
        return EVC_ERR_PARSE; /* longer than 2 * n digits */
    }
    for (k = 0; k < n; k++) {
        out[k] = (uint8_t)(hexval(s[2 * k]) << 4 | hexval(s[2 * k + 1]));
    }
    return 0;
}

int
evc_text_id_check(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > EVC_ACK_ID_MAX) {
        return EVC_ERR_PARSE;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':' || c == '@')) {
            return EVC_ERR_PARSE;
        }
    }
    return 0;
}
