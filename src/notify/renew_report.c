/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal report, as text tables or JSON: the certificates found with
 * status and kind, and every action with old and new fingerprints, hook
 * and verification results. Used by `renew`, `activate` and the monitor.
 * Names, hook output and peers' words are untrusted: escaped for a
 * terminal, made valid UTF-8 for JSON, and every JSON value is checked as
 * it is built, so a report is whole or an error, never silently short.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "evercert/renew_report.h"
#include "base/table.h"
#include "base/text.h"

static void
hex_short(const uint8_t *fp, char out[17])
{
    evc_text_hex(fp, 8, out);
}

/*
 * Escape for a terminal, cut at EVC_TEXT_SHOW_MAX: subjects come from
 * certificates, details may quote a hook or a peer. "" when out of memory,
 * which *bad records.
 */
static const char *
vis(struct evc_buf *b, const char *s, int *bad)
{
    evc_buf_reset(b);
    if (evc_text_nvis(b, s, EVC_TEXT_SHOW_MAX) != 0) {
        *bad = 1;
        return "";
    }
    return evc_buf_str(b);
}

/*
 * When the certificate is replaced, in a few words: "renew at T" (its
 * threshold), "activate at T" (a staged successor), or why never.
 */
static void
plan_text(const struct evc_renew_cert *c, char *out, size_t len)
{
    char at[EVC_TIME_TEXT_MAX];

    evc_time_format(c->renew_at, at);
    if (c->plan == NULL) {
        snprintf(out, len, "-");
    } else if (c->renew_at != 0) {
        snprintf(out, len, "%s at %s", c->plan, at);
    } else if (strcmp(c->plan, "external") == 0) {
        snprintf(out, len, "never: external");
    } else if (strcmp(c->plan, "signer") == 0) {
        snprintf(out, len, "with its signer");
    } else {
        snprintf(out, len, "never: %s", c->plan);
    }
}

/* The certificates found, one row each, under a header. */
static int
certs_table(const struct evc_renew_result *r, FILE *out, struct evc_buf *b1, struct evc_buf *b2,
            int *bad)
{
    static const char *const head[8] = {"STORE",     "ROLE",     "STATUS", "KIND",
                                        "NOT AFTER", "REPLACED", "SHA256", "SUBJECT"};
    struct evc_table t;
    char when[EVC_TIME_TEXT_MAX], hex[17], plan[48];
    int rc = 0;

    evc_table_init(&t, 8);
    rc = evc_table_add(&t, head);
    for (size_t i = 0; rc == 0 && i < r->ncerts; i++) {
        const struct evc_renew_cert *c = &r->certs[i];
        const char *row[8];

        evc_time_format(c->not_after, when);
        hex_short(c->sha256, hex);
        plan_text(c, plan, sizeof(plan));
        row[0] = vis(b1, c->store, bad);
        row[1] = evc_role_name(c->role);
        row[2] = evc_status_name(c->status);
        row[3] = evc_kind_name(c->kind);
        row[4] = when;
        row[5] = plan;
        row[6] = hex;
        row[7] = vis(b2, c->subject != NULL ? c->subject : "", bad);
        rc = evc_table_add(&t, row);
    }
    if (rc == 0) {
        rc = evc_table_print(&t, out, "", 2);
    }
    evc_table_free(&t);
    return rc;
}

/* A successor that waited for its clients, or waits: the counts belong to it. */
static int
readiness_of(const struct evc_renew_action *a)
{
    return a->activate_by != 0 &&
           (strcmp(a->action, "wait") == 0 || strcmp(a->action, "activate") == 0);
}

/*
 * What came of an action after its fingerprints: when it goes live, the
 * note or error, the verification, and NOT DONE when it failed.
 */
static int
action_tail(const struct evc_renew_action *a, int dry_run, int activate, struct evc_buf *tail,
            struct evc_buf *b, int *bad)
{
    char when[EVC_TIME_TEXT_MAX];
    int rc = 0, wait = strcmp(a->action, "wait") == 0;

    evc_buf_reset(tail);
    if (activate) {
        rc = evc_buf_puts(tail, wait      ? "waiting for its clients"
                                : dry_run ? "would be activated"
                                : a->done ? "activated"
                                          : "");
    }
    if (rc == 0 && a->activate_at != 0) {
        evc_time_format(a->activate_at, when);
        rc = evc_buf_printf(tail, "%sactivate at %s", tail->len > 0 ? " " : "", when);
    }
    if (rc == 0 && a->activate_by != 0) {
        evc_time_format(a->activate_by, when);
        rc = evc_buf_printf(tail, "%sdeadline %s", tail->len > 0 ? " " : "", when);
    }
    if (rc == 0 && a->detail[0] != '\0') {
        rc = evc_buf_printf(tail, "%s(%s)", tail->len > 0 ? " " : "", vis(b, a->detail, bad));
    }
    /* Who held the successor back, or went without it at the deadline. */
    if (rc == 0 && readiness_of(a) && a->unready[0] != '\0') {
        rc = evc_buf_printf(tail, "%s[not ready: %s]", tail->len > 0 ? " " : "",
                            vis(b, a->unready, bad));
    }
    if (rc == 0 && a->verified != 0) {
        rc = evc_buf_printf(tail, "%s[%s: %s]", tail->len > 0 ? " " : "",
                            a->verified > 0 ? "verified" : "NOT VERIFIED",
                            vis(b, a->verify_detail, bad));
    }
    /* A note, or a stale successor activate leaves to renew, is no work left undone. */
    if (rc == 0 && !a->done && !dry_run && strcmp(a->action, "note") != 0 && !wait &&
        strcmp(a->reason, "stale-successor") != 0) {
        rc = evc_buf_printf(tail, "%sNOT DONE", tail->len > 0 ? " " : "");
    }
    return rc;
}

/*
 * The actions: renew's as action, store, reason, fingerprints and what
 * came of them; activate's as store, fingerprints and what came of them.
 */
static int
actions_table(const struct evc_renew_result *r, int dry_run, int activate, FILE *out,
              struct evc_buf *b1, struct evc_buf *b2, int *bad)
{
    struct evc_table t;
    struct evc_buf tail;
    char hex[17], hex2[17], fps[64];
    int rc = 0;

    evc_table_init(&t, activate ? 3 : 5);
    evc_buf_init(&tail, 4 * EVC_TEXT_SHOW_MAX);
    for (size_t i = 0; rc == 0 && i < r->nactions; i++) {
        const struct evc_renew_action *a = &r->actions[i];
        const char *store = vis(b1, a->store, bad);

        hex_short(a->old_sha256, hex);
        hex_short(a->new_sha256, hex2);
        snprintf(fps, sizeof(fps), "%s%s%s", a->has_old ? hex : "",
                 a->has_old && a->has_new ? " -> " : "", a->has_new ? hex2 : "");
        if ((rc = action_tail(a, dry_run, activate, &tail, b2, bad)) != 0) {
            break;
        }
        if (activate) {
            const char *row[3] = {store, fps, evc_buf_str(&tail)};

            rc = evc_table_add(&t, row);
        } else {
            const char *row[5] = {a->action, store, a->reason, fps, evc_buf_str(&tail)};

            rc = evc_table_add(&t, row);
        }
    }
    if (rc == 0) {
        rc = evc_table_print(&t, out, "  ", 1);
    }
    evc_buf_free(&tail);
    evc_table_free(&t);
    return rc;
}

static int
report_text(const struct evc_renew_result *r, int dry_run, int activate, evc_time now, FILE *out)
{
    char when[EVC_TIME_TEXT_MAX];
    struct evc_buf b1, b2;
    int bad = 0;

    evc_buf_init(&b1, EVC_TEXT_SHOW_MAX + 1);
    evc_buf_init(&b2, EVC_TEXT_SHOW_MAX + 1);
    evc_time_format(now, when);
    fprintf(out, "%s at %s\n\n",
            dry_run    ? "plan (dry run, nothing written)"
            : activate ? "activate"
                       : "renew",
            when);
    if (certs_table(r, out, &b1, &b2, &bad) != 0) {
        bad = 1;
    }
    if (activate) {
        size_t n = 0;

        for (size_t i = 0; i < r->nactions; i++) {
            n += strcmp(r->actions[i].action, "activate") == 0 &&
                 strcmp(r->actions[i].reason, "stale-successor") != 0 &&
                 (r->actions[i].done || dry_run);
        }
        fprintf(out, "\n%zu successor%s %s\n", n, n == 1 ? "" : "s",
                dry_run ? "to activate" : "activated");
    } else {
        fprintf(out, "\n%zu action%s\n", r->nactions, r->nactions == 1 ? "" : "s");
    }
    if (actions_table(r, dry_run, activate, out, &b1, &b2, &bad) != 0) {
        bad = 1;
    }
    if (activate && r->next_activation != 0) {
        evc_time_format(r->next_activation, when);
        fprintf(out, "the next staged successor waits until %s\n", when);
    } else if (activate && r->nactions == 0) {
        fprintf(out, "no successor is staged\n");
    }
    evc_buf_free(&b1);
    evc_buf_free(&b2);
    return ferror(out) || bad ? -1 : 0;
}

int
evc_renew_report_text(const struct evc_renew_result *r, int dry_run, evc_time now, FILE *out)
{
    return report_text(r, dry_run, 0, now, out);
}

int
evc_activate_report_text(const struct evc_renew_result *r, int dry_run, evc_time now, FILE *out)
{
    return report_text(r, dry_run, 1, now, out);
}

static json_t *
fp_json(int has, const uint8_t *fp)
{
    char hex[65];

    if (!has) {
        return json_null();
    }
    evc_text_hex(fp, 32, hex);
    return json_string(hex);
}

static json_t *
time_json(evc_time t)
{
    char when[EVC_TIME_TEXT_MAX];

    evc_time_format(t, when);
    return json_string(when);
}

/*
 * Set key to v, which may be NULL (a failed build: reported, never left
 * out). jansson takes v even when setting fails.
 */
static int
put(json_t *o, const char *key, json_t *v)
{
    return o != NULL && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

/* Text from certificates, hooks and peers: made valid UTF-8, never dropped. */
static int
put_text(json_t *o, const char *key, const char *s)
{
    return put(o, key, evc_text_jstring(s));
}

static int
cert_json(const struct evc_renew_cert *c, json_t *certs)
{
    json_t *o = json_object();

    if (put_text(o, "store", c->store) != 0 ||
        put(o, "role", json_string(evc_role_name(c->role))) != 0 ||
        put(o, "status", json_string(evc_status_name(c->status))) != 0 ||
        put(o, "kind", json_string(evc_kind_name(c->kind))) != 0 ||
        put_text(o, "subject", c->subject) != 0 ||
        put(o, "not_after", time_json(c->not_after)) != 0 ||
        put(o, "sha256", fp_json(1, c->sha256)) != 0 ||
        put(o, "plan", c->plan != NULL ? json_string(c->plan) : json_null()) != 0 ||
        put(o, "renew_at", c->renew_at != 0 ? time_json(c->renew_at) : json_null()) != 0) {
        json_decref(o);
        return -1;
    }
    return json_array_append_new(certs, o) == 0 ? 0 : -1;
}

static int
action_json(const struct evc_renew_action *a, json_t *acts)
{
    json_t *o = json_object(), *h = NULL, *v = NULL;

    if (put_text(o, "action", a->action) != 0 || put_text(o, "store", a->store) != 0 ||
        put_text(o, "reason", a->reason) != 0 ||
        put(o, "old_sha256", fp_json(a->has_old, a->old_sha256)) != 0 ||
        put(o, "new_sha256", fp_json(a->has_new, a->new_sha256)) != 0 ||
        put(o, "activate_at", a->activate_at != 0 ? time_json(a->activate_at) : json_null()) != 0 ||
        put(o, "activate_by", a->activate_by != 0 ? time_json(a->activate_by) : json_null()) != 0 ||
        put(o, "done", json_boolean(a->done)) != 0 || put_text(o, "detail", a->detail) != 0) {
        goto fail;
    }
    if (readiness_of(a)) {
        /* The clients as counted: known, how many, and who was not ready (or why unknown). */
        v = json_object();
        if (put(v, "known", json_boolean(a->ready_known)) != 0 ||
            put(v, "clients",
                a->ready_known ? json_integer((json_int_t)a->clients) : json_null()) != 0 ||
            put(v, "ready", a->ready_known ? json_integer((json_int_t)a->ready) : json_null()) !=
                0 ||
            put_text(v, "unready", a->unready) != 0) {
            goto fail;
        }
        if (put(o, "readiness", v) != 0) {
            v = NULL;
            goto fail;
        }
        v = NULL;
    }
    if (a->hook_ran || a->hook_status == -1) {
        h = json_object();
        if (put(h, "status", json_integer(a->hook_status)) != 0 ||
            put_text(h, "output", a->hook_output) != 0) {
            goto fail;
        }
        if (put(o, "hook", h) != 0) {
            h = NULL; /* taken */
            goto fail;
        }
        h = NULL;
    }
    if (a->verified != 0) {
        v = json_object();
        if (put(v, "served", json_boolean(a->verified > 0)) != 0 ||
            put_text(v, "detail", a->verify_detail) != 0) {
            goto fail;
        }
        if (put(o, "verify", v) != 0) {
            v = NULL;
            goto fail;
        }
        v = NULL;
    }
    return json_array_append_new(acts, o) == 0 ? 0 : -1;
fail:
    json_decref(h);
    json_decref(v);
    json_decref(o);
    return -1;
}

int
evc_renew_report_json(const struct evc_renew_result *r, int dry_run, evc_time now,
                      const char *error, FILE *out)
{
    json_t *root = json_object(), *certs = json_array(), *acts = json_array();
    int ret = -1;

    if (put(root, "at", time_json(now)) != 0 || put(root, "dry_run", json_boolean(dry_run)) != 0 ||
        put(root, "error", error != NULL ? evc_text_jstring(error) : json_null()) != 0 ||
        certs == NULL || acts == NULL) {
        goto out;
    }
    for (size_t i = 0; i < r->ncerts; i++) {
        if (cert_json(&r->certs[i], certs) != 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < r->nactions; i++) {
        if (action_json(&r->actions[i], acts) != 0) {
            goto out;
        }
    }
    /* The arrays go into root; from here root owns them. */
    if (json_object_set(root, "certificates", certs) != 0 ||
        json_object_set(root, "actions", acts) != 0) {
        goto out;
    }
    if (json_dumpf(root, out, JSON_INDENT(2)) != 0 || fputc('\n', out) == EOF || ferror(out)) {
        goto out;
    }
    ret = 0;
out:
    json_decref(certs);
    json_decref(acts);
    json_decref(root);
    return ret;
}
