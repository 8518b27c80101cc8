/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durations from configs and options ("60d", "1d12h", "33%"):
 * evc_span_parse on any text; a parsed span is within its bounds, its
 * share of any lifetime is within that lifetime, and its seconds written
 * back as "<n>s" parse to the same span.
 */
#include <stdio.h>

#include "evercert/time.h"
#include "fuzz.h"

/* evctime.c's cap: 10,000 years. */
#define SPAN_MAX ((int64_t)10000 * 366 * 86400)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size), text[64];
    struct evc_span sp, back;
    int64_t life = 0;

    if (s == NULL) {
        return 0;
    }
    for (size_t i = 0; i < 5 && i < size; i++) {
        life = life << 8 | data[i];
    }
    if (evc_span_parse(s, &sp) == 0) {
        if (sp.unit == EVC_SPAN_PERCENT) {
            int64_t v = evc_span_seconds(&sp, life);

            fuzz_check(sp.value >= 0 && sp.value <= 100, "span", "percentage out of 0..100");
            fuzz_check(v >= 0 && v <= life, "span", "share of a lifetime outside it");
        } else {
            fuzz_check(sp.unit == EVC_SPAN_SECONDS, "span", "unknown unit");
            fuzz_check(sp.value >= 0 && sp.value <= SPAN_MAX, "span", "seconds out of range");
            fuzz_check(evc_span_seconds(&sp, life) == sp.value, "span", "seconds depend on life");
            snprintf(text, sizeof(text), "%llds", (long long)sp.value);
            fuzz_check(evc_span_parse(text, &back) == 0 && back.unit == EVC_SPAN_SECONDS &&
                           back.value == sp.value,
                       "span", "seconds written back parse to another span");
        }
        evc_span_format(sp.value, text, sizeof(text));
    } else {
        fuzz_check(sp.unit == EVC_SPAN_SECONDS && sp.value == 0, "span", "out not cleared");
    }
    free(s);
    return 0;
}
