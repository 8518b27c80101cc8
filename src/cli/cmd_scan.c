/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert scan: options in, evc_scan() out, the exit status of a Nagios
 * plugin. Arguments that are URLs (tls://, smtp://, imap://, postgres://)
 * are endpoints, scanned first on one event loop; their rows join the
 * files' in one report.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "evercert/endpoint.h"
#include "evercert/report.h"
#include "evercert/scan.h"

static void
progress(void *arg, size_t certs, size_t files_done, size_t files_total, int done)
{
    (void)arg;
    if (done) {
        fputs("\r\033[K", stderr);
    } else {
        fprintf(stderr, "\revercert: scanning: %zu certificates, %zu of %zu files", certs,
                files_done, files_total);
    }
    fflush(stderr);
}

static int
parse_span(const char *opt, const char *arg, struct evc_span *out)
{
    if (evc_span_parse(arg, out) != 0) {
        evc_cli_error(opt, "'%s': expected a duration like 60d, 12h, 90m, 45s or a share like 33%%",
                      arg);
        return -1;
    }
    return 0;
}

int
evc_cmd_scan(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"threshold", required_argument, NULL, 't'},
        {"prenotify", required_argument, NULL, 'p'},
        {"at", required_argument, NULL, 'a'},
        {"password-file", required_argument, NULL, 'P'},
        {"password-env", required_argument, NULL, 'E'},
        {"jobs", required_argument, NULL, 'j'},
        {"ca", required_argument, NULL, 'C'},
        {"compare", required_argument, NULL, 'K'},
        {"parallel", required_argument, NULL, 'N'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct evc_scan_opts o;
    struct evc_secret pw = {NULL, 0};
    struct evc_report *rep = NULL;
    struct evc_summary sum;
    struct evc_err err = {0};
    enum evc_report_format format = EVC_REPORT_TEXT;
    const char *nocolor = getenv("NO_COLOR"), *term = getenv("TERM");
    int c, color, ret = EVC_EXIT_FAILURE;
    char *end;
    long jobs;
    struct evc_ep_opts eo;
    struct evc_ep_url *urls = NULL;
    struct evc_ep_result *res = NULL;
    const char **paths = NULL;
    const char *compare = NULL;
    uint8_t compare_sha[32];
    size_t nurls = 0, npaths = 0;
    struct evc_span span;

    evc_scan_opts_default(&o, evc_time_now());
    evc_ep_opts_default(&eo, o.now);
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:p:a:j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (evc_report_format_parse(optarg, &format) != 0) {
                evc_cli_error("--format", "'%s': expected text, json or prometheus", optarg);
                goto out;
            }
            break;
        case 't':
            if (parse_span("--threshold", optarg, &o.thresholds.threshold) != 0) {
                goto out;
            }
            break;
        case 'p':
            if (parse_span("--prenotify", optarg, &o.thresholds.prenotify) != 0) {
                goto out;
            }
            break;
        case 'a':
            if (evc_time_parse(optarg, &o.now) != 0) {
                evc_cli_error("--at", "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z",
                              optarg);
                goto out;
            }
            break;
        case 'P':
        case 'E':
            if (pw.value != NULL) {
                evc_cli_error(c == 'P' ? "--password-file" : "--password-env",
                              "only one password source may be given");
                goto out;
            }
            if ((c == 'P' ? evc_secret_from_file(&pw, optarg) : evc_secret_from_env(&pw, optarg)) !=
                0) {
                goto out;
            }
            break;
        case 'j':
            jobs = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || jobs < 1 || jobs > 64) {
                evc_cli_error("--jobs", "'%s': expected a number from 1 to 64", optarg);
                goto out;
            }
            o.jobs = (int)jobs;
            break;
        case 'C':
            eo.ca = optarg;
            break;
        case 'K':
            compare = optarg;
            break;
        case 'N':
            jobs = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || jobs < 1 || jobs > EVC_EP_PARALLEL_MAX) {
                evc_cli_error("--parallel", "'%s': expected a number from 1 to %d", optarg,
                              EVC_EP_PARALLEL_MAX);
                goto out;
            }
            eo.parallel = (int)jobs;
            break;
        case 'T':
            jobs = strtol(optarg, &end, 10);
            if (*optarg != '\0' && *end == '\0' && jobs >= 1 && jobs <= 3600) {
                eo.timeout_ms = (int64_t)jobs * 1000;
            } else if (evc_span_parse(optarg, &span) == 0 && span.unit == EVC_SPAN_SECONDS &&
                       span.value >= 1 && span.value <= 3600) {
                eo.timeout_ms = span.value * 1000;
            } else {
                evc_cli_error("--timeout", "'%s': expected seconds from 1 to 3600, like 10 or 10s",
                              optarg);
                goto out;
            }
            break;
        case 'h':
            evc_cli_help("scan", 0);
            ret = 0;
            goto out;
        default:
            fprintf(stderr,
                    "usage: evercert scan [options] PATH|URL... (see 'evercert help scan')\n");
            goto out;
        }
    }
    if (optind >= argc) {
        evc_cli_error("scan", "no PATH or URL given (see 'evercert help scan')");
        goto out;
    }
    eo.at = o.now;
    if ((urls = calloc((size_t)argc, sizeof(*urls))) == NULL ||
        (paths = calloc((size_t)argc, sizeof(*paths))) == NULL) {
        evc_cli_error("scan", "out of memory");
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        if (!evc_ep_is_url(argv[i])) {
            paths[npaths++] = argv[i];
            continue;
        }
        if (evc_ep_url_parse(argv[i], &urls[nurls], &err) != 0) {
            evc_cli_error("scan", "%s", evc_err_message(&err));
            goto out;
        }
        nurls++;
    }
    if (compare != NULL && nurls == 0) {
        evc_cli_error("--compare", "no URL given to compare with");
        goto out;
    }
    if (compare != NULL && evc_ep_file_sha256(compare, compare_sha, &err) != 0) {
        evc_cli_error("--compare", "%s", evc_err_message(&err));
        goto out;
    }
    if (nurls > 0) {
        if (evc_ep_scan(urls, nurls, &eo, &res, &err) != 0) {
            evc_cli_error("scan", "%s", evc_err_message(&err));
            goto out;
        }
        for (size_t i = 0; compare != NULL && i < nurls; i++) {
            res[i].compare_name = compare;
            memcpy(res[i].compare_sha256, compare_sha, sizeof(compare_sha));
            res[i].compare_set = 1;
        }
        o.endpoints = res;
        o.nendpoints = nurls;
    }
    o.password = pw.value;
    if (isatty(STDERR_FILENO)) {
        o.progress = progress;
    }
    color = format == EVC_REPORT_TEXT && isatty(STDOUT_FILENO) &&
            (nocolor == NULL || *nocolor == '\0') && (term == NULL || strcmp(term, "dumb") != 0);
    if (evc_report_new(format, stdout, color, &rep) != 0) {
        evc_cli_error("scan", "out of memory");
        goto out;
    }
    if (evc_scan(paths, npaths, &o, rep, &sum, &err) != 0) {
        evc_cli_error("scan", "%s", evc_err_message(&err));
        goto out;
    }
    if (format == EVC_REPORT_PROMETHEUS && nurls > 0) {
        struct evc_buf b;
        int r;

        evc_buf_init(&b, SIZE_MAX / 2);
        r = evc_ep_prom(res, nurls, NULL, &b);
        if (r != 0 || fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
            evc_buf_free(&b);
            evc_cli_error("scan", "cannot write the report");
            goto out;
        }
        evc_buf_free(&b);
    }
    ret = evc_scan_exit_status(&sum);
out:
    evc_ep_results_free(res, nurls);
    free(urls);
    free((void *)paths);
    evc_report_free(rep);
    evc_secret_free(&pw);
    return ret;
}
