/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status text the monitor reads from an `evercert serve` it is told
 * of: a refusal has a reason and leaves nothing; an accepted text keeps
 * its lists within their caps, no more ready than clients, and written
 * back then read again gives the same summary.
 */
#include <string.h>

#include "evercert/ready.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_ready_summary s, again;
    struct evc_err err = {0};
    struct evc_buf b;

    if (evc_ready_status_parse(data, size, &s, &err) != 0) {
        fuzz_check(err.code != 0 && err.detail[0] != '\0' && s.clients == 0 && s.nunready == 0,
                   "status", "a refusal without a reason, or a partly filled result");
        return 0;
    }
    fuzz_check(size <= EVC_READY_STATUS_MAX, "status", "accepted over the cap");
    fuzz_check(s.ready <= s.clients && s.ngens <= EVC_READY_GENS_MAX &&
                   s.nunready <= EVC_READY_LIST_MAX,
               "status", "a count or a list out of its bounds");
    evc_buf_init(&b, EVC_READY_STATUS_MAX);
    fuzz_check(evc_ready_status_text(&s, &b) == 0, "status", "an accepted summary not written");
    memset(&err, 0, sizeof(err));
    fuzz_check(evc_ready_status_parse(b.data, b.len, &again, &err) == 0 &&
                   memcmp(&s, &again, sizeof(s)) == 0,
               "status", "written back, read differently");
    evc_buf_free(&b);
    return 0;
}
