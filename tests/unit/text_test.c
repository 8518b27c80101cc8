/* SPDX-License-Identifier: Apache-2.0 */
/* Escaping hostile strings: JSON (checked by a real JSON parser), labels, terminals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
    /* A label a dashboard shows: no C1 control, no bidirectional override. */
    evc_buf_reset(&b);
    assert_int_equal(evc_text_prom(&b, "c1\xc2\x9b rlo\xe2\x80\xae"), 0);
    assert_string_equal(evc_buf_str(&b), "c1\xef\xbf\xbd rlo\xef\xbf\xbd");
    evc_buf_free(&b);
}

/* Each hostile input and what a terminal gets: nothing below 0x20, no DEL, no C1, valid UTF-8. */
static void
test_vis_table(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"plain", "plain"},
        {"esc\033[2J\033]0;title\a", "esc\\x1b[2J\\x1b]0;title\\x07"},
        {"nl\ncr\rnul-free", "nl\\x0acr\\x0dnul-free"},
        {"del\x7f", "del\\x7f"},
        {"csi \xc2\x9b"
         "2J",
         "csi \\u009b2J"},
        {"bad \xff\xfe", "bad \\xff\\xfe"},
        {"overlong / \xc0\xaf, NUL \xc0\x80", "overlong / \\xc0\\xaf, NUL \\xc0\\x80"},
        {"overlong 3 \xe0\x80\xaf", "overlong 3 \\xe0\\x80\\xaf"},
        {"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
        {"past U+10FFFF \xf4\x90\x80\x80", "past U+10FFFF \\xf4\\x90\\x80\\x80"},
        {"cut \xe6\x97", "cut \\xe6\\x97"},
        {"Zürich 日本 \xf0\x9f\x94\x92", "Zürich 日本 \xf0\x9f\x94\x92"},
        {"back\\slash", "back\\\\slash"},
        {"rlo \xe2\x80\xaetxt.exe", "rlo \\u202etxt.exe"},
        {"isolates \xe2\x81\xa6x\xe2\x81\xa9 marks \xe2\x80\x8f",
         "isolates \\u2066x\\u2069 marks \\u200f"},
    };
    struct evc_buf b;

    (void)state;
    evc_buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        evc_buf_reset(&b);
        assert_int_equal(evc_text_vis(&b, t[i].in), 0);
        assert_string_equal(evc_buf_str(&b), t[i].out);
    }
    evc_buf_free(&b);
}

static void
test_nvis_cut(void **state)
{
    struct evc_buf b;

    (void)state;
    evc_buf_init(&b, 4096);
    /* Fits: unchanged, no marker, even at exactly max. */
    assert_int_equal(evc_text_nvis(&b, "abcdef", 6), 0);
    assert_string_equal(evc_buf_str(&b), "abcdef");
    /* Too long: cut and marked, within max. */
    evc_buf_reset(&b);
    assert_int_equal(evc_text_nvis(&b, "abcdefg", 6), 0);
    assert_string_equal(evc_buf_str(&b), "abc...");
    /* Never inside a character: 日 is 3 bytes, and 3 of 6 are kept for "...". */
    evc_buf_reset(&b);
    assert_int_equal(evc_text_nvis(&b, "a日本語", 6), 0);
    assert_string_equal(evc_buf_str(&b), "a...");
    evc_buf_reset(&b);
    assert_int_equal(evc_text_nvis(&b, "a日本語", 7), 0);
    assert_string_equal(evc_buf_str(&b), "a日...");
    /* Never inside an escape: \x1b is 4 bytes. */
    evc_buf_reset(&b);
    assert_int_equal(evc_text_nvis(&b, "ab\033cdefgh", 8), 0);
    assert_string_equal(evc_buf_str(&b), "ab...");
    evc_buf_reset(&b);
    assert_int_equal(evc_text_nvis(&b, "ab\033cdefgh", 9), 0);
    assert_string_equal(evc_buf_str(&b), "ab\\x1b...");
    /* A long hostile name stays within the limit. */
    {
        char big[5000];

        for (size_t i = 0; i < sizeof(big) - 1; i++) {
            big[i] = i % 3 == 0 ? '\033' : (char)0xff;
        }
        big[sizeof(big) - 1] = '\0';
        evc_buf_reset(&b);
        assert_int_equal(evc_text_nvis(&b, big, EVC_TEXT_SHOW_MAX), 0);
        assert_true(b.len <= EVC_TEXT_SHOW_MAX);
        assert_true(b.len > EVC_TEXT_SHOW_MAX - 8);
        assert_memory_equal(b.data + b.len - 3, "...", 3);
        assert_null(memchr(b.data, 0x1b, b.len));
    }
    evc_buf_free(&b);
}

static void
test_utf8_and_jstring(void **state)
{
    struct evc_buf b;
    json_t *j;
    char *dump;

    (void)state;
    evc_buf_init(&b, 4096);
    assert_int_equal(evc_text_utf8(&b, "ok é \xff \xc0\xaf \xed\xa0\x80 \033"), 0);
    assert_string_equal(evc_buf_str(&b), "ok é \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \033");
    evc_buf_free(&b);
    /* jansson refuses invalid UTF-8 (json_string gives NULL); ours never does. */
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        j = evc_text_jstring(hostile[i]);
        assert_non_null(j);
        dump = json_dumps(j, JSON_ENCODE_ANY);
        assert_non_null(dump);
        json_decref(j);
        j = json_loads(dump, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_null(strchr(dump, 0x1b)); /* the escape is \u001b in the document */
        free(dump);
        json_decref(j);
    }
    assert_null(json_string("bad \xff"));
    j = evc_text_jstring(NULL);
    assert_string_equal(json_string_value(j), "");
    json_decref(j);
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

/* The strict hex decoder: exactly 2 * n digits and the end, nothing sscanf would let by. */
static void
test_unhex(void **state)
{
    static const char *const bad[] = {
        "",
        "0",
        "009fff1",
        "009fff100",
        "009fff10 ",
        " 009fff10",
        "+09fff10",
        "-09fff10",
        "0x9fff10",
        "009fgf10",
        "009f ff1",
        "009fff1\n",
        /* One literal, cut so that \xff ends its escape; not two entries. */
        ("009f\xff"
         "f10"),
        "009f:f10",
    };
    const uint8_t want[] = {0x00, 0x9f, 0xff, 0x10};
    uint8_t out[4], big[32], back[32];
    char hex[65];

    (void)state;
    assert_int_equal(evc_text_unhex("009fff10", out, sizeof(out)), 0);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(evc_text_unhex("009FfF10", out, sizeof(out)), 0); /* either case */
    assert_memory_equal(out, want, sizeof(want));
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        memset(out, 0xee, sizeof(out));
        assert_int_equal(evc_text_unhex(bad[k], out, sizeof(out)), EVC_ERR_PARSE);
        for (size_t j = 0; j < sizeof(out); j++) {
            assert_int_equal(out[j], 0xee); /* untouched */
        }
    }
    assert_int_equal(evc_text_unhex(NULL, out, sizeof(out)), EVC_ERR_PARSE);
    assert_int_equal(evc_text_unhex("", out, 0), 0); /* zero bytes: the empty string only */
    assert_int_equal(evc_text_unhex("00", out, 0), EVC_ERR_PARSE);
    /* A SHA-256 as evc_text_hex writes it reads back. */
    for (size_t k = 0; k < sizeof(big); k++) {
        big[k] = (uint8_t)(k * 37 + 11);
    }
    evc_text_hex(big, sizeof(big), hex);
    assert_int_equal(evc_text_unhex(hex, back, sizeof(back)), 0);
    assert_memory_equal(back, big, sizeof(big));
    hex[63] = '\0';
    assert_int_equal(evc_text_unhex(hex, back, sizeof(back)), EVC_ERR_PARSE);
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
        cmocka_unit_test(test_vis_table),
        cmocka_unit_test(test_nvis_cut),
        cmocka_unit_test(test_utf8_and_jstring),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_unhex),
        cmocka_unit_test(test_buf_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
