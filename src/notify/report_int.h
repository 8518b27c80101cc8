/* SPDX-License-Identifier: Apache-2.0 */
/* The table of operations behind each report format. */
#ifndef EVC_NOTIFY_REPORT_INT_H
#define EVC_NOTIFY_REPORT_INT_H

#include "evercert/report.h"

/* Kept for every report: errors are listed after the certificates. */
#define EVC_REPORT_ERRORS_MAX ((size_t)64 * 1024 * 1024)

struct report_ops {
    int (*render)(const struct evc_report *, const struct evc_finding *, struct evc_buf *);
    int (*begin)(struct evc_report *);
    int (*take)(struct evc_report *, const uint8_t *, size_t);
    int (*finish)(struct evc_report *, const struct evc_summary *);
};

struct evc_report {
    const struct report_ops *ops;
    FILE *out;
    int color;
    evc_time scanned_at;
    size_t taken;          /* findings taken so far */
    struct evc_buf errors; /* "path\0message\0" pairs, in order */
    size_t nerrors;
    struct evc_buf rows; /* formats that must see every finding before writing */
    struct evc_buf part[3];
};

extern const struct report_ops evc_report_text_ops;
extern const struct report_ops evc_report_json_ops;
extern const struct report_ops evc_report_prom_ops;

/* fwrite that reports failure as EVC_ERR_IO. */
int evc_report_write(struct evc_report *rep, const void *p, size_t n);

/* Step through the stored error pairs: *pos starts at 0. 1 while there is one. */
int evc_report_next_error(const struct evc_report *rep, size_t *pos, const char **path,
                          const char **message);

#endif
