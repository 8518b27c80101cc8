/* SPDX-License-Identifier: Apache-2.0 */
/* evercert monitor (the service, --once, --trigger) and evercert history. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "evercert/config.h"
#include "evercert/monitor.h"
#include "evercert/state.h"
#include "base/atomic.h"
#include "cli.h"

int
evc_cmd_monitor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"once", no_argument, NULL, 'o'},
        {"trigger", no_argument, NULL, 't'},      {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct evc_monitor_opts o;
    struct evc_err err = {0};
    int c, trigger = 0, status = 0;
    evc_time at;

    memset(&o, 0, sizeof(o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:ota:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'o':
            o.once = 1;
            break;
        case 't':
            trigger = 1;
            break;
        case 'a':
            if (evc_time_parse(optarg, &at) != 0) {
                evc_cli_error("--at", "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z",
                              optarg);
                return EVC_EXIT_FAILURE;
            }
            o.clock_offset = at - evc_time_now();
            break;
        case 'h':
            evc_cli_help("monitor", 0);
            return 0;
        default:
            evc_cli_help("monitor", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (o.config_path == NULL || optind != argc || (trigger && o.once)) {
        evc_cli_error("monitor",
                      "usage: evercert monitor --config FILE [--once | --trigger] [--at TIME]");
        return EVC_EXIT_FAILURE;
    }
    if (trigger) {
        char reply[600];

        if (evc_monitor_trigger(o.config_path, reply, sizeof(reply), &status, &err) != 0) {
            evc_cli_error("monitor --trigger", "%s", evc_err_message(&err));
            return EVC_EXIT_FAILURE;
        }
        fputs(reply + 2, stdout);
        return status;
    }
    if (evc_monitor_run(&o, &status, &err) != 0) {
        evc_cli_error("monitor", "%s", evc_err_message(&err));
        return EVC_EXIT_FAILURE;
    }
    return status;
}

struct history {
    int json;
    json_t *runs, *actions;
};

static int
on_run(void *arg, int64_t id, evc_time started, evc_time finished, const char *trigger, int status,
       const char *message)
{
    struct history *h = arg;
    char a[EVC_TIME_TEXT_MAX], b[EVC_TIME_TEXT_MAX];

    evc_time_format(started, a);
    evc_time_format(finished, b);
    if (h->json) {
        json_array_append_new(h->runs,
                              json_pack("{s:I, s:s, s:s, s:s, s:i, s:s}", "id", (json_int_t)id,
                                        "started", a, "finished", b, "trigger", trigger, "status",
                                        status, "message", message));
    } else {
        printf("run %lld  %s  %-10s status %d%s%s\n", (long long)id, a, trigger, status,
               *message != '\0' ? "  " : "", message);
    }
    return 0;
}

static int
on_action(void *arg, int64_t run, evc_time at, const char *action, const char *store,
          const char *reason, const char *old_sha256, const char *new_sha256, const char *detail)
{
    struct history *h = arg;
    char t[EVC_TIME_TEXT_MAX];

    evc_time_format(at, t);
    if (h->json) {
        json_array_append_new(h->actions,
                              json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "run",
                                        (json_int_t)run, "at", t, "action", action, "store", store,
                                        "reason", reason, "old_sha256", old_sha256, "new_sha256",
                                        new_sha256, "detail", detail));
    } else {
        printf("  run %lld  %s  %-13s %-12s %-14s %.16s -> %.16s  %s\n", (long long)run, t, action,
               store, reason, old_sha256, new_sha256, detail);
    }
    return 0;
}

int
evc_cmd_history(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    struct evc_config *conf = NULL;
    struct evc_state *st = NULL;
    struct evc_err err = {0};
    struct history h = {0, NULL, NULL};
    struct evc_history_cb cb = {on_run, on_action, &h};
    char path[4096];
    int c, ret = EVC_EXIT_FAILURE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                h.json = 1;
            } else if (strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'h':
            evc_cli_help("history", 0);
            return 0;
        default:
            evc_cli_help("history", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (config != NULL && evc_config_load(config, &conf, &err) != 0) {
        evc_cli_error("history", "%s", evc_err_message(&err));
        return EVC_EXIT_FAILURE;
    }
    evc_monitor_state_path(config != NULL ? config : "/etc/evercert/evercert.ini",
                           conf != NULL ? conf->monitor.state : NULL, path, sizeof(path));
    if (evc_state_open(path, 0, &st, &err) != 0) {
        evc_cli_error("history", "%s", evc_err_message(&err));
        goto out;
    }
    if (h.json) {
        h.runs = json_array();
        h.actions = json_array();
    }
    if (evc_state_history(st, &cb, &err) != 0) {
        evc_cli_error("history", "%s", evc_err_message(&err));
        goto out;
    }
    if (h.json) {
        json_t *root = json_pack("{s:O, s:O}", "runs", h.runs, "replacements", h.actions);

        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    }
    ret = 0;
out:
    json_decref(h.runs);
    json_decref(h.actions);
    evc_state_close(st);
    evc_config_free(conf);
    return ret;
}
