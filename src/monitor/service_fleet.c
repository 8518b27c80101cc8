/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's report to the fleet inventory after each pass: the
 * certificates of the stores in service (replacing its last view), what it
 * renewed, activated and retired, then a flush of what waits. The
 * inventory never stops a pass: a writer that cannot be opened, a write
 * that fails or a fleet database that is away is a log line, told once
 * per change.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/text.h"
#include "evercert/cert.h"
#include "evercert/endpoint.h"
#include "evercert/fleet.h"
#include "evercert/renew.h"
#include "monitor/service_int.h"

static void
fleet_open(struct monitor *m)
{
    struct evc_fleet_opts o;
    struct evc_err err = {0};
    struct evc_buf pw;

    /*
     * A run with its clock moved would stamp the fleet with a time that is
     * not: other hosts pruned, its own views frozen. It reports nothing.
     */
    if (m->o->clock_offset != 0) {
        mlog(m, LOG_WARNING, "fleet inventory: not written under --at");
        m->fleet_failed = 1;
        return;
    }
    evc_buf_init(&pw, EVC_PASSWORD_MAX + 2);
    memset(&o, 0, sizeof(o));
    o.local = m->state_path;
    o.url = m->conf->monitor.fleet_url;
    o.host = m->conf->fleet.host;
    o.service = "monitor";
    o.keep = m->conf->fleet.keep;
    if (o.url != NULL && m->conf->fleet.password_file != NULL) {
        if (evc_password_read(m->conf->fleet.password_file, &pw, &err) != 0) {
            mlog(m, LOG_ERR, "fleet inventory not written: %s", evc_err_message(&err));
            m->fleet_failed = 1;
            evc_buf_free(&pw);
            return;
        }
        o.password = evc_buf_str(&pw);
    }
    if (evc_fleet_open(&o, &m->fleet, &err) != 0) {
        mlog(m, LOG_ERR, "fleet inventory not written: %s", evc_err_message(&err));
        m->fleet_failed = 1;
    }
    evc_buf_free(&pw);
}

/* The same view is written again after this long at most. */
#define VIEW_EVERY 600

/* FNV-1a over what a view's rows say, to tell a changed view from the last one written. */
static void
fnv(uint64_t *h, const char *s)
{
    for (const char *p = s != NULL ? s : "";; p++) {
        *h ^= (uint8_t)*p;
        *h *= 1099511628211ULL;
        if (*p == '\0') {
            break;
        }
    }
}

static uint64_t
view_sum(const struct evc_fleet_cert *rows, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    char na[32];

    for (size_t i = 0; i < n; i++) {
        snprintf(na, sizeof(na), "%lld", (long long)rows[i].not_after);
        fnv(&h, rows[i].location);
        fnv(&h, rows[i].sha256);
        fnv(&h, rows[i].status);
        fnv(&h, rows[i].detail);
        fnv(&h, na);
    }
    return h;
}

static const char *
event_of(const char *action)
{
    if (strcmp(action, "renew") == 0 || strcmp(action, "recreate-root") == 0) {
        return "renewed";
    }
    if (strcmp(action, "activate") == 0) {
        return "activated";
    }
    if (strcmp(action, "retire") == 0) {
        return "retired";
    }
    return NULL;
}

void
evc_monitor_fleet_record(struct monitor *m, const struct evc_renew_result *res, int ok, evc_time at)
{
    struct evc_fleet_cert *rows = NULL;
    struct evc_fleet_sent sent;
    struct evc_err err = {0};
    char(*hex)[65] = NULL;

    if (m->fleet == NULL && !m->fleet_failed) {
        fleet_open(m);
    }
    if (m->fleet == NULL) {
        return;
    }
    /* A run that could not read its stores has no whole view: the last one stays. */
    if (ok && res->ncerts > 0) {
        rows = calloc(res->ncerts, sizeof(*rows));
        hex = calloc(res->ncerts, sizeof(*hex));
    }
    if (ok && (res->ncerts == 0 || (rows != NULL && hex != NULL))) {
        for (size_t i = 0; i < res->ncerts; i++) {
            const struct evc_renew_cert *c = &res->certs[i];

            evc_text_hex(c->sha256, sizeof(c->sha256), hex[i]);
            rows[i].location = c->store;
            rows[i].sha256 = hex[i];
            rows[i].subject = c->subject;
            rows[i].not_after = c->not_after;
            rows[i].status = evc_status_name(c->status);
            rows[i].kind = evc_kind_name(c->kind);
            rows[i].detail = c->plan;
        }
        /*
         * A pass that only counted clients again (every minute while a
         * successor waits) sees the same view: it is written when it
         * changed, or again after ten minutes.
         */
        uint64_t sum = view_sum(rows, res->ncerts);

        if (sum != m->fleet_sum || at - m->fleet_at >= VIEW_EVERY || at < m->fleet_at) {
            if (evc_fleet_snapshot(m->fleet, "stores", at, rows, res->ncerts, &err) != 0) {
                mlog(m, LOG_ERR, "fleet inventory: %s", evc_err_message(&err));
            } else {
                m->fleet_sum = sum;
                m->fleet_at = at;
            }
        }
    }
    free(rows);
    free(hex);
    for (size_t i = 0; i < res->nactions; i++) {
        const struct evc_renew_action *a = &res->actions[i];
        struct evc_fleet_event e;
        char oldh[65] = "", newh[65] = "";

        if (!a->done || (e.what = event_of(a->action)) == NULL) {
            continue;
        }
        if (a->has_old) {
            evc_text_hex(a->old_sha256, sizeof(a->old_sha256), oldh);
        }
        if (a->has_new) {
            evc_text_hex(a->new_sha256, sizeof(a->new_sha256), newh);
        }
        e.at = at;
        e.subject = a->store;
        e.old_sha256 = oldh;
        e.new_sha256 = newh;
        e.generation = 0;
        e.detail = a->reason;
        if (evc_fleet_event(m->fleet, &e, &err) != 0) {
            mlog(m, LOG_ERR, "fleet inventory: %s", evc_err_message(&err));
        }
    }
    if (evc_fleet_flush(m->fleet, evc_monitor_vnow(m), &sent, &err) != 0) {
        mlog(m, LOG_ERR, "fleet inventory: %s", evc_err_message(&err));
    } else if (sent.changed) {
        mlog(m, sent.down ? LOG_WARNING : LOG_INFO, "%s", sent.line);
    }
}

/*
 * What the endpoints presented this pass, as the "endpoints" view: each
 * certificate of each chain (URL#i), or one error row for an endpoint
 * that gave none. Written before evc_monitor_fleet_record sends.
 */
void
evc_monitor_fleet_endpoints(struct monitor *m, const struct evc_ep_result *eps, size_t n,
                            evc_time at)
{
    struct evc_fleet_cert *rows = NULL;
    struct evc_cert *certs = NULL;
    struct evc_cert_reader *rd = NULL;
    struct evc_err err = {0};
    char(*hex)[65] = NULL, (*loc)[EVC_EP_URL_MAX + 8] = NULL;
    size_t nrows = 0, max = 0;

    if (m->fleet == NULL && !m->fleet_failed) {
        fleet_open(m);
    }
    if (m->fleet == NULL || eps == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        max += eps[i].ncerts > 0 ? eps[i].ncerts : 1;
    }
    if (max == 0) {
        return;
    }
    if ((rows = calloc(max, sizeof(*rows))) == NULL ||
        (certs = calloc(max, sizeof(*certs))) == NULL ||
        (hex = calloc(max, sizeof(*hex))) == NULL || (loc = calloc(max, sizeof(*loc))) == NULL ||
        evc_cert_reader_new(&rd) != 0) {
        mlog(m, LOG_ERR, "fleet inventory: endpoints: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct evc_ep_result *e = &eps[i];

        if (e->ncerts == 0) {
            snprintf(loc[nrows], sizeof(loc[nrows]), "%s", e->url != NULL ? e->url : "?");
            rows[nrows].location = loc[nrows];
            rows[nrows].status = "error";
            rows[nrows].detail = e->error != NULL ? e->error : "no chain";
            nrows++;
            continue;
        }
        for (size_t k = 0; k < e->ncerts; k++) {
            struct evc_fleet_cert *r = &rows[nrows];
            struct evc_cert *c = &certs[nrows];

            snprintf(loc[nrows], sizeof(loc[nrows]), "%s#%zu", e->url != NULL ? e->url : "?", k);
            r->location = loc[nrows];
            if (evc_cert_read(rd, e->der[k], e->der_len[k], c, &err) != 0) {
                r->status = "error";
                r->detail = "not a certificate";
                nrows++;
                continue;
            }
            evc_text_hex(c->sha256, sizeof(c->sha256), hex[nrows]);
            r->sha256 = hex[nrows];
            r->subject = c->subject;
            r->issuer = c->issuer;
            r->not_before = c->not_before;
            r->not_after = c->not_after;
            r->status = evc_status_name(
                evc_classify(c->not_before, c->not_after, at, &m->conf->policy.thresholds));
            r->kind = evc_kind_name(evc_kind_of(c, 0));
            r->detail = !e->verified ? (e->verify_error != NULL ? e->verify_error : "not verified")
                        : !e->on_chain[k] ? "not on the verified chain"
                                          : NULL;
            nrows++;
        }
    }
    if (evc_fleet_snapshot(m->fleet, "endpoints", at, rows, nrows, &err) != 0) {
        mlog(m, LOG_ERR, "fleet inventory: %s", evc_err_message(&err));
    }
out:
    for (size_t i = 0; certs != NULL && i < max; i++) {
        evc_cert_clear(&certs[i]);
    }
    evc_cert_reader_free(rd);
    free(certs);
    free(rows);
    free(hex);
    free(loc);
}

void
evc_monitor_fleet_close(struct monitor *m)
{
    evc_fleet_close(m->fleet);
    m->fleet = NULL;
}
