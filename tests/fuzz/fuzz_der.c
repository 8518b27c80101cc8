/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DER files (one or more certificates back to back): format detection,
 * then evc_der_each, which hands over each whole element and reports a
 * truncated one.
 */
#include "fuzz.h"
#include "sink.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sink_state st = {"der", 0, 0, 0, NULL};
    struct evc_cert_sink sink = {sink_cert, sink_bad, &st};
    struct evc_err err = {0};
    enum evc_format f = evc_format_detect(data, size);
    size_t n = evc_der_element_len(data, size);

    fuzz_check(f >= EVC_FORMAT_UNKNOWN && f <= EVC_FORMAT_PKCS12, "der", "unknown format value");
    fuzz_check(n <= size && (n == 0 || n >= 2), "der", "element length outside the input");
    (void)evc_der_each(data, size, &sink, &err);
    return 0;
}
