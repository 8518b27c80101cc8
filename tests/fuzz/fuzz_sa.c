/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Successor Announcement as any source delivers it: evc_sa_decode,
 * evc_sa_signers, and evc_sa_verify with a fixed trusted certificate and a
 * fixed now, under policy auto (with a last generation and SA, for the
 * rollback, replay and conflict rules) and policy ca.
 */
#include "evercert/announce.h"
#include "fuzz.h"
#include "sa_trust.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t last_sha256[32] = {1};
    struct evc_sa_known known[2] = {
        {fuzz_trusted(), NULL, 1, last_sha256},
        {fuzz_trusted(), "web.test", 0, NULL},
    };
    struct evc_sa_policy policy[2] = {
        {EVC_SA_POLICY_AUTO, NULL, 0},
        {EVC_SA_POLICY_CA, fuzz_trust_store(), 300},
    };
    struct evc_err err = {0};
    struct evc_sa *sa = NULL;
    uint8_t fps[4][32];
    size_t n = 0;
    int decoded;

    decoded = evc_sa_decode(data, size, &sa, &err) == 0;
    if (decoded) {
        size_t len = strlen(sa->service);

        fuzz_check(len >= 1 && len <= EVC_SA_SERVICE_MAX, "sa", "service name length");
        fuzz_check(sk_X509_num(sa->successor) >= 1 &&
                       sk_X509_num(sa->successor) <= EVC_SA_CERTS_MAX,
                   "sa", "successor count");
        fuzz_check(sa->anchors == NULL || (sk_X509_num(sa->anchors) >= 1 &&
                                           sk_X509_num(sa->anchors) <= EVC_SA_CERTS_MAX),
                   "sa", "anchor count");
        evc_sa_free(sa);
    } else {
        fuzz_check(sa == NULL && err.code < 0 && err.detail[0] != '\0', "sa",
                   "a refusal without a reason, or with an SA");
    }
    if (evc_sa_signers(data, size, fps, 4, &n, NULL) != 0) {
        fuzz_check(n == 0, "sa", "signers counted in what is no CMS");
    }
    for (size_t i = 0; i < 2; i++) {
        struct evc_sa_verdict v;

        if (evc_sa_verify(data, size, &known[i], &policy[i], FUZZ_NOW, &v) == 0) {
            fuzz_verdict_check("sa", &v, decoded, &known[i]);
        }
        evc_sa_verdict_clear(&v);
    }
    return 0;
}
