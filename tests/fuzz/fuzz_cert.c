/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fast certificate reader on any bytes, beside OpenSSL's d2i_X509:
 * whatever OpenSSL parses, the reader reads or refuses with a reason, and
 * never crashes; what it reads is whole (strings set, caps kept); when
 * both read it, they agree on the validity period.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "evercert/ca.h"
#include "evercert/cert.h"
#include "evercert/limits.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_cert_reader *rd = NULL;
    struct evc_cert c;
    struct evc_err err = {0};
    const unsigned char *p = data;
    uint8_t sid[EVC_NAME_ID_LEN], iid[EVC_NAME_ID_LEN];
    X509 *x = NULL;
    evc_time nb = 0, na = 0;
    int r;

    if (evc_cert_reader_new(&rd) != 0) {
        return 0;
    }
    memset(&c, 0, sizeof(c));
    r = evc_cert_read(rd, data, size, &c, &err);
    if (r == 0) {
        /* OpenSSL reads a version past 3; the row then says so in its warning. */
        fuzz_check(c.version >= 1 && (c.version <= 3 || c.warning != NULL), "cert",
                   "version outside 1..3 without a warning");
        fuzz_check(c.serial != NULL && c.subject != NULL && c.issuer != NULL, "cert",
                   "a string not set");
        fuzz_check(c.nsans <= EVC_CERT_SANS_MAX && (c.nsans == 0 || c.sans != NULL), "cert",
                   "SANs over the cap");
        fuzz_check(c.subject_der >= data && c.subject_der + c.subject_der_len <= data + size &&
                       c.issuer_der >= data && c.issuer_der + c.issuer_der_len <= data + size,
                   "cert", "names borrowed from outside the input");
    } else {
        fuzz_check(err.code == r && err.detail[0] != '\0', "cert", "a refusal without a reason");
        fuzz_check(c.serial == NULL && c.subject == NULL && c.issuer == NULL && c.sans == NULL,
                   "cert", "strings left after a refusal");
    }
    if (evc_cert_read_names(rd, data, size, sid, iid) == 0 && r == 0) {
        fuzz_check(memcmp(sid, c.subject_id, sizeof(sid)) == 0 &&
                       memcmp(iid, c.issuer_id, sizeof(iid)) == 0,
                   "cert", "the names' walk and the full read disagree");
    }
    if ((x = d2i_X509(NULL, &p, (long)size)) != NULL && p == data + size && r == 0 &&
        evc_asn1_time(X509_get0_notBefore(x), &nb) == 0 &&
        evc_asn1_time(X509_get0_notAfter(x), &na) == 0) {
        fuzz_check(nb == c.not_before && na == c.not_after, "cert",
                   "the reader and OpenSSL disagree on the validity period");
    }
    X509_free(x);
    ERR_clear_error();
    evc_cert_clear(&c);
    evc_cert_reader_free(rd);
    return 0;
}
