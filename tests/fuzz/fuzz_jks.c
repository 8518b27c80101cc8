/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Java keystores (JKS, JCEKS): evc_jks_parse with the seeds' password
 * ("fuzzfuzz": keytool wants six characters) and without one, every
 * certificate of every entry through the store reader, and each JKS key
 * entry through the key protector. A
 * keystore that parses must come out of the writer unchanged (nothing
 * edited: the same bytes), so the spans the reader records are exact.
 */
#include <stdlib.h>
#include <string.h>

#include "evercert/jks.h"
#include "fuzz.h"
#include "sink.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sink_state st = {"jks", 0, 0, 0, NULL};
    struct evc_cert_sink sink = {sink_cert, sink_bad, &st};
    struct evc_err err = {0};
    struct evc_jks *ks = NULL;

    (void)evc_jks_each(data, size, NULL, &sink, &err);
    if (evc_jks_parse(data, size, "fuzzfuzz", &ks, &err) == 0) {
        struct evc_jks_edit ed = {SIZE_MAX, NULL, SIZE_MAX, NULL, NULL, 0};
        struct evc_buf out;

        fuzz_check(ks->verified, "jks", "parsed with a password but not verified");
        evc_buf_init(&out, EVC_STORE_FILE_MAX);
        fuzz_check(evc_jks_encode(ks, &ed, "fuzzfuzz", &out, &err) == 0 && out.len == size &&
                       memcmp(out.data, data, size) == 0,
                   "jks", "a keystore written without an edit is not the same bytes");
        evc_buf_free(&out);
        for (size_t i = 0; i < ks->n; i++) {
            EVP_PKEY *k = NULL;

            fuzz_check(ks->entries[i].raw.off + ks->entries[i].raw.len <= size, "jks",
                       "an entry past the end");
            if (ks->entries[i].tag == EVC_JKS_KEY) {
                int r = evc_jks_key_decrypt(ks, i, "fuzzfuzz", &k, &err);

                fuzz_check((r == 0) == (k != NULL), "jks",
                           "a key without success, or none with it");
                EVP_PKEY_free(k);
            }
        }
        evc_jks_free(ks);
    }
    return 0;
}
