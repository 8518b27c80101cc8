/* SPDX-License-Identifier: Apache-2.0 */
/* The message log and the e-mail of [notify], shared by the monitor and the agent. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef EVC_HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "evercert/buf.h"
#include "evercert/log.h"
#include "evercert/limits.h"
#include "evercert/log.h"
#include "evercert/mail.h"
#include "base/file.h"
#include "base/text.h"

enum { SINK_STDERR = 0, SINK_SYSLOG, SINK_JOURNAL, SINK_NONE };

void
evc_log_init(struct evc_log *l, const char *mode, const char *prefix)
{
    l->sink = mode == NULL                   ? SINK_STDERR
              : strcmp(mode, "syslog") == 0  ? SINK_SYSLOG
              : strcmp(mode, "journal") == 0 ? SINK_JOURNAL
              : strcmp(mode, "none") == 0    ? SINK_NONE
                                             : SINK_STDERR;
    snprintf(l->prefix, sizeof(l->prefix), "%s", prefix);
    l->tee = NULL;
    l->tee_arg = NULL;
    if (l->sink == SINK_SYSLOG) {
        openlog("evercert", LOG_PID, LOG_DAEMON);
    }
}

void
evc_logf(const struct evc_log *l, int prio, const char *fmt, ...)
{
    char raw[1024];
    const char *line;
    struct evc_buf b;
    va_list ap;

    if (l->sink == SINK_NONE && l->tee == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /*
     * Lines quote certificate names, hook output and peers' words: escaped
     * here, once for every sink, so no terminal or log viewer sees a control
     * byte or a byte that is not UTF-8.
     */
    evc_buf_init(&b, 4 * sizeof(raw));
    line = evc_text_nvis(&b, raw, 4 * sizeof(raw) - 1) == 0 ? evc_buf_str(&b) : "(unprintable)";
    if (l->tee != NULL) {
        l->tee(l->tee_arg, prio, line);
    }
    if (l->sink == SINK_SYSLOG) {
        syslog(prio, "%s", line);
    } else if (l->sink == SINK_JOURNAL) {
#ifdef EVC_HAVE_SYSTEMD
        (void)sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=evercert",
                              NULL);
#endif
    } else {
        fprintf(stderr, "%s: %s\n", l->prefix, line);
    }
    evc_buf_free(&b);
}

int
evc_notify_mail(const struct evc_notify_conf *n, const char *subject, const char *body,
                evc_time now, struct evc_err *err)
{
    struct evc_buf pw;
    struct evc_mail mail;
    int r;

    if (n->email_to == NULL) {
        return evc_err_set(err, EVC_ERR_USAGE, "no email_to in [notify]");
    }
    evc_buf_init(&pw, EVC_PASSWORD_MAX + 2);
    if (n->smtp_password_file != NULL &&
        (r = evc_password_read(n->smtp_password_file, &pw, err)) != 0) {
        goto out;
    }
    memset(&mail, 0, sizeof(mail));
    mail.to = n->email_to;
    mail.from = n->email_from;
    mail.url = n->smtp_url;
    mail.user = n->smtp_user;
    mail.password = n->smtp_password_file != NULL ? evc_buf_str(&pw) : NULL;
    mail.subject = subject;
    mail.body = body;
    mail.now = now;
    mail.timeout = 30;
    r = evc_mail_send(&mail, err);
out:
    evc_buf_free(&pw);
    return r;
}
