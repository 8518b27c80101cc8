/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An access log the monitor reads (nginx, Apache, Tomcat; anyone who can
 * send a request writes into it): linear, every report taken stays
 * inside the tracker's cap, and bad lines and reports never outnumber
 * the lines.
 */
#include <string.h>

#include "evercert/ready.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_ready *r = NULL;
    struct evc_ready_opts o = {86400, 8, 0};
    struct evc_ready_summary s;
    size_t bad = 0, lines = 0;
    int taken;

    if (evc_ready_new(&r, &o, NULL) != 0) {
        return 0;
    }
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    taken = evc_ready_log_feed(r, data, size, &bad);
    fuzz_check(taken >= 0 && (size_t)taken + bad <= lines, "log", "more reports than lines");
    evc_ready_count(r, 1, (evc_time)1796083200, &s);
    fuzz_check(s.entries <= 8 && s.clients <= s.entries && s.ready <= s.clients, "log",
               "over the cap, or counts that do not add up");
    evc_ready_free(r);
    return 0;
}
