/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The message log of the monitor and the agent: one line per event, to
 * stderr, syslog, the systemd journal, or nowhere ([notify] log =).
 */
#ifndef EVERCERT_LOG_H
#define EVERCERT_LOG_H

#include <syslog.h>

#include "evercert/error.h"
#include "evercert/time.h"

/* Where notices go: the [notify] section of a configuration. */
struct evc_notify_conf {
    char *log;         /* "stderr" (default), "syslog", "none" */
    char *report_file; /* JSON report, replaced after every run */
    char *email_to;    /* "a@x|b@y@smtp.host" */
    char *email_from;
    char *smtp_url; /* overrides the server named by the addresses */
    char *smtp_user;
    char *smtp_password_file;
};

struct evc_log {
    int sink;        /* 0 stderr, 1 syslog, 2 journal, 3 none */
    char prefix[32]; /* "evercert monitor" on stderr */
    /*
     * Cleared by evc_log_init; set after it: also gets every line as the
     * sink does (escaped), whatever the sink, so a command can report them
     * (--format json).
     */
    void (*tee)(void *arg, int prio, const char *line);
    void *tee_arg;
};

/* Set up the sink mode ("stderr", "syslog", "journal", "none"; NULL: stderr). */
EVC_EXPORT void evc_log_init(struct evc_log *l, const char *mode, const char *prefix);
EVC_EXPORT void evc_logf(const struct evc_log *l, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Mail subject and body to [notify] email_to, through its SMTP settings
 * (the password read from smtp_password_file, wiped after). EVC_ERR_USAGE
 * when no e-mail is configured.
 */
EVC_EXPORT EVC_MUST_USE int evc_notify_mail(const struct evc_notify_conf *n, const char *subject,
                                            const char *body, evc_time now, struct evc_err *err);

#endif
