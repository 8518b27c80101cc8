/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's decision on a Successor Announcement. Each rule of
 * docs/PROTOCOL.md ("The client's rules") is one check below, in its order; the first that fails
 * decides, with its reason. Nothing here writes or remembers: the caller
 * stores the accepted generation with the trust store change. Which of an
 * SA's anchors a trust store may take (evc_sa_anchor_check) is decided
 * here too, so the agent's write path asks the same function.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/limits.h"

static const char *const reason_names[] = {
#define EVC_SA_REASON_NAME(name, text) text,
    EVC_SA_REASONS(EVC_SA_REASON_NAME)
#undef EVC_SA_REASON_NAME
};

const char *
evc_sa_reason_name(enum evc_sa_reason r)
{
    return (unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "?";
}

const char *
evc_sa_decision_name(enum evc_sa_decision d)
{
    switch (d) {
    case EVC_SA_ACCEPT:
        return "accept";
    case EVC_SA_QUEUE:
        return "queue";
    default:
        return "reject";
    }
}

static int reject(struct evc_sa_verdict *v, enum evc_sa_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
reject(struct evc_sa_verdict *v, enum evc_sa_reason r, const char *fmt, ...)
{
    va_list ap;

    v->decision = EVC_SA_REJECT;
    v->reason = r;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return 0;
}

void
evc_sa_verdict_clear(struct evc_sa_verdict *v)
{
    evc_sa_free(v->sa);
    memset(v, 0, sizeof(*v));
}

/* Does cert speak for service? An IP literal matches only IP SANs, a name only DNS SANs. */
static int
names(X509 *cert, const char *service)
{
    unsigned char addr[16];

    if (inet_pton(AF_INET, service, addr) == 1 || inet_pton(AF_INET6, service, addr) == 1) {
        return X509_check_ip_asc(cert, service, 0) == 1;
    }
    return X509_check_host(cert, service, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/* Every SAN of succ is a SAN of cur (same type, same bytes). */
static int
sans_subset(X509 *succ, X509 *cur)
{
    GENERAL_NAMES *s = X509_get_ext_d2i(succ, NID_subject_alt_name, NULL, NULL);
    GENERAL_NAMES *c = X509_get_ext_d2i(cur, NID_subject_alt_name, NULL, NULL);
    int ok = 1;

    for (int i = 0; ok && s != NULL && i < sk_GENERAL_NAME_num(s); i++) {
        int found = 0;

        for (int k = 0; !found && c != NULL && k < sk_GENERAL_NAME_num(c); k++) {
            found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(s, i), sk_GENERAL_NAME_value(c, k)) == 0;
        }
        ok = found;
    }
    GENERAL_NAMES_free(s);
    GENERAL_NAMES_free(c);
    return ok;
}

/* A named curve a successor may use: the NIST curves of TLS 1.3 (RFC 8446 4.2.7) from P-256 up. */
static int
curve_allowed(EVP_PKEY *k)
{
    static const char *const curves[] = {"prime256v1", "secp384r1", "secp521r1"};
    char name[64];

    if (EVP_PKEY_get_group_name(k, name, sizeof(name), NULL) != 1) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(name, curves[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The key of succ is no weaker: RSA >= 2048, EC on P-256, P-384 or P-521,
 * not smaller than cur's of the same kind, and across kinds no fewer
 * security bits than cur's (an RSA-2048 key, 112 bits, never replaces P-256).
 */
static int
key_strong(X509 *succ, X509 *cur, char *why, size_t len)
{
    EVP_PKEY *k = X509_get0_pubkey(succ), *c = X509_get0_pubkey(cur);
    int id = k != NULL ? EVP_PKEY_get_base_id(k) : 0, bits = k != NULL ? EVP_PKEY_get_bits(k) : 0;

    if (id == EVP_PKEY_RSA && bits < 2048) {
        snprintf(why, len, "an RSA key of %d bits (at least 2048)", bits);
        return 0;
    }
    if (id == EVP_PKEY_EC && (bits < 256 || !curve_allowed(k))) {
        snprintf(why, len, "an EC key of %d bits not on P-256, P-384 or P-521", bits);
        return 0;
    }
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC && id != EVP_PKEY_ED25519 && id != EVP_PKEY_ED448) {
        snprintf(why, len, "an unsupported key type");
        return 0;
    }
    if (c != NULL && EVP_PKEY_get_base_id(c) == id && bits < EVP_PKEY_get_bits(c)) {
        snprintf(why, len, "a %d-bit key replacing a %d-bit key", bits, EVP_PKEY_get_bits(c));
        return 0;
    }
    if (c != NULL && EVP_PKEY_get_security_bits(k) < EVP_PKEY_get_security_bits(c)) {
        snprintf(why, len, "a key of %d security bits replacing one of %d",
                 EVP_PKEY_get_security_bits(k), EVP_PKEY_get_security_bits(c));
        return 0;
    }
    return 1;
}

/*
 * A certificate's extendedKeyUsage: 1 and *eku (NULL when absent, which
 * means any use), or 0 when it cannot be read or occurs twice.
 */
static int
eku_of(X509 *x, EXTENDED_KEY_USAGE **eku)
{
    int crit = 0;

    *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
    ERR_clear_error();
    return *eku != NULL || crit == -1;
}

static int
eku_has(EXTENDED_KEY_USAGE *eku, int nid)
{
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid) {
            return 1;
        }
    }
    return 0;
}

/*
 * Every extended key usage of succ is one of cur's. No extension is any
 * use, so it is taken only where cur has none either; anyExtendedKeyUsage
 * only where cur has it.
 */
static int
eku_subset(X509 *succ, X509 *cur, char *why, size_t len)
{
    EXTENDED_KEY_USAGE *s = NULL, *c = NULL;
    int ok = 0;

    if (!eku_of(succ, &s) || !eku_of(cur, &c)) {
        snprintf(why, len, "an extendedKeyUsage that cannot be read or occurs twice");
        goto out;
    }
    if (c == NULL || eku_has(c, NID_anyExtendedKeyUsage)) {
        ok = 1;
        goto out;
    }
    if (s == NULL) {
        snprintf(why, len, "the successor has no extendedKeyUsage (any use); the current one has");
        goto out;
    }
    for (int i = 0; i < sk_ASN1_OBJECT_num(s); i++) {
        ASN1_OBJECT *o = sk_ASN1_OBJECT_value(s, i);
        int found = 0;

        for (int k = 0; !found && k < sk_ASN1_OBJECT_num(c); k++) {
            found = OBJ_cmp(o, sk_ASN1_OBJECT_value(c, k)) == 0;
        }
        if (!found) {
            char name[80];

            OBJ_obj2txt(name, sizeof(name), o, 0);
            snprintf(why, len, "the successor's extendedKeyUsage %s is not the current one's",
                     name);
            goto out;
        }
    }
    ok = 1;
out:
    EXTENDED_KEY_USAGE_free(s);
    EXTENDED_KEY_USAGE_free(c);
    return ok;
}

/* Key usage no wider, no CA, serverAuth kept. */
static int
narrow(X509 *succ, X509 *cur, char *why, size_t len)
{
    uint32_t sku = X509_get_key_usage(succ), cku = X509_get_key_usage(cur);

    if (X509_check_ca(succ) != 0) {
        snprintf(why, len, "the successor is a CA");
        return 0;
    }
    if ((sku & ~cku) != 0) {
        snprintf(why, len, "the successor's key usage is wider");
        return 0;
    }
    if (X509_check_purpose(succ, X509_PURPOSE_SSL_SERVER, 0) != 1 ||
        (X509_get_extension_flags(succ) & EXFLAG_XKUSAGE &&
         !(X509_get_extended_key_usage(succ) & XKU_SSL_SERVER))) {
        snprintf(why, len, "the successor is not for TLS server authentication");
        return 0;
    }
    if (!sans_subset(succ, cur)) {
        snprintf(why, len, "the successor names more than the current certificate");
        return 0;
    }
    return 1;
}

/* A certificate time; 0 when unreadable, which no rule accepts. */
static evc_time
asn1_time(const ASN1_TIME *t)
{
    evc_time v = 0;

    return evc_asn1_time(t, &v) == 0 ? v : 0;
}

/* Which of the two a signer is: 1 current, 2 successor, 0 neither. */
static int
signer_is(CMS_SignerInfo *si, X509 *current, X509 *successor)
{
    if (CMS_SignerInfo_cert_cmp(si, current) == 0) {
        return 1;
    }
    if (CMS_SignerInfo_cert_cmp(si, successor) == 0) {
        return 2;
    }
    return 0;
}

/* Both signatures, over the signed attributes and the content digest. */
static int
signatures_verify(CMS_ContentInfo *cms, X509 *current, X509 *successor)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *out = BIO_new(BIO_s_null());
    int ok = certs != NULL && out != NULL && sk_X509_push(certs, current) &&
             sk_X509_push(certs, successor) &&
             CMS_verify(cms, certs, NULL, NULL, out,
                        CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) == 1;

    sk_X509_free(certs);
    BIO_free(out);
    return ok;
}

/* A certificate's subject for a message: one line, bounded. */
static void
name_of(X509 *x, char *out, size_t len)
{
    if (X509_NAME_oneline(X509_get_subject_name(x), out, (int)len) == NULL) {
        snprintf(out, len, "?");
    }
}

/* Signed by its own key under its own name: a root, not a link that only shares the name. */
static int
self_signed(X509 *x)
{
    return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
           evc_x509_signed_by(x, x);
}

/*
 * Does x verify against store at when, with untrusted as candidate
 * issuers (and for purpose, unless 0)? On success *chain (if asked) gets
 * the verified chain, x first; on failure why gets OpenSSL's reason.
 */
static int
chain_to(X509 *x, STACK_OF(X509) * untrusted, X509_STORE *store, evc_time when, int purpose,
         STACK_OF(X509) * *chain, char *why, size_t len)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;

    if (chain != NULL) {
        *chain = NULL;
    }
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, x, untrusted) != 1 ||
        (purpose != 0 && X509_STORE_CTX_set_purpose(ctx, purpose) != 1)) {
        snprintf(why, len, "out of memory");
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, (time_t)when);
    if (X509_verify_cert(ctx) != 1) {
        snprintf(why, len, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    if (chain != NULL && (*chain = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
        snprintf(why, len, "out of memory");
        goto out;
    }
    ok = 1;
out:
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static enum evc_sa_reason refuse(enum evc_sa_reason r, char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum evc_sa_reason
refuse(enum evc_sa_reason r, char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return r;
}

/*
 * The anchors of an SA are looked at only when the successor does not
 * chain to the trust store as it is, and then they must hold exactly
 * what the successor needs: the one root its chain ends in, and the link
 * certificates by which a CA the client trusts already vouches for that
 * root (its subject and key, issued by the old root: CMP's NewWithOld).
 * The server's keys alone can never make the client trust a CA.
 */
enum evc_sa_reason
evc_sa_anchor_check(const struct evc_sa *sa, X509_STORE *trust, evc_time when, X509 **anchor,
                    char *why, size_t len)
{
    STACK_OF(X509) *untrusted = sk_X509_new_null(), *chain = NULL, *lchain = NULL, *all = NULL;
    X509_STORE *with = NULL;
    X509 *leaf = sk_X509_value(sa->successor, 0), *root = NULL, *top;
    enum evc_sa_reason r = EVC_SA_R_NO_ANCHOR;
    char err[128], subj[160];
    int links = 0, n = sa->anchors != NULL ? sk_X509_num(sa->anchors) : 0;

    *anchor = NULL;
    snprintf(why, len, "out of memory");
    if (trust == NULL) {
        r = refuse(EVC_SA_R_NO_ANCHOR, why, len,
                   "the successor does not chain to a trusted anchor: no trust store");
        goto out;
    }
    for (int i = 1; untrusted != NULL && i < sk_X509_num(sa->successor); i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(sa->successor, i))) {
            goto out;
        }
    }
    if (untrusted == NULL) {
        goto out;
    }
    /* (a) It chains to what is trusted now: the anchors are not looked at, nothing is added. */
    if (chain_to(leaf, untrusted, trust, when, X509_PURPOSE_SSL_SERVER, NULL, err, sizeof(err))) {
        r = EVC_SA_R_OK;
        goto out;
    }
    if (n == 0) {
        r = refuse(EVC_SA_R_NO_ANCHOR, why, len,
                   "the successor does not chain to a trusted anchor: %s", err);
        goto out;
    }
    /* (b) Every anchor is a CA certificate: a new root, or a link to one. */
    for (int i = 0; i < n; i++) {
        X509 *a = sk_X509_value(sa->anchors, i);

        if (X509_check_ca(a) != 1) {
            name_of(a, subj, sizeof(subj));
            r = refuse(EVC_SA_R_ANCHOR_NOT_CA, why, len, "anchor %d (%s) is not a CA certificate",
                       i + 1, subj);
            goto out;
        }
    }
    /* (d) The successor chains to one of the new roots, on top of what is trusted now. */
    if ((with = X509_STORE_new()) == NULL || (all = X509_STORE_get1_all_certs(trust)) == NULL) {
        goto out;
    }
    for (int i = 0; i < sk_X509_num(all); i++) {
        (void)X509_STORE_add_cert(with, sk_X509_value(all, i));
    }
    for (int i = 0; i < n; i++) {
        if (self_signed(sk_X509_value(sa->anchors, i))) {
            (void)X509_STORE_add_cert(with, sk_X509_value(sa->anchors, i));
        }
    }
    if (!chain_to(leaf, untrusted, with, when, X509_PURPOSE_SSL_SERVER, &chain, err, sizeof(err))) {
        r = refuse(EVC_SA_R_NO_ANCHOR, why, len,
                   "the successor chains neither to a trusted anchor nor to a root of the SA: %s",
                   err);
        goto out;
    }
    top = sk_X509_value(chain, sk_X509_num(chain) - 1);
    for (int i = 0; root == NULL && i < n; i++) {
        if (X509_cmp(sk_X509_value(sa->anchors, i), top) == 0 &&
            self_signed(sk_X509_value(sa->anchors, i))) {
            root = sk_X509_value(sa->anchors, i);
        }
    }
    if (root == NULL) {
        r = refuse(EVC_SA_R_NO_ANCHOR, why, len, "the successor's chain ends in no root of the SA");
        goto out;
    }
    /* Nothing the successor does not need: no other root, no link to another name. */
    for (int i = 0; i < n; i++) {
        X509 *a = sk_X509_value(sa->anchors, i);

        if (a == root) {
            continue;
        }
        name_of(a, subj, sizeof(subj));
        if (self_signed(a)) {
            r = refuse(EVC_SA_R_ANCHOR_UNNEEDED, why, len,
                       "anchor %d (%s) is a root the successor's chain does not end in", i + 1,
                       subj);
            goto out;
        }
        if (X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(root)) != 0) {
            r = refuse(EVC_SA_R_ANCHOR_UNNEEDED, why, len,
                       "anchor %d (%s) is neither the successor's root nor a link to it", i + 1,
                       subj);
            goto out;
        }
    }
    /* (c) Each link: the root's own key, certified by a CA the client trusts now. */
    name_of(root, subj, sizeof(subj));
    for (int i = 0; i < n; i++) {
        X509 *a = sk_X509_value(sa->anchors, i);

        if (a == root) {
            continue;
        }
        links++;
        if (EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(root)) != 1) {
            r = refuse(EVC_SA_R_ANCHOR_LINK_KEY, why, len,
                       "anchor %d, a link to %s, certifies another key than the root's", i + 1,
                       subj);
            goto out;
        }
        if (!chain_to(a, NULL, trust, when, 0, &lchain, err, sizeof(err))) {
            r = refuse(EVC_SA_R_ANCHOR_LINK_UNTRUSTED, why, len,
                       "anchor %d, a link to %s, does not verify against the trust store: %s",
                       i + 1, subj, err);
            goto out;
        }
        /* OpenSSL checks this too; a pinned leaf in the store must never vouch for a CA. */
        for (int k = 1; k < sk_X509_num(lchain); k++) {
            if (X509_check_ca(sk_X509_value(lchain, k)) != 1) {
                r = refuse(EVC_SA_R_ANCHOR_LINK_UNTRUSTED, why, len,
                           "anchor %d, a link to %s, is issued by a certificate that is not a CA",
                           i + 1, subj);
                goto out;
            }
        }
        sk_X509_pop_free(lchain, X509_free);
        lchain = NULL;
    }
    if (links == 0) {
        r = refuse(EVC_SA_R_ANCHOR_NO_LINK, why, len,
                   "the new root %s comes with no link certificate: nothing the client trusts "
                   "vouches for it",
                   subj);
        goto out;
    }
    *anchor = root;
    r = EVC_SA_R_OK;
out:
    if (r == EVC_SA_R_OK) {
        why[0] = '\0';
    }
    sk_X509_free(untrusted);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(lchain, X509_free);
    sk_X509_pop_free(all, X509_free);
    X509_STORE_free(with);
    ERR_clear_error();
    return r;
}

/* Whether the successor and its chain verify against trust for a TLS server at activateAt. */
static int
successor_chains(const struct evc_sa *sa, X509_STORE *trust)
{
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    char why[128];
    int ok = 0;

    if (trust == NULL || untrusted == NULL) {
        sk_X509_free(untrusted);
        return 0;
    }
    for (int i = 1; i < sk_X509_num(sa->successor); i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(sa->successor, i))) {
            goto out;
        }
    }
    ok = chain_to(sk_X509_value(sa->successor, 0), untrusted, trust, sa->activate_at,
                  X509_PURPOSE_SSL_SERVER, NULL, why, sizeof(why));
out:
    sk_X509_free(untrusted);
    return ok;
}

int
evc_sa_verify(const uint8_t *der, size_t len, const struct evc_sa_known *known,
              const struct evc_sa_policy *policy, evc_time now, struct evc_sa_verdict *v)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = NULL;
    STACK_OF(CMS_SignerInfo) * sis;
    struct evc_err err = {0};
    X509 *succ, *anchor = NULL;
    char why[256], subject[160] = "";
    int seen[3] = {0, 0, 0};
    const char *service;
    int64_t skew = policy->skew > 0 ? policy->skew : 300;

    (void)now;
    memset(v, 0, sizeof(*v));
    v->decision = EVC_SA_REJECT;
    /* 1. It parses, under the cap, with exactly the two signers. */
    if (evc_sa_decode(der, len, &v->sa, &err) != 0) {
        return reject(v, EVC_SA_R_MALFORMED, "not a Successor Announcement: %s",
                      evc_err_message(&err));
    }
    if (!EVP_Digest(der, len, v->sha256, NULL, EVP_sha256(), NULL)) {
        return reject(v, EVC_SA_R_MALFORMED, "cannot hash the SA");
    }
    succ = sk_X509_value(v->sa->successor, 0);
    if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
        (sis = CMS_get0_SignerInfos(cms)) == NULL) {
        CMS_ContentInfo_free(cms);
        return reject(v, EVC_SA_R_MALFORMED, "no signers");
    }
    if (known->trusted == NULL) {
        CMS_ContentInfo_free(cms);
        return reject(v, EVC_SA_R_NO_CURRENT_SIGNER,
                      "no certificate is trusted for the service yet");
    }
    if (sk_CMS_SignerInfo_num(sis) != 2) {
        int n = sk_CMS_SignerInfo_num(sis);

        CMS_ContentInfo_free(cms);
        return reject(v, EVC_SA_R_SIGNER_COUNT, "%d signers; an SA has exactly two", n);
    }
    for (int i = 0; i < 2; i++) {
        seen[signer_is(sk_CMS_SignerInfo_value(sis, i), known->trusted, succ)]++;
    }
    if (seen[1] == 0 || seen[2] == 0) {
        CMS_ContentInfo_free(cms);
        if (seen[1] == 0 && seen[2] == 0) {
            return reject(v, EVC_SA_R_UNKNOWN_SIGNER,
                          "neither signer is the trusted certificate or the successor");
        }
        return seen[1] == 0
                   ? reject(v, EVC_SA_R_NO_CURRENT_SIGNER,
                            "not signed by the certificate trusted now%s",
                            seen[0] ? " (a signer is neither)" : "")
                   : reject(v, EVC_SA_R_NO_SUCCESSOR_SIGNER, "not signed by the successor's key%s",
                            seen[0] ? " (a signer is neither)" : "");
    }
    /* 2. Both signatures verify: continuity and proof of possession. */
    if (!signatures_verify(cms, known->trusted, succ)) {
        CMS_ContentInfo_free(cms);
        return reject(v, EVC_SA_R_BAD_SIGNATURE, "a signature does not verify");
    }
    CMS_ContentInfo_free(cms);
    /* 3. Same service, never wider, never weaker. */
    service = known->service != NULL ? known->service : v->sa->service;
    if (strcmp(service, v->sa->service) != 0) {
        return reject(v, EVC_SA_R_SERVICE, "the SA is for %.100s, not %.100s", v->sa->service,
                      service);
    }
    if (!names(known->trusted, service) || !names(succ, service)) {
        return reject(v, EVC_SA_R_SERVICE, "the %s certificate does not name %.100s",
                      names(known->trusted, service) ? "successor" : "trusted", service);
    }
    if (!key_strong(succ, known->trusted, why, sizeof(why))) {
        return reject(v, EVC_SA_R_WEAK_KEY, "%s", why);
    }
    if (!narrow(succ, known->trusted, why, sizeof(why))) {
        return reject(v, EVC_SA_R_WIDENS, "%s", why);
    }
    if (!eku_subset(succ, known->trusted, why, sizeof(why))) {
        return reject(v, EVC_SA_R_EKU_WIDER, "%s", why);
    }
    /* 4. No rollback, no replay; the same generation with other content is a conflict. */
    if (v->sa->generation == known->last_generation && known->last_sha256 != NULL &&
        CRYPTO_memcmp(v->sha256, known->last_sha256, 32) != 0) {
        return reject(v, EVC_SA_R_CONFLICT,
                      "generation %llu again with other content: a second holder of the key?",
                      (unsigned long long)v->sa->generation);
    }
    if (v->sa->generation == known->last_generation) {
        return reject(v, EVC_SA_R_REPLAY, "generation %llu was accepted already",
                      (unsigned long long)v->sa->generation);
    }
    if (v->sa->generation < known->last_generation) {
        return reject(v, EVC_SA_R_ROLLBACK, "generation %llu is older than %llu",
                      (unsigned long long)v->sa->generation,
                      (unsigned long long)known->last_generation);
    }
    /* One far jump would make every later SA a rollback; renew adds 1. */
    if (known->last_generation != 0 &&
        v->sa->generation - known->last_generation > EVC_SA_GENERATION_STEP_MAX) {
        return reject(v, EVC_SA_R_GENERATION_JUMP, "generation %llu is more than %d past %llu",
                      (unsigned long long)v->sa->generation, EVC_SA_GENERATION_STEP_MAX,
                      (unsigned long long)known->last_generation);
    }
    /* 5. The successor is valid at activateAt. */
    if (asn1_time(X509_get0_notBefore(succ)) > v->sa->activate_at + skew ||
        asn1_time(X509_get0_notAfter(succ)) <= v->sa->activate_at) {
        return reject(v, EVC_SA_R_VALIDITY, "the successor is not valid at activateAt");
    }
    /* Renew keeps the length; a far longer successor would outlive any retirement. */
    {
        evc_time snb = asn1_time(X509_get0_notBefore(succ)),
                 sna = asn1_time(X509_get0_notAfter(succ)),
                 cnb = asn1_time(X509_get0_notBefore(known->trusted)),
                 cna = asn1_time(X509_get0_notAfter(known->trusted));
        int64_t slife = sna - snb, clife = cna - cnb;

        if (snb == 0 || sna == 0 || cnb == 0 || cna == 0 || clife <= 0 ||
            slife > clife + clife / 10) {
            return reject(v, EVC_SA_R_LIFETIME_LONGER,
                          "the successor lives %lld s, more than a tenth over the current "
                          "certificate's %lld s",
                          (long long)slife, (long long)clife);
        }
    }
    /*
     * 6 and 7. Under policy ca, it chains to an anchor the client trusts,
     * or to the one new root a trusted root vouches for. Under pinned
     * trust an SA carries no anchors: a leaf key never introduces a CA.
     */
    if (policy->mode == EVC_SA_POLICY_CA) {
        enum evc_sa_reason r = evc_sa_anchor_check(v->sa, policy->trust, v->sa->activate_at,
                                                   &anchor, why, sizeof(why));

        if (r != EVC_SA_R_OK) {
            return reject(v, r, "%s", why);
        }
    } else if (v->sa->anchors != NULL && sk_X509_num(v->sa->anchors) > 0) {
        return reject(v, EVC_SA_R_ANCHORS_UNDER_PIN,
                      "the SA carries %d anchor%s; a pinned certificate's key cannot introduce a "
                      "CA (only policy ca takes a new root, with a link from a trusted one)",
                      sk_X509_num(v->sa->anchors), sk_X509_num(v->sa->anchors) == 1 ? "" : "s");
    } else if (policy->trust != NULL && !self_signed(succ) &&
               !successor_chains(v->sa, policy->trust)) {
        /* Pinned trust adds the successor leaf alone: it must sign itself or chain already. */
        return reject(v, EVC_SA_R_NO_ANCHOR,
                      "the successor is not self-signed and does not chain to the trust store; "
                      "pinned trust can add only a leaf that signs itself");
    }
    if (anchor != NULL) {
        name_of(anchor, subject, sizeof(subject));
    }
    v->reason = EVC_SA_R_OK;
    if (policy->mode == EVC_SA_POLICY_MANUAL) {
        v->decision = EVC_SA_QUEUE;
        snprintf(v->message, sizeof(v->message),
                 "valid; queued for approval (policy manual), generation %llu",
                 (unsigned long long)v->sa->generation);
    } else {
        v->decision = EVC_SA_ACCEPT;
        snprintf(v->message, sizeof(v->message), "valid; accepted, generation %llu%s%.120s",
                 (unsigned long long)v->sa->generation,
                 anchor != NULL ? ", with the new root " : "", anchor != NULL ? subject : "");
    }
    return 0;
}
