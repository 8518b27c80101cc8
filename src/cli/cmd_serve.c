/* SPDX-License-Identifier: Apache-2.0 */
/* evercert serve: the options, then evc_server (src/serve) runs until SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "evercert/ready.h"
#include "evercert/serve.h"
#include "evercert/time.h"
#include "cli.h"

static void
log_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "evercert serve: %s\n", line);
}

int
evc_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"chain", required_argument, NULL, 'C'},
        {"sa", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'},
        {"announce-listen", required_argument, NULL, 'a'},
        {"no-well-known", no_argument, NULL, 'W'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"request-timeout", required_argument, NULL, 'r'},
        {"status-listen", required_argument, NULL, 'S'},
        {"ready-window", required_argument, NULL, 'w'},
        {"ready-max", required_argument, NULL, 'm'},
        {"no-readiness", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen[EVC_SERVE_LISTEN_MAX];
    struct evc_server_opts o = {.listen = listen, .handle_signals = 1, .log = log_line};
    struct evc_server *s = NULL;
    struct evc_server_stats st;
    struct evc_err err = {0};
    struct evc_span span;
    char *end;
    long v;
    unsigned long long u;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.cert = optarg;
            break;
        case 'k':
            o.key = optarg;
            break;
        case 'C':
            o.chain = optarg;
            break;
        case 's':
            o.sa = optarg;
            break;
        case 'l':
            if (o.nlisten == EVC_SERVE_LISTEN_MAX) {
                evc_cli_error(optarg, "at most %d --listen addresses", EVC_SERVE_LISTEN_MAX);
                return EVC_EXIT_FAILURE;
            }
            listen[o.nlisten++] = optarg;
            break;
        case 'a':
            o.push_listen = optarg;
            break;
        case 'W':
            o.no_well_known = 1;
            break;
        case 'i':
        case 'r':
            v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 1 || v > 86400) {
                evc_cli_error(optarg, c == 'i' ? "--idle-timeout: expected seconds, 1 to 86400"
                                               : "--request-timeout: expected seconds, 1 to 86400");
                return EVC_EXIT_FAILURE;
            }
            *(c == 'i' ? &o.idle_timeout : &o.request_timeout) = (int)v;
            break;
        case 'S':
            o.status_listen = optarg;
            break;
        case 'w':
            if (evc_span_parse(optarg, &span) != 0 || span.unit != EVC_SPAN_SECONDS ||
                span.value < 1 || span.value > (int64_t)3650 * 86400) {
                evc_cli_error(optarg, "--ready-window: expected a duration like 7d or 2s, 1s to "
                                      "3650d");
                return EVC_EXIT_FAILURE;
            }
            o.ready_window = span.value;
            break;
        case 'm':
            u = strtoull(optarg, &end, 10);
            if (end == optarg || *end != '\0' || *optarg == '-' || u < 1 ||
                u > EVC_READY_ENTRIES_MAX) {
                evc_cli_error(optarg, "--ready-max: expected entries, 1 to %zu",
                              (size_t)EVC_READY_ENTRIES_MAX);
                return EVC_EXIT_FAILURE;
            }
            o.ready_max = (size_t)u;
            break;
        case 'R':
            o.no_readiness = 1;
            break;
        case 'h':
            evc_cli_help("serve", 0);
            return 0;
        default:
            evc_cli_help("serve", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (o.cert == NULL || o.key == NULL || o.nlisten == 0 || optind != argc) {
        evc_cli_error("serve", "usage: evercert serve --cert F --key F [--chain F] [--sa F] "
                               "--listen ADDR:PORT [--announce-listen ADDR:PORT] "
                               "[--status-listen ADDR:PORT|unix:PATH]");
        return EVC_EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (evc_server_new(&s, &o, NULL, &err) != 0 || evc_server_run(s, &err) != 0) {
        evc_cli_error("serve", "%s", evc_err_message(&err));
        evc_server_free(s);
        return EVC_EXIT_FAILURE;
    }
    evc_server_stats(s, &st);
    fprintf(stderr,
            "evercert serve: %llu connections, %llu requests (%llu not found), %llu SAs by URL, "
            "%llu push connections, %llu SAs pushed, %llu acknowledgements, %llu swaps, "
            "%llu changes refused\n",
            (unsigned long long)st.connections, (unsigned long long)st.requests,
            (unsigned long long)st.not_found, (unsigned long long)st.sa_by_url,
            (unsigned long long)st.push_connections, (unsigned long long)st.sa_pushed,
            (unsigned long long)st.acks, (unsigned long long)st.swaps,
            (unsigned long long)st.refused);
    evc_server_free(s);
    return 0;
}
