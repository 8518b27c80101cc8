/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert check-config, and --check-config of monitor and agent: read
 * the file as the service would, check what can be checked without
 * writing, say "FILE: ok" or "FILE:LINE: reason" (as sshd -t and nginx -t
 * do before a restart), and exit.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "evercert/config.h"
#include "cli.h"

static void
say(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

int
evc_cli_check_config(const char *path, int use)
{
    struct evc_config *c = NULL;
    struct evc_err err = {0};
    int ret = EVC_EXIT_CONFIG_BAD;

    /* The parser's and the checker's messages name the file and line already. */
    if (evc_config_load(path, &c, &err) != 0 ||
        evc_config_check(c, (enum evc_config_use)use, say, NULL, &err) != 0) {
        fprintf(stderr, "%s\n", evc_err_message(&err));
        goto out;
    }
    printf("%s: ok\n", path);
    ret = fflush(stdout) == 0 ? 0 : EVC_EXIT_FAILURE;
out:
    evc_config_free(c);
    return ret;
}

/* The key table, one key a line: section, name, type, default, reloadable. */
static int
print_keys(void)
{
    const struct evc_config_key *k;

    for (size_t i = 0; (k = evc_config_key_get0(i)) != NULL; i++) {
        printf("%s\t%s\t%s\t%s\t%s\n", k->section, k->name, k->type,
               k->dflt != NULL ? k->dflt : "-", k->reloadable ? "reload" : "restart");
    }
    return fflush(stdout) == 0 ? 0 : EVC_EXIT_FAILURE;
}

int
evc_cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"for", required_argument, NULL, 'f'},
        {"keys", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, keys = 0, use = EVC_CONFIG_USE_ANY;

    optind = 1;
    while ((c = getopt_long(argc, argv, "f:kh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "monitor") == 0 || strcmp(optarg, "renew") == 0) {
                use = EVC_CONFIG_USE_MONITOR;
            } else if (strcmp(optarg, "agent") == 0) {
                use = EVC_CONFIG_USE_AGENT;
            } else {
                evc_cli_error("--for", "'%s': expected monitor, renew or agent", optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'k':
            keys = 1;
            break;
        case 'h':
            evc_cli_help("check-config", 0);
            return 0;
        default:
            evc_cli_help("check-config", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (keys && optind == argc) {
        return print_keys();
    }
    if (keys || optind + 1 != argc) {
        evc_cli_error("check-config",
                      "usage: evercert check-config [--for monitor|renew|agent] FILE | --keys");
        return EVC_EXIT_FAILURE;
    }
    return evc_cli_check_config(argv[optind], use);
}
