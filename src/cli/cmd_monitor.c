/* SPDX-License-Identifier: Apache-2.0 */
/* evercert monitor (the service, --once, --trigger) and evercert history. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evercert/agent.h"
#include "evercert/config.h"
#include "evercert/monitor.h"
#include "evercert/state.h"
#include "base/atomic.h"
#include "base/table.h"
#include "base/text.h"
#include "cli.h"

/*
 * monitor --once --format json: the pass's report (as report_file gets
 * it: certificates, actions, error) with the pass's Nagios status, one
 * document on stdout. The log lines still go to the log. No report, or
 * one that does not parse as an object, prints nothing: a document of
 * only the status would read as a pass that found nothing. 0, -1 when
 * there was no whole report, -2 when it could not be written.
 */
static int
print_once_json(const char *buf, size_t len, int status)
{
    json_error_t jerr;
    json_t *root = len > 0 ? json_loadb(buf, len, 0, &jerr) : NULL;
    int r = -2;

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    if (json_object_set_new(root, "status", json_integer(status)) == 0 &&
        json_object_set_new(root, "status_text", json_string(evc_cli_nagios_name(status))) == 0 &&
        json_dumpf(root, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF &&
        fflush(stdout) == 0) {
        r = 0;
    }
    json_decref(root);
    return r;
}

int
evc_cmd_monitor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"once", no_argument, NULL, 'o'},
        {"trigger", no_argument, NULL, 't'},      {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},         {"check-config", no_argument, NULL, 'C'},
        {"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0},
    };
    struct evc_monitor_opts o;
    struct evc_err err = {0};
    int c, trigger = 0, status = 0, check = 0, json = 0, r;
    char *buf = NULL;
    size_t blen = 0;
    evc_time at;

    memset(&o, 0, sizeof(o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:ota:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'c':
            o.config_path = optarg;
            break;
        case 'o':
            o.once = 1;
            break;
        case 't':
            trigger = 1;
            break;
        case 'C':
            check = 1;
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
    if (o.config_path == NULL || optind != argc || (trigger && o.once) ||
        (check && (trigger || o.once)) || (json && !o.once)) {
        evc_cli_error("monitor",
                      "usage: evercert monitor --config FILE [--once [--format text|json] "
                      "| --trigger | --check-config] [--at TIME]");
        return EVC_EXIT_FAILURE;
    }
    if (check) {
        return evc_cli_check_config(o.config_path, EVC_CONFIG_USE_MONITOR);
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
    if (json && (o.report = open_memstream(&buf, &blen)) == NULL) {
        evc_cli_error("monitor", "out of memory");
        return EVC_EXIT_FAILURE;
    }
    evc_cli_fault_init(); /* the crash tests stop a pass at its N-th disk-changing step */
    r = evc_monitor_run(&o, &status, &err);
    if (o.report != NULL && fclose(o.report) != 0) {
        free(buf);
        buf = NULL;
        blen = 0;
    }
    if (r != 0) {
        evc_cli_error("monitor", "%s", evc_err_message(&err));
        free(buf);
        return EVC_EXIT_FAILURE;
    }
    if (json && (r = print_once_json(buf != NULL ? buf : "", blen, status)) != 0) {
        evc_cli_error("monitor", "%s",
                      r == -1 ? "the pass made no whole report (the log says why); no JSON written"
                              : "the JSON report could not be written");
        status = EVC_EXIT_FAILURE;
    }
    free(buf);
    return status;
}

/*
 * The history holds what hooks printed and peers said: escaped and cut for
 * a terminal, made valid UTF-8 for JSON, and a listing that cannot be built
 * whole is an error, never a shorter listing.
 */
struct history {
    int json, failed;
    json_t *runs, *actions, *decisions, *next;
    /* As text: tables kept whole, so columns fit their widest value. */
    struct evc_table truns, tactions, tdecisions;
    struct evc_buf vis[6];
};

static void
add_row(struct history *h, struct evc_table *t, const char *const *row)
{
    if (evc_table_add(t, row) != 0) {
        h->failed = 1;
    }
}

static const char *
shown(struct history *h, int i, const char *s)
{
    evc_buf_reset(&h->vis[i]);
    if (evc_text_nvis(&h->vis[i], s, EVC_TEXT_SHOW_MAX) != 0) {
        h->failed = 1;
        return "";
    }
    return evc_buf_str(&h->vis[i]);
}

/* o is NULL when jansson could not build it. */
static int
add(struct history *h, json_t *list, json_t *o)
{
    if (json_array_append_new(list, o) != 0) {
        h->failed = 1;
        return EVC_ERR_NOMEM;
    }
    return 0;
}

static int
on_decision(void *arg, const struct evc_agent_event *e)
{
    struct history *h = arg;
    char t[EVC_TIME_TEXT_MAX];

    evc_time_format(e->at, t);
    if (h->json) {
        return add(h, h->decisions,
                   json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o}", "at", t, "server",
                             evc_text_jstring(e->server), "event", evc_text_jstring(e->event),
                             "reason", evc_text_jstring(e->reason), "sa", (json_int_t)e->sa_id,
                             "generation", (json_int_t)e->generation, "source",
                             evc_text_jstring(e->source), "detail", evc_text_jstring(e->detail)));
    }
    {
        char gen[40], by[EVC_TEXT_SHOW_MAX + 8];
        const char *row[7] = {
            t,  shown(h, 0, e->server), shown(h, 1, e->event), shown(h, 2, e->reason), gen,
            by, shown(h, 4, e->detail)};

        snprintf(gen, sizeof(gen), "generation %llu", (unsigned long long)e->generation);
        snprintf(by, sizeof(by), "%s%s", *e->source != '\0' ? "by " : "", shown(h, 3, e->source));
        add_row(h, &h->tdecisions, row);
    }
    return 0;
}

static int
on_run(void *arg, int64_t id, evc_time started, evc_time finished, const char *trigger, int status,
       const char *message)
{
    struct history *h = arg;
    char a[EVC_TIME_TEXT_MAX], b[EVC_TIME_TEXT_MAX];

    evc_time_format(started, a);
    evc_time_format(finished, b);
    if (h->json) {
        return add(h, h->runs,
                   json_pack("{s:I, s:s, s:s, s:o, s:i, s:o}", "id", (json_int_t)id, "started", a,
                             "finished", b, "trigger", evc_text_jstring(trigger), "status", status,
                             "message", evc_text_jstring(message)));
    }
    {
        char id_text[32], st[32];
        const char *row[5] = {id_text, a, shown(h, 0, trigger), st, shown(h, 1, message)};

        snprintf(id_text, sizeof(id_text), "run %lld", (long long)id);
        snprintf(st, sizeof(st), "status %d", status);
        add_row(h, &h->truns, row);
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
        return add(h, h->actions,
                   json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "run", (json_int_t)run,
                             "at", t, "action", evc_text_jstring(action), "store",
                             evc_text_jstring(store), "reason", evc_text_jstring(reason),
                             "old_sha256", evc_text_jstring(old_sha256), "new_sha256",
                             evc_text_jstring(new_sha256), "detail", evc_text_jstring(detail)));
    }
    {
        char id_text[32], fps[40];
        const char *row[7] = {id_text,
                              t,
                              shown(h, 0, action),
                              shown(h, 1, store),
                              shown(h, 2, reason),
                              fps,
                              shown(h, 5, detail)};

        snprintf(id_text, sizeof(id_text), "run %lld", (long long)run);
        snprintf(fps, sizeof(fps), "%.16s -> %.16s", shown(h, 3, old_sha256),
                 shown(h, 4, new_sha256));
        add_row(h, &h->tactions, row);
    }
    return 0;
}

/* What the monitor does next: the scheduled report pass, and its own clock's next wake-up. */
static int
next_lines(struct history *h, struct evc_state *st, struct evc_err *err)
{
    char sched[128], why[64], a[EVC_TIME_TEXT_MAX], b[EVC_TIME_TEXT_MAX];
    evc_time start, wake;
    int r;

    if ((r = evc_state_next_get(st, &start, sched, sizeof(sched), err)) != 0 ||
        (r = evc_state_wake_get(st, &wake, why, sizeof(why), err)) != 0) {
        return r;
    }
    evc_time_format(start, a);
    evc_time_format(wake, b);
    if (h->json) {
        h->next = json_pack("{s:o, s:o, s:o}", "report_pass",
                            start != 0 ? json_string(a) : json_null(), "wake",
                            wake != 0 ? json_string(b) : json_null(), "why", evc_text_jstring(why));
        return h->next != NULL ? 0 : (h->failed = 1, EVC_ERR_NOMEM);
    }
    printf("next report pass  %s\n", start != 0 ? a : "none scheduled");
    printf("next wake-up      %s%s%s%s\n", wake != 0 ? b : "nothing due", wake != 0 ? "  (" : "",
           shown(h, 0, wake != 0 ? why : ""), wake != 0 ? ")" : "");
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
    struct history h;
    struct evc_history_cb cb = {on_run, on_action, &h};
    char path[4096];
    int c, ret = EVC_EXIT_FAILURE;

    memset(&h, 0, sizeof(h));
    evc_table_init(&h.truns, 5);
    evc_table_init(&h.tactions, 7);
    evc_table_init(&h.tdecisions, 7);
    for (size_t i = 0; i < sizeof(h.vis) / sizeof(h.vis[0]); i++) {
        evc_buf_init(&h.vis[i], EVC_TEXT_SHOW_MAX + 1);
    }
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
    if (h.json) {
        h.runs = json_array();
        h.actions = json_array();
        h.decisions = json_array();
        if (h.runs == NULL || h.actions == NULL || h.decisions == NULL) {
            evc_cli_error("history", "out of memory");
            goto out;
        }
    }
    /* The monitor's runs, if the configuration has stores (or none is given). */
    if (conf == NULL || conf->nstores > 0) {
        evc_config_state_path(config != NULL ? config : "/etc/evercert/evercert.ini",
                              conf != NULL ? conf->monitor.state : NULL, path, sizeof(path));
        if (evc_state_open(path, 0, &st, &err) != 0 || evc_state_history(st, &cb, &err) != 0 ||
            next_lines(&h, st, &err) != 0) {
            evc_cli_error("history", "%s",
                          h.failed ? "cannot build the listing" : evc_err_message(&err));
            goto out;
        }
        evc_state_close(st);
        st = NULL;
    }
    /* The agent's decisions, if it follows servers. */
    if (conf != NULL && conf->nservers > 0) {
        evc_agent_state_path(config, conf->agent.state, path, sizeof(path));
        if (evc_state_open(path, 0, &st, &err) != 0 ||
            evc_state_agent_events(st, on_decision, &h, &err) != 0) {
            evc_cli_error("history", "%s",
                          h.failed ? "cannot build the listing" : evc_err_message(&err));
            goto out;
        }
    }
    if (h.json) {
        json_t *root = json_pack("{s:O, s:O, s:O, s:O?}", "runs", h.runs, "replacements", h.actions,
                                 "agent", h.decisions, "next", h.next);
        int bad =
            root == NULL || json_dumpf(root, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF;

        json_decref(root);
        if (bad) {
            h.failed = 1;
        }
    }
    if (!h.json && !h.failed &&
        (evc_table_print(&h.truns, stdout, "", 2) != 0 ||
         evc_table_print(&h.tactions, stdout, "  ", 2) != 0 ||
         evc_table_print(&h.tdecisions, stdout, "agent  ", 2) != 0)) {
        h.failed = 1;
    }
    if (h.failed || fflush(stdout) != 0) {
        evc_cli_error("history", "cannot write the listing");
        goto out;
    }
    ret = 0;
out:
    for (size_t i = 0; i < sizeof(h.vis) / sizeof(h.vis[0]); i++) {
        evc_buf_free(&h.vis[i]);
    }
    evc_table_free(&h.truns);
    evc_table_free(&h.tactions);
    evc_table_free(&h.tdecisions);
    json_decref(h.runs);
    json_decref(h.actions);
    json_decref(h.decisions);
    json_decref(h.next);
    evc_state_close(st);
    evc_config_free(conf);
    return ret;
}
