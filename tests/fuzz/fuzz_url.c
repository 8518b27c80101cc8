/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The well-known URL's body, as the agent takes it from libcurl: appended
 * in chunks to a buffer capped at the SA's size (a body over the cap is
 * dropped whole, nothing offered), an empty body offers nothing, and
 * anything else must be exactly one SA (no framing; trailing bytes are
 * refused), judged with the server's configured service under policy
 * manual with the fixed trust.
 */
#include <openssl/evp.h>

#include "evercert/announce.h"
#include "evercert/buf.h"
#include "fuzz.h"
#include "sa_trust.h"

/* As curl hands a body over: at most its buffer at a time. */
#define CHUNK 16384

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_sa_known known = {fuzz_trusted(), "web.test", 0, NULL};
    struct evc_sa_policy policy = {EVC_SA_POLICY_MANUAL, NULL, 300};
    struct evc_sa_verdict v;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    struct evc_buf body;
    uint8_t sha[32];
    int over = 0, decoded;

    evc_buf_init(&body, EVC_SA_MAX);
    for (size_t off = 0; off < size && !over; off += CHUNK) {
        over = evc_buf_put(&body, data + off, size - off < CHUNK ? size - off : CHUNK) != 0;
    }
    fuzz_check(over == (size > EVC_SA_MAX), "url", "the cap is not the SA's");
    if (over || body.len == 0) {
        goto out;
    }
    fuzz_check(body.len == size, "url", "the body is not what came");
    decoded = evc_sa_decode(body.data, body.len, &sa, &err) == 0;
    evc_sa_free(sa);
    if (evc_sa_verify(body.data, body.len, &known, &policy, FUZZ_NOW, &v) == 0) {
        fuzz_verdict_check("url", &v, decoded, &known);
        fuzz_check(v.decision != EVC_SA_ACCEPT, "url", "accepted under policy manual");
        if (decoded) {
            fuzz_check(EVP_Digest(body.data, body.len, sha, NULL, EVP_sha256(), NULL) == 1 &&
                           memcmp(sha, v.sha256, 32) == 0,
                       "url", "the verdict names another SA");
        }
    }
    evc_sa_verdict_clear(&v);
out:
    evc_buf_free(&body);
    return 0;
}
