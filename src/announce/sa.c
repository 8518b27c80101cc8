/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SuccessorInfo is laid out by OpenSSL's ASN.1 template macros, so its DER
 * is written and read by the same code that reads certificates; CMS comes
 * from OpenSSL too. The rules added here are the size caps and the form
 * of serviceName, which is printed and compared as a host name later.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "evercert/announce.h"
#include "evercert/keys.h"

typedef struct {
    ASN1_INTEGER *version;
    ASN1_UTF8STRING *service_name;
    ASN1_INTEGER *generation;
    ASN1_GENERALIZEDTIME *published_at;
    ASN1_GENERALIZEDTIME *activate_at;
    STACK_OF(X509) * successor;
    STACK_OF(X509) * anchors;
} SUCCESSOR_INFO;

/* Tags are IMPLICIT, as in the CMS modules (RFC 5652). */
ASN1_SEQUENCE(SUCCESSOR_INFO) =
    {
        ASN1_SIMPLE(SUCCESSOR_INFO, version, ASN1_INTEGER),
        ASN1_SIMPLE(SUCCESSOR_INFO, service_name, ASN1_UTF8STRING),
        ASN1_SIMPLE(SUCCESSOR_INFO, generation, ASN1_INTEGER),
        ASN1_SIMPLE(SUCCESSOR_INFO, published_at, ASN1_GENERALIZEDTIME),
        ASN1_SIMPLE(SUCCESSOR_INFO, activate_at, ASN1_GENERALIZEDTIME),
        ASN1_SEQUENCE_OF(SUCCESSOR_INFO, successor, X509),
        ASN1_IMP_SEQUENCE_OF_OPT(SUCCESSOR_INFO, anchors, X509, 0),
} static_ASN1_SEQUENCE_END(SUCCESSOR_INFO)

        IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SUCCESSOR_INFO)
            IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(SUCCESSOR_INFO)

                static int set_gtime(ASN1_GENERALIZEDTIME * *t, evc_time v)
{
    ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_set(*t, (time_t)v);

    if (g == NULL) {
        return 0;
    }
    *t = g;
    return 1;
}

static int
push_copies(STACK_OF(X509) * *dst, X509 *first, STACK_OF(X509) * rest)
{
    if (*dst == NULL && (*dst = sk_X509_new_null()) == NULL) {
        return 0;
    }
    if (first != NULL && !X509_add_cert(*dst, first, X509_ADD_FLAG_UP_REF)) {
        return 0;
    }
    for (int i = 0; rest != NULL && i < sk_X509_num(rest); i++) {
        if (!X509_add_cert(*dst, sk_X509_value(rest, i), X509_ADD_FLAG_UP_REF)) {
            return 0;
        }
    }
    return 1;
}

/* CMS in OpenSSL 3.0 signs with RSA and ECDSA only. */
static int
signable(EVP_PKEY *k)
{
    int id = EVP_PKEY_get_base_id(k);

    return id == EVP_PKEY_RSA || id == EVP_PKEY_EC;
}

/*
 * Add a signer whose signingTime is the caller's now, not the wall clock,
 * and, when by is not 0, the activateBy attribute.
 */
static int
add_signer(CMS_ContentInfo *cms, X509 *cert, EVP_PKEY *key, evc_time now, evc_time by)
{
    CMS_SignerInfo *si;
    ASN1_TIME *t = NULL;
    ASN1_GENERALIZEDTIME *g = NULL;
    ASN1_OBJECT *oid = NULL;
    int ok;

    si = CMS_add1_signer(cms, cert, key, NULL, CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
    if (si == NULL || (t = ASN1_TIME_set(NULL, (time_t)now)) == NULL) {
        return 0;
    }
    ok = CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1);
    if (ok && by != 0) {
        ok = (oid = OBJ_txt2obj(EVC_SA_ACTIVATE_BY_OID, 1)) != NULL &&
             (g = ASN1_GENERALIZEDTIME_set(NULL, (time_t)by)) != NULL &&
             CMS_signed_add1_attr_by_OBJ(si, oid, V_ASN1_GENERALIZEDTIME, g, -1);
    }
    ASN1_GENERALIZEDTIME_free(g);
    ASN1_OBJECT_free(oid);
    ASN1_TIME_free(t);
    return ok;
}

/*
 * activateBy, from whichever signer carries it (SignerInfos is a SET, so
 * DER sorts it and no signer is "first" once encoded; every signature is
 * checked by the client's rule 2). 0 with *by (0 when absent); -1 when a
 * signer has it more than once or with other than one GeneralizedTime,
 * two signers disagree, or it falls before activate_at.
 */
static int
read_activate_by(CMS_ContentInfo *cms, evc_time activate_at, evc_time *by)
{
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    ASN1_OBJECT *oid;
    int r = -1;

    *by = 0;
    if ((oid = OBJ_txt2obj(EVC_SA_ACTIVATE_BY_OID, 1)) == NULL) {
        return -1;
    }
    for (int k = 0; sis != NULL && k < sk_CMS_SignerInfo_num(sis); k++) {
        CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, k);
        X509_ATTRIBUTE *a;
        ASN1_TYPE *v;
        evc_time t;
        int i;

        if ((i = CMS_signed_get_attr_by_OBJ(si, oid, -1)) < 0) {
            continue;
        }
        if (CMS_signed_get_attr_by_OBJ(si, oid, i) >= 0 ||
            (a = CMS_signed_get_attr(si, i)) == NULL || X509_ATTRIBUTE_count(a) != 1 ||
            (v = X509_ATTRIBUTE_get0_type(a, 0)) == NULL || v->type != V_ASN1_GENERALIZEDTIME ||
            evc_asn1_time(v->value.generalizedtime, &t) != 0 || t < activate_at ||
            (*by != 0 && t != *by)) {
            *by = 0;
            goto out;
        }
        *by = t;
    }
    r = 0;
out:
    ASN1_OBJECT_free(oid);
    return r;
}

int
evc_sa_service_check(const char *name, size_t len, const char **why)
{
    char ip[EVC_SA_SERVICE_MAX + 1];
    unsigned char addr[16];
    size_t label = 0;
    const char *dummy;

    if (why == NULL) {
        why = &dummy;
    }
    if (len == 0 || len > EVC_SA_SERVICE_MAX) {
        *why = "not 1 to 253 bytes long";
        return EVC_ERR_PARSE;
    }
    /* inet_pton only reads its argument: an address literal is accepted as such. */
    memcpy(ip, name, len);
    ip[len] = '\0';
    if (strlen(ip) == len &&
        (inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1)) {
        return 0;
    }
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)name[i] : '.';

        if (c == '.') {
            if (label == 0) {
                *why = "an empty label";
                return EVC_ERR_PARSE;
            }
            if (name[i - 1] == '-') {
                *why = "a label ends with a hyphen";
                return EVC_ERR_PARSE;
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            if (label == 0 && c == '-') {
                *why = "a label starts with a hyphen";
                return EVC_ERR_PARSE;
            }
            if (++label > 63) {
                *why = "a label longer than 63 bytes";
                return EVC_ERR_PARSE;
            }
        } else {
            *why = "a byte that is not a letter, digit, hyphen or dot (and not an IP address)";
            return EVC_ERR_PARSE;
        }
    }
    return 0;
}

int
evc_sa_encode(const struct evc_sa_params *p, struct evc_buf *out, struct evc_err *err)
{
    SUCCESSOR_INFO *si = NULL;
    CMS_ContentInfo *cms = NULL;
    unsigned char *info = NULL, *der = NULL;
    BIO *in = NULL;
    int ilen, dlen, r = EVC_ERR_INTERNAL;
    size_t nsucc = 1 + (p->chain != NULL ? (size_t)sk_X509_num(p->chain) : 0);
    const char *why;

    if (p->service == NULL ||
        evc_sa_service_check(p->service, strnlen(p->service, EVC_SA_SERVICE_MAX + 1), &why) != 0) {
        return evc_err_set(err, EVC_ERR_USAGE,
                           "the service name must be a host name or an IP address: %s",
                           p->service == NULL ? "none given" : why);
    }
    if (p->activate_by != 0 && p->activate_by < p->activate_at) {
        return evc_err_set(err, EVC_ERR_USAGE, "activateBy falls before activateAt");
    }
    if (nsucc > EVC_SA_CERTS_MAX ||
        (p->anchors != NULL && sk_X509_num(p->anchors) > (int)EVC_SA_CERTS_MAX)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "an SA carries at most %d certificates per list",
                           EVC_SA_CERTS_MAX);
    }
    if (!signable(p->current_key) || !signable(p->successor_key)) {
        return evc_err_set(
            err, EVC_ERR_BAD_KEY,
            "an SA is signed with RSA or ECDSA keys; OpenSSL 3.0 CMS cannot sign "
            "with %s",
            EVP_PKEY_get0_type_name(signable(p->current_key) ? p->successor_key : p->current_key));
    }
    if ((si = SUCCESSOR_INFO_new()) == NULL || !ASN1_INTEGER_set(si->version, 1) ||
        !ASN1_STRING_set(si->service_name, p->service, -1) ||
        !ASN1_INTEGER_set_uint64(si->generation, p->generation) ||
        !set_gtime(&si->published_at, p->published_at) ||
        !set_gtime(&si->activate_at, p->activate_at) ||
        !push_copies(&si->successor, p->successor, p->chain) ||
        (p->anchors != NULL && sk_X509_num(p->anchors) > 0 &&
         !push_copies(&si->anchors, NULL, p->anchors))) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot build the SuccessorInfo");
        goto out;
    }
    if ((ilen = i2d_SUCCESSOR_INFO(si, &info)) <= 0 || (in = BIO_new_mem_buf(info, ilen)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the SuccessorInfo");
        goto out;
    }
    if ((cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY)) == NULL ||
        !add_signer(cms, p->current, p->current_key, p->published_at, p->activate_by) ||
        !add_signer(cms, p->successor, p->successor_key, p->published_at, 0) ||
        !CMS_final(cms, in, NULL, CMS_BINARY)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot sign the SA");
        goto out;
    }
    if ((dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot encode the SA");
        goto out;
    }
    if ((size_t)dlen > EVC_SA_MAX) {
        r = evc_err_set(err, EVC_ERR_LIMIT, "the SA would be %d bytes, over %zu", dlen, EVC_SA_MAX);
        goto out;
    }
    if ((r = evc_buf_put(out, der, (size_t)dlen)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    r = 0;
out:
    OPENSSL_free(der);
    OPENSSL_free(info);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    SUCCESSOR_INFO_free(si);
    return r;
}

int
evc_sa_decode(const uint8_t *der, size_t len, struct evc_sa **out, struct evc_err *err)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = NULL;
    SUCCESSOR_INFO *si = NULL;
    ASN1_OCTET_STRING **content;
    struct evc_sa *sa = NULL;
    int64_t version;
    const char *why;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    if (len > EVC_SA_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "SA of %zu bytes, over %zu", len, EVC_SA_MAX);
    }
    if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "not a CMS structure");
        goto out;
    }
    if (p != der + len) {
        r = evc_err_set(err, EVC_ERR_TRAILING, "%zu bytes after the SA", (size_t)(der + len - p));
        goto out;
    }
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
        OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data ||
        (content = CMS_get0_content(cms)) == NULL || *content == NULL) {
        r = evc_err_set(err, EVC_ERR_PARSE, "not a SignedData with id-data content");
        goto out;
    }
    p = ASN1_STRING_get0_data(*content);
    if ((si = d2i_SUCCESSOR_INFO(NULL, &p, ASN1_STRING_length(*content))) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "the content is not a SuccessorInfo");
        goto out;
    }
    if (p != ASN1_STRING_get0_data(*content) + ASN1_STRING_length(*content)) {
        r = evc_err_set(err, EVC_ERR_TRAILING, "trailing bytes after the SuccessorInfo");
        goto out;
    }
    if ((sa = calloc(1, sizeof(*sa))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!ASN1_INTEGER_get_int64(&version, si->version) || version != 1) {
        r = evc_err_set(err, EVC_ERR_PARSE, "SuccessorInfo version is not 1");
        goto out;
    }
    /* Checked here, once, so no reader ever prints or compares a name with escapes in it. */
    if (evc_sa_service_check((const char *)ASN1_STRING_get0_data(si->service_name),
                             (size_t)ASN1_STRING_length(si->service_name), &why) != 0) {
        r = evc_err_set(err, EVC_ERR_PARSE, "bad serviceName: %s", why);
        goto out;
    }
    memcpy(sa->service, ASN1_STRING_get0_data(si->service_name),
           (size_t)ASN1_STRING_length(si->service_name));
    if (!ASN1_INTEGER_get_uint64(&sa->generation, si->generation) ||
        evc_asn1_time(si->published_at, &sa->published_at) != 0 ||
        evc_asn1_time(si->activate_at, &sa->activate_at) != 0) {
        r = evc_err_openssl(err, EVC_ERR_PARSE, "bad generation or time");
        goto out;
    }
    if (read_activate_by(cms, sa->activate_at, &sa->activate_by) != 0) {
        r = evc_err_set(err, EVC_ERR_PARSE,
                        "bad activateBy: not one GeneralizedTime at or after activateAt");
        goto out;
    }
    if (sk_X509_num(si->successor) < 1 || sk_X509_num(si->successor) > (int)EVC_SA_CERTS_MAX ||
        (si->anchors != NULL &&
         (sk_X509_num(si->anchors) < 1 || sk_X509_num(si->anchors) > (int)EVC_SA_CERTS_MAX))) {
        r = evc_err_set(err, EVC_ERR_LIMIT, "an SA carries 1 to %d certificates per list",
                        EVC_SA_CERTS_MAX);
        goto out;
    }
    sa->successor = si->successor;
    si->successor = NULL;
    sa->anchors = si->anchors;
    si->anchors = NULL;
    *out = sa;
    sa = NULL;
    r = 0;
out:
    evc_sa_free(sa);
    SUCCESSOR_INFO_free(si);
    CMS_ContentInfo_free(cms);
    return r;
}

void
evc_sa_free(struct evc_sa *sa)
{
    if (sa == NULL) {
        return;
    }
    sk_X509_pop_free(sa->successor, X509_free);
    sk_X509_pop_free(sa->anchors, X509_free);
    free(sa);
}

int
evc_sa_signers(const uint8_t *der, size_t len, uint8_t (*fps)[32], size_t max, size_t *n,
               struct evc_err *err)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms;
    STACK_OF(CMS_SignerInfo) * sis;
    STACK_OF(X509) * certs;

    *n = 0;
    if (len > EVC_SA_MAX || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
        return evc_err_openssl(err, EVC_ERR_BAD_DER, "not a CMS structure");
    }
    sis = CMS_get0_SignerInfos(cms);
    certs = CMS_get1_certs(cms);
    for (int i = 0; sis != NULL && i < sk_CMS_SignerInfo_num(sis); i++) {
        if ((size_t)i < max) {
            memset(fps[i], 0, 32);
            for (int k = 0; certs != NULL && k < sk_X509_num(certs); k++) {
                unsigned int dl = 0;

                if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, i),
                                            sk_X509_value(certs, k)) == 0) {
                    X509_digest(sk_X509_value(certs, k), EVP_sha256(), fps[i], &dl);
                    break;
                }
            }
        }
        (*n)++;
    }
    sk_X509_pop_free(certs, X509_free);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return 0;
}
