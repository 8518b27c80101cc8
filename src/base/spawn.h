/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running an operator's command (after_replace): without a shell unless
 * asked, with a timeout, its output captured for the report.
 */
#ifndef EVC_BASE_SPAWN_H
#define EVC_BASE_SPAWN_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

/* The most arguments and output kept; output past the cap is counted, not kept. */
#define EVC_SPAWN_ARGS_MAX 64
#define EVC_SPAWN_OUTPUT_MAX 2048

struct evc_spawn_result {
    int status;    /* exit status; 128+N if killed by signal N; -1 if not started */
    int timed_out; /* killed at the timeout */
    char output[EVC_SPAWN_OUTPUT_MAX + 1]; /* stdout and stderr, NUL-terminated */
    size_t output_len;
};

/*
 * Split cmd into argv on blanks; single and double quotes group, a
 * backslash escapes the next character. buf (as long as cmd plus one)
 * holds the words. Pure. EVC_ERR_PARSE for an unclosed quote, an empty
 * command or more than EVC_SPAWN_ARGS_MAX words.
 */
int evc_spawn_split(const char *cmd, char *buf, char *argv[EVC_SPAWN_ARGS_MAX + 1]);

/*
 * Run cmd (split as above, or with /bin/sh -c when shell) with the
 * variables in env ("NAME=value", NULL-terminated, added to ours), stdin
 * from /dev/null. After timeout seconds it gets SIGTERM, then SIGKILL a
 * second later. Returns 0 when the command ran (whatever its status), or
 * an error if it could not be started.
 */
int evc_spawn_run(const char *cmd, int shell, int64_t timeout, char *const env[],
                  struct evc_spawn_result *res, struct evc_err *err);

#endif
