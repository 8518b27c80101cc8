/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3339 times and the spans of --threshold and --prenotify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "evercert/time.h"

static void
test_parse_format(void **state)
{
    struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-22T10:00:00Z", 1795341600},
        {"2026-11-22t10:00:00z", 1795341600},
        {"2026-11-22T11:00:00+01:00", 1795341600},
        {"2026-11-22T05:30:00-04:30", 1795341600},
        {"2026-11-22T10:00:00.123456Z", 1795341600},
        {"2024-02-29T00:00:00Z", 1709164800},
        {"1969-12-31T23:59:59Z", -1},
        {"9999-12-31T23:59:59Z", 253402300799},
    };
    const char *bad[] = {"",
                         "2026-11-22",
                         "2026-11-22T10:00:00",
                         "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-04-31T00:00:00Z",
                         "2026-11-22T24:00:00Z",
                         "2026-11-22T10:60:00Z",
                         "2026-11-22T10:00:00+1:00",
                         "2026-11-22T10:00:00Zjunk",
                         "2026-11-22T10:00:00.Z",
                         "26-11-22T10:00:00Z"};
    char txt[EVC_TIME_TEXT_MAX];
    evc_time t;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(evc_time_parse(ok[i].in, &t), 0);
        assert_true(t == ok[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(evc_time_parse(bad[i], &t), EVC_ERR_BAD_TIME);
        assert_true(t == 0);
    }
    evc_time_format(1795341600, txt);
    assert_string_equal(txt, "2026-11-22T10:00:00Z");
    evc_time_format(-1, txt);
    assert_string_equal(txt, "1969-12-31T23:59:59Z");
    /* Round trip over a range of days, leap years included. */
    for (int64_t s = -5000000000LL; s < 5000000000LL; s += 86399 * 37) {
        evc_time_format(s, txt);
        assert_int_equal(evc_time_parse(txt, &t), 0);
        assert_true(t == s);
    }
}

static void
test_spans(void **state)
{
    struct {
        const char *in;
        enum evc_span_unit unit;
        int64_t value;
    } ok[] = {
        {"60d", EVC_SPAN_SECONDS, 60 * 86400}, {"12h", EVC_SPAN_SECONDS, 12 * 3600},
        {"90m", EVC_SPAN_SECONDS, 5400},       {"45s", EVC_SPAN_SECONDS, 45},
        {"1d12h", EVC_SPAN_SECONDS, 129600},   {"0s", EVC_SPAN_SECONDS, 0},
        {"33%", EVC_SPAN_PERCENT, 33},         {"100%", EVC_SPAN_PERCENT, 100},
        {"0%", EVC_SPAN_PERCENT, 0},
    };
    const char *bad[] = {"",
                         "60",
                         "d",
                         "60x",
                         "-5d",
                         "101%",
                         "1d33%",
                         "33%%",
                         "%",
                         "1.5d",
                         "99999999999999999999d",
                         "4000000d",
                         " 60d"};
    struct evc_span sp;
    char txt[32];

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(evc_span_parse(ok[i].in, &sp), 0);
        assert_int_equal(sp.unit, ok[i].unit);
        assert_true(sp.value == ok[i].value);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(evc_span_parse(bad[i], &sp), EVC_ERR_BAD_DURATION);
    }
    assert_int_equal(evc_span_parse("33%", &sp), 0);
    assert_true(evc_span_seconds(&sp, 300) == 99);
    assert_true(evc_span_seconds(&sp, -5) == 0);
    evc_span_format(90061, txt, sizeof(txt));
    assert_string_equal(txt, "1d 1h");
    evc_span_format(-3700, txt, sizeof(txt));
    assert_string_equal(txt, "-1h 1m");
    evc_span_format(45, txt, sizeof(txt));
    assert_string_equal(txt, "45s");
    evc_span_format(INT64_MIN, txt, sizeof(txt));
    assert_true(txt[0] == '-');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_spans),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
