/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fork + exec with a pipe for output and poll() for the timeout: the
 * monitor never waits on a hook that hangs, and never passes a command
 * line to a shell unless the configuration says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/spawn.h"

int
evc_spawn_split(const char *cmd, char *buf, char *argv[EVC_SPAWN_ARGS_MAX + 1])
{
    size_t n = 0;
    char *o = buf;
    const char *p = cmd;

    for (;;) {
        char quote = 0;
        int word = 0;

        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        if (n >= EVC_SPAWN_ARGS_MAX) {
            return EVC_ERR_PARSE;
        }
        argv[n++] = o;
        for (; *p != '\0'; p++) {
            if (quote != 0) {
                if (*p == quote) {
                    quote = 0;
                } else if (*p == '\\' && quote == '"' && p[1] != '\0') {
                    *o++ = *++p;
                } else {
                    *o++ = *p;
                }
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
                word = 1;
            } else if (*p == '\\' && p[1] != '\0') {
                *o++ = *++p;
            } else if (*p == ' ' || *p == '\t') {
                break;
            } else {
                *o++ = *p;
            }
            word = 1;
        }
        if (quote != 0) {
            return EVC_ERR_PARSE;
        }
        (void)word;
        *o++ = '\0';
    }
    argv[n] = NULL;
    return n == 0 ? EVC_ERR_PARSE : 0;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
evc_spawn_run(const char *cmd, int shell, int64_t timeout, char *const env[],
              struct evc_spawn_result *res, struct evc_err *err)
{
    char *buf = NULL, *argv[EVC_SPAWN_ARGS_MAX + 1];
    int pipefd[2] = {-1, -1}, status = 0, reaped = 0, r = EVC_ERR_INTERNAL;
    pid_t pid = -1;
    int64_t deadline, killed_at = 0;

    memset(res, 0, sizeof(*res));
    res->status = -1;
    if (shell) {
        argv[0] = "/bin/sh";
        argv[1] = "-c";
        argv[2] = (char *)cmd;
        argv[3] = NULL;
    } else if ((buf = malloc(strlen(cmd) + 1)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    } else if (evc_spawn_split(cmd, buf, argv) != 0) {
        r = evc_err_set(err, EVC_ERR_PARSE, "'%s': not a command (unclosed quote or empty)", cmd);
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "cannot start '%s': %s", cmd, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        if (devnull != -1) {
            dup2(devnull, 0);
        }
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            putenv(env[i]);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    deadline = mono_ms() + timeout * 1000;
    for (;;) {
        struct pollfd pfd = {pipefd[0], POLLIN, 0};
        int64_t left = (killed_at != 0 ? killed_at + 1000 : deadline) - mono_ms();
        char chunk[512];
        ssize_t n;

        if (left <= 0) {
            if (killed_at == 0) {
                res->timed_out = 1;
                kill(pid, SIGTERM);
                killed_at = mono_ms();
                continue;
            }
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&pfd, 1, (int)(left > 100 ? 100 : left)) <= 0) {
            /* Exited, though a child it left may hold the pipe: done. */
            if (waitpid(pid, &status, WNOHANG) == pid) {
                reaped = 1;
                break;
            }
            continue;
        }
        if ((n = read(pipefd[0], chunk, sizeof(chunk))) <= 0) {
            if (n == -1 && errno == EINTR) {
                continue;
            }
            break; /* end of output: the command (and what it started with our pipe) is done */
        }
        for (ssize_t i = 0; i < n && res->output_len < EVC_SPAWN_OUTPUT_MAX; i++) {
            res->output[res->output_len++] = chunk[i];
        }
    }
    if (res->timed_out && !reaped) {
        kill(pid, SIGKILL);
    }
    while (!reaped && waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
    res->output[res->output_len] = '\0';
    res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r = 0;
out:
    if (pipefd[0] != -1) {
        close(pipefd[0]);
    }
    if (pipefd[1] != -1) {
        close(pipefd[1]);
    }
    free(buf);
    return r;
}
