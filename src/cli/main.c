/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert: the command. This file only dispatches to a subcommand; each
 * lives in its own cmd_*.c and parses its own options.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/provider.h>

#include "evercert/time.h"
#include "base/atomic.h"
#include "base/text.h"
#include "cli.h"
#include "help.h"

int
evc_cli_at(const char *arg, int64_t *offset)
{
    evc_time at;

    if (evc_time_parse(arg, &at) != 0) {
        evc_cli_error("--at", "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z", arg);
        return -1;
    }
    *offset = at - evc_time_now();
    return 0;
}

static unsigned long fault_at;

static void
fault_hook(unsigned long step)
{
    if (step == fault_at) {
        _exit(99);
    }
}

void
evc_cli_fault_init(void)
{
    const char *fault = getenv("EVERCERT_FAULT_AT");

    if (fault != NULL && (fault_at = strtoul(fault, NULL, 10)) > 0) {
        evc_fault_hook = fault_hook;
    }
}

void
evc_cli_error(const char *what, const char *fmt, ...)
{
    char msg[4096];
    struct evc_buf shown;
    va_list ap;

    /*
     * The text may carry a peer's or a file's words (a keystore alias, an
     * NSS nickname): escaped as one whole, so no control byte reaches the
     * terminal whichever argument it came in.
     */
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    evc_buf_init(&shown, EVC_TEXT_SHOW_MAX * 4 + 1);
    if (evc_text_vis(&shown, what) != 0 || evc_buf_puts(&shown, ": ") != 0 ||
        evc_text_nvis(&shown, msg, EVC_TEXT_SHOW_MAX * 3) != 0) {
        fprintf(stderr, "evercert: (an error that cannot be shown)\n");
    } else {
        fprintf(stderr, "evercert: %s\n", evc_buf_str(&shown));
    }
    evc_buf_free(&shown);
}

const char *
evc_cli_nagios_name(int status)
{
    static const char *const names[] = {"ok", "warning", "critical", "unknown"};

    return status >= 0 && status <= 3 ? names[status] : "unknown";
}

int
evc_cli_help(const char *name, int to_stderr)
{
    for (const struct evc_help *h = evc_help_pages; h->name != NULL; h++) {
        if (strcmp(h->name, name) == 0) {
            fputs(h->text, to_stderr ? stderr : stdout);
            return 0;
        }
    }
    return -1;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"scan", evc_cmd_scan},
    {"ca", evc_cmd_ca},
    {"issue", evc_cmd_issue},
    {"selfsign", evc_cmd_selfsign},
    {"renew", evc_cmd_renew},
    {"activate", evc_cmd_activate},
    {"monitor", evc_cmd_monitor},
    {"history", evc_cmd_history},
    {"announce", evc_cmd_announce},
    {"probe", evc_cmd_probe},
    {"serve", evc_cmd_serve},
    {"status", evc_cmd_status},
    {"inspect", evc_cmd_inspect},
    {"agent", evc_cmd_agent},
    {"pending", evc_cmd_pending},
    {"approve", evc_cmd_approve},
    {"reject", evc_cmd_reject},
    {"demo", evc_cmd_demo},
    {"check-config", evc_cmd_check_config},
    {"fleet", evc_cmd_fleet},
};

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    OSSL_PROVIDER *deflt, *legacy;
    int ret = -1;

    if (cmd == NULL) {
        evc_cli_help("evercert", 1);
        return EVC_EXIT_FAILURE;
    }
    /* One line a package script can compare: "evercert VERSION". */
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("evercert %s\n", EVC_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        evc_cli_help("evercert", 0);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        const char *topic = argc > 2 ? argv[2] : "evercert";

        if (evc_cli_help(topic, 0) != 0) {
            evc_cli_error("help", "no such command: %s", topic);
            return EVC_EXIT_FAILURE;
        }
        return 0;
    }
    /*
     * Old PKCS#12 files use RC2 or single DES, which OpenSSL 3 keeps in its
     * legacy provider. Loading a provider by hand turns off the implicit
     * default, so load both; a missing legacy provider is not fatal.
     */
    if ((deflt = OSSL_PROVIDER_load(NULL, "default")) == NULL) {
        evc_cli_error("openssl", "cannot load the default provider");
        return EVC_EXIT_FAILURE;
    }
    legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) == 0) {
            /*
             * getopt names argv[0] in its complaints ("unrecognized option"):
             * this makes them "evercert: scan: why" like every other error.
             */
            static char name[64];

            snprintf(name, sizeof(name), "evercert: %s", commands[i].name);
            argv[1] = name;
            ret = commands[i].run(argc - 1, argv + 1);
            break;
        }
    }
    if (legacy != NULL) {
        OSSL_PROVIDER_unload(legacy);
    }
    OSSL_PROVIDER_unload(deflt);
    if (ret != -1) {
        return ret;
    }
    evc_cli_error(cmd, "no such command (try 'evercert --help')");
    return EVC_EXIT_FAILURE;
}
