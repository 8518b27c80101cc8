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

#include "evercert/buf.h"
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

/*
 * The monitor's next wake-up besides the schedule (a renewal moment, an
 * activation, a retry) and why, so `history` can show it; 0 and "" if none.
 */
EVC_EXPORT EVC_MUST_USE int evc_state_wake_set(struct evc_state *st, evc_time wake, const char *why,
                                               struct evc_err *err);
EVC_EXPORT EVC_MUST_USE int evc_state_wake_get(struct evc_state *st, evc_time *wake, char *why,
                                               size_t len, struct evc_err *err);

/* One run and its actions, in one transaction. */
struct evc_run_record {
    evc_time started;
    evc_time finished;
    const char *trigger; /* "schedule", "due", "retry", "start", "once", "trigger",
                            "renew", "activate" */
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

/* --- the agent: what it trusts and what it was told -------------------------- */

/* What the agent holds for one server. Buffers are freed with evc_agent_server_clear. */
struct evc_agent_server {
    uint64_t generation;      /* of the last accepted SA; 0: none */
    char sa_sha256[65];       /* its SHA-256, hex; "" if none */
    struct evc_buf trusted;   /* DER of the leaf trusted now; empty until first verified */
    struct evc_buf successor; /* DER of an accepted successor not yet active; empty: none */
    evc_time activate_at;     /* the successor's */
};
EVC_EXPORT void evc_agent_server_clear(struct evc_agent_server *s);
/* The row for server, or an empty one (generation 0) when there is none. */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_server(struct evc_state *st, const char *server,
                                                   struct evc_agent_server *out,
                                                   struct evc_err *err);
/* The leaf now trusted for server (seen in a verified handshake, or activated). */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_trusted(struct evc_state *st, const char *server,
                                                    const uint8_t *der, size_t len,
                                                    struct evc_err *err);

/*
 * An SA's life in the agent. Each has one name (evc_sa_status_name), the
 * word the state database stores and `evercert pending` shows; the names
 * never change, so an existing database reads the same.
 */
enum evc_sa_status {
    EVC_SA_STATUS_ANY = -1,    /* a filter only (evc_state_agent_sa_each): any status */
    EVC_SA_STATUS_PENDING = 0, /* waits for a person */
    EVC_SA_STATUS_HOLDING,     /* waits for its hold-down */
    EVC_SA_STATUS_APPLYING,    /* being written (redone after a crash) */
    EVC_SA_STATUS_APPLIED,     /* written */
    EVC_SA_STATUS_REFUSED,     /* by a rule (decided again when seen again) */
    EVC_SA_STATUS_REJECTED,    /* by a person (final) */
    EVC_SA_STATUS_SUPERSEDED   /* by another SA of the same generation */
};

/* The stored name of status; "unknown" for a value outside the enum (and ANY). Pure. */
EVC_EXPORT const char *evc_sa_status_name(enum evc_sa_status status);

/*
 * The status named s, exactly as evc_sa_status_name spells it: 0, or
 * EVC_ERR_PARSE for any other string (NULL included), *out untouched. Pure.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_status_parse(const char *s, enum evc_sa_status *out);

struct evc_agent_sa {
    int64_t id;
    char server[256];
    char sha256[65];
    uint64_t generation;
    struct evc_buf der;
    char source[16]; /* handshake, push, url */
    evc_time first_seen, last_seen;
    enum evc_sa_status status;
    char reason[256];
};
EVC_EXPORT void evc_agent_sa_clear(struct evc_agent_sa *a);

/*
 * Record that server offered the SA der (its SHA-256 sha256hex) by source
 * at now: a new row with status when first seen (*is_new = 1), else
 * last_seen moves. out gets the row as it is now.
 */
EVC_EXPORT EVC_MUST_USE int
evc_state_agent_sa_seen(struct evc_state *st, const char *server, const char *sha256hex,
                        uint64_t generation, const uint8_t *der, size_t len, const char *source,
                        evc_time now, enum evc_sa_status status, struct evc_agent_sa *out,
                        int *is_new, struct evc_err *err);
/*
 * Which rows to keep under two caps: feed the sizes of the rows newest
 * first; 1 while they fit in max_rows rows and max_bytes bytes, then 0 for
 * that row and every older one. Zero-initialise apart from the caps. Pure.
 */
struct evc_keep {
    size_t max_rows, max_bytes;
    size_t rows, bytes;
    int full;
};
EVC_EXPORT int evc_keep_next(struct evc_keep *k, size_t size);

/* An SA that a rule refused, as evc_state_agent_refused records it. */
struct evc_agent_refusal {
    const char *server;
    const char *sha256hex; /* of the bytes as received, decoded or not */
    uint64_t generation;   /* 0 when it did not decode */
    const uint8_t *der;
    size_t len;
    const char *source;
    evc_time now;
    const char *reason;
    size_t max_rows, max_bytes; /* the server's refused rows kept */
};

/*
 * Record a refused SA in one transaction: a new row (EVC_SA_STATUS_REFUSED,
 * with reason) when these bytes were not seen from the server before
 * (*is_new = 1); else only last_seen moves and nothing is stored again.
 * Then the server's refused rows are cut to the newest that fit the caps
 * (struct evc_keep), oldest dropped. *id gets the row's id; a row of
 * another status that was there keeps its status.
 */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_refused(struct evc_state *st,
                                                    const struct evc_agent_refusal *r, int64_t *id,
                                                    int *is_new, struct evc_err *err);

/*
 * EVC_ERR_NOENT when there is no SA with this id. Here and in
 * evc_state_agent_sa_each, a row whose stored status is not one of
 * evc_sa_status_name's is EVC_ERR_PARSE naming the row and the word.
 */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_sa_get(struct evc_state *st, int64_t id,
                                                   struct evc_agent_sa *out, struct evc_err *err);
EVC_EXPORT EVC_MUST_USE int evc_state_agent_sa_status(struct evc_state *st, int64_t id,
                                                      enum evc_sa_status status, const char *reason,
                                                      struct evc_err *err);
/* Each SA of server (NULL: all) with status (EVC_SA_STATUS_ANY: any), oldest first; cb's nonzero
 * stops. */
EVC_EXPORT EVC_MUST_USE int
evc_state_agent_sa_each(struct evc_state *st, const char *server, enum evc_sa_status status,
                        int (*cb)(void *arg, const struct evc_agent_sa *a), void *arg,
                        struct evc_err *err);

/* What applying an SA changed, recorded in one transaction. */
struct evc_agent_applied {
    const char *server;
    int64_t sa_id;
    uint64_t generation;
    const char *sa_sha256;
    const uint8_t *successor; /* DER of the successor leaf */
    size_t successor_len;
    evc_time activate_at;
    const uint8_t *retire; /* DER of the predecessor to retire once expired, or NULL */
    size_t retire_len;
    const char *retire_sha256;
    evc_time retire_at;
};
EVC_EXPORT EVC_MUST_USE int evc_state_agent_applied(struct evc_state *st,
                                                    const struct evc_agent_applied *a,
                                                    struct evc_err *err);
/* The successor is active: it becomes the trusted leaf. */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_activated(struct evc_state *st, const char *server,
                                                      struct evc_err *err);

/* Predecessors whose time has come (not_after <= now); cb gets each. */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_retire_due(struct evc_state *st, evc_time now,
                                                       int (*cb)(void *arg, const char *server,
                                                                 const char *sha256hex,
                                                                 const uint8_t *der, size_t len),
                                                       void *arg, struct evc_err *err);
EVC_EXPORT EVC_MUST_USE int evc_state_agent_retired(struct evc_state *st, const char *server,
                                                    const char *sha256hex, struct evc_err *err);
/* The earliest pending retirement (0: none). */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_retire_next(struct evc_state *st, evc_time *next,
                                                        struct evc_err *err);

/*
 * What the agent told last under key (an alarm's standing, kept in the
 * notices table so a restart does not tell it again): "" when nothing.
 */
EVC_EXPORT EVC_MUST_USE int evc_state_agent_told(struct evc_state *st, const char *key, char *out,
                                                 size_t len, struct evc_err *err);

/*
 * One decision, for the log of record. A rule's "reject" events are kept
 * per server up to EVC_AGENT_REJECT_EVENTS_MAX, oldest dropped; a
 * person's are all kept.
 */
struct evc_agent_event {
    evc_time at;
    const char *server;
    const char *event; /* accept, queue, hold, reject, conflict, approve, activate, retire, ... */
    const char *reason;
    int64_t sa_id; /* 0: none */
    uint64_t generation;
    const char *source;
    const char *detail;
};
EVC_EXPORT EVC_MUST_USE int
evc_state_agent_event(struct evc_state *st, const struct evc_agent_event *e, struct evc_err *err);
/* Every event, oldest first. */
EVC_EXPORT EVC_MUST_USE int
evc_state_agent_events(struct evc_state *st, int (*cb)(void *arg, const struct evc_agent_event *e),
                       void *arg, struct evc_err *err);

#endif
