/* SPDX-License-Identifier: Apache-2.0 */
/* Escaping hostile strings: JSON (checked by a real JSON parser), labels, terminals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/text.h"
#include "evercert/buf.h"

static const char *const hostile[] = {
    "plain",
    "quote\" back\\slash",
    "nl\ncr\rtab\tbell\a",
    "esc\033[31mred",
    "utf8 Zürich 日本",
    "bad \xff\xfe utf8",
    "overlong \xc0\xaf",
    "surrogate \xed\xa0\x80",
    "c1 \xc2\x9b csi",
    "del\x7f",
    "",
};

static void
test_json_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        struct evc_buf b;
        json_error_t je;
        json_t *j;

        evc_buf_init(&b, 4096);
        assert_int_equal(evc_text_json(&b, hostile[i]), 0);
        j = json_loads(evc_buf_str(&b), JSON_DECODE_ANY, &je);
        assert_non_null(j); /* always valid JSON, valid UTF-8 */
        assert_true(json_is_string(j));
        if (i < 5 || i >= 9) {
            assert_string_equal(json_string_value(j), hostile[i]);
        } else if (i != 8) {
            assert_non_null(strstr(json_string_value(j), "\xef\xbf\xbd"));
        }
        json_decref(j);
        evc_buf_free(&b);
    }
}

static void
test_vis_and_prom(void **state)
{
    struct evc_buf b;

    (void)state;
    evc_buf_init(&b, 4096);
    assert_int_equal(evc_text_vis(&b, "esc\033[31m\ttab\\ c1\xc2\x9b \xff ok é"), 0);
    assert_string_equal(evc_buf_str(&b), "esc\\x1b[31m\\x09tab\\\\ c1\\u009b \\xff ok é");
    evc_buf_reset(&b);
    assert_int_equal(evc_text_prom(&b, "a\"b\\c\nd \xff"), 0);
    assert_string_equal(evc_buf_str(&b), "a\\\"b\\\\c\\nd \xef\xbf\xbd");
    evc_buf_free(&b);
}

static void
test_hex(void **state)
{
    static const uint8_t in[] = {0x00, 0x9f, 0xff, 0x10};
    char out[2 * sizeof(in) + 1];

    (void)state;
    memset(out, 'X', sizeof(out));
    evc_text_hex(in, sizeof(in), out);
    assert_string_equal(out, "009fff10");
}

static void
test_buf_cap(void **state)
{
    struct evc_buf b;

    (void)state;
    evc_buf_init(&b, 8);
    assert_int_equal(evc_buf_puts(&b, "1234567"), 0);
    assert_int_equal(evc_buf_putc(&b, 'x'), EVC_ERR_LIMIT);
    assert_int_equal(evc_buf_printf(&b, "%d", 1), EVC_ERR_LIMIT);
    assert_string_equal(evc_buf_str(&b), "1234567");
    evc_buf_free(&b);
    evc_buf_free(&b); /* twice is harmless */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_vis_and_prom),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_buf_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
