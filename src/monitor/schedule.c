/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schedule arithmetic in local civil time: days are counted on the
 * calendar (noon, so a DST change never moves the date), then the
 * wall-clock time is asked of mktime with tm_isdst = -1.
 */
#include <time.h>

#include "evercert/schedule.h"

/* Local noon of the date of t plus days: a stable point to count dates from. */
static time_t
noon_plus(time_t t, int days)
{
    struct tm tm;

    localtime_r(&t, &tm);
    tm.tm_mday += days;
    tm.tm_hour = 12;
    tm.tm_min = 0;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

evc_time
evc_schedule_next(const struct evc_schedule *s, evc_time from, int first)
{
    time_t day = noon_plus((time_t)from, first ? 0 : s->frequency);

    /* A week and a day: a matching weekday is always found, and one after from. */
    for (int i = 0; i < 15; i++) {
        struct tm tm;
        time_t at;

        localtime_r(&day, &tm);
        if (s->day_of_week < 0 || tm.tm_wday == s->day_of_week) {
            tm.tm_hour = s->hour;
            tm.tm_min = s->minute;
            tm.tm_sec = 0;
            tm.tm_isdst = -1;
            at = mktime(&tm);
            if ((evc_time)at > from) {
                return (evc_time)at;
            }
        }
        day = noon_plus(day, 1);
    }
    return from + (evc_time)s->frequency * 86400; /* unreachable with valid fields */
}
