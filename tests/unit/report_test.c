/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The three report formats, fed findings by hand and read back; the
 * renewal report with hostile subjects and hook output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "evercert/log.h"
#include "evercert/renew_report.h"
#include "evercert/report.h"
#include "base/text.h"

static const char *const sans[] = {"DNS:a.example", "IP:127.0.0.1"};

static struct evc_finding
finding(const char *path, const char *subject, int64_t left, const char *status)
{
    struct evc_finding f = {0};

    f.path = path;
    f.index = 3;
    f.subject = subject;
    f.issuer = "CN=Issuer";
    f.serial = "01AB";
    f.sha256 = "00ff";
    f.not_before = 1700000000;
    f.not_after = 1800000000;
    f.seconds_left = left;
    f.status = status;
    f.kind = "chained";
    f.sans = sans;
    f.nsans = 2;
    f.key = "ec:P-256";
    return f;
}

/* Run a report over findings, splitting them across two take() calls. */
static char *
run(enum evc_report_format fmt, const struct evc_finding *fs, size_t n)
{
    struct evc_report *rep;
    struct evc_buf b;
    struct evc_summary sum = {0};
    char *out = NULL, *copy;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);

    assert_int_equal(evc_report_new(fmt, f, 0, &rep), 0);
    assert_int_equal(evc_report_begin(rep, 1795341600), 0);
    evc_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(evc_report_render(rep, &fs[i], &b), 0);
        if (i == 0) {
            assert_int_equal(evc_report_take(rep, b.data, b.len), 0);
            evc_buf_reset(&b);
        }
    }
    assert_int_equal(evc_report_take(rep, b.data, b.len), 0);
    assert_int_equal(evc_report_error(rep, "/x/bad.pem", "line 3: invalid base64"), 0);
    sum.total = n;
    sum.errors = 1;
    assert_int_equal(evc_report_finish(rep, &sum), 0);
    evc_report_free(rep);
    evc_buf_free(&b);
    fclose(f);
    /* A copy, so no compiler takes the result for a pointer into this frame. */
    copy = strdup(out);
    free(out);
    assert_non_null(copy);
    return copy;
}

static void
test_json(void **state)
{
    struct evc_finding fs[2] = {finding("/a \"q\".pem", "CN=x\x1b", 5, "threshold"),
                                finding("/b.pem", "CN=y", -5, "expired")};
    char *out = run(EVC_REPORT_JSON, fs, 2);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je), *c;

    (void)state;
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "scanned_at")),
                        "2026-11-22T10:00:00Z");
    c = json_array_get(json_object_get(j, "certificates"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "path")), "/a \"q\".pem");
    assert_string_equal(json_string_value(json_object_get(c, "subject")), "CN=x\x1b");
    assert_string_equal(json_string_value(json_object_get(c, "not_after")), "2027-01-15T08:00:00Z");
    assert_int_equal(json_integer_value(json_object_get(c, "index")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "sans"), 1)),
                        "IP:127.0.0.1");
    assert_int_equal(json_array_size(json_object_get(j, "certificates")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "errors"), 0), "error")),
                        "line 3: invalid base64");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"), "total")),
                     2);
    json_decref(j);
    free(out);
    /* No certificates at all is still a valid document. */
    out = run(EVC_REPORT_JSON, fs, 0);
    j = json_loads(out, 0, &je);
    assert_non_null(j);
    json_decref(j);
    free(out);
}

static void
test_text_sorted_and_escaped(void **state)
{
    struct evc_finding fs[3] = {finding("/late.pem", "CN=late", 900000, "ok"),
                                finding("/gone.pem", "CN=gone\x1b[2J", -60, "expired"),
                                finding("/soon.pem", "CN=soon", 3600, "threshold")};
    char *out = run(EVC_REPORT_TEXT, fs, 3);
    char *gone = strstr(out, "/gone.pem"), *soon = strstr(out, "/soon.pem"),
         *late = strstr(out, "/late.pem");

    (void)state;
    assert_non_null(gone);
    assert_true(gone < soon && soon < late);
    assert_null(strchr(out, '\x1b')); /* no escape reaches the terminal */
    assert_non_null(strstr(out, "CN=gone\\x1b[2J"));
    assert_non_null(strstr(out, "unreadable: /x/bad.pem: line 3: invalid base64"));
    assert_non_null(strstr(out, "3 certificates"));
    free(out);
}

static void
test_prometheus_grouped(void **state)
{
    struct evc_finding fs[2] = {finding("/a.pem", "CN=a", 5, "threshold"),
                                finding("/b.pem", "CN=b\"x", 9, "ok")};
    char *out, *after, *before, *status, *p;

    (void)state;
    fs[0].severity = 2;
    out = run(EVC_REPORT_PROMETHEUS, fs, 2);
    after = strstr(out, "# TYPE evercert_cert_not_after_timestamp_seconds gauge");
    before = strstr(out, "# TYPE evercert_cert_not_before_timestamp_seconds gauge");
    status = strstr(out, "# TYPE evercert_cert_status gauge");
    assert_true(after && before && status && after < before && before < status);
    /* Every sample of a family sits under its TYPE line, before the next family. */
    for (p = strstr(out, "evercert_cert_not_after_timestamp_seconds{"); p;
         p = strstr(p + 1, "evercert_cert_not_after_timestamp_seconds{")) {
        assert_true(p > after && p < before);
    }
    assert_non_null(strstr(out, "subject=\"CN=b\\\"x\""));
    assert_non_null(strstr(out, "status=\"threshold\"} 2\n"));
    assert_non_null(strstr(out, "} 1800000000\n"));
    assert_non_null(strstr(out, "evercert_scan_errors 1\n"));
    assert_non_null(strstr(out, "# error: /x/bad.pem: line 3: invalid base64\n"));
    free(out);
}

/* A subject with an escape sequence and bytes that are not UTF-8; a hook that printed the same. */
static void
renew_result(struct evc_renew_result *r, struct evc_renew_cert *c, struct evc_renew_action *a,
             char *long_subject)
{
    memset(r, 0, sizeof(*r));
    memset(c, 0, 2 * sizeof(*c));
    memset(a, 0, sizeof(*a));
    c[0].store = "web";
    c[0].subject = "CN=\x1b[31mevil\xff\xfe,O=\xc0\xaf";
    c[0].not_after = 1800000000;
    c[1].store = "web";
    c[1].subject = long_subject;
    a->action = "activate";
    a->reason = "due";
    a->store = "web";
    a->done = 1;
    a->hook_ran = 1;
    a->hook_status = 0;
    snprintf(a->hook_output, sizeof(a->hook_output), "reloaded \xff\xfe \x1b]0;owned\x07");
    snprintf(a->detail, sizeof(a->detail), "after_replace ran \xed\xa0\x80");
    r->certs = c;
    r->ncerts = 2;
    r->actions = a;
    r->nactions = 1;
}

static void
test_renew_report_untrusted(void **state)
{
    struct evc_renew_result r;
    struct evc_renew_cert c[2];
    struct evc_renew_action a;
    char long_subject[6000], *out = NULL;
    size_t outlen = 0;
    FILE *f;
    json_t *j, *act;
    json_error_t je;

    (void)state;
    memset(long_subject, 'x', sizeof(long_subject) - 1);
    memcpy(long_subject, "CN=", 3);
    long_subject[sizeof(long_subject) - 1] = '\0';
    renew_result(&r, c, &a, long_subject);
    /* JSON: valid, whole, the activate action there with its hook output. */
    f = open_memstream(&out, &outlen);
    assert_int_equal(evc_renew_report_json(&r, 0, 1800000000, NULL, f), 0);
    fclose(f);
    j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "certificates")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "certificates"), 0), "subject")),
                        "CN=\x1b[31mevil\xef\xbf\xbd\xef\xbf\xbd,O=\xef\xbf\xbd\xef\xbf\xbd");
    act = json_array_get(json_object_get(j, "actions"), 0);
    assert_string_equal(json_string_value(json_object_get(act, "action")), "activate");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(act, "hook"), "output")), "reloaded"));
    assert_null(strchr(out, '\x1b'));
    json_decref(j);
    free(out);
    /* Text: no escape, no invalid byte, the long subject cut. */
    out = NULL;
    f = open_memstream(&out, &outlen);
    assert_int_equal(evc_renew_report_text(&r, 0, 1800000000, f), 0);
    fclose(f);
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\xff'));
    assert_null(strchr(out, '\x07'));
    assert_non_null(strstr(out, "CN=\\x1b[31mevil\\xff\\xfe,O=\\xc0\\xaf"));
    assert_non_null(strstr(out, "after_replace ran \\xed\\xa0\\x80"));
    assert_non_null(strstr(out, "xxx..."));
    assert_true(outlen < 4000);
    free(out);
}

/* The message log escapes what its lines quote, for every sink. */
static void
test_log_escapes(void **state)
{
    struct evc_log l;
    char path[] = "/tmp/evc-log-XXXXXX", got[512];
    int fd = mkstemp(path), saved = dup(2);
    FILE *f;
    size_t n;

    (void)state;
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    assert_true(dup2(fd, 2) == 2);
    evc_log_init(&l, NULL, "evercert monitor");
    evc_logf(&l, 3, "hook said: %s", "\xff\xfe ok \x1b[2J\xc2\x9b\ttab");
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    f = fdopen(fd, "r");
    assert_non_null(f);
    rewind(f);
    n = fread(got, 1, sizeof(got) - 1, f);
    got[n] = '\0';
    fclose(f);
    unlink(path);
    assert_string_equal(got,
                        "evercert monitor: hook said: \\xff\\xfe ok \\x1b[2J\\u009b\\x09tab\n");
}

/*
 * A successor waiting for its clients, and one that went live at its
 * deadline: both reports show the deadline, the counts and who was not
 * ready (escaped); a wait is not work left undone.
 */
static void
test_renew_report_wait(void **state)
{
    struct evc_renew_result r;
    struct evc_renew_action a[3];
    char *out = NULL;
    size_t outlen = 0;
    FILE *f;
    json_t *j, *rd;
    json_error_t je;

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(a, 0, sizeof(a));
    a[0].action = "wait";
    a[0].reason = "not-ready";
    a[0].store = "web";
    a[0].activate_at = 1800000000;
    a[0].activate_by = 1800086400;
    a[0].ready_known = 1;
    a[0].clients = 3;
    a[0].ready = 1;
    snprintf(a[0].unready, sizeof(a[0].unready), "192.0.2.7 agent-\x1b 4, 192.0.2.8 - 3");
    snprintf(a[0].detail, sizeof(a[0].detail), "1 of 3 clients hold generation 5");
    a[1] = a[0];
    a[1].action = "activate";
    a[1].reason = "deadline";
    a[1].done = 1;
    /* An activation under activate = at has no deadline and no counts. */
    a[2].action = "activate";
    a[2].reason = "activate";
    a[2].store = "api";
    a[2].done = 1;
    r.actions = a;
    r.nactions = 3;
    f = open_memstream(&out, &outlen);
    assert_int_equal(evc_renew_report_text(&r, 0, 1800000000, f), 0);
    fclose(f);
    assert_non_null(strstr(out, "wait     web not-ready  activate at 2027-01-15T08:00:00Z "
                                "deadline 2027-01-16T08:00:00Z (1 of 3 clients hold generation 5) "
                                "[not ready: 192.0.2.7 agent-\\x1b 4, 192.0.2.8 - 3]\n"));
    assert_non_null(strstr(out, "activate web deadline   activate at"));
    assert_null(strstr(out, "NOT DONE"));
    assert_null(strstr(strstr(out, "activate api"), "not ready"));
    free(out);
    out = NULL;
    f = open_memstream(&out, &outlen);
    assert_int_equal(evc_activate_report_text(&r, 0, 1800000000, f), 0);
    fclose(f);
    assert_non_null(strstr(out, "waiting for its clients activate at"));
    assert_non_null(strstr(out, "2 successors activated"));
    free(out);
    out = NULL;
    f = open_memstream(&out, &outlen);
    assert_int_equal(evc_renew_report_json(&r, 0, 1800000000, NULL, f), 0);
    fclose(f);
    assert_non_null(j = json_loads(out, 0, &je));
    for (size_t i = 0; i < 2; i++) {
        json_t *act = json_array_get(json_object_get(j, "actions"), i);

        assert_string_equal(json_string_value(json_object_get(act, "activate_by")),
                            "2027-01-16T08:00:00Z");
        rd = json_object_get(act, "readiness");
        assert_true(json_is_true(json_object_get(rd, "known")));
        assert_int_equal(json_integer_value(json_object_get(rd, "clients")), 3);
        assert_int_equal(json_integer_value(json_object_get(rd, "ready")), 1);
        assert_string_equal(json_string_value(json_object_get(rd, "unready")),
                            "192.0.2.7 agent-\x1b 4, 192.0.2.8 - 3");
    }
    assert_null(json_object_get(json_array_get(json_object_get(j, "actions"), 2), "readiness"));
    assert_true(json_is_null(
        json_object_get(json_array_get(json_object_get(j, "actions"), 2), "activate_by")));
    json_decref(j);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_text_sorted_and_escaped),
        cmocka_unit_test(test_prometheus_grouped),
        cmocka_unit_test(test_renew_report_untrusted),
        cmocka_unit_test(test_renew_report_wait),
        cmocka_unit_test(test_log_escapes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
