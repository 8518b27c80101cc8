/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Addresses are checked before anything is sent: an address may not hold
 * blanks, control characters or angle brackets, so it can never inject
 * an SMTP command or a header.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "evercert/buf.h"
#include "evercert/mail.h"

static int
clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"') {
            return 0;
        }
    }
    return 1;
}

int
evc_mail_parse_addrs(const char *spec, struct evc_mail_addrs *out, struct evc_err *err)
{
    const char *p = spec;
    char first_domain[EVC_MAIL_ADDR_MAX + 1] = "";

    memset(out, 0, sizeof(*out));
    while (*p != '\0') {
        const char *end = strchr(p, '|'), *at1, *at2;
        size_t n;

        if (end == NULL) {
            end = p + strlen(p);
        }
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if (n == 0 || n > EVC_MAIL_ADDR_MAX * 2 || !clean(p, n) ||
            (at1 = memchr(p, '@', n)) == NULL || at1 == p) {
            return evc_err_set(err, EVC_ERR_USAGE, "'%.*s' is not an e-mail address", (int)n, p);
        }
        at2 = memchr(at1 + 1, '@', (size_t)(p + n - at1 - 1));
        if (at2 != NULL) {
            /* user@domain@server: the server for the whole list. */
            size_t sl = (size_t)(p + n - at2 - 1);

            if (sl == 0 || sl > EVC_MAIL_ADDR_MAX || memchr(at2 + 1, '@', sl) != NULL) {
                return evc_err_set(err, EVC_ERR_USAGE, "'%.*s': expected user@domain@server",
                                   (int)n, p);
            }
            memcpy(out->server, at2 + 1, sl);
            out->server[sl] = '\0';
            n = (size_t)(at2 - p);
        }
        if (at1 + 1 >= p + n || n > EVC_MAIL_ADDR_MAX) {
            return evc_err_set(err, EVC_ERR_USAGE, "'%.*s' is not an e-mail address", (int)n, p);
        }
        if (out->n >= EVC_MAIL_RCPT_MAX) {
            return evc_err_set(err, EVC_ERR_LIMIT, "more than %d recipients", EVC_MAIL_RCPT_MAX);
        }
        memcpy(out->rcpt[out->n], p, n);
        out->rcpt[out->n][n] = '\0';
        if (out->n == 0) {
            snprintf(first_domain, sizeof(first_domain), "%.*s", (int)(p + n - at1 - 1), at1 + 1);
        }
        out->n++;
        p = *end == '|' ? end + 1 : end;
    }
    if (out->n == 0) {
        return evc_err_set(err, EVC_ERR_USAGE, "no e-mail address");
    }
    if (out->server[0] == '\0') {
        snprintf(out->server, sizeof(out->server), "smtp.%.*s", EVC_MAIL_ADDR_MAX - 5,
                 first_domain);
    }
    return 0;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nmemb < u->left ? size * nmemb : u->left;

    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

int
evc_mail_send(const struct evc_mail *m, struct evc_err *err)
{
    struct evc_mail_addrs a;
    struct evc_buf msg;
    struct curl_slist *rcpt = NULL;
    struct upload up;
    char url[EVC_MAIL_ADDR_MAX + 32], from[EVC_MAIL_ADDR_MAX + 3], date[64],
        errbuf[CURL_ERROR_SIZE];
    struct tm tm;
    time_t t = (time_t)m->now;
    CURL *c = NULL;
    CURLcode rc;
    int r;

    if ((r = evc_mail_parse_addrs(m->to, &a, err)) != 0) {
        return r;
    }
    if (m->from == NULL || strchr(m->from, '@') == NULL || !clean(m->from, strlen(m->from)) ||
        strlen(m->from) > EVC_MAIL_ADDR_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "'%s' is not a sender address",
                           m->from != NULL ? m->from : "");
    }
    if (m->url != NULL) {
        snprintf(url, sizeof(url), "%s", m->url);
    } else {
        snprintf(url, sizeof(url), "smtp://%s", a.server);
    }
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    evc_buf_init(&msg, 4 * 1024 * 1024);
    r = evc_buf_printf(&msg, "Date: %s\nFrom: <%s>\nTo: ", date, m->from);
    for (size_t i = 0; r == 0 && i < a.n; i++) {
        r = evc_buf_printf(&msg, "%s<%s>", i ? ", " : "", a.rcpt[i]);
    }
    if (r == 0) {
        /* The subject is ours, but keep it to one line whatever it holds. */
        r = evc_buf_printf(&msg,
                           "\nSubject: %.*s\nMIME-Version: 1.0\n"
                           "Content-Type: text/plain; charset=utf-8\n\n%s",
                           (int)strcspn(m->subject, "\r\n"), m->subject, m->body);
    }
    if (r != 0) {
        evc_buf_free(&msg);
        return evc_err_set(err, r, "the mail is too long");
    }
    if ((c = curl_easy_init()) == NULL) {
        evc_buf_free(&msg);
        return evc_err_set(err, EVC_ERR_NOMEM, "cannot start libcurl");
    }
    snprintf(from, sizeof(from), "<%s>", m->from);
    for (size_t i = 0; i < a.n; i++) {
        char to[EVC_MAIL_ADDR_MAX + 3];
        struct curl_slist *n;

        snprintf(to, sizeof(to), "<%s>", a.rcpt[i]);
        if ((n = curl_slist_append(rcpt, to)) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        rcpt = n;
    }
    up.p = (const char *)msg.data;
    up.left = msg.len;
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY); /* STARTTLS when offered */
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CRLF, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, m->timeout > 0 ? m->timeout : 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (m->user != NULL) {
        curl_easy_setopt(c, CURLOPT_USERNAME, m->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, m->password != NULL ? m->password : "");
    }
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: %s", url,
                        errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        goto out;
    }
    r = 0;
out:
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    evc_buf_free(&msg);
    return r;
}
