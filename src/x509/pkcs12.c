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
#include <inttypes.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "evercert/certfile.h"
#include "evercert/limits.h"
#include "evercert/pkcs12.h"

/* One iteration count from the file against the cap; NULL is DEFAULT 1. */
static int
check_iter(const ASN1_INTEGER *iter, const char *what, struct evc_err *err)
{
    int64_t v;

    if (iter == NULL) {
        return 0;
    }
    if (!ASN1_INTEGER_get_int64(&v, iter)) {
        ERR_clear_error();
        return evc_err_set(err, EVC_ERR_LIMIT,
                           "%s iteration count over 63 bits, over the cap of %d", what,
                           EVC_PKCS12_ITER_MAX);
    }
    if (v < 1) {
        return evc_err_set(err, EVC_ERR_BAD_DER, "%s iteration count %" PRId64 " is not positive",
                           what, v);
    }
    if (v > EVC_PKCS12_ITER_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s iteration count %" PRId64 " over the cap of %d",
                           what, v, EVC_PKCS12_ITER_MAX);
    }
    return 0;
}

/* scrypt's work is N * r * p block mixes: the product is held to the same cap. */
static int
check_scrypt(const X509_ALGOR *kdf, struct evc_err *err)
{
    SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), kdf->parameter);
    uint64_t n, rr, p;
    int r = 0;

    if (sp == NULL || !ASN1_INTEGER_get_uint64(&n, sp->costParameter) ||
        !ASN1_INTEGER_get_uint64(&rr, sp->blockSize) ||
        !ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter)) {
        r = evc_err_set(err, EVC_ERR_BAD_DER, "invalid scrypt parameters");
    } else if (n == 0 || rr == 0 || p == 0 || n > EVC_PKCS12_ITER_MAX ||
               rr > EVC_PKCS12_ITER_MAX / n || p > EVC_PKCS12_ITER_MAX / (n * rr)) {
        r = evc_err_set(err, EVC_ERR_LIMIT,
                        "scrypt cost N=%" PRIu64 " r=%" PRIu64 " p=%" PRIu64
                        " over the cap of %d for N*r*p",
                        n, rr, p, EVC_PKCS12_ITER_MAX);
    }
    SCRYPT_PARAMS_free(sp);
    ERR_clear_error();
    return r;
}

/* The cost of one password-based encryption algorithm, read from its parameters. */
static int
check_pbe(const X509_ALGOR *alg, struct evc_err *err)
{
    int nid = OBJ_obj2nid(alg->algorithm), r = 0;

    if (nid == NID_pbes2) {
        PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        PBKDF2PARAM *kdf = NULL;

        if (p2 == NULL) {
            r = evc_err_set(err, EVC_ERR_BAD_DER, "invalid PBES2 parameters");
        } else if (OBJ_obj2nid(p2->keyfunc->algorithm) == NID_id_pbkdf2) {
            kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), p2->keyfunc->parameter);
            r = kdf == NULL ? evc_err_set(err, EVC_ERR_BAD_DER, "invalid PBKDF2 parameters")
                            : check_iter(kdf->iter, "PBKDF2", err);
        } else if (OBJ_obj2nid(p2->keyfunc->algorithm) == NID_id_scrypt) {
            r = check_scrypt(p2->keyfunc, err);
        }
        /* Any other key derivation is one OpenSSL does not have: it fails without cost. */
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(p2);
    } else if (EVP_PBE_find(EVP_PBE_TYPE_OUTER, nid, NULL, NULL, NULL)) {
        PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);

        r = pbe == NULL ? evc_err_set(err, EVC_ERR_BAD_DER, "invalid PBE parameters")
                        : check_iter(pbe->iter, "PBE", err);
        PBEPARAM_free(pbe);
    }
    ERR_clear_error();
    return r;
}

int
evc_pkcs12_check_cost(const PKCS12 *p12, struct evc_err *err)
{
    STACK_OF(PKCS7) *safes = NULL;
    const ASN1_INTEGER *iter = NULL;
    int r = 0;

    if (PKCS12_mac_present(p12)) {
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        if ((r = check_iter(iter, "MAC", err)) != 0) {
            return r;
        }
    }
    /* Unpacking the safes derives nothing: only their encryption does. */
    if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
        return evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid PKCS#12 contents");
    }
    for (int i = 0; i < sk_PKCS7_num(safes) && r == 0; i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);

        if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted && p7->d.encrypted != NULL &&
            p7->d.encrypted->enc_data != NULL && p7->d.encrypted->enc_data->algorithm != NULL) {
            r = check_pbe(p7->d.encrypted->enc_data->algorithm, err);
        }
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return r;
}

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
            struct evc_cert_loc loc = {w->index++, 0, 0, 0, 0};
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
    /* Before any password is tried: each try derives a key at the file's cost. */
    if ((r = evc_pkcs12_check_cost(p12, err)) != 0) {
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
