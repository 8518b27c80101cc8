/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an endpoint's chain is worth: the certificates as presented, kept
 * as DER for the report, and the chain OpenSSL builds from them to an
 * anchor. Its earliest expiry is the one clients meet; a presented
 * certificate that is not on that path (an old cross-sign sent along)
 * expires without harm, so it is listed but does not count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "endpoint/endpoint_int.h"

int
evc_ep_store_load(const char *ca, X509_STORE **out, struct evc_err *err)
{
    X509_STORE *st = NULL;
    struct stat sb;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    if ((st = X509_STORE_new()) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    if (ca == NULL) {
        if (X509_STORE_set_default_paths(st) != 1) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "the system's anchors cannot be loaded");
            goto out;
        }
    } else if (stat(ca, &sb) != 0) {
        r = evc_err_set(err, EVC_ERR_NOENT, "%s: no such file or directory", ca);
        goto out;
    } else if (S_ISDIR(sb.st_mode) ? X509_STORE_load_path(st, ca) != 1
                                   : X509_STORE_load_file(st, ca) != 1) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "%s: no anchors could be loaded", ca);
        goto out;
    }
    ERR_clear_error();
    *out = st;
    st = NULL;
    r = 0;
out:
    X509_STORE_free(st);
    return r;
}

static evc_time
asn1_time(const ASN1_TIME *t)
{
    struct tm g;

    if (t == NULL || !ASN1_TIME_to_tm(t, &g)) {
        return 0;
    }
    return evc_time_from_civil((int64_t)g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, g.tm_hour,
                               g.tm_min, g.tm_sec);
}

static int
keep_der(STACK_OF(X509) * presented, struct evc_ep_result *r)
{
    int n = sk_X509_num(presented);

    for (int i = 0; i < n && r->ncerts < EVC_EP_CHAIN_MAX; i++) {
        unsigned char *der = NULL;
        int len = i2d_X509(sk_X509_value(presented, i), &der);

        if (len <= 0) {
            ERR_clear_error();
            return EVC_ERR_NOMEM;
        }
        r->der[r->ncerts] = der;
        r->der_len[r->ncerts++] = (size_t)len;
    }
    return 0;
}

int
evc_ep_chain_check(X509_STORE *store, STACK_OF(X509) * presented, const struct evc_ep_url *u,
                   evc_time at, struct evc_ep_result *r)
{
    X509_STORE_CTX *ctx = NULL;
    X509_VERIFY_PARAM *param;
    STACK_OF(X509) * built;
    char why[EVC_ERR_DETAIL_MAX];
    int rc = EVC_ERR_INTERNAL, e;

    if (presented == NULL || sk_X509_num(presented) == 0) {
        r->verify_error = strdup("no certificate presented");
        return r->verify_error == NULL ? EVC_ERR_NOMEM : 0;
    }
    if ((rc = keep_der(presented, r)) != 0) {
        goto out;
    }
    if ((ctx = X509_STORE_CTX_new()) == NULL ||
        X509_STORE_CTX_init(ctx, store, sk_X509_value(presented, 0), presented) != 1) {
        rc = EVC_ERR_NOMEM;
        goto out;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)at);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    /* The name a client checks: the SNI name, else the address it dialled. */
    if (u->sni[0] != '\0') {
        X509_VERIFY_PARAM_set1_host(param, u->sni, 0);
    } else if (u->numeric) {
        X509_VERIFY_PARAM_set1_ip_asc(param, u->host);
    }
    if (X509_verify_cert(ctx) == 1) {
        evc_time min = 0;

        built = X509_STORE_CTX_get0_chain(ctx);
        for (int i = 0; i < sk_X509_num(built); i++) {
            evc_time t = asn1_time(X509_get0_notAfter(sk_X509_value(built, i)));

            if (i == 0 || t < min) {
                min = t;
            }
        }
        for (size_t i = 0; i < r->ncerts; i++) {
            for (int k = 0; k < sk_X509_num(built); k++) {
                if (X509_cmp(sk_X509_value(presented, (int)i), sk_X509_value(built, k)) == 0) {
                    r->on_chain[i] = 1;
                }
            }
        }
        r->verified = 1;
        r->chain_not_after = min;
        r->chain_len = (size_t)sk_X509_num(built);
    } else {
        e = X509_STORE_CTX_get_error(ctx);
        snprintf(why, sizeof(why), "%s (depth %d)", X509_verify_cert_error_string(e),
                 X509_STORE_CTX_get_error_depth(ctx));
        if ((r->verify_error = strdup(why)) == NULL) {
            rc = EVC_ERR_NOMEM;
            goto out;
        }
    }
    rc = 0;
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    return rc;
}
