/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The acknowledgement a server reads from any client on its push channel:
 * accepted only whole and strict, and then it encodes back to the very
 * same bytes (DER has one encoding), with an id of the allowed charset.
 */
#include <string.h>

#include "evercert/announce.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_ack a;
    uint8_t again[EVC_ACK_MAX];
    size_t len = 0;
    const char *why = NULL;
    int r = evc_ack_parse(data, size, &a, &why);

    if (r != 0) {
        fuzz_check(why != NULL && a.generation == 0 && a.client_id[0] == '\0', "ack",
                   "an error without a reason, or a partly filled result");
        return 0;
    }
    fuzz_check(size <= EVC_ACK_MAX, "ack", "accepted over the cap");
    fuzz_check(a.client_id[0] == '\0' || evc_ack_id_check(a.client_id, strlen(a.client_id)) == 0,
               "ack", "an id outside the charset");
    fuzz_check(evc_ack_encode(&a, again, sizeof(again), &len) == 0 && len == size &&
                   memcmp(again, data, size) == 0,
               "ack", "accepted bytes that are not the one encoding");
    return 0;
}
