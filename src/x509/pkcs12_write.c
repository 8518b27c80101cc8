/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing PKCS#12 stores and reading the key of a PKCS#12 keystore. A
 * truststore's certificate bags carry Java's trusted-key-usage attribute
 * (OID 2.16.840.1.113894.746875.1.1 = anyExtendedKeyUsage), without which
 * keytool and the JDK ignore certificates that have no key.
 */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "evercert/ca.h"
#include "evercert/pkcs12.h"

#define JAVA_TRUSTED_KEY_USAGE "2.16.840.1.113894.746875.1.1"

static int
add_trusted_bag(STACK_OF(PKCS12_SAFEBAG) * *bags, X509 *x)
{
    PKCS12_SAFEBAG *bag;
    ASN1_OBJECT *any = NULL;
    int ok;

    if ((bag = PKCS12_add_cert(bags, x)) == NULL) {
        return 0;
    }
    ok = (any = OBJ_txt2obj("2.5.29.37.0", 1)) != NULL &&
         PKCS12_add1_attr_by_txt(bag, JAVA_TRUSTED_KEY_USAGE, V_ASN1_OBJECT,
                                 (const unsigned char *)any, -1);
    ASN1_OBJECT_free(any);
    return ok;
}

int
evc_pkcs12_encode(X509 *const *certs, size_t ncerts, EVP_PKEY *key, const char *password,
                  struct evc_buf *out, struct evc_err *err)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int len, r = EVC_ERR_INTERNAL;
    const char *pass = password != NULL ? password : "";

    if (key != NULL) {
        /* A keystore: the key and its certificate first, as keytool expects. */
        STACK_OF(X509) *rest = sk_X509_new_null();

        for (size_t i = 1; rest != NULL && i < ncerts; i++) {
            (void)sk_X509_push(rest, certs[i]);
        }
        p12 = rest == NULL ? NULL
                           : PKCS12_create(pass, "evercert", key, ncerts > 0 ? certs[0] : NULL,
                                           rest, 0, 0, 0, 0, 0);
        sk_X509_free(rest);
    } else {
        for (size_t i = 0; i < ncerts; i++) {
            if (!add_trusted_bag(&bags, certs[i])) {
                r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build a certificate bag");
                goto out;
            }
        }
        if (bags == NULL && (bags = sk_PKCS12_SAFEBAG_new_null()) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (PKCS12_add_safe(&safes, bags, -1, 0, pass) &&
            (p12 = PKCS12_add_safes(safes, 0)) != NULL &&
            !PKCS12_set_mac(p12, pass, -1, NULL, 0, 0, NULL)) {
            PKCS12_free(p12);
            p12 = NULL;
        }
    }
    if (p12 == NULL) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build the PKCS#12 store");
        goto out;
    }
    if ((len = i2d_PKCS12(p12, &der)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the PKCS#12 store");
        goto out;
    }
    if ((r = evc_buf_put(out, der, (size_t)len)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    r = 0;
out:
    if (der != NULL) {
        OPENSSL_clear_free(der, (size_t)len);
    }
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    return r;
}

int
evc_pkcs12_keypair(const uint8_t *data, size_t len, const char *password, EVP_PKEY **key,
                   X509 **cert, struct evc_err *err)
{
    const unsigned char *p = data;
    PKCS12 *p12 = NULL;
    STACK_OF(X509) *ca = NULL;
    int r = EVC_ERR_INTERNAL;

    *key = NULL;
    *cert = NULL;
    if (len > INT_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "not a PKCS#12 file");
        goto out;
    }
    if (!PKCS12_verify_mac(p12, password != NULL ? password : "", -1)) {
        ERR_clear_error();
        r = evc_err_set(err, password != NULL ? EVC_ERR_BAD_PASSWORD : EVC_ERR_NEED_PASSWORD,
                        password != NULL ? "wrong password" : "password required");
        goto out;
    }
    if (!PKCS12_parse(p12, password != NULL ? password : "", key, cert, &ca)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot open the PKCS#12 file");
        goto out;
    }
    if (*key == NULL || *cert == NULL) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
        r = evc_err_set(err, EVC_ERR_BAD_KEY, "no private key with its certificate inside");
        goto out;
    }
    r = 0;
out:
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    return r;
}
