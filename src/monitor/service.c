/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's loop. One thread; signals arrive through a signalfd and
 * triggers through a Unix socket beside the state database, both polled
 * between steps, so SIGTERM never interrupts a write and a pass is never
 * run twice at once. Time is the wall clock plus an offset (--at), so a
 * test can start a minute before a scheduled run and wait seconds.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#ifdef EVC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <openssl/rand.h>

#include "evercert/buf.h"
#include "evercert/config.h"
#include "evercert/limits.h"
#include "evercert/log.h"
#include "evercert/monitor.h"
#include "evercert/renew.h"
#include "evercert/renew_report.h"
#include "evercert/report.h"
#include "evercert/scan.h"
#include "evercert/schedule.h"
#include "evercert/state.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"

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
};

/* Retries after a pass that left work due: 5 s, doubling, at most an hour. */
#define BACKOFF_MIN 5
#define BACKOFF_MAX 3600

static evc_time
vnow(const struct monitor *m)
{
    return evc_time_now() + m->o->clock_offset;
}

#define mlog(m, ...) evc_logf(&(m)->log, __VA_ARGS__)

static void
schedule_text(const struct evc_config *c, char *out, size_t len)
{
    const struct evc_schedule *s = &c->monitor.schedule;

    snprintf(out, len, "enabled=%d frequency=%d day_of_week=%d hour=%d minute=%d",
             c->monitor.enabled, s->frequency, s->day_of_week, s->hour, s->minute);
}

/* The next start: kept from the state if the schedule is the same, else computed anew. */
static int
plan_next(struct monitor *m, struct evc_err *err)
{
    char want[128], have[128];
    evc_time next;
    int r;

    schedule_text(m->conf, want, sizeof(want));
    if ((r = evc_state_next_get(m->st, &next, have, sizeof(have), err)) != 0) {
        return r;
    }
    if (!m->conf->monitor.enabled) {
        m->next_start = 0;
    } else if (next != 0 && strcmp(want, have) == 0) {
        m->next_start = next; /* may have passed: then the loop runs at once */
    } else {
        m->next_start = evc_schedule_next(&m->conf->monitor.schedule, vnow(m), 1);
    }
    return evc_state_next_set(m->st, m->next_start, want, err);
}

static void
fp_hex(const uint8_t *fp, char out[65])
{
    evc_text_hex(fp, 32, out);
}

static int
store_is(const struct evc_config *c, const char *name, enum evc_role role)
{
    for (size_t i = 0; i < c->nstores; i++) {
        if (strcmp(c->stores[i].name, name) == 0) {
            return c->stores[i].role == role;
        }
    }
    return 0;
}

/* A failure a person must see: a hook that failed, a server not serving its new certificate. */
static int
failures(const struct evc_renew_result *res)
{
    int n = 0;

    for (size_t i = 0; i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];

        n += (a->hook_ran && a->hook_status != 0) || a->hook_status == -1 || a->verified < 0;
    }
    return n;
}

/* Everything written to a memory stream, then replaced atomically. */
static int
write_stream_file(const char *path, char *data, size_t len, struct evc_err *err)
{
    return evc_atomic_write(path, data, len, 0644, err);
}

/* The earlier of the renewal clock and a retry; why is "due" or "retry". */
static evc_time
next_wake(const struct monitor *m, const char **why)
{
    evc_time w = m->due;
    const char *y = "due";

    if (m->retry_at != 0 && (w == 0 || m->retry_at < w)) {
        w = m->retry_at;
        y = m->retry_why;
    }
    if (why != NULL) {
        *why = y;
    }
    return w;
}

/* A uniform draw in [0, span]: fleets that share a moment do not renew in one second. */
static int64_t
jitter(int64_t span)
{
    uint64_t r = 0;

    if (span <= 0 || RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) {
        return 0;
    }
    return (int64_t)(r % ((uint64_t)span + 1));
}

/*
 * Read the stores and ask the planner when it next has work (nothing is
 * written). After a pass that started at since (ran is NULL), work that
 * was due at since is a failure to retry with backoff, never a loop, and
 * what came due while the pass ran runs at once; otherwise (ran names the
 * occasion, since is now) due work runs at once.
 */
static void
plan_clock(struct monitor *m, const char *ran, evc_time since)
{
    struct evc_renew_opts ro;
    struct evc_renew_result res;
    struct evc_err err = {0};
    evc_time now = vnow(m);
    const char *why;
    char when[EVC_TIME_TEXT_MAX], whenr[EVC_TIME_TEXT_MAX];

    memset(&ro, 0, sizeof(ro));
    memset(&res, 0, sizeof(res));
    ro.config = m->conf;
    ro.now = since;
    ro.plan_only = 1;
    if (evc_renew_run(&ro, &res, &err) != 0) {
        mlog(m, LOG_ERR, "cannot plan: %s", evc_err_message(&err));
        res.overdue = 1; /* unknown: look again, with backoff */
    }
    m->due = res.next_due != 0 ? res.next_due + jitter(res.next_due_latest - res.next_due) : 0;
    m->deadline = res.deadline;
    m->overdue = res.overdue;
    evc_renew_result_clear(&res);
    if (m->overdue == 0) {
        m->retry_at = 0;
        m->backoff = BACKOFF_MIN;
    } else if (ran != NULL) {
        m->retry_at = now;
        m->retry_why = ran;
    } else {
        /* Backoff, but a retry never waits past a quarter of the time a certificate has left. */
        int64_t d = m->backoff;

        if (m->deadline > now && (m->deadline - now) / 4 < d) {
            d = (m->deadline - now) / 4 > 1 ? (m->deadline - now) / 4 : 1;
        }
        m->retry_at = now + d;
        m->retry_why = "retry";
        m->backoff = m->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : m->backoff * 2;
    }
    {
        evc_time w = next_wake(m, &why);

        evc_time_format(w, when);
        evc_time_format(m->next_start, whenr);
        if (evc_state_wake_set(m->st, w, w != 0 ? why : "", &err) != 0) {
            mlog(m, LOG_ERR, "%s", evc_err_message(&err));
        }
        mlog(m, LOG_INFO, "next: %s %s; report pass %s%s", w != 0 ? why : "nothing due",
             w != 0 ? when : "", m->next_start != 0 ? whenr : "never (disabled)",
             m->overdue > 0 ? "; work left due" : "");
    }
}

/* The metrics file, built in two steps around the history's record. */
struct metrics {
    FILE *f;
    char *buf;
    size_t len;
    int status; /* the scan's Nagios status; 3 when it could not be made */
};

/*
 * The scan over the stores as they are after the pass (its Nagios status
 * in mx->status), into memory; metrics_write adds the monitor's own
 * figures and writes the file, or frees it all.
 */
static int
metrics_scan(struct monitor *m, evc_time now, struct metrics *mx, struct evc_err *err)
{
    const struct evc_config *c = m->conf;
    const char **paths = calloc(c->nstores * 2 + 1, sizeof(*paths));
    struct evc_scan_opts so;
    struct evc_report *rep = NULL;
    struct evc_summary sum;
    size_t n = 0;
    int r = EVC_ERR_INTERNAL;

    memset(mx, 0, sizeof(*mx));
    mx->status = 3;
    if (paths == NULL || (mx->f = open_memstream(&mx->buf, &mx->len)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* What is in service: not the deleted store, which holds what expired on purpose. */
    for (size_t i = 0; i < c->nstores; i++) {
        if (c->stores[i].role == EVC_ROLE_PERSONAL) {
            paths[n++] = c->stores[i].cert;
        } else if (c->stores[i].role != EVC_ROLE_DELETED) {
            paths[n++] = c->stores[i].path;
        }
    }
    evc_scan_opts_default(&so, now);
    so.thresholds = c->policy.thresholds;
    so.jobs = 1;
    memset(&sum, 0, sizeof(sum));
    if ((r = evc_report_new(EVC_REPORT_PROMETHEUS, mx->f, 0, &rep)) != 0 ||
        (r = evc_scan(paths, n, &so, rep, &sum, err)) != 0) {
        goto out;
    }
    mx->status = evc_scan_exit_status(&sum);
out:
    evc_report_free(rep);
    free(paths);
    return r;
}

static int
metrics_write(struct monitor *m, struct metrics *mx, struct evc_err *err)
{
    int64_t renewals = 0, errors = 0;
    int r;

    if (mx->f == NULL) {
        r = EVC_ERR_NOMEM; /* told by metrics_scan */
        goto out;
    }
    if ((r = evc_state_totals(m->st, &renewals, &errors, err)) != 0) {
        goto out;
    }
    fprintf(
        mx->f,
        "# HELP evercert_monitor_last_run_timestamp_seconds When the last pass ended.\n"
        "# TYPE evercert_monitor_last_run_timestamp_seconds gauge\n"
        "evercert_monitor_last_run_timestamp_seconds %lld\n"
        "# HELP evercert_monitor_next_run_timestamp_seconds The next scheduled pass (0: none).\n"
        "# TYPE evercert_monitor_next_run_timestamp_seconds gauge\n"
        "evercert_monitor_next_run_timestamp_seconds %lld\n"
        "# HELP evercert_monitor_next_due_timestamp_seconds The next renewal, activation, "
        "retirement or retry (0: none).\n"
        "# TYPE evercert_monitor_next_due_timestamp_seconds gauge\n"
        "evercert_monitor_next_due_timestamp_seconds %lld\n"
        "# HELP evercert_renewals_total Certificates and roots renewed, ever.\n"
        "# TYPE evercert_renewals_total counter\n"
        "evercert_renewals_total %lld\n"
        "# HELP evercert_monitor_run_errors_total Passes that ended in an error, ever.\n"
        "# TYPE evercert_monitor_run_errors_total counter\n"
        "evercert_monitor_run_errors_total %lld\n",
        (long long)m->last_run, (long long)m->next_start, (long long)next_wake(m, NULL),
        (long long)renewals, (long long)errors);
    if (fflush(mx->f) != 0) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    r = m->conf->monitor.metrics_file != NULL
            ? write_stream_file(m->conf->monitor.metrics_file, mx->buf, mx->len, err)
            : 0;
out:
    if (mx->f != NULL) {
        fclose(mx->f);
    }
    free(mx->buf);
    memset(mx, 0, sizeof(*mx));
    return r;
}

static const char *const severity[] = {"ok", "prenotify", "threshold", "expired", "not_yet_valid"};

/* The e-mail: warnings once per certificate per state change, every replacement, any error. */
static void
send_mail(struct monitor *m, const struct evc_renew_result *res, const char *error, evc_time now)
{
    const struct evc_notify_conf *n = &m->conf->notify;
    char *body = NULL, subject[256], hex[65], line[512];
    size_t len = 0, news = 0, worst = 0, done = 0, renewed = 0;
    struct evc_err err = {0};
    FILE *f;

    if (n->email_to == NULL || (f = open_memstream(&body, &len)) == NULL) {
        return;
    }
    for (size_t i = 0; i < res->ncerts; i++) {
        const struct evc_renew_cert *c = &res->certs[i];
        int changed = 0;

        if (c->status == EVC_STATUS_OK || store_is(m->conf, c->store, EVC_ROLE_DELETED)) {
            continue;
        }
        fp_hex(c->sha256, hex);
        if (evc_state_notice_changed(m->st, hex, evc_status_name(c->status), &changed, &err) == 0 &&
            changed) {
            news++;
            worst = (size_t)c->status > worst ? (size_t)c->status : worst;
        }
    }
    for (size_t i = 0; i < res->nactions; i++) {
        done += res->actions[i].done;
        renewed += res->actions[i].done && (strcmp(res->actions[i].action, "renew") == 0 ||
                                            strcmp(res->actions[i].action, "recreate-root") == 0);
    }
    if (news == 0 && done == 0 && error == NULL && failures(res) == 0) {
        fclose(f);
        free(body);
        return; /* nothing new to tell */
    }
    if (error != NULL) {
        fprintf(f, "The run stopped: %s\n\n", error);
    }
    if (evc_renew_report_text(res, 0, now, f) != 0) {
        fprintf(f, "\n(the rest of the report could not be built)\n");
    }
    fclose(f);
    {
        /* The worst new status first, in capitals, as an operator's filter wants. */
        char worst_text[32] = "";

        if (worst > 0) {
            size_t k;

            for (k = 0; severity[worst < 5 ? worst : 0][k] != '\0' && k + 3 < sizeof(worst_text);
                 k++) {
                char ch = severity[worst < 5 ? worst : 0][k];

                worst_text[k] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
            }
            worst_text[k++] = ',';
            worst_text[k++] = ' ';
            worst_text[k] = '\0';
        }
        snprintf(subject, sizeof(subject), "evercert: %s%s%zu renewed, %zu action%s%s",
                 error != NULL ? "ERROR, " : "", worst_text, renewed, done, done == 1 ? "" : "s",
                 failures(res) > 0 ? ", a hook or check FAILED" : "");
    }
    if (evc_notify_mail(n, subject, body, now, &err) != 0) {
        /* Not remembered as told: the next run tries again. */
        mlog(m, LOG_ERR, "mail not sent (next run retries): %s", evc_err_message(&err));
        goto out;
    }
    mlog(m, LOG_INFO, "mail sent to %s: %s", n->email_to, subject);
    for (size_t i = 0; i < res->ncerts; i++) {
        const struct evc_renew_cert *c = &res->certs[i];

        fp_hex(c->sha256, hex);
        snprintf(line, sizeof(line), "%s", evc_status_name(c->status));
        if (evc_state_notice_set(m->st, hex, line, now, &err) != 0) {
            mlog(m, LOG_ERR, "%s", evc_err_message(&err));
            break;
        }
    }
out:
    free(body);
}

/* The message log: one line per finding and per action, with stable keys. */
static void
log_result(const struct monitor *m, const struct evc_renew_result *res)
{
    char hex[65], hex2[65], when[EVC_TIME_TEXT_MAX];

    for (size_t i = 0; i < res->ncerts; i++) {
        const struct evc_renew_cert *c = &res->certs[i];

        if (c->status == EVC_STATUS_OK || store_is(m->conf, c->store, EVC_ROLE_DELETED)) {
            continue;
        }
        fp_hex(c->sha256, hex);
        evc_time_format(c->not_after, when);
        mlog(m, c->status == EVC_STATUS_PRENOTIFY ? LOG_NOTICE : LOG_WARNING,
             "status=%s store=%s kind=%s not_after=%s sha256=%s subject=\"%.300s\"",
             evc_status_name(c->status), c->store, evc_kind_name(c->kind), when, hex, c->subject);
    }
    for (size_t i = 0; i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];

        if (a->has_old) {
            fp_hex(a->old_sha256, hex);
        }
        if (a->has_new) {
            fp_hex(a->new_sha256, hex2);
        }
        int failed =
            (a->hook_ran && a->hook_status != 0) || a->hook_status == -1 || a->verified < 0;

        mlog(m, failed ? LOG_ERR : LOG_INFO,
             "action=%s store=%s reason=%s old=%s new=%s done=%d detail=\"%s\"%s%s", a->action,
             a->store, a->reason, a->has_old ? hex : "-", a->has_new ? hex2 : "-", a->done,
             a->detail, a->verified != 0 ? " verify=" : "",
             a->verified != 0 ? a->verify_detail : "");
    }
}

/* One pass: renew what is due, then tell. Returns the pass's Nagios status. */
static int
pass(struct monitor *m, const char *trigger, char *summary, size_t len)
{
    struct evc_renew_opts ro;
    struct evc_renew_result res;
    struct evc_run_record rec;
    struct evc_err err = {0}, serr = {0};
    evc_time started = vnow(m);
    struct metrics mx;
    int r, status, scan_status = 3;
    size_t done = 0;

    memset(&ro, 0, sizeof(ro));
    memset(&res, 0, sizeof(res));
    ro.config = m->conf;
    ro.now = started;
    mlog(m, LOG_INFO, "pass started (%s)", trigger);
    r = evc_renew_run(&ro, &res, &err);
    if (r != 0) {
        mlog(m, LOG_ERR, "pass failed: %s", evc_err_message(&err));
    }
    log_result(m, &res);
    for (size_t i = 0; i < res.nactions; i++) {
        done += res.actions[i].done;
    }
    if (m->conf->notify.report_file != NULL) {
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);

        if (f == NULL) {
            mlog(m, LOG_ERR, "report not written: out of memory");
        } else {
            /* A report that could not be built whole never replaces the last good one. */
            int built =
                evc_renew_report_json(&res, 0, started, r != 0 ? evc_err_message(&err) : NULL, f);

            if (fclose(f) != 0 || built != 0) {
                mlog(m, LOG_ERR, "report not written: it could not be built whole");
            } else if (write_stream_file(m->conf->notify.report_file, buf, blen, &serr) != 0) {
                mlog(m, LOG_ERR, "report not written: %s", evc_err_message(&serr));
            }
            free(buf);
        }
    }
    send_mail(m, &res, r != 0 ? evc_err_message(&err) : NULL, started);
    m->last_run = vnow(m);
    /* Only the scheduled pass moves the schedule; a trigger or a renewal leaves it. */
    if (strcmp(trigger, "schedule") == 0 && m->conf->monitor.enabled) {
        m->next_start = evc_schedule_next(&m->conf->monitor.schedule, m->last_run, 0);
        {
            char sched[128];

            schedule_text(m->conf, sched, sizeof(sched));
            if (evc_state_next_set(m->st, m->next_start, sched, &serr) != 0) {
                mlog(m, LOG_ERR, "%s", evc_err_message(&serr));
            }
        }
    }
    plan_clock(m, NULL, started);
    status = r != 0 ? 3 : 0;
    if (metrics_scan(m, m->last_run, &mx, &serr) != 0) {
        mlog(m, LOG_ERR, "metrics not written: %s", evc_err_message(&serr));
    }
    scan_status = mx.status;
    if (status == 0) {
        status = failures(&res) > 0 ? 2 : scan_status;
    }
    /* The history keeps the status the pass logs and returns. */
    memset(&rec, 0, sizeof(rec));
    rec.started = started;
    rec.finished = m->last_run;
    rec.trigger = trigger;
    rec.message = r != 0 ? evc_err_message(&err) : NULL;
    rec.status = status;
    if (evc_state_record_run(m->st, &rec, &res, &serr) != 0) {
        mlog(m, LOG_ERR, "history not written: %s", evc_err_message(&serr));
    }
    if (metrics_write(m, &mx, &serr) != 0) {
        mlog(m, LOG_ERR, "metrics not written: %s", evc_err_message(&serr));
    }
    snprintf(summary, len, "status=%d actions=%zu failures=%d%s%s", status, done, failures(&res),
             r != 0 ? " error=" : "", r != 0 ? evc_err_message(&err) : "");
    mlog(m, status >= 2 ? LOG_ERR : LOG_INFO, "pass ended: %s", summary);
    evc_renew_result_clear(&res);
    return status;
}

static int
load(struct monitor *m, struct evc_config **out, struct evc_err *err)
{
    return evc_config_load(m->config_path, out, err);
}

/* Tell systemd (Type=notify) where libsystemd is present; a no-op elsewhere. */
static void
notify(const char *state)
{
#ifdef EVC_HAVE_SYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

static void
apply_log(struct monitor *m)
{
    evc_log_init(&m->log, m->conf->notify.log, "evercert monitor");
}

/* SIGHUP: the new configuration replaces the old only if it parses. */
static void
reload(struct monitor *m)
{
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    notify("RELOADING=1");
    if (load(m, &c, &err) != 0) {
        mlog(m, LOG_ERR, "reload refused, the old configuration stays: %s", evc_err_message(&err));
        notify("READY=1");
        return;
    }
    evc_config_free(m->conf);
    m->conf = c;
    apply_log(m);
    if (plan_next(m, &err) != 0) {
        mlog(m, LOG_ERR, "%s", evc_err_message(&err));
    }
    mlog(m, LOG_INFO, "configuration reloaded");
    plan_clock(m, "reload", vnow(m));
    notify("READY=1");
}

static int
listen_socket(struct monitor *m, struct evc_err *err)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(m->sock_path) >= sizeof(sa.sun_path)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: socket path too long", m->sock_path);
    }
    memcpy(sa.sun_path, m->sock_path, strlen(m->sock_path) + 1);
    (void)unlink(m->sock_path); /* ours: the state lock is held */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || chmod(m->sock_path, 0600) == -1 ||
        listen(fd, 4) == -1) {
        int e = errno;

        if (fd != -1) {
            close(fd);
        }
        return evc_err_set(err, EVC_ERR_IO, "%s: %s", m->sock_path, strerror(e));
    }
    return fd;
}

/* A trigger: one line in ("run"), a pass, one line out. */
static void
serve_trigger(struct monitor *m, int lfd)
{
    char req[16] = "", summary[512], reply[600];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    struct timeval tv = {2, 0};
    ssize_t n;

    if (c == -1) {
        return;
    }
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = read(c, req, sizeof(req) - 1);
    if (n > 0 && strncmp(req, "run", 3) == 0) {
        int st = pass(m, "trigger", summary, sizeof(summary));

        snprintf(reply, sizeof(reply), "%d %s\n", st, summary);
    } else {
        snprintf(reply, sizeof(reply), "3 status=3 error=bad request\n");
    }
    if (write(c, reply, strlen(reply)) < 0) {
        mlog(m, LOG_ERR, "trigger: the caller left before the reply");
    }
    close(c);
}

int
evc_monitor_run(const struct evc_monitor_opts *o, int *status, struct evc_err *err)
{
    struct monitor m;
    sigset_t mask, old;
    int sfd = -1, lfd = -1, r = EVC_ERR_INTERNAL, stop = 0;
    char summary[512];

    *status = 0;
    memset(&m, 0, sizeof(m));
    m.o = o;
    m.backoff = BACKOFF_MIN;
    snprintf(m.config_path, sizeof(m.config_path), "%s", o->config_path);
    if ((r = load(&m, &m.conf, err)) != 0) {
        return r;
    }
    apply_log(&m);
    evc_monitor_state_path(m.config_path, m.conf->monitor.state, m.state_path,
                           sizeof(m.state_path));
    if (strncmp(m.state_path, "/var/lib/evercert/", 18) == 0 &&
        (r = evc_mkdirs("/var/lib/evercert", 0700, err)) != 0) {
        goto out;
    }
    if ((r = evc_state_open(m.state_path, 1, &m.st, err)) != 0) {
        goto out;
    }
    if (o->once) {
        *status = pass(&m, "once", summary, sizeof(summary));
        r = 0;
        goto out;
    }
    if ((r = plan_next(&m, err)) != 0) {
        goto out;
    }
    (void)evc_path_fmt(m.sock_path, sizeof(m.sock_path), "%s.sock", m.state_path);
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &mask, &old) == -1 ||
        (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "signals: %s", strerror(errno));
        goto out;
    }
    if ((lfd = listen_socket(&m, err)) < 0) {
        r = lfd;
        lfd = -1;
        goto out;
    }
    {
        char when[EVC_TIME_TEXT_MAX];

        evc_time_format(m.next_start, when);
        mlog(&m, LOG_INFO, "started; next report pass %s; state %s",
             m.next_start != 0 ? when : "never (disabled)", m.state_path);
        for (size_t i = 0; i < m.conf->nstores; i++) {
            if (m.conf->stores[i].implicit) {
                mlog(&m, LOG_INFO,
                     "replaced certificates are kept in %s (no store has role = deleted)",
                     m.conf->stores[i].path);
            }
        }
    }
    /* Work due or overdue at the start (the monitor was down) runs at once. */
    plan_clock(&m, "start", vnow(&m));
    notify("READY=1");
    while (!stop) {
        evc_time now = vnow(&m), wake = next_wake(&m, NULL);
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
        const char *why;
        int64_t ms;

        if (m.next_start != 0 && m.next_start <= now) {
            pass(&m, "schedule", summary, sizeof(summary));
            continue;
        }
        if (wake != 0 && wake <= now) {
            (void)next_wake(&m, &why);
            pass(&m, why, summary, sizeof(summary));
            continue;
        }
        if (m.next_start != 0 && (wake == 0 || m.next_start < wake)) {
            wake = m.next_start;
        }
        /* Look at the clock at least once a minute: it may jump. */
        ms = wake == 0 ? 60000 : (wake - now) * 1000;
        if (ms > 60000) {
            ms = 60000;
        }
        if (poll(pfd, 2, (int)ms) <= 0) {
            continue;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    reload(&m);
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    mlog(&m, LOG_INFO, "stopping");
                    notify("STOPPING=1");
                    stop = 1;
                }
            }
        }
        if (!stop && (pfd[1].revents & POLLIN)) {
            serve_trigger(&m, lfd);
        }
    }
    r = 0;
out:
    if (lfd != -1) {
        close(lfd);
        unlink(m.sock_path);
    }
    if (sfd != -1) {
        close(sfd);
    }
    evc_state_close(m.st);
    evc_config_free(m.conf);
    return r;
}

int
evc_monitor_trigger(const char *config_path, char *reply, size_t len, int *status,
                    struct evc_err *err)
{
    struct evc_config *c = NULL;
    struct sockaddr_un sa;
    char state[EVC_PATH_MAX], sock[EVC_PATH_MAX];
    size_t got = 0;
    ssize_t n;
    int fd = -1, r;

    *status = 3;
    reply[0] = '\0';
    if ((r = evc_config_load(config_path, &c, err)) != 0) {
        return r;
    }
    evc_monitor_state_path(config_path, c->monitor.state, state, sizeof(state));
    evc_config_free(c);
    (void)evc_path_fmt(sock, sizeof(sock), "%s.sock", state);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof(sa.sun_path)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: socket path too long", sock);
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: no monitor is running (%s)", sock, strerror(errno));
        goto out;
    }
    if (write(fd, "run\n", 4) != 4) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: %s", sock, strerror(errno));
        goto out;
    }
    while (got + 1 < len && (n = read(fd, reply + got, len - got - 1)) > 0) {
        got += (size_t)n;
    }
    reply[got] = '\0';
    if (got == 0 || reply[0] < '0' || reply[0] > '3') {
        r = evc_err_set(err, EVC_ERR_IO, "%s: no answer from the monitor", sock);
        goto out;
    }
    *status = reply[0] - '0';
    r = 0;
out:
    if (fd != -1) {
        close(fd);
    }
    return r;
}
