/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition (for node_exporter's textfile collector or a
 * scrape). The format wants all samples of one metric together, so each
 * finding renders one line per metric and take() sorts the lines into one
 * buffer per metric; finish() writes them family by family.
 */
#include <inttypes.h>
#include <string.h>

#include "base/text.h"
#include "notify/report_int.h"

static const struct {
    const char *name, *help;
} families[3] = {
    {"evercert_cert_not_after_timestamp_seconds",
     "End of the certificate's validity (notAfter), Unix time."},
    {"evercert_cert_not_before_timestamp_seconds",
     "Start of the certificate's validity (notBefore), Unix time."},
    {"evercert_cert_status",
     "0 ok, 1 prenotify, 2 threshold, 3 expired, 4 not_yet_valid (also in the status label)."},
};

static int
put_label(struct evc_buf *b, const char *name, const char *val, int first)
{
    int r;

    if ((r = evc_buf_printf(b, "%s%s=\"", first ? "" : ",", name)) != 0 ||
        (r = evc_text_prom(b, val)) != 0) {
        return r;
    }
    return evc_buf_putc(b, '"');
}

static int
put_labels(struct evc_buf *b, const struct evc_finding *f)
{
    char idx[24];
    int r;

    snprintf(idx, sizeof(idx), "%zu", f->index);
    if ((r = put_label(b, "path", f->path, 1)) != 0 || (r = put_label(b, "index", idx, 0)) != 0 ||
        (r = put_label(b, "subject", f->subject, 0)) != 0 ||
        (r = put_label(b, "issuer", f->issuer, 0)) != 0 ||
        (r = put_label(b, "serial", f->serial, 0)) != 0) {
        return r;
    }
    return put_label(b, "sha256", f->sha256, 0);
}

static int
prom_render(const struct evc_report *rep, const struct evc_finding *f, struct evc_buf *b)
{
    int r;

    (void)rep;
    if ((r = evc_buf_printf(b, "%s{", families[0].name)) != 0 || (r = put_labels(b, f)) != 0 ||
        (r = evc_buf_printf(b, "} %" PRId64 "\n%s{", f->not_after, families[1].name)) != 0 ||
        (r = put_labels(b, f)) != 0 ||
        (r = evc_buf_printf(b, "} %" PRId64 "\n%s{", f->not_before, families[2].name)) != 0 ||
        (r = put_labels(b, f)) != 0 || (r = put_label(b, "status", f->status, 0)) != 0) {
        return r;
    }
    return evc_buf_printf(b, "} %d\n", f->severity);
}

static int
prom_begin(struct evc_report *rep)
{
    (void)rep;
    return 0;
}

/* Rendered lines come in threes, one per family, in family order. */
static int
prom_take(struct evc_report *rep, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    int r;

    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

        if ((r = evc_buf_put(&rep->part[rep->taken % 3], p, len)) != 0) {
            return r;
        }
        rep->taken++;
        p += len;
    }
    return 0;
}

static int
prom_finish(struct evc_report *rep, const struct evc_summary *s)
{
    struct evc_buf b;
    const char *path, *msg;
    size_t pos = 0;
    int r = 0;

    for (int i = 0; i < 3; i++) {
        if (fprintf(rep->out, "# HELP %s %s\n# TYPE %s gauge\n", families[i].name, families[i].help,
                    families[i].name) < 0 ||
            (r = evc_report_write(rep, rep->part[i].data, rep->part[i].len)) != 0) {
            return EVC_ERR_IO;
        }
    }
    if (fprintf(rep->out,
                "# HELP evercert_scan_errors Inputs that could not be read in the last scan.\n"
                "# TYPE evercert_scan_errors gauge\nevercert_scan_errors %zu\n",
                s->errors) < 0) {
        return EVC_ERR_IO;
    }
    /* The reasons, as comments a scraper ignores and a person can read. */
    evc_buf_init(&b, EVC_REPORT_ERRORS_MAX * 2);
    while (r == 0 && evc_report_next_error(rep, &pos, &path, &msg)) {
        if ((r = evc_buf_puts(&b, "# error: ")) == 0 && (r = evc_text_vis(&b, path)) == 0 &&
            (r = evc_buf_puts(&b, ": ")) == 0 && (r = evc_text_vis(&b, msg)) == 0) {
            r = evc_buf_putc(&b, '\n');
        }
    }
    if (r == 0) {
        r = evc_report_write(rep, b.data, b.len);
    }
    evc_buf_free(&b);
    return r;
}

const struct report_ops evc_report_prom_ops = {prom_render, prom_begin, prom_take, prom_finish};
