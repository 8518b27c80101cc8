/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The query of the well-known URL, from any client: a report only with
 * exactly one held of 1..20 digits and at most one client of the id
 * charset; nothing at all otherwise.
 */
#include <string.h>

#include "evercert/ready.h"
#include "fuzz.h"

static int
id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > EVC_ACK_ID_MAX) {
        return 0;
    }
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@") == n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[EVC_ACK_ID_MAX + 1];
    uint64_t held = 1;
    int r = evc_ready_query_parse((const char *)data, size, &held, id);

    if (r != 1) {
        fuzz_check(r == 0 && held == 0 && id[0] == '\0', "query", "nothing carried, yet a value");
        return 0;
    }
    fuzz_check(memmem(data, size, "held=", 5) != NULL, "query", "a report without held=");
    fuzz_check(id[0] == '\0' || (id_ok(id) && memmem(data, size, "client=", 7) != NULL), "query",
               "an id outside the charset or not sent");
    return 0;
}
