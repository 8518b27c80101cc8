/* SPDX-License-Identifier: Apache-2.0 */
/* Classification at every boundary of DESIGN.md, in seconds and in percent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "evercert/cert.h"

#define D 86400

static void
test_boundaries_default(void **state)
{
    struct evc_thresholds t;
    const evc_time nb = 1000000, na = nb + 365 * D;

    (void)state;
    evc_thresholds_default(&t);
    /* a 1-year certificate keeps the full 60d + 90d: the cap is 152.5d */
    assert_int_equal(evc_classify(nb, na, nb - 1, &t), EVC_STATUS_NOT_YET_VALID);
    assert_int_equal(evc_classify(nb, na, nb, &t), EVC_STATUS_OK);
    /* prenotify starts at E - 60d - 90d */
    assert_int_equal(evc_classify(nb, na, na - 150 * D - 1, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, na - 150 * D, &t), EVC_STATUS_PRENOTIFY);
    /* threshold starts at E - 60d */
    assert_int_equal(evc_classify(nb, na, na - 60 * D - 1, &t), EVC_STATUS_PRENOTIFY);
    assert_int_equal(evc_classify(nb, na, na - 60 * D, &t), EVC_STATUS_THRESHOLD);
    assert_int_equal(evc_classify(nb, na, na - 1, &t), EVC_STATUS_THRESHOLD);
    /* expired at E exactly */
    assert_int_equal(evc_classify(nb, na, na, &t), EVC_STATUS_EXPIRED);
    assert_int_equal(evc_classify(nb, na, na + 10 * 365 * D, &t), EVC_STATUS_EXPIRED);
}

/*
 * The prenotification period counts at most half the time from notBefore to
 * the renewal moment: a fresh 90-day certificate is ok, not "prenotify".
 */
static void
test_prenotify_capped_90_days(void **state)
{
    struct evc_thresholds t;
    const evc_time nb = 1000000, na = nb + 90 * D;

    (void)state;
    evc_thresholds_default(&t);
    /* threshold 60d counts as 45d; prenotify 90d counts as 22.5d */
    assert_int_equal(evc_renew_moment(nb, na, &t), nb + 45 * D);
    assert_int_equal(evc_classify(nb, na, nb, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, nb + 45 * D / 2 - 1, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, nb + 45 * D / 2, &t), EVC_STATUS_PRENOTIFY);
    assert_int_equal(evc_classify(nb, na, nb + 45 * D - 1, &t), EVC_STATUS_PRENOTIFY);
    assert_int_equal(evc_classify(nb, na, nb + 45 * D, &t), EVC_STATUS_THRESHOLD);
    assert_int_equal(evc_classify(nb, na, na, &t), EVC_STATUS_EXPIRED);
}

/* A certificate that lives a minute, under the defaults. */
static void
test_prenotify_capped_60_seconds(void **state)
{
    struct evc_thresholds t;
    const evc_time nb = 7000, na = nb + 60;

    (void)state;
    evc_thresholds_default(&t);
    assert_int_equal(evc_classify(nb, na, nb, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, nb + 14, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, nb + 15, &t), EVC_STATUS_PRENOTIFY);
    assert_int_equal(evc_classify(nb, na, nb + 29, &t), EVC_STATUS_PRENOTIFY);
    assert_int_equal(evc_classify(nb, na, nb + 30, &t), EVC_STATUS_THRESHOLD);
    assert_int_equal(evc_classify(nb, na, nb + 59, &t), EVC_STATUS_THRESHOLD);
    assert_int_equal(evc_classify(nb, na, na, &t), EVC_STATUS_EXPIRED);
}

static void
test_percent_short_lived(void **state)
{
    struct evc_thresholds t;
    const evc_time nb = 5000, na = nb + 300; /* a certificate that lives five minutes */

    (void)state;
    assert_int_equal(evc_span_parse("33%", &t.threshold), 0);
    assert_int_equal(evc_span_parse("0s", &t.prenotify), 0);
    /* 33% of 300 s is 99 s */
    assert_int_equal(evc_classify(nb, na, na - 100, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, na - 99, &t), EVC_STATUS_THRESHOLD);
    assert_int_equal(evc_span_parse("20%", &t.prenotify), 0);
    /* prenotify from 99 + 60 s before the end */
    assert_int_equal(evc_classify(nb, na, na - 160, &t), EVC_STATUS_OK);
    assert_int_equal(evc_classify(nb, na, na - 159, &t), EVC_STATUS_PRENOTIFY);
    assert_int_equal(evc_classify(nb, na, na - 100, &t), EVC_STATUS_PRENOTIFY);
}

static void
test_kinds_and_names(void **state)
{
    struct evc_cert c = {0};

    (void)state;
    c.self_issued = 1;
    c.is_ca = 1;
    assert_int_equal(evc_kind_of(&c, 0), EVC_KIND_ROOT);
    c.is_ca = 0;
    assert_int_equal(evc_kind_of(&c, 1), EVC_KIND_SELF_SIGNED);
    c.self_issued = 0;
    assert_int_equal(evc_kind_of(&c, 1), EVC_KIND_CHAINED);
    assert_int_equal(evc_kind_of(&c, 0), EVC_KIND_EXTERNAL);
    assert_string_equal(evc_status_name(EVC_STATUS_NOT_YET_VALID), "not_yet_valid");
    assert_string_equal(evc_kind_name(EVC_KIND_SELF_SIGNED), "self-signed");
    assert_string_equal(evc_status_name((enum evc_status)99), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries_default),
        cmocka_unit_test(test_prenotify_capped_90_days),
        cmocka_unit_test(test_prenotify_capped_60_seconds),
        cmocka_unit_test(test_percent_short_lived),
        cmocka_unit_test(test_kinds_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
