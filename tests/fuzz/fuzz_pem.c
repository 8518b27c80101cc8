/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PEM files (bundles, chains, keys and other blocks mixed): evc_pem_each
 * hands over each certificate block's DER and reports each broken one by
 * line; every certificate found is then read by the fast reader, as a scan
 * does.
 */
#include "fuzz.h"
#include "sink.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sink_state st = {"pem", 0, 0, 1, NULL};
    struct evc_cert_sink sink = {sink_cert, sink_bad, &st};
    struct evc_err err = {0};

    if (evc_cert_reader_new(&st.reader) != 0) {
        return 0;
    }
    (void)evc_format_detect(data, size);
    (void)evc_pem_each(data, size, &sink, &err);
    evc_cert_reader_free(st.reader);
    return 0;
}
