/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration file: the policy and the stores that `renew` and the
 * monitor work on. INI, read with inih:
 *
 *   [policy]
 *   expiration_threshold = 60d
 *   [store "web"]
 *   role = personal
 *   cert = /etc/nginx/tls/site.crt
 *   key = /etc/nginx/tls/site.key
 *
 * or, for the agent, the servers it follows:
 *
 *   [server "web"]
 *   connect = 10.0.0.5:443
 *   service = www.example.com
 *   trust = /etc/ssl/app-trust.pem
 *
 * Every key is in one table (src/monitor/config.c) with its type and
 * default; docs/cmd/renew.txt documents the same table. Relative paths are
 * taken from the configuration file's directory.
 */
#ifndef EVERCERT_CONFIG_H
#define EVERCERT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/cert.h"
#include "evercert/error.h"
#include "evercert/time.h"

/* At most this many stores, and as many servers, in one configuration. */
#define EVC_CONFIG_STORES_MAX 256
/* A configuration file is at most this long. */
#define EVC_CONFIG_FILE_MAX ((size_t)1024 * 1024)

enum evc_role { EVC_ROLE_ROOT = 0, EVC_ROLE_PERSONAL, EVC_ROLE_TRUST, EVC_ROLE_DELETED };

struct evc_store_conf {
    char *name;
    enum evc_role role;
    char *path;              /* root: a directory (ca.crt, ca.key) or .p12; trust, deleted */
    char *cert;              /* personal: certificate (leaf first) */
    char *key;               /* personal: its key */
    char *password_file;     /* for a .p12 path */
    char *service;           /* personal: the name in its SA; default the first DNS SAN or the CN */
    char *after_replace;     /* personal: a command run after a swap */
    int after_replace_shell; /* run it with /bin/sh -c; else split on blanks and exec */
    int64_t hook_timeout;    /* seconds; the hook is killed after it (default 30) */
    char *verify;            /* personal: host:port that must serve the new certificate */
    char *verify_servername; /* SNI for verify; default the host */
    int64_t verify_timeout;  /* seconds to keep trying (default 10) */
    unsigned long line;      /* of the [store "name"] header */
    int implicit;            /* deleted: added because no store has role = deleted (line 0) */
};

/* When the monitor runs by itself (WebSphere's fields, same meaning). */
struct evc_schedule {
    int frequency;   /* days between runs, 1..366 (default 14) */
    int day_of_week; /* 0 = Sunday .. 6; -1 = any (default Sunday) */
    int hour;        /* local time (default 21) */
    int minute;      /* (default 30) */
};

struct evc_monitor_conf {
    int enabled; /* default true */
    struct evc_schedule schedule;
    char *state;        /* SQLite file; NULL = the default */
    char *metrics_file; /* Prometheus text, or NULL */
};

struct evc_notify_conf {
    char *log;         /* "stderr" (default), "syslog", "none" */
    char *report_file; /* JSON report, replaced after every run */
    char *email_to;    /* "a@x|b@y@smtp.host" */
    char *email_from;
    char *smtp_url; /* overrides the server named by the addresses */
    char *smtp_user;
    char *smtp_password_file;
};

struct evc_policy {
    struct evc_thresholds thresholds; /* expiration_threshold, prenotification */
    int auto_replace;                 /* default 1 */
    int delete_old;                   /* default 1; without a deleted store, one is implied */
    int reuse_key;                    /* default 0 */
    int64_t deleted_retention;        /* seconds, default 90 days */
    int window_set;                   /* distribution_window given */
    struct evc_span window;           /* valid when window_set */
};

/* The agent (the client side): where it keeps its state and what it retires. */
struct evc_agent_conf {
    char *state;   /* SQLite file; NULL = the default */
    char *deleted; /* deleted store for expired predecessors; NULL: they stay */
};

/* Where a server's successors may come from (sources =). */
#define EVC_SOURCE_HANDSHAKE 1u
#define EVC_SOURCE_PUSH 2u
#define EVC_SOURCE_URL 4u

enum evc_trust_format {
    EVC_TRUST_AUTO = 0, /* from the content: a directory, a PEM bundle or PKCS#12 */
    EVC_TRUST_BUNDLE,
    EVC_TRUST_HASHDIR,
    EVC_TRUST_PKCS12,
    EVC_TRUST_PIN /* one certificate: the one the server presents */
};

/* One [server "name"] the agent follows. */
struct evc_server_conf {
    char *name;
    char *connect; /* host:port */
    char *service; /* the name it is verified for; default connect's host */
    char *trust;   /* the trust store the applications use */
    enum evc_trust_format trust_format;
    char *password_file; /* for a PKCS#12 trust store */
    int policy;          /* enum evc_sa_policy_mode; holddown is auto with a hold */
    int64_t holddown;    /* seconds an SA must be seen before it is accepted; 0: none */
    unsigned sources;    /* EVC_SOURCE_*; 0 until validated: all the server offers */
    char *url;           /* https://host/.well-known/evercert/successor, reached at connect */
    char *announce;      /* host:port of the push channel */
    int64_t interval;    /* seconds between handshakes and fetches (default 1h) */
    char *after_change;  /* a command run after the trust store changed */
    int after_change_shell;
    int64_t hook_timeout;
    unsigned long line; /* of the [server "name"] header */
};

struct evc_config {
    char *file;
    struct evc_policy policy;
    struct evc_monitor_conf monitor;
    struct evc_notify_conf notify;
    struct evc_store_conf *stores;
    size_t nstores;
    struct evc_agent_conf agent;
    struct evc_server_conf *servers;
    size_t nservers;
};

/*
 * Parse a configuration from text. name is the file name used in
 * messages and dir the directory relative paths start from. Unknown
 * sections or keys, bad values and missing stores are EVC_ERR_CONFIG with
 * "name:line: reason" in err. Pure: no I/O, no clock.
 *
 * With delete_old (the default) and stores but none with role = deleted,
 * the configuration gets one, marked implicit: a directory beside the
 * state database (evc_monitor_state_path) named after it (state.db ->
 * deleted, NAME-state.db and NAME.db -> NAME-deleted), so two
 * configurations never purge each other's entries; created 0700 when
 * first written.
 */
EVC_EXPORT EVC_MUST_USE int evc_config_parse(const char *text, size_t len, const char *name,
                                             const char *dir, struct evc_config **out,
                                             struct evc_err *err);
/* Read and parse the file at path. */
EVC_EXPORT EVC_MUST_USE int evc_config_load(const char *path, struct evc_config **out,
                                            struct evc_err *err);
EVC_EXPORT void evc_config_free(struct evc_config *c);
EVC_EXPORT const char *evc_role_name(enum evc_role r);
EVC_EXPORT const char *evc_trust_format_name(enum evc_trust_format f);

/* The distribution window for an old certificate ending at not_after, published at now. */
EVC_EXPORT evc_time evc_policy_activate_at(const struct evc_policy *p, evc_time now,
                                           evc_time not_after);

#endif
