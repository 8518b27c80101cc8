/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#12 (RFC 7292) keystores and truststores. Only certificate bags are
 * opened; shrouded key bags are skipped without being decrypted, so reading
 * a keystore for a report never puts a private key in memory.
 *
 * Files made with legacy algorithms (RC2-40, as old Windows exports are)
 * need OpenSSL's legacy provider loaded by the application; the evercert
 * command loads it when present.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "evercert/certfile.h"
#include "evercert/limits.h"

struct p12_walk {
    const struct evc_cert_sink *sink;
    size_t index;
    size_t bags;
};

static int
walk_bags(struct p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) * bags, int depth, struct evc_err *err)
{
    int r;

    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);

        if (++w->bags > EVC_PKCS12_BAGS_MAX) {
            return evc_err_set(err, EVC_ERR_LIMIT, "more than %d bags", EVC_PKCS12_BAGS_MAX);
        }
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_certBag: {
            struct evc_cert_loc loc = {w->index++, 0};
            unsigned char *der = NULL;
            X509 *x;
            int len;

            if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate) {
                w->index--; /* an SDSI certificate: not X.509, not ours */
                break;
            }
            if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL || (len = i2d_X509(x, &der)) <= 0) {
                struct evc_err e = {0};

                X509_free(x);
                evc_err_openssl(&e, EVC_ERR_BAD_DER, "certificate %zu: invalid DER in bag",
                                loc.index);
                if ((r = w->sink->bad(w->sink->arg, &loc, &e)) != 0) {
                    return r;
                }
                break;
            }
            r = w->sink->cert(w->sink->arg, der, (size_t)len, &loc);
            OPENSSL_free(der);
            X509_free(x);
            if (r != 0) {
                return r;
            }
            break;
        }
        case NID_safeContentsBag:
            if (depth >= EVC_PKCS12_NEST_MAX) {
                return evc_err_set(err, EVC_ERR_LIMIT, "bags nested deeper than %d",
                                   EVC_PKCS12_NEST_MAX);
            }
            if ((r = walk_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1, err)) != 0) {
                return r;
            }
            break;
        default:
            break; /* key bags, CRL bags, secrets: skipped */
        }
    }
    return 0;
}

int
evc_pkcs12_each(const uint8_t *data, size_t len, const char *password,
                const struct evc_cert_sink *sink, struct evc_err *err)
{
    const unsigned char *p = data;
    PKCS12 *p12 = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    struct p12_walk w = {sink, 0, 0};
    const char *pass = password;
    int r = EVC_ERR_INTERNAL;

    if (len > EVC_STORE_FILE_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12");
        goto out;
    }
    if (p != data + len) {
        r = evc_err_set(err, EVC_ERR_TRAILING, "data after the PKCS#12 structure");
        goto out;
    }
    if (PKCS12_mac_present(p12)) {
        if (password != NULL) {
            if (!PKCS12_verify_mac(p12, password, -1)) {
                r = evc_err_set(err, EVC_ERR_BAD_PASSWORD, "wrong password");
                goto out;
            }
        } else if (PKCS12_verify_mac(p12, NULL, 0)) {
            pass = NULL;
        } else if (PKCS12_verify_mac(p12, "", 0)) {
            pass = "";
        } else {
            r = evc_err_set(err, EVC_ERR_NEED_PASSWORD,
                            "password required (give --password-file or --password-env)");
            goto out;
        }
    }
    ERR_clear_error();
    if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12 contents");
        goto out;
    }
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);

        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            bags = PKCS12_unpack_p7data(p7);
            break;
        case NID_pkcs7_encrypted:
            bags = PKCS12_unpack_p7encdata(p7, pass, pass ? -1 : 0);
            break;
        default:
            continue;
        }
        if (bags == NULL) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot open certificate bags");
            goto out;
        }
        r = walk_bags(&w, bags, 0, err);
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        bags = NULL;
        if (r != 0) {
            goto out;
        }
    }
    r = 0;
out:
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    ERR_clear_error();
    return r;
}
