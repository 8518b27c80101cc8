/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON report, streamed: the document is written as the scan goes, one
 * certificate object per line, so memory stays flat however many
 * certificates there are. Every string is escaped by evc_text_json().
 */
#include <inttypes.h>
#include <string.h>

#include "base/text.h"
#include "notify/report_int.h"

static int
put_time(struct evc_buf *b, const char *key, evc_time t)
{
    char txt[EVC_TIME_TEXT_MAX];

    evc_time_format(t, txt);
    return evc_buf_printf(b, ",\"%s\":\"%s\"", key, txt);
}

/* When a monitor replaces it; null for a certificate it never does (external). */
static int
put_renew_at(struct evc_buf *b, evc_time t)
{
    return t != 0 ? put_time(b, "renew_at", t) : evc_buf_puts(b, ",\"renew_at\":null");
}

static int
put_str(struct evc_buf *b, const char *key, const char *val)
{
    int r;

    if ((r = evc_buf_printf(b, ",\"%s\":", key)) != 0) {
        return r;
    }
    return evc_text_json(b, val);
}

/* Each object starts with ",\n"; take() drops the comma of the first one. */
static int
json_render(const struct evc_report *rep, const struct evc_finding *f, struct evc_buf *b)
{
    int r;

    (void)rep;
    if ((r = evc_buf_puts(b, ",\n{\"path\":")) != 0 || (r = evc_text_json(b, f->path)) != 0 ||
        (r = evc_buf_printf(b, ",\"index\":%zu", f->index)) != 0 ||
        (r = put_str(b, "subject", f->subject)) != 0 ||
        (r = put_str(b, "issuer", f->issuer)) != 0 || (r = put_str(b, "serial", f->serial)) != 0 ||
        (r = put_str(b, "sha256", f->sha256)) != 0 ||
        (r = put_time(b, "not_before", f->not_before)) != 0 ||
        (r = put_time(b, "not_after", f->not_after)) != 0 ||
        (r = evc_buf_printf(b, ",\"seconds_left\":%" PRId64, f->seconds_left)) != 0 ||
        (r = put_renew_at(b, f->renew_at)) != 0 || (r = put_str(b, "status", f->status)) != 0 ||
        (r = put_str(b, "kind", f->kind)) != 0 ||
        (r = evc_buf_printf(b, ",\"is_ca\":%s,\"sans\":[", f->is_ca ? "true" : "false")) != 0) {
        return r;
    }
    for (size_t i = 0; i < f->nsans; i++) {
        if ((i > 0 && (r = evc_buf_putc(b, ',')) != 0) || (r = evc_text_json(b, f->sans[i])) != 0) {
            return r;
        }
    }
    if ((r = evc_buf_putc(b, ']')) != 0 || (r = put_str(b, "key", f->key)) != 0 ||
        (f->warning != NULL && (r = put_str(b, "warning", f->warning)) != 0)) {
        return r;
    }
    /* An endpoint's leaf: verification and the earliest expiry of the verified chain. */
    if (f->endpoint && f->verify != NULL &&
        ((r = evc_buf_printf(b, ",\"verified\":%s", f->chain_not_after != 0 ? "true" : "false")) !=
             0 ||
         (f->chain_not_after == 0 && (r = put_str(b, "verify_error", f->verify)) != 0) ||
         (r = f->chain_not_after != 0 ? put_time(b, "chain_not_after", f->chain_not_after)
                                      : evc_buf_puts(b, ",\"chain_not_after\":null")) != 0)) {
        return r;
    }
    return evc_buf_putc(b, '}');
}

static int
json_begin(struct evc_report *rep)
{
    char txt[EVC_TIME_TEXT_MAX];

    evc_time_format(rep->scanned_at, txt);
    if (fprintf(rep->out, "{\"scanned_at\":\"%s\",\"certificates\":[", txt) < 0) {
        return EVC_ERR_IO;
    }
    return 0;
}

static int
json_take(struct evc_report *rep, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (rep->taken++ == 0) {
        p++;
        n--;
    }
    return evc_report_write(rep, p, n);
}

static int
json_finish(struct evc_report *rep, const struct evc_summary *s)
{
    struct evc_buf b;
    const char *path, *msg;
    size_t pos = 0;
    int r = 0, first = 1;

    evc_buf_init(&b, EVC_REPORT_ERRORS_MAX * 2);
    if ((r = evc_buf_puts(&b, rep->taken ? "\n],\"errors\":[" : "],\"errors\":[")) != 0) {
        goto out;
    }
    while (evc_report_next_error(rep, &pos, &path, &msg)) {
        if ((r = evc_buf_puts(&b, first ? "\n{\"path\":" : ",\n{\"path\":")) != 0 ||
            (r = evc_text_json(&b, path)) != 0 || (r = put_str(&b, "error", msg)) != 0 ||
            (r = evc_buf_putc(&b, '}')) != 0) {
            goto out;
        }
        first = 0;
    }
    if ((r = evc_buf_printf(&b,
                            "%s],\"summary\":{\"total\":%zu,\"ok\":%zu,\"prenotify\":%zu,"
                            "\"threshold\":%zu,\"expired\":%zu,\"not_yet_valid\":%zu,"
                            "\"errors\":%zu,\"announcements\":%zu}}\n",
                            first ? "" : "\n", s->total, s->ok, s->prenotify, s->threshold,
                            s->expired, s->not_yet_valid, s->errors, s->announcements)) != 0) {
        goto out;
    }
    r = evc_report_write(rep, b.data, b.len);
out:
    evc_buf_free(&b);
    return r;
}

const struct report_ops evc_report_json_ops = {json_render, json_begin, json_take, json_finish};
