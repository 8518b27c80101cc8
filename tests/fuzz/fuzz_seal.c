/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed keys as the fleet's database hands them out (shared stores): the
 * record parser on any bytes, opening them under a fixed key, and sealing
 * the input and opening it again.
 */
#include <string.h>

#include "evercert/shared.h"
#include "fuzz.h"

static const uint8_t key[EVC_FLEET_KEY_LEN] = {0x42, 0x17};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_seal_rec rec;
    struct evc_seal_ad ad;
    struct evc_buf out, again;
    const char *why = NULL;
    int r;

    r = evc_seal_parse(data, size, &rec, &why);
    fuzz_check((r == 0) == (size > EVC_SEAL_OVERHEAD && size <= EVC_SEAL_RECORD_MAX &&
                            data[0] == EVC_SEAL_VERSION),
               "seal", "parse accepts exactly the records of its layout");
    fuzz_check(r == 0 ? rec.ct_len == size - EVC_SEAL_OVERHEAD && why == NULL
                      : rec.nonce == NULL && why != NULL,
               "seal", "a parse result is whole, a refusal says why and leaves nothing");
    memset(&ad, 0, sizeof(ad));
    ad.store = "web";
    ad.generation = size;
    evc_buf_init(&out, EVC_SEAL_PLAIN_MAX + 1);
    /* Bytes nobody sealed under this key never open. */
    fuzz_check(evc_unseal(key, &ad, data, size, &out, NULL) != 0 && out.len == 0, "seal",
               "an unsealed record opened");
    evc_buf_init(&again, EVC_SEAL_RECORD_MAX);
    if (size > 0 && size <= EVC_SEAL_PLAIN_MAX) {
        fuzz_check(evc_seal(key, &ad, data, size, &again, NULL) == 0, "seal", "cannot seal");
        fuzz_check(evc_unseal(key, &ad, again.data, again.len, &out, NULL) == 0 &&
                       out.len == size && memcmp(out.data, data, size) == 0,
                   "seal", "a sealed record does not open to what was sealed");
        ad.generation++;
        fuzz_check(evc_unseal(key, &ad, again.data, again.len, &out, NULL) != 0, "seal",
                   "a record opened for another generation");
    }
    evc_buf_free(&out);
    evc_buf_free(&again);
    return 0;
}
