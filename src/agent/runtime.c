/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One agent's runtime: its configuration and state opened together, its
 * clock (moved by --at), and how it tells: the log and history of each
 * decision, alarms told once across restarts, and the rejection lines
 * kept under a per-server rate limit.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evercert/limits.h"
#include "evercert/time.h"
#include "agent/agent_int.h"

evc_time
evc_agent_now(const struct evc_agent *a)
{
    return evc_time_now() + a->clock_offset;
}

void
evc_agent_state_path(const char *config_path, const char *configured, char *out, size_t len)
{
    const char *slash = strrchr(config_path, '/');

    if (configured != NULL) {
        snprintf(out, len, "%s", configured);
    } else if (geteuid() == 0) {
        snprintf(out, len, "/var/lib/evercert/agent.db");
    } else if (slash == NULL) {
        snprintf(out, len, "evercert-agent.db");
    } else {
        snprintf(out, len, "%.*s/evercert-agent.db", (int)(slash - config_path), config_path);
    }
}

int
evc_agent_open(struct evc_agent *a, const char *config_path, int64_t clock_offset, int exclusive,
               struct evc_err *err)
{
    char path[EVC_PATH_MAX];
    int r;

    memset(a, 0, sizeof(*a));
    a->cancel_fd = -1;
    a->clock_offset = clock_offset;
    snprintf(a->config_path, sizeof(a->config_path), "%s", config_path);
    if ((r = evc_config_load(config_path, &a->conf, err)) != 0) {
        return r;
    }
    if (a->conf->nservers == 0) {
        evc_config_free(a->conf);
        a->conf = NULL;
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: no [server \"name\"] sections to follow",
                           config_path);
    }
    evc_log_init(&a->log, a->conf->notify.log, "evercert agent");
    evc_agent_state_path(config_path, a->conf->agent.state, path, sizeof(path));
    if ((r = evc_state_open(path, exclusive, &a->st, err)) != 0) {
        evc_config_free(a->conf);
        a->conf = NULL;
        return r;
    }
    return 0;
}

void
evc_agent_id(const struct evc_agent *a, char out[EVC_ACK_ID_MAX + 1])
{
    char host[256] = "";

    if (a->conf->agent.client_id == NULL && gethostname(host, sizeof(host) - 1) != 0) {
        host[0] = '\0';
    }
    evc_agent_client_id(a->conf->agent.client_id, host, out);
}

void
evc_agent_close(struct evc_agent *a)
{
    evc_agent_fleet_close(a);
    evc_state_close(a->st);
    evc_config_free(a->conf);
    a->st = NULL;
    a->conf = NULL;
}

void
evc_agent_worse(struct evc_agent *a, int status)
{
    if (status > a->status) {
        a->status = status;
    }
}

/* Record a decision: the state (for `evercert history`) and the log. */
void
evc_agent_event(struct evc_agent *a, evc_time now, const char *server, const char *what,
                const char *reason, int64_t sa_id, uint64_t generation, const char *source,
                const char *detail)
{
    struct evc_agent_event e = {now, server, what, reason, sa_id, generation, source, detail};
    struct evc_err err = {0};

    evc_logf(&a->log,
             strcmp(what, "reject") == 0 || strcmp(what, "conflict") == 0 ? LOG_WARNING : LOG_INFO,
             "server=%s event=%s reason=%s generation=%llu source=%s sa=%lld%s%s", server, what,
             reason != NULL ? reason : "-", (unsigned long long)generation,
             source != NULL ? source : "-", (long long)sa_id, detail != NULL ? ": " : "",
             detail != NULL ? detail : "");
    if (evc_state_agent_event(a->st, &e, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    }
    evc_agent_fleet_event(a, now, server, what, generation, detail);
}

/*
 * Tell a person once per (key, value), across restarts: the line when the
 * value recorded under key changes, and e-mail when [notify] email_to is
 * set (recorded under its own key, so a mail that failed is sent by the
 * next round without the line being repeated). 1 when the line was told.
 */
int
evc_agent_tell(struct evc_agent *a, evc_time now, int prio, const char *key, const char *value,
               const char *line, const char *subject, const char *body)
{
    struct evc_err err = {0};
    char mkey[600];
    int changed = 0, mail = 0;

    if (evc_state_notice_changed(a->st, key, value, &changed, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        return 0;
    }
    if (changed) {
        evc_logf(&a->log, prio, "%s", line);
        if (evc_state_notice_set(a->st, key, value, now, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        }
    }
    snprintf(mkey, sizeof(mkey), "%s#mail", key);
    if (a->conf->notify.email_to == NULL) {
        return changed;
    }
    if (evc_state_notice_changed(a->st, mkey, value, &mail, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        return changed;
    }
    if (!mail) {
        return changed;
    }
    if (evc_notify_mail(&a->conf->notify, subject, body, now, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "mail not sent (the next round retries): %s",
                 evc_err_message(&err));
    } else if (evc_state_notice_set(a->st, mkey, value, now, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    }
    return changed;
}

/*
 * A conflict is told once per server and generation, across restarts (the
 * line, and mail when configured): a second holder of the key pushing
 * variants in a loop raises one alarm, not one per variant.
 */
void
evc_agent_conflict_alert(struct evc_agent *a, size_t i, evc_time now, uint64_t gen,
                         const char *line, const char *body)
{
    const char *name = a->conf->servers[i].name;
    char key[400], subject[600];

    snprintf(key, sizeof(key), "agent-conflict/%s/%llu", name, (unsigned long long)gen);
    snprintf(subject, sizeof(subject), "evercert agent: %s", line);
    (void)evc_agent_tell(a, now, LOG_WARNING, key, "told", line, subject, body);
}

/* Rejections held back by the rate limit, in one line and one event. */
static void
reject_summary(struct evc_agent *a, size_t i, evc_time now, unsigned held, unsigned repeats)
{
    char detail[300];

    snprintf(detail, sizeof(detail),
             "%u more refused SA%s not logged one by one and %u repeat%s of refused SAs in the "
             "last %d s; the state keeps the newest %d refused SAs",
             held, held == 1 ? "" : "s", repeats, repeats == 1 ? "" : "s",
             EVC_AGENT_REJECT_LOG_WINDOW_S, EVC_AGENT_REFUSED_MAX);
    evc_agent_event(a, now, a->conf->servers[i].name, "reject", "rate-limited", 0, 0, NULL, detail);
}

/*
 * A new refusal or conflict (what): its line and event, unless server i's
 * rate limit holds it back.
 */
void
evc_agent_reject_event(struct evc_agent *a, size_t i, evc_time now, const char *what, int64_t id,
                       uint64_t gen, const char *source, const char *reason, const char *message)
{
    unsigned held = 0, repeats = 0;

    if (a->reject_log != NULL &&
        !evc_ratelimit_take(&a->reject_log[i], evc_mono_ms(), EVC_AGENT_REJECT_LOG_BURST,
                            (int64_t)EVC_AGENT_REJECT_LOG_WINDOW_S * 1000, &held, &repeats)) {
        return;
    }
    if (held > 0 || repeats > 0) {
        reject_summary(a, i, now, held, repeats);
    }
    evc_agent_event(a, now, a->conf->servers[i].name, what, reason, id, gen, source, message);
}

void
evc_agent_reject_flush(struct evc_agent *a, size_t i, int64_t now_ms, int force, int64_t *next_ms)
{
    unsigned held, repeats;
    int64_t due;

    if (a->reject_log == NULL) {
        return;
    }
    if (evc_ratelimit_flush(&a->reject_log[i], now_ms,
                            (int64_t)EVC_AGENT_REJECT_LOG_WINDOW_S * 1000, force, &held, &repeats,
                            &due)) {
        reject_summary(a, i, evc_agent_now(a), held, repeats);
    }
    if (due != 0 && (*next_ms == 0 || due < *next_ms)) {
        *next_ms = due;
    }
}

/* The earlier of *next and t; 0 is no time. */
void
evc_agent_next_at(evc_time *next, evc_time t)
{
    if (t > 0 && (*next == 0 || t < *next)) {
        *next = t;
    }
}

long
evc_agent_server_index(const struct evc_agent *a, const char *name)
{
    for (size_t i = 0; i < a->conf->nservers; i++) {
        if (strcmp(a->conf->servers[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}
