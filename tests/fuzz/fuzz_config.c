/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration file, from memory: evc_config_parse on any bytes.
 * Whatever it refuses, it says where: the file's name, and a line the
 * text has.
 */
#include <stdlib.h>
#include <string.h>

#include "evercert/config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_config *c = (struct evc_config *)1;
    struct evc_err err = {0};
    int r;

    /* A text with no byte is still a text: never a NULL pointer. */
    r = evc_config_parse(size > 0 ? (const char *)data : "", size, "fuzz.ini", "/etc/evercert", &c,
                         &err);
    if (r == 0) {
        fuzz_check(c != NULL, "config", "success without a configuration");
        evc_config_free(c);
    } else {
        fuzz_check(c == NULL, "config", "a configuration handed over on error");
        fuzz_check(err.code == r, "config", "the error's code is not the one returned");
        fuzz_check(r != EVC_ERR_CONFIG || strncmp(err.detail, "fuzz.ini:", 9) == 0, "config",
                   "an error that does not name the file");
        if (r == EVC_ERR_CONFIG && err.detail[9] >= '0' && err.detail[9] <= '9') {
            unsigned long line = strtoul(err.detail + 9, NULL, 10), lines = 1;

            for (size_t i = 0; i + 1 < size; i++) {
                lines += data[i] == '\n';
            }
            fuzz_check(line >= 1 && line <= lines, "config", "an error at a line the text lacks");
        }
    }
    return 0;
}
