/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table a person reads: one row per certificate, soonest to expire
 * first, columns as wide as their widest value (up to EVC_TABLE_WIDTH_MAX),
 * status coloured on a terminal. Rows are kept until the end because
 * sorting needs them all. Every string from a certificate or a file name
 * passes through evc_text_vis() first, and a subject is cut at
 * EVC_TEXT_SHOW_MAX bytes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/limits.h"
#include "base/text.h"
#include "notify/report_int.h"

#define NCOLS 7
static const char *const headers[NCOLS] = {"STATUS", "LEFT", "NOT AFTER", "RENEW AT",
                                           "KIND",   "PATH", "SUBJECT"};

struct row {
    int64_t left;
    char *col[NCOLS];
};

/* A record: seconds_left, then the seven columns, tab-separated. */
static int
text_render(const struct evc_report *rep, const struct evc_finding *f, struct evc_buf *b)
{
    char left[32], na[EVC_TIME_TEXT_MAX], ra[EVC_TIME_TEXT_MAX];
    int r;

    (void)rep;
    evc_span_format(f->seconds_left, left, sizeof(left));
    evc_time_format(f->not_after, na);
    na[10] = ' '; /* "2027-01-01 12:00:00Z" reads better in a table */
    evc_time_format(f->renew_at, ra);
    ra[10] = ' ';
    if ((r = evc_buf_printf(b, "%" PRId64 "\t%s\t%s\t%s\t%s\t%s\t", f->seconds_left, f->status,
                            left, na, f->renew_at != 0 ? ra : "never", f->kind)) != 0 ||
        (r = evc_text_vis(b, f->path)) != 0 ||
        (r = f->endpoint ? evc_buf_putc(b, '\t') : evc_buf_printf(b, "[%zu]\t", f->index)) != 0 ||
        (r = evc_text_nvis(b, f->subject, EVC_TEXT_SHOW_MAX)) != 0) {
        return r;
    }
    /* An endpoint's leaf: the expiry its clients meet first, along the verified chain. */
    if (f->endpoint && f->verify != NULL) {
        char ce[EVC_TIME_TEXT_MAX];

        evc_time_format(f->chain_not_after, ce);
        if (f->chain_not_after != 0
                ? (r = evc_buf_printf(b, "  (chain verified, earliest expiry %s)", ce)) != 0
                : ((r = evc_buf_puts(b, "  (chain not verified: ")) != 0 ||
                   (r = evc_text_vis(b, f->verify)) != 0 || (r = evc_buf_putc(b, ')')) != 0)) {
            return r;
        }
    }
    /* The last column: a warning follows the subject without moving the others. */
    if (f->warning != NULL &&
        ((r = evc_buf_puts(b, "  (warning: ")) != 0 || (r = evc_text_vis(b, f->warning)) != 0 ||
         (r = evc_buf_putc(b, ')')) != 0)) {
        return r;
    }
    return evc_buf_putc(b, '\n');
}

static int
text_begin(struct evc_report *rep)
{
    (void)rep;
    return 0;
}

static int
text_take(struct evc_report *rep, const uint8_t *p, size_t n)
{
    return evc_buf_put(&rep->rows, p, n);
}

static int
row_order(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c;

    if (x->left != y->left) {
        return x->left < y->left ? -1 : 1;
    }
    if ((c = strcmp(x->col[5], y->col[5])) != 0) {
        return c;
    }
    return strcmp(x->col[6], y->col[6]);
}

/* Columns are measured in characters, not bytes: subjects may be UTF-8. */
static size_t
width(const char *s)
{
    size_t w = 0;

    for (; *s; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

static const char *
colour(const char *status)
{
    if (strcmp(status, "ok") == 0) {
        return "\033[32m";
    } else if (strcmp(status, "prenotify") == 0) {
        return "\033[36m";
    } else if (strcmp(status, "threshold") == 0) {
        return "\033[33m";
    }
    return "\033[1;31m";
}

static int
print_row(struct evc_report *rep, char *const *col, const size_t *w, int is_header)
{
    for (int c = 0; c < NCOLS; c++) {
        size_t cw = width(col[c]);
        int pad = c == NCOLS - 1 ? 0 : (cw < w[c] ? (int)(w[c] - cw) : 0) + 2;
        int paint = rep->color && !is_header && c == 0;

        if (fprintf(rep->out, "%s%s%s%*s", paint ? colour(col[0]) : "", col[c],
                    paint ? "\033[0m" : "", pad, "") < 0) {
            return EVC_ERR_IO;
        }
    }
    return fputc('\n', rep->out) == EOF ? EVC_ERR_IO : 0;
}

static int
text_finish(struct evc_report *rep, const struct evc_summary *s)
{
    struct row *rows = NULL;
    size_t n = 0, w[NCOLS], pos = 0;
    const char *path, *msg;
    char *p, *end;
    int r = 0;

    /* One record per line: count them, then split them in place. */
    p = (char *)rep->rows.data;
    end = p + rep->rows.len;
    for (char *q = p; q != NULL && q < end; q++) {
        if ((q = memchr(q, '\n', (size_t)(end - q))) == NULL) {
            break;
        }
        rep->taken++;
    }
    if ((rows = calloc(rep->taken + 1, sizeof(*rows))) == NULL) {
        return EVC_ERR_NOMEM;
    }
    for (int c = 0; c < NCOLS; c++) {
        w[c] = strlen(headers[c]);
    }
    while (p != NULL && p < end && n < rep->taken) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *f;
        struct row *rw = &rows[n];

        *nl = '\0';
        rw->left = strtoll(p, &f, 10);
        for (int c = 0; c < NCOLS && f != NULL; c++) {
            rw->col[c] = ++f;
            f = strchr(f, '\t');
            if (f != NULL) {
                *f = '\0';
            }
            /* Bounded: one long path widens its own row, not the table. */
            if (width(rw->col[c]) > w[c]) {
                w[c] = width(rw->col[c]) < EVC_TABLE_WIDTH_MAX ? width(rw->col[c])
                                                               : EVC_TABLE_WIDTH_MAX;
            }
        }
        if (rw->col[NCOLS - 1] != NULL) {
            n++;
        }
        p = nl + 1;
    }
    if (n > 0) {
        qsort(rows, n, sizeof(*rows), row_order);
        if ((r = print_row(rep, (char *const *)headers, w, 1)) != 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((r = print_row(rep, rows[i].col, w, 0)) != 0) {
            goto out;
        }
    }
    if (fprintf(rep->out,
                "%s%zu certificate%s: %zu expired, %zu not yet valid, %zu in threshold, "
                "%zu in pre-notification, %zu ok; %zu unreadable\n",
                n > 0 ? "\n" : "", s->total, s->total == 1 ? "" : "s", s->expired, s->not_yet_valid,
                s->threshold, s->prenotify, s->ok, s->errors) < 0) {
        r = EVC_ERR_IO;
        goto out;
    }
    /* Said, not counted as unreadable: an announcement is no store. */
    if (s->announcements > 0 &&
        fprintf(rep->out, "%zu successor announcement%s skipped (not certificate stores)\n",
                s->announcements, s->announcements == 1 ? "" : "s") < 0) {
        r = EVC_ERR_IO;
        goto out;
    }
    while (evc_report_next_error(rep, &pos, &path, &msg)) {
        struct evc_buf b;

        evc_buf_init(&b, EVC_REPORT_ERRORS_MAX);
        if ((r = evc_buf_puts(&b, "unreadable: ")) == 0 && (r = evc_text_vis(&b, path)) == 0 &&
            (r = evc_buf_puts(&b, ": ")) == 0 && (r = evc_text_vis(&b, msg)) == 0 &&
            (r = evc_buf_putc(&b, '\n')) == 0) {
            r = evc_report_write(rep, b.data, b.len);
        }
        evc_buf_free(&b);
        if (r != 0) {
            goto out;
        }
    }
out:
    free(rows);
    return r;
}

const struct report_ops evc_report_text_ops = {text_render, text_begin, text_take, text_finish};
