/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The expiration monitor as a service: a foreground process (for
 * systemd) that runs the renewal pass on WebSphere's schedule, wakes at
 * every pending activation, and tells people: a message log, a JSON
 * report file, e-mail, a Prometheus metrics file and the state database.
 */
#ifndef EVERCERT_MONITOR_H
#define EVERCERT_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evercert/error.h"
#include "evercert/renew.h"
#include "evercert/time.h"

struct evc_monitor_opts {
    const char *config_path;
    int once;             /* one full pass now, then return */
    int64_t clock_offset; /* seconds added to the wall clock (--at) */
    FILE *report;         /* with once: also gets the pass's JSON report, as report_file does */
};

/*
 * Run the monitor until SIGTERM or SIGINT (after the current step), or one
 * pass with once. *status is the pass's Nagios status with once (0 ok,
 * 1 warning, 2 critical, 3 unknown), else 0. SIGHUP rereads the
 * configuration; a bad one is reported and the old one kept. Errors:
 * the configuration or the state database cannot be used (EVC_ERR_BUSY
 * when another monitor runs on the same state).
 */
EVC_EXPORT EVC_MUST_USE int evc_monitor_run(const struct evc_monitor_opts *o, int *status,
                                            struct evc_err *err);

/*
 * Ask the monitor running on config_path's state to run a pass now and
 * wait for it. reply gets its one-line summary; *status its Nagios status.
 */
EVC_EXPORT EVC_MUST_USE int evc_monitor_trigger(const char *config_path, char *reply, size_t len,
                                                int *status, struct evc_err *err);

/*
 * The readiness callback of a renewal run (evc_renew_opts.readiness, arg
 * unused) under activate = ready: asks store's readiness status listener
 * (5 s at most; its successor must be generation) or counts its
 * access_log's last 16 MiB over readiness_window at now. 0 with out
 * filled, or a negative code with out->error naming the source and why.
 */
EVC_EXPORT int evc_monitor_readiness(void *arg, const struct evc_store_conf *store,
                                     uint64_t generation, evc_time now, struct evc_readiness *out);

#endif
