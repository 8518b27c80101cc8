/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert renew and evercert activate: run the replacement plan over the
 * stores of a configuration and report it as text or JSON (jansson). The
 * text says where replaced certificates go when no store has role =
 * deleted (the default deleted store beside the state).
 *
 * EVERCERT_FAULT_AT=N in the environment ends the process at the N-th
 * disk-changing step, as a crash would; the crash test uses it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evercert/config.h"
#include "evercert/limits.h"
#include "evercert/monitor.h"
#include "evercert/renew.h"
#include "evercert/renew_report.h"
#include "evercert/shared.h"
#include "evercert/state.h"
#include "base/atomic.h"
#include "base/text.h"
#include "cli.h"

/*
 * What a hand-run renew or activate did goes into the monitor's history
 * beside its passes, so `history` tells the whole story. The monitor may
 * be running: the state is opened shared. Without a monitor's state there
 * is no history to complete, and none is started.
 */
static void
record(const char *cmd, const char *config, const struct evc_config *conf,
       const struct evc_renew_opts *o, const struct evc_renew_result *res, const char *error,
       int status)
{
    struct evc_run_record rec;
    struct evc_state *st = NULL;
    struct evc_err err = {0};
    char path[EVC_PATH_MAX];

    evc_config_state_path(config, conf->monitor.state, path, sizeof(path));
    if (access(path, F_OK) != 0) {
        return;
    }
    memset(&rec, 0, sizeof(rec));
    rec.started = o->now;
    rec.finished = o->now;
    rec.trigger = cmd;
    rec.status = status;
    rec.message = error;
    if (evc_state_open(path, 0, &st, &err) != 0 || evc_state_record_run(st, &rec, res, &err) != 0) {
        evc_cli_error(cmd, "history not written: %s", evc_err_message(&err));
    }
    evc_state_close(st);
}

/* The fleet's steps (lease taken, published) on stderr, beside the report on stdout. */
static void
shared_log(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    fprintf(stderr, "evercert: %s\n", msg);
}

static int
run(const char *cmd, int argc, char **argv, int activate_only)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"dry-run", no_argument, NULL, 'n'},
        {"at", required_argument, NULL, 'a'},     {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    struct evc_renew_opts o;
    struct evc_renew_result res;
    struct evc_config *conf = NULL;
    struct evc_err err = {0};
    struct evc_shared_ctx *sh = NULL;
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
    evc_cli_fault_init();
    if (evc_config_load(config, &conf, &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        return EVC_EXIT_FAILURE;
    }
    evc_config_renew_opts(conf, &o);
    o.readiness =
        evc_monitor_readiness; /* activate = ready counts the clients as the monitor does */
    /* Shared stores renew through the fleet's database, as the monitor's do. */
    if (!o.dry_run &&
        evc_shared_ctx_new(conf, conf->monitor.fleet_url, shared_log, NULL, &sh, &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
    }
    evc_shared_hooks(sh, &o);
    r = evc_renew_run(&o, &res, &err);
    evc_shared_ctx_free(sh);
    if (r != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
    }
    /* A store that cannot be read stops the run before it reports anything. */
    if ((r == 0 || res.nactions > 0) &&
        (json ? evc_renew_report_json(&res, o.dry_run, o.now, r != 0 ? evc_err_message(&err) : NULL,
                                      stdout)
              : (activate_only ? evc_activate_report_text
                               : evc_renew_report_text)(&res, o.dry_run, o.now, stdout)) != 0) {
        /* What was done stands; the report of it did not get out whole. */
        evc_cli_error(cmd, "cannot write the report");
        r = EVC_ERR_IO;
    }
    /* Where replaced certificates went, when the configuration did not say. */
    for (size_t i = 0; !json && (r == 0 || res.nactions > 0) && i < conf->nstores; i++) {
        if (conf->stores[i].implicit) {
            struct evc_buf b;

            evc_buf_init(&b, EVC_TEXT_SHOW_MAX + 1);
            if (evc_text_nvis(&b, conf->stores[i].path, EVC_TEXT_SHOW_MAX) == 0) {
                printf("replaced certificates are kept in %s (no store has role = deleted)\n",
                       evc_buf_str(&b));
            }
            evc_buf_free(&b);
        }
    }
    ret = r == 0 ? 0 : EVC_EXIT_FAILURE;
    /* Finished, but a hook failed or a server does not serve what it should. */
    for (size_t i = 0; ret == 0 && i < res.nactions; i++) {
        const struct evc_renew_action *a = &res.actions[i];

        if ((a->hook_ran && a->hook_status != 0) || a->hook_status == -1 || a->verified < 0 ||
            (strcmp(a->action, "wait") == 0 &&
             (strcmp(a->reason, "fleet-down") == 0 || strcmp(a->reason, "refused") == 0))) {
            ret = 1;
        }
    }
    if (!o.dry_run) {
        record(cmd, config, conf, &o, &res, r != 0 ? evc_err_message(&err) : NULL,
               r != 0     ? 3
               : ret == 1 ? 2
                          : 0);
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
