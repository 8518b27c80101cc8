/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration file: the policy and the stores that `renew` and the
 * monitor work on. INI:
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
 * Every key is in one table (src/config/keys.h) with its type, bounds,
 * default and whether a reload applies it; evercert.conf(5) is made from
 * it. Relative paths are taken from the configuration file's directory.
 */
#ifndef EVERCERT_CONFIG_H
#define EVERCERT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/cert.h"
#include "evercert/error.h"
#include "evercert/limits.h"
#include "evercert/log.h"
#include "evercert/policy.h"
#include "evercert/time.h"

/* A configuration file is at most this long. */
#define EVC_CONFIG_FILE_MAX ((size_t)1024 * 1024)

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
    char *state;        /* the local SQLite file; NULL = the default */
    char *state_local;  /* as given; validation moves it into state */
    char *fleet_url;    /* postgresql://... when state named one; else NULL */
    char *metrics_file; /* Prometheus text, or NULL */
};

/* The agent (the client side): where it keeps its state and what it retires. */
struct evc_agent_conf {
    char *state;       /* the local SQLite file; NULL = the default */
    char *state_local; /* as given; validation moves it into state */
    char *fleet_url;   /* postgresql://... when state named one; else NULL */
    char *deleted;     /* deleted store for expired predecessors; NULL: they stay */
    /* The name given in acknowledgements and URL fetches; NULL: the host name; "none": none. */
    char *client_id;
};

/* Where a server's successors may come from (sources =). */
#define EVC_SOURCE_HANDSHAKE 1u
#define EVC_SOURCE_PUSH 2u
#define EVC_SOURCE_URL 4u

enum evc_trust_format {
    EVC_TRUST_AUTO = 0, /* from the content: a directory, a PEM bundle, PKCS#12, NSS */
    EVC_TRUST_BUNDLE,
    EVC_TRUST_HASHDIR,
    EVC_TRUST_PKCS12,
    EVC_TRUST_PIN,    /* one certificate: the one the server presents */
    EVC_TRUST_NSS,    /* an NSS database directory (cert9.db): Firefox, Chromium */
    EVC_TRUST_SYSTEM, /* update-ca-certificates' or p11-kit's directory: one .crt a certificate */
    EVC_TRUST_JKS     /* a Java keystore's trusted certificate entries */
};

/* One [server "name"] the agent follows. */
struct evc_server_conf {
    char *name;
    char *connect; /* host:port */
    char *service; /* the name it is verified for; default connect's host */
    char *trust;   /* the trust store the applications use */
    enum evc_trust_format trust_format;
    char *password_file; /* for a PKCS#12 trust store or an NSS database */
    int policy;          /* enum evc_sa_policy_mode; holddown is auto with a hold */
    int64_t holddown;    /* seconds an SA must be seen before it is accepted; 0: none */
    unsigned sources;    /* EVC_SOURCE_*; 0 until validated: all the server offers */
    char *url;           /* https://host/.well-known/evercert/successor, reached at connect */
    char *announce;      /* host:port of the push channel */
    int64_t interval;    /* seconds between handshakes and fetches (default 1h) */
    char *after_change;  /* a command run after the trust store changed */
    int after_change_shell;
    int64_t hook_timeout;
    unsigned long line;       /* of the [server "name"] header */
    unsigned long *key_lines; /* per key of the table, the line that set it (0: not set) */
};

/* This host in the fleet's database. */
struct evc_fleet_conf {
    char *host;          /* NULL: the host name */
    int64_t keep;        /* seconds the inventory keeps events (default 90d) */
    int64_t stale;       /* seconds after which a host is silent (default 2h) */
    char *password_file; /* the database password's file, or NULL */
    char *key_file;      /* the fleet key sealing shared stores' keys, or NULL */
    int64_t lease;       /* seconds a shared store's renewer holds it (default 60) */
};

/* An [endpoint "NAME"]: a server whose presented chain the monitor scans each pass. */
struct evc_endpoint_conf {
    char *name;
    char *address;   /* tls://HOST:PORT, smtp://, imap://, postgres:// (endpoint.h) */
    char *store;     /* NULL, or the personal store whose certificate it must serve */
    char *ca;        /* anchors to verify its chain; NULL: the system's */
    int64_t timeout; /* seconds: connect, STARTTLS and handshake */
    unsigned long line;
    unsigned long *key_lines;
};

struct evc_config {
    char *file;
    struct evc_policy policy;
    struct evc_monitor_conf monitor;
    struct evc_notify_conf notify;
    struct evc_store_conf *stores;
    size_t nstores;
    struct evc_agent_conf agent;
    struct evc_fleet_conf fleet;
    struct evc_server_conf *servers;
    size_t nservers;
    unsigned long *key_lines; /* per key of the table, the line that set it (0: the default) */
    struct evc_endpoint_conf *endpoints;
    size_t nendpoints;
};

/*
 * Parse a configuration from text. name is the file name used in
 * messages and dir the directory relative paths start from. Unknown
 * sections or keys, bad values and missing stores are EVC_ERR_CONFIG with
 * "name:line: reason" in err. Pure: no I/O, no clock.
 *
 * With delete_old (the default) and stores but none with role = deleted,
 * the configuration gets one, marked implicit: a directory beside the
 * state database (evc_config_state_path) named after it (state.db ->
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
EVC_EXPORT const char *evc_trust_format_name(enum evc_trust_format f);

/* One key of the table, as the manual and `check-config --keys` show it. */
struct evc_config_key {
    const char *section; /* "policy", "store", "monitor", "notify", "agent", "server" */
    const char *name;
    const char *type;   /* the value's form: DURATION, BOOL, PATH, ... */
    const char *syntax; /* what the type accepts, in words */
    int min, max;       /* bounds of a NUMBER, or of a DURATION in seconds */
    const char *dflt;   /* NULL: none, or computed (the doc says) */
    int reloadable;     /* a SIGHUP applies a new value */
    const char *doc;
};

/* The i-th key of the table, or NULL past the last. */
EVC_EXPORT const struct evc_config_key *evc_config_key_get0(size_t i);

/*
 * The line of c's file that set a key of a plain section ([policy],
 * [monitor], [notify], [agent]); 0 when it has its default.
 */
EVC_EXPORT unsigned long evc_config_key_line(const struct evc_config *c, const char *section,
                                             const char *name);

/* What a configuration is checked for: what the monitor, the agent or renew would use. */
enum evc_config_use { EVC_CONFIG_USE_ANY = 0, EVC_CONFIG_USE_MONITOR, EVC_CONFIG_USE_AGENT };

/* A warning of evc_config_check or evc_config_keep_fixed: "FILE:LINE: text". */
typedef void (*evc_config_say_fn)(void *arg, const char *msg);

/*
 * Check what can be checked without writing anything: the files a store
 * reads exist and are readable (a personal store's cert and key, a root
 * or trust store's path, every password_file and smtp_password_file);
 * for use AGENT, that there are servers. Missing directories where
 * something will be written (a deleted store, the state, the report and
 * metrics files, a server's trust store) are warnings, told through say.
 * Returns 0 or EVC_ERR_CONFIG with "FILE:LINE: reason" in err.
 */
EVC_EXPORT EVC_MUST_USE int evc_config_check(const struct evc_config *c, enum evc_config_use use,
                                             evc_config_say_fn say, void *arg, struct evc_err *err);

/*
 * After a reload: every key a reload does not apply (the table's
 * reloadable = 0) that differs between old and new gets old's value back
 * in new, and say is told "KEY changed in FILE:LINE; takes effect after a
 * restart" (the deleted store implied beside a kept state stays too).
 * Returns how many were kept.
 */
EVC_EXPORT size_t evc_config_keep_fixed(const struct evc_config *old, struct evc_config *new,
                                        evc_config_say_fn say, void *arg);

/*
 * The state database a configuration uses: its [monitor] state, or by
 * default /var/lib/evercert/NAME.db for a configuration under /etc/
 * (state.db for /etc/evercert/evercert.ini or .conf), else NAME-state.db
 * beside it, NAME being the configuration's file name without its
 * extension. Pure: the same answer for every user.
 */
EVC_EXPORT void evc_config_state_path(const char *config_path, const char *configured, char *out,
                                      size_t len);

/*
 * Point a renew run's options at c: its policy, its stores and the file a
 * writing run locks (the other fields are the caller's). What `renew` and
 * the monitor hand to evc_renew_run; ca never sees the configuration.
 */
struct evc_renew_opts;
EVC_EXPORT void evc_config_renew_opts(const struct evc_config *c, struct evc_renew_opts *o);

#endif
