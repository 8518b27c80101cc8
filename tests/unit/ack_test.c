/* SPDX-License-Identifier: Apache-2.0 */
/* The acknowledgement: round trips, strict DER, the id's charset, the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "evercert/announce.h"

static void
round_trip(uint64_t gen, const char *id)
{
    struct evc_ack a = {gen, ""}, b;
    uint8_t der[EVC_ACK_MAX];
    size_t len;

    snprintf(a.client_id, sizeof(a.client_id), "%s", id);
    assert_int_equal(evc_ack_encode(&a, der, sizeof(der), &len), 0);
    assert_true(len <= EVC_ACK_MAX);
    assert_int_equal(evc_ack_parse(der, len, &b, NULL), 0);
    assert_true(b.generation == gen);
    assert_string_equal(b.client_id, id);
    /* Every shorter prefix and one byte more are refused. */
    for (size_t n = 0; n < len; n++) {
        assert_int_not_equal(evc_ack_parse(der, n, &b, NULL), 0);
    }
    der[len] = 0;
    assert_int_not_equal(evc_ack_parse(der, len + 1, &b, NULL), 0);
}

static void
test_round_trip(void **state)
{
    char id64[EVC_ACK_ID_MAX + 1];

    (void)state;
    memset(id64, 'a', EVC_ACK_ID_MAX);
    id64[EVC_ACK_ID_MAX] = '\0';
    round_trip(0, "");
    round_trip(1, "agent-7");
    round_trip(127, "h.example:x@y_z");
    round_trip(128, ""); /* needs a leading zero byte */
    round_trip(UINT64_MAX, id64);
}

static void
test_strict(void **state)
{
    struct evc_ack b;
    const char *why = NULL;
    /* version 1, generation 5 */
    static const uint8_t ok[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05};
    static const uint8_t v2[] = {0x30, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x05};
    static const uint8_t neg[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x85};
    static const uint8_t pad[] = {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x05};
    static const uint8_t longlen[] = {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05};
    static const uint8_t badid[] = {0x30, 0x09, 0x02, 0x01, 0x01, 0x02,
                                    0x01, 0x05, 0x0c, 0x01, ' '};
    static const uint8_t octet[] = {0x30, 0x09, 0x02, 0x01, 0x01, 0x02,
                                    0x01, 0x05, 0x04, 0x01, 'a'};
    static const uint8_t extra[] = {0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05, 0x05, 0x00};
    static const uint8_t big[] = {0x30, 0x0e, 0x02, 0x01, 0x01, 0x02, 0x09, 0x01,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

    (void)state;
    assert_int_equal(evc_ack_parse(ok, sizeof(ok), &b, &why), 0);
    assert_true(b.generation == 5);
    assert_int_equal(evc_ack_parse(v2, sizeof(v2), &b, &why), EVC_ERR_PARSE);
    assert_string_equal(why, "version is not 1");
    assert_int_equal(evc_ack_parse(neg, sizeof(neg), &b, &why), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_parse(pad, sizeof(pad), &b, &why), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_parse(longlen, sizeof(longlen), &b, &why), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_parse(badid, sizeof(badid), &b, &why), EVC_ERR_PARSE);
    assert_int_equal(b.generation, 0); /* zeroed on error */
    assert_int_equal(evc_ack_parse(octet, sizeof(octet), &b, &why), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_parse(extra, sizeof(extra), &b, &why), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_parse(big, sizeof(big), &b, &why), EVC_ERR_PARSE);
}

static void
test_limits(void **state)
{
    struct evc_ack a = {1, "bad id"}, b;
    uint8_t der[EVC_ACK_MAX + 1];
    size_t len;

    (void)state;
    assert_int_equal(evc_ack_encode(&a, der, sizeof(der), &len), EVC_ERR_USAGE);
    snprintf(a.client_id, sizeof(a.client_id), "ok");
    assert_int_equal(evc_ack_encode(&a, der, 4, &len), EVC_ERR_LIMIT);
    memset(der, 0, sizeof(der));
    assert_int_equal(evc_ack_parse(der, sizeof(der), &b, NULL), EVC_ERR_LIMIT);
    assert_int_equal(evc_ack_id_check("", 0), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_id_check("a\0b", 3), EVC_ERR_PARSE);
    assert_int_equal(evc_ack_id_check("caf\xc3\xa9", 5), EVC_ERR_PARSE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
