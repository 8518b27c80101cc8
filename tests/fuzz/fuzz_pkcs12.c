/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#12 keystores and truststores: evc_pkcs12_each with a fixed
 * password ("fuzz", the seeds' password), every certificate bag read by
 * the fast reader as a scan does.
 */
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "sink.h"

/*
 * Key derivations of more rounds than this are skipped here, not read:
 * the reader does not cap them yet, and a count of 2^31 is a hang that
 * hides every other finding. 2048 is what OpenSSL and keytool write.
 */
#define P12_ITER_MAX 2048

static int
iter_ok(const ASN1_INTEGER *iter)
{
    long v = iter != NULL ? ASN1_INTEGER_get(iter) : 1;

    return v >= 0 && v <= P12_ITER_MAX;
}

/* The rounds of the PBE an encrypted safe names; scrypt is never fuzzed. */
static int
pbe_ok(const X509_ALGOR *alg)
{
    int nid = alg != NULL ? OBJ_obj2nid(alg->algorithm) : NID_undef;
    int ok = 0;

    if (alg == NULL || alg->parameter == NULL) {
        return 1;
    }
    if (nid == NID_pbes2) {
        PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        PBKDF2PARAM *kdf = NULL;

        if (p2 == NULL || p2->keyfunc == NULL) {
            ok = 1; /* the reader refuses it without deriving anything */
        } else if (OBJ_obj2nid(p2->keyfunc->algorithm) == NID_id_pbkdf2 &&
                   p2->keyfunc->parameter != NULL) {
            kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), p2->keyfunc->parameter);
            ok = kdf == NULL || iter_ok(kdf->iter);
        }
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(p2);
        return ok;
    }
    {
        PBEPARAM *p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);

        ok = p == NULL || iter_ok(p->iter);
        PBEPARAM_free(p);
    }
    return ok;
}

static int
rounds_ok(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    const ASN1_INTEGER *iter = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12;
    int ok = 1;

    if ((p12 = d2i_PKCS12(NULL, &p, (long)size)) == NULL) {
        ERR_clear_error();
        return 1;
    }
    if (PKCS12_mac_present(p12)) {
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        ok = iter_ok(iter);
    }
    if (ok && (safes = PKCS12_unpack_authsafes(p12)) != NULL) {
        for (int i = 0; ok && i < sk_PKCS7_num(safes); i++) {
            PKCS7 *p7 = sk_PKCS7_value(safes, i);

            if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted && p7->d.encrypted != NULL &&
                p7->d.encrypted->enc_data != NULL) {
                ok = pbe_ok(p7->d.encrypted->enc_data->algorithm);
            }
        }
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    ERR_clear_error();
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sink_state st = {"pkcs12", 0, 0, 0, NULL};
    struct evc_cert_sink sink = {sink_cert, sink_bad, &st};
    struct evc_err err = {0};
    int r;

    if (!rounds_ok(data, size) || evc_cert_reader_new(&st.reader) != 0) {
        return 0;
    }
    r = evc_pkcs12_each(data, size, "fuzz", &sink, &err);
    fuzz_check(r >= 0 || (err.code == r && err.detail[0] != '\0'), "pkcs12",
               "an error without a reason");
    evc_cert_reader_free(st.reader);
    return 0;
}
