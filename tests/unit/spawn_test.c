/* SPDX-License-Identifier: Apache-2.0 */
/* Hook commands: splitting without a shell, and running with a timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_run),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
