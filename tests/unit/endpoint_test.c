/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint scanning's pure parts: URLs (each refusal names what is wrong),
 * the SMTP reply reader and the IMAP line reader (complete, more, not a
 * reply; the caps on a line), table-driven with the negative cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evercert/endpoint.h"

static void
test_url(void **state)
{
    struct {
        const char *in;
        enum evc_ep_proto proto;
        const char *host, *sni;
        int numeric;
        unsigned port;
        const char *text;
    } ok[] = {
        {"tls://web.test:443", EVC_EP_TLS, "web.test", "web.test", 0, 443, "tls://web.test:443"},
        {"tls://127.0.0.1:8443", EVC_EP_TLS, "127.0.0.1", "", 1, 8443, "tls://127.0.0.1:8443"},
        {"tls://127.0.0.1:8443?sni=web.test", EVC_EP_TLS, "127.0.0.1", "web.test", 1, 8443,
         "tls://127.0.0.1:8443?sni=web.test"},
        {"tls://[::1]:443", EVC_EP_TLS, "::1", "", 1, 443, "tls://[::1]:443"},
        {"smtp://mx.test:25", EVC_EP_SMTP, "mx.test", "mx.test", 0, 25, "smtp://mx.test:25"},
        {"imap://mail.test:143/", EVC_EP_IMAP, "mail.test", "mail.test", 0, 143,
         "imap://mail.test:143"},
        {"postgres://db.test:5432", EVC_EP_POSTGRES, "db.test", "db.test", 0, 5432,
         "postgres://db.test:5432"},
        {"postgresql://db:5432", EVC_EP_POSTGRES, "db", "db", 0, 5432, "postgres://db:5432"},
        {"tls://a.test:1?sni=b.test", EVC_EP_TLS, "a.test", "b.test", 0, 1,
         "tls://a.test:1?sni=b.test"},
    };
    struct {
        const char *in, *why;
    } bad[] = {
        {"tls://h", "tls://h: missing port"},
        {"tls://h:", "tls://h:: missing port"},
        {"tls://:443", "missing host"},
        {"tls://h:0", "port 0"},
        {"tls://h:65536", "port over 65535"},
        {"tls://h:443x", "unexpected text after the port"},
        {"tls://h:443?x=1", "the only query is ?sni=NAME"},
        {"tls://h:443?sni=1.2.3.4", "sni is not a DNS name"},
        {"tls://h:443?sni=", "sni is not a DNS name"},
        {"tls://[::1:443", "'[' without ']'"},
        {"tls://[web.test]:443", "not an IPv6 address in brackets"},
        {"tls://a..b:443", "neither a name nor an address"},
        {"tls://a b:443", "neither a name nor an address"},
        {"http://h:80", "unknown scheme"},
        {"web.test:443", "expected SCHEME://HOST:PORT"},
        {"/etc/ssl/certs", "expected SCHEME://HOST:PORT"},
    };
    struct evc_ep_url u;
    struct evc_err err = {0};
    char text[EVC_EP_URL_MAX + 1], *longurl;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(evc_ep_url_parse(ok[i].in, &u, &err), 0);
        assert_int_equal(u.proto, ok[i].proto);
        assert_string_equal(u.host, ok[i].host);
        assert_string_equal(u.sni, ok[i].sni);
        assert_int_equal(u.numeric, ok[i].numeric);
        assert_int_equal(u.port, ok[i].port);
        evc_ep_url_format(&u, text, sizeof(text));
        assert_string_equal(text, ok[i].text);
        assert_true(evc_ep_is_url(ok[i].in));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(evc_ep_url_parse(bad[i].in, &u, &err), EVC_ERR_PARSE);
        if (strstr(err.detail, bad[i].why) == NULL) {
            fail_msg("%s: '%s' does not say '%s'", bad[i].in, err.detail, bad[i].why);
        }
    }
    assert_false(evc_ep_is_url("/etc/ssl/certs"));
    assert_false(evc_ep_is_url("://x"));
    /* Over the cap: refused before anything is copied. */
    longurl = malloc(EVC_EP_URL_MAX + 64);
    assert_non_null(longurl);
    memcpy(longurl, "tls://", 6);
    memset(longurl + 6, 'a', EVC_EP_URL_MAX + 50);
    longurl[EVC_EP_URL_MAX + 56] = '\0';
    assert_int_equal(evc_ep_url_parse(longurl, &u, &err), EVC_ERR_PARSE);
    assert_non_null(strstr(err.detail, "longer than"));
    free(longurl);
}

static void
test_smtp(void **state)
{
    struct {
        const char *in;
        int want, code;
        size_t used;
    } cases[] = {
        {"220 ready\r\n", 0, 220, 11},
        {"220-a\r\n220-b\r\n220 c\r\n", 0, 220, 21},
        {"250-a\n250 b\n", 0, 250, 12},
        {"220\r\n", 0, 220, 5},
        {"220 go\r\n250 more\r\n", 0, 220, 8}, /* the caller sees the rest */
        {"", 1, 0, 0},
        {"220 rea", 1, 0, 0},
        {"220-a\r\n", 1, 0, 0},
        {"220-a\r\n220 b", 1, 0, 0},
        {"HTTP/1.1 400\r\n", EVC_ERR_PARSE, 0, 0},
        {"22 x\r\n", EVC_ERR_PARSE, 0, 0},
        {"220x\r\n", EVC_ERR_PARSE, 0, 0},
        {"120 x\r\n", EVC_ERR_PARSE, 0, 0},
        {"220-a\r\n250 b\r\n", EVC_ERR_PARSE, 0, 0},
        {"\r\n", EVC_ERR_PARSE, 0, 0},
    };
    struct evc_err err = {0};
    uint8_t *big;
    size_t used;
    int code, r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = evc_ep_smtp_reply((const uint8_t *)cases[i].in, strlen(cases[i].in), &code, &used,
                              &err);
        if (r != cases[i].want) {
            fail_msg("'%s': %d, want %d", cases[i].in, r, cases[i].want);
        }
        if (r == 0) {
            assert_int_equal(code, cases[i].code);
            assert_int_equal(used, cases[i].used);
        }
    }
    /* A line that never ends is refused at the cap, not waited for. */
    big = malloc(EVC_EP_LINE_MAX + 2);
    assert_non_null(big);
    memcpy(big, "220-", 4);
    memset(big + 4, 'x', EVC_EP_LINE_MAX - 2);
    assert_int_equal(evc_ep_smtp_reply(big, EVC_EP_LINE_MAX + 2, &code, &used, &err),
                     EVC_ERR_PARSE);
    assert_non_null(strstr(err.detail, "a line over"));
    assert_int_equal(evc_ep_smtp_reply(big, EVC_EP_LINE_MAX + 1, &code, &used, &err), 1);
    free(big);
}

static void
test_imap(void **state)
{
    struct {
        const char *in, *tag;
        int want, ok;
        size_t used;
    } cases[] = {
        {"* OK ready\r\n", NULL, 0, 1, 12},
        {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", NULL, 0, 1, 41},
        {"* PREAUTH hi\r\n", NULL, 0, 0, 14},
        {"* BYE\r\n", NULL, 0, 0, 7},
        {"* OK", NULL, 1, 0, 0},
        {"+ go\r\n", NULL, EVC_ERR_PARSE, 0, 0},
        {"* OKAY\r\n", NULL, EVC_ERR_PARSE, 0, 0},
        {"a OK begin\r\n", "a", 0, 1, 12},
        {"* CAPABILITY x\r\na OK\r\n", "a", 0, 1, 22},
        {"a NO no\r\n", "a", 0, 0, 9},
        {"a bad x\r\n", "a", 0, 0, 9},
        {"* x\r\n", "a", 1, 0, 0},
        {"b OK\r\n", "a", EVC_ERR_PARSE, 0, 0},
        {"ab OK\r\n", "a", EVC_ERR_PARSE, 0, 0},
        {"a MAYBE\r\n", "a", EVC_ERR_PARSE, 0, 0},
        {"+ go\r\n", "a", EVC_ERR_PARSE, 0, 0},
    };
    struct evc_err err = {0};
    size_t used;
    int ok, r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = evc_ep_imap_reply((const uint8_t *)cases[i].in, strlen(cases[i].in), cases[i].tag, &ok,
                              &used, &err);
        if (r != cases[i].want) {
            fail_msg("'%s': %d, want %d", cases[i].in, r, cases[i].want);
        }
        if (r == 0) {
            assert_int_equal(ok, cases[i].ok);
            assert_int_equal(used, cases[i].used);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_smtp),
        cmocka_unit_test(test_imap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
