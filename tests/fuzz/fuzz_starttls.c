/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A peer's bytes before TLS, as the scanner reads them: an SMTP reply and
 * IMAP lines (the first input byte picks the reader: SMTP, the IMAP
 * greeting, or IMAP up to the tagged response of "a"). A complete reply
 * takes whole lines and never more than was given; fed one byte at a time
 * (as a dripping peer sends), the reader says "more" until the same
 * answer, so where TCP cuts the bytes changes nothing.
 */
#include <string.h>

#include "evercert/endpoint.h"
#include "fuzz.h"

static int
read_one(int which, const uint8_t *p, size_t len, int *v, size_t *used)
{
    struct evc_err err = {0};
    int r;

    if (which == 0) {
        r = evc_ep_smtp_reply(p, len, v, used, &err);
    } else {
        r = evc_ep_imap_reply(p, len, which == 1 ? NULL : "a", v, used, &err);
    }
    fuzz_check(r != EVC_ERR_PARSE || err.detail[0] != '\0', "starttls",
               "a refusal without its reason");
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int which, r, v = 0, r2 = 1, v2 = 0;
    size_t used = 0, used2 = 0, n;

    if (size == 0 || size > EVC_EP_PRETLS_MAX + 1) {
        return 0;
    }
    which = data[0] % 3;
    data++;
    size--;
    r = read_one(which, data, size, &v, &used);
    fuzz_check(r == 0 || r == 1 || r == EVC_ERR_PARSE, "starttls", "an unexpected result");
    if (r == 0) {
        fuzz_check(used > 0 && used <= size && data[used - 1] == '\n', "starttls",
                   "a reply that does not end a line or takes more than given");
    }
    /* The shortest prefix with an answer gives the same answer. */
    for (n = 0; n <= size && r2 == 1; n++) {
        r2 = read_one(which, data, n, &v2, &used2);
    }
    fuzz_check(r2 == r && (r != 0 || (v2 == v && used2 == used)), "starttls",
               "cut into bytes, the reply reads otherwise");
    return 0;
}
