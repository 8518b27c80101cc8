/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3339 times (--at, activate_at, state rows): evc_time_parse on any
 * text, and the round trip with evc_time_format wherever the time falls in
 * the years 0000..9999 that the format writes.
 */
#include <string.h>

#include "evercert/time.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size), text[EVC_TIME_TEXT_MAX];
    /* The first and last second the format writes as they are. */
    const evc_time lo = evc_time_from_civil(0, 1, 1, 0, 0, 0);
    const evc_time hi = evc_time_from_civil(10000, 1, 1, 0, 0, 0) - 1;
    evc_time t = 1, back = 1;
    uint64_t raw = 0;

    if (s == NULL) {
        return 0;
    }
    if (evc_time_parse(s, &t) == 0) {
        /* Offsets reach a day past either end of the calendar, not further. */
        fuzz_check(t >= lo - 86400 && t <= hi + 86400, "time", "parsed time out of range");
        if (t >= lo && t <= hi) {
            evc_time_format(t, text);
            fuzz_check(evc_time_parse(text, &back) == 0, "time", "formatted time does not parse");
            fuzz_check(back == t, "time", "format then parse changes the time");
        }
    } else {
        fuzz_check(t == 0, "time", "out not cleared on error");
    }
    /* Any 64-bit time formats into text that parses back. */
    for (size_t i = 0; i < 8 && i < size; i++) {
        raw = raw << 8 | data[i];
    }
    evc_time_format((evc_time)raw, text);
    fuzz_check(strlen(text) == EVC_TIME_TEXT_MAX - 1, "time", "formatted time of another length");
    fuzz_check(evc_time_parse(text, &back) == 0, "time", "formatted time does not parse");
    fuzz_check((evc_time)raw < lo || (evc_time)raw > hi || back == (evc_time)raw, "time",
               "format then parse changes an in-range time");
    free(s);
    return 0;
}
