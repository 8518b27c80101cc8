/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The peer's bytes before TLS: an SMTP reply and IMAP lines. Pure readers
 * of what has arrived so far: they say "complete", "more" or "not a
 * reply", so the event loop can call them again as bytes come in. Each
 * line is capped at EVC_EP_LINE_MAX, and the caller caps all of them at
 * EVC_EP_PRETLS_MAX, so a peer that never ends a line costs a bounded
 * buffer.
 */
#include <string.h>
#include <strings.h>

#include "evercert/endpoint.h"

/*
 * The next line of p[0..len): 0 with its length without the end of line
 * in *linelen and with it in *adv; 1 when it is not complete yet;
 * EVC_ERR_PARSE when it is over the cap.
 */
static int
next_line(const uint8_t *p, size_t len, size_t *linelen, size_t *adv, struct evc_err *err)
{
    const uint8_t *nl = memchr(p, '\n', len < EVC_EP_LINE_MAX + 2 ? len : EVC_EP_LINE_MAX + 2);
    size_t n;

    if (nl == NULL) {
        if (len >= EVC_EP_LINE_MAX + 2) {
            return evc_err_set(err, EVC_ERR_PARSE, "a line over %d bytes", EVC_EP_LINE_MAX);
        }
        return 1;
    }
    n = (size_t)(nl - p);
    *adv = n + 1;
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    if (n > EVC_EP_LINE_MAX) {
        return evc_err_set(err, EVC_ERR_PARSE, "a line over %d bytes", EVC_EP_LINE_MAX);
    }
    *linelen = n;
    return 0;
}

int
evc_ep_smtp_reply(const uint8_t *p, size_t len, int *code, size_t *used, struct evc_err *err)
{
    size_t off = 0;
    int first = -1;

    *code = 0;
    *used = 0;
    for (;;) {
        size_t ll = 0, adv = 0;
        int r, c;

        if ((r = next_line(p + off, len - off, &ll, &adv, err)) != 0) {
            return r;
        }
        if (ll < 3 || p[off] < '2' || p[off] > '5' || p[off + 1] < '0' || p[off + 1] > '9' ||
            p[off + 2] < '0' || p[off + 2] > '9' ||
            (ll > 3 && p[off + 3] != ' ' && p[off + 3] != '-')) {
            return evc_err_set(err, EVC_ERR_PARSE, "not an SMTP reply line");
        }
        c = (p[off] - '0') * 100 + (p[off + 1] - '0') * 10 + (p[off + 2] - '0');
        if (first >= 0 && c != first) {
            return evc_err_set(err, EVC_ERR_PARSE, "SMTP reply lines with codes %d and %d", first,
                               c);
        }
        first = c;
        off += adv;
        if (ll == 3 || p[off - adv + 3] == ' ') {
            *code = c;
            *used = off;
            return 0;
        }
    }
}

/* Whether the line's word at *i (then moved past it and one space) is w, case aside. */
static int
word_is(const uint8_t *line, size_t ll, size_t *i, const char *w)
{
    size_t n = strlen(w);

    if (ll - *i < n || strncasecmp((const char *)line + *i, w, n) != 0 ||
        (ll - *i > n && line[*i + n] != ' ')) {
        return 0;
    }
    *i += n + (ll - *i > n);
    return 1;
}

int
evc_ep_imap_reply(const uint8_t *p, size_t len, const char *tag, int *ok, size_t *used,
                  struct evc_err *err)
{
    size_t off = 0, tl = tag != NULL ? strlen(tag) : 0;

    *ok = 0;
    *used = 0;
    for (;;) {
        const uint8_t *line = p + off;
        size_t ll = 0, adv = 0, i = 0;
        int r;

        if ((r = next_line(line, len - off, &ll, &adv, err)) != 0) {
            return r;
        }
        off += adv;
        if (tag == NULL) {
            if (!word_is(line, ll, &i, "*")) {
                return evc_err_set(err, EVC_ERR_PARSE, "not an IMAP greeting");
            }
            if (word_is(line, ll, &i, "OK")) {
                *ok = 1;
            } else if (!word_is(line, ll, &i, "PREAUTH") && !word_is(line, ll, &i, "BYE")) {
                return evc_err_set(err, EVC_ERR_PARSE, "not an IMAP greeting");
            }
            *used = off;
            return 0;
        }
        if (word_is(line, ll, &i, "*")) {
            continue; /* untagged data, e.g. a CAPABILITY the server volunteers */
        }
        if (ll < tl + 1 || memcmp(line, tag, tl) != 0 || line[tl] != ' ') {
            return evc_err_set(err, EVC_ERR_PARSE,
                               "an IMAP line that is neither untagged nor "
                               "tagged %s",
                               tag);
        }
        i = tl + 1;
        if (word_is(line, ll, &i, "OK")) {
            *ok = 1;
        } else if (!word_is(line, ll, &i, "NO") && !word_is(line, ll, &i, "BAD")) {
            return evc_err_set(err, EVC_ERR_PARSE, "an IMAP status that is not OK, NO or BAD");
        }
        *used = off;
        return 0;
    }
}
