/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When the monitor wakes: the scheduled report pass (WebSphere's
 * schedule, kept in the state) and its own clock, the earliest moment the
 * stores' plan changes, with jitter, and retries with backoff while work
 * stays due.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <openssl/rand.h>

#include "evercert/schedule.h"
#include "monitor/service_int.h"

evc_time
evc_monitor_vnow(const struct monitor *m)
{
    return evc_time_now() + m->o->clock_offset;
}

void
evc_monitor_schedule_text(const struct evc_config *c, char *out, size_t len)
{
    const struct evc_schedule *s = &c->monitor.schedule;

    snprintf(out, len, "enabled=%d frequency=%d day_of_week=%d hour=%d minute=%d",
             c->monitor.enabled, s->frequency, s->day_of_week, s->hour, s->minute);
}

/* The next start: kept from the state if the schedule is the same, else computed anew. */
int
evc_monitor_plan_next(struct monitor *m, struct evc_err *err)
{
    char want[128], have[128];
    evc_time next;
    int r;

    evc_monitor_schedule_text(m->conf, want, sizeof(want));
    if ((r = evc_state_next_get(m->st, &next, have, sizeof(have), err)) != 0) {
        return r;
    }
    if (!m->conf->monitor.enabled) {
        m->next_start = 0;
    } else if (next != 0 && strcmp(want, have) == 0) {
        m->next_start = next; /* may have passed: then the loop runs at once */
    } else {
        m->next_start = evc_schedule_next(&m->conf->monitor.schedule, evc_monitor_vnow(m), 1);
    }
    return evc_state_next_set(m->st, m->next_start, want, err);
}

/* The earlier of the renewal clock and a retry; why is "due" or "retry". */
evc_time
evc_monitor_next_wake(const struct monitor *m, const char **why)
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
void
evc_monitor_plan_clock(struct monitor *m, const char *ran, evc_time since)
{
    struct evc_renew_opts ro;
    struct evc_renew_result res;
    struct evc_err err = {0};
    evc_time now = evc_monitor_vnow(m);
    const char *why;
    char when[EVC_TIME_TEXT_MAX], whenr[EVC_TIME_TEXT_MAX];

    memset(&ro, 0, sizeof(ro));
    memset(&res, 0, sizeof(res));
    evc_config_renew_opts(m->conf, &ro);
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
        evc_time w = evc_monitor_next_wake(m, &why);

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
