/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The push channel's framer: evc_der_frame over a stream of any bytes, as
 * the agent reads it (each whole object is handed to the SA decoder and
 * dropped, a partial one waits, garbage or an object over the cap ends the
 * connection). Its answer never changes once the header is in, however the
 * bytes arrived, and an object it frames is within the cap.
 */
#include "evercert/agent.h"
#include "evercert/announce.h"
#include "fuzz.h"

/* A smaller cap as well, so the limit path is reached by small inputs. */
static const size_t caps[] = {EVC_SA_MAX, 512};

static void
stream(const uint8_t *data, size_t size, size_t max)
{
    size_t off = 0;

    while (off < size) {
        const uint8_t *p = data + off;
        size_t n = size - off, total = 0, again = 0;
        struct evc_err err = {0};
        struct evc_sa *sa = NULL;
        int r = evc_der_frame(p, n, max, &total, &err);

        if (r == 1) {
            /* Short of a header: it asks for more bytes, but never past the header. */
            fuzz_check(n < 6 && total > n && total <= 6, "frame",
                       "more bytes asked for than a header, or for a whole one");
            return;
        }
        if (r != 0) {
            fuzz_check((r == EVC_ERR_PARSE || r == EVC_ERR_LIMIT) && err.code == r, "frame",
                       "an error other than parse or limit, or without a reason");
            return;
        }
        fuzz_check(total >= 2 && total <= max, "frame", "object length outside 2..cap");
        /* The same answer from every longer prefix that holds the header. */
        for (size_t k = 1; k < n && k <= 6; k++) {
            int rk = evc_der_frame(p, k, max, &again, NULL);

            fuzz_check(rk == 1 || (rk == 0 && again == total), "frame",
                       "a prefix gives another answer");
        }
        if (n < total) {
            return; /* partial: the reader waits for more */
        }
        if (evc_sa_decode(p, total, &sa, &err) == 0) {
            evc_sa_free(sa);
        }
        off += total;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        stream(data, size, caps[i]);
    }
    return 0;
}
