/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The demo's child processes (`evercert serve`, `monitor`, `approve`, tshark): started with
 * their output in a log, awaited until the log says they are ready, and
 * stopped within a bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "demo/demo.h"

extern char **environ;

int
demo_spawn(char *const argv[], int search_path, const char *log, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r;

    if (fd == -1) {
        return errno;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    r = search_path ? posix_spawnp(pid, argv[0], &fa, NULL, argv, environ)
                    : posix_spawn(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    return r;
}

int
demo_wait_ready(pid_t pid, const char *log, const char *text, int seconds)
{
    struct evc_buf b;
    struct evc_err err = {0};
    int ready = -1;

    evc_buf_init(&b, (size_t)1 << 16);
    for (int i = 0; i < seconds * 20 && ready == -1; i++) {
        struct timespec ts = {0, 50000000};

        evc_buf_reset(&b);
        if (evc_file_read(log, (size_t)1 << 16, &b, &err) == 0 && b.len > 0 &&
            memmem(b.data, b.len, text, strlen(text)) != NULL) {
            ready = 0;
        } else if (waitpid(pid, NULL, WNOHANG) == pid) {
            ready = 1;
        } else {
            nanosleep(&ts, NULL);
        }
    }
    evc_buf_free(&b);
    return ready;
}

int
demo_wait_bounded(pid_t pid, int seconds)
{
    int st;

    for (int i = 0; i < seconds * 20; i++) {
        struct timespec ts = {0, 50000000};

        if (waitpid(pid, &st, WNOHANG) == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int
demo_run_cmd(char *const argv[], const char *log, int seconds)
{
    pid_t pid;

    if (demo_spawn(argv, 0, log, &pid) != 0) {
        return -1;
    }
    return demo_wait_bounded(pid, seconds);
}
