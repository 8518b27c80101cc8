/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reports of a scan: an aligned text table, JSON, or the Prometheus text
 * exposition format. A finding is plain data, so this layer knows nothing
 * of X.509.
 *
 * Rendering is split from writing so a scan can render on every core:
 * evc_report_render() is pure and may run on any thread; the other calls
 * come from one writing thread, in order.
 */
#ifndef EVERCERT_REPORT_H
#define EVERCERT_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "evercert/buf.h"
#include "evercert/time.h"

struct evc_finding {
    const char *path;
    size_t index;
    const char *subject;
    const char *issuer;
    const char *serial;
    const char *sha256; /* lower-case hex */
    evc_time not_before;
    evc_time not_after;
    int64_t seconds_left;
    evc_time renew_at;  /* when a monitor replaces it (its threshold); 0 never (external) */
    const char *status; /* "ok", "prenotify", "threshold", "expired", "not_yet_valid" */
    int severity;       /* 0 ok, 1 prenotify, 2 threshold, 3 expired, 4 not_yet_valid */
    const char *kind;
    int is_ca;
    const char *const *sans;
    size_t nsans;
    const char *key;
    const char *warning; /* NULL, or what is odd about a certificate read all the same */
    /*
     * A certificate an endpoint presented (path is then "tls://host:port#i"):
     * on its leaf, whether the chain verified ("ok" or OpenSSL's reason) and
     * the earliest notAfter of the chain verification built (0 when it did
     * not verify). Zero for a file's certificate.
     */
    int endpoint;
    const char *verify;
    evc_time chain_not_after;
};

struct evc_summary {
    size_t total, ok, prenotify, threshold, expired, not_yet_valid, errors;
    size_t announcements; /* Successor Announcement files skipped: not stores */
};

enum evc_report_format { EVC_REPORT_TEXT, EVC_REPORT_JSON, EVC_REPORT_PROMETHEUS };

/* "text", "json" or "prometheus". 0 or EVC_ERR_USAGE. */
EVC_EXPORT EVC_MUST_USE int evc_report_format_parse(const char *s, enum evc_report_format *out);

struct evc_report;

/* A report written to out; color adds ANSI colours to the text table. */
EVC_EXPORT EVC_MUST_USE int evc_report_new(enum evc_report_format format, FILE *out, int color,
                                           struct evc_report **rep);
EVC_EXPORT void evc_report_free(struct evc_report *rep);

/* Any thread: append the rendering of one finding to out. */
EVC_EXPORT EVC_MUST_USE int evc_report_render(const struct evc_report *rep,
                                              const struct evc_finding *f, struct evc_buf *out);

/*
 * The writing thread, in this order: begin; then take (renderings, in the
 * order they are to appear) and error (any time); then finish. Each returns
 * 0 or EVC_ERR_IO when the output cannot be written.
 */
EVC_EXPORT EVC_MUST_USE int evc_report_begin(struct evc_report *rep, evc_time scanned_at);
EVC_EXPORT EVC_MUST_USE int evc_report_take(struct evc_report *rep, const uint8_t *rendered,
                                            size_t len);
EVC_EXPORT EVC_MUST_USE int evc_report_error(struct evc_report *rep, const char *path,
                                             const char *message);
EVC_EXPORT EVC_MUST_USE int evc_report_finish(struct evc_report *rep, const struct evc_summary *s);

#endif
