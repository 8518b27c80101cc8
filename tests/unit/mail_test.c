/* SPDX-License-Identifier: Apache-2.0 */
/* WebSphere's address forms, and every address the mail code must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evercert/mail.h"

static void
test_forms(void **state)
{
    struct evc_mail_addrs a;
    struct evc_err err = {0};

    (void)state;
    assert_int_equal(evc_mail_parse_addrs("ops@example.org", &a, &err), 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.rcpt[0], "ops@example.org");
    assert_string_equal(a.server, "smtp.example.org");
    assert_int_equal(evc_mail_parse_addrs(" a@x.org | b@y.org@mail.y.org:2525 |c@z.org", &a, &err),
                     0);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.rcpt[0], "a@x.org");
    assert_string_equal(a.rcpt[1], "b@y.org");
    assert_string_equal(a.rcpt[2], "c@z.org");
    assert_string_equal(a.server, "mail.y.org:2525");
}

static void
test_rejections(void **state)
{
    static const char *bad[] = {
        "",
        "|",
        "nobody",
        "@example.org",
        "ops@",
        "a b@x.org",
        "a@x.org\r\nRCPT TO:<evil@x>",
        "<a@x.org>",
        "a@x.org@",
        "a@x@y@z",
        "a@x.org||b@y.org",
        "\"a\"@x.org",
    };
    struct evc_mail_addrs a;
    struct evc_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (evc_mail_parse_addrs(bad[i], &a, &err) == 0) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    /* Too many recipients. */
    {
        char many[EVC_MAIL_RCPT_MAX * 8 + 16];
        size_t n = 0;

        for (int i = 0; i <= EVC_MAIL_RCPT_MAX; i++) {
            n += (size_t)snprintf(many + n, sizeof(many) - n, "%s", i ? "|a@b.cd" : "a@b.cd");
        }
        assert_int_equal(evc_mail_parse_addrs(many, &a, &err), EVC_ERR_LIMIT);
    }
}

static void
test_send_refuses_bad_sender(void **state)
{
    struct evc_mail m;
    struct evc_err err = {0};

    (void)state;
    memset(&m, 0, sizeof(m));
    m.to = "ops@example.org@127.0.0.1:1";
    m.from = "evil\r\nBcc: x@y";
    m.subject = "s";
    m.body = "b";
    assert_int_equal(evc_mail_send(&m, &err), EVC_ERR_USAGE);
    /* Nothing listens on port 1: the error names the server. */
    m.from = "evercert@example.org";
    m.timeout = 5;
    assert_int_equal(evc_mail_send(&m, &err), EVC_ERR_IO);
    assert_non_null(strstr(err.detail, "smtp://127.0.0.1:1"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_send_refuses_bad_sender),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
