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

#include <jansson.h>

#include "evercert/endpoint.h"
#include "base/text.h"
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

/* The served leaf's notAfter and SHA-256 (hex), or 0 and "" without a chain. */
static evc_time
leaf_facts(const struct evc_ep_result *r, char sha[65])
{
    struct evc_cert_reader *rd = NULL;
    struct evc_cert c;
    struct evc_err err = {0};
    evc_time t = 0;

    sha[0] = '\0';
    if (r->ncerts == 0 || evc_cert_reader_new(&rd) != 0) {
        return 0;
    }
    if (evc_cert_read(rd, r->der[0], r->der_len[0], &c, &err) == 0) {
        t = c.not_after;
        evc_text_hex(c.sha256, sizeof(c.sha256), sha);
        evc_cert_clear(&c);
    }
    evc_cert_reader_free(rd);
    return t;
}

static json_t *
time_or_null(evc_time t)
{
    char txt[EVC_TIME_TEXT_MAX];

    if (t == 0) {
        return json_null();
    }
    evc_time_format(t, txt);
    return json_string(txt);
}

static json_t *
text_or_null(const char *s)
{
    return s != NULL ? evc_text_jstring(s) : json_null();
}

int
evc_monitor_endpoints_json(const struct monitor *m, const struct evc_ep_result *res,
                           const char *doc, size_t len, char **out, size_t *outlen)
{
    json_t *root = NULL, *arr = NULL;
    json_error_t jerr;
    char *dump = NULL;
    size_t n;
    int r = -1;

    *out = NULL;
    *outlen = 0;
    if ((root = json_loadb(doc, len, 0, &jerr)) == NULL || !json_is_object(root) ||
        (arr = json_array()) == NULL) {
        goto out;
    }
    for (size_t i = 0; i < m->conf->nendpoints; i++) {
        const struct evc_endpoint_conf *e = &m->conf->endpoints[i];
        const struct evc_ep_result *ep = &res[i];
        char sha[65];
        evc_time leaf = leaf_facts(ep, sha);
        json_t *o = json_pack(
            "{s:o, s:o, s:o, s:b, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
            evc_text_jstring(e->name), "endpoint", evc_text_jstring(ep->url), "standing",
            json_string(standing(ep)), "up", ep->error == NULL && ep->ncerts > 0, "error",
            text_or_null(ep->error), "verified", ep->verified, "verify_error",
            text_or_null(ep->verified ? NULL : ep->verify_error), "not_after", time_or_null(leaf),
            "chain_not_after", time_or_null(ep->verified ? ep->chain_not_after : 0), "sha256",
            sha[0] != '\0' ? json_string(sha) : json_null(), "store", text_or_null(e->store),
            "mismatch",
            ep->compare_set && ep->ncerts > 0 ? json_boolean(evc_ep_mismatch(ep)) : json_null());

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            goto out;
        }
    }
    if (json_object_set(root, "endpoints", arr) != 0 ||
        (dump = json_dumps(root, JSON_INDENT(2))) == NULL) {
        goto out;
    }
    /* As the report ends: with a newline. */
    n = strlen(dump);
    if ((*out = malloc(n + 2)) == NULL) {
        goto out;
    }
    memcpy(*out, dump, n);
    (*out)[n] = '\n';
    (*out)[n + 1] = '\0';
    *outlen = n + 1;
    r = 0;
out:
    free(dump);
    json_decref(arr);
    json_decref(root);
    return r;
}
