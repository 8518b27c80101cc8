/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake extension's bytes: the first input byte says whose they
 * are (even: a ClientHello's generation, read by the server; odd: the SA
 * in EncryptedExtensions, read by the client, then decoded as the agent
 * does). The rest is the extension's body.
 */
#include "evercert/announce.h"
#include "tls/tls_int.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    struct evc_err err = {0};
    struct evc_sa *sa = NULL;
    uint64_t have = 1, want = 0;
    int r;

    if (size == 0) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        r = evc_ext_parse_have(in, n, &have);
        fuzz_check((r == 0) == (n == 8), "ext", "a generation of other than 8 bytes");
        for (size_t i = 0; r == 0 && i < 8; i++) {
            want = want << 8 | in[i];
        }
        fuzz_check(have == want, "ext", "generation not big-endian, or not cleared on error");
        return 0;
    }
    r = evc_ext_parse_sa(in, n);
    fuzz_check((r == 0) == (n >= 1 && n <= EVC_SA_MAX), "ext", "SA outside 1..EVC_SA_MAX taken");
    if (r == 0 && evc_sa_decode(in, n, &sa, &err) == 0) {
        evc_sa_free(sa);
    }
    return 0;
}
