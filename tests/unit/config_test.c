/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration file: every key, defaults, and every rejection with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evercert/config.h"
#include "evercert/monitor.h"

static const char good[] = "; a comment\n"
                           "[policy]\n"
                           "expiration_threshold = 33%\n"
                           "prenotification = 30d\n"
                           "auto_replace = false\n"
                           "delete_old = yes\n"
                           "reuse_key = true      ; inline comment\n"
                           "deleted_retention = 7d\n"
                           "distribution_window = 0\n"
                           "\n"
                           "[store \"root\"]\n"
                           "role = root\n"
                           "path = /etc/evercert/root.p12\n"
                           "password_file = secret.txt\n"
                           "[store \"web\"]\n"
                           "role = personal\n"
                           "cert = tls/site.crt\n"
                           "key = tls/site.key\n"
                           "service = www.example\n"
                           "after_replace = nginx -s reload\n"
                           "after_replace_shell = true\n"
                           "hook_timeout = 5s\n"
                           "verify = 127.0.0.1:8443\n"
                           "verify_servername = www.example\n"
                           "verify_timeout = 2s\n"
                           "[store \"deleted\"]\n"
                           "role = deleted\n"
                           "path = /var/lib/evercert/deleted\n"
                           "[monitor]\n"
                           "enabled = false\n"
                           "frequency = 30\n"
                           "day_of_week = Friday\n"
                           "hour = 4\n"
                           "minute = 5\n"
                           "state = state.db\n"
                           "metrics_file = /var/lib/node_exporter/evercert.prom\n"
                           "[notify]\n"
                           "log = syslog\n"
                           "report_file = report.json\n"
                           "email_to = ops@example.org|sec@example.org@mail.example.org\n"
                           "email_from = evercert@example.org\n"
                           "smtp_user = evercert\n"
                           "smtp_password_file = smtp.pass\n";

static void
test_good(void **state)
{
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    (void)state;
    assert_int_equal(evc_config_parse(good, strlen(good), "c.ini", "/etc/evercert", &c, &err), 0);
    assert_int_equal(c->policy.thresholds.threshold.unit, EVC_SPAN_PERCENT);
    assert_int_equal(c->policy.thresholds.threshold.value, 33);
    assert_int_equal(c->policy.thresholds.prenotify.value, 30 * 86400);
    assert_int_equal(c->policy.auto_replace, 0);
    assert_int_equal(c->policy.delete_old, 1);
    assert_int_equal(c->policy.reuse_key, 1);
    assert_int_equal(c->policy.deleted_retention, 7 * 86400);
    assert_int_equal(c->policy.window_set, 1);
    assert_int_equal(c->policy.window.value, 0);
    assert_int_equal(c->nstores, 3);
    assert_string_equal(c->stores[0].name, "root");
    assert_int_equal(c->stores[0].role, EVC_ROLE_ROOT);
    assert_string_equal(c->stores[0].password_file, "/etc/evercert/secret.txt");
    assert_int_equal(c->stores[0].line, 11);
    assert_string_equal(c->stores[1].cert, "/etc/evercert/tls/site.crt");
    assert_string_equal(c->stores[1].service, "www.example");
    assert_string_equal(c->stores[1].after_replace, "nginx -s reload");
    assert_int_equal(c->stores[1].after_replace_shell, 1);
    assert_int_equal(c->stores[1].hook_timeout, 5);
    assert_string_equal(c->stores[1].verify, "127.0.0.1:8443");
    assert_string_equal(c->stores[1].verify_servername, "www.example");
    assert_int_equal(c->stores[1].verify_timeout, 2);
    assert_int_equal(c->stores[2].role, EVC_ROLE_DELETED);
    assert_int_equal(c->monitor.enabled, 0);
    assert_int_equal(c->monitor.schedule.frequency, 30);
    assert_int_equal(c->monitor.schedule.day_of_week, 5);
    assert_int_equal(c->monitor.schedule.hour, 4);
    assert_int_equal(c->monitor.schedule.minute, 5);
    assert_string_equal(c->monitor.state, "/etc/evercert/state.db");
    assert_string_equal(c->notify.log, "syslog");
    assert_string_equal(c->notify.report_file, "/etc/evercert/report.json");
    assert_string_equal(c->notify.email_to, "ops@example.org|sec@example.org@mail.example.org");
    assert_string_equal(c->notify.smtp_password_file, "/etc/evercert/smtp.pass");
    evc_config_free(c);
}

static void
test_defaults(void **state)
{
    const char *t = "[store \"t\"]\nrole = trust\npath = b.pem\n";
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    (void)state;
    /* delete_old defaults to true; without a deleted store one is implied (test_default_deleted).
     */
    assert_int_equal(evc_config_parse(t, strlen(t), "c.ini", ".", &c, &err), 0);
    assert_int_equal(c->policy.delete_old, 1);
    assert_int_equal(c->nstores, 2);
    evc_config_free(c);
    t = "[policy]\ndelete_old = false\n[store \"t\"]\nrole = trust\npath = b.pem\n";
    assert_int_equal(evc_config_parse(t, strlen(t), "c.ini", ".", &c, &err), 0);
    assert_int_equal(c->nstores, 1);
    assert_int_equal(c->policy.thresholds.threshold.value, 60 * 86400);
    assert_int_equal(c->policy.thresholds.prenotify.value, 90 * 86400);
    assert_int_equal(c->policy.auto_replace, 1);
    assert_int_equal(c->policy.reuse_key, 0);
    assert_int_equal(c->policy.window_set, 0);
    assert_int_equal(c->policy.deleted_retention, 90 * 86400);
    assert_string_equal(c->stores[0].path, "./b.pem");
    /* WebSphere's schedule: every 14 days, Sunday 21:30. */
    assert_int_equal(c->monitor.enabled, 1);
    assert_int_equal(c->monitor.schedule.frequency, 14);
    assert_int_equal(c->monitor.schedule.day_of_week, 0);
    assert_int_equal(c->monitor.schedule.hour, 21);
    assert_int_equal(c->monitor.schedule.minute, 30);
    assert_null(c->monitor.state);
    evc_config_free(c);
}

static void
test_rejections(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"[policy]\nexpiration_threshold = soon\n",
         "c.ini:2: expiration_threshold: expected a duration like 60d or 33%, not 'soon'"},
        {"[policy]\ndeleted_retention = 10%\n",
         "c.ini:2: deleted_retention: expected a duration like 90d, not '10%'"},
        {"[policy]\ndistribution_window = -1\n", "c.ini:2: distribution_window: expected 0"},
        {"[policy]\nauto_replace = maybe\n", "c.ini:2: auto_replace: expected true or false"},
        {"[policy]\ncolour = blue\n", "c.ini:2: unknown key 'colour' in [policy]"},
        {"[policy]\nrole = root\n", "c.ini:2: unknown key 'role' in [policy]"},
        {"\n\n[stores \"x\"]\nrole = root\n", "c.ini:3: unknown section [stores \"x\"]"},
        {"[store \"\"]\nrole = root\n", "c.ini:1: unknown section"},
        {"[store \"a\"]\nrole = boss\n",
         "c.ini:2: role: expected root, personal, trust or deleted"},
        {"[store \"a\"]\nrole = root\nrole = trust\n", "c.ini:3: 'role' given twice"},
        {"[store \"a\"]\nrole = root\npath = a\n[store \"a\"]\nrole = trust\n",
         "c.ini:4: store \"a\" defined twice"},
        {"[store \"a\"]\npath = x\n", "c.ini:1: store \"a\": role is missing"},
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\ncert = a.crt\n",
         "c.ini:3: store \"w\": a personal store needs cert and key"},
        {"[policy]\ndelete_old = no\n[store \"r\"]\nrole = root\ncert = a.crt\n",
         "c.ini:3: store \"r\": this role needs path"},
        {"[policy]\ndelete_old = no\n[store \"r\"]\nrole = trust\npath = t\nservice = x\n",
         "c.ini:3: store \"r\": service, after_replace and verify belong to personal stores"},
        {"[monitor]\nfrequency = 0\n", "c.ini:2: frequency: expected a whole number from 1 to 366"},
        {"[monitor]\nhour = 24\n", "c.ini:2: hour: expected a whole number from 0 to 23"},
        {"[monitor]\nminute = 5x\n", "c.ini:2: minute: expected a whole number from 0 to 59"},
        {"[monitor]\nday_of_week = funday\n", "c.ini:2: day_of_week: expected a day like sunday"},
        {"[monitor]\nenabled = true\n[monitor]\nhour = 1\n", "c.ini:3: [monitor] given twice"},
        {"[notify]\nrole = trust\n", "c.ini:2: unknown key 'role' in [notify]"},
        {"[policy]\ndelete_old = no\n[notify]\nlog = file\n[store \"t\"]\nrole = trust\npath = t\n",
         "c.ini:4: log: expected stderr, syslog, journal or none"},
        {"[policy]\ndelete_old = no\n[notify]\nemail_to = a@b\n[store \"t\"]\nrole = trust\npath = "
         "t\n",
         "c.ini:4: email_to and email_from go together"},
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\nverify = "
         "host\n",
         "c.ini:3: store \"w\": verify: expected host:port"},
        {"[policy]\ndelete_old = no\n[store \"a\"]\nrole = trust\npath = x.pem\n"
         "[store \"b\"]\nrole = personal\ncert = x.pem\nkey = k\n",
         "c.ini:6: store \"b\": ./x.pem is also used by store \"a\""},
        {"[policy]\ndelete_old = no\n[store \"b\"]\nrole = personal\ncert = k\nkey = k\n",
         "c.ini:3: store \"b\": ./k is also used by store \"b\""},
        {"[store \"d\"]\nrole = deleted\npath = a\n[store \"e\"]\nrole = deleted\npath = b\n",
         "c.ini:4: store \"e\": a second store with role = deleted (one is allowed)"},
        {"[policy]\nexpiration_threshold = 30d\n[store \"w\"]\nrole = personal\ncert = w.crt\n"
         "key = w.key\n[store \"t\"]\nrole = trust\npath = c-deleted\n",
         "c.ini:7: store \"t\": its path is where replaced certificates go when no store has "
         "role = deleted"},
        {"[policy]\ndelete_old = no\n",
         "c.ini:1: no [store \"name\"] or [server \"name\"] sections"},
        {"[server \"s\"]\ntrust = t.pem\n", "c.ini:1: server \"s\": connect and trust are needed"},
        {"[server \"s\"]\nconnect = h:1\n", "c.ini:1: server \"s\": connect and trust are needed"},
        {"[server \"s\"]\nconnect = nohost\n",
         "c.ini:2: connect: expected host:port, not 'nohost'"},
        {"[server \"s\"]\nconnect = h:70000\n", "c.ini:2: connect: expected host:port"},
        {"[server \"s\"]\nconnect = :443\n", "c.ini:2: connect: expected host:port"},
        {"[server \"s\"]\nannounce = h:x\n", "c.ini:2: announce: expected host:port"},
        {"[server \"s\"]\npolicy = trusting\n", "c.ini:2: policy: expected auto, manual, ca or "
                                                "holddown=DURATION"},
        {"[server \"s\"]\npolicy = holddown=\n", "c.ini:2: policy: expected auto"},
        {"[server \"s\"]\npolicy = holddown=10%\n", "c.ini:2: policy: expected auto"},
        {"[server \"s\"]\nsources = handshake, carrier-pigeon\n",
         "c.ini:2: sources: 'carrier-pigeon' is not handshake, push or url"},
        {"[server \"s\"]\nsources = ,\n", "c.ini:2: sources: expected one or more"},
        {"[server \"s\"]\ntrust_format = jks\n",
         "c.ini:2: trust_format: expected auto, bundle, hashdir, pkcs12 or pin"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\nurl = http://h/x\n",
         "c.ini:1: server \"s\": url: expected https://host/path"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\nsources = url\n",
         "c.ini:1: server \"s\": sources has url but there is no url"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\nsources = push\n",
         "c.ini:1: server \"s\": sources has push but there is no announce"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\ninterval = 0s\n",
         "c.ini:1: server \"s\": interval must be more than 0"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\ntrust_format = pin\npassword_file = p\n",
         "c.ini:1: server \"s\": password_file is for a pkcs12 trust store"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\n[server \"s\"]\ntrust = u\n",
         "c.ini:4: server \"s\" defined twice"},
        {"[server \"s\"]\nrole = trust\n", "c.ini:2: unknown key 'role' in a server"},
        {"[agent]\nconnect = h:1\n", "c.ini:2: unknown key 'connect' in [agent]"},
        {"[agent]\nstate = a\n[agent]\ndeleted = d\n", "c.ini:3: [agent] given twice"},
        {"[server \"s]\nconnect = h:1\n", "c.ini:1: unknown section [server \"s]"},
        {"orphan = 1\n", "c.ini:1: 'orphan' outside any section"},
        {"[policy]\nthis line has no equals sign\n", "c.ini:2: not a section"},
        {"[policy]\npath = \n", "c.ini:2: unknown key 'path'"},
    };
    struct evc_config *c;
    struct evc_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        c = (struct evc_config *)1;
        if (evc_config_parse(bad[i].text, strlen(bad[i].text), "c.ini", ".", &c, &err) !=
            EVC_ERR_CONFIG) {
            fail_msg("case %zu: accepted", i);
        }
        assert_null(c);
        if (strncmp(err.detail, bad[i].want, strlen(bad[i].want)) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, err.detail, bad[i].want);
        }
    }
    memset(&err, 0, sizeof(err));
    assert_int_equal(evc_config_parse("[policy]\0x", 10, "c.ini", ".", &c, &err), EVC_ERR_CONFIG);
    assert_string_equal(err.detail, "c.ini: contains a NUL byte");
}

/* The agent's sections: values, defaults, and what "sources" defaults to. */
static void
test_servers(void **state)
{
    static const char text[] =
        "[agent]\nstate = /var/lib/evercert/agent.db\ndeleted = gone\n"
        "[server \"web\"]\nconnect = [::1]:8443\ntrust = trust.pem\n"
        "[server \"api\"]\nconnect = 127.0.0.1:443\nservice = api.example\n"
        "trust = certs\ntrust_format = hashdir\npolicy = holddown=30d\n"
        "url = https://api.example/.well-known/evercert/successor\n"
        "announce = 127.0.0.1:8444\ninterval = 10m\n"
        "after_change = systemctl reload app\n"
        "[server \"pin\"]\nconnect = h:1\ntrust = p.pem\ntrust_format = pin\n"
        "policy = manual\nannounce = h:2\nsources = push, handshake\n";
    struct evc_config *c;
    struct evc_err err;

    (void)state;
    memset(&err, 0, sizeof(err));
    if (evc_config_parse(text, strlen(text), "/etc/a.ini", "/etc", &c, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    assert_int_equal(c->nstores, 0);
    assert_int_equal(c->nservers, 3);
    assert_string_equal(c->agent.state, "/var/lib/evercert/agent.db");
    assert_string_equal(c->agent.deleted, "/etc/gone");
    assert_string_equal(c->servers[0].name, "web");
    assert_string_equal(c->servers[0].service, "::1");
    assert_string_equal(c->servers[0].trust, "/etc/trust.pem");
    assert_int_equal(c->servers[0].trust_format, EVC_TRUST_AUTO);
    assert_int_equal(c->servers[0].sources, EVC_SOURCE_HANDSHAKE);
    assert_int_equal(c->servers[0].interval, 3600);
    assert_int_equal(c->servers[0].holddown, 0);
    assert_int_equal(c->servers[0].policy, 0);
    assert_int_equal(c->servers[0].line, 4);
    assert_string_equal(c->servers[1].service, "api.example");
    assert_int_equal(c->servers[1].trust_format, EVC_TRUST_HASHDIR);
    assert_int_equal(c->servers[1].holddown, 30 * 86400);
    assert_int_equal(c->servers[1].interval, 600);
    assert_int_equal(c->servers[1].sources,
                     EVC_SOURCE_HANDSHAKE | EVC_SOURCE_PUSH | EVC_SOURCE_URL);
    assert_string_equal(c->servers[1].after_change, "systemctl reload app");
    assert_int_equal(c->servers[2].policy, 1);
    assert_int_equal(c->servers[2].trust_format, EVC_TRUST_PIN);
    assert_int_equal(c->servers[2].sources, EVC_SOURCE_HANDSHAKE | EVC_SOURCE_PUSH);
    assert_string_equal(evc_trust_format_name(EVC_TRUST_PKCS12), "pkcs12");
    evc_config_free(c);
}

/*
 * A minimal configuration (one personal store) loads: with delete_old, the
 * default, and no deleted store, replaced certificates go to a directory
 * beside the state database, named after it.
 */
static void
test_default_deleted(void **state)
{
    static const struct {
        const char *name, *dir, *extra, *want;
    } cases[] = {
        {"c.ini", "/srv/x", "", "/srv/x/c-deleted"},
        {"/srv/x/web.conf", "/srv/x", "", "/srv/x/web-deleted"},
        {"c.ini", ".", "", "./c-deleted"},
        {"/etc/evercert/evercert.ini", "/etc/evercert", "", "/var/lib/evercert/deleted"},
        {"/etc/nginx/site.ini", "/etc/nginx", "", "/var/lib/evercert/site-deleted"},
        {"c.ini", "/srv/x", "[monitor]\nstate = /srv/s/mon.db\n", "/srv/s/mon-deleted"},
        {"c.ini", "/srv/x", "[monitor]\nstate = run/state.db\n", "/srv/x/run/deleted"},
        {"c.ini", "/srv/x", "[monitor]\nstate = m.sqlite\n", "/srv/x/m.sqlite-deleted"},
    };
    const char *minimal = "[store \"web\"]\nrole = personal\ncert = w.crt\nkey = w.key\n";
    struct evc_config *c = NULL;
    struct evc_err err = {0};
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "%s%s", cases[i].extra, minimal);
        if (evc_config_parse(text, strlen(text), cases[i].name, cases[i].dir, &c, &err) != 0) {
            fail_msg("case %zu: %s", i, err.detail);
        }
        assert_int_equal(c->nstores, 2);
        assert_int_equal(c->stores[1].role, EVC_ROLE_DELETED);
        assert_int_equal(c->stores[1].implicit, 1);
        assert_string_equal(c->stores[1].name, "deleted");
        if (strcmp(c->stores[1].path, cases[i].want) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, c->stores[1].path, cases[i].want);
        }
        assert_int_equal(c->stores[0].implicit, 0);
        evc_config_free(c);
        c = NULL;
    }
    /* A store already named "deleted" keeps its name. */
    snprintf(text, sizeof(text), "%s[store \"deleted\"]\nrole = trust\npath = b.pem\n", minimal);
    assert_int_equal(evc_config_parse(text, strlen(text), "c.ini", "/srv/x", &c, &err), 0);
    assert_int_equal(c->nstores, 3);
    assert_string_equal(c->stores[2].name, "default-deleted");
    evc_config_free(c);
    /* None when a store has role = deleted, when delete_old is off, or for an agent. */
    snprintf(text, sizeof(text), "%s[store \"d\"]\nrole = deleted\npath = gone\n", minimal);
    assert_int_equal(evc_config_parse(text, strlen(text), "c.ini", "/srv/x", &c, &err), 0);
    assert_int_equal(c->nstores, 2);
    assert_int_equal(c->stores[1].implicit, 0);
    evc_config_free(c);
    snprintf(text, sizeof(text), "[policy]\ndelete_old = false\n%s", minimal);
    assert_int_equal(evc_config_parse(text, strlen(text), "c.ini", "/srv/x", &c, &err), 0);
    assert_int_equal(c->nstores, 1);
    evc_config_free(c);
    snprintf(text, sizeof(text), "[server \"s\"]\nconnect = h:1\ntrust = t.pem\n");
    assert_int_equal(evc_config_parse(text, strlen(text), "c.ini", "/srv/x", &c, &err), 0);
    assert_int_equal(c->nstores, 0);
    evc_config_free(c);
}

/*
 * The monitor's state follows its configuration: two configurations never
 * share one, whoever runs them; a system one's lives in /var/lib/evercert.
 */
static void
test_state_path(void **state)
{
    static const struct {
        const char *config, *configured, *want;
    } cases[] = {
        {"/etc/evercert/evercert.ini", NULL, "/var/lib/evercert/state.db"},
        {"/etc/evercert/evercert.conf", NULL, "/var/lib/evercert/state.db"},
        {"/etc/evercert/web.ini", NULL, "/var/lib/evercert/web.db"},
        {"/etc/nginx/site.conf", NULL, "/var/lib/evercert/site.db"},
        {"/tmp/x/evercert.conf", NULL, "/tmp/x/evercert-state.db"},
        {"/tmp/x/a.ini", NULL, "/tmp/x/a-state.db"},
        {"/tmp/x/b.ini", NULL, "/tmp/x/b-state.db"},
        {"c.ini", NULL, "c-state.db"},
        {"/etcetera/c.ini", NULL, "/etcetera/c-state.db"},
        {"/tmp/x/a.ini", "/srv/s.db", "/srv/s.db"},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evc_monitor_state_path(cases[i].config, cases[i].configured, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("case %zu (%s): got '%s', want '%s'", i, cases[i].config, out, cases[i].want);
        }
    }
}

static void
test_role_names(void **state)
{
    (void)state;
    assert_string_equal(evc_role_name(EVC_ROLE_ROOT), "root");
    assert_string_equal(evc_role_name(EVC_ROLE_DELETED), "deleted");
    assert_string_equal(evc_role_name((enum evc_role)99), "?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),       cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_rejections), cmocka_unit_test(test_servers),
        cmocka_unit_test(test_role_names), cmocka_unit_test(test_default_deleted),
        cmocka_unit_test(test_state_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
