/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one runner of an operator's command (after_replace, after_change,
 * the demo's gnuplot): posix_spawn with a clean signal state in a process
 * group of its own, a pipe for output and poll() for the timeout. The
 * services block their signals for a signalfd, and a child inherits a
 * blocked mask and ignored signals through exec: a hook's children could
 * then not be stopped. The monitor never waits on a hook that hangs, a
 * timeout stops everything the hook started, and a command line reaches a
 * shell only when the configuration says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evercert/time.h"
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

extern char **environ;

/* Does env set the variable var ("NAME=value") names? */
static int
overridden(const char *var, char *const env[])
{
    const char *eq = strchr(var, '=');
    size_t len = eq != NULL ? (size_t)(eq - var) : strlen(var);

    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        if (strncmp(env[i], var, len) == 0 && env[i][len] == '=') {
            return 1;
        }
    }
    return 0;
}

/*
 * The child's environment, built before the spawn: ours without the names
 * env sets, then env, so each variable is there once. The strings are
 * borrowed; free the array.
 */
static char **
env_build(char *const env[])
{
    size_t n = 0, m = 0, k = 0;
    char **v;

    while (environ != NULL && environ[n] != NULL) {
        n++;
    }
    while (env != NULL && env[m] != NULL) {
        m++;
    }
    if ((v = calloc(n + m + 1, sizeof(*v))) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!overridden(environ[i], env)) {
            v[k++] = environ[i];
        }
    }
    for (size_t i = 0; i < m; i++) {
        v[k++] = env[i];
    }
    v[k] = NULL;
    return v;
}

/*
 * Start argv (searched in PATH when search_path) with no signal blocked
 * and every catchable signal at its default, in a new process group whose
 * id is *pid, stdin from /dev/null, stdout and stderr on out. Returns 0 or
 * an errno value; glibc reports a failed exec here and reaps that child.
 */
static int
start(char *const argv[], int search_path, char *const envp[], int out, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int e;

    sigemptyset(&none);
    /*
     * Every bit, not sigfillset: glibc's leaves out its two internal
     * signals, and its posix_spawn then leaves those ignored in the child,
     * which keeps them through exec.
     */
    memset(&all, 0xff, sizeof(all));
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
        return e;
    }
    if ((e = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return e;
    }
    if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
        (e = posix_spawn_file_actions_adddup2(&fa, out, 1)) == 0 &&
        (e = posix_spawn_file_actions_adddup2(&fa, out, 2)) == 0 &&
        /* Nothing else the service holds (state, locks, sockets) reaches the hook. */
        (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
        (e = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
        (e = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
        (e = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
        (e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                               POSIX_SPAWN_SETPGROUP)) == 0) {
        e = search_path ? posix_spawnp(pid, argv[0], &fa, &at, argv, envp)
                        : posix_spawn(pid, argv[0], &fa, &at, argv, envp);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

/*
 * Read the output of the group pid until the command is done: it exited
 * and the pipe is at its end, or it exited and nothing came for a moment
 * (what it left running in the background may hold the pipe). At the
 * timeout the whole group gets SIGTERM, and SIGKILL when it is done or
 * after the grace. The child is reaped only at the end: until then, its
 * pid (the group's id) cannot be given to another process.
 */
static int
collect(pid_t pid, int fd, int64_t timeout, struct evc_spawn_result *res)
{
    int64_t deadline = evc_mono_ms() + timeout * 1000, killed_at = 0;
    int exited = 0, eof = 0, status = 0;

    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t now = evc_mono_ms(), left, step;
        siginfo_t si;
        char chunk[512];
        ssize_t n;
        int ready;

        memset(&si, 0, sizeof(si));
        if (!exited) {
            int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);

            /* ECHILD: a caller that lets children reap themselves; the command is gone. */
            exited = (w == 0 && si.si_pid == pid) || (w == -1 && errno == ECHILD);
        }
        if (exited && eof) {
            break;
        }
        if (killed_at == 0 && now >= deadline) {
            res->timed_out = 1;
            kill(-pid, SIGTERM);
            killed_at = now;
            continue;
        }
        if (killed_at != 0 && now >= killed_at + EVC_SPAWN_GRACE_MS) {
            break;
        }
        left = (killed_at != 0 ? killed_at + EVC_SPAWN_GRACE_MS : deadline) - now;
        /* At the pipe's end only the exit is awaited, and it comes soon. */
        step = eof ? 10 : 100;
        ready = poll(&pfd, eof ? 0 : 1, (int)(left > step ? step : left));
        if (ready <= 0) {
            if (exited && killed_at == 0) {
                break;
            }
            continue;
        }
        if ((n = read(fd, chunk, sizeof(chunk))) <= 0) {
            if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            eof = 1;
            continue;
        }
        for (ssize_t i = 0; i < n && res->output_len < EVC_SPAWN_OUTPUT_MAX; i++) {
            res->output[res->output_len++] = chunk[i];
        }
    }
    /*
     * Past the timeout nothing of the group stays: what ignored SIGTERM,
     * or closed its output and lingers. The unreaped child keeps the
     * group's id ours.
     */
    if (killed_at != 0) {
        kill(-pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
evc_spawn_run(const char *cmd, int shell, int64_t timeout, char *const env[],
              struct evc_spawn_result *res, struct evc_err *err)
{
    char *buf = NULL, *argv[EVC_SPAWN_ARGS_MAX + 1], **envp = NULL;
    int pipefd[2] = {-1, -1}, e, r = EVC_ERR_INTERNAL;
    pid_t pid = -1;

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
    if ((envp = env_build(env)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "cannot start '%s': %s", cmd, strerror(errno));
        goto out;
    }
    e = start(argv, !shell, envp, pipefd[1], &pid);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (e == EAGAIN || e == ENOMEM) {
        r = evc_err_set(err, EVC_ERR_IO, "cannot start '%s': %s", cmd, strerror(e));
        goto out;
    }
    if (e != 0) {
        /* The command cannot be run: as a shell says it, status 127 and why. */
        res->status = 127;
        res->output_len =
            (size_t)snprintf(res->output, sizeof(res->output), "%.200s: %s", argv[0], strerror(e));
        if (res->output_len >= sizeof(res->output)) {
            res->output_len = sizeof(res->output) - 1;
        }
        r = 0;
        goto out;
    }
    res->status = collect(pid, pipefd[0], timeout, res);
    res->output[res->output_len] = '\0';
    r = 0;
out:
    if (pipefd[0] != -1) {
        close(pipefd[0]);
    }
    if (pipefd[1] != -1) {
        close(pipefd[1]);
    }
    free(envp);
    free(buf);
    return r;
}
