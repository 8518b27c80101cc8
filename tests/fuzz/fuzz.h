/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every fuzz target shares: libFuzzer's entry points, and the check
 * that turns a broken property into a crash, so libFuzzer and the replay
 * driver both report it with the input that broke it.
 */
#ifndef EVC_FUZZ_H
#define EVC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void
fuzz_check(int ok, const char *target, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_%s: property broken: %s\n", target, what);
        abort();
    }
}

/* The input as a C string (the text parsers take one); NULL when out of memory. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s != NULL) {
        for (size_t i = 0; i < size; i++) {
            s[i] = (char)data[i];
        }
        s[size] = '\0';
    }
    return s;
}

#endif
