/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal report, as text tables or JSON: the certificates found with
 * status and kind, and every action with old and new fingerprints, hook
 * and verification results. Used by `renew`, `activate` and the monitor.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "evercert/renew_report.h"
#include "base/text.h"

static void
hex_short(const uint8_t *fp, char out[17])
{
    evc_text_hex(fp, 8, out);
}

int
evc_renew_report_text(const struct evc_renew_result *r, int dry_run, evc_time now, FILE *out)
{
    char when[EVC_TIME_TEXT_MAX], hex[17], hex2[17];

    evc_time_format(now, when);
    fprintf(out, "%s at %s\n\n", dry_run ? "plan (dry run, nothing written)" : "renew", when);
    fprintf(out, "%-12s %-9s %-10s %-12s %-20s %-16s %s\n", "STORE", "ROLE", "STATUS", "KIND",
            "NOT AFTER", "SHA256", "SUBJECT");
    for (size_t i = 0; i < r->ncerts; i++) {
        const struct evc_renew_cert *c = &r->certs[i];

        evc_time_format(c->not_after, when);
        hex_short(c->sha256, hex);
        fprintf(out, "%-12s %-9s %-10s %-12s %-20s %-16s %s\n", c->store, evc_role_name(c->role),
                evc_status_name(c->status), evc_kind_name(c->kind), when, hex, c->subject);
    }
    fprintf(out, "\n%zu action%s\n", r->nactions, r->nactions == 1 ? "" : "s");
    for (size_t i = 0; i < r->nactions; i++) {
        const struct evc_renew_action *a = &r->actions[i];

        hex_short(a->old_sha256, hex);
        hex_short(a->new_sha256, hex2);
        fprintf(out, "  %-13s %-12s %-14s %s%s%s", a->action, a->store, a->reason,
                a->has_old ? hex : "", a->has_old && a->has_new ? " -> " : "",
                a->has_new ? hex2 : "");
        if (a->activate_at != 0) {
            evc_time_format(a->activate_at, when);
            fprintf(out, " activate at %s", when);
        }
        if (a->detail[0] != '\0') {
            fprintf(out, " (%s)", a->detail);
        }
        if (a->verified != 0) {
            fprintf(out, " [%s: %s]", a->verified > 0 ? "verified" : "NOT VERIFIED",
                    a->verify_detail);
        }
        fprintf(out, "%s\n", a->done || dry_run ? "" : " NOT DONE");
    }
    return ferror(out) ? -1 : 0;
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

int
evc_renew_report_json(const struct evc_renew_result *r, int dry_run, evc_time now,
                      const char *error, FILE *out)
{
    json_t *root = json_object(), *certs = json_array(), *acts = json_array();
    int ok;

    json_object_set_new(root, "at", time_json(now));
    json_object_set_new(root, "dry_run", json_boolean(dry_run));
    json_object_set_new(root, "error", error != NULL ? json_string(error) : json_null());
    for (size_t i = 0; i < r->ncerts; i++) {
        const struct evc_renew_cert *c = &r->certs[i];

        json_array_append_new(
            certs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "store", c->store, "role",
                             evc_role_name(c->role), "status", evc_status_name(c->status), "kind",
                             evc_kind_name(c->kind), "subject", c->subject, "not_after",
                             time_json(c->not_after), "sha256", fp_json(1, c->sha256)));
    }
    for (size_t i = 0; i < r->nactions; i++) {
        const struct evc_renew_action *a = &r->actions[i];

        json_array_append_new(
            acts, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:s}", "action", a->action,
                            "store", a->store, "reason", a->reason, "old_sha256",
                            fp_json(a->has_old, a->old_sha256), "new_sha256",
                            fp_json(a->has_new, a->new_sha256), "activate_at",
                            a->activate_at != 0 ? time_json(a->activate_at) : json_null(), "done",
                            a->done, "detail", a->detail));
        json_t *last = json_array_get(acts, json_array_size(acts) - 1);

        if (a->hook_ran || a->hook_status == -1) {
            json_object_set_new(
                last, "hook",
                json_pack("{s:i, s:s}", "status", a->hook_status, "output", a->hook_output));
        }
        if (a->verified != 0) {
            json_object_set_new(
                last, "verify",
                json_pack("{s:b, s:s}", "served", a->verified > 0, "detail", a->verify_detail));
        }
    }
    json_object_set_new(root, "certificates", certs);
    json_object_set_new(root, "actions", acts);
    ok = json_dumpf(root, out, JSON_INDENT(2)) == 0;
    fputc('\n', out);
    json_decref(root);
    return ok ? 0 : -1;
}
