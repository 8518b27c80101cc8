/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's schedule across month ends, leap days, DST changes and
 * frequencies that are not multiples of 7.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "evercert/schedule.h"

/* Local civil time to evc_time, in the current TZ. */
static evc_time
local(int y, int mo, int d, int h, int mi)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_isdst = -1;
    return (evc_time)mktime(&tm);
}

static void
zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void
test_websphere_default(void **state)
{
    struct evc_schedule s = {14, 0, 21, 30}; /* every 14 days, Sunday 21:30 */

    (void)state;
    zone("UTC");
    /* First run: the next Sunday 21:30. 2026-11-22 is a Sunday. */
    assert_int_equal(evc_schedule_next(&s, local(2026, 11, 22, 10, 0), 1),
                     local(2026, 11, 22, 21, 30));
    assert_int_equal(evc_schedule_next(&s, local(2026, 11, 22, 22, 0), 1),
                     local(2026, 11, 29, 21, 30));
    /* Then 14 days later, on a Sunday again. */
    assert_int_equal(evc_schedule_next(&s, local(2026, 11, 22, 21, 30), 0),
                     local(2026, 12, 6, 21, 30));
    /* Across the year end. */
    assert_int_equal(evc_schedule_next(&s, local(2026, 12, 27, 21, 30), 0),
                     local(2027, 1, 10, 21, 30));
}

static void
test_frequency_not_a_multiple_of_seven(void **state)
{
    struct evc_schedule s = {30, 1, 3, 0}; /* every 30 days, Monday 03:00 */
    struct evc_schedule t = {31, 1, 3, 0};

    (void)state;
    zone("UTC");
    /* 2026-11-23 is a Monday; +30 days is Wednesday 2026-12-23, so the next Monday, 12-28. */
    assert_int_equal(evc_schedule_next(&s, local(2026, 11, 23, 3, 0), 0),
                     local(2026, 12, 28, 3, 0));
    /* +31 days is Thursday 12-24: the same Monday. */
    assert_int_equal(evc_schedule_next(&t, local(2026, 11, 23, 3, 0), 0),
                     local(2026, 12, 28, 3, 0));
    /* Any day: exactly the frequency. */
    s.day_of_week = -1;
    assert_int_equal(evc_schedule_next(&s, local(2026, 11, 23, 3, 0), 0),
                     local(2026, 12, 23, 3, 0));
    /* A daily schedule run late still lands at the set time. */
    s.frequency = 1;
    assert_int_equal(evc_schedule_next(&s, local(2026, 11, 23, 17, 42), 0),
                     local(2026, 11, 24, 3, 0));
}

static void
test_month_ends_and_leap_days(void **state)
{
    struct evc_schedule s = {1, -1, 0, 15};

    (void)state;
    zone("UTC");
    assert_int_equal(evc_schedule_next(&s, local(2028, 2, 28, 0, 15), 0),
                     local(2028, 2, 29, 0, 15));
    assert_int_equal(evc_schedule_next(&s, local(2028, 2, 29, 0, 15), 0), local(2028, 3, 1, 0, 15));
    assert_int_equal(evc_schedule_next(&s, local(2027, 2, 28, 0, 15), 0), local(2027, 3, 1, 0, 15));
    assert_int_equal(evc_schedule_next(&s, local(2026, 4, 30, 0, 15), 0), local(2026, 5, 1, 0, 15));
    s.frequency = 366;
    assert_int_equal(evc_schedule_next(&s, local(2028, 1, 1, 0, 15), 0), local(2029, 1, 1, 0, 15));
}

static void
test_dst(void **state)
{
    struct evc_schedule s = {1, -1, 21, 30};
    evc_time a, b;

    (void)state;
    zone("America/New_York");
    /* Spring forward on 2026-03-08: 21:30 stays 21:30, so the day is 23 hours. */
    a = local(2026, 3, 7, 21, 30);
    b = evc_schedule_next(&s, a, 0);
    assert_int_equal(b, local(2026, 3, 8, 21, 30));
    assert_int_equal(b - a, 23 * 3600);
    /* Fall back on 2026-11-01: a 25-hour day. */
    a = local(2026, 10, 31, 21, 30);
    b = evc_schedule_next(&s, a, 0);
    assert_int_equal(b - a, 25 * 3600);
    /* 02:30 does not exist on 2026-03-08: the run moves forward with the clock, to 03:30 EDT. */
    s.hour = 2;
    b = evc_schedule_next(&s, local(2026, 3, 7, 2, 30), 0);
    assert_int_equal(b, local(2026, 3, 8, 1, 30) + 3600);
    zone("UTC");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_websphere_default),
        cmocka_unit_test(test_frequency_not_a_multiple_of_seven),
        cmocka_unit_test(test_month_ends_and_leap_days),
        cmocka_unit_test(test_dst),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
