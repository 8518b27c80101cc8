/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's decision on an SA: one test per rule of DESIGN.md, each a
 * rejection with its reason, then what is accepted and queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/cms.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/limits.h"

#define NOW ((evc_time)1800000000)
#define HOUR 3600

struct fx {
    EVP_PKEY *ca_key, *key, *nkey, *other_key;
    X509 *ca, *cur, *succ, *other;
};

static X509 *
make(enum evc_profile prof, const char *cn, const char *san, EVP_PKEY *key, struct fx *f,
     evc_time nb, evc_time na)
{
    const char *sans[] = {san};
    struct evc_cert_req req = {prof, NULL, cn, sans, san != NULL, nb, na};
    struct evc_err err = {0};
    X509 *x = NULL;

    assert_int_equal(evc_ca_make(&req, key, f->ca, f->ca_key, &x, &err), 0);
    return x;
}

static EVP_PKEY *
key(const char *spec)
{
    EVP_PKEY *k = NULL;
    struct evc_err err = {0};

    assert_int_equal(evc_key_generate(spec, &k, &err), 0);
    return k;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct evc_cert_req root = {EVC_PROFILE_ROOT, NULL, "SA Root", NULL, 0, NOW - HOUR,
                                NOW + 1000 * HOUR};
    struct evc_err err = {0};

    f->ca_key = key("ec:P-256");
    f->key = key("ec:P-256");
    f->nkey = key("ec:P-256");
    f->other_key = key("ec:P-256");
    assert_int_equal(evc_ca_make(&root, f->ca_key, NULL, NULL, &f->ca, &err), 0);
    /* As long-lived as the anchor tests' certificates: no successor here lives longer. */
    f->cur = make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", f->key, f, NOW - HOUR,
                  NOW + 100 * HOUR);
    f->succ =
        make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", f->nkey, f, NOW, NOW + 20 * HOUR);
    f->other = make(EVC_PROFILE_SERVER, "evil.test", "DNS:evil.test", f->other_key, f, NOW,
                    NOW + 20 * HOUR);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->nkey);
    EVP_PKEY_free(f->other_key);
    X509_free(f->ca);
    X509_free(f->cur);
    X509_free(f->succ);
    X509_free(f->other);
    free(f);
    return 0;
}

/* An SA from current to successor, by the library's own writer. */
static void
build(struct evc_buf *b, const char *service, uint64_t gen, evc_time activate, X509 *cur,
      EVP_PKEY *ck, X509 *succ, EVP_PKEY *sk)
{
    struct evc_sa_params p = {service, gen, NOW, activate, cur, ck, succ, sk, NULL, NULL, 0};
    struct evc_err err = {0};

    evc_buf_init(b, EVC_SA_MAX + 16);
    assert_int_equal(evc_sa_encode(&p, b, &err), 0);
}

/* The same content, signed by any set of signers: for the signer rules. */
static void
resign(const struct evc_buf *good, X509 *const *certs, EVP_PKEY *const *keys, size_t n,
       struct evc_buf *out)
{
    const unsigned char *p = good->data;
    CMS_ContentInfo *src = d2i_CMS_ContentInfo(NULL, &p, (long)good->len), *cms;
    ASN1_OCTET_STRING **content = CMS_get0_content(src);
    BIO *in = BIO_new_mem_buf(ASN1_STRING_get0_data(*content), ASN1_STRING_length(*content));
    unsigned char *der = NULL;
    int len;

    cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(CMS_add1_signer(cms, certs[i], keys[i], NULL, CMS_PARTIAL | CMS_BINARY));
    }
    assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
    len = i2d_CMS_ContentInfo(cms, &der);
    evc_buf_init(out, EVC_SA_MAX + 16);
    assert_int_equal(evc_buf_put(out, der, (size_t)len), 0);
    OPENSSL_free(der);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    CMS_ContentInfo_free(src);
}

static struct evc_sa_verdict
decide(struct fx *f, const struct evc_buf *b, uint64_t last, const uint8_t *last_sha,
       enum evc_sa_policy_mode mode, const char *service)
{
    struct evc_sa_known k = {f->cur, service, last, last_sha};
    struct evc_sa_policy pol = {mode, NULL, 0};
    struct evc_sa_verdict v;

    assert_int_equal(evc_sa_verify(b->data, b->len, &k, &pol, NOW, &v), 0);
    return v;
}

static void
expect(struct fx *f, const struct evc_buf *b, enum evc_sa_reason want, const char *service)
{
    struct evc_sa_verdict v = decide(f, b, 0, NULL, EVC_SA_POLICY_AUTO, service);

    if (v.decision != EVC_SA_REJECT || v.reason != want) {
        fail_msg("want reject/%s, got %s/%s: %s", evc_sa_reason_name(want),
                 evc_sa_decision_name(v.decision), evc_sa_reason_name(v.reason), v.message);
    }
    evc_sa_verdict_clear(&v);
}

static void
test_accept_and_queue(void **state)
{
    struct fx *f = *state;
    struct evc_buf b;
    struct evc_sa_verdict v;

    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    v = decide(f, &b, 0, NULL, EVC_SA_POLICY_AUTO, "web.test");
    assert_int_equal(v.decision, EVC_SA_ACCEPT);
    assert_int_equal(v.reason, EVC_SA_R_OK);
    assert_int_equal(v.sa->generation, 1);
    evc_sa_verdict_clear(&v);
    v = decide(f, &b, 0, NULL, EVC_SA_POLICY_MANUAL, NULL);
    assert_int_equal(v.decision, EVC_SA_QUEUE);
    evc_sa_verdict_clear(&v);
    /* A client that trusts nothing for the service yet takes no SA. */
    {
        struct evc_sa_known k = {NULL, "web.test", 0, NULL};
        struct evc_sa_policy p = {EVC_SA_POLICY_AUTO, NULL, 300};

        assert_int_equal(evc_sa_verify(b.data, b.len, &k, &p, NOW, &v), 0);
        assert_int_equal(v.decision, EVC_SA_REJECT);
        assert_int_equal(v.reason, EVC_SA_R_NO_CURRENT_SIGNER);
        evc_sa_verdict_clear(&v);
    }
    evc_buf_free(&b);
}

static void
test_policy_ca(void **state)
{
    struct fx *f = *state;
    struct evc_buf b;
    struct evc_sa_known k = {f->cur, NULL, 0, NULL};
    struct evc_sa_policy pol = {EVC_SA_POLICY_CA, X509_STORE_new(), 0};
    struct evc_sa_verdict v;

    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    assert_int_equal(evc_sa_verify(b.data, b.len, &k, &pol, NOW, &v), 0);
    assert_int_equal(v.reason, EVC_SA_R_NO_ANCHOR);
    evc_sa_verdict_clear(&v);
    assert_int_equal(X509_STORE_add_cert(pol.trust, f->ca), 1);
    assert_int_equal(evc_sa_verify(b.data, b.len, &k, &pol, NOW, &v), 0);
    assert_int_equal(v.decision, EVC_SA_ACCEPT);
    evc_sa_verdict_clear(&v);
    X509_STORE_free(pol.trust);
    evc_buf_free(&b);
}

static void
test_service(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k1 = key("ec:P-256"), *k2 = key("ec:P-256");
    X509 *dns_ip_cur =
        make(EVC_PROFILE_SERVER, "x", "DNS:127.0.0.1", k1, f, NOW - HOUR, NOW + 10 * HOUR);
    X509 *dns_ip_succ = make(EVC_PROFILE_SERVER, "x", "DNS:127.0.0.1", k2, f, NOW, NOW + 10 * HOUR);
    struct evc_buf b;
    struct evc_sa_known k = {dns_ip_cur, NULL, 0, NULL};
    struct evc_sa_policy pol = {EVC_SA_POLICY_AUTO, NULL, 0};
    struct evc_sa_verdict v;

    /* The SA speaks for web.test; the client connects to other.test. */
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    expect(f, &b, EVC_SA_R_SERVICE, "other.test");
    evc_buf_free(&b);
    /* The SA names a service its certificates do not. */
    build(&b, "www.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    expect(f, &b, EVC_SA_R_SERVICE, NULL);
    evc_buf_free(&b);
    /* An IP address is never matched against a DNS name that looks like it. */
    build(&b, "127.0.0.1", 1, NOW + HOUR, dns_ip_cur, k1, dns_ip_succ, k2);
    assert_int_equal(evc_sa_verify(b.data, b.len, &k, &pol, NOW, &v), 0);
    assert_int_equal(v.reason, EVC_SA_R_SERVICE);
    evc_sa_verdict_clear(&v);
    evc_buf_free(&b);
    X509_free(dns_ip_cur);
    X509_free(dns_ip_succ);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

static void
test_signers(void **state)
{
    struct fx *f = *state;
    struct evc_buf good, b;

    build(&good, "web.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    {
        X509 *c[] = {f->succ, f->other};
        EVP_PKEY *k[] = {f->nkey, f->other_key};

        resign(&good, c, k, 2, &b);
        expect(f, &b, EVC_SA_R_NO_CURRENT_SIGNER, NULL);
        evc_buf_free(&b);
    }
    {
        X509 *c[] = {f->cur, f->other};
        EVP_PKEY *k[] = {f->key, f->other_key};

        resign(&good, c, k, 2, &b);
        expect(f, &b, EVC_SA_R_NO_SUCCESSOR_SIGNER, NULL);
        evc_buf_free(&b);
    }
    {
        X509 *c[] = {f->cur, f->succ, f->other};
        EVP_PKEY *k[] = {f->key, f->nkey, f->other_key};

        resign(&good, c, k, 3, &b);
        expect(f, &b, EVC_SA_R_SIGNER_COUNT, NULL);
        evc_buf_free(&b);
    }
    {
        X509 *c[] = {f->cur};
        EVP_PKEY *k[] = {f->key};

        resign(&good, c, k, 1, &b);
        expect(f, &b, EVC_SA_R_SIGNER_COUNT, NULL);
        evc_buf_free(&b);
    }
    {
        /* Signers that are neither. */
        X509 *c[] = {f->other, f->ca};
        EVP_PKEY *k[] = {f->other_key, f->ca_key};

        resign(&good, c, k, 2, &b);
        expect(f, &b, EVC_SA_R_UNKNOWN_SIGNER, NULL);
        evc_buf_free(&b);
    }
    {
        /* The trusted certificate's issuer and serial, someone else's key. */
        X509 *fake = X509_dup(f->cur);
        X509 *c[] = {fake, f->succ};
        EVP_PKEY *k[] = {f->other_key, f->nkey};

        assert_int_equal(X509_set_pubkey(fake, f->other_key), 1);
        assert_true(X509_sign(fake, f->ca_key, EVP_sha256()) > 0);
        resign(&good, c, k, 2, &b);
        expect(f, &b, EVC_SA_R_BAD_SIGNATURE, NULL);
        evc_buf_free(&b);
        X509_free(fake);
    }
    evc_buf_free(&good);
}

static void
test_tampered(void **state)
{
    struct fx *f = *state;
    struct evc_buf b;
    uint8_t *hit;

    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    /* One byte of the content's service name. */
    hit = memmem(b.data, b.len, "web.test", 8);
    assert_non_null(hit);
    hit[0] = 'x';
    expect(f, &b, EVC_SA_R_BAD_SIGNATURE, NULL);
    evc_buf_free(&b);
}

static void
test_generation(void **state)
{
    struct fx *f = *state;
    struct evc_buf b, other;
    struct evc_sa_verdict v;

    build(&b, "web.test", 5, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    build(&other, "web.test", 5, NOW + 2 * HOUR, f->cur, f->key, f->succ, f->nkey);
    v = decide(f, &b, 6, NULL, EVC_SA_POLICY_AUTO, NULL);
    assert_int_equal(v.reason, EVC_SA_R_ROLLBACK);
    evc_sa_verdict_clear(&v);
    v = decide(f, &b, 5, NULL, EVC_SA_POLICY_AUTO, NULL);
    assert_int_equal(v.reason, EVC_SA_R_REPLAY);
    /* Generation 5 with other content than the accepted one: a conflict. */
    {
        uint8_t accepted[32];
        struct evc_sa_verdict w;

        memcpy(accepted, v.sha256, 32);
        w = decide(f, &other, 5, accepted, EVC_SA_POLICY_AUTO, NULL);
        assert_int_equal(w.reason, EVC_SA_R_CONFLICT);
        evc_sa_verdict_clear(&w);
        w = decide(f, &b, 5, accepted, EVC_SA_POLICY_AUTO, NULL);
        assert_int_equal(w.reason, EVC_SA_R_REPLAY);
        evc_sa_verdict_clear(&w);
    }
    evc_sa_verdict_clear(&v);
    evc_buf_free(&b);
    evc_buf_free(&other);
}

static void
test_validity(void **state)
{
    struct fx *f = *state;
    struct evc_buf b;

    /* Activation after the successor ends. */
    build(&b, "web.test", 1, NOW + 30 * HOUR, f->cur, f->key, f->succ, f->nkey);
    expect(f, &b, EVC_SA_R_VALIDITY, NULL);
    evc_buf_free(&b);
    /* Activation long before the successor begins. */
    build(&b, "web.test", 1, NOW - 5 * HOUR, f->cur, f->key, f->succ, f->nkey);
    expect(f, &b, EVC_SA_R_VALIDITY, NULL);
    evc_buf_free(&b);
}

static void
test_widens_and_weak(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k = key("ec:P-256"), *rsa = NULL;
    X509 *ca_leaf = make(EVC_PROFILE_ROOT, "web.test", "DNS:web.test", k, f, NOW, NOW + 20 * HOUR);
    X509 *client = make(EVC_PROFILE_CLIENT, "web.test", "DNS:web.test", k, f, NOW, NOW + 20 * HOUR);
    const char *two[] = {"DNS:web.test", "DNS:admin.test"};
    struct evc_cert_req wide_req = {EVC_PROFILE_SERVER, NULL, "web.test", two, 2, NOW,
                                    NOW + 20 * HOUR};
    X509 *wide = NULL, *weak;
    struct evc_err err = {0};
    struct evc_buf b;
    EVP_PKEY_CTX *kc;

    assert_int_equal(evc_ca_make(&wide_req, k, f->ca, f->ca_key, &wide, &err), 0);
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, ca_leaf, k);
    expect(f, &b, EVC_SA_R_WIDENS, NULL);
    evc_buf_free(&b);
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, client, k);
    expect(f, &b, EVC_SA_R_WIDENS, NULL);
    evc_buf_free(&b);
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, wide, k);
    expect(f, &b, EVC_SA_R_WIDENS, NULL);
    evc_buf_free(&b);
    /* RSA 1024: below the floor. */
    kc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 1024), 1);
    assert_int_equal(EVP_PKEY_keygen(kc, &rsa), 1);
    EVP_PKEY_CTX_free(kc);
    weak = make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", rsa, f, NOW, NOW + 20 * HOUR);
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, weak, rsa);
    expect(f, &b, EVC_SA_R_WEAK_KEY, NULL);
    evc_buf_free(&b);
    X509_free(weak);
    X509_free(wide);
    X509_free(ca_leaf);
    X509_free(client);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(k);
}

/* succ with its extendedKeyUsage replaced by eku (NULL: none), signed again by the root. */
static X509 *
with_eku(struct fx *f, X509 *succ, const char *eku)
{
    X509 *x = X509_dup(succ);
    int at = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);

    if (at >= 0) {
        X509_EXTENSION_free(X509_delete_ext(x, at));
    }
    if (eku != NULL) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, eku);

        assert_non_null(e);
        assert_int_equal(X509_add_ext(x, e, -1), 1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, f->ca_key, EVP_sha256()) > 0);
    return x;
}

/* The current certificate is for serverAuth only: no successor may add a use. */
static void
test_eku_wider(void **state)
{
    struct fx *f = *state;
    const char *wider[] = {"serverAuth,clientAuth,codeSigning", "serverAuth,anyExtendedKeyUsage",
                           NULL};
    struct evc_buf b;
    struct evc_sa_verdict v;
    X509 *x;

    for (size_t i = 0; i < sizeof(wider) / sizeof(wider[0]); i++) {
        x = with_eku(f, f->succ, wider[i]);
        build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, x, f->nkey);
        expect(f, &b, EVC_SA_R_EKU_WIDER, NULL);
        evc_buf_free(&b);
        X509_free(x);
    }
    /* The same set is no wider. */
    x = with_eku(f, f->succ, "serverAuth");
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, x, f->nkey);
    v = decide(f, &b, 0, NULL, EVC_SA_POLICY_AUTO, NULL);
    assert_int_equal(v.decision, EVC_SA_ACCEPT);
    evc_sa_verdict_clear(&v);
    evc_buf_free(&b);
    X509_free(x);
    /* A current certificate with no EKU (any use) takes a successor with one. */
    {
        X509 *any = with_eku(f, f->cur, NULL);
        struct evc_sa_known k = {any, NULL, 0, NULL};
        struct evc_sa_policy pol = {EVC_SA_POLICY_AUTO, NULL, 0};

        x = with_eku(f, f->succ, "serverAuth,clientAuth");
        build(&b, "web.test", 1, NOW + HOUR, any, f->key, x, f->nkey);
        assert_int_equal(evc_sa_verify(b.data, b.len, &k, &pol, NOW, &v), 0);
        assert_int_equal(v.decision, EVC_SA_ACCEPT);
        evc_sa_verdict_clear(&v);
        evc_buf_free(&b);
        X509_free(x);
        X509_free(any);
    }
}

/* Across key families the security bits decide; EC only on the NIST curves. */
static void
test_weaker_key_family(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *bad[] = {rsa, k1};
    struct evc_buf b;
    struct evc_sa_verdict v;
    X509 *x;

    assert_non_null(rsa);
    assert_non_null(k1);
    assert_non_null(p384);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        x = make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", bad[i], f, NOW, NOW + 20 * HOUR);
        build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, x, bad[i]);
        expect(f, &b, EVC_SA_R_WEAK_KEY, NULL);
        evc_buf_free(&b);
        X509_free(x);
    }
    /* P-384 (192 bits) for P-256 (128) is stronger. */
    x = make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", p384, f, NOW, NOW + 20 * HOUR);
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, x, p384);
    v = decide(f, &b, 0, NULL, EVC_SA_POLICY_AUTO, NULL);
    assert_int_equal(v.decision, EVC_SA_ACCEPT);
    evc_sa_verdict_clear(&v);
    evc_buf_free(&b);
    X509_free(x);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(p384);
}

/* A generation moves at most EVC_SA_GENERATION_STEP_MAX past the last accepted one. */
static void
test_generation_jump(void **state)
{
    struct fx *f = *state;
    uint64_t gens[] = {5 + EVC_SA_GENERATION_STEP_MAX + 1, UINT64_MAX};
    struct evc_buf b;
    struct evc_sa_verdict v;

    for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
        build(&b, "web.test", gens[i], NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
        v = decide(f, &b, 5, NULL, EVC_SA_POLICY_AUTO, NULL);
        assert_int_equal(v.decision, EVC_SA_REJECT);
        assert_int_equal(v.reason, EVC_SA_R_GENERATION_JUMP);
        evc_sa_verdict_clear(&v);
        evc_buf_free(&b);
    }
    build(&b, "web.test", 5 + EVC_SA_GENERATION_STEP_MAX, NOW + HOUR, f->cur, f->key, f->succ,
          f->nkey);
    v = decide(f, &b, 5, NULL, EVC_SA_POLICY_AUTO, NULL);
    assert_int_equal(v.decision, EVC_SA_ACCEPT);
    evc_sa_verdict_clear(&v);
    evc_buf_free(&b);
}

/* The successor lives at most a tenth longer than the current certificate (101 hours). */
static void
test_lifetime_longer(void **state)
{
    struct fx *f = *state;
    evc_time ends[] = {NOW + 112 * HOUR, NOW + 100 * 365 * 24 * (evc_time)HOUR};
    struct evc_buf b;
    struct evc_sa_verdict v;
    X509 *x;

    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        x = make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", f->nkey, f, NOW, ends[i]);
        build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, x, f->nkey);
        expect(f, &b, EVC_SA_R_LIFETIME_LONGER, NULL);
        evc_buf_free(&b);
        X509_free(x);
    }
    x = make(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", f->nkey, f, NOW, NOW + 111 * HOUR);
    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, x, f->nkey);
    v = decide(f, &b, 0, NULL, EVC_SA_POLICY_AUTO, NULL);
    assert_int_equal(v.decision, EVC_SA_ACCEPT);
    evc_sa_verdict_clear(&v);
    evc_buf_free(&b);
    X509_free(x);
}

static void
test_malformed(void **state)
{
    struct fx *f = *state;
    struct evc_buf b, big;

    build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, f->succ, f->nkey);
    for (size_t n = 0; n < b.len; n += 1 + n / 4) {
        struct evc_buf t = b;

        t.len = n;
        expect(f, &t, EVC_SA_R_MALFORMED, NULL);
    }
    assert_int_equal(evc_buf_putc(&b, 0), 0);
    expect(f, &b, EVC_SA_R_MALFORMED, NULL);
    evc_buf_init(&big, EVC_SA_MAX + 2);
    assert_int_equal(evc_buf_reserve(&big, EVC_SA_MAX + 1), 0);
    memset(big.data, 0x30, EVC_SA_MAX + 1);
    big.len = EVC_SA_MAX + 1;
    expect(f, &big, EVC_SA_R_MALFORMED, NULL);
    evc_buf_free(&big);
    evc_buf_free(&b);
}

/* A certificate named subject (or cn with a SAN), issued by issuer (NULL: itself). */
static X509 *
make_by(enum evc_profile prof, const char *subject, const char *san, EVP_PKEY *key, X509 *issuer,
        EVP_PKEY *issuer_key)
{
    const char *sans[] = {san};
    struct evc_cert_req req = {prof,
                               san == NULL ? subject : NULL,
                               san != NULL ? subject : NULL,
                               sans,
                               san != NULL,
                               NOW - HOUR,
                               NOW + 100 * HOUR};
    struct evc_err err = {0};
    X509 *x = NULL;

    if (evc_ca_make(&req, key, issuer, issuer_key, &x, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    return x;
}

/* An SA from the fixture's current certificate to succ (key f->nkey), carrying anchors. */
static void
build_anchored(struct fx *f, X509 *succ, X509 *const *anchors, struct evc_buf *b)
{
    STACK_OF(X509) *a = sk_X509_new_null();
    struct evc_sa_params p = {"web.test", 1,       NOW,  NOW + HOUR, f->cur, f->key,
                              succ,       f->nkey, NULL, a,          0};
    struct evc_err err = {0};

    for (size_t i = 0; anchors[i] != NULL; i++) {
        assert_true(X509_add_cert(a, anchors[i], X509_ADD_FLAG_UP_REF));
    }
    evc_buf_init(b, EVC_SA_MAX + 16);
    assert_int_equal(evc_sa_encode(&p, b, &err), 0);
    sk_X509_pop_free(a, X509_free);
}

/* Decide b with the fixture's root as the only trusted anchor, in mode. */
static struct evc_sa_verdict
decide_ca(struct fx *f, const struct evc_buf *b, enum evc_sa_policy_mode mode)
{
    struct evc_sa_known k = {f->cur, NULL, 0, NULL};
    struct evc_sa_policy pol = {mode, X509_STORE_new(), 0};
    struct evc_sa_verdict v;

    assert_int_equal(X509_STORE_add_cert(pol.trust, f->ca), 1);
    assert_int_equal(evc_sa_verify(b->data, b->len, &k, &pol, NOW, &v), 0);
    X509_STORE_free(pol.trust);
    return v;
}

static void
expect_mode(struct fx *f, const struct evc_buf *b, enum evc_sa_policy_mode mode,
            enum evc_sa_reason want)
{
    struct evc_sa_verdict v = decide_ca(f, b, mode);

    if (v.decision != EVC_SA_REJECT || v.reason != want) {
        fail_msg("want reject/%s, got %s/%s: %s", evc_sa_reason_name(want),
                 evc_sa_decision_name(v.decision), evc_sa_reason_name(v.reason), v.message);
    }
    evc_sa_verdict_clear(&v);
}

/* A CA rollover from the fixture's root: what an SA's anchors may and may not do. */
struct roll {
    EVP_PKEY *nk, *xk;
    X509 *new, *link, *other, *stranger, *link_by_stranger, *link_other_key, *notca, *succ,
        *succ_notca;
};

static void
roll_init(struct fx *f, struct roll *r)
{
    r->nk = key("ec:P-256");
    r->xk = key("ec:P-256");
    r->new = make_by(EVC_PROFILE_ROOT, "CN=New Root", NULL, r->nk, NULL, NULL);
    r->link = make_by(EVC_PROFILE_ROOT, "CN=New Root", NULL, r->nk, f->ca, f->ca_key);
    r->other = make_by(EVC_PROFILE_ROOT, "CN=Other Root", NULL, r->xk, NULL, NULL);
    r->stranger = make_by(EVC_PROFILE_ROOT, "CN=Stranger Root", NULL, r->xk, NULL, NULL);
    r->link_by_stranger = make_by(EVC_PROFILE_ROOT, "CN=New Root", NULL, r->nk, r->stranger, r->xk);
    r->link_other_key = make_by(EVC_PROFILE_ROOT, "CN=New Root", NULL, r->xk, f->ca, f->ca_key);
    r->notca = make_by(EVC_PROFILE_SELFSIGNED, "Not A CA", "DNS:notca.test", r->xk, NULL, NULL);
    r->succ = make_by(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", f->nkey, r->new, r->nk);
    r->succ_notca =
        make_by(EVC_PROFILE_SERVER, "web.test", "DNS:web.test", f->nkey, r->notca, r->xk);
}

static void
roll_clear(struct roll *r)
{
    X509 *all[] = {
        r->new,   r->link, r->other,     r->stranger, r->link_by_stranger, r->link_other_key,
        r->notca, r->succ, r->succ_notca};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        X509_free(all[i]);
    }
    EVP_PKEY_free(r->nk);
    EVP_PKEY_free(r->xk);
}

/* Under pinned trust an SA carries no anchors: not the attack's, not even a linked root. */
static void
test_anchors_under_pin(void **state)
{
    static const enum evc_sa_policy_mode pinned[] = {EVC_SA_POLICY_AUTO, EVC_SA_POLICY_MANUAL};
    struct fx *f = *state;
    struct roll r;
    struct evc_buf attack, linked, needless;

    roll_init(f, &r);
    {
        X509 *a[] = {r.new, r.other, NULL}, *l[] = {r.new, r.link, NULL}, *n[] = {r.other, NULL};

        build_anchored(f, r.succ, a, &attack);
        build_anchored(f, r.succ, l, &linked);
        build_anchored(f, f->succ, n, &needless);
    }
    for (size_t m = 0; m < sizeof(pinned) / sizeof(pinned[0]); m++) {
        expect_mode(f, &attack, pinned[m], EVC_SA_R_ANCHORS_UNDER_PIN);
        expect_mode(f, &linked, pinned[m], EVC_SA_R_ANCHORS_UNDER_PIN);
        /* Beside a successor that chains to what is trusted, anchors are refused as well. */
        expect_mode(f, &needless, pinned[m], EVC_SA_R_ANCHORS_UNDER_PIN);
    }
    /*
     * The same successor without anchors: a pin file takes the leaf itself
     * (no store given), but a store that holds only the old root cannot take
     * a leaf of the new one, which does not sign itself (no-anchor).
     */
    {
        struct evc_buf b;
        struct evc_sa_verdict v;

        build(&b, "web.test", 1, NOW + HOUR, f->cur, f->key, r.succ, f->nkey);
        v = decide(f, &b, 0, NULL, EVC_SA_POLICY_AUTO, NULL);
        assert_int_equal(v.decision, EVC_SA_ACCEPT);
        evc_sa_verdict_clear(&v);
        expect_mode(f, &b, EVC_SA_POLICY_AUTO, EVC_SA_R_NO_ANCHOR);
        expect_mode(f, &b, EVC_SA_POLICY_MANUAL, EVC_SA_R_NO_ANCHOR);
        evc_buf_free(&b);
    }
    evc_buf_free(&attack);
    evc_buf_free(&linked);
    evc_buf_free(&needless);
    roll_clear(&r);
}

static void
expect_anchors(struct fx *f, X509 *succ, X509 *const *anchors, enum evc_sa_reason want)
{
    struct evc_buf b;

    build_anchored(f, succ, anchors, &b);
    expect_mode(f, &b, EVC_SA_POLICY_CA, want);
    evc_buf_free(&b);
}

/* Under policy ca a new root is taken only as CMP's NewWithOld: linked from a trusted root. */
static void
test_anchors_under_ca(void **state)
{
    struct fx *f = *state;
    struct roll r;
    struct evc_buf b;
    struct evc_sa_verdict v;

    roll_init(f, &r);
    {
        X509 *a[] = {r.new, r.link, NULL};

        build_anchored(f, r.succ, a, &b);
        v = decide_ca(f, &b, EVC_SA_POLICY_CA);
        if (v.decision != EVC_SA_ACCEPT) {
            fail_msg("a linked new root: %s: %s", evc_sa_reason_name(v.reason), v.message);
        }
        assert_non_null(strstr(v.message, "with the new root /CN=New Root"));
        evc_sa_verdict_clear(&v);
        evc_buf_free(&b);
    }
    {
        X509 *a[] = {r.new, r.link, r.other, NULL};

        expect_anchors(f, r.succ, a, EVC_SA_R_ANCHOR_UNNEEDED);
    }
    {
        X509 *a[] = {r.new, r.other, NULL};

        expect_anchors(f, r.succ, a, EVC_SA_R_ANCHOR_UNNEEDED);
    }
    {
        X509 *a[] = {r.new, NULL};

        expect_anchors(f, r.succ, a, EVC_SA_R_ANCHOR_NO_LINK);
    }
    {
        X509 *a[] = {r.new, r.link_by_stranger, NULL};

        expect_anchors(f, r.succ, a, EVC_SA_R_ANCHOR_LINK_UNTRUSTED);
    }
    {
        X509 *a[] = {r.new, r.link_other_key, NULL};

        expect_anchors(f, r.succ, a, EVC_SA_R_ANCHOR_LINK_KEY);
    }
    {
        X509 *a[] = {r.notca, NULL};

        expect_anchors(f, r.succ_notca, a, EVC_SA_R_ANCHOR_NOT_CA);
    }
    {
        /* A root the successor does not chain to, however well linked. */
        X509 *other_link = make_by(EVC_PROFILE_ROOT, "CN=Other Root", NULL, r.xk, f->ca, f->ca_key);
        X509 *a[] = {r.other, other_link, NULL};

        expect_anchors(f, r.succ, a, EVC_SA_R_NO_ANCHOR);
        X509_free(other_link);
    }
    {
        /* A successor under the trusted root: its anchors are not looked at. */
        X509 *a[] = {r.new, r.other, NULL};

        build_anchored(f, f->succ, a, &b);
        v = decide_ca(f, &b, EVC_SA_POLICY_CA);
        assert_int_equal(v.decision, EVC_SA_ACCEPT);
        assert_null(strstr(v.message, "new root"));
        evc_sa_verdict_clear(&v);
        evc_buf_free(&b);
    }
    roll_clear(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_and_queue),  cmocka_unit_test(test_policy_ca),
        cmocka_unit_test(test_service),           cmocka_unit_test(test_signers),
        cmocka_unit_test(test_tampered),          cmocka_unit_test(test_generation),
        cmocka_unit_test(test_validity),          cmocka_unit_test(test_widens_and_weak),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_anchors_under_pin),
        cmocka_unit_test(test_anchors_under_ca),  cmocka_unit_test(test_eku_wider),
        cmocka_unit_test(test_weaker_key_family), cmocka_unit_test(test_generation_jump),
        cmocka_unit_test(test_lifetime_longer),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
