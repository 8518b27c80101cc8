/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert fleet: what the fleet inventory says across hosts, read from
 * the fleet database (a PostgreSQL URL) or from one host's SQLite state,
 * as text, JSON or Prometheus, with scan's exit status.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/agent.h"
#include "evercert/config.h"
#include "evercert/fleet.h"
#include "evercert/limits.h"
#include "evercert/report.h"
#include "cli.h"

static int
span_arg(const char *opt, const char *arg, evc_time *out)
{
    struct evc_span s;

    if (evc_span_parse(arg, &s) != 0 || s.unit != EVC_SPAN_SECONDS) {
        evc_cli_error(opt, "'%s': expected a duration like 30d, 12h, 90m or 45s", arg);
        return -1;
    }
    *out = evc_span_seconds(&s, 0);
    return 0;
}

int
evc_cmd_fleet(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"at", required_argument, NULL, 'a'},
        {"expiring", required_argument, NULL, 'e'},
        {"stale", required_argument, NULL, 'S'},
        {"host", required_argument, NULL, 'H'},
        {"password-file", required_argument, NULL, 'P'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct evc_fleet_query q;
    struct evc_secret pw = {NULL, 0};
    struct evc_config *conf = NULL;
    struct evc_err err = {0};
    enum evc_report_format format = EVC_REPORT_TEXT;
    enum evc_fleet_format ff;
    const char *state = NULL, *config = NULL, *pwfile = NULL;
    char local[EVC_PATH_MAX];
    int c, status = 3, ret = EVC_EXIT_FAILURE;
    evc_time stale = 0;

    memset(&q, 0, sizeof(q));
    q.now = evc_time_now();
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:c:f:a:e:H:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'f':
            if (evc_report_format_parse(optarg, &format) != 0) {
                evc_cli_error("--format", "'%s': expected text, json or prometheus", optarg);
                goto out;
            }
            break;
        case 'a':
            if (evc_time_parse(optarg, &q.now) != 0) {
                evc_cli_error("--at", "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z",
                              optarg);
                goto out;
            }
            break;
        case 'e':
            if (span_arg("--expiring", optarg, &q.expiring) != 0) {
                goto out;
            }
            q.only_expiring = 1;
            break;
        case 'S':
            if (span_arg("--stale", optarg, &stale) != 0) {
                goto out;
            }
            break;
        case 'H':
            q.host = optarg;
            break;
        case 'P':
            pwfile = optarg;
            break;
        case 'v':
            q.verbose = 1;
            break;
        case 'h':
            evc_cli_help("fleet", 0);
            ret = 0;
            goto out;
        default:
            fprintf(stderr, "usage: evercert fleet --state URL|FILE | --config FILE [options]"
                            " (see 'evercert help fleet')\n");
            goto out;
        }
    }
    if (optind != argc || (state == NULL && config == NULL)) {
        evc_cli_error("fleet",
                      "give --state URL|FILE or --config FILE (see 'evercert help fleet')");
        goto out;
    }
    if (config != NULL) {
        if (evc_config_load(config, &conf, &err) != 0) {
            evc_cli_error("fleet", "%s", evc_err_message(&err));
            goto out;
        }
        q.stale = conf->fleet.stale;
        if (pwfile == NULL) {
            pwfile = conf->fleet.password_file;
        }
        /* The fleet's database when there is one, else this host's own state. */
        if (state == NULL) {
            if (conf->monitor.fleet_url != NULL || conf->agent.fleet_url != NULL) {
                state = conf->monitor.fleet_url != NULL ? conf->monitor.fleet_url
                                                        : conf->agent.fleet_url;
            } else if (conf->nstores > 0 || conf->nservers == 0) {
                evc_config_state_path(config, conf->monitor.state, local, sizeof(local));
                state = local;
            } else {
                evc_agent_state_path(config, conf->agent.state, local, sizeof(local));
                state = local;
            }
        }
    }
    if (stale > 0) {
        q.stale = stale;
    }
    if (pwfile != NULL && evc_secret_from_file(&pw, pwfile) != 0) {
        goto out;
    }
    q.target = state;
    q.password = pw.value;
    ff = format == EVC_REPORT_JSON         ? EVC_FLEET_JSON
         : format == EVC_REPORT_PROMETHEUS ? EVC_FLEET_PROMETHEUS
                                           : EVC_FLEET_TEXT;
    if (evc_fleet_report(&q, ff, stdout, &status, &err) != 0) {
        /* The library's messages name the database with its password taken out. */
        evc_cli_error("fleet", "%s", evc_err_message(&err));
        goto out;
    }
    ret = status;
out:
    evc_secret_free(&pw);
    evc_config_free(conf);
    return ret;
}
