/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's state as its files share it: service.c runs the loop and
 * the signals, service_clock.c decides when to wake, service_pass.c runs
 * one pass and tells people.
 */
#ifndef EVC_MONITOR_SERVICE_INT_H
#define EVC_MONITOR_SERVICE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/config.h"
#include "evercert/fleet.h"
#include "evercert/limits.h"
#include "evercert/log.h"
#include "evercert/monitor.h"
#include "evercert/state.h"
#include "evercert/time.h"

struct monitor {
    const struct evc_monitor_opts *o;
    char config_path[EVC_PATH_MAX];
    struct evc_config *conf;
    struct evc_state *st;
    char state_path[EVC_PATH_MAX];
    char sock_path[EVC_PATH_MAX];
    evc_time next_start; /* the scheduled full report; 0 when disabled */
    /*
     * The monitor's own clock: the next renewal moment, activate_at,
     * retirement or purge the stores call for (with jitter), and a retry
     * while work stays due after a pass (backoff, doubling).
     */
    evc_time due;
    evc_time deadline; /* the earliest end of a certificate evercert replaces */
    evc_time retry_at;
    const char *retry_why; /* "retry", or "start"/"reload" when work was found due */
    int64_t backoff;
    size_t overdue;
    evc_time last_run;
    struct evc_log log;
    /*
     * A successor waiting for its clients is counted again every minute
     * or faster; its log line with the unready clients comes at most once
     * a minute per store (by the store's index; a reload starts afresh).
     */
    evc_time wait_logged[EVC_CONFIG_STORES_MAX];
    struct evc_fleet *fleet; /* the inventory's writer, opened at the first pass */
    int fleet_failed;        /* it could not be opened (logged): not tried again */
    uint64_t fleet_sum;      /* the last view written to it, summed, and when */
    evc_time fleet_at;
};

/* Retries after a pass that left work due: 5 s, doubling, at most an hour. */
#define BACKOFF_MIN 5
#define BACKOFF_MAX 3600

#define mlog(m, ...) evc_logf(&(m)->log, __VA_ARGS__)

struct evc_ep_result;
/*
 * Scan the configuration's endpoints at now (concurrently, each within its
 * timeout), log each, mail the changes of standing; *out gets
 * conf->nendpoints results (evc_ep_results_free). 0, or an error logged.
 */
int evc_monitor_endpoints(struct monitor *m, evc_time now, struct evc_ep_result **out);
/*
 * The pass's JSON report doc with an "endpoints" array of res added (each:
 * name, endpoint, standing, up, error, verified, verify_error, not_after,
 * chain_not_after, sha256, store, mismatch), into a new *out (free). 0 or -1.
 */
int evc_monitor_endpoints_json(const struct monitor *m, const struct evc_ep_result *res,
                               const char *doc, size_t len, char **out, size_t *outlen);

/* The monitor's clock: the wall clock plus --at's offset. */
evc_time evc_monitor_vnow(const struct monitor *m);
/* The schedule's fields as text, to tell a changed schedule from the state's. */
void evc_monitor_schedule_text(const struct evc_config *c, char *out, size_t len);
/* The next scheduled pass: kept from the state if the schedule is the same, else computed. */
int evc_monitor_plan_next(struct monitor *m, struct evc_err *err);
/* The earlier of the renewal clock and a retry; why is "due" or "retry". */
evc_time evc_monitor_next_wake(const struct monitor *m, const char **why);
/* Read the stores (writing nothing) and set when work is next due; ran names why (or NULL). */
void evc_monitor_plan_clock(struct monitor *m, const char *ran, evc_time since);
/* One full pass: renew, tell, record. Its Nagios status; summary gets one line. */
int evc_monitor_pass(struct monitor *m, const char *trigger, char *summary, size_t len);
/* Tell the fleet inventory what a pass saw and did (ok: the run read its stores); never fails. */
struct evc_renew_result;
void evc_monitor_fleet_record(struct monitor *m, const struct evc_renew_result *res, int ok,
                              evc_time at);
struct evc_ep_result;
void evc_monitor_fleet_endpoints(struct monitor *m, const struct evc_ep_result *eps, size_t n,
                                 evc_time at);
void evc_monitor_fleet_close(struct monitor *m);

#endif
