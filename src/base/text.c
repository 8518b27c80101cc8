/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Escaping for the three places our output goes. Names inside certificates
 * are chosen by whoever made the certificate, so they may hold anything:
 * terminal escape sequences, quotes, invalid UTF-8.
 */
#include <string.h>

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

int
evc_text_prom(struct evc_buf *b, const char *str)
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

int
evc_text_vis(struct evc_buf *b, const char *str)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t len = strlen(str), i = 0;
    int r = 0;

    while (i < len && r == 0) {
        uint32_t cp;
        size_t n = evc_utf8_seq(s + i, len - i, &cp);

        if (n == 0 || cp < 0x20 || cp == 0x7f) {
            r = evc_buf_printf(b, "\\x%02x", s[i]);
            i++;
        } else if (cp >= 0x80 && cp < 0xa0) {
            r = evc_buf_printf(b, "\\u%04x", (unsigned)cp);
            i += n;
        } else if (cp == '\\') {
            r = evc_buf_puts(b, "\\\\");
            i++;
        } else {
            r = evc_buf_put(b, s + i, n);
            i += n;
        }
    }
    return r;
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
