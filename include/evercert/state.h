/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's memory, in SQLite: the next scheduled start, the runs and
 * what they replaced, and the last status told about each certificate (so
 * a warning is sent once per state change, not on every run).
 */
#ifndef EVERCERT_STATE_H
#define EVERCERT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"
#include "evercert/renew.h"
#include "evercert/time.h"

struct evc_state;

/*
 * Open (creating if missing) the state database at path. With exclusive,
 * take a lock held until evc_state_close, so a second monitor on the same
 * state refuses to start (EVC_ERR_BUSY). A corrupt database is reported
 * (EVC_ERR_PARSE) and never replaced; a locked one is EVC_ERR_BUSY.
 */
EVC_EXPORT EVC_MUST_USE int evc_state_open(const char *path, int exclusive, struct evc_state **out,
                                           struct evc_err *err);
EVC_EXPORT void evc_state_close(struct evc_state *st);

/* The persisted next start and the schedule it was computed for; 0 and "" if none. */
EVC_EXPORT EVC_MUST_USE int evc_state_next_get(struct evc_state *st, evc_time *next, char *schedule,
                                               size_t len, struct evc_err *err);
EVC_EXPORT EVC_MUST_USE int evc_state_next_set(struct evc_state *st, evc_time next,
                                               const char *schedule, struct evc_err *err);

/* One run and its actions, in one transaction. */
struct evc_run_record {
    evc_time started;
    evc_time finished;
    const char *trigger; /* "schedule", "activation", "once", "trigger" */
    int status;          /* the exit status the run would have */
    const char *message; /* the error, or NULL */
};
EVC_EXPORT EVC_MUST_USE int evc_state_record_run(struct evc_state *st,
                                                 const struct evc_run_record *run,
                                                 const struct evc_renew_result *res,
                                                 struct evc_err *err);

/* Totals for the metrics: renewals and failed runs, ever. */
EVC_EXPORT EVC_MUST_USE int evc_state_totals(struct evc_state *st, int64_t *renewals,
                                             int64_t *run_errors, struct evc_err *err);

/*
 * Has the status told about this certificate changed? *changed is 1 when
 * status differs from the last one recorded with evc_state_notice_set.
 */
EVC_EXPORT EVC_MUST_USE int evc_state_notice_changed(struct evc_state *st, const char *sha256hex,
                                                     const char *status, int *changed,
                                                     struct evc_err *err);
EVC_EXPORT EVC_MUST_USE int evc_state_notice_set(struct evc_state *st, const char *sha256hex,
                                                 const char *status, evc_time now,
                                                 struct evc_err *err);

/* Each run, oldest first, then each replacement; for `evercert history`. */
struct evc_history_cb {
    int (*run)(void *arg, int64_t id, evc_time started, evc_time finished, const char *trigger,
               int status, const char *message);
    int (*action)(void *arg, int64_t run, evc_time at, const char *action, const char *store,
                  const char *reason, const char *old_sha256, const char *new_sha256,
                  const char *detail);
    void *arg;
};
EVC_EXPORT EVC_MUST_USE int evc_state_history(struct evc_state *st, const struct evc_history_cb *cb,
                                              struct evc_err *err);

#endif
