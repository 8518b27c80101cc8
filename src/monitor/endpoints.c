/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's endpoints: each pass, after the renewal run (which never
 * waits on them), every [endpoint] is scanned on one event loop, each
 * within its timeout. Each gives a log line; its certificates join the
 * metrics' rows and its evercert_endpoint_* gauges; an endpoint that
 * fails, does not verify or serves another certificate than its store's
 * is mailed once per change of that standing, like other warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "evercert/endpoint.h"
#include "monitor/service_int.h"

static const struct evc_store_conf *
store_named(const struct evc_config *c, const char *name)
{
    for (size_t i = 0; name != NULL && i < c->nstores; i++) {
        if (strcmp(c->stores[i].name, name) == 0) {
            return &c->stores[i];
        }
    }
    return NULL;
}

/* What people are told changes on: up, error, unverified or mismatch. */
static const char *
standing(const struct evc_ep_result *r)
{
    if (r->error != NULL || r->ncerts == 0) {
        return "error";
    }
    if (!r->verified) {
        return "unverified";
    }
    return evc_ep_mismatch(r) ? "mismatch" : "up";
}

static void
log_one(struct monitor *m, const struct evc_endpoint_conf *e, const struct evc_ep_result *r)
{
    char ce[EVC_TIME_TEXT_MAX];

    if (r->error != NULL || r->ncerts == 0) {
        mlog(m, LOG_WARNING, "endpoint %s (%s): %s", e->name, r->url,
             r->error != NULL ? r->error : "no chain");
        return;
    }
    if (!r->verified) {
        mlog(m, LOG_WARNING, "endpoint %s (%s): chain does not verify: %s", e->name, r->url,
             r->verify_error != NULL ? r->verify_error : "unknown");
    } else {
        evc_time_format(r->chain_not_after, ce);
        mlog(m, LOG_INFO, "endpoint %s (%s): chain verified, earliest expiry %s", e->name, r->url,
             ce);
    }
    if (evc_ep_mismatch(r)) {
        mlog(m, LOG_WARNING,
             "endpoint %s (%s): served certificate differs from store %s's %s: a server not "
             "reloaded since a renewal?",
             e->name, r->url, e->store, r->compare_name);
    }
}

/* One mail for every endpoint whose standing changed to something not up. */
static void
mail_changes(struct monitor *m, const struct evc_ep_result *res, size_t n, evc_time now)
{
    const struct evc_notify_conf *nc = &m->conf->notify;
    char *body = NULL, key[EVC_EP_URL_MAX + 64], subject[256];
    size_t len = 0, news = 0;
    unsigned char *changed = calloc(n + 1, 1);
    struct evc_err err = {0};
    FILE *f = NULL;

    if (changed == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int c = 0;

        snprintf(key, sizeof(key), "endpoint:%s", m->conf->endpoints[i].name);
        if (evc_state_notice_changed(m->st, key, standing(&res[i]), &c, &err) == 0 && c) {
            changed[i] = 1;
            news += strcmp(standing(&res[i]), "up") != 0;
        }
    }
    if (news > 0 && nc->email_to != NULL && (f = open_memstream(&body, &len)) != NULL) {
        for (size_t i = 0; i < n; i++) {
            const struct evc_ep_result *r = &res[i];

            if (!changed[i] || strcmp(standing(r), "up") == 0) {
                continue;
            }
            fprintf(f, "Endpoint %s (%s): %s", m->conf->endpoints[i].name, r->url, standing(r));
            if (r->error != NULL) {
                fprintf(f, ": %s", r->error);
            } else if (!r->verified && r->verify_error != NULL) {
                fprintf(f, ": %s", r->verify_error);
            } else if (evc_ep_mismatch(r)) {
                fprintf(f, ": the served certificate differs from on-disk %s", r->compare_name);
            }
            fputs("\n", f);
        }
        fclose(f);
        snprintf(subject, sizeof(subject), "evercert: %zu endpoint%s NOT OK", news,
                 news == 1 ? "" : "s");
        if (evc_notify_mail(nc, subject, body, now, &err) != 0) {
            /* Not remembered as told: the next pass tries again. */
            mlog(m, LOG_ERR, "mail not sent (next pass retries): %s", evc_err_message(&err));
            goto out;
        }
        mlog(m, LOG_INFO, "mail sent to %s: %s", nc->email_to, subject);
    }
    for (size_t i = 0; i < n; i++) {
        if (!changed[i]) {
            continue;
        }
        snprintf(key, sizeof(key), "endpoint:%s", m->conf->endpoints[i].name);
        if (evc_state_notice_set(m->st, key, standing(&res[i]), now, &err) != 0) {
            mlog(m, LOG_ERR, "%s", evc_err_message(&err));
            break;
        }
    }
out:
    free(body);
    free(changed);
}

int
evc_monitor_endpoints(struct monitor *m, evc_time now, struct evc_ep_result **out)
{
    const struct evc_config *c = m->conf;
    size_t n = c->nendpoints;
    struct evc_ep_url *urls = calloc(n + 1, sizeof(*urls));
    const char **cas = calloc(n + 1, sizeof(*cas));
    int64_t *timeouts = calloc(n + 1, sizeof(*timeouts));
    struct evc_ep_result *res = NULL;
    struct evc_ep_opts o;
    struct evc_err err = {0};
    int r = EVC_ERR_NOMEM;

    *out = NULL;
    if (urls == NULL || cas == NULL || timeouts == NULL) {
        mlog(m, LOG_ERR, "endpoints not scanned: out of memory");
        goto out;
    }
    evc_ep_opts_default(&o, now);
    o.timeout_ms = 1000;
    for (size_t i = 0; i < n; i++) {
        const struct evc_endpoint_conf *e = &c->endpoints[i];

        /* Checked when the configuration was read. */
        if ((r = evc_ep_url_parse(e->address, &urls[i], &err)) != 0) {
            mlog(m, LOG_ERR, "endpoint %s: %s", e->name, evc_err_message(&err));
            goto out;
        }
        cas[i] = e->ca;
        timeouts[i] = e->timeout * 1000;
        o.timeout_ms = timeouts[i] > o.timeout_ms ? timeouts[i] : o.timeout_ms;
    }
    o.cas = cas;
    o.timeouts_ms = timeouts;
    if ((r = evc_ep_scan(urls, n, &o, &res, &err)) != 0) {
        mlog(m, LOG_ERR, "endpoints not scanned: %s", evc_err_message(&err));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct evc_store_conf *s = store_named(c, c->endpoints[i].store);

        if (s != NULL && s->cert != NULL) {
            if (evc_ep_file_sha256(s->cert, res[i].compare_sha256, &err) == 0) {
                res[i].compare_name = s->cert;
                res[i].compare_set = 1;
            } else {
                mlog(m, LOG_ERR, "endpoint %s: store %s not compared: %s", c->endpoints[i].name,
                     s->name, evc_err_message(&err));
            }
        }
        log_one(m, &c->endpoints[i], &res[i]);
    }
    mail_changes(m, res, n, now);
    *out = res;
    res = NULL;
    r = 0;
out:
    evc_ep_results_free(res, n);
    free(urls);
    free((void *)cas);
    free(timeouts);
    return r;
}
