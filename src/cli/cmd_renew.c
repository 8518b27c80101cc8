/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert renew and evercert activate: run the replacement plan over the
 * stores of a configuration and report it as text or JSON (jansson).
 *
 * EVERCERT_FAULT_AT=N in the environment ends the process at the N-th
 * disk-changing step, as a crash would; the crash test uses it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "evercert/renew.h"
#include "base/atomic.h"
#include "base/text.h"
#include "cli.h"

static unsigned long fault_at;

static void
fault_hook(unsigned long step)
{
    if (step == fault_at) {
        _exit(99);
    }
}

static void
hex_short(const uint8_t *fp, char out[17])
{
    evc_text_hex(fp, 8, out);
}

static void
print_text(const struct evc_renew_result *r, int dry_run, evc_time now)
{
    char when[EVC_TIME_TEXT_MAX], hex[17], hex2[17];

    evc_time_format(now, when);
    printf("%s at %s\n\n", dry_run ? "plan (dry run, nothing written)" : "renew", when);
    printf("%-12s %-9s %-10s %-12s %-20s %-16s %s\n", "STORE", "ROLE", "STATUS", "KIND",
           "NOT AFTER", "SHA256", "SUBJECT");
    for (size_t i = 0; i < r->ncerts; i++) {
        const struct evc_renew_cert *c = &r->certs[i];

        evc_time_format(c->not_after, when);
        hex_short(c->sha256, hex);
        printf("%-12s %-9s %-10s %-12s %-20s %-16s %s\n", c->store, evc_role_name(c->role),
               evc_status_name(c->status), evc_kind_name(c->kind), when, hex, c->subject);
    }
    printf("\n%zu action%s\n", r->nactions, r->nactions == 1 ? "" : "s");
    for (size_t i = 0; i < r->nactions; i++) {
        const struct evc_renew_action *a = &r->actions[i];

        hex_short(a->old_sha256, hex);
        hex_short(a->new_sha256, hex2);
        printf("  %-13s %-12s %-14s %s%s%s", a->action, a->store, a->reason, a->has_old ? hex : "",
               a->has_old && a->has_new ? " -> " : "", a->has_new ? hex2 : "");
        if (a->activate_at != 0) {
            evc_time_format(a->activate_at, when);
            printf(" activate at %s", when);
        }
        if (a->detail[0] != '\0') {
            printf(" (%s)", a->detail);
        }
        if (a->verified != 0) {
            printf(" [%s: %s]", a->verified > 0 ? "verified" : "NOT VERIFIED", a->verify_detail);
        }
        printf("%s\n", a->done || dry_run ? "" : " NOT DONE");
    }
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

static int
print_json(const struct evc_renew_result *r, int dry_run, evc_time now, const char *error)
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
    ok = json_dumpf(root, stdout, JSON_INDENT(2)) == 0;
    putchar('\n');
    json_decref(root);
    return ok ? 0 : -1;
}

static int
run(const char *cmd, int argc, char **argv, int activate_only)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"dry-run", no_argument, NULL, 'n'},
        {"at", required_argument, NULL, 'a'},     {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *fault = getenv("EVERCERT_FAULT_AT");
    struct evc_renew_opts o;
    struct evc_renew_result res;
    struct evc_config *conf = NULL;
    struct evc_err err = {0};
    int c, json = 0, r, ret = EVC_EXIT_FAILURE;

    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    o.now = evc_time_now();
    o.activate_only = activate_only;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:na:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'n':
            o.dry_run = 1;
            break;
        case 'a':
            if (evc_time_parse(optarg, &o.now) != 0) {
                evc_cli_error("--at", "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z",
                              optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                json = 1;
            } else if (strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'h':
            evc_cli_help(cmd, 0);
            return 0;
        default:
            evc_cli_help(cmd, 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (config == NULL || optind != argc) {
        evc_cli_error(cmd, optind != argc ? "unexpected argument" : "--config FILE is required");
        return EVC_EXIT_FAILURE;
    }
    if (fault != NULL && (fault_at = strtoul(fault, NULL, 10)) > 0) {
        evc_fault_hook = fault_hook;
    }
    if (evc_config_load(config, &conf, &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        return EVC_EXIT_FAILURE;
    }
    o.config = conf;
    r = evc_renew_run(&o, &res, &err);
    if (r != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
    }
    /* A store that cannot be read stops the run before it reports anything. */
    if (r == 0 || res.nactions > 0) {
        if (json) {
            (void)print_json(&res, o.dry_run, o.now, r != 0 ? evc_err_message(&err) : NULL);
        } else {
            print_text(&res, o.dry_run, o.now);
        }
    }
    ret = r == 0 ? 0 : EVC_EXIT_FAILURE;
    /* Finished, but a hook failed or a server does not serve what it should. */
    for (size_t i = 0; ret == 0 && i < res.nactions; i++) {
        if ((res.actions[i].hook_ran && res.actions[i].hook_status != 0) ||
            res.actions[i].hook_status == -1 || res.actions[i].verified < 0) {
            ret = 1;
        }
    }
    evc_renew_result_clear(&res);
    evc_config_free(conf);
    return ret;
}

int
evc_cmd_renew(int argc, char **argv)
{
    return run("renew", argc, argv, 0);
}

int
evc_cmd_activate(int argc, char **argv)
{
    return run("activate", argc, argv, 1);
}
