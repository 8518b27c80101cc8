/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every key of the configuration file, once. The parser sets values by
 * this table, the defaults are the table's (applied by the parser, so a
 * default is spelled in one place and checked like a value from a file),
 * and evercert.conf(5) and `evercert check-config --keys` print it.
 *
 * X(section, name, type, field, min, max, default, reloadable, doc)
 *   section     POLICY, STORE, MONITOR, NOTIFY, AGENT, FLEET or SERVER
 *   type        how the value is read (enum evc_key_type, parse.c)
 *   field       the member of the section's struct it sets
 *   min, max    bounds of an INT, or of a SECONDS key in seconds (the
 *               manual and the messages show them as durations)
 *   default     the text applied before the file is read, or NULL
 *   reloadable  1: a SIGHUP applies a new value; 0: only a restart does
 *   doc         one line for the manual
 */
#ifndef EVC_CONFIG_KEYS_H
#define EVC_CONFIG_KEYS_H

#include <stdio.h>

/* A day in seconds, for the bounds of SECONDS keys. */
#define EVC_CONFIG_DAY 86400

/* clang-format off */
#define EVC_CONFIG_KEYS(X) \
    X(POLICY, expiration_threshold, SPAN, thresholds.threshold, 0, 0, "60d", 1, \
      "Renew when this close to the end (12h, 60d, or 33% of the lifetime); more than half the lifetime counts as half.") \
    X(POLICY, prenotification, SPAN, thresholds.prenotify, 0, 0, "90d", 1, \
      "Report certificates this long before the threshold; more than half the time to the renewal moment counts as half.") \
    X(POLICY, auto_replace, BOOL, auto_replace, 0, 0, "true", 1, \
      "Put each new signer beside the old one in every trust store holding the old.") \
    X(POLICY, delete_old, BOOL, delete_old, 0, 0, "true", 1, \
      "Keep replaced certificates and retired signers in the deleted store (one beside the state when no store has role = deleted).") \
    X(POLICY, reuse_key, BOOL, reuse_key, 0, 0, "false", 1, \
      "Keep the key when renewing a personal certificate.") \
    X(POLICY, deleted_retention, SECONDS, deleted_retention, 0, 3650 * EVC_CONFIG_DAY, "90d", 1, \
      "How long deleted-store entries are kept.") \
    X(POLICY, distribution_window, WINDOW, window, 0, 0, NULL, 1, \
      "Time from publishing a successor to activating it: a duration, a share of the time left, or 0; unset, a third of the time left, at most 7d.") \
    X(POLICY, activate, ACTIVATE, activate, 0, 0, "at", 1, \
      "When a staged successor goes live: at its activation time (at), or once past it when the clients hold it (ready: all of them; ready:SHARE, like ready:95%, that share of them), at the latest at the deadline activate_margin sets. Each personal store then needs readiness or access_log.") \
    X(POLICY, activate_margin, SPAN, margin, 0, 0, "10%", 1, \
      "With activate = ready: the deadline is this long before the old certificate ends (a duration, or a share of its lifetime), never before the activation time.") \
    X(STORE, role, ROLE, role, 0, 0, NULL, 1, \
      "What the store holds (required).") \
    X(STORE, path, PATH, path, 0, 0, NULL, 1, \
      "root: a directory (ca.crt, ca.key) or PKCS#12 file; trust: a PEM bundle, hashed directory or PKCS#12 file; deleted: a directory.") \
    X(STORE, cert, PATH, cert, 0, 0, NULL, 1, \
      "personal: the certificate, leaf first (required unless keystore is set).") \
    X(STORE, key, PATH, key, 0, 0, NULL, 1, \
      "personal: its unencrypted PEM key (required unless keystore is set).") \
    X(STORE, password_file, PATH, password_file, 0, 0, NULL, 1, \
      "For a PKCS#12 or Java keystore path or keystore: the password is the file's first line.") \
    X(STORE, keystore, PATH, keystore, 0, 0, NULL, 1, \
      "personal, instead of cert and key: a Java keystore (JKS) or PKCS#12 file holding the key and its chain under an alias; renewed in place under that alias. A JKS keeps every other entry byte for byte; a PKCS#12 keystore must hold only its key entry and chain (OpenSSL writes it whole); JCEKS is read by scan only.") \
    X(STORE, alias, TEXT, alias, 0, 0, NULL, 1, \
      "With keystore: the alias of the key entry; unset, the keystore's only key entry.") \
    X(STORE, publish, PATH, publish, 0, 0, NULL, 1, \
      "personal: a web root (an existing directory); each SA renew writes is also written to DIR/.well-known/evercert/successor.") \
    X(STORE, shared, BOOL, shared, 0, 0, "false", 1, \
      "personal: the same certificate on several hosts (behind a load balancer): one monitor of the fleet renews it and the others take its successor from the database; needs a postgresql:// state and [fleet] key_file.") \
    X(STORE, service, TEXT, service, 0, 0, NULL, 1, \
      "personal: the name its SA speaks for; unset, the first DNS name, else the common name.") \
    X(STORE, after_replace, TEXT, after_replace, 0, 0, NULL, 1, \
      "personal: a command run after a swap, split on blanks and run without a shell.") \
    X(STORE, after_replace_shell, BOOL, after_replace_shell, 0, 0, "false", 1, \
      "Run after_replace with /bin/sh -c.") \
    X(STORE, hook_timeout, SECONDS, hook_timeout, 1, EVC_CONFIG_DAY, "30s", 1, \
      "after_replace and its process group get SIGTERM after this, SIGKILL 2 s later; it starts with no signal blocked or ignored.") \
    X(STORE, verify, TEXT, verify, 0, 0, NULL, 1, \
      "personal: HOST:PORT; after the hook, check that it serves the new certificate.") \
    X(STORE, verify_servername, TEXT, verify_servername, 0, 0, NULL, 1, \
      "The SNI name for verify; unset, its host.") \
    X(STORE, verify_timeout, SECONDS, verify_timeout, 1, EVC_CONFIG_DAY, "10s", 1, \
      "How long verify keeps trying.") \
    X(STORE, readiness, ENDPOINT, readiness, 0, 0, NULL, 1, \
      "personal, with activate = ready: the status listener of the evercert serve that serves this store (its --status-listen), asked what its clients hold.") \
    X(STORE, access_log, PATH, access_log, 0, 0, NULL, 1, \
      "personal, with activate = ready (instead of readiness): the access log of the web server serving this store's successor URL, in Common or Combined Log Format; its last 16 MiB are read.") \
    X(STORE, readiness_window, SECONDS, readiness_window, 60, 365 * EVC_CONFIG_DAY, "7d", 1, \
      "With access_log: clients seen this long ago or less are counted.") \
    X(MONITOR, enabled, BOOL, enabled, 0, 0, "true", 1, \
      "Run the scheduled full report pass; with false, --once and --trigger still work.") \
    X(MONITOR, frequency, INT, schedule.frequency, 1, 366, "14", 1, \
      "Days between scheduled passes.") \
    X(MONITOR, day_of_week, WEEKDAY, schedule.day_of_week, 0, 0, "sunday", 1, \
      "The weekday of a scheduled pass (sunday .. saturday, or any).") \
    X(MONITOR, hour, INT, schedule.hour, 0, 23, "21", 1, \
      "The hour of a scheduled pass, local time (TZ); a time a DST change skips moves forward with the clock.") \
    X(MONITOR, minute, INT, schedule.minute, 0, 59, "30", 1, \
      "The minute of a scheduled pass.") \
    X(MONITOR, state, PATH, state, 0, 0, NULL, 0, \
      "The monitor's state: a SQLite file, or postgresql://... (the fleet's database: the inventory and shared stores; the monitor then works from a local copy at state_local). For a file, unset, /var/lib/evercert/NAME.db for a file under /etc/ (state.db for /etc/evercert/evercert.ini or .conf), else NAME-state.db beside the file, NAME being its name without extension. A corrupt one is reported, never replaced.") \
    X(MONITOR, state_local, PATH, state_local, 0, 0, NULL, 0, \
      "With a postgresql:// state: the local SQLite state the monitor works from, and where changes wait while the database is away; unset, where state would be for a file.") \
    X(MONITOR, metrics_file, PATH, metrics_file, 0, 0, NULL, 1, \
      "A Prometheus textfile written after every pass.") \
    X(NOTIFY, log, TEXT, log, 0, 0, NULL, 1, \
      "Where messages go: stderr (unset; systemd puts it in the journal), syslog, journal (the systemd journal directly, with libsystemd) or none.") \
    X(NOTIFY, report_file, PATH, report_file, 0, 0, NULL, 1, \
      "A JSON report replaced after every pass.") \
    X(NOTIFY, email_to, TEXT, email_to, 0, 0, NULL, 1, \
      "Recipients separated by |; user@domain@server names the mail server (host or host:port), else smtp.DOMAIN; with email_from.") \
    X(NOTIFY, email_from, TEXT, email_from, 0, 0, NULL, 1, \
      "The sender of the mail (with email_to).") \
    X(NOTIFY, smtp_url, TEXT, smtp_url, 0, 0, NULL, 1, \
      "smtp://host:port or smtps://host:port, overriding the server the addresses name; STARTTLS is used when offered.") \
    X(NOTIFY, smtp_user, TEXT, smtp_user, 0, 0, NULL, 1, \
      "The SMTP user name.") \
    X(NOTIFY, smtp_password_file, PATH, smtp_password_file, 0, 0, NULL, 1, \
      "The SMTP password is this file's first line.") \
    X(AGENT, state, PATH, state, 0, 0, NULL, 0, \
      "The agent's state: a SQLite file, or postgresql://... (the fleet's database; the agent then works from a local copy at state_local). For a file, unset, /var/lib/evercert/agent.db as root, else evercert-agent.db beside the file.") \
    X(AGENT, state_local, PATH, state_local, 0, 0, NULL, 0, \
      "With a postgresql:// state: the local SQLite state the agent works from; unset, where state would be for a file.") \
    X(AGENT, deleted, PATH, deleted, 0, 0, NULL, 1, \
      "A deleted store for expired predecessors; unset, they stay.") \
    X(AGENT, client_id, TEXT, client_id, 0, 0, NULL, 1, \
      "The name this client gives its servers in acknowledgements and URL fetches: 1..64 letters, digits or . _ - : @; none gives none; unset, the host name with other characters left out, at most 64 bytes.") \
    X(FLEET, host, TEXT, host, 0, 0, NULL, 1, \
      "This host's name in the fleet's database; unset, the host name.") \
    X(FLEET, keep, SECONDS, keep, EVC_CONFIG_DAY, 3650 * EVC_CONFIG_DAY, "90d", 1, \
      "How long the inventory keeps events (what was renewed, announced, accepted).") \
    X(FLEET, stale, SECONDS, stale, 60, 365 * EVC_CONFIG_DAY, "2h", 1, \
      "A host that has not reported for this long is listed as silent.") \
    X(FLEET, password_file, PATH, password_file, 0, 0, NULL, 0, \
      "The database password is this file's first line (never put it in the URL: it would show in ps and logs).") \
    X(FLEET, key_file, PATH, key_file, 0, 0, NULL, 0, \
      "The fleet key (32 bytes, 0600) every host of a shared store holds: the private keys published through the database are sealed under it.") \
    X(FLEET, lease, SECONDS, lease, 5, EVC_CONFIG_DAY, "60s", 1, \
      "How long a monitor holds the renewal of a shared store without renewing its lease; another takes over after it.") \
    X(SERVER, connect, HOSTPORT, connect, 0, 0, NULL, 1, \
      "The server to follow (required).") \
    X(SERVER, service, TEXT, service, 0, 0, NULL, 1, \
      "The name it is verified for; unset, the host of connect.") \
    X(SERVER, trust, PATH, trust, 0, 0, NULL, 1, \
      "The trust store the applications use (required); nss:DIR or sql:DIR names an NSS database directory.") \
    X(SERVER, trust_format, FORMAT, trust_format, 0, 0, "auto", 1, \
      "The trust store's format; auto reads it from the content: a directory holding cert9.db is an NSS database (nss: Firefox, Chromium), another directory a hashed directory, a file a PEM bundle, PKCS#12 or a Java keystore (jks: JKS or JCEKS, by its magic). system: a directory of one PEM .crt file per certificate, without hash links, as update-ca-certificates (/usr/local/share/ca-certificates/NAME) and p11-kit (/etc/ca-certificates/trust-source/anchors) read; after_change runs their refresh.") \
    X(SERVER, password_file, PATH, password_file, 0, 0, NULL, 1, \
      "For a PKCS#12 or jks trust store or an NSS database: the password is the file's first line (a Java keystore is written only with it; an NSS database without it: the empty password).") \
    X(SERVER, policy, POLICY, policy, 0, 0, "auto", 1, \
      "Which successors are taken: auto, manual (a person approves), ca (a new root only with its link) or holddown=DURATION.") \
    X(SERVER, sources, SOURCES, sources, 0, 0, NULL, 1, \
      "Where successors may come from (handshake, push, url); unset, all the server offers.") \
    X(SERVER, url, TEXT, url, 0, 0, NULL, 1, \
      "https://HOST/.well-known/evercert/successor, fetched after each handshake.") \
    X(SERVER, announce, HOSTPORT, announce, 0, 0, NULL, 1, \
      "The server's push channel.") \
    X(SERVER, interval, SECONDS, interval, 1, 365 * EVC_CONFIG_DAY, "1h", 1, \
      "Time between handshakes and fetches.") \
    X(SERVER, after_change, TEXT, after_change, 0, 0, NULL, 1, \
      "A command run after the trust store changed, without a shell, with EVERCERT_SERVER, EVERCERT_TRUST and EVERCERT_CHANGE (add, pin, retire) set.") \
    X(SERVER, after_change_shell, BOOL, after_change_shell, 0, 0, "false", 1, \
      "Run after_change with /bin/sh -c.") \
    X(SERVER, hook_timeout, SECONDS, hook_timeout, 1, EVC_CONFIG_DAY, "30s", 1, \
      "after_change and its process group get SIGTERM after this, SIGKILL 2 s later; it starts with no signal blocked or ignored.") \
    X(ENDPOINT, address, TEXT, address, 0, 0, NULL, 1, \
      "The endpoint (required): tls://HOST:PORT, or smtp://, imap:// or postgres:// for STARTTLS; ?sni=NAME for an SNI name other than HOST.") \
    X(ENDPOINT, store, TEXT, store, 0, 0, NULL, 1, \
      "A personal store (with cert) whose certificate the endpoint must serve; another served leaf is reported as a mismatch (a server not reloaded).") \
    X(ENDPOINT, ca, PATH, ca, 0, 0, NULL, 1, \
      "The anchors its chain is verified against: a PEM file or a hashed directory; unset, the system's.") \
    X(ENDPOINT, timeout, SECONDS, timeout, 1, 3600, "10s", 1, \
      "The deadline of one scan of the endpoint: connect, STARTTLS and handshake.")
/* clang-format on */

/* The value syntax of each type, for messages and the manual. */
#define EVC_CONFIG_TYPES(T)                                                                        \
    T(SPAN, "SPAN", "a duration (30s, 12h, 60d) or a share of the lifetime (33%)")                 \
    T(SECONDS, "DURATION", "a duration: 30s, 10m, 12h, 90d")                                       \
    T(WINDOW, "0|DURATION|SHARE", "0, a duration (7d) or a share of the time left (33%)")          \
    T(BOOL, "BOOL", "true, yes or on; false, no or off (in lower case)")                           \
    T(ROLE, "ROLE", "root, personal, trust or deleted")                                            \
    T(PATH, "PATH", "a path; a relative one starts at the file's directory")                       \
    T(TEXT, "TEXT", "text to the end of the line")                                                 \
    T(INT, "NUMBER", "a whole number")                                                             \
    T(WEEKDAY, "DAY", "sunday .. saturday, or any; in any case (Monday, ANY)")                     \
    T(HOSTPORT, "HOST:PORT", "a host name or address and a port 1..65535; [::1]:443")              \
    T(FORMAT, "FORMAT", "auto, bundle, hashdir, pkcs12, pin or nss")                               \
    T(POLICY, "POLICY", "auto, manual, ca or holddown=DURATION")                                   \
    T(SOURCES, "SOURCES", "one or more of handshake, push, url, comma-separated")                  \
    T(ACTIVATE, "at|ready|ready:SHARE", "at, ready, or ready:SHARE with SHARE 1..100, % optional") \
    T(ENDPOINT, "HOST:PORT|unix:PATH",                                                             \
      "a host and port, or unix: and a socket's path (a relative one starts at the file's "        \
      "directory)")

#define EVC_CONFIG_SECTIONS(S)                                                                     \
    S(POLICY, "policy", "[policy]",                                                                \
      "What renewal does: thresholds, what it keeps, when successors go live.")                    \
    S(STORE, "store", "a store",                                                                   \
      "A store renewal works on; one section per store, [store \"NAME\"].")                        \
    S(MONITOR, "monitor", "[monitor]", "The monitor's schedule, state and metrics.")               \
    S(NOTIFY, "notify", "[notify]", "How the monitor and the agent tell people.")                  \
    S(AGENT, "agent", "[agent]",                                                                   \
      "The agent's state, deleted store and the name it gives its servers.")                       \
    S(FLEET, "fleet", "[fleet]",                                                                   \
      "This host in the fleet's database (with a postgresql:// state).")                           \
    S(SERVER, "server", "a server",                                                                \
      "A server the agent follows; one section per server, [server \"NAME\"].")                    \
    S(ENDPOINT, "endpoint", "an endpoint",                                                         \
      "A server the monitor scans on the network each pass; one section per endpoint, "            \
      "[endpoint \"NAME\"].")

/*
 * Seconds as the manual and the messages show a bound: in the largest
 * unit that divides them (90d, 1h, 30s). Here, as the manual's printer is
 * a host program without the library.
 */
static inline void
evc_config_seconds_text(long long s, char *out, size_t outlen)
{
    if (s != 0 && s % EVC_CONFIG_DAY == 0) {
        snprintf(out, outlen, "%lldd", s / EVC_CONFIG_DAY);
    } else if (s != 0 && s % 3600 == 0) {
        snprintf(out, outlen, "%lldh", s / 3600);
    } else if (s != 0 && s % 60 == 0) {
        snprintf(out, outlen, "%lldm", s / 60);
    } else {
        snprintf(out, outlen, "%llds", s);
    }
}

#endif
