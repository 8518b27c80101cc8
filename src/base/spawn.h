/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running an operator's command (after_replace, after_change): without a
 * shell unless asked, with a clean signal state, with a timeout, its
 * output captured for the report.
 */
#ifndef EVC_BASE_SPAWN_H
#define EVC_BASE_SPAWN_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

/* The most arguments and output kept; output past the cap is counted, not kept. */
#define EVC_SPAWN_ARGS_MAX 64
#define EVC_SPAWN_OUTPUT_MAX 2048
/* After the timeout's SIGTERM, how long the command's process group has before SIGKILL. */
#define EVC_SPAWN_GRACE_MS 2000

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
 * Run cmd (split as above and searched in PATH, or with /bin/sh -c when
 * shell) with posix_spawn: no signal blocked and every signal at its
 * default, whatever the caller blocks or ignores; in a process group of
 * its own; with our environment where env ("NAME=value", NULL-terminated)
 * replaces or adds variables; stdin from /dev/null; stdout and stderr
 * captured (the first EVC_SPAWN_OUTPUT_MAX bytes). After timeout seconds
 * the whole group gets SIGTERM, and SIGKILL EVC_SPAWN_GRACE_MS later, so
 * nothing the command started outlives it. Returns 0 when the command ran
 * or could not be found (status 127, the reason as its output), whatever
 * its status; EVC_ERR_PARSE for a command line that does not split, or an
 * error if no process could be started.
 */
int evc_spawn_run(const char *cmd, int shell, int64_t timeout, char *const env[],
                  struct evc_spawn_result *res, struct evc_err *err);

#endif
