/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What renewal works on: the roles of stores, one store's settings, and
 * the policy (thresholds, what to keep, when a successor goes live). The
 * configuration file fills these (evercert/config.h); the ca layer reads
 * them and decides with evc_policy_activate_at and evc_policy_activate_by.
 */
#ifndef EVERCERT_POLICY_H
#define EVERCERT_POLICY_H

#include <stdint.h>

#include "evercert/cert.h"
#include "evercert/error.h"
#include "evercert/time.h"

enum evc_role { EVC_ROLE_ROOT = 0, EVC_ROLE_PERSONAL, EVC_ROLE_TRUST, EVC_ROLE_DELETED };

struct evc_store_conf {
    char *name;
    enum evc_role role;
    char *path;              /* root: a directory (ca.crt, ca.key) or .p12; trust, deleted */
    char *cert;              /* personal: certificate (leaf first) */
    char *key;               /* personal: its key */
    char *password_file;     /* for a .p12 path, a Java keystore path, a keystore */
    char *keystore;          /* personal, instead of cert and key: JKS or PKCS#12 */
    char *alias;             /* keystore: its key entry; NULL: the only one */
    int shared;              /* personal: one monitor of the fleet renews it for all hosts */
    char *publish;           /* personal: a web root that gets each SA at the well-known URL */
    char *service;           /* personal: the name in its SA; default the first DNS SAN or the CN */
    char *after_replace;     /* personal: a command run after a swap */
    int after_replace_shell; /* run it with /bin/sh -c; else split on blanks and exec */
    int64_t hook_timeout;    /* seconds; the hook is killed after it (default 30) */
    char *verify;            /* personal: host:port that must serve the new certificate */
    char *verify_servername; /* SNI for verify; default the host */
    int64_t verify_timeout;  /* seconds to keep trying (default 10) */
    unsigned long line;      /* of the [store "name"] header */
    unsigned long *key_lines; /* per key of the configuration's table, the line that set it */
    unsigned long alias_line; /* of alias, for errors of layers that cannot read key_lines */
    int implicit;             /* deleted: added because no store has role = deleted (line 0) */
    /*
     * personal, under activate = ready: where the clients' generations
     * are counted. readiness is the status listener of the `evercert
     * serve` serving this store (HOST:PORT or unix:PATH); access_log a
     * web server's access log in Common or Combined Log Format, counted
     * over readiness_window seconds (default 7 days).
     */
    char *readiness;
    char *access_log;
    int64_t readiness_window;
};

/*
 * When a staged successor goes live: at its activate_at whatever the
 * clients hold (at), or once they hold it (ready), bounded by a deadline
 * before the old certificate ends.
 */
enum evc_activate { EVC_ACTIVATE_AT = 0, EVC_ACTIVATE_READY };

struct evc_policy {
    struct evc_thresholds thresholds; /* expiration_threshold, prenotification */
    int auto_replace;                 /* default 1 */
    int delete_old;                   /* default 1; without a deleted store, one is implied */
    int reuse_key;                    /* default 0 */
    int64_t deleted_retention;        /* seconds, default 90 days */
    int window_set;                   /* distribution_window given */
    struct evc_span window;           /* valid when window_set */
    enum evc_activate activate;       /* default at */
    unsigned ready_share;             /* ready: the share of clients, 1..100 (default 100) */
    struct evc_span margin;           /* ready: the deadline's distance from the old end (10%) */
};

/* "root", "personal", "trust", "deleted"; "?" for anything else. */
EVC_EXPORT const char *evc_role_name(enum evc_role r);

/*
 * The activation time of a successor published at now for an old
 * certificate ending at not_after: now plus the distribution window (by
 * default a third of the time left, at most 7 days), never later than
 * 90% of the way to not_after; now when it has ended.
 */
EVC_EXPORT evc_time evc_policy_activate_at(const struct evc_policy *p, evc_time now,
                                           evc_time not_after);

/*
 * The latest moment a successor going live at activate_at may wait for
 * its clients, for an old certificate valid from not_before to not_after:
 * with activate = ready, max(activate_at, not_after - margin), the margin
 * a share of that lifetime or a duration; with activate = at, activate_at.
 */
EVC_EXPORT evc_time evc_policy_activate_by(const struct evc_policy *p, evc_time activate_at,
                                           evc_time not_before, evc_time not_after);

#endif
