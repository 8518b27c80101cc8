/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One pass of the monitor: the renewal run, then telling people (the log,
 * the JSON report, e-mail, the metrics file) and the state's history.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "evercert/endpoint.h"
#include "evercert/limits.h"
#include "evercert/renew_report.h"
#include "evercert/scan.h"
#include "evercert/shared.h"
#include "evercert/schedule.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"
#include "monitor/service_int.h"

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
/* A shared store left unrenewed for a reason a person must see: the fleet is down, or lied. */
static int
shared_fault(const struct evc_renew_action *a)
{
    return strcmp(a->action, "wait") == 0 &&
           (strcmp(a->reason, "fleet-down") == 0 || strcmp(a->reason, "refused") == 0);
}

static int
failures(const struct evc_renew_result *res)
{
    int n = 0;

    for (size_t i = 0; i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];

        n += (a->hook_ran && a->hook_status != 0) || a->hook_status == -1 || a->verified < 0 ||
             shared_fault(a);
    }
    return n;
}

/* Everything written to a memory stream, then replaced atomically. */
static int
write_stream_file(const char *path, char *data, size_t len, struct evc_err *err)
{
    return evc_atomic_write(path, data, len, 0644, err);
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
metrics_scan(struct monitor *m, evc_time now, const struct evc_ep_result *eps, struct metrics *mx,
             struct evc_err *err)
{
    const struct evc_config *c = m->conf;
    const char **paths = calloc(c->nstores + 1, sizeof(*paths));
    struct evc_scan_secret *secrets = calloc(c->nstores + 1, sizeof(*secrets));
    struct evc_buf *pw = calloc(c->nstores + 1, sizeof(*pw));
    struct evc_scan_opts so;
    struct evc_report *rep = NULL;
    struct evc_summary sum;
    size_t n = 0, ns = 0;
    int r = EVC_ERR_INTERNAL;

    memset(mx, 0, sizeof(*mx));
    mx->status = 3;
    if (paths == NULL || secrets == NULL || pw == NULL ||
        (mx->f = open_memstream(&mx->buf, &mx->len)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    /*
     * What is in service: not the deleted store, which holds what expired on purpose. A store
     * with a password_file (a keystore, a PKCS#12 file) is read with its own password.
     */
    for (size_t i = 0; i < c->nstores; i++) {
        const struct evc_store_conf *st = &c->stores[i];

        if (st->role == EVC_ROLE_DELETED) {
            continue;
        }
        paths[n] = st->role != EVC_ROLE_PERSONAL ? st->path
                   : st->keystore != NULL        ? st->keystore
                                                 : st->cert;
        if (st->password_file != NULL) {
            evc_buf_init(&pw[ns], EVC_PASSWORD_MAX + 2);
            if ((r = evc_password_read(st->password_file, &pw[ns], err)) != 0) {
                ns++;
                goto out;
            }
            secrets[ns].path = paths[n];
            secrets[ns].password = evc_buf_str(&pw[ns]);
            ns++;
        }
        n++;
    }
    evc_scan_opts_default(&so, now);
    so.thresholds = c->policy.thresholds;
    so.secrets = secrets;
    so.nsecrets = ns;
    so.jobs = 1;
    /* The endpoints' certificates are rows like the stores', at URL#i. */
    so.endpoints = eps;
    so.nendpoints = eps != NULL ? c->nendpoints : 0;
    memset(&sum, 0, sizeof(sum));
    if ((r = evc_report_new(EVC_REPORT_PROMETHEUS, mx->f, 0, &rep)) != 0 ||
        (r = evc_scan(paths, n, &so, rep, &sum, err)) != 0) {
        goto out;
    }
    mx->status = evc_scan_exit_status(&sum);
    if (eps != NULL && c->nendpoints > 0) {
        struct evc_buf b;
        const char **names = calloc(c->nendpoints, sizeof(*names));

        evc_buf_init(&b, SIZE_MAX / 2);
        for (size_t i = 0; names != NULL && i < c->nendpoints; i++) {
            names[i] = c->endpoints[i].name;
        }
        if (names == NULL || (r = evc_ep_prom(eps, c->nendpoints, names, &b)) != 0 ||
            fwrite(b.data, 1, b.len, mx->f) != b.len) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        evc_buf_free(&b);
        free((void *)names);
    }
out:
    evc_report_free(rep);
    for (size_t i = 0; pw != NULL && i < ns; i++) {
        evc_buf_free(&pw[i]);
    }
    free(pw);
    free(secrets);
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
        (long long)m->last_run, (long long)m->next_start, (long long)evc_monitor_next_wake(m, NULL),
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

/*
 * A successor still waiting for its clients within the last quarter of its
 * wait (activate_at to the deadline): people are told once, while there
 * is time to approve it on the clients.
 */
#define LATE_NOTICE "wait-near-deadline"

static int
is_late(const struct evc_renew_action *a, evc_time now)
{
    return strcmp(a->action, "wait") == 0 && a->has_new && a->activate_by > a->activate_at &&
           now >= a->activate_by - (a->activate_by - a->activate_at) / 4;
}

/* A late wait not told before (its successor's notice), 1; else 0. */
static size_t
late_wait(struct monitor *m, const struct evc_renew_action *a, evc_time now, struct evc_err *err)
{
    char hex[65];
    int changed = 0;

    if (!is_late(a, now)) {
        return 0;
    }
    fp_hex(a->new_sha256, hex);
    return evc_state_notice_changed(m->st, hex, LATE_NOTICE, &changed, err) == 0 && changed;
}

/* The e-mail: warnings once per certificate per state change, every replacement, any error. */
static void
send_mail(struct monitor *m, const struct evc_renew_result *res, const char *error, evc_time now)
{
    const struct evc_notify_conf *n = &m->conf->notify;
    char *body = NULL, subject[256], hex[65], line[512];
    size_t len = 0, news = 0, worst = 0, done = 0, renewed = 0, late = 0;
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
        late += late_wait(m, &res->actions[i], now, &err);
    }
    if (news == 0 && done == 0 && error == NULL && failures(res) == 0 && late == 0) {
        fclose(f);
        free(body);
        return; /* nothing new to tell */
    }
    if (error != NULL) {
        fprintf(f, "The run stopped: %s\n\n", error);
    }
    for (size_t i = 0; i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];
        char by[EVC_TIME_TEXT_MAX];

        if (is_late(a, now)) {
            evc_time_format(a->activate_by, by);
            fprintf(f,
                    "Store %s: its successor goes live by %s whether its clients hold it or "
                    "not (%s). Not ready: %s\n\n",
                    a->store, by, a->detail, a->unready[0] != '\0' ? a->unready : "-");
        }
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
        snprintf(subject, sizeof(subject), "evercert: %s%s%zu renewed, %zu action%s%s%s",
                 error != NULL ? "ERROR, " : "", worst_text, renewed, done, done == 1 ? "" : "s",
                 failures(res) > 0 ? ", a hook or check FAILED" : "",
                 late > 0 ? ", clients NOT READY near a deadline" : "");
    }
    if (evc_notify_mail(n, subject, body, now, &err) != 0) {
        /* Not remembered as told: the next run tries again. */
        mlog(m, LOG_ERR, "mail not sent (next run retries): %s", evc_err_message(&err));
        goto out;
    }
    mlog(m, LOG_INFO, "mail sent to %s: %s", n->email_to, subject);
    /* Each late wait is told once per successor. */
    for (size_t i = 0; i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];

        if (is_late(a, now)) {
            fp_hex(a->new_sha256, hex);
            if (evc_state_notice_set(m->st, hex, LATE_NOTICE, now, &err) != 0) {
                mlog(m, LOG_ERR, "%s", evc_err_message(&err));
                break;
            }
        }
    }
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

/* The index of a store by name, or -1. */
static long
store_index(const struct evc_config *c, const char *name)
{
    for (size_t i = 0; i < c->nstores; i++) {
        if (strcmp(c->stores[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* A wait is logged at most once a minute per store: it is counted again far more often. */
static int
wait_quiet(struct monitor *m, const struct evc_renew_action *a, evc_time now)
{
    long i = store_index(m->conf, a->store);

    if (strcmp(a->action, "wait") != 0 || i < 0) {
        return 0;
    }
    if (m->wait_logged[i] != 0 && now >= m->wait_logged[i] && now - m->wait_logged[i] < 60) {
        return 1;
    }
    m->wait_logged[i] = now;
    return 0;
}

/* The message log: one line per finding and per action, with stable keys. */
static void
log_result(struct monitor *m, const struct evc_renew_result *res, evc_time now)
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

        if (wait_quiet(m, a, now)) {
            continue;
        }
        if (a->has_old) {
            fp_hex(a->old_sha256, hex);
        }
        if (a->has_new) {
            fp_hex(a->new_sha256, hex2);
        }
        int failed = (a->hook_ran && a->hook_status != 0) || a->hook_status == -1 ||
                     a->verified < 0 || shared_fault(a);

        /* Who holds a successor back, or went without it at the deadline, is named. */
        int named = a->activate_by != 0 && a->unready[0] != '\0' &&
                    (strcmp(a->action, "wait") == 0 || strcmp(a->action, "activate") == 0);

        mlog(m,
             failed                                                          ? LOG_ERR
             : strcmp(a->reason, "deadline") == 0 || (named && a->done == 0) ? LOG_WARNING
                                                                             : LOG_INFO,
             "action=%s store=%s reason=%s old=%s new=%s done=%d detail=\"%s\"%s%s%s%s%s",
             a->action, a->store, a->reason, a->has_old ? hex : "-", a->has_new ? hex2 : "-",
             a->done, a->detail, a->verified != 0 ? " verify=" : "",
             a->verified != 0 ? a->verify_detail : "", named ? " unready=\"" : "",
             named ? a->unready : "", named ? "\"" : "");
    }
}

/*
 * A pass on the clock that only counted the clients of waiting successors
 * again: one a minute while they wait, so the history does not keep them.
 */
static int
recount_only(const char *trigger, int r, const struct evc_renew_result *res)
{
    if (r != 0 || strcmp(trigger, "due") != 0 || res->nactions == 0) {
        return 0;
    }
    for (size_t i = 0; i < res->nactions; i++) {
        if (strcmp(res->actions[i].action, "wait") != 0) {
            return 0;
        }
    }
    return 1;
}

static void
shared_log(void *arg, int level, const char *msg)
{
    mlog((struct monitor *)arg, level, "%s", msg);
}

/* One pass: renew what is due, then tell. Returns the pass's Nagios status. */
int
evc_monitor_pass(struct monitor *m, const char *trigger, char *summary, size_t len)
{
    struct evc_renew_opts ro;
    struct evc_renew_result res;
    struct evc_run_record rec;
    struct evc_err err = {0}, serr = {0};
    evc_time started = evc_monitor_vnow(m);
    struct metrics mx;
    struct evc_shared_ctx *sh = NULL;
    struct evc_ep_result *eps = NULL;
    int r, status, scan_status = 3;
    size_t done = 0;

    memset(&ro, 0, sizeof(ro));
    memset(&res, 0, sizeof(res));
    evc_config_renew_opts(m->conf, &ro);
    ro.now = started;
    ro.readiness = evc_monitor_readiness;
    /* Shared stores: the fleet's database, for this pass (a lost connection is not kept). */
    if (evc_shared_ctx_new(m->conf, m->conf->monitor.fleet_url, shared_log, m, &sh, &serr) != 0) {
        mlog(m, LOG_ERR, "%s", evc_err_message(&serr));
    }
    evc_shared_hooks(sh, &ro);
    mlog(m, LOG_INFO, "pass started (%s)", trigger);
    r = evc_renew_run(&ro, &res, &err);
    evc_shared_ctx_free(sh);
    if (r != 0) {
        mlog(m, LOG_ERR, "pass failed: %s", evc_err_message(&err));
    }
    log_result(m, &res, started);
    for (size_t i = 0; i < res.nactions; i++) {
        done += res.actions[i].done;
    }
    /* After the renewal run: it never waits on an endpoint. */
    if (m->conf->nendpoints > 0 && evc_monitor_endpoints(m, evc_monitor_vnow(m), &eps) != 0) {
        eps = NULL;
    }
    if (m->conf->notify.report_file != NULL || (m->o->once && m->o->report != NULL)) {
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);

        if (f == NULL) {
            mlog(m, LOG_ERR, "report not written: out of memory");
        } else {
            /* A report that could not be built whole never replaces the last good one. */
            int built =
                evc_renew_report_json(&res, 0, started, r != 0 ? evc_err_message(&err) : NULL, f);

            if (fclose(f) != 0) {
                built = -1;
            }
            /* The endpoints' standing joins the report, as their rows join the metrics. */
            if (built == 0 && eps != NULL) {
                char *with = NULL;
                size_t wlen = 0;

                built = evc_monitor_endpoints_json(m, eps, buf, blen, &with, &wlen);
                if (built == 0) {
                    free(buf);
                    buf = with;
                    blen = wlen;
                }
            }
            if (built != 0) {
                mlog(m, LOG_ERR, "report not written: it could not be built whole");
            } else {
                if (m->o->once && m->o->report != NULL &&
                    fwrite(buf, 1, blen, m->o->report) != blen) {
                    mlog(m, LOG_ERR, "report not handed over: %s", strerror(errno));
                }
                if (m->conf->notify.report_file != NULL &&
                    write_stream_file(m->conf->notify.report_file, buf, blen, &serr) != 0) {
                    mlog(m, LOG_ERR, "report not written: %s", evc_err_message(&serr));
                }
            }
            free(buf);
        }
    }
    send_mail(m, &res, r != 0 ? evc_err_message(&err) : NULL, started);
    m->last_run = evc_monitor_vnow(m);
    /* Only the scheduled pass moves the schedule; a trigger or a renewal leaves it. */
    if (strcmp(trigger, "schedule") == 0 && m->conf->monitor.enabled) {
        m->next_start = evc_schedule_next(&m->conf->monitor.schedule, m->last_run, 0);
        {
            char sched[128];

            evc_monitor_schedule_text(m->conf, sched, sizeof(sched));
            if (evc_state_next_set(m->st, m->next_start, sched, &serr) != 0) {
                mlog(m, LOG_ERR, "%s", evc_err_message(&serr));
            }
        }
    }
    evc_monitor_plan_clock(m, NULL, started);
    status = r != 0 ? 3 : 0;
    if (metrics_scan(m, m->last_run, eps, &mx, &serr) != 0) {
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
    if (recount_only(trigger, r, &res)) {
        /* Counted again, nothing else: the wait is in the log and the report, not the history. */
    } else if (evc_state_record_run(m->st, &rec, &res, &serr) != 0) {
        mlog(m, LOG_ERR, "history not written: %s", evc_err_message(&serr));
    }
    if (metrics_write(m, &mx, &serr) != 0) {
        mlog(m, LOG_ERR, "metrics not written: %s", evc_err_message(&serr));
    }
    if (eps != NULL) {
        evc_monitor_fleet_endpoints(m, eps, m->conf->nendpoints, started);
    }
    evc_monitor_fleet_record(m, &res, r == 0, started);
    snprintf(summary, len, "status=%d actions=%zu failures=%d%s%s", status, done, failures(&res),
             r != 0 ? " error=" : "", r != 0 ? evc_err_message(&err) : "");
    mlog(m, status >= 2 ? LOG_ERR : LOG_INFO, "pass ended: %s", summary);
    evc_renew_result_clear(&res);
    evc_ep_results_free(eps, m->conf->nendpoints);
    return status;
}
