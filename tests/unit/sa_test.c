/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Making and renewing certificates, and the Successor Announcement:
 * round trip, and every rejection of the reader (truncated, trailing,
 * oversize, not CMS, wrong content, a serviceName that is no host name)
 * and of the writer (Ed25519, no name); the 64 KiB cap at both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/stores.h"
#include "sa_pad.h"

#define NOW ((evc_time)1800000000)

struct pki {
    EVP_PKEY *ca_key, *key, *key2;
    X509 *ca, *leaf;
};

static int
setup(void **state)
{
    struct pki *p = calloc(1, sizeof(*p));
    struct evc_err err = {0};
    const char *sans[] = {"DNS:web.test", "IP:127.0.0.1"};
    struct evc_cert_req root = {EVC_PROFILE_ROOT, "CN=Unit Root,O=evercert", NULL, NULL, 0,
                                NOW - 100,        NOW + 86400 * 30};
    struct evc_cert_req leaf = {EVC_PROFILE_SERVER, NULL,      "web.test", sans, 2,
                                NOW - 100,          NOW + 3600};

    assert_non_null(p);
    assert_int_equal(evc_key_generate("ec:P-256", &p->ca_key, &err), 0);
    assert_int_equal(evc_key_generate("ec:P-256", &p->key, &err), 0);
    assert_int_equal(evc_key_generate("ec:P-256", &p->key2, &err), 0);
    assert_int_equal(evc_ca_make(&root, p->ca_key, NULL, NULL, &p->ca, &err), 0);
    assert_int_equal(evc_ca_make(&leaf, p->key, p->ca, p->ca_key, &p->leaf, &err), 0);
    *state = p;
    return 0;
}

static int
teardown(void **state)
{
    struct pki *p = *state;

    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->key);
    EVP_PKEY_free(p->key2);
    X509_free(p->ca);
    X509_free(p->leaf);
    free(p);
    return 0;
}

static void
test_make(void **state)
{
    struct pki *p = *state;
    struct evc_err err = {0};
    struct evc_cert_req bad = {EVC_PROFILE_SERVER, NULL, "x", NULL, 0, NOW, NOW + 1};
    const char *badsan[] = {"URI:http://x"};
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    char spec[32];

    assert_int_equal(X509_check_issued(p->ca, p->leaf), X509_V_OK);
    assert_int_equal(evc_x509_signed_by(p->leaf, p->ca), 1);
    assert_int_equal(evc_x509_signed_by(p->ca, p->leaf), 0);
    assert_int_equal(evc_key_check(p->leaf, p->key, &err), 0);
    assert_int_equal(evc_key_check(p->leaf, p->ca_key, &err), EVC_ERR_KEY_MISMATCH);
    /* Rejections. */
    assert_int_equal(evc_ca_make(&bad, p->key, p->ca, p->ca_key, &x, &err), EVC_ERR_USAGE);
    bad.sans = badsan;
    bad.nsans = 1;
    assert_int_equal(evc_ca_make(&bad, p->key, p->ca, p->ca_key, &x, &err), EVC_ERR_USAGE);
    bad.sans = NULL;
    bad.nsans = 0;
    bad.profile = EVC_PROFILE_CLIENT;
    bad.not_after = NOW;
    assert_int_equal(evc_ca_make(&bad, p->key, p->ca, p->ca_key, &x, &err), EVC_ERR_USAGE);
    bad.not_after = NOW + 1;
    bad.cn = NULL;
    bad.subject = "CN";
    assert_int_equal(evc_ca_make(&bad, p->key, p->ca, p->ca_key, &x, &err), EVC_ERR_USAGE);
    bad.subject = "CN=ok";
    assert_int_equal(evc_ca_make(&bad, p->key, p->ca, p->key2, &x, &err), EVC_ERR_KEY_MISMATCH);
    assert_null(x);
    assert_int_equal(evc_key_generate("dsa:1024", &k, &err), EVC_ERR_USAGE);
    assert_null(k);
    for (size_t i = 0; i < 3; i++) {
        const char *t[] = {"ec:P-384", "rsa:2048", "ed25519"};

        assert_int_equal(evc_key_generate(t[i], &k, &err), 0);
        assert_int_equal(evc_key_spec(k, spec, sizeof(spec), &err), 0);
        assert_string_equal(spec, t[i]);
        EVP_PKEY_free(k);
    }
}

static void
test_renew_keeps_the_attributes(void **state)
{
    struct pki *p = *state;
    struct evc_err err = {0};
    X509 *n = NULL;
    int days, secs;

    assert_int_equal(evc_ca_renew(p->leaf, p->key2, p->ca, p->ca_key, NOW + 1000, &n, &err), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(n), X509_get_subject_name(p->leaf)), 0);
    assert_int_equal(evc_x509_signed_by(n, p->ca), 1);
    assert_int_equal(evc_key_check(n, p->key2, &err), 0);
    assert_int_not_equal(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(n), X509_get0_serialNumber(p->leaf)), 0);
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(n), X509_get0_notAfter(n)),
                     1);
    assert_int_equal(days * 86400 + secs, 3600 + 100);
    /* Backdated by a tenth of the lifetime, at most five minutes: 300 s here. */
    assert_int_equal(X509_cmp_time(X509_get0_notBefore(n), &(time_t){NOW + 699}), 1);
    assert_int_equal(X509_cmp_time(X509_get0_notBefore(n), &(time_t){NOW + 701}), -1);
    /* Every extension but the key ids is carried over as it was. */
    assert_int_equal(X509_get_ext_count(n), X509_get_ext_count(p->leaf));
    assert_true(X509_get_ext_by_NID(n, NID_subject_alt_name, -1) >= 0);
    assert_true(X509_get_ext_by_NID(n, NID_authority_key_identifier, -1) >= 0);
    assert_int_equal(X509_get_extended_key_usage(n), X509_get_extended_key_usage(p->leaf));
    X509_free(n);
    /* A root renews as a root: its own issuer, still a CA. */
    assert_int_equal(evc_ca_renew(p->ca, p->key2, NULL, NULL, NOW, &n, &err), 0);
    assert_int_equal(X509_check_ca(n), 1);
    assert_int_equal(X509_check_issued(n, n), X509_V_OK);
    X509_free(n);
}

static void
encode_by(struct pki *p, uint64_t gen, evc_time by, struct evc_buf *out, X509 **succ)
{
    struct evc_err err = {0};
    STACK_OF(X509) *anchors = sk_X509_new_null();
    struct evc_sa_params sp;

    assert_int_equal(evc_ca_renew(p->leaf, p->key2, p->ca, p->ca_key, NOW, succ, &err), 0);
    assert_true(X509_add_cert(anchors, p->ca, X509_ADD_FLAG_UP_REF));
    memset(&sp, 0, sizeof(sp));
    sp.service = "web.test";
    sp.generation = gen;
    sp.published_at = NOW;
    sp.activate_at = NOW + 3600;
    sp.current = p->leaf;
    sp.current_key = p->key;
    sp.successor = *succ;
    sp.successor_key = p->key2;
    sp.anchors = anchors;
    sp.activate_by = by;
    assert_int_equal(evc_sa_encode(&sp, out, &err), 0);
    sk_X509_pop_free(anchors, X509_free);
}

static void
encode(struct pki *p, uint64_t gen, struct evc_buf *out, X509 **succ)
{
    encode_by(p, gen, 0, out, succ);
}

static void
test_sa_round_trip(void **state)
{
    struct pki *p = *state;
    struct evc_buf b;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    X509 *succ = NULL;

    evc_buf_init(&b, EVC_SA_MAX);
    encode(p, 7, &b, &succ);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), 0);
    assert_string_equal(sa->service, "web.test");
    assert_int_equal(sa->generation, 7);
    assert_int_equal(sa->published_at, NOW);
    assert_int_equal(sa->activate_at, NOW + 3600);
    assert_int_equal(sk_X509_num(sa->successor), 1);
    assert_int_equal(X509_cmp(sk_X509_value(sa->successor, 0), succ), 0);
    assert_int_equal(sk_X509_num(sa->anchors), 1);
    assert_int_equal(X509_cmp(sk_X509_value(sa->anchors, 0), p->ca), 0);
    assert_int_equal(sa->activate_by, 0); /* not said */
    evc_sa_free(sa);
    X509_free(succ);
    evc_buf_free(&b);
}

/* The server's deadline travels as a signed attribute of the first signer and comes back. */
static void
test_sa_activate_by(void **state)
{
    struct pki *p = *state;
    struct evc_buf b;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    struct evc_sa_params sp;
    X509 *succ = NULL;

    evc_buf_init(&b, EVC_SA_MAX);
    encode_by(p, 8, NOW + 7200, &b, &succ);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), 0);
    assert_int_equal(sa->activate_at, NOW + 3600);
    assert_int_equal(sa->activate_by, NOW + 7200);
    evc_sa_free(sa);
    /* A deadline before activateAt is refused when writing. */
    memset(&sp, 0, sizeof(sp));
    sp.service = "web.test";
    sp.generation = 9;
    sp.published_at = NOW;
    sp.activate_at = NOW + 3600;
    sp.activate_by = NOW + 60;
    sp.current = p->leaf;
    sp.current_key = p->key;
    sp.successor = succ;
    sp.successor_key = p->key2;
    evc_buf_reset(&b);
    assert_int_equal(evc_sa_encode(&sp, &b, &err), EVC_ERR_USAGE);
    X509_free(succ);
    evc_buf_free(&b);
}

static void
test_sa_rejections(void **state)
{
    struct pki *p = *state;
    struct evc_buf b, big;
    struct evc_sa *sa = (struct evc_sa *)1;
    struct evc_err err = {0};
    X509 *succ = NULL;
    EVP_PKEY *ed = NULL;
    struct evc_sa_params sp;

    evc_buf_init(&b, EVC_SA_MAX + 2);
    encode(p, 1, &b, &succ);
    /* Truncated at every length, and one byte too many. */
    for (size_t n = 0; n < b.len; n += 1 + n / 8) {
        assert_int_not_equal(evc_sa_decode(b.data, n, &sa, &err), 0);
        assert_null(sa);
    }
    assert_int_equal(evc_buf_putc(&b, 0), 0);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), EVC_ERR_TRAILING);
    /* Over the cap: refused before parsing. */
    evc_buf_init(&big, EVC_SA_MAX + 2);
    assert_int_equal(evc_buf_reserve(&big, EVC_SA_MAX + 1), 0);
    memset(big.data, 0x30, EVC_SA_MAX + 1);
    assert_int_equal(evc_sa_decode(big.data, EVC_SA_MAX + 1, &sa, &err), EVC_ERR_LIMIT);
    evc_buf_free(&big);
    /* A certificate is DER, but not an SA. */
    {
        unsigned char *der = NULL;
        int n = i2d_X509(p->leaf, &der);

        assert_int_equal(evc_sa_decode(der, (size_t)n, &sa, &err), EVC_ERR_BAD_DER);
        OPENSSL_free(der);
    }
    /* The writer: Ed25519 cannot sign CMS in OpenSSL 3.0; a name is required. */
    assert_int_equal(evc_key_generate("ed25519", &ed, &err), 0);
    memset(&sp, 0, sizeof(sp));
    sp.service = "web.test";
    sp.current = p->leaf;
    sp.current_key = ed;
    sp.successor = succ;
    sp.successor_key = p->key2;
    assert_int_equal(evc_sa_encode(&sp, &b, &err), EVC_ERR_BAD_KEY);
    sp.current_key = p->key;
    sp.service = "";
    assert_int_equal(evc_sa_encode(&sp, &b, &err), EVC_ERR_USAGE);
    EVP_PKEY_free(ed);
    X509_free(succ);
    evc_buf_free(&b);
}

static void
test_sa_exact_cap(void **state)
{
    struct sa_pad p;
    struct evc_buf b;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};

    (void)state;
    assert_int_equal(sa_pad_init(&p), 0);
    assert_int_equal(sa_pad_find(&p, EVC_SA_MAX), 0);
    evc_buf_init(&b, EVC_SA_MAX + 1);
    /* 65,536 bytes: made and read. */
    assert_int_equal(sa_pad_encode(&p, p.succ, p.namelen, &b), 0);
    assert_int_equal(b.len, 65536);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), 0);
    assert_int_equal(sa->generation, 9);
    evc_sa_free(sa);
    sa = NULL;
    /* One byte more, the same SA but a longer name: refused by the writer ... */
    assert_int_equal(sa_pad_encode(&p, p.succ, p.namelen + 1, &b), EVC_ERR_LIMIT);
    /* ... and 65,537 bytes by the reader, as too large before it is parsed. */
    assert_int_equal(sa_pad_encode(&p, p.succ, p.namelen, &b), 0);
    b.max = EVC_SA_MAX + 2;
    assert_int_equal(evc_buf_putc(&b, 0), 0);
    assert_int_equal(b.len, 65537);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), EVC_ERR_LIMIT);
    assert_null(sa);
    assert_non_null(strstr(evc_err_message(&err), "65537"));
    evc_buf_free(&b);
    sa_pad_free(&p);
}

static void
test_service_names(void **state)
{
    static const char *const good[] = {
        "web.test",
        "a",
        "A-1.b2",
        "xn--caf-dma.test",
        "127.0.0.1",
        "::1",
        "2001:db8::1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", /* 63 */
    };
    static const char *const bad[] = {
        "",
        "*.web.test",
        "web..test",
        ".web.test",
        "web.test.",
        "-a.test",
        "a-.test",
        "we_b.test",
        "web test",
        "\033[31mweb",
        "caf\xc3\xa9.test",
        "\xff\xfe",
        "web\ttest",
        "[::1]",
        "127.0.0.1%lo",
        "fe80::1%eth0",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", /* 64 */
    };
    char longest[EVC_SA_SERVICE_MAX + 2];
    const char *why = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(evc_sa_service_check(good[i], strlen(good[i]), &why), 0);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(evc_sa_service_check(bad[i], strlen(bad[i]), &why), EVC_ERR_PARSE);
        assert_non_null(why);
    }
    /* A NUL inside is not the end of the name. */
    assert_int_equal(evc_sa_service_check("web\0.test", 9, NULL), EVC_ERR_PARSE);
    assert_int_equal(evc_sa_service_check("1.2.3.4\0", 8, NULL), EVC_ERR_PARSE);
    sa_pad_name(longest, EVC_SA_SERVICE_MAX);
    assert_int_equal(evc_sa_service_check(longest, EVC_SA_SERVICE_MAX, NULL), 0);
    sa_pad_name(longest, EVC_SA_SERVICE_MAX + 1);
    assert_int_equal(evc_sa_service_check(longest, EVC_SA_SERVICE_MAX + 1, NULL), EVC_ERR_PARSE);
}

/* An SA whose serviceName holds an escape sequence is malformed when read. */
static void
test_sa_bad_service_read(void **state)
{
    struct pki *p = *state;
    struct evc_buf b;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    X509 *succ = NULL;
    uint8_t *at;

    evc_buf_init(&b, EVC_SA_MAX + 1);
    encode(p, 1, &b, &succ);
    /* The first "web.test" is the serviceName (the certificates come after it). */
    at = memmem(b.data, b.len, "web.test", 8);
    assert_non_null(at);
    memcpy(at, "\033[31mweb", 8);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), EVC_ERR_PARSE);
    assert_null(sa);
    assert_non_null(strstr(evc_err_message(&err), "bad serviceName"));
    assert_null(strchr(evc_err_message(&err), '\033'));
    memcpy(at, "*.b.test", 8);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), EVC_ERR_PARSE);
    memcpy(at, "web.test", 8);
    assert_int_equal(evc_sa_decode(b.data, b.len, &sa, &err), 0);
    evc_sa_free(sa);
    /* The writer refuses such names too. */
    {
        struct evc_sa_params sp;

        memset(&sp, 0, sizeof(sp));
        sp.service = "*.web.test";
        sp.current = p->leaf;
        sp.current_key = p->key;
        sp.successor = succ;
        sp.successor_key = p->key2;
        assert_int_equal(evc_sa_encode(&sp, &b, &err), EVC_ERR_USAGE);
        sp.service = "web\033.test";
        assert_int_equal(evc_sa_encode(&sp, &b, &err), EVC_ERR_USAGE);
    }
    X509_free(succ);
    evc_buf_free(&b);
}

static void
test_deleted_header(void **state)
{
    evc_time t = 0;

    (void)state;
    assert_int_equal(
        evc_deleted_header_parse("deleted-at: 2027-01-02T03:04:05Z\nstore: x\n", 42, &t), 0);
    assert_int_equal(t, 1798859045);
    assert_int_equal(evc_deleted_header_parse("deleted-at: yesterday\n", 22, &t), EVC_ERR_PARSE);
    assert_int_equal(evc_deleted_header_parse("deleted-at: \n", 13, &t), EVC_ERR_PARSE);
    assert_int_equal(evc_deleted_header_parse("-----BEGIN CERTIFICATE-----\n", 28, &t),
                     EVC_ERR_PARSE);
    assert_int_equal(evc_deleted_header_parse("deleted", 7, &t), EVC_ERR_PARSE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make),           cmocka_unit_test(test_renew_keeps_the_attributes),
        cmocka_unit_test(test_sa_round_trip),  cmocka_unit_test(test_sa_activate_by),
        cmocka_unit_test(test_sa_rejections),  cmocka_unit_test(test_sa_exact_cap),
        cmocka_unit_test(test_service_names),  cmocka_unit_test(test_sa_bad_service_read),
        cmocka_unit_test(test_deleted_header),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
