/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fast certificate reader. A certificate is walked TLV by TLV with
 * ASN1_get_object(); only the fields we report are decoded, each with
 * OpenSSL's own d2i function for that type (names, times, integers,
 * subjectAltName, basicConstraints). The walk is strict: definite lengths,
 * the RFC 5280 field order, nothing left over at any level.
 *
 * RFC 5280, 4.1:
 *   Certificate  ::=  SEQUENCE  { tbsCertificate, signatureAlgorithm, signatureValue }
 *   TBSCertificate  ::=  SEQUENCE  { version [0] EXPLICIT DEFAULT v1, serialNumber,
 *        signature, issuer, validity, subject, subjectPublicKeyInfo,
 *        issuerUniqueID [1] IMPLICIT OPTIONAL, subjectUniqueID [2] IMPLICIT OPTIONAL,
 *        extensions [3] EXPLICIT OPTIONAL }
 *
 * One file, over the usual size: the fast walk and the OpenSSL fallback
 * (read_openssl, for what the walk refuses) must fill struct evc_cert
 * field by field the same way, and they are kept that way side by side.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/keys.h"
#include "evercert/cert.h"
#include "evercert/limits.h"
#include "x509/x509_int.h"

struct evc_cert_reader {
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    BIO *bio;
    /* Most certificates in a file share an issuer: print it once. */
    uint8_t *last_issuer_der;
    size_t last_issuer_len;
    char *last_issuer_text;
};

/* One DER element: where it starts, its content, its tag. */
struct tlv {
    const uint8_t *start;
    const uint8_t *val;
    size_t len;   /* content length */
    size_t total; /* header + content */
    int tag;
    int cls;
    int cons;
};

/* A cursor over the content of one constructed element. */
struct cursor {
    const uint8_t *p;
    size_t avail;
};

/* The slices of one certificate, found by cert_split(). */
struct cert_parts {
    struct tlv cert, tbs, version, serial, issuer, validity, subject, spki, exts;
    int has_version, has_exts;
};

static const uint8_t OID_SAN[] = {0x55, 0x1d, 0x11};
static const uint8_t OID_BASIC_CONSTRAINTS[] = {0x55, 0x1d, 0x13};

/*
 * Read the element at the cursor and step past it. Lengths are checked by
 * ASN1_get_object() against what is left; indefinite lengths are not DER.
 */
static int
tlv_next(struct cursor *c, struct tlv *t, const char **why)
{
    const unsigned char *q = c->p;
    long len;
    int tag, cls, ret;
    size_t hdr;

    if (c->avail == 0) {
        *why = "missing field";
        return EVC_ERR_TRUNCATED;
    }
    ret = ASN1_get_object(&q, &len, &tag, &cls, c->avail > LONG_MAX ? LONG_MAX : (long)c->avail);
    if (ret & 0x80) {
        unsigned long e = ERR_peek_last_error();

        ERR_clear_error();
        if (ERR_GET_REASON(e) == ASN1_R_TOO_LONG || ERR_GET_REASON(e) == ASN1_R_HEADER_TOO_LONG) {
            *why = "a length runs past the end";
            return EVC_ERR_TRUNCATED;
        }
        *why = "bad tag or length";
        return EVC_ERR_BAD_DER;
    }
    if (ret & 0x01) {
        *why = "indefinite length";
        return EVC_ERR_BAD_DER;
    }
    hdr = (size_t)(q - c->p);
    if (len < 0 || (size_t)len > c->avail - hdr) {
        *why = "a length runs past the end";
        return EVC_ERR_TRUNCATED;
    }
    t->start = c->p;
    t->val = q;
    t->len = (size_t)len;
    t->total = hdr + (size_t)len;
    t->tag = tag;
    t->cls = cls;
    t->cons = (ret & V_ASN1_CONSTRUCTED) != 0;
    c->p += t->total;
    c->avail -= t->total;
    return 0;
}

/* Read the next element and insist on its universal tag. */
static int
expect(struct cursor *c, int tag, struct tlv *t, const char *what, const char **why)
{
    int r;

    if ((r = tlv_next(c, t, why)) != 0) {
        *why = what;
        return r;
    }
    if (t->cls != V_ASN1_UNIVERSAL || t->tag != tag ||
        t->cons != (tag == V_ASN1_SEQUENCE || tag == V_ASN1_SET)) {
        *why = what;
        return EVC_ERR_BAD_DER;
    }
    return 0;
}

static struct cursor
inside(const struct tlv *t)
{
    struct cursor c = {t->val, t->len};

    return c;
}

static int
peek_context(const struct cursor *c, int tag)
{
    /* A context tag below 31 is one byte: class bits 10, then the number. */
    return c->avail > 0 && (c->p[0] & 0xdf) == (0x80 | tag);
}

/* An EXPLICIT context tag wrapping exactly one element of the given tag. */
static int explicit(struct cursor *c, int tag, struct tlv *out, const char *what, const char **why)
{
    struct tlv wrap;
    struct cursor in;
    int r;

    if ((r = tlv_next(c, &wrap, why)) != 0 || !wrap.cons) {
        *why = what;
        return r ? r : EVC_ERR_BAD_DER;
    }
    in = inside(&wrap);
    if ((r = expect(&in, tag, out, what, why)) != 0) {
        return r;
    }
    if (in.avail != 0) {
        *why = what;
        return EVC_ERR_BAD_DER;
    }
    return 0;
}

static int
cert_split(const uint8_t *der, size_t len, struct cert_parts *cp, const char **why)
{
    struct cursor all = {der, len}, c, tbs;
    struct tlv sigalg, sig, tmp;
    int r;

    memset(cp, 0, sizeof(*cp));
    if ((r = expect(&all, V_ASN1_SEQUENCE, &cp->cert, "certificate", why)) != 0) {
        return r;
    }
    if (all.avail != 0) {
        *why = "data after the certificate";
        return EVC_ERR_TRAILING;
    }
    c = inside(&cp->cert);
    if ((r = expect(&c, V_ASN1_SEQUENCE, &cp->tbs, "tbsCertificate", why)) != 0 ||
        (r = expect(&c, V_ASN1_SEQUENCE, &sigalg, "signatureAlgorithm", why)) != 0 ||
        (r = expect(&c, V_ASN1_BIT_STRING, &sig, "signatureValue", why)) != 0) {
        return r;
    }
    if (c.avail != 0) {
        *why = "extra field after signatureValue";
        return EVC_ERR_BAD_DER;
    }
    tbs = inside(&cp->tbs);
    if (peek_context(&tbs, 0)) {
        if ((r = explicit(&tbs, V_ASN1_INTEGER, &cp->version, "version", why)) != 0) {
            return r;
        }
        cp->has_version = 1;
    }
    if ((r = expect(&tbs, V_ASN1_INTEGER, &cp->serial, "serialNumber", why)) != 0 ||
        (r = expect(&tbs, V_ASN1_SEQUENCE, &tmp, "signature", why)) != 0 ||
        (r = expect(&tbs, V_ASN1_SEQUENCE, &cp->issuer, "issuer", why)) != 0 ||
        (r = expect(&tbs, V_ASN1_SEQUENCE, &cp->validity, "validity", why)) != 0 ||
        (r = expect(&tbs, V_ASN1_SEQUENCE, &cp->subject, "subject", why)) != 0 ||
        (r = expect(&tbs, V_ASN1_SEQUENCE, &cp->spki, "subjectPublicKeyInfo", why)) != 0) {
        return r;
    }
    /* The unique identifiers are of no use to us; skip them in order. */
    for (int tag = 1; tag <= 2; tag++) {
        if (peek_context(&tbs, tag) && (r = tlv_next(&tbs, &tmp, why)) != 0) {
            return r;
        }
    }
    if (peek_context(&tbs, 3)) {
        if ((r = explicit(&tbs, V_ASN1_SEQUENCE, &cp->exts, "extensions", why)) != 0) {
            return r;
        }
        cp->has_exts = 1;
    }
    if (tbs.avail != 0) {
        *why = "unexpected field in tbsCertificate";
        return EVC_ERR_BAD_DER;
    }
    return 0;
}

int
evc_cert_reader_new(struct evc_cert_reader **out)
{
    struct evc_cert_reader *r;

    *out = NULL;
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        return EVC_ERR_NOMEM;
    }
    if ((r->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
        (r->md = EVP_MD_CTX_new()) == NULL || (r->bio = BIO_new(BIO_s_mem())) == NULL) {
        evc_cert_reader_free(r);
        ERR_clear_error();
        return EVC_ERR_CRYPTO;
    }
    *out = r;
    return 0;
}

void
evc_cert_reader_free(struct evc_cert_reader *r)
{
    if (r == NULL) {
        return;
    }
    EVP_MD_free(r->sha256);
    EVP_MD_CTX_free(r->md);
    BIO_free(r->bio);
    free(r->last_issuer_der);
    free(r->last_issuer_text);
    free(r);
}

static int
name_id_of(struct evc_cert_reader *rd, const uint8_t *name, size_t len, uint8_t id[EVC_NAME_ID_LEN])
{
    uint8_t md[EVP_MAX_MD_SIZE];

    if (!EVP_DigestInit_ex2(rd->md, rd->sha256, NULL) || !EVP_DigestUpdate(rd->md, name, len) ||
        !EVP_DigestFinal_ex(rd->md, md, NULL)) {
        ERR_clear_error();
        return EVC_ERR_CRYPTO;
    }
    memcpy(id, md, EVC_NAME_ID_LEN);
    return 0;
}

static int
name_id(struct evc_cert_reader *rd, const struct tlv *name, uint8_t id[EVC_NAME_ID_LEN])
{
    return name_id_of(rd, name->start, name->total, id);
}

static int read_time(const struct tlv *t, evc_time *out);

/*
 * Whether OpenSSL may read what the fast reader refused, decided cheaply
 * so that a file of a million broken elements costs no million d2i_X509()
 * calls: the structure walks and the validity reads (a row needs it), or
 * the certificate is BER with an indefinite outer length, which OpenSSL
 * reads and the DER walk does not.
 */
static int
worth_openssl(const uint8_t *der, size_t len, int walked)
{
    struct cert_parts cp;
    struct cursor v;
    struct tlv nb, na;
    const char *why;
    evc_time t;

    if (!walked) {
        return len >= 2 && der[0] == (V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED) && der[1] == 0x80;
    }
    if (cert_split(der, len, &cp, &why) != 0) {
        return 0;
    }
    v = inside(&cp.validity);
    return tlv_next(&v, &nb, &why) == 0 && tlv_next(&v, &na, &why) == 0 && v.avail == 0 &&
           read_time(&nb, &t) == 0 && read_time(&na, &t) == 0;
}

static int
names_openssl(struct evc_cert_reader *rd, const uint8_t *der, size_t len,
              uint8_t subject_id[EVC_NAME_ID_LEN], uint8_t issuer_id[EVC_NAME_ID_LEN])
{
    const unsigned char *p = der, *sder, *ider;
    X509 *x = NULL;
    size_t slen, ilen;
    int r = EVC_ERR_BAD_DER;

    /* Called when the structure does not walk. */
    if (len > EVC_CERT_DER_MAX || !worth_openssl(der, len, 0)) {
        return r;
    }
    if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p == der + len &&
        X509_NAME_get0_der(X509_get_subject_name(x), &sder, &slen) &&
        X509_NAME_get0_der(X509_get_issuer_name(x), &ider, &ilen)) {
        if ((r = name_id_of(rd, sder, slen, subject_id)) == 0) {
            r = name_id_of(rd, ider, ilen, issuer_id);
        }
    }
    X509_free(x);
    ERR_clear_error();
    return r;
}

int
evc_cert_read_names(struct evc_cert_reader *rd, const uint8_t *der, size_t len,
                    uint8_t subject_id[EVC_NAME_ID_LEN], uint8_t issuer_id[EVC_NAME_ID_LEN])
{
    struct cert_parts cp;
    const char *why;
    int r;

    if (cert_split(der, len, &cp, &why) != 0) {
        /* What the fast walk refuses, OpenSSL may read: see read_openssl(). */
        return names_openssl(rd, der, len, subject_id, issuer_id);
    }
    if ((r = name_id(rd, &cp.subject, subject_id)) != 0 ||
        (r = name_id(rd, &cp.issuer, issuer_id)) != 0) {
        return r;
    }
    return 0;
}

void
evc_cert_clear(struct evc_cert *c)
{
    if (c == NULL) {
        return;
    }
    free(c->serial);
    free(c->subject);
    free(c->issuer);
    for (size_t i = 0; i < c->nsans; i++) {
        free(c->sans[i]);
    }
    free(c->sans);
    free(c->warning);
    memset(c, 0, sizeof(*c));
}

/* Decode a Time element into seconds since the epoch. */
static int
read_time(const struct tlv *t, evc_time *out)
{
    const unsigned char *p = t->start;
    ASN1_TIME *tm = NULL;
    int r = EVC_ERR_BAD_TIME;

    if (t->cls != V_ASN1_UNIVERSAL ||
        (t->tag != V_ASN1_UTCTIME && t->tag != V_ASN1_GENERALIZEDTIME)) {
        goto out;
    }
    if ((tm = d2i_ASN1_TIME(NULL, &p, (long)t->total)) == NULL || p != t->start + t->total) {
        goto out;
    }
    r = evc_asn1_time(tm, out);
out:
    ASN1_TIME_free(tm);
    ERR_clear_error();
    return r;
}

static int
read_name(struct evc_cert_reader *rd, const struct tlv *t, char **out, struct evc_err *err,
          const char *what)
{
    const unsigned char *p = t->start;
    X509_NAME *name = NULL;
    int r;

    *out = NULL;
    if ((name = d2i_X509_NAME(NULL, &p, (long)t->total)) == NULL || p != t->start + t->total) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid DER in %s name", what);
        goto out;
    }
    if ((r = evc_x509_name_text(rd->bio, name, out, err)) != 0) {
        evc_err_set(err, r, "%s name: %s", what, evc_err_message(err));
    }
out:
    X509_NAME_free(name);
    return r;
}

static int
read_issuer(struct evc_cert_reader *rd, const struct tlv *t, char **out, struct evc_err *err)
{
    int r;

    if (rd->last_issuer_text != NULL && rd->last_issuer_len == t->total &&
        memcmp(rd->last_issuer_der, t->start, t->total) == 0) {
        *out = strdup(rd->last_issuer_text);
        return *out ? 0 : evc_err_set(err, EVC_ERR_NOMEM, NULL);
    }
    if ((r = read_name(rd, t, out, err, "issuer")) != 0) {
        return r;
    }
    free(rd->last_issuer_der);
    free(rd->last_issuer_text);
    rd->last_issuer_der = malloc(t->total);
    rd->last_issuer_text = strdup(*out);
    if (rd->last_issuer_der == NULL || rd->last_issuer_text == NULL) {
        free(rd->last_issuer_der);
        free(rd->last_issuer_text);
        rd->last_issuer_der = NULL;
        rd->last_issuer_text = NULL;
        return 0; /* only the cache is lost */
    }
    memcpy(rd->last_issuer_der, t->start, t->total);
    rd->last_issuer_len = t->total;
    return 0;
}

/* The number of significant bits in the content of an unsigned INTEGER. */
static int
integer_bits(const struct tlv *t)
{
    size_t i = 0;
    int bits;

    while (i < t->len && t->val[i] == 0) {
        i++;
    }
    if (i == t->len || t->len - i > INT_MAX / 8) {
        return 0;
    }
    bits = (int)(t->len - i) * 8;
    for (uint8_t top = t->val[i]; !(top & 0x80); top <<= 1) {
        bits--;
    }
    return bits;
}

static int
read_oid_nid(const struct tlv *t, int *nid)
{
    const unsigned char *p = t->start;
    ASN1_OBJECT *o;

    if ((o = d2i_ASN1_OBJECT(NULL, &p, (long)t->total)) == NULL) {
        ERR_clear_error();
        return EVC_ERR_BAD_DER;
    }
    *nid = OBJ_obj2nid(o);
    ASN1_OBJECT_free(o);
    return 0;
}

/* "rsa:2048", "ec:P-256", "ed25519": SubjectPublicKeyInfo, RFC 5280 4.1.2.7. */
static int
read_key(const struct tlv *spki, char *out, size_t outlen, const char **why)
{
    struct cursor c = inside(spki), a;
    struct tlv alg, bits, oid, params;
    int nid, pnid, r, has_params;

    *why = "subjectPublicKeyInfo";
    if ((r = expect(&c, V_ASN1_SEQUENCE, &alg, *why, why)) != 0 ||
        (r = expect(&c, V_ASN1_BIT_STRING, &bits, *why, why)) != 0 || c.avail != 0) {
        return r ? r : EVC_ERR_BAD_DER;
    }
    a = inside(&alg);
    if ((r = expect(&a, V_ASN1_OBJECT, &oid, *why, why)) != 0 ||
        (r = read_oid_nid(&oid, &nid)) != 0) {
        return r;
    }
    has_params = a.avail > 0;
    if (has_params && ((r = tlv_next(&a, &params, why)) != 0 || a.avail != 0)) {
        *why = "subjectPublicKeyInfo";
        return r ? r : EVC_ERR_BAD_DER;
    }
    switch (nid) {
    case NID_rsaEncryption:
    case NID_rsassaPss: {
        /* The BIT STRING holds RSAPublicKey ::= SEQUENCE { modulus, publicExponent }. */
        struct cursor k = {bits.val, bits.len}, rk;
        struct tlv seq, n;

        if (k.avail < 1 || k.p[0] != 0) {
            return EVC_ERR_BAD_DER;
        }
        k.p++;
        k.avail--;
        if ((r = expect(&k, V_ASN1_SEQUENCE, &seq, *why, why)) != 0) {
            return r;
        }
        rk = inside(&seq);
        if ((r = expect(&rk, V_ASN1_INTEGER, &n, *why, why)) != 0) {
            return r;
        }
        snprintf(out, outlen, "%s:%d", nid == NID_rsaEncryption ? "rsa" : "rsa-pss",
                 integer_bits(&n));
        return 0;
    }
    case NID_X9_62_id_ecPublicKey:
        if (has_params && params.cls == V_ASN1_UNIVERSAL && params.tag == V_ASN1_OBJECT &&
            read_oid_nid(&params, &pnid) == 0 && pnid != NID_undef) {
            snprintf(out, outlen, "ec:%s", evc_x509_curve_text(OBJ_nid2sn(pnid)));
        } else {
            snprintf(out, outlen, "ec:%s", has_params ? "explicit" : "unknown");
        }
        return 0;
    case NID_dsa: {
        struct cursor d = has_params ? inside(&params) : (struct cursor){NULL, 0};
        struct tlv p;

        if (!has_params || expect(&d, V_ASN1_INTEGER, &p, *why, why) != 0) {
            snprintf(out, outlen, "dsa");
        } else {
            snprintf(out, outlen, "dsa:%d", integer_bits(&p));
        }
        return 0;
    }
    case NID_ED25519:
    case NID_ED448:
    case NID_X25519:
    case NID_X448:
        snprintf(out, outlen, "%s",
                 nid == NID_ED25519  ? "ed25519"
                 : nid == NID_ED448  ? "ed448"
                 : nid == NID_X25519 ? "x25519"
                                     : "x448");
        return 0;
    default: {
        char txt[48];
        const unsigned char *p = oid.start;
        ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)oid.total);

        if (o == NULL || OBJ_obj2txt(txt, sizeof(txt), o, 1) <= 0) {
            snprintf(txt, sizeof(txt), "?");
        }
        ASN1_OBJECT_free(o);
        ERR_clear_error();
        snprintf(out, outlen, "unknown:%s", txt);
        return 0;
    }
    }
}

static int
read_sans(struct evc_cert_reader *rd, const struct tlv *value, struct evc_cert *c,
          struct evc_err *err)
{
    const unsigned char *p = value->val;
    GENERAL_NAMES *gens = NULL;
    struct evc_buf b;
    int n, r;

    evc_buf_init(&b, EVC_CERT_DER_MAX);
    if ((gens = d2i_GENERAL_NAMES(NULL, &p, (long)value->len)) == NULL ||
        p != value->val + value->len) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "malformed subjectAltName extension");
        goto out;
    }
    if ((n = sk_GENERAL_NAME_num(gens)) > EVC_CERT_SANS_MAX) {
        r = evc_err_set(err, EVC_ERR_LIMIT, "more than %d subjectAltName entries",
                        EVC_CERT_SANS_MAX);
        goto out;
    }
    if (n > 0 && (c->sans = calloc((size_t)n, sizeof(*c->sans))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        evc_buf_reset(&b);
        if ((r = evc_x509_general_name_text(rd->bio, sk_GENERAL_NAME_value(gens, i), &b)) != 0 ||
            (c->sans[i] = strdup(evc_buf_str(&b))) == NULL) {
            r = evc_err_set(err, r ? r : EVC_ERR_NOMEM, "subjectAltName entry %d", i);
            goto out;
        }
        c->nsans++;
    }
    r = 0;
out:
    GENERAL_NAMES_free(gens);
    evc_buf_free(&b);
    ERR_clear_error();
    return r;
}

/* Add one oddity to a certificate that is read all the same. */
static int add_warning(struct evc_cert *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_warning(struct evc_cert *c, const char *fmt, ...)
{
    char more[EVC_ERR_DETAIL_MAX], *w;
    size_t have = c->warning ? strlen(c->warning) : 0;
    va_list ap;

    /* Enough said: a certificate with thousands of oddities costs no more. */
    if (have >= EVC_ERR_DETAIL_MAX) {
        return 0;
    }
    va_start(ap, fmt);
    vsnprintf(more, sizeof(more), fmt, ap);
    va_end(ap);
    if ((w = realloc(c->warning, have + strlen(more) + 3)) == NULL) {
        return EVC_ERR_NOMEM;
    }
    snprintf(w + have, strlen(more) + 3, "%s%s", have ? "; " : "", more);
    c->warning = w;
    return 0;
}

/*
 * The extensions OpenSSL's verifier knows (X509_supported_extension()): a
 * critical extension not among them makes every verification fail.
 */
static int
known_critical(int nid)
{
    static const int known[] = {
        NID_netscape_cert_type,    NID_key_usage,
        NID_subject_alt_name,      NID_basic_constraints,
        NID_certificate_policies,  NID_crl_distribution_points,
        NID_ext_key_usage,         NID_sbgp_ipAddrBlock,
        NID_sbgp_autonomousSysNum, NID_id_pkix_OCSP_noCheck,
        NID_policy_constraints,    NID_proxyCertInfo,
        NID_name_constraints,      NID_policy_mappings,
        NID_inhibit_any_policy,
    };

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (known[i] == nid) {
            return 1;
        }
    }
    return 0;
}

static int
warn_critical(struct evc_cert *c, const struct tlv *oid)
{
    const unsigned char *p = oid->start;
    ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)oid->total);
    char txt[64];
    int r = 0;

    if (o == NULL || !known_critical(OBJ_obj2nid(o))) {
        if (o == NULL || OBJ_obj2txt(txt, sizeof(txt), o, 1) <= 0) {
            snprintf(txt, sizeof(txt), "?");
        }
        r = add_warning(c, "unknown critical extension %s", txt);
    }
    ASN1_OBJECT_free(o);
    ERR_clear_error();
    return r;
}

/* Walk Extensions ::= SEQUENCE OF Extension; decode the two we report. */
static int
read_extensions(struct evc_cert_reader *rd, const struct tlv *exts, struct evc_cert *c,
                struct evc_err *err)
{
    struct cursor all = inside(exts);
    const char *why = NULL;
    int seen_san = 0, seen_bc = 0, r;

    while (all.avail > 0) {
        struct tlv ext, oid, crit = {0}, value;
        struct cursor e;

        if ((r = expect(&all, V_ASN1_SEQUENCE, &ext, "extension", &why)) != 0) {
            return evc_err_set(err, r, "invalid DER in %s", why);
        }
        e = inside(&ext);
        if ((r = expect(&e, V_ASN1_OBJECT, &oid, "extension", &why)) != 0) {
            return evc_err_set(err, r, "invalid DER in extension");
        }
        if (e.avail > 0 && e.p[0] == V_ASN1_BOOLEAN &&
            (r = expect(&e, V_ASN1_BOOLEAN, &crit, "extension", &why)) != 0) {
            return evc_err_set(err, r, "invalid DER in extension");
        }
        if ((r = expect(&e, V_ASN1_OCTET_STRING, &value, "extension", &why)) != 0 || e.avail != 0) {
            return evc_err_set(err, r ? r : EVC_ERR_BAD_DER, "invalid DER in extension");
        }
        if (crit.len == 1 && crit.val[0] != 0 && (r = warn_critical(c, &oid)) != 0) {
            return evc_err_set(err, r, NULL);
        }
        if (oid.len == sizeof(OID_SAN) && memcmp(oid.val, OID_SAN, sizeof(OID_SAN)) == 0) {
            if (seen_san++) {
                return evc_err_set(err, EVC_ERR_BAD_DER, "duplicate subjectAltName extension");
            }
            if ((r = read_sans(rd, &value, c, err)) != 0) {
                return r;
            }
        } else if (oid.len == sizeof(OID_BASIC_CONSTRAINTS) &&
                   memcmp(oid.val, OID_BASIC_CONSTRAINTS, sizeof(OID_BASIC_CONSTRAINTS)) == 0) {
            const unsigned char *p = value.val;
            BASIC_CONSTRAINTS *bc;

            if (seen_bc++) {
                return evc_err_set(err, EVC_ERR_BAD_DER, "duplicate basicConstraints extension");
            }
            if ((bc = d2i_BASIC_CONSTRAINTS(NULL, &p, (long)value.len)) == NULL ||
                p != value.val + value.len) {
                BASIC_CONSTRAINTS_free(bc);
                return evc_err_openssl(err, EVC_ERR_BAD_DER, "malformed basicConstraints");
            }
            c->is_ca = bc->ca != 0;
            BASIC_CONSTRAINTS_free(bc);
        }
    }
    return 0;
}

/* *walked is set when the structure walks, whatever fails after. */
static int
read_fast(struct evc_cert_reader *rd, const uint8_t *der, size_t len, struct evc_cert *out,
          int *walked, struct evc_err *err)
{
    struct evc_cert c;
    struct cert_parts cp;
    struct cursor v;
    struct tlv nb, na;
    const char *why = NULL;
    const unsigned char *p;
    ASN1_INTEGER *serial = NULL;
    int r = EVC_ERR_INTERNAL;

    memset(&c, 0, sizeof(c));
    if ((r = cert_split(der, len, &cp, &why)) != 0) {
        evc_err_set(err, r, "%s in %s", r == EVC_ERR_TRUNCATED ? "truncated DER" : "invalid DER",
                    why);
        goto out;
    }
    *walked = 1;
    c.version = 1;
    if (cp.has_version) {
        if (cp.version.len != 1 || cp.version.val[0] > 2) {
            r = evc_err_set(err, EVC_ERR_BAD_DER, "certificate version is not 1, 2 or 3");
            goto out;
        }
        c.version = cp.version.val[0] + 1;
    }
    p = cp.serial.start;
    if ((serial = d2i_ASN1_INTEGER(NULL, &p, (long)cp.serial.total)) == NULL) {
        r = evc_err_openssl(err, EVC_ERR_BAD_DER, "invalid DER in serialNumber");
        goto out;
    }
    if ((r = evc_x509_serial_text(serial, &c.serial)) != 0) {
        evc_err_set(err, r, NULL);
        goto out;
    }
    /*
     * RFC 5280, 4.1.2.2: positive, at most 20 octets; some clients refuse
     * others. Zero is left alone: real roots in every trust store have it.
     */
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
        r = add_warning(&c, "negative serial number");
    } else if (cp.serial.len > 20) {
        r = add_warning(&c, "serial number of %zu bytes, over the 20 of RFC 5280", cp.serial.len);
    }
    if (r != 0) {
        evc_err_set(err, r, NULL);
        goto out;
    }
    /* A Time is one of two tags, so read_time() checks it, not expect(). */
    v = inside(&cp.validity);
    if (tlv_next(&v, &nb, &why) != 0 || tlv_next(&v, &na, &why) != 0 || v.avail != 0) {
        r = evc_err_set(err, EVC_ERR_BAD_DER, "invalid DER in validity");
        goto out;
    }
    if (read_time(&nb, &c.not_before) != 0) {
        r = evc_err_set(err, EVC_ERR_BAD_TIME, "notBefore is not a valid time");
        goto out;
    }
    if (read_time(&na, &c.not_after) != 0) {
        r = evc_err_set(err, EVC_ERR_BAD_TIME, "notAfter is not a valid time");
        goto out;
    }
    if ((r = read_name(rd, &cp.subject, &c.subject, err, "subject")) != 0 ||
        (r = read_issuer(rd, &cp.issuer, &c.issuer, err)) != 0) {
        goto out;
    }
    if ((r = read_key(&cp.spki, c.key, sizeof(c.key), &why)) != 0) {
        evc_err_set(err, r, "undecodable public key (invalid DER in %s)", why);
        goto out;
    }
    if (cp.has_exts && (r = read_extensions(rd, &cp.exts, &c, err)) != 0) {
        goto out;
    }
    c.subject_der = cp.subject.start;
    c.subject_der_len = cp.subject.total;
    c.issuer_der = cp.issuer.start;
    c.issuer_der_len = cp.issuer.total;
    c.self_issued = cp.subject.total == cp.issuer.total &&
                    memcmp(cp.subject.start, cp.issuer.start, cp.issuer.total) == 0;
    /* OpenSSL treats a v1 self-issued certificate as a CA (a v1 root). */
    if (c.version == 1 && c.self_issued) {
        c.is_ca = 1;
    }
    if (name_id(rd, &cp.subject, c.subject_id) != 0 || name_id(rd, &cp.issuer, c.issuer_id) != 0 ||
        !EVP_DigestInit_ex2(rd->md, rd->sha256, NULL) || !EVP_DigestUpdate(rd->md, der, len) ||
        !EVP_DigestFinal_ex(rd->md, c.sha256, NULL)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "SHA-256");
        goto out;
    }
    *out = c;
    memset(&c, 0, sizeof(c));
    r = 0;
out:
    ASN1_INTEGER_free(serial);
    evc_cert_clear(&c);
    ERR_clear_error();
    return r;
}

/* The key as OpenSSL decodes it, in read_key()'s words; "<algorithm>:invalid" when it cannot. */
static void
key_text_openssl(X509 *x, char *out, size_t outlen)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    ASN1_OBJECT *alg = NULL;
    char group[64], txt[48];

    if (pk == NULL) {
        X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x));
        if (alg == NULL || OBJ_obj2txt(txt, sizeof(txt), alg, 0) <= 0) {
            snprintf(txt, sizeof(txt), "?");
        }
        snprintf(out, outlen, "%s:invalid", txt);
    } else if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS")) {
        snprintf(out, outlen, "%s:%d", EVP_PKEY_is_a(pk, "RSA") ? "rsa" : "rsa-pss",
                 EVP_PKEY_get_bits(pk));
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        snprintf(out, outlen, "ec:%s",
                 EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL)
                     ? evc_x509_curve_text(group)
                     : "explicit");
    } else if (EVP_PKEY_is_a(pk, "DSA")) {
        snprintf(out, outlen, "dsa:%d", EVP_PKEY_get_bits(pk));
    } else {
        snprintf(out, outlen, "%s", EVP_PKEY_get0_type_name(pk));
        for (char *q = out; *q; q++) {
            *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
        }
    }
    ERR_clear_error();
}

static int
sans_openssl(struct evc_cert_reader *rd, X509 *x, struct evc_cert *c)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    struct evc_buf b;
    int n, r = 0;

    /* None when the extension is missing, repeated or malformed: the warning says which. */
    if (gens == NULL) {
        ERR_clear_error();
        return 0;
    }
    evc_buf_init(&b, EVC_CERT_DER_MAX);
    n = sk_GENERAL_NAME_num(gens);
    n = n > EVC_CERT_SANS_MAX ? EVC_CERT_SANS_MAX : n;
    if (n > 0 && (c->sans = calloc((size_t)n, sizeof(*c->sans))) == NULL) {
        r = EVC_ERR_NOMEM;
    }
    for (int i = 0; i < n && r == 0; i++) {
        evc_buf_reset(&b);
        if ((r = evc_x509_general_name_text(rd->bio, sk_GENERAL_NAME_value(gens, i), &b)) != 0 ||
            (c->sans[i] = strdup(evc_buf_str(&b))) == NULL) {
            r = r ? r : EVC_ERR_NOMEM;
            break;
        }
        c->nsans++;
    }
    GENERAL_NAMES_free(gens);
    evc_buf_free(&b);
    ERR_clear_error();
    return r;
}

/* A name's text, or "?" when even OpenSSL's cannot be printed (the warning says why). */
static int
name_openssl(struct evc_cert_reader *rd, const X509_NAME *name, char **out)
{
    struct evc_err e = {0};

    if (evc_x509_name_text(rd->bio, name, out, &e) != 0 && (*out = strdup("?")) == NULL) {
        return EVC_ERR_NOMEM;
    }
    return 0;
}

/*
 * The row of a certificate the fast reader refused but OpenSSL takes
 * whole: every field from d2i_X509() and OpenSSL's getters, and why as the
 * warning. Fails (leaving err as the fast reader set it) when OpenSSL
 * refuses it too, or its validity cannot be read: then there is no expiry
 * to report.
 */
static int
read_openssl(struct evc_cert_reader *rd, const uint8_t *der, size_t len, int walked, int why_code,
             struct evc_cert *out, struct evc_err *err)
{
    const unsigned char *p = der;
    X509 *x = NULL;
    struct evc_cert c;
    struct cert_parts cp;
    const unsigned char *sder, *ider;
    size_t slen, ilen;
    const char *why = NULL;
    uint32_t flags;
    long version;
    int r = why_code;

    if (!worth_openssl(der, len, walked)) {
        return why_code; /* nothing allocated, no error queued: the common case stays cheap */
    }
    memset(&c, 0, sizeof(c));
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len ||
        evc_asn1_time(X509_get0_notBefore(x), &c.not_before) != 0 ||
        evc_asn1_time(X509_get0_notAfter(x), &c.not_after) != 0) {
        goto out; /* err keeps the fast reader's reason */
    }
    if ((c.warning = strdup(evc_err_message(err))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    version = X509_get_version(x);
    c.version = version < 0 || version >= INT_MAX ? INT_MAX : (int)version + 1;
    if (evc_x509_serial_text(X509_get0_serialNumber(x), &c.serial) != 0 ||
        name_openssl(rd, X509_get_subject_name(x), &c.subject) != 0 ||
        name_openssl(rd, X509_get_issuer_name(x), &c.issuer) != 0 || sans_openssl(rd, x, &c) != 0) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    flags = X509_get_extension_flags(x);
    c.self_issued = (flags & EXFLAG_SI) != 0;
    c.is_ca = (flags & EXFLAG_CA) != 0 || ((flags & EXFLAG_V1) && c.self_issued);
    if (cert_split(der, len, &cp, &why) == 0) {
        c.subject_der = cp.subject.start;
        c.subject_der_len = cp.subject.total;
        c.issuer_der = cp.issuer.start;
        c.issuer_der_len = cp.issuer.total;
    }
    if (c.subject_der == NULL || read_key(&cp.spki, c.key, sizeof(c.key), &why) != 0) {
        key_text_openssl(x, c.key, sizeof(c.key));
    }
    if (!X509_NAME_get0_der(X509_get_subject_name(x), &sder, &slen) ||
        !X509_NAME_get0_der(X509_get_issuer_name(x), &ider, &ilen) ||
        name_id_of(rd, sder, slen, c.subject_id) != 0 ||
        name_id_of(rd, ider, ilen, c.issuer_id) != 0 ||
        !EVP_DigestInit_ex2(rd->md, rd->sha256, NULL) || !EVP_DigestUpdate(rd->md, der, len) ||
        !EVP_DigestFinal_ex(rd->md, c.sha256, NULL)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "SHA-256");
        goto out;
    }
    *out = c;
    memset(&c, 0, sizeof(c));
    r = 0;
out:
    X509_free(x);
    evc_cert_clear(&c);
    ERR_clear_error();
    return r;
}

int
evc_cert_read(struct evc_cert_reader *rd, const uint8_t *der, size_t len, struct evc_cert *out,
              struct evc_err *err)
{
    int r, walked = 0;

    memset(out, 0, sizeof(*out));
    if (len > EVC_CERT_DER_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "certificate larger than %zu bytes",
                           EVC_CERT_DER_MAX);
    }
    if ((r = read_fast(rd, der, len, out, &walked, err)) == 0 || r == EVC_ERR_NOMEM ||
        r == EVC_ERR_CRYPTO) {
        return r;
    }
    /*
     * The fast reader is stricter than OpenSSL. A certificate OpenSSL reads
     * has an expiry that matters whatever else is odd about it, so it is a
     * row, with the oddity as its warning, never an error that hides it.
     */
    return read_openssl(rd, der, len, walked, r, out, err);
}
