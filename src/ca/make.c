/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Making certificates: from a request (ca init, issue, selfsign) or from
 * the certificate being replaced (renew). Both end in one signing routine
 * so every certificate we make gets a random serial and fresh key ids.
 */
#include <arpa/inet.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/ca.h"
#include "evercert/limits.h"

/* Digest for a signing key: none for Ed25519, SHA-384 for P-384, else SHA-256. */
static const EVP_MD *
digest_for(EVP_PKEY *key)
{
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        return NULL;
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) >= 384) {
        return EVP_sha384();
    }
    return EVP_sha256();
}

/* A positive 127-bit random serial, as CA/B Forum asks (at least 64 bits of entropy). */
static int
set_serial(X509 *x, struct evc_err *err)
{
    unsigned char raw[16];
    BIGNUM *bn = NULL;
    int ok;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "no random bytes for a serial");
    }
    raw[0] &= 0x7f;
    raw[0] |= 0x40; /* never zero, never shorter than 16 bytes */
    ok = (bn = BN_bin2bn(raw, sizeof(raw), NULL)) != NULL &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot set the serial");
}

static int
set_validity(X509 *x, evc_time nb, evc_time na, struct evc_err *err)
{
    if (na <= nb) {
        return evc_err_set(err, EVC_ERR_USAGE, "the certificate would end before it begins");
    }
    if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) == NULL) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot set the validity");
    }
    return 0;
}

/* Add one extension from OpenSSL's configuration syntax. */
static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct evc_err *err)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1);

    X509_EXTENSION_free(e);
    return ok ? 0 : evc_err_openssl(err, EVC_ERR_USAGE, "bad %s '%s'", OBJ_nid2sn(nid), value);
}

/* "CN=a,O=b" (commas escaped with a backslash) or OpenSSL's "/CN=a/O=b". */
static int
parse_subject(const char *s, X509_NAME *name, struct evc_err *err)
{
    char field[1024];
    char sep = ',';
    size_t n = 0;

    if (*s == '/') {
        sep = '/';
        s++;
    }
    for (;; s++) {
        if (*s == '\\' && s[1] != '\0') {
            s++;
        } else if (*s == sep || *s == '\0') {
            char *eq;

            field[n] = '\0';
            if ((eq = strchr(field, '=')) == NULL || eq == field || eq[1] == '\0') {
                return evc_err_set(err, EVC_ERR_USAGE, "subject part '%s' is not TYPE=value",
                                   field);
            }
            *eq = '\0';
            if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                            (const unsigned char *)eq + 1, -1, -1, 0)) {
                return evc_err_openssl(err, EVC_ERR_USAGE, "bad subject attribute '%s'", field);
            }
            n = 0;
            if (*s == '\0') {
                return 0;
            }
            continue;
        }
        if (n + 1 >= sizeof(field)) {
            return evc_err_set(err, EVC_ERR_LIMIT, "subject part too long");
        }
        field[n++] = *s;
    }
}

/* Check each SAN and join them as OpenSSL's configuration syntax wants. */
static int
san_value(const char *const *sans, size_t n, struct evc_buf *out, struct evc_err *err)
{
    unsigned char addr[16];

    if (n > EVC_CERT_SANS_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "more than %d SANs", EVC_CERT_SANS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = sans[i];

        if (strncmp(s, "DNS:", 4) == 0) {
            size_t len = strlen(s + 4);

            if (len == 0 || len > 253 ||
                strspn(s + 4, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") != len) {
                return evc_err_set(err, EVC_ERR_USAGE, "SAN '%s' is not a DNS name", s);
            }
        } else if (strncmp(s, "IP:", 3) == 0) {
            if (inet_pton(AF_INET, s + 3, addr) != 1 && inet_pton(AF_INET6, s + 3, addr) != 1) {
                return evc_err_set(err, EVC_ERR_USAGE, "SAN '%s' is not an IP address", s);
            }
        } else {
            return evc_err_set(err, EVC_ERR_USAGE, "SAN '%s' must start with DNS: or IP:", s);
        }
        if ((i > 0 && evc_buf_putc(out, ',') != 0) || evc_buf_puts(out, s) != 0) {
            return evc_err_set(err, EVC_ERR_LIMIT, "SAN list too long");
        }
    }
    return 0;
}

/* Fresh key identifiers, the key, the signature. */
static int
finish(X509 *x, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, X509 **out, struct evc_err *err)
{
    X509V3_CTX ctx;
    EVP_PKEY *signer = issuer != NULL ? issuer_key : key;
    int r;

    if (!X509_set_version(x, 2) || !X509_set_pubkey(x, key) ||
        !X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x))) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot fill the certificate");
    }
    if ((r = set_serial(x, err)) != 0) {
        return r;
    }
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    if ((r = add_ext(x, &ctx, NID_subject_key_identifier, "hash", err)) != 0) {
        return r;
    }
    /*
     * Self-signed certificates get one too: an old and a new version share
     * a subject, and OpenSSL tells them apart in a trust store by key id.
     */
    if ((r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err)) != 0) {
        return r;
    }
    if (issuer != NULL && evc_key_check(issuer, issuer_key, err) != 0) {
        return evc_err_set(err, EVC_ERR_KEY_MISMATCH,
                           "the CA key does not match the CA certificate");
    }
    if (X509_sign(x, signer, digest_for(signer)) <= 0) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot sign");
    }
    *out = x;
    return 0;
}

int
evc_ca_make(const struct evc_cert_req *req, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
            X509 **out, struct evc_err *err)
{
    X509 *x = NULL;
    X509V3_CTX ctx;
    struct evc_buf sans;
    int rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    evc_buf_init(&sans, 1024 * 1024);
    if ((x = X509_new()) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (req->subject != NULL) {
        r = parse_subject(req->subject, X509_get_subject_name(x), err);
    } else if (req->cn != NULL && *req->cn != '\0') {
        r = X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                       (const unsigned char *)req->cn, -1, -1, 0)
                ? 0
                : evc_err_openssl(err, EVC_ERR_USAGE, "bad common name");
    } else {
        r = evc_err_set(err, EVC_ERR_USAGE, "a subject or common name is required");
    }
    if (r != 0 || (r = set_validity(x, req->not_before, req->not_after, err)) != 0 ||
        (r = san_value(req->sans, req->nsans, &sans, err)) != 0) {
        goto out;
    }
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    switch (req->profile) {
    case EVC_PROFILE_ROOT:
        if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err)) != 0 ||
            (r = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err)) != 0) {
            goto out;
        }
        break;
    case EVC_PROFILE_SERVER:
    case EVC_PROFILE_CLIENT:
        if (req->profile == EVC_PROFILE_SERVER && req->nsans == 0) {
            r = evc_err_set(err, EVC_ERR_USAGE, "a server certificate needs --san");
            goto out;
        }
        if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err)) != 0 ||
            (r = add_ext(x, &ctx, NID_key_usage,
                         rsa ? "critical,digitalSignature,keyEncipherment"
                             : "critical,digitalSignature",
                         err)) != 0 ||
            (r = add_ext(x, &ctx, NID_ext_key_usage,
                         req->profile == EVC_PROFILE_SERVER ? "serverAuth" : "clientAuth", err)) !=
                0) {
            goto out;
        }
        break;
    case EVC_PROFILE_SELFSIGNED:
        /*
         * No keyUsage: with one, OpenSSL would need keyCertSign to accept
         * the certificate as its own issuer when a client pins it.
         */
        if (req->nsans == 0) {
            r = evc_err_set(err, EVC_ERR_USAGE, "a server certificate needs --san");
            goto out;
        }
        if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err)) != 0 ||
            (r = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err)) != 0) {
            goto out;
        }
        break;
    default:
        r = evc_err_set(err, EVC_ERR_USAGE, "unknown certificate profile");
        goto out;
    }
    if (req->nsans > 0 &&
        (r = add_ext(x, &ctx, NID_subject_alt_name, evc_buf_str(&sans), err)) != 0) {
        goto out;
    }
    if ((r = finish(x, key, issuer, issuer_key, out, err)) != 0) {
        goto out;
    }
    x = NULL;
out:
    X509_free(x);
    evc_buf_free(&sans);
    return r;
}

int
evc_ca_renew(X509 *old, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, evc_time now, X509 **out,
             struct evc_err *err)
{
    X509 *x = NULL;
    int r = EVC_ERR_INTERNAL;
    time_t nb, na;
    int days = 0, secs = 0;

    *out = NULL;
    /* The lifetime length of the old certificate, to the second. */
    if (!ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(old), X509_get0_notAfter(old)) ||
        days < 0 || secs < 0 || (days == 0 && secs == 0)) {
        r = evc_err_openssl(err, EVC_ERR_BAD_TIME, "the old certificate has no usable lifetime");
        goto out;
    }
    /*
     * Valid from a little before now, for clients whose clocks lag: a
     * tenth of the lifetime, at most five minutes. The length is kept.
     */
    {
        int64_t life = (int64_t)days * 86400 + secs, skew = life / 10 < 300 ? life / 10 : 300;

        nb = (time_t)(now - skew);
        na = nb + (time_t)life;
    }
    if ((x = X509_new()) == NULL || !X509_set_subject_name(x, X509_get_subject_name(old))) {
        r = evc_err_openssl(err, EVC_ERR_NOMEM, "cannot copy the subject");
        goto out;
    }
    if ((r = set_validity(x, nb, na, err)) != 0) {
        goto out;
    }
    for (int i = 0; i < X509_get_ext_count(old); i++) {
        X509_EXTENSION *e = X509_get_ext(old, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

        if (nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) {
            continue;
        }
        if (!X509_add_ext(x, e, -1)) {
            r = evc_err_openssl(err, EVC_ERR_CRYPTO, "cannot copy an extension");
            goto out;
        }
    }
    if ((r = finish(x, key, issuer, issuer_key, out, err)) != 0) {
        goto out;
    }
    x = NULL;
out:
    X509_free(x);
    return r;
}
