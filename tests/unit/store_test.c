/* SPDX-License-Identifier: Apache-2.0 */
/* Walking real directories: order, links, loops, special files, the "wanted" rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "evercert/store.h"

struct seen {
    char files[32][512];
    int wanted[32];
    int nfiles;
    char errs[32][512];
    int codes[32];
    int nerrs;
};

static int
on_file(void *arg, const char *path, int wanted)
{
    struct seen *s = arg;

    snprintf(s->files[s->nfiles], 512, "%s", strrchr(path, '/') + 1);
    s->wanted[s->nfiles++] = wanted;
    return 0;
}

static int
on_error(void *arg, const char *path, const struct evc_err *e)
{
    struct seen *s = arg;

    snprintf(s->errs[s->nerrs], 512, "%s: %s", strrchr(path, '/') + 1, evc_err_message(e));
    s->codes[s->nerrs++] = e->code;
    return 0;
}

static void
touch(const char *dir, const char *name)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_non_null(f = fopen(p, "w"));
    fputs("x", f);
    fclose(f);
}

static void
test_walk(void **state)
{
    char dir[] = "/tmp/evc-walk-XXXXXX", p[512], q[512];
    struct seen s;
    struct evc_walk_cb cb = {on_file, on_error, &s};
    const char *paths[2];

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_non_null(mkdtemp(dir));
    touch(dir, "b.pem");
    touch(dir, "a.txt");
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    touch(p, "c.CRT");
    /* a hash link sorts after the file it names, which is reported once */
    snprintf(p, sizeof(p), "%s/0badcafe.0", dir);
    assert_int_equal(symlink("b.pem", p), 0);
    /* a link back up: not followed twice */
    snprintf(p, sizeof(p), "%s/sub/up", dir);
    assert_int_equal(symlink("..", p), 0);
    /* a broken link, a link loop and a FIFO: one error each */
    snprintf(p, sizeof(p), "%s/broken.pem", dir);
    assert_int_equal(symlink("nowhere", p), 0);
    snprintf(p, sizeof(p), "%s/loop1", dir);
    snprintf(q, sizeof(q), "%s/loop2", dir);
    assert_int_equal(symlink("loop2", p), 0);
    assert_int_equal(symlink("loop1", q), 0);
    snprintf(p, sizeof(p), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);

    paths[0] = dir;
    paths[1] = dir; /* named twice: still once */
    assert_int_equal(evc_store_walk(paths, 2, &cb), 0);
    assert_int_equal(s.nfiles, 3);
    assert_string_equal(s.files[0], "a.txt");
    assert_int_equal(s.wanted[0], 0);
    assert_string_equal(s.files[1], "b.pem");
    assert_int_equal(s.wanted[1], 1);
    assert_string_equal(s.files[2], "c.CRT");
    assert_int_equal(s.wanted[2], 1);
    assert_int_equal(s.nerrs, 4);
    assert_string_equal(s.errs[0], "broken.pem: broken symbolic link");
    assert_int_equal(s.codes[1], EVC_ERR_NOT_REGULAR);
    assert_non_null(strstr(s.errs[1], "FIFO"));
    assert_int_equal(s.codes[2], EVC_ERR_LOOP);
    assert_int_equal(s.codes[3], EVC_ERR_LOOP);

    /* A missing path is an error; a file named directly is wanted. */
    memset(&s, 0, sizeof(s));
    snprintf(p, sizeof(p), "%s/a.txt", dir);
    snprintf(q, sizeof(q), "%s/missing", dir);
    paths[0] = p;
    paths[1] = q;
    assert_int_equal(evc_store_walk(paths, 2, &cb), 0);
    assert_int_equal(s.nfiles, 1);
    assert_int_equal(s.wanted[0], 1);
    assert_int_equal(s.nerrs, 1);
    assert_int_equal(s.codes[0], EVC_ERR_NOENT);

    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    assert_int_equal(system(p), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
