/* SPDX-License-Identifier: Apache-2.0 */
/* What the subcommands of the evercert command share. */
#ifndef EVC_CLI_H
#define EVC_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit status for usage errors and failures of the command itself (Nagios UNKNOWN). */
#define EVC_EXIT_FAILURE 3
/* check-config: the configuration is bad (as sshd -t and nginx -t say it). */
#define EVC_EXIT_CONFIG_BAD 1

/* "evercert: what: why" on stderr. */
void evc_cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print the manual text of a subcommand ("scan"); 0 or -1 if there is none. */
int evc_cli_help(const char *name, int to_stderr);

/*
 * A password from a file's first line or an environment variable, never
 * from argv. Wiped on free.
 */
struct evc_secret {
    char *value;
    size_t len;
};
int evc_secret_from_file(struct evc_secret *s, const char *path);
int evc_secret_from_env(struct evc_secret *s, const char *var);
void evc_secret_free(struct evc_secret *s);

/* --at TIME: *offset gets TIME minus the wall clock; -1 (said on stderr) if TIME is bad. */
int evc_cli_at(const char *arg, int64_t *offset);

/* A Nagios status's name: "ok", "warning", "critical" or "unknown". */
const char *evc_cli_nagios_name(int status);

/* EVERCERT_FAULT_AT=N: end the process (status 99) at its N-th disk-changing step. */
void evc_cli_fault_init(void);

int evc_cmd_scan(int argc, char **argv);
int evc_cmd_ca(int argc, char **argv);
int evc_cmd_issue(int argc, char **argv);
int evc_cmd_selfsign(int argc, char **argv);
int evc_cmd_renew(int argc, char **argv);
int evc_cmd_activate(int argc, char **argv);
int evc_cmd_monitor(int argc, char **argv);
int evc_cmd_history(int argc, char **argv);
int evc_cmd_announce(int argc, char **argv);
int evc_cmd_inspect(int argc, char **argv);
int evc_cmd_probe(int argc, char **argv);
int evc_cmd_serve(int argc, char **argv);
int evc_cmd_status(int argc, char **argv);
int evc_cmd_agent(int argc, char **argv);
int evc_cmd_pending(int argc, char **argv);
int evc_cmd_approve(int argc, char **argv);
int evc_cmd_reject(int argc, char **argv);
int evc_cmd_demo(int argc, char **argv);
int evc_cmd_check_config(int argc, char **argv);
int evc_cmd_fleet(int argc, char **argv);

/*
 * Check path for use (enum evc_config_use) and print "PATH: ok" or the
 * reason with its line: 0, or EVC_EXIT_CONFIG_BAD.
 */
int evc_cli_check_config(const char *path, int use);

#endif
