/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert status: what the clients of an `evercert serve` hold, read from
 * its status listener (GET /status) and printed as the status text, the
 * same a monitor reads before it switches.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "evercert/ready.h"
#include "cli.h"

#define STATUS_TIMEOUT_MS 10000

int
evc_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct evc_ready_summary s;
    struct evc_err err = {0};
    struct evc_buf b;
    long timeout = STATUS_TIMEOUT_MS, v;
    char *end;
    int c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 1 || v > 3600) {
                evc_cli_error(optarg, "--timeout: expected seconds, 1 to 3600");
                return EVC_EXIT_FAILURE;
            }
            timeout = v * 1000;
            break;
        case 'h':
            evc_cli_help("status", 0);
            return 0;
        default:
            evc_cli_help("status", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (optind + 1 != argc) {
        evc_cli_error("status", "usage: evercert status [--timeout SECONDS] HOST:PORT|unix:PATH");
        return EVC_EXIT_FAILURE;
    }
    if ((r = evc_ready_status_fetch(argv[optind], timeout, &s, &err)) != 0) {
        evc_cli_error("status", "%s", evc_err_message(&err));
        return r == EVC_ERR_USAGE ? EVC_EXIT_FAILURE : 2;
    }
    evc_buf_init(&b, EVC_READY_STATUS_MAX);
    if (evc_ready_status_text(&s, &b) != 0) {
        evc_buf_free(&b);
        evc_cli_error("status", "out of memory");
        return EVC_EXIT_FAILURE;
    }
    fwrite(b.data, 1, b.len, stdout);
    evc_buf_free(&b);
    return fflush(stdout) == 0 ? 0 : EVC_EXIT_FAILURE;
}
