/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fast reader must agree with OpenSSL's full parse on every field the
 * scan reports. The reference here uses d2i_X509() and OpenSSL's getters
 * only (X509_get_ext_d2i, X509_get0_pubkey, X509_get_extension_flags, ...);
 * the corpus mixes RSA, EC and Ed25519 keys, v1 and v3, UTCTime and
 * GeneralizedTime, long, multi-valued, UTF-8 and escaped names, and many
 * subjectAltNames of every common type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "evercert/buf.h"
#include "evercert/cert.h"
#include "testcert.h"
#include "x509/x509_int.h"

struct ref {
    int version;
    char *serial, *subject, *issuer;
    int64_t not_before, not_after;
    uint8_t sha256[32];
    int is_ca, self_issued;
    char key[EVC_KEY_TEXT_MAX];
    char **sans;
    size_t nsans;
};

static int64_t
ref_time(const ASN1_TIME *t)
{
    struct tm g;

    assert_true(ASN1_TIME_to_tm(t, &g));
    return evc_time_from_civil(g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min,
                               g.tm_sec);
}

static void
ref_key(X509 *x, char *out, size_t outlen)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[64];

    if (pk == NULL) {
        /* OpenSSL cannot decode the key either: the odd certificate of the corpus. */
        snprintf(out, outlen, "rsaEncryption:invalid");
        ERR_clear_error();
    } else if (EVP_PKEY_is_a(pk, "RSA")) {
        snprintf(out, outlen, "rsa:%d", EVP_PKEY_get_bits(pk));
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        assert_true(EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL));
        snprintf(out, outlen, "ec:%s", evc_x509_curve_text(group));
    } else if (EVP_PKEY_is_a(pk, "ED25519")) {
        snprintf(out, outlen, "ed25519");
    } else if (EVP_PKEY_is_a(pk, "ED448")) {
        snprintf(out, outlen, "ed448");
    } else {
        fail_msg("unexpected key type in corpus");
    }
}

static void
reference(const uint8_t *der, size_t len, struct ref *r)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    GENERAL_NAMES *gens;
    uint32_t flags;
    struct evc_buf b;

    assert_non_null(x);
    memset(r, 0, sizeof(*r));
    r->version = (int)X509_get_version(x) + 1;
    assert_int_equal(evc_x509_serial_text(X509_get0_serialNumber(x), &r->serial), 0);
    assert_int_equal(evc_x509_name_text(bio, X509_get_subject_name(x), &r->subject, NULL), 0);
    assert_int_equal(evc_x509_name_text(bio, X509_get_issuer_name(x), &r->issuer, NULL), 0);
    r->not_before = ref_time(X509_get0_notBefore(x));
    r->not_after = ref_time(X509_get0_notAfter(x));
    assert_true(X509_digest(x, EVP_sha256(), r->sha256, NULL));
    flags = X509_get_extension_flags(x);
    r->self_issued = (flags & EXFLAG_SI) != 0;
    r->is_ca = (flags & EXFLAG_CA) != 0 || ((flags & EXFLAG_V1) && r->self_issued);
    ref_key(x, r->key, sizeof(r->key));
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    evc_buf_init(&b, 1 << 20);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        r->sans = realloc(r->sans, (r->nsans + 1) * sizeof(*r->sans));
        evc_buf_reset(&b);
        assert_int_equal(evc_x509_general_name_text(bio, sk_GENERAL_NAME_value(gens, i), &b), 0);
        r->sans[r->nsans++] = strdup(evc_buf_str(&b));
    }
    evc_buf_free(&b);
    GENERAL_NAMES_free(gens);
    BIO_free(bio);
    X509_free(x);
}

static void
ref_free(struct ref *r)
{
    free(r->serial);
    free(r->subject);
    free(r->issuer);
    for (size_t i = 0; i < r->nsans; i++) {
        free(r->sans[i]);
    }
    free(r->sans);
}

/* Compare every field with OpenSSL's; warning is the one expected, or NULL for none. */
static void
compare_warn(const uint8_t *der, size_t len, struct evc_cert_reader *rd, const char *warning)
{
    struct evc_cert c;
    struct evc_err e = {0};
    struct ref r;

    reference(der, len, &r);
    assert_int_equal(evc_cert_read(rd, der, len, &c, &e), 0);
    if (warning == NULL) {
        assert_null(c.warning);
    } else {
        assert_non_null(c.warning);
        assert_non_null(strstr(c.warning, warning));
    }
    assert_int_equal(c.version, r.version);
    assert_string_equal(c.serial, r.serial);
    assert_string_equal(c.subject, r.subject);
    assert_string_equal(c.issuer, r.issuer);
    assert_true(c.not_before == r.not_before);
    assert_true(c.not_after == r.not_after);
    assert_memory_equal(c.sha256, r.sha256, 32);
    assert_int_equal(c.is_ca, r.is_ca);
    assert_int_equal(c.self_issued, r.self_issued);
    assert_string_equal(c.key, r.key);
    assert_int_equal(c.nsans, r.nsans);
    for (size_t i = 0; i < c.nsans; i++) {
        assert_string_equal(c.sans[i], r.sans[i]);
    }
    evc_cert_clear(&c);
    ref_free(&r);
}

static void
compare(const uint8_t *der, size_t len, struct evc_cert_reader *rd)
{
    compare_warn(der, len, rd, NULL);
}

static const char *const subjects[] = {
    "/CN=www.example.com",
    "/C=DE/O=Example GmbH/OU=Web/CN=shop.example.de",
    "/CN=Zürich Straße 日本語 Ελληνικά",
    "/CN=comma, plus+ quote\" back\\slash <angle> semi;",
    "/CN= leading and trailing space /O=#hash first",
    "/CN=x/OU=a/OU=b/OU=c/OU=d/OU=e/OU=f/OU=g/OU=h/OU=i/OU=j/O=Long Name Organisation Limited "
    "Liability Company Far Away/L=Llanfairpwllgwyngyllgogerychwyrndrobwllllantysilio"
    "gogogoch/ST=A State With A Rather Long Name Indeed/C=GB",
    "/O=Multi/CN=a.example/+UID=1234",
    "/emailAddress=admin@example.org/CN=mail",
    "/CN=ctl\x01char\x7f",
};

static const char *const key_types[] = {"ec:P-256", "ec:P-384", "ec:P-521",
                                        "rsa:2048", "ed25519",  "ed448"};

static void
test_corpus_agrees(void **state)
{
    struct evc_cert_reader *rd;
    EVP_PKEY *keys[6], *ca_key;
    X509 *ca;
    struct tc_spec cs = {0};
    char many[16384];
    size_t off = 0, n = 0;

    (void)state;
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    for (size_t i = 0; i < 6; i++) {
        keys[i] = tc_key(key_types[i]);
        assert_non_null(keys[i]);
    }
    ca_key = keys[0];
    cs.key = ca_key;
    cs.subject = "/O=Example/CN=Example Root CA";
    cs.ca = 1;
    cs.not_before = 1600000000;
    cs.not_after = 2600000000; /* after 2050: GeneralizedTime */
    ca = tc_cert(&cs);
    for (int i = 0; i < 200; i++) {
        off +=
            (size_t)snprintf(many + off, sizeof(many) - off, "%sDNS:h%d.example.com,IP:10.0.%d.%d",
                             i ? "," : "", i, i / 250, i % 250);
    }
    snprintf(many + off, sizeof(many) - off,
             ",IP:2001:db8::1,email:ops@example.com,URI:https://example.com/x,"
             "RID:1.2.3.4,DNS:*.wild.example");

    for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++) {
        for (size_t k = 0; k < 6; k++) {
            for (int variant = 0; variant < 4; variant++) {
                struct tc_spec sp = {0};
                X509 *x;
                uint8_t *der;
                size_t len;

                sp.key = keys[k];
                sp.subject = subjects[s];
                sp.v1 = variant == 3;
                sp.ca = variant == 2;
                sp.sans = variant == 0 ? "DNS:a.example,IP:127.0.0.1" : variant == 1 ? many : NULL;
                /* Before 2050 UTCTime; from 2050 GeneralizedTime; before 1950 too. */
                sp.not_before = variant == 2 ? -700000000 : 1700000000 + (int64_t)s * 1000;
                sp.not_after = variant == 1 ? 2600000000 + (int64_t)k : 1800000000;
                sp.serial = variant == 3 ? (long)(s + 1) : 0;
                if (variant != 2) {
                    sp.signer = ca_key;
                    sp.issuer = X509_get_subject_name(ca);
                }
                x = tc_cert(&sp);
                der = tc_der(x, &len);
                compare(der, len, rd);
                OPENSSL_free(der);
                X509_free(x);
                n++;
            }
        }
    }
    assert_true(n >= 200);
    X509_free(ca);
    for (size_t i = 0; i < 6; i++) {
        EVP_PKEY_free(keys[i]);
    }
    evc_cert_reader_free(rd);
}

/*
 * Certificates OpenSSL parses whole but that are odd in one way. Each is
 * read with every field as OpenSSL has it, so its expiry is never lost,
 * and carries a warning saying what is odd.
 */
static void
test_odd_agrees(void **state)
{
    static const char *const warnings[TC_ODD_COUNT] = {
        [TC_ODD_DUP_SAN] = "duplicate subjectAltName extension",
        [TC_ODD_BAD_SAN] = "malformed subjectAltName extension",
        [TC_ODD_V4] = "certificate version is not 1, 2 or 3",
        [TC_ODD_BAD_KEY] = "undecodable public key",
        [TC_ODD_CRIT_EXT] = "unknown critical extension 1.3.6.1.4.1.55555.1.1",
        [TC_ODD_NEG_SERIAL] = "negative serial number",
        [TC_ODD_LONG_SERIAL] = "serial number of 40 bytes, over the 20 of RFC 5280",
    };
    struct evc_cert_reader *rd;
    EVP_PKEY *key = tc_key("ec:P-256");
    EVP_PKEY *ca_key = tc_key("ec:P-256");
    X509 *ca;
    struct tc_spec cs = {0};

    (void)state;
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    cs.key = ca_key;
    cs.subject = "/CN=Odd Root";
    cs.ca = 1;
    cs.not_before = 1600000000;
    cs.not_after = 2600000000;
    ca = tc_cert(&cs);
    for (int odd = TC_ODD_NONE + 1; odd < TC_ODD_COUNT; odd++) {
        for (int issued = 0; issued < 2; issued++) {
            struct tc_spec sp = {0};
            X509 *x;
            uint8_t *der;
            size_t len;

            print_message("%s%s\n", tc_odd_name((enum tc_odd)odd), issued ? ", issued" : "");
            sp.key = key;
            sp.subject = "/CN=odd.example/O=Odd";
            sp.sans = "DNS:odd.example,IP:10.1.2.3";
            sp.not_before = 1600000000;
            sp.not_after = 1700000000;
            sp.serial = 0x4d;
            sp.ca = issued;
            sp.odd = (enum tc_odd)odd;
            if (issued) {
                sp.signer = ca_key;
                sp.issuer = X509_get_subject_name(ca);
            }
            x = tc_cert(&sp);
            der = tc_der(x, &len);
            compare_warn(der, len, rd, warnings[odd]);
            OPENSSL_free(der);
            X509_free(x);
        }
    }
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    evc_cert_reader_free(rd);
}

/* Real-world certificates: every one in the system trust store. */
static void
test_system_store_agrees(void **state)
{
    FILE *f = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
    struct evc_cert_reader *rd;
    X509 *x;
    int n = 0;

    (void)state;
    if (f == NULL) {
        skip();
    }
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        size_t len;
        uint8_t *der = tc_der(x, &len);

        compare(der, len, rd);
        OPENSSL_free(der);
        X509_free(x);
        n++;
    }
    assert_true(n > 50);
    fclose(f);
    evc_cert_reader_free(rd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_agrees),
        cmocka_unit_test(test_odd_agrees),
        cmocka_unit_test(test_system_store_agrees),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
