/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate readers: the fast DER reader (with its table of
 * rejections), PEM blocks, DER sequences, PKCS#12 and format detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <limits.h>
#include <openssl/pkcs12.h>

#include "evercert/cert.h"
#include "evercert/certfile.h"
#include "evercert/limits.h"
#include "evercert/pkcs12.h"
#include "testcert.h"

static EVP_PKEY *key;
static X509 *leaf;
static uint8_t *der;
static size_t der_len;

static int
setup(void **state)
{
    struct tc_spec s = {0};

    (void)state;
    key = tc_key("ec:P-256");
    s.key = key;
    s.subject = "/CN=test.example";
    s.sans = "DNS:test.example,IP:127.0.0.1";
    s.not_before = 1700000000;
    s.not_after = 1800000000;
    s.serial = 0x1234;
    leaf = tc_cert(&s);
    der = tc_der(leaf, &der_len);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    OPENSSL_free(der);
    X509_free(leaf);
    EVP_PKEY_free(key);
    return 0;
}

static void
test_reads_fields(void **state)
{
    struct evc_cert_reader *rd;
    struct evc_cert c;
    struct evc_err e = {0};

    (void)state;
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    assert_int_equal(evc_cert_read(rd, der, der_len, &c, &e), 0);
    assert_int_equal(c.version, 3);
    assert_string_equal(c.serial, "1234");
    assert_string_equal(c.subject, "CN=test.example");
    assert_string_equal(c.issuer, "CN=test.example");
    assert_true(c.not_before == 1700000000);
    assert_true(c.not_after == 1800000000);
    assert_string_equal(c.key, "ec:P-256");
    assert_int_equal(c.is_ca, 0);
    assert_int_equal(c.self_issued, 1);
    assert_int_equal(c.nsans, 2);
    assert_string_equal(c.sans[0], "DNS:test.example");
    assert_string_equal(c.sans[1], "IP:127.0.0.1");
    assert_int_equal(evc_kind_of(&c, 0), EVC_KIND_SELF_SIGNED);
    evc_cert_clear(&c);
    evc_cert_reader_free(rd);
}

/* Each row: a way to break the DER, and the code the reader must give. */
static void
test_rejects(void **state)
{
    struct evc_cert_reader *rd;
    uint8_t *buf = malloc(der_len + 16);
    struct {
        const char *what;
        size_t len;
        void (*mutate)(uint8_t *, size_t);
        int code;
    } rows[] = {
        {"empty", 0, NULL, EVC_ERR_TRUNCATED},
        {"first byte only", 1, NULL, EVC_ERR_TRUNCATED},
        {"cut in half", der_len / 2, NULL, EVC_ERR_TRUNCATED},
        {"last byte missing", der_len - 1, NULL, EVC_ERR_TRUNCATED},
        {"trailing byte", der_len + 1, NULL, EVC_ERR_TRAILING},
    };

    (void)state;
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct evc_cert c;
        struct evc_err e = {0};

        memcpy(buf, der, der_len);
        buf[der_len] = 0;
        assert_int_equal(evc_cert_read(rd, buf, rows[i].len, &c, &e), rows[i].code);
        assert_null(c.subject); /* nothing handed out on failure */
        assert_true(strlen(evc_err_message(&e)) > 0);
    }
    /* Wrong outer tag. */
    {
        struct evc_cert c;
        struct evc_err e = {0};

        memcpy(buf, der, der_len);
        buf[0] = 0x31;
        assert_int_equal(evc_cert_read(rd, buf, der_len, &c, &e), EVC_ERR_BAD_DER);
    }
    /* Indefinite length is BER, not DER. */
    {
        static const uint8_t indef[] = {0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00};
        struct evc_cert c;
        struct evc_err e = {0};

        assert_int_equal(evc_cert_read(rd, indef, sizeof(indef), &c, &e), EVC_ERR_BAD_DER);
    }
    /* Over the size cap: rejected before any work. */
    {
        struct evc_cert c;
        struct evc_err e = {0};

        assert_int_equal(evc_cert_read(rd, der, EVC_CERT_DER_MAX + 1, &c, &e), EVC_ERR_LIMIT);
    }
    /* Every single-byte truncation fails cleanly, never crashes. */
    for (size_t n = 0; n < der_len; n++) {
        struct evc_cert c;
        struct evc_err e = {0};

        assert_int_not_equal(evc_cert_read(rd, der, n, &c, &e), 0);
    }
    /* Every single-byte change either fails or still reads a whole certificate. */
    for (size_t i = 0; i < der_len; i++) {
        struct evc_cert c;
        struct evc_err e = {0};

        memcpy(buf, der, der_len);
        buf[i] ^= 0xff;
        if (evc_cert_read(rd, buf, der_len, &c, &e) == 0) {
            assert_non_null(c.subject);
            evc_cert_clear(&c);
        }
    }
    free(buf);
    evc_cert_reader_free(rd);
}

/*
 * BER that OpenSSL reads (an indefinite outer length) is not DER, so the
 * fast walk refuses it; the certificate is still read, with a warning, and
 * its names still tell who issued whom.
 */
static void
test_ber_read_by_openssl(void **state)
{
    struct evc_cert_reader *rd;
    struct evc_cert c;
    struct evc_err e = {0};
    uint8_t *ber = malloc(der_len + 4), sid[EVC_NAME_ID_LEN], iid[EVC_NAME_ID_LEN],
            sid2[EVC_NAME_ID_LEN], iid2[EVC_NAME_ID_LEN];
    size_t hdr = 2 + (der[1] & 0x80 ? (der[1] & 0x7f) : 0), n;

    (void)state;
    assert_non_null(ber);
    ber[0] = 0x30;
    ber[1] = 0x80;
    memcpy(ber + 2, der + hdr, der_len - hdr);
    n = 2 + der_len - hdr;
    ber[n++] = 0;
    ber[n++] = 0;
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    assert_int_equal(evc_cert_read(rd, ber, n, &c, &e), 0);
    assert_non_null(c.warning);
    assert_non_null(strstr(c.warning, "invalid DER in certificate"));
    assert_true(c.not_after == 1800000000);
    assert_string_equal(c.subject, "CN=test.example");
    assert_int_equal(c.nsans, 2);
    evc_cert_clear(&c);
    assert_int_equal(evc_cert_read_names(rd, der, der_len, sid, iid), 0);
    assert_int_equal(evc_cert_read_names(rd, ber, n, sid2, iid2), 0);
    assert_memory_equal(sid, sid2, EVC_NAME_ID_LEN);
    assert_memory_equal(iid, iid2, EVC_NAME_ID_LEN);
    /* Cut short, OpenSSL refuses it too: an error, no row. */
    assert_int_not_equal(evc_cert_read(rd, ber, n - 1, &c, &e), 0);
    assert_null(c.warning);
    evc_cert_reader_free(rd);
    free(ber);
}

/* Thousands of oddities make one warning of bounded length, not one each. */
static void
test_warning_bounded(void **state)
{
    X509 *x = X509_dup(leaf);
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    struct evc_cert_reader *rd;
    struct evc_cert c;
    struct evc_err e = {0};
    uint8_t *d;
    size_t n;

    (void)state;
    assert_non_null(x);
    assert_true(ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2));
    for (int i = 0; i < 5000; i++) {
        X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os);

        assert_true(ext != NULL && X509_add_ext(x, ext, -1));
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()));
    d = tc_der(x, &n);
    assert_int_equal(evc_cert_reader_new(&rd), 0);
    assert_int_equal(evc_cert_read(rd, d, n, &c, &e), 0);
    assert_non_null(c.warning);
    assert_true(strlen(c.warning) < 2 * EVC_ERR_DETAIL_MAX);
    assert_non_null(strstr(c.warning, "unknown critical extension 1.3.6.1.4.1.55555.1.1"));
    evc_cert_clear(&c);
    evc_cert_reader_free(rd);
    OPENSSL_free(d);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    X509_free(x);
}

struct collect {
    int certs, bad;
    size_t index[8];
    unsigned long line[8], bad_line[8];
    char bad_msg[8][EVC_ERR_DETAIL_MAX];
    int bad_code[8];
};

static int
on_cert(void *arg, const uint8_t *d, size_t n, const struct evc_cert_loc *loc)
{
    struct collect *c = arg;

    assert_true(n > 0 && d != NULL);
    c->index[c->certs] = loc->index;
    c->line[c->certs++] = loc->line;
    return 0;
}

static int
on_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *e)
{
    struct collect *c = arg;

    c->bad_line[c->bad] = loc->line;
    c->bad_code[c->bad] = e->code;
    snprintf(c->bad_msg[c->bad++], EVC_ERR_DETAIL_MAX, "%s", evc_err_message(e));
    return 0;
}

static void
test_pem_blocks(void **state)
{
    char *pem = tc_pem(leaf), doc[16384];
    struct collect c = {0};
    struct evc_cert_sink sink = {on_cert, on_bad, &c};
    struct evc_err e = {0};
    size_t pemlines = 0;

    (void)state;
    for (char *p = pem; *p; p++) {
        pemlines += *p == '\n';
    }
    /* Text before, a key block (skipped, never decoded), two certificates, a broken one. */
    snprintf(doc, sizeof(doc),
             "subject=CN = test\n"
             "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n"
             "%s%s"
             "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
             "-----BEGIN CERTIFICATE-----\nMIIB\n",
             pem, pem);
    assert_int_equal(evc_format_detect((uint8_t *)doc, strlen(doc)), EVC_FORMAT_PEM);
    assert_int_equal(evc_pem_each((uint8_t *)doc, strlen(doc), &sink, &e), 0);
    assert_int_equal(c.certs, 2);
    assert_int_equal(c.index[0], 0);
    assert_int_equal(c.index[1], 1);
    assert_int_equal(c.line[0], 5);
    assert_int_equal(c.line[1], 5 + pemlines);
    assert_int_equal(c.bad, 2);
    assert_int_equal(c.bad_code[0], EVC_ERR_BAD_PEM);
    assert_int_equal(c.bad_line[0], 5 + 2 * pemlines);
    assert_non_null(strstr(c.bad_msg[0], "invalid base64"));
    assert_int_equal(c.bad_code[1], EVC_ERR_TRUNCATED);
    assert_non_null(strstr(c.bad_msg[1], "no END line"));
    free(pem);
}

/*
 * An unterminated block of any label is reported with its line and never
 * hides what follows: reading resumes at the next BEGIN line, even one
 * that shares its dashes with the marker before it.
 */
static void
test_pem_unterminated(void **state)
{
    char *pem = tc_pem(leaf), doc[16384];
    struct collect c = {0};
    struct evc_cert_sink sink = {on_cert, on_bad, &c};
    struct evc_err e = {0};
    unsigned long pl = 0, l;

    (void)state;
    for (char *p = pem; *p; p++) {
        pl += *p == '\n';
    }
    snprintf(doc, sizeof(doc),
             "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"
             "%s"
             "-----BEGIN CERTIFICATE-----\nMIIB\n-----END X509 CRL-----\n"
             "-----BEGIN X%s"
             "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS%s"
             "-----BEGIN PRIVATE KEY-----\n",
             pem, pem, pem);
    assert_int_equal(evc_pem_each((uint8_t *)doc, strlen(doc), &sink, &e), 0);
    assert_int_equal(c.certs, 3);
    assert_int_equal(c.bad, 4);
    assert_int_equal(c.bad_code[0], EVC_ERR_TRUNCATED);
    assert_int_equal(c.bad_line[0], 1);
    assert_string_equal(c.bad_msg[0],
                        "unterminated -----BEGIN RSA PRIVATE KEY----- at line 1: no END line");
    assert_int_equal(c.line[0], 3);
    assert_int_equal(c.index[0], 0);
    l = 3 + pl;
    assert_int_equal(c.bad_line[1], l);
    assert_non_null(strstr(c.bad_msg[1], "the END line after it is for another label"));
    l += 3;
    assert_int_equal(c.bad_line[2], l);
    assert_non_null(strstr(c.bad_msg[2], "unterminated -----BEGIN X----- at line"));
    assert_int_equal(c.line[1], l);
    assert_int_equal(c.index[1], 2);
    l += pl + 2;
    assert_int_equal(c.line[2], l);
    assert_int_equal(c.index[2], 3);
    assert_int_equal(c.bad_line[3], l + pl);
    assert_non_null(strstr(c.bad_msg[3], "-----BEGIN PRIVATE KEY----- at line"));
    free(pem);
}

static int
count_cert(void *arg, const uint8_t *d, size_t n, const struct evc_cert_loc *loc)
{
    (void)d;
    (void)n;
    (void)loc;
    ((size_t *)arg)[0]++;
    return 0;
}

static int
count_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *e)
{
    (void)loc;
    (void)e;
    ((size_t *)arg)[1]++;
    return 0;
}

/* The bytes the PEM reader examines for unit repeated to about n bytes. */
static size_t
pem_work(const char *unit, size_t n, size_t *len, size_t counts[2])
{
    size_t ulen = strlen(unit), work = 0, off;
    char *doc = malloc(n + ulen);
    struct evc_cert_sink sink = {count_cert, count_bad, counts};
    struct evc_err e = {0};

    assert_non_null(doc);
    for (off = 0; off < n; off += ulen) {
        memcpy(doc + off, unit, ulen);
    }
    counts[0] = counts[1] = 0;
    assert_int_equal(evc_pem_each_work((uint8_t *)doc, off, &sink, &work, &e), 0);
    *len = off;
    free(doc);
    return work;
}

/*
 * The reader's cost is linear in its input whatever the input: every byte
 * is examined a bounded number of times. Counted, not timed: four times
 * the bytes must be at most 4.5 times the work, and the work at most a few
 * passes over the input.
 */
static void
test_pem_linear(void **state)
{
    char *pem = tc_pem(leaf), *mixed;
    const char *shapes[] = {
        /* a marker whose label is too long, and no newline anywhere */
        "-----BEGIN ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLM",
        /* labels that never close, on one endless line */
        "-----BEGIN ABC ",
        /* many unterminated certificate blocks */
        "-----BEGIN CERTIFICATE-----\n",
        /* many unterminated key blocks */
        "-----BEGIN RSA PRIVATE "
        "KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n",
        /* blocks closed by the wrong END line */
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END X509 CRL-----\n",
        /* one very long line of base64 after a marker, no END */
        "-----BEGIN "
        "CERTIFICATE-----MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Q",
        /* runs of dashes inside blocks that never end */
        "-----BEGIN CERTIFICATE-----\n------------------------------------------------------\n",
        /* END lines without a BEGIN */
        "-----END CERTIFICATE-----\n", NULL, /* real certificates, below */
    };
    size_t nshapes = sizeof(shapes) / sizeof(shapes[0]);
    int failed = 0;

    (void)state;
    assert_non_null(mixed = malloc(strlen(pem) + 64));
    snprintf(mixed, strlen(pem) + 64, "%s-----BEGIN KEY-----\n", pem);
    shapes[nshapes - 1] = mixed;
    for (size_t i = 0; i < nshapes; i++) {
        size_t len1, len4, c1[2], c4[2];
        size_t w1 = pem_work(shapes[i], 100000, &len1, c1);
        size_t w4 = pem_work(shapes[i], 400000, &len4, c4);

        print_message("shape %zu: %zu bytes: work %zu; %zu bytes: work %zu (%.2fx)\n", i, len1, w1,
                      len4, w4, (double)w4 / (double)w1);
        /* Every shape is checked and printed before the test fails. */
        if (w4 * 2 > w1 * 9 || w1 > 8 * len1 + 1024 || w4 > 8 * len4 + 1024) {
            print_error("shape %zu: the work is not linear in the input\n", i);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
    free(mixed);
    free(pem);
}

static void
test_der_sequence(void **state)
{
    uint8_t two[8192];
    struct collect c = {0};
    struct evc_cert_sink sink = {on_cert, on_bad, &c};

    (void)state;
    memcpy(two, der, der_len);
    memcpy(two + der_len, der, der_len);
    assert_int_equal(evc_format_detect(two, der_len), EVC_FORMAT_DER);
    assert_int_equal(evc_der_each(two, 2 * der_len, &sink, NULL), 0);
    assert_int_equal(c.certs, 2);
    /* A truncated second one is reported, the first still read. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(evc_der_each(two, 2 * der_len - 3, &sink, NULL), 0);
    assert_int_equal(c.certs, 1);
    assert_int_equal(c.bad, 1);
    assert_int_equal(c.bad_code[0], EVC_ERR_TRUNCATED);
}

static void
test_detect(void **state)
{
    static const uint8_t junk[] = "hello, world\n";
    static const uint8_t seq_int[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    static const uint8_t serial[] = "0A0F3C2D54E1B9A7788C3D2E1F0A9B8C7D6E5F41\n";

    (void)state;
    assert_int_equal(evc_format_detect(junk, sizeof(junk) - 1), EVC_FORMAT_UNKNOWN);
    assert_int_equal(evc_format_detect(junk, 0), EVC_FORMAT_UNKNOWN);
    assert_int_equal(evc_format_detect(seq_int, sizeof(seq_int)), EVC_FORMAT_UNKNOWN);
    /* An OpenSSL serial file whose hex happens to read as SEQUENCE, SEQUENCE: not DER. */
    assert_int_equal(evc_format_detect(serial, sizeof(serial) - 1), EVC_FORMAT_UNKNOWN);
    /* A truncated DER certificate is still seen as DER, so its error says so. */
    assert_int_equal(evc_format_detect(der, der_len / 2), EVC_FORMAT_DER);
}

static uint8_t *
make_p12(const char *pass, int *len)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    PKCS12 *p12;
    unsigned char *out = NULL;

    sk_X509_push(ca, leaf);
    p12 = PKCS12_create(pass, "web", key, leaf, ca, 0, 0, 0, 0, 0);
    assert_non_null(p12);
    *len = i2d_PKCS12(p12, &out);
    PKCS12_free(p12);
    sk_X509_free(ca);
    return out;
}

static void
test_pkcs12(void **state)
{
    struct collect c = {0};
    struct evc_cert_sink sink = {on_cert, on_bad, &c};
    struct evc_err e = {0};
    int len;
    uint8_t *p12 = make_p12("s3cret", &len);

    (void)state;
    assert_int_equal(evc_format_detect(p12, (size_t)len), EVC_FORMAT_PKCS12);
    assert_int_equal(evc_pkcs12_each(p12, (size_t)len, "s3cret", &sink, &e), 0);
    assert_int_equal(c.certs, 2); /* the leaf and the "CA" copy; the key bag is not opened */
    memset(&c, 0, sizeof(c));
    assert_int_equal(evc_pkcs12_each(p12, (size_t)len, "wrong", &sink, &e), EVC_ERR_BAD_PASSWORD);
    assert_int_equal(c.certs, 0);
    assert_int_equal(evc_pkcs12_each(p12, (size_t)len, NULL, &sink, &e), EVC_ERR_NEED_PASSWORD);
    assert_int_equal(evc_pkcs12_each(p12, (size_t)len - 1, "s3cret", &sink, &e), EVC_ERR_BAD_DER);
    OPENSSL_free(p12);
    /* The empty password is tried when none is given. */
    p12 = make_p12("", &len);
    memset(&c, 0, sizeof(c));
    assert_int_equal(evc_pkcs12_each(p12, (size_t)len, NULL, &sink, &e), 0);
    assert_int_equal(c.certs, 2);
    OPENSSL_free(p12);
}

/*
 * A keystore asking for more key derivation than EVC_PKCS12_ITER_MAX:
 * mac_iter replaces the MAC's count; alg (owned) replaces the algorithm of
 * the encrypted safe, whose MAC is then made again at a normal count.
 * Nothing here derives a key at the huge count.
 */
static uint8_t *
make_p12_cost(int64_t mac_iter, X509_ALGOR *alg, int *len)
{
    PKCS12 *p12 = PKCS12_create("s3cret", "web", key, leaf, NULL, 0, 0, 0, 0, 0);
    const ASN1_INTEGER *iter = NULL;
    unsigned char *out = NULL;

    assert_non_null(p12);
    if (alg != NULL) {
        STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
        int done = 0;

        assert_non_null(safes);
        for (int i = 0; i < sk_PKCS7_num(safes) && !done; i++) {
            PKCS7 *p7 = sk_PKCS7_value(safes, i);

            if (OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted) {
                X509_ALGOR_free(p7->d.encrypted->enc_data->algorithm);
                p7->d.encrypted->enc_data->algorithm = alg;
                done = 1;
            }
        }
        assert_true(done);
        assert_true(PKCS12_pack_authsafes(p12, safes));
        sk_PKCS7_pop_free(safes, PKCS7_free);
        assert_true(PKCS12_set_mac(p12, "s3cret", -1, NULL, 0, 2048, NULL));
    }
    if (mac_iter != 0) {
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        assert_non_null(iter);
        assert_true(ASN1_INTEGER_set_int64((ASN1_INTEGER *)iter, mac_iter));
    }
    *len = i2d_PKCS12(p12, &out);
    assert_true(*len > 0);
    PKCS12_free(p12);
    return out;
}

/*
 * The cost a PKCS#12 file asks for is checked before any password is
 * tried, right or wrong or none: a count of 2^31 would otherwise keep a
 * scan busy for minutes (ctest's timeout catches that).
 */
static void
test_pkcs12_cost(void **state)
{
    struct {
        const char *what;
        int64_t mac_iter;
        X509_ALGOR *alg;
        int code;
        const char *msg;
    } rows[] = {
        {"MAC 2^31", (int64_t)1 << 31, NULL, EVC_ERR_LIMIT,
         "MAC iteration count 2147483648 over the cap of 1000000"},
        {"MAC over 63 bits", INT64_MAX, NULL, EVC_ERR_LIMIT,
         "MAC iteration count 9223372036854775807"},
        {"MAC just over", EVC_PKCS12_ITER_MAX + 1, NULL, EVC_ERR_LIMIT,
         "MAC iteration count 1000001 over the cap"},
        {"MAC negative", -5, NULL, EVC_ERR_BAD_DER, "MAC iteration count -5 is not positive"},
        {"PBES2 PBKDF2 2^31-1", 0,
         PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), INT_MAX, NULL, 0, NULL, NID_hmacWithSHA256),
         EVC_ERR_LIMIT, "PBKDF2 iteration count 2147483647 over the cap of 1000000"},
        {"PKCS#12 PBE 2^31-1", 0,
         PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, INT_MAX, NULL, 0), EVC_ERR_LIMIT,
         "PBE iteration count 2147483647 over the cap"},
        {"scrypt", 0, PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL, 1 << 14, 8, 1024),
         EVC_ERR_LIMIT, "scrypt cost N=16384 r=8 p=1024 over the cap"},
    };
    const char *passwords[] = {"s3cret", "wrong", NULL};

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int len;
        uint8_t *p12;

        print_message("%s\n", rows[i].what);
        assert_true(rows[i].mac_iter != 0 || rows[i].alg != NULL);
        p12 = make_p12_cost(rows[i].mac_iter, rows[i].alg, &len);
        for (size_t k = 0; k < sizeof(passwords) / sizeof(passwords[0]); k++) {
            struct collect c = {0};
            struct evc_cert_sink sink = {on_cert, on_bad, &c};
            struct evc_err e = {0};

            assert_int_equal(evc_pkcs12_each(p12, (size_t)len, passwords[k], &sink, &e),
                             rows[i].code);
            assert_non_null(strstr(evc_err_message(&e), rows[i].msg));
            assert_int_equal(c.certs, 0);
        }
        /* The root store's and the trust store's readers hold the same cap. */
        {
            struct evc_err e = {0};
            EVP_PKEY *k = NULL;
            X509 *x = NULL;
            struct evc_pkcs12_doc *d = NULL;

            assert_int_equal(evc_pkcs12_keypair(p12, (size_t)len, "s3cret", &k, &x, &e),
                             rows[i].code);
            assert_non_null(strstr(evc_err_message(&e), rows[i].msg));
            assert_null(k);
            assert_null(x);
            assert_int_equal(evc_pkcs12_doc_parse(p12, (size_t)len, "s3cret", &d, &e),
                             rows[i].code);
            assert_non_null(strstr(evc_err_message(&e), rows[i].msg));
            assert_null(d);
        }
        OPENSSL_free(p12);
    }
    /* Under the cap, and a MAC of the default count 1: read as before. */
    {
        struct collect c = {0};
        struct evc_cert_sink sink = {on_cert, on_bad, &c};
        struct evc_err e = {0};
        PKCS12 *p =
            PKCS12_create("s3cret", "web", key, leaf, NULL, 0, 0, EVC_PKCS12_ITER_MAX / 100, 1, 0);
        unsigned char *out = NULL;
        int len = i2d_PKCS12(p, &out);

        assert_true(len > 0);
        assert_int_equal(evc_pkcs12_each(out, (size_t)len, "s3cret", &sink, &e), 0);
        assert_int_equal(c.certs, 1);
        OPENSSL_free(out);
        PKCS12_free(p);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_fields),    cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_pem_blocks),      cmocka_unit_test(test_der_sequence),
        cmocka_unit_test(test_detect),          cmocka_unit_test(test_pkcs12),
        cmocka_unit_test(test_pem_linear),      cmocka_unit_test(test_pem_unterminated),
        cmocka_unit_test(test_pkcs12_cost),     cmocka_unit_test(test_ber_read_by_openssl),
        cmocka_unit_test(test_warning_bounded),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
