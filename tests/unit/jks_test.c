/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Java keystores: the pure reader on every malformed shape (truncated at
 * every byte, trailing bytes, wrong magic, version, tag, type, counts and
 * lengths over their caps, a NUL in an alias, a wrong password, a changed
 * byte), the writer keeping entries byte for byte, and the key protector
 * round trip. keytool and Java's TLS judge the same bytes in
 * tests/integration/jks.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/jks.h"
#include "evercert/keys.h"
#include "evercert/limits.h"
#include "evercert/store.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "base/file.h"
#include "testcert.h"
#include "x509/jks_int.h"

#define PW "changeit"

static EVP_PKEY *key;
static X509 *ca, *leafc, *other;

static void
put32(struct evc_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    assert_int_equal(evc_buf_put(b, x, 4), 0);
}

static void
pututf(struct evc_buf *b, const char *s)
{
    uint8_t x[2] = {(uint8_t)(strlen(s) >> 8), (uint8_t)strlen(s)};

    assert_int_equal(evc_buf_put(b, x, 2), 0);
    assert_int_equal(evc_buf_put(b, s, strlen(s)), 0);
}

static void
putcert(struct evc_buf *b, X509 *x, const char *type)
{
    size_t len;
    uint8_t *der = tc_der(x, &len);

    if (type != NULL) {
        pututf(b, type);
    }
    put32(b, (uint32_t)len);
    assert_int_equal(evc_buf_put(b, der, len), 0);
    free(der);
}

/* The digest over b so far, appended. */
static void
seal(struct evc_buf *b, const char *pw)
{
    uint8_t md[20];

    assert_int_equal(evc_jks_digest(pw, b->data, b->len, md, NULL), 0);
    assert_int_equal(evc_buf_put(b, md, 20), 0);
}

/*
 * A version 2 JKS: a key entry "tomcat" whose protected key is a
 * placeholder (the writer replaces it), then a trusted entry "ca".
 */
static void
sample(struct evc_buf *b, uint32_t magic)
{
    evc_buf_init(b, EVC_STORE_FILE_MAX);
    put32(b, magic);
    put32(b, 2);
    put32(b, 2);
    put32(b, EVC_JKS_KEY);
    pututf(b, "tomcat");
    put32(b, 0);
    put32(b, 1000);
    put32(b, 3);
    assert_int_equal(evc_buf_put(b, "key", 3), 0);
    put32(b, 2);
    putcert(b, leafc, "X.509");
    putcert(b, ca, "X.509");
    put32(b, EVC_JKS_TRUSTED);
    pututf(b, "ca");
    put32(b, 0);
    put32(b, 2000);
    putcert(b, ca, "X.509");
    seal(b, PW);
}

static int
setup(void **state)
{
    EVP_PKEY *cakey = tc_key("ec:P-256");
    struct tc_spec s = {0};

    (void)state;
    key = tc_key("ec:P-256");
    s.key = cakey;
    s.subject = "/CN=JKS Test CA";
    s.ca = 1;
    s.not_before = 1700000000;
    s.not_after = 1900000000;
    ca = tc_cert(&s);
    s.key = key;
    s.signer = cakey;
    s.issuer = X509_get_subject_name(ca);
    s.subject = "/CN=tomcat.test";
    s.ca = 0;
    s.sans = "DNS:tomcat.test";
    leafc = tc_cert(&s);
    s.subject = "/CN=other.test";
    s.sans = "DNS:other.test";
    other = tc_cert(&s);
    EVP_PKEY_free(cakey);
    return key != NULL && ca != NULL && leafc != NULL && other != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    X509_free(ca);
    X509_free(leafc);
    X509_free(other);
    return 0;
}

static void
test_parse(void **state)
{
    struct evc_buf b;
    struct evc_jks *ks = NULL;
    struct evc_err e = {0};

    (void)state;
    sample(&b, EVC_JKS_MAGIC);
    assert_int_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), 0);
    assert_int_equal(ks->n, 2);
    assert_true(ks->verified);
    assert_string_equal(ks->entries[0].alias, "tomcat");
    assert_int_equal(ks->entries[0].tag, EVC_JKS_KEY);
    assert_int_equal(ks->entries[0].ncerts, 2);
    assert_int_equal(ks->entries[0].date_ms, 1000);
    assert_int_equal(ks->entries[1].tag, EVC_JKS_TRUSTED);
    assert_int_equal(evc_jks_find(ks, "TomCat"), 0);
    assert_int_equal(evc_jks_find(ks, "ca"), 1);
    assert_int_equal(evc_jks_find(ks, "c"), -1);
    evc_jks_free(ks);
    ks = NULL;
    /* Without a password: read, not verified (keytool -list does the same). */
    assert_int_equal(evc_jks_parse(b.data, b.len, NULL, &ks, &e), 0);
    assert_false(ks->verified);
    evc_jks_free(ks);
    ks = NULL;
    assert_int_equal(evc_jks_parse(b.data, b.len, "wrong", &ks, &e), EVC_ERR_BAD_PASSWORD);
    assert_null(ks);
    assert_string_equal(e.detail, "wrong password (or the keystore was changed)");
    /* One changed byte of a certificate: the digest says so. */
    b.data[b.len - 30] ^= 1;
    assert_int_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), EVC_ERR_BAD_PASSWORD);
    evc_buf_free(&b);
}

/* Every store reader sees three certificates; the format is told by the magic alone. */
static int
count_cert(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    (void)der;
    (void)len;
    assert_int_equal(loc->index, *(size_t *)arg);
    ++*(size_t *)arg;
    return 0;
}

static int
count_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *err)
{
    (void)arg;
    (void)loc;
    (void)err;
    fail();
    return 1;
}

static void
test_store_read(void **state)
{
    struct evc_buf b;
    struct evc_store_opts o = {PW};
    size_t n = 0;
    struct evc_cert_sink sink = {count_cert, count_bad, &n};
    enum evc_format f;
    struct evc_err e = {0};

    (void)state;
    sample(&b, EVC_JKS_MAGIC);
    assert_int_equal(evc_store_read(b.data, b.len, &o, &sink, &f, &e), 0);
    assert_int_equal(f, EVC_FORMAT_JKS);
    assert_int_equal(n, 3);
    evc_buf_free(&b);
    sample(&b, EVC_JCEKS_MAGIC);
    n = 0;
    assert_int_equal(evc_store_read(b.data, b.len, &o, &sink, &f, &e), 0);
    assert_int_equal(f, EVC_FORMAT_JCEKS);
    assert_int_equal(n, 3);
    o.password = "wrong";
    assert_int_equal(evc_store_read(b.data, b.len, &o, &sink, &f, &e), EVC_ERR_BAD_PASSWORD);
    evc_buf_free(&b);
}

/* Malformed keystores, one shape each; every one is refused with its code. */
static void
test_negatives(void **state)
{
    struct evc_buf good, b;
    struct evc_jks *ks = NULL;
    struct evc_err e = {0};

    (void)state;
    sample(&good, EVC_JKS_MAGIC);
    /* Cut at every length: never read past the end, never accepted. */
    for (size_t n = 0; n < good.len; n++) {
        int r = evc_jks_parse(good.data, n, NULL, &ks, &e);

        assert_true(r == EVC_ERR_TRUNCATED || r == EVC_ERR_PARSE || r == EVC_ERR_LIMIT ||
                    r == EVC_ERR_TRAILING);
        assert_null(ks);
    }
    /* A byte after the digest: with the password, the digest no longer matches where it is. */
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    assert_int_equal(evc_buf_put(&b, good.data, good.len), 0);
    assert_int_equal(evc_buf_putc(&b, 0), 0);
    assert_int_not_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), 0);
    evc_buf_free(&b);

    static const struct {
        const char *what;
        size_t off;
        uint32_t value;
        int code;
    } table[] = {
        {"magic", 0, 0xfeedfeee, EVC_ERR_PARSE},
        {"version 3", 4, 3, EVC_ERR_PARSE},
        {"version 0", 4, 0, EVC_ERR_PARSE},
        {"entries over the cap", 8, EVC_JKS_ENTRIES_MAX + 1, EVC_ERR_LIMIT},
        {"one entry more than there is", 8, 3, EVC_ERR_TRUNCATED},
        {"one entry less: trailing bytes", 8, 1, EVC_ERR_TRAILING},
        {"an unknown tag", 12, 4, EVC_ERR_PARSE},
        {"a secret key in a JKS", 12, 3, EVC_ERR_PARSE},
        {"a chain over the cap", 12 + 4 + 8 + 8 + 4 + 3, EVC_JKS_CHAIN_MAX + 1, EVC_ERR_LIMIT},
        {"a certificate over the cap", 12 + 4 + 8 + 8 + 4 + 3 + 4 + 7,
         (uint32_t)EVC_CERT_DER_MAX + 1, EVC_ERR_LIMIT},
        {"a certificate longer than the file", 12 + 4 + 8 + 8 + 4 + 3 + 4 + 7, 0x100000,
         EVC_ERR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        evc_buf_init(&b, EVC_STORE_FILE_MAX);
        assert_int_equal(evc_buf_put(&b, good.data, good.len), 0);
        b.data[table[i].off] = (uint8_t)(table[i].value >> 24);
        b.data[table[i].off + 1] = (uint8_t)(table[i].value >> 16);
        b.data[table[i].off + 2] = (uint8_t)(table[i].value >> 8);
        b.data[table[i].off + 3] = (uint8_t)table[i].value;
        memset(&e, 0, sizeof(e));
        if (evc_jks_parse(b.data, b.len, NULL, &ks, &e) != table[i].code) {
            fail_msg("%s: got %d (%s), want %d", table[i].what, e.code, e.detail, table[i].code);
        }
        assert_null(ks);
        evc_buf_free(&b);
    }
    /* The certificate type: "X.509" only. Offset: header, tag, alias, date, key, count, type. */
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    assert_int_equal(evc_buf_put(&b, good.data, good.len), 0);
    b.data[12 + 4 + 8 + 8 + 4 + 3 + 4 + 2 + 4] = '8';
    assert_int_equal(evc_jks_parse(b.data, b.len, NULL, &ks, &e), EVC_ERR_PARSE);
    /* A NUL in an alias. */
    memcpy(b.data, good.data, good.len);
    b.data[12 + 4 + 2] = 0;
    assert_int_equal(evc_jks_parse(b.data, b.len, NULL, &ks, &e), EVC_ERR_PARSE);
    evc_buf_free(&b);
    /* A JCEKS secret key entry has no length: refused, not guessed at. */
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    put32(&b, EVC_JCEKS_MAGIC);
    put32(&b, 2);
    put32(&b, 1);
    put32(&b, EVC_JKS_SECRET);
    pututf(&b, "aes");
    put32(&b, 0);
    put32(&b, 0);
    assert_int_equal(evc_buf_put(&b, "\xac\xed\x00\x05", 4), 0);
    seal(&b, PW);
    assert_int_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), EVC_ERR_PARSE);
    assert_non_null(strstr(e.detail, "secret key"));
    evc_buf_free(&b);
    evc_buf_free(&good);
}

/* Replace the key entry, add and remove a trusted one: everything else byte for byte. */
static void
test_write(void **state)
{
    struct evc_buf b, out, out2;
    struct evc_jks *ks = NULL, *ks2 = NULL, *ks3 = NULL;
    struct evc_err e = {0};
    STACK_OF(X509) *chain = sk_X509_new_null();
    EVP_PKEY *got = NULL;
    uint8_t sha[32];
    char alias[32];

    (void)state;
    sk_X509_push(chain, leafc);
    sk_X509_push(chain, ca);
    sample(&b, EVC_JKS_MAGIC);
    evc_buf_init(&out, EVC_STORE_FILE_MAX);
    evc_buf_init(&out2, EVC_STORE_FILE_MAX);
    assert_int_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), 0);
    {
        struct evc_jks_edit ed = {SIZE_MAX, NULL, 0, key, chain, 5000};

        assert_int_equal(evc_jks_encode(ks, &ed, PW, &out, &e), 0);
        assert_int_equal(evc_jks_encode(ks, &ed, NULL, &out, &e), EVC_ERR_NEED_PASSWORD);
        assert_int_equal(evc_jks_encode(ks, &ed, PW, &out, &e), 0);
    }
    assert_int_equal(evc_jks_parse(out.data, out.len, PW, &ks2, &e), 0);
    assert_int_equal(ks2->n, 2);
    assert_string_equal(ks2->entries[0].alias, "tomcat");
    assert_int_equal(ks2->entries[0].date_ms, 5000);
    assert_int_equal(ks2->entries[0].ncerts, 2);
    /* The trusted entry, alias and date and all, as it was. */
    assert_int_equal(ks2->entries[1].raw.len, ks->entries[1].raw.len);
    assert_memory_equal(ks2->data + ks2->entries[1].raw.off, ks->data + ks->entries[1].raw.off,
                        ks->entries[1].raw.len);
    /* The key protector round trip; a wrong password is told by its check digest. */
    assert_int_equal(evc_jks_key_decrypt(ks2, 0, PW, &got, &e), 0);
    assert_int_equal(EVP_PKEY_eq(got, key), 1);
    EVP_PKEY_free(got);
    got = NULL;
    assert_int_equal(evc_jks_key_decrypt(ks2, 0, "wrong", &got, &e), EVC_ERR_BAD_PASSWORD);
    assert_null(got);
    assert_int_equal(evc_jks_key_decrypt(ks2, 1, PW, &got, &e), EVC_ERR_USAGE);
    /* Add a trusted entry, then take it out again: the bytes of before. */
    {
        struct evc_jks_edit ed = {SIZE_MAX, other, SIZE_MAX, NULL, NULL, 6000};

        assert_int_equal(evc_jks_encode(ks2, &ed, PW, &out2, &e), 0);
    }
    assert_int_equal(evc_jks_parse(out2.data, out2.len, PW, &ks3, &e), 0);
    assert_int_equal(ks3->n, 3);
    assert_int_equal(evc_x509_sha256(other, sha), 0);
    snprintf(alias, sizeof(alias), "evercert-%02x%02x%02x%02x%02x%02x%02x%02x", sha[0], sha[1],
             sha[2], sha[3], sha[4], sha[5], sha[6], sha[7]);
    assert_string_equal(ks3->entries[2].alias, alias);
    assert_int_equal(ks3->entries[2].tag, EVC_JKS_TRUSTED);
    {
        struct evc_jks_edit ed = {2, NULL, SIZE_MAX, NULL, NULL, 7000};

        assert_int_equal(evc_jks_encode(ks3, &ed, PW, &out2, &e), 0);
    }
    assert_int_equal(out2.len, out.len);
    assert_memory_equal(out2.data, out.data, out.len);
    /* A JCEKS store takes trusted entries, not a key (its keys use another protector). */
    evc_jks_free(ks);
    ks = NULL;
    evc_buf_free(&b);
    sample(&b, EVC_JCEKS_MAGIC);
    assert_int_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), 0);
    {
        struct evc_jks_edit ed = {SIZE_MAX, NULL, 0, key, chain, 5000};

        assert_int_equal(evc_jks_encode(ks, &ed, PW, &out, &e), EVC_ERR_USAGE);
    }
    /* An empty keystore verifies. */
    assert_int_equal(evc_jks_encode_empty(PW, &out, &e), 0);
    evc_jks_free(ks2);
    ks2 = NULL;
    assert_int_equal(evc_jks_parse(out.data, out.len, PW, &ks2, &e), 0);
    assert_int_equal(ks2->n, 0);
    evc_jks_free(ks);
    evc_jks_free(ks2);
    evc_jks_free(ks3);
    evc_buf_free(&b);
    evc_buf_free(&out);
    evc_buf_free(&out2);
    sk_X509_free(chain);
}

/* Java's char[] in UTF-16BE: a code point past the BMP is a surrogate pair. */
static void
test_password16(void **state)
{
    uint8_t out[16];
    size_t n;

    (void)state;
    assert_int_equal(evc_jks_password16("a\xc3\xa9", out, sizeof(out), &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\x00\x61\x00\xe9", 4);
    assert_int_equal(evc_jks_password16("\xf0\x9f\x98\x80", out, sizeof(out), &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\xd8\x3d\xde\x00", 4);
    assert_int_equal(evc_jks_password16("\xff", out, sizeof(out), &n), EVC_ERR_USAGE);
    assert_int_equal(evc_jks_password16("\xc3", out, sizeof(out), &n), EVC_ERR_USAGE);
    assert_int_equal(evc_jks_password16("abcdefghi", out, sizeof(out), &n), EVC_ERR_LIMIT);
}

/* A keystore that already has an entry of the alias an added certificate would get: refused. */
static void
test_duplicate_alias(void **state)
{
    struct evc_buf b, out;
    struct evc_jks *ks = NULL;
    struct evc_err e = {0};
    uint8_t sha[32];
    char alias[32];

    (void)state;
    assert_int_equal(evc_x509_sha256(other, sha), 0);
    snprintf(alias, sizeof(alias), "evercert-%02x%02x%02x%02x%02x%02x%02x%02x", sha[0], sha[1],
             sha[2], sha[3], sha[4], sha[5], sha[6], sha[7]);
    /* A person's entry of that name (holding another certificate), as keytool would write it. */
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    put32(&b, EVC_JKS_MAGIC);
    put32(&b, 2);
    put32(&b, 1);
    put32(&b, EVC_JKS_TRUSTED);
    pututf(&b, alias);
    put32(&b, 0);
    put32(&b, 2000);
    putcert(&b, ca, "X.509");
    seal(&b, PW);
    evc_buf_init(&out, EVC_STORE_FILE_MAX);
    assert_int_equal(evc_jks_parse(b.data, b.len, PW, &ks, &e), 0);
    {
        struct evc_jks_edit ed = {SIZE_MAX, other, SIZE_MAX, NULL, NULL, 6000};

        assert_int_equal(evc_jks_encode(ks, &ed, PW, &out, &e), EVC_ERR_POLICY);
        assert_non_null(strstr(e.detail, alias));
        assert_non_null(strstr(e.detail, "already has an entry"));
    }
    /* The same entry left out by the same edit: then the name is free. */
    {
        struct evc_jks_edit ed = {0, other, SIZE_MAX, NULL, NULL, 6000};

        assert_int_equal(evc_jks_encode(ks, &ed, PW, &out, &e), 0);
    }
    evc_jks_free(ks);
    evc_buf_free(&b);
    evc_buf_free(&out);
}

/* The whole file's bytes. */
static void
read_all(const char *path, struct evc_buf *b)
{
    struct evc_err e = {0};

    evc_buf_init(b, EVC_STORE_FILE_MAX);
    assert_int_equal(evc_file_read(path, EVC_STORE_FILE_MAX, b, &e), 0);
}

/*
 * As a trust store: the key entry's certificate is a member as Java's
 * trust manager trusts it; neither it nor a person's trusted entry is
 * ever removed; what evercert added is.
 */
static void
test_trust_store(void **state)
{
    char dir[] = "/tmp/evc-jks-unit-XXXXXX", path[64], cmd[96];
    struct evc_buf b, before, after;
    struct evc_trust *t = NULL;
    struct evc_err e = {0};
    struct evc_jks *ks = NULL;
    uint8_t fp[32];
    long k;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/trust.jks", dir);
    sample(&b, EVC_JKS_MAGIC);
    assert_int_equal(evc_atomic_write(path, b.data, b.len, 0644, &e), 0);
    assert_int_equal(evc_trust_load(path, PW, &t, &e), 0);
    assert_string_equal(evc_trust_format(t), "JKS");
    assert_int_equal(t->n, 2);
    assert_int_equal(evc_x509_sha256(leafc, fp), 0);
    assert_true(evc_trust_find(t, fp) >= 0);
    assert_int_equal(evc_x509_sha256(ca, fp), 0);
    assert_true(evc_trust_find(t, fp) >= 0);
    /* Retiring the person's entries changes nothing on disk. */
    read_all(path, &before);
    while (t->n > 0) {
        assert_int_equal(evc_trust_remove(t, 0, &e), 0);
    }
    read_all(path, &after);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.data, before.data, before.len);
    evc_buf_free(&after);
    /* evercert's own entry goes again, and only it. */
    assert_int_equal(evc_trust_add(t, other, &e), 0);
    evc_trust_free(t);
    assert_int_equal(evc_trust_load(path, PW, &t, &e), 0);
    assert_int_equal(t->n, 3);
    assert_int_equal(evc_x509_sha256(other, fp), 0);
    assert_true((k = evc_trust_find(t, fp)) >= 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &e), 0);
    evc_trust_free(t);
    read_all(path, &after);
    assert_int_equal(evc_jks_parse(after.data, after.len, PW, &ks, &e), 0);
    assert_int_equal(ks->n, 2);
    assert_string_equal(ks->entries[0].alias, "tomcat");
    assert_string_equal(ks->entries[1].alias, "ca");
    evc_jks_free(ks);
    evc_buf_free(&after);
    evc_buf_free(&before);
    evc_buf_free(&b);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_store_read),
        cmocka_unit_test(test_negatives),   cmocka_unit_test(test_write),
        cmocka_unit_test(test_password16),  cmocka_unit_test(test_duplicate_alias),
        cmocka_unit_test(test_trust_store),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
