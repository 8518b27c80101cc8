/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time as seconds since the Unix epoch (UTC) in an int64_t, RFC 3339 text,
 * and the durations people write in configs and options ("60d", "33%").
 * Everything here is pure: the current time is always passed in.
 */
#ifndef EVERCERT_TIME_H
#define EVERCERT_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/error.h"

typedef int64_t evc_time;

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and a NUL. */
#define EVC_TIME_TEXT_MAX 21

/*
 * A span is either a number of seconds or a share of a certificate's
 * lifetime, in whole percent (0..100).
 */
enum evc_span_unit { EVC_SPAN_SECONDS, EVC_SPAN_PERCENT };
struct evc_span {
    enum evc_span_unit unit;
    int64_t value;
};

/* The wall clock; the only function here that reads it. */
EVC_EXPORT evc_time evc_time_now(void);
/* Milliseconds on the monotonic clock, for deadlines and intervals that a clock jump must not move.
 */
EVC_EXPORT int64_t evc_mono_ms(void);

/*
 * Parse RFC 3339 ("2026-11-22T10:00:00Z", "...T11:00:00+01:00", fractions
 * of a second are accepted and dropped). 0 or EVC_ERR_BAD_TIME.
 */
EVC_EXPORT EVC_MUST_USE int evc_time_parse(const char *s, evc_time *out);

/* Format as RFC 3339 UTC into out (EVC_TIME_TEXT_MAX bytes). */
EVC_EXPORT void evc_time_format(evc_time t, char out[EVC_TIME_TEXT_MAX]);

/* Seconds since the epoch of a UTC calendar time; no time zone involved. */
EVC_EXPORT evc_time evc_time_from_civil(int64_t year, int month, int day, int hour, int min,
                                        int sec);

/*
 * Parse a span: one or more <number><unit> with units d, h, m, s ("60d",
 * "1d12h"), or a whole percentage ("33%"). 0 or EVC_ERR_BAD_DURATION.
 */
EVC_EXPORT EVC_MUST_USE int evc_span_parse(const char *s, struct evc_span *out);

/* The span in seconds for a certificate that lives `lifetime` seconds. */
EVC_EXPORT int64_t evc_span_seconds(const struct evc_span *s, int64_t lifetime);

/* A short human form of a signed number of seconds: "59d 23h", "-2h 5m", "45s". */
EVC_EXPORT void evc_span_format(int64_t seconds, char *out, size_t outlen);

#endif
