/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scan: every certificate under a set of paths, classified at one moment
 * and written to a report, as WebSphere's expiration monitor cycles through
 * its keystores. Bad input never stops a scan: each unreadable file or
 * certificate becomes one error in the report and the scan goes on.
 */
#ifndef EVERCERT_SCAN_H
#define EVERCERT_SCAN_H

#include <stddef.h>

#include "evercert/cert.h"
#include "evercert/report.h"

struct evc_ep_result;

struct evc_scan_secret {
    const char *path;
    const char *password;
};

struct evc_scan_opts {
    evc_time now; /* the moment to classify at */
    struct evc_thresholds thresholds;
    const char *password; /* PKCS#12; NULL for none */
    /* Files with a password of their own (a keystore's password_file), by the path given. */
    const struct evc_scan_secret *secrets;
    size_t nsecrets;
    int jobs; /* worker threads; 0 for one per online CPU */
    /*
     * Called from the calling thread about every 200 ms once a scan has run
     * for a second, and once more with done set; NULL for none.
     */
    void (*progress)(void *arg, size_t certs, size_t files_done, size_t files_total, int done);
    void *progress_arg;
    /* Endpoints already scanned (endpoint.h), reported after the files; NULL for none. */
    const struct evc_ep_result *endpoints;
    size_t nendpoints;
};

/* Defaults: now, 60d/90d, no password, one job per CPU, no progress. */
EVC_EXPORT void evc_scan_opts_default(struct evc_scan_opts *o, evc_time now);

/*
 * Scan paths into rep (which this call begins and finishes) and count what
 * was found into *sum. Returns 0 when the report was written, whatever it
 * says; EVC_ERR_IO when it could not be written; EVC_ERR_NOMEM.
 */
EVC_EXPORT EVC_MUST_USE int evc_scan(const char *const *paths, size_t npaths,
                                     const struct evc_scan_opts *o, struct evc_report *rep,
                                     struct evc_summary *sum, struct evc_err *err);

/* The Nagios exit status of a summary: 2, 1, 3 or 0 (see evercert-scan(1)). */
EVC_EXPORT int evc_scan_exit_status(const struct evc_summary *sum);

#endif
