/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DER files (one or more certificates back to back): format detection,
 * then evc_der_each, which hands over each whole element and reports a
 * truncated one. The framer under it, evc_der_element_head, is the one the
 * push channel uses too: it must agree with evc_der_element_len, and ask
 * for more only while the header is short.
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
    size_t n = evc_der_element_len(data, size), total = 0;
    int r = evc_der_element_head(data, size, &total);

    fuzz_check(f >= EVC_FORMAT_UNKNOWN && f <= EVC_FORMAT_JCEKS, "der", "unknown format value");
    fuzz_check(n <= size && (n == 0 || n >= 2), "der", "element length outside the input");
    fuzz_check(r == 0 || r == 1 || (r == EVC_ERR_BAD_DER && total == 0), "der",
               "the framer's answer is not 0, 1 or bad DER");
    fuzz_check(n == (r == 0 && total <= size ? total : 0), "der",
               "the framer and evc_der_element_len disagree");
    fuzz_check(r != 1 ||
                   (total > size && total <= EVC_DER_TAG_BYTES_MAX + 1 + EVC_DER_LENGTH_BYTES_MAX),
               "der", "more bytes asked for than a header");
    (void)evc_der_each(data, size, &sink, &err);
    return 0;
}
