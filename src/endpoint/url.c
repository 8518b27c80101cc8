/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint URLs: tls://HOST:PORT and the STARTTLS schemes, as given on a
 * command line or in an [endpoint] section. Pure: a URL is checked here
 * whole, so the scanner never meets a half-valid one, and each refusal
 * says which part is wrong.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "evercert/endpoint.h"

static const struct {
    const char *name;
    enum evc_ep_proto proto;
} schemes[] = {
    {"tls", EVC_EP_TLS},           {"smtp", EVC_EP_SMTP},           {"imap", EVC_EP_IMAP},
    {"postgres", EVC_EP_POSTGRES}, {"postgresql", EVC_EP_POSTGRES},
};

int
evc_ep_is_url(const char *s)
{
    size_t i = 0;

    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) {
        i++;
    }
    return i > 0 && strncmp(s + i, "://", 3) == 0;
}

/* A DNS name as SNI carries it (RFC 6066 3): letters, digits, '-', '_' and dots, no empty label. */
static int
name_ok(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > EVC_EP_HOST_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '.') {
            if (label == 0) {
                return 0;
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            if (++label > 63) {
                return 0;
            }
        } else {
            return 0;
        }
    }
    return 1;
}

int
evc_ep_url_parse(const char *s, struct evc_ep_url *out, struct evc_err *err)
{
    const char *p, *host, *hend, *q;
    size_t slen = strnlen(s, EVC_EP_URL_MAX + 1), hlen;
    unsigned char addr[16];
    unsigned long port = 0;
    int found = 0;

    memset(out, 0, sizeof(*out));
    if (slen > EVC_EP_URL_MAX) {
        return evc_err_set(err, EVC_ERR_PARSE, "%.64s...: longer than %d bytes", s, EVC_EP_URL_MAX);
    }
    if ((p = strstr(s, "://")) == NULL || !evc_ep_is_url(s)) {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: expected SCHEME://HOST:PORT", s);
    }
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (strlen(schemes[i].name) == (size_t)(p - s) &&
            strncmp(s, schemes[i].name, (size_t)(p - s)) == 0) {
            out->proto = schemes[i].proto;
            found = 1;
        }
    }
    if (!found) {
        return evc_err_set(err, EVC_ERR_PARSE,
                           "%s: unknown scheme (expected tls, smtp, imap or postgres)", s);
    }
    host = p + 3;
    if (*host == '[') {
        host++;
        if ((hend = strchr(host, ']')) == NULL) {
            return evc_err_set(err, EVC_ERR_PARSE, "%s: '[' without ']'", s);
        }
        q = hend + 1;
    } else {
        hend = host;
        while (*hend != '\0' && *hend != ':' && *hend != '/' && *hend != '?') {
            hend++;
        }
        q = hend;
    }
    hlen = (size_t)(hend - host);
    if (hlen == 0) {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: missing host", s);
    }
    if (hlen > EVC_EP_HOST_MAX) {
        return evc_err_set(err, EVC_ERR_PARSE, "%.64s...: host longer than %d bytes", s,
                           EVC_EP_HOST_MAX);
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    if (inet_pton(AF_INET, out->host, addr) == 1 || inet_pton(AF_INET6, out->host, addr) == 1) {
        out->numeric = 1;
    } else if (host[-1] == '[') {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: not an IPv6 address in brackets", s);
    } else if (!name_ok(out->host, hlen)) {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: host is neither a name nor an address", s);
    }
    if (*q != ':') {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: missing port", s);
    }
    q++;
    if (*q < '0' || *q > '9') {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: missing port", s);
    }
    while (*q >= '0' && *q <= '9') {
        port = port * 10 + (unsigned long)(*q++ - '0');
        if (port > 65535) {
            return evc_err_set(err, EVC_ERR_PARSE, "%s: port over 65535", s);
        }
    }
    if (port == 0) {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: port 0", s);
    }
    out->port = (uint16_t)port;
    if (*q == '/') {
        q++;
    }
    if (*q == '?') {
        size_t n;

        if (strncmp(q, "?sni=", 5) != 0) {
            return evc_err_set(err, EVC_ERR_PARSE, "%s: the only query is ?sni=NAME", s);
        }
        q += 5;
        n = strlen(q);
        if (!name_ok(q, n) || inet_pton(AF_INET, q, addr) == 1) {
            return evc_err_set(err, EVC_ERR_PARSE, "%s: sni is not a DNS name", s);
        }
        memcpy(out->sni, q, n + 1);
        q += n;
    } else if (!out->numeric) {
        memcpy(out->sni, out->host, hlen + 1);
    }
    if (*q != '\0') {
        return evc_err_set(err, EVC_ERR_PARSE, "%s: unexpected text after the port", s);
    }
    return 0;
}

void
evc_ep_url_format(const struct evc_ep_url *u, char *out, size_t outlen)
{
    static const char *const names[] = {"tls", "smtp", "imap", "postgres"};
    const char *scheme = (size_t)u->proto < 4 ? names[u->proto] : "tls";
    int v6 = strchr(u->host, ':') != NULL;
    int sni_own = u->sni[0] != '\0' && (u->numeric || strcmp(u->sni, u->host) != 0);

    snprintf(out, outlen, "%s://%s%s%s:%u%s%s", scheme, v6 ? "[" : "", u->host, v6 ? "]" : "",
             (unsigned)u->port, sni_own ? "?sni=" : "", sni_own ? u->sni : "");
}
