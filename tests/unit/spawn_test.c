/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hook commands: splitting without a shell, and running with a timeout,
 * a clean signal state, a process group that the timeout stops whole, and
 * an environment where each variable is set once.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/spawn.h"

static void
test_split(void **state)
{
    static const struct {
        const char *cmd;
        const char *want; /* words joined with | */
    } ok[] = {
        {"nginx -s reload", "nginx|-s|reload"},
        {"  systemctl   reload\tnginx ", "systemctl|reload|nginx"},
        {"sh -c 'echo a b; exit 3'", "sh|-c|echo a b; exit 3"},
        {"echo \"a \\\"q\\\" b\"", "echo|a \"q\" b"},
        {"a\\ b c", "a b|c"},
        {"x''y \"\"", "xy|"},
    };
    static const char *bad[] = {"", "   ", "echo 'open", "echo \"open"};
    char buf[128], joined[256], *argv[EVC_SPAWN_ARGS_MAX + 1];
    char many[EVC_SPAWN_ARGS_MAX * 2 + 8];

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = 0;

        assert_int_equal(evc_spawn_split(ok[i].cmd, buf, argv), 0);
        joined[0] = '\0';
        for (char **a = argv; *a != NULL; a++) {
            n += (size_t)snprintf(joined + n, sizeof(joined) - n, "%s%s", a == argv ? "" : "|", *a);
        }
        assert_string_equal(joined, ok[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(evc_spawn_split(bad[i], buf, argv), EVC_ERR_PARSE);
    }
    /* One word too many. */
    for (size_t i = 0; i < EVC_SPAWN_ARGS_MAX + 1; i++) {
        many[2 * i] = 'a';
        many[2 * i + 1] = ' ';
    }
    many[2 * (EVC_SPAWN_ARGS_MAX + 1)] = '\0';
    {
        char big[sizeof(many)];

        assert_int_equal(evc_spawn_split(many, big, argv), EVC_ERR_PARSE);
    }
}

static void
test_run(void **state)
{
    struct evc_spawn_result res;
    struct evc_err err = {0};
    char env0[] = "EVC_TEST_VAR=seen";
    char *env[] = {env0, NULL};

    (void)state;
    assert_int_equal(
        evc_spawn_run("sh -c 'echo out; echo err >&2; exit 4'", 0, 5, NULL, &res, &err), 0);
    assert_int_equal(res.status, 4);
    assert_int_equal(res.timed_out, 0);
    assert_string_equal(res.output, "out\nerr\n");
    /* No shell: the metacharacters are arguments. */
    assert_int_equal(evc_spawn_run("echo a;b $HOME", 0, 5, NULL, &res, &err), 0);
    assert_string_equal(res.output, "a;b $HOME\n");
    assert_int_equal(evc_spawn_run("echo $EVC_TEST_VAR", 1, 5, env, &res, &err), 0);
    assert_string_equal(res.output, "seen\n");
    assert_int_equal(evc_spawn_run("sleep 30", 0, 1, NULL, &res, &err), 0);
    assert_int_equal(res.timed_out, 1);
    assert_int_equal(res.status, 128 + 15);
    assert_int_equal(evc_spawn_run("/nonexistent/command", 0, 5, NULL, &res, &err), 0);
    assert_int_equal(res.status, 127);
    assert_int_equal(evc_spawn_run("'unclosed", 0, 5, NULL, &res, &err), EVC_ERR_PARSE);
}

/*
 * A caller that blocks and ignores signals (the services block theirs for
 * a signalfd) hands neither to the command: it could not be stopped.
 */
static void
test_signals(void **state)
{
    struct evc_spawn_result res;
    struct evc_err err = {0};
    sigset_t block, old;
    struct sigaction ign, oldint;

    (void)state;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGINT, &ign, &oldint), 0);
    assert_int_equal(
        evc_spawn_run("grep -E ^Sig(Blk|Ign): /proc/self/status", 0, 5, NULL, &res, &err), 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGINT, &oldint, NULL);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.output, "SigBlk:\t0000000000000000\n"));
    assert_non_null(strstr(res.output, "SigIgn:\t0000000000000000\n"));
}

/* Is process pid gone (or a zombie waiting for its reaper)? Bounded: 2 s. */
static int
gone(long pid)
{
    for (int i = 0; i < 40; i++) {
        char path[64], stat[256];
        FILE *f;
        char *p;
        struct timespec ts = {0, 50000000};

        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        if ((f = fopen(path, "r")) == NULL) {
            return 1;
        }
        p = fgets(stat, sizeof(stat), f);
        fclose(f);
        if (p != NULL && (p = strrchr(stat, ')')) != NULL && p[1] == ' ' && p[2] == 'Z') {
            return 1;
        }
        nanosleep(&ts, NULL);
    }
    return 0;
}

/*
 * At the timeout the whole process group is stopped: a child that ignores
 * SIGTERM gets SIGKILL after the grace, and nothing outlives the command.
 */
static void
test_group(void **state)
{
    struct evc_spawn_result res;
    struct evc_err err = {0};
    long child;

    (void)state;
    assert_int_equal(
        evc_spawn_run("trap '' TERM; sleep 30 & echo $!; wait", 1, 1, NULL, &res, &err), 0);
    assert_int_equal(res.timed_out, 1);
    assert_int_equal(res.status, 128 + 9);
    child = strtol(res.output, NULL, 10);
    assert_true(child > 1);
    assert_true(gone(child));
    /* Nor does one that closed its output and ignores SIGTERM, when the rest ended at once. */
    assert_int_equal(evc_spawn_run("(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $!; "
                                   "sleep 30",
                                   1, 1, NULL, &res, &err),
                     0);
    assert_int_equal(res.timed_out, 1);
    child = strtol(res.output, NULL, 10);
    assert_true(child > 1);
    assert_true(gone(child));
    /* A command that leaves a child in the background is done when it exits. */
    assert_int_equal(evc_spawn_run("sleep 30 & echo $!", 1, 20, NULL, &res, &err), 0);
    assert_int_equal(res.timed_out, 0);
    assert_int_equal(res.status, 0);
    child = strtol(res.output, NULL, 10);
    assert_true(child > 1);
    kill((pid_t)child, SIGKILL);
}

/* The caller's variables replace ours of the same name: each is there once, PATH stays. */
static void
test_env(void **state)
{
    struct evc_spawn_result res;
    struct evc_err err = {0};
    char env0[] = "EVC_TEST_DUP=inner";
    char *env[] = {env0, NULL};

    (void)state;
    assert_int_equal(setenv("EVC_TEST_DUP", "outer", 1), 0);
    assert_int_equal(evc_spawn_run("env | grep -c ^EVC_TEST_DUP=; echo \"$EVC_TEST_DUP\"; "
                                   "test -n \"$PATH\" && echo path",
                                   1, 5, env, &res, &err),
                     0);
    unsetenv("EVC_TEST_DUP");
    assert_string_equal(res.output, "1\ninner\npath\n");
    /* A command that cannot be run says why. */
    assert_int_equal(evc_spawn_run("/nonexistent/command", 0, 5, NULL, &res, &err), 0);
    assert_int_equal(res.status, 127);
    assert_non_null(strstr(res.output, "/nonexistent/command: No such file or directory"));
}

/* A descriptor the caller holds (a state database, a lock, a socket) does not reach the hook. */
static void
test_fds(void **state)
{
    struct evc_spawn_result res;
    struct evc_err err = {0};
    char cmd[64];
    int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: what a careless caller leaves */

    (void)state;
    assert_true(fd > 2);
    snprintf(cmd, sizeof(cmd), "test -e /dev/fd/%d && echo open || echo closed", fd);
    assert_int_equal(evc_spawn_run(cmd, 1, 5, NULL, &res, &err), 0);
    close(fd);
    assert_string_equal(res.output, "closed\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split), cmocka_unit_test(test_run), cmocka_unit_test(test_signals),
        cmocka_unit_test(test_group), cmocka_unit_test(test_env), cmocka_unit_test(test_fds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
