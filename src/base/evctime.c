/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calendar arithmetic without the C library's time zone machinery, so the
 * results never depend on TZ. Days from a civil date follow Howard
 * Hinnant's public-domain algorithm (proleptic Gregorian calendar).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evercert/time.h"

/* Longest span accepted: 10,000 years keeps every sum far from overflow. */
#define EVC_SPAN_MAX_SECONDS ((int64_t)10000 * 366 * 86400)

evc_time
evc_time_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (evc_time)ts.tv_sec;
}

int64_t
evc_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

evc_time
evc_time_from_civil(int64_t year, int month, int day, int hour, int min, int sec)
{
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void
evc_time_format(evc_time t, char out[EVC_TIME_TEXT_MAX])
{
    int64_t days = t / 86400, rem = t % 86400, y;
    int m, d;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(out, EVC_TIME_TEXT_MAX, "%s",
                 y < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
        return;
    }
    snprintf(out, EVC_TIME_TEXT_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

/* Read exactly n decimal digits. */
static int
digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return -1;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
evc_time_parse(const char *s, evc_time *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

    *out = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ')) {
        return EVC_ERR_BAD_TIME;
    }
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec)) {
        return EVC_ERR_BAD_TIME;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            return EVC_ERR_BAD_TIME;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59) {
            return EVC_ERR_BAD_TIME;
        }
    } else {
        return EVC_ERR_BAD_TIME;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) ||
        h > 23 || mi > 59 || sec > 60) {
        return EVC_ERR_BAD_TIME;
    }
    /* A leap second is read as the first second of the next minute. */
    *out = evc_time_from_civil(y, mo, d, h, mi, sec) - sign * (oh * 3600 + om * 60);
    return 0;
}

int
evc_span_parse(const char *s, struct evc_span *out)
{
    const char *p = s;
    int64_t total = 0;

    out->unit = EVC_SPAN_SECONDS;
    out->value = 0;
    if (*p == '\0') {
        return EVC_ERR_BAD_DURATION;
    }
    while (*p != '\0') {
        int64_t n = 0, mul;

        if (!isdigit((unsigned char)*p)) {
            return EVC_ERR_BAD_DURATION;
        }
        while (isdigit((unsigned char)*p)) {
            if (n > EVC_SPAN_MAX_SECONDS) {
                return EVC_ERR_BAD_DURATION;
            }
            n = n * 10 + (*p++ - '0');
        }
        switch (*p++) {
        case '%':
            /* A percentage stands alone: "33%", never "1d33%". */
            if (p != s + strlen(s) || total != 0 || p - s < 2 || n > 100) {
                return EVC_ERR_BAD_DURATION;
            }
            out->unit = EVC_SPAN_PERCENT;
            out->value = n;
            return 0;
        case 'd':
            mul = 86400;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'm':
            mul = 60;
            break;
        case 's':
            mul = 1;
            break;
        default:
            return EVC_ERR_BAD_DURATION;
        }
        if (n > EVC_SPAN_MAX_SECONDS / mul || total > EVC_SPAN_MAX_SECONDS - n * mul) {
            return EVC_ERR_BAD_DURATION;
        }
        total += n * mul;
    }
    out->value = total;
    return 0;
}

int64_t
evc_span_seconds(const struct evc_span *s, int64_t lifetime)
{
    if (s->unit == EVC_SPAN_PERCENT) {
        return lifetime <= 0 ? 0 : lifetime / 100 * s->value + lifetime % 100 * s->value / 100;
    }
    return s->value;
}

void
evc_span_format(int64_t seconds, char *out, size_t outlen)
{
    const char *sign = seconds < 0 ? "-" : "";
    uint64_t a = seconds < 0 ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;

    if (a >= 86400) {
        snprintf(out, outlen, "%s%llud %lluh", sign, (unsigned long long)(a / 86400),
                 (unsigned long long)(a % 86400 / 3600));
    } else if (a >= 3600) {
        snprintf(out, outlen, "%s%lluh %llum", sign, (unsigned long long)(a / 3600),
                 (unsigned long long)(a % 3600 / 60));
    } else if (a >= 60) {
        snprintf(out, outlen, "%s%llum %llus", sign, (unsigned long long)(a / 60),
                 (unsigned long long)(a % 60));
    } else {
        snprintf(out, outlen, "%s%llus", sign, (unsigned long long)a);
    }
}
