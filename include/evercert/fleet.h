/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet inventory: what every monitor and agent of an organisation
 * scanned, renewed, announced and accepted, with its host identity, in one
 * database (PostgreSQL, or the host's own SQLite state when it runs alone),
 * and the questions asked of it: every certificate on every host, what
 * expires when, which clients hold which generation, which hosts went
 * silent.
 *
 * A service writes through a struct evc_fleet. With a fleet database every
 * write first lands in an outbox table of the service's local SQLite state,
 * so a host never loses a write while the database is away; evc_fleet_flush
 * sends what waits, in order, in batches of idempotent upserts, and deletes
 * the outbox rows only after the batch committed. Without one, the writes go
 * straight into the inventory tables of the local state.
 */
#ifndef EVERCERT_FLEET_H
#define EVERCERT_FLEET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evercert/error.h"
#include "evercert/time.h"

struct evc_fleet;

struct evc_fleet_opts {
    const char *local;    /* the service's SQLite state file (its outbox, or its inventory) */
    const char *url;      /* the fleet database (postgresql://...); NULL: the inventory is local */
    const char *password; /* for url; NULL: none (never part of a message) */
    const char *host;     /* this host's name; NULL: gethostname() */
    const char *service;  /* "monitor" or "agent" */
    const char *version;  /* the reporting program's version; NULL: this library's */
    evc_time keep;        /* events older than this are pruned; 0: 90 days */
    int connect_timeout;  /* seconds to reach the fleet database; 0: 5 */
};

/*
 * Open the writer: the local state (outbox or inventory tables, migrated),
 * never the fleet database, which evc_fleet_flush reaches when it can.
 * Errors: the local state cannot be opened or migrated; a host name that
 * is empty or longer than EVC_FLEET_HOST_MAX. Free with evc_fleet_close.
 */
EVC_EXPORT EVC_MUST_USE int evc_fleet_open(const struct evc_fleet_opts *o, struct evc_fleet **out,
                                           struct evc_err *err);
EVC_EXPORT void evc_fleet_close(struct evc_fleet *f);
/* This writer's host name. */
EVC_EXPORT const char *evc_fleet_host(const struct evc_fleet *f);

/* One certificate as a host sees it at one location. Strings may be NULL. */
struct evc_fleet_cert {
    const char *location; /* a file, a store name, a trust store, or an endpoint (tls://h:p#0) */
    const char *sha256;   /* lower-case hex; "" or NULL for an error row */
    const char *subject;
    const char *issuer;
    evc_time not_before, not_after;
    const char *status; /* the reporter's classification: ok, threshold, expired, ..., error */
    const char *kind;   /* root, self-signed, chained, external, ... */
    const char *detail; /* an error row's reason, or a note */
};

/*
 * The current view of source ("stores", "trust", "endpoints", ...) on this
 * host at now: it replaces the host's previous view of that source whole.
 * More than EVC_FLEET_SNAPSHOT_MAX rows are cut, and the host is marked
 * incomplete. Also marks the host as reporting at now.
 */
EVC_EXPORT EVC_MUST_USE int evc_fleet_snapshot(struct evc_fleet *f, const char *source,
                                               evc_time now, const struct evc_fleet_cert *c,
                                               size_t n, struct evc_err *err);

/* One thing a service did. */
struct evc_fleet_event {
    evc_time at;
    const char *what;    /* scanned renewed announced accepted activated retired rejected */
    const char *subject; /* the store or the server */
    const char *old_sha256, *new_sha256;
    uint64_t generation;
    const char *detail;
};
EVC_EXPORT EVC_MUST_USE int evc_fleet_event(struct evc_fleet *f, const struct evc_fleet_event *e,
                                            struct evc_err *err);

/* What an agent holds for one server: the generation installed and the leaf trusted. */
struct evc_fleet_holding {
    const char *server;
    uint64_t generation;
    const char *sha256;
    evc_time at;
};
EVC_EXPORT EVC_MUST_USE int
evc_fleet_holding(struct evc_fleet *f, const struct evc_fleet_holding *h, struct evc_err *err);

/* What a flush did. */
struct evc_fleet_sent {
    size_t sent;    /* writes sent (and deleted from the outbox) */
    size_t waiting; /* writes still waiting */
    int down;       /* the fleet database could not take them: unreachable or read-only */
    /*
     * 1 when the link changed state since the last flush of this state
     * file (across restarts): line says so once, to be logged.
     */
    int changed;
    char line[512];
};

/*
 * Send what waits in the outbox, oldest first, EVC_FLEET_BATCH rows per
 * transaction, until none is left or the database fails. A database that
 * is unreachable or read-only is not an error: *out says so (down) and
 * the rows wait. Returns an error only for the local state. Also prunes
 * the fleet database's events older than keep, as of now. Without a fleet
 * database: 0, nothing to send.
 */
EVC_EXPORT EVC_MUST_USE int evc_fleet_flush(struct evc_fleet *f, evc_time now,
                                            struct evc_fleet_sent *out, struct evc_err *err);

/* The formats of evc_fleet_report, as scan's (report.h). */
enum evc_fleet_format { EVC_FLEET_TEXT, EVC_FLEET_JSON, EVC_FLEET_PROMETHEUS };

/* What `evercert fleet` asks. */
struct evc_fleet_query {
    const char *target;   /* postgresql://... or a SQLite state file */
    const char *password; /* NULL: none */
    evc_time now;         /* classification and staleness */
    evc_time stale;       /* a host not reported for this long is silent; 0: 2 hours */
    evc_time expiring;    /* a certificate ending within this is a warning; 0: 30 days */
    int only_expiring;    /* list only certificates ending within expiring */
    const char *host;     /* only this host's rows; NULL: all */
    int verbose;          /* list each certificate's hosts and locations */
};

/*
 * Answer q from its database and write the answer to out in format. *status
 * gets the exit status as scan's: 2 when a certificate listed is expired
 * or not yet valid, 1 when one ends within expiring, a host is silent or
 * incomplete, or an error row is listed, else 0. Errors name the redacted
 * target and why (unreachable, no inventory); nothing is written then.
 */
EVC_EXPORT EVC_MUST_USE int evc_fleet_report(const struct evc_fleet_query *q,
                                             enum evc_fleet_format format, FILE *out, int *status,
                                             struct evc_err *err);

#endif
