/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every report format shares: the dispatch table, the list of errors
 * (each format shows them after the certificates) and checked writing.
 */
#include <stdlib.h>
#include <string.h>

#include "notify/report_int.h"

int
evc_report_format_parse(const char *s, enum evc_report_format *out)
{
    if (strcmp(s, "text") == 0) {
        *out = EVC_REPORT_TEXT;
    } else if (strcmp(s, "json") == 0) {
        *out = EVC_REPORT_JSON;
    } else if (strcmp(s, "prometheus") == 0) {
        *out = EVC_REPORT_PROMETHEUS;
    } else {
        return EVC_ERR_USAGE;
    }
    return 0;
}

int
evc_report_new(enum evc_report_format format, FILE *out, int color, struct evc_report **rep)
{
    struct evc_report *r;

    *rep = NULL;
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        return EVC_ERR_NOMEM;
    }
    switch (format) {
    case EVC_REPORT_TEXT:
        r->ops = &evc_report_text_ops;
        break;
    case EVC_REPORT_JSON:
        r->ops = &evc_report_json_ops;
        break;
    case EVC_REPORT_PROMETHEUS:
        r->ops = &evc_report_prom_ops;
        break;
    default:
        free(r);
        return EVC_ERR_USAGE;
    }
    r->out = out;
    r->color = color;
    evc_buf_init(&r->errors, EVC_REPORT_ERRORS_MAX);
    evc_buf_init(&r->rows, SIZE_MAX / 2);
    for (int i = 0; i < 3; i++) {
        evc_buf_init(&r->part[i], SIZE_MAX / 2);
    }
    *rep = r;
    return 0;
}

void
evc_report_free(struct evc_report *rep)
{
    if (rep == NULL) {
        return;
    }
    evc_buf_free(&rep->errors);
    evc_buf_free(&rep->rows);
    for (int i = 0; i < 3; i++) {
        evc_buf_free(&rep->part[i]);
    }
    free(rep);
}

int
evc_report_render(const struct evc_report *rep, const struct evc_finding *f, struct evc_buf *out)
{
    return rep->ops->render(rep, f, out);
}

int
evc_report_begin(struct evc_report *rep, evc_time scanned_at)
{
    rep->scanned_at = scanned_at;
    return rep->ops->begin(rep);
}

int
evc_report_take(struct evc_report *rep, const uint8_t *rendered, size_t len)
{
    return rep->ops->take(rep, rendered, len);
}

int
evc_report_error(struct evc_report *rep, const char *path, const char *message)
{
    size_t mark = rep->errors.len;
    int r;

    if ((r = evc_buf_put(&rep->errors, path, strlen(path) + 1)) != 0 ||
        (r = evc_buf_put(&rep->errors, message, strlen(message) + 1)) != 0) {
        rep->errors.len = mark;
        return r;
    }
    rep->nerrors++;
    return 0;
}

int
evc_report_finish(struct evc_report *rep, const struct evc_summary *s)
{
    int r;

    if ((r = rep->ops->finish(rep, s)) != 0) {
        return r;
    }
    return fflush(rep->out) == 0 && !ferror(rep->out) ? 0 : EVC_ERR_IO;
}

int
evc_report_write(struct evc_report *rep, const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, rep->out) != n) {
        return EVC_ERR_IO;
    }
    return 0;
}

int
evc_report_next_error(const struct evc_report *rep, size_t *pos, const char **path,
                      const char **message)
{
    const char *base = (const char *)rep->errors.data;

    if (*pos >= rep->errors.len) {
        return 0;
    }
    *path = base + *pos;
    *pos += strlen(*path) + 1;
    *message = base + *pos;
    *pos += strlen(*message) + 1;
    return 1;
}
