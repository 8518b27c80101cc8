/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration file: every key, defaults, and every rejection with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evercert/config.h"
#include "evercert/limits.h"
#include "evercert/monitor.h"
#include "config/config_int.h"

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
        {"[policy]\nauto_replace = maybe\n",
         "c.ini:2: auto_replace: expected true or false (or yes, on, no, off), not 'maybe'"},
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
         "c.ini:6: store \"r\": service, after_replace and verify belong to personal stores"},
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
         "c.ini:7: store \"w\": verify: expected host:port"},
        {"[policy]\ndelete_old = no\n[store \"a\"]\nrole = trust\npath = x.pem\n"
         "[store \"b\"]\nrole = personal\ncert = x.pem\nkey = k\n",
         "c.ini:8: store \"b\": ./x.pem is also used by store \"a\""},
        {"[policy]\ndelete_old = no\n[store \"b\"]\nrole = personal\ncert = k\nkey = k\n",
         "c.ini:6: store \"b\": ./k is also used by store \"b\""},
        {"[store \"d\"]\nrole = deleted\npath = a\n[store \"e\"]\nrole = deleted\npath = b\n",
         "c.ini:4: store \"e\": a second store with role = deleted (one is allowed)"},
        {"[policy]\nexpiration_threshold = 30d\n[store \"w\"]\nrole = personal\ncert = w.crt\n"
         "key = w.key\n[store \"t\"]\nrole = trust\npath = c-deleted\n",
         "c.ini:9: store \"t\": its path is where replaced certificates go when no store has "
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
        {"[server \"s\"]\ntrust_format = keychain\n",
         "c.ini:2: trust_format: expected auto, bundle, hashdir, pkcs12, pin, nss, system or jks"},
        {"[server \"s\"]\nconnect = h:1\ntrust = nss:ff\ntrust_format = bundle\n",
         "c.ini:4: server \"s\": trust = nss:DIR is an NSS database, not trust_format = bundle"},
        {"[server \"s\"]\nconnect = h:1\ntrust = sql:\n",
         "c.ini:3: trust: no directory after nss: or sql:"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\nurl = http://h/x\n",
         "c.ini:4: server \"s\": url: expected https://host/path"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\nsources = url\n",
         "c.ini:4: server \"s\": sources has url but there is no url"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\nsources = push\n",
         "c.ini:4: server \"s\": sources has push but there is no announce"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\ninterval = 0s\n",
         "c.ini:4: interval: '0s' is too short; at least 1s"},
        {"[server \"s\"]\nconnect = h:1\ntrust = t\ntrust_format = pin\npassword_file = p\n",
         "c.ini:5: server \"s\": password_file is for a pkcs12 or jks trust store or an nss "
         "database"},
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
        "policy = manual\nannounce = h:2\nsources = push, handshake\n"
        "[server \"firefox\"]\nconnect = h:1\ntrust = sql:profile\npassword_file = pw\n"
        "[server \"chromium\"]\nconnect = h:1\ntrust = nss:/home/u/.pki/nssdb\n"
        "trust_format = nss\n"

        "[server \"sys\"]\nconnect = h:1\ntrust = /usr/local/share/ca-certificates/web\n"
        "trust_format = system\n";
    struct evc_config *c;
    struct evc_err err;

    (void)state;
    memset(&err, 0, sizeof(err));
    if (evc_config_parse(text, strlen(text), "/etc/a.ini", "/etc", &c, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    assert_int_equal(c->nstores, 0);
    assert_int_equal(c->nservers, 6);
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
    /* nss:DIR and sql:DIR select the NSS format; the path is the directory's. */
    assert_string_equal(c->servers[3].trust, "/etc/profile");
    assert_int_equal(c->servers[3].trust_format, EVC_TRUST_NSS);
    assert_string_equal(c->servers[3].password_file, "/etc/pw");
    assert_string_equal(c->servers[4].trust, "/home/u/.pki/nssdb");
    assert_int_equal(c->servers[4].trust_format, EVC_TRUST_NSS);
    assert_string_equal(evc_trust_format_name(EVC_TRUST_NSS), "nss");
    assert_string_equal(evc_trust_format_name(EVC_TRUST_PKCS12), "pkcs12");
    assert_int_equal(c->servers[5].trust_format, EVC_TRUST_SYSTEM);
    assert_string_equal(evc_trust_format_name(EVC_TRUST_SYSTEM), "system");
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
        evc_config_state_path(cases[i].config, cases[i].configured, out, sizeof(out));
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

/*
 * Every error is reported at its own line, whatever comes before it:
 * comments, blank lines, CRLF, a byte order mark, keys of the same name
 * in earlier sections, values that look like keys.
 */
static void
test_lines(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"; c\n# d\n\n[policy]\n\n; x\nreuse_key = maybe\n", "c.ini:7: reuse_key: expected"},
        {"[policy]\r\n\r\n\r\nreuse_key = maybe\r\n", "c.ini:4: reuse_key: expected true"},
        {"\xEF\xBB\xBF[policy]\nreuse_key = maybe\n", "c.ini:2: reuse_key"},
        {"[store \"a\"]\nrole = trust\npath = a\n[store \"b\"]\nrole = trust\nrole = root\n",
         "c.ini:6: 'role' given twice"},
        {"[notify]\nemail_to = hour = 1\n[monitor]\nhour = 99\n", "c.ini:4: hour: expected"},
        {"[monitor]\nhour = 1\n\n  ; an indented comment\n\nminute = 61\n", "c.ini:6: minute"},
        /* Continuations: an indented line right after a key, at its own line. */
        {"[policy]\nauto_replace = true\n  false\n",
         "c.ini:3: an indented line continues the value above; a value is one line"},
        {"[policy]\nauto_replace = true\n\treuse_key = true\n", "c.ini:3: an indented line"},
        {"[policy]\nauto_replace = true\n; c\n\n  x\n", "c.ini:5: an indented line"},
        /* Headers. */
        {"[policy]\nreuse_key = no\n\n[policy\n", "c.ini:4: a section header without ']'"},
        {"[policy]\n[bogus]\n", "c.ini:2: unknown section [bogus]"},
        {"[policy]\n[store \"x\"]\n[policy]\n", "c.ini:3: [policy] given twice"},
        {"[policy]\ndelete_old = no\n\n[store \"x\"]\n", "c.ini:4: store \"x\": role is missing"},
        /* Keys and values. */
        {"[policy]\n= 1\n", "c.ini:2: unknown key '' in [policy]"},
        {"\n\nx = 1\n", "c.ini:3: 'x' outside any section"},
        {"[policy]\nreuse_key ; = true\n", "c.ini:2: not a section, a key = value or a comment"},
        {"[notify]\nlog = stderr\nemail_from = a@b\n[store \"t\"]\nrole = trust\npath = t\n",
         "c.ini:3: email_to and email_from go"},
        {"[policy]\ndelete_old = no\n[monitor]\nstate = s.db\n[notify]\n\nlog = file\n"
         "[store \"t\"]\nrole = trust\npath = t\n",
         "c.ini:7: log: expected stderr"},
    };
    char big[EVC_CONFIG_LINE_MAX + 64];
    struct evc_config *c;
    struct evc_err err;
    int n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (evc_config_parse(bad[i].text, strlen(bad[i].text), "c.ini", ".", &c, &err) !=
            EVC_ERR_CONFIG) {
            fail_msg("case %zu: accepted", i);
        }
        if (strncmp(err.detail, bad[i].want, strlen(bad[i].want)) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, err.detail, bad[i].want);
        }
    }
    /* A line over the cap, at its line. */
    n = snprintf(big, sizeof(big), "[policy]\n\nreuse_key = %0*d\n", EVC_CONFIG_LINE_MAX, 0);
    assert_true(n > 0 && (size_t)n < sizeof(big));
    memset(&err, 0, sizeof(err));
    assert_int_equal(evc_config_parse(big, (size_t)n, "c.ini", ".", &c, &err), EVC_ERR_CONFIG);
    assert_string_equal(err.detail, "c.ini:3: line too long");
}

/* What the files always accepted still parses the same. */
static void
test_syntax(void **state)
{
    static const char text[] = "\xEF\xBB\xBF"
                               "  ; indented comment\n"
                               "[policy]   trailing text after the header is ignored\n"
                               "  reuse_key: yes ; a colon and an inline comment\n"
                               "expiration_threshold=10d\n"
                               "[notify]\r\n"
                               "email_to = a@b;not-a-comment\n"
                               "email_from = x@y   # not a comment either\n"
                               "[store \"a b\"]\n"
                               "role = trust\n"
                               "path = t.pem\n";
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    (void)state;
    if (evc_config_parse(text, strlen(text), "c.ini", ".", &c, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    assert_int_equal(c->policy.reuse_key, 1);
    assert_int_equal(c->policy.thresholds.threshold.value, 10 * 86400);
    assert_string_equal(c->notify.email_to, "a@b;not-a-comment");
    assert_string_equal(c->notify.email_from, "x@y   # not a comment either");
    assert_string_equal(c->stores[0].name, "a b");
    assert_int_equal(c->stores[0].line, 8);
    assert_int_equal(evc_config_key_line(c, "policy", "reuse_key"), 3);
    assert_int_equal(evc_config_key_line(c, "policy", "expiration_threshold"), 4);
    assert_int_equal(evc_config_key_line(c, "policy", "auto_replace"), 0);
    assert_int_equal(evc_config_key_line(c, "nosuch", "key"), 0);
    evc_config_free(c);
}

/* The size of the field a key sets. */
static size_t
field_size(const struct evc_key_def *k)
{
    switch (k->type) {
    case EVC_KT_SPAN:
    case EVC_KT_WINDOW:
        return sizeof(struct evc_span);
    case EVC_KT_SECONDS:
        return sizeof(int64_t);
    case EVC_KT_PATH:
    case EVC_KT_TEXT:
    case EVC_KT_HOSTPORT:
        return sizeof(char *);
    case EVC_KT_SOURCES:
        return sizeof(unsigned);
    default:
        return sizeof(int);
    }
}

static void *
base_of(struct evc_config *c, enum evc_section s)
{
    switch (s) {
    case EVC_SEC_POLICY:
        return &c->policy;
    case EVC_SEC_STORE:
        return &c->stores[0];
    case EVC_SEC_MONITOR:
        return &c->monitor;
    case EVC_SEC_NOTIFY:
        return &c->notify;
    case EVC_SEC_AGENT:
        return &c->agent;
    case EVC_SEC_FLEET:
        return &c->fleet;
    case EVC_SEC_ENDPOINT:
        return &c->endpoints[0];
    default:
        return &c->servers[0];
    }
}

/*
 * The defaults are the table's: a file that gives every key with a
 * default that default parses to what a file without them does.
 */
static void
test_table_defaults(void **state)
{
    static const char *const head[] = {
        "[policy]\n",       "[store \"s\"]\n",
        "[monitor]\n",      "[notify]\n",
        "[agent]\n",        "[fleet]\n",
        "[server \"v\"]\n", "[endpoint \"e\"]\naddress = tls://h:1\n"};
    static const char tail[] = "[store \"s\"]\nrole = trust\npath = t.pem\n"
                               "[server \"v\"]\nconnect = h:1\ntrust = v.pem\n"
                               "[endpoint \"e\"]\naddress = tls://h:1\n";
    char text[8192];
    size_t len = 0;
    struct evc_config *a = NULL, *b = NULL;
    struct evc_err err = {0};
    unsigned defaults = 0;

    (void)state;
    assert_int_equal(evc_config_parse(tail, strlen(tail), "c.ini", ".", &a, &err), 0);
    for (int s = 0; s < EVC_SEC_COUNT; s++) {
        if (s == EVC_SEC_STORE || s == EVC_SEC_SERVER) {
            continue; /* given below, with the keys they need */
        }
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", head[s]);
        for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
            if ((int)evc_config_keys[i].section == s && evc_config_keys[i].dflt != NULL) {
                len += (size_t)snprintf(text + len, sizeof(text) - len, "%s = %s\n",
                                        evc_config_keys[i].name, evc_config_keys[i].dflt);
            }
        }
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "[store \"s\"]\nrole = trust\npath = t.pem\n");
    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        if (evc_config_keys[i].section == EVC_SEC_STORE && evc_config_keys[i].dflt != NULL) {
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s = %s\n",
                                    evc_config_keys[i].name, evc_config_keys[i].dflt);
        }
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "[server \"v\"]\nconnect = h:1\ntrust = v.pem\n");
    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        if (evc_config_keys[i].section == EVC_SEC_SERVER && evc_config_keys[i].dflt != NULL) {
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s = %s\n",
                                    evc_config_keys[i].name, evc_config_keys[i].dflt);
        }
    }
    assert_true(len < sizeof(text));
    if (evc_config_parse(text, len, "c.ini", ".", &b, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        const struct evc_key_def *k = &evc_config_keys[i];

        if (k->dflt == NULL) {
            continue;
        }
        defaults++;
        if (memcmp((char *)base_of(a, k->section) + k->offset,
                   (char *)base_of(b, k->section) + k->offset, field_size(k)) != 0) {
            fail_msg("%s: the default differs from '%s' given", k->name, k->dflt);
        }
    }
    assert_true(defaults >= 15);
    /* The documented defaults, through the table. */
    assert_int_equal(a->monitor.schedule.frequency, 14);
    assert_int_equal(a->stores[0].hook_timeout, 30);
    assert_int_equal(a->stores[0].verify_timeout, 10);
    assert_int_equal(a->servers[0].interval, 3600);
    assert_int_equal(a->servers[0].hook_timeout, 30);
    assert_int_equal(a->endpoints[0].timeout, 10);
    evc_config_free(a);
    evc_config_free(b);
}

/* A value each type accepts, and one it refuses (NULL: it takes any text). */
static void
samples(enum evc_key_type t, const char **ok, const char **bad)
{
    static const struct {
        const char *good, *bad;
    } s[EVC_KT_COUNT] = {
        [EVC_KT_SPAN] = {"33%", "soon"},
        [EVC_KT_SECONDS] = {"1h", "10%"},
        [EVC_KT_WINDOW] = {"0", "-1"},
        [EVC_KT_BOOL] = {"on", "maybe"},
        [EVC_KT_ROLE] = {"trust", "boss"},
        [EVC_KT_PATH] = {"a/b", ""},
        [EVC_KT_TEXT] = {"any text", NULL},
        [EVC_KT_INT] = {NULL, "x"},
        [EVC_KT_WEEKDAY] = {"Friday", "funday"},
        [EVC_KT_HOSTPORT] = {"[::1]:443", "h:0"},
        [EVC_KT_FORMAT] = {"jks", "jceks"},
        [EVC_KT_POLICY] = {"holddown=2d", "trusting"},
        [EVC_KT_SOURCES] = {"push, url", ","},
        [EVC_KT_ACTIVATE] = {"ready:95%", "ready:0"},
        [EVC_KT_ENDPOINT] = {"unix:s.sock", "h:0"},
    };

    *ok = s[t].good;
    *bad = s[t].bad;
}

/* Every key of the table is set by the parser, within its bounds, and refused outside. */
static void
test_every_key(void **state)
{
    struct evc_config *c = calloc(1, sizeof(*c));
    struct evc_store_conf store;
    struct evc_server_conf server;
    struct evc_endpoint_conf endpoint;
    struct evc_parser ps;
    struct evc_err err;
    char v[32], want[64];

    (void)state;
    assert_non_null(c);
    memset(&store, 0, sizeof(store));
    memset(&server, 0, sizeof(server));
    memset(&endpoint, 0, sizeof(endpoint));
    c->stores = &store;
    c->servers = &server;
    c->endpoints = &endpoint;
    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        const struct evc_key_def *k = &evc_config_keys[i];
        const char *ok, *bad;
        void *base = base_of(c, k->section);

        samples(k->type, &ok, &bad);
        memset(&ps, 0, sizeof(ps));
        memset(&err, 0, sizeof(err));
        ps.c = c;
        ps.name = "c.ini";
        ps.dir = "/d";
        ps.err = &err;
        ps.line = i + 1;
        if (k->type == EVC_KT_SECONDS) {
            /* A duration's bounds, in seconds, like an INT's. */
            assert_true(k->min < k->max);
            snprintf(v, sizeof(v), "%ds", k->min);
            assert_int_equal(evc_config_set(&ps, k, base, v), 1);
            assert_int_equal(*(int64_t *)((char *)base + k->offset), k->min);
            snprintf(v, sizeof(v), "%ds", k->max);
            assert_int_equal(evc_config_set(&ps, k, base, v), 1);
            assert_int_equal(*(int64_t *)((char *)base + k->offset), k->max);
            snprintf(v, sizeof(v), "%ds", k->max + 1);
            assert_int_equal(evc_config_set(&ps, k, base, v), 0);
            ps.failed = 0;
            if (k->min > 0) {
                snprintf(v, sizeof(v), "%ds", k->min - 1);
                assert_int_equal(evc_config_set(&ps, k, base, v), 0);
                ps.failed = 0;
            }
        } else if (k->type == EVC_KT_INT) {
            assert_true(k->min < k->max);
            snprintf(v, sizeof(v), "%d", k->min);
            assert_int_equal(evc_config_set(&ps, k, base, v), 1);
            assert_int_equal(*(int *)((char *)base + k->offset), k->min);
            snprintf(v, sizeof(v), "%d", k->max);
            assert_int_equal(evc_config_set(&ps, k, base, v), 1);
            assert_int_equal(*(int *)((char *)base + k->offset), k->max);
            snprintf(v, sizeof(v), "%d", k->max + 1);
            assert_int_equal(evc_config_set(&ps, k, base, v), 0);
            ps.failed = 0;
            snprintf(v, sizeof(v), "%d", k->min - 1);
            assert_int_equal(evc_config_set(&ps, k, base, v), 0);
            ps.failed = 0;
        } else if (evc_config_set(&ps, k, base, ok) != 1) {
            fail_msg("%s = %s: %s", k->name, ok, err.detail);
        }
        if (bad != NULL) {
            memset(&err, 0, sizeof(err));
            ps.failed = 0;
            assert_int_equal(evc_config_set(&ps, k, base, bad), 0);
            snprintf(want, sizeof(want), "c.ini:%zu: %s: ", i + 1, k->name);
            if (strncmp(err.detail, want, strlen(want)) != 0) {
                fail_msg("%s = '%s': got '%s', want '%s...'", k->name, bad, err.detail, want);
            }
        }
        /* Every key has its doc line, and a restart key is one the reload can keep. */
        assert_non_null(evc_config_key_get0(i));
        assert_true(strlen(evc_config_key_get0(i)->doc) > 10);
        if (!k->reloadable) {
            assert_int_equal(k->type, EVC_KT_PATH);
        }
    }
    assert_null(evc_config_key_get0(EVC_CONFIG_NKEYS));
    /* The strings the setters made. */
    c->stores = NULL;
    c->servers = NULL;
    c->endpoints = NULL;
    free(endpoint.address);
    free(endpoint.store);
    free(endpoint.ca);
    free(store.path);
    free(store.cert);
    free(store.key);
    free(store.password_file);
    free(store.keystore);
    free(store.alias);
    free(store.publish);
    free(store.service);
    free(store.after_replace);
    free(store.verify);
    free(store.verify_servername);
    free(store.readiness);
    free(store.access_log);
    free(server.connect);
    free(server.service);
    free(server.trust);
    free(server.password_file);
    free(server.url);
    free(server.announce);
    free(server.after_change);
    evc_config_free(c);
}

/* A postgresql:// state: the URL is the fleet's, the local file is state_local (or the default). */
static void
test_fleet_state(void **state)
{
    static const char *const bad[][2] = {
        {"[monitor]\nstate_local = l.db\n",
         "c.ini:2: [monitor] state_local: only with a postgresql"},
        {"[agent]\nstate = /s.db\nstate_local = l.db\n", "c.ini:3: [agent] state_local: only with"},
        {"[store \"w\"]\nrole = personal\ncert = c\nkey = k\nshared = yes\n",
         "c.ini:5: store \"w\": shared needs a postgresql:// state"},
        {"[monitor]\nstate = postgresql://h/d\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\n"
         "shared = yes\n",
         "c.ini:7: store \"w\": shared needs"},
    };
    static const char fleet_good[] =
        "[monitor]\nstate = postgresql://u@db.example/fleet\nstate_local = l.db\n"
        "[agent]\nstate = postgres://db/f\n[fleet]\nkey_file = k\nhost = h1\n"
        "[store \"w\"]\nrole = personal\ncert = c\nkey = k\nshared = yes\n";
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    (void)state;
    assert_int_equal(evc_config_parse(fleet_good, strlen(fleet_good), "c.ini", "/d", &c, &err), 0);
    assert_string_equal(c->monitor.fleet_url, "postgresql://u@db.example/fleet");
    assert_string_equal(c->monitor.state, "/d/l.db");
    assert_string_equal(c->agent.fleet_url, "postgres://db/f");
    assert_null(c->agent.state);
    assert_string_equal(c->fleet.host, "h1");
    assert_int_equal(c->fleet.lease, 60);
    assert_int_equal(c->fleet.stale, 7200);
    assert_true(c->stores[0].shared);
    evc_config_free(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_not_equal(
            evc_config_parse(bad[i][0], strlen(bad[i][0]), "c.ini", "/d", &c, &err), 0);
        if (strncmp(err.detail, bad[i][1], strlen(bad[i][1])) != 0) {
            fail_msg("got '%s', want '%s...'", err.detail, bad[i][1]);
        }
    }
}

struct said {
    char msg[512];
    int n;
};

static void
say(void *arg, const char *msg)
{
    struct said *s = arg;

    snprintf(s->msg, sizeof(s->msg), "%s", msg);
    s->n++;
}

/* A reload keeps the keys that need a restart, and says which, where. */
static void
test_keep_fixed(void **state)
{
    static const char one[] = "[store \"t\"]\nrole = trust\npath = t.pem\n";
    static const char two[] = "[store \"t\"]\nrole = trust\npath = t.pem\n"
                              "[monitor]\nhour = 3\n\nstate = /srv/new.db\n";
    struct evc_config *a = NULL, *b = NULL;
    struct evc_err err = {0};
    struct said s = {"", 0};

    (void)state;
    assert_int_equal(evc_config_parse(one, strlen(one), "c.ini", "/srv", &a, &err), 0);
    assert_int_equal(evc_config_parse(two, strlen(two), "c.ini", "/srv", &b, &err), 0);
    assert_int_equal(evc_config_keep_fixed(a, b, say, &s), 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.msg, "[monitor] state changed in c.ini:7; takes effect after a restart "
                               "(state stays the default)");
    assert_null(b->monitor.state);
    assert_int_equal(b->monitor.schedule.hour, 3); /* reloadable: the new value */
    /* The deleted store beside the state stays with it. */
    assert_int_equal(b->nstores, 2);
    assert_int_equal(b->stores[1].implicit, 1);
    assert_string_equal(b->stores[1].path, "/srv/c-deleted");
    /* Back the other way: the configured state stays. */
    s.n = 0;
    evc_config_free(b);
    assert_int_equal(evc_config_parse(two, strlen(two), "c.ini", "/srv", &b, &err), 0);
    assert_int_equal(evc_config_keep_fixed(b, a, say, &s), 1);
    assert_string_equal(a->monitor.state, "/srv/new.db");
    assert_int_equal(s.n, 1);
    /* Nothing changed: nothing said. */
    s.n = 0;
    assert_int_equal(evc_config_keep_fixed(b, a, say, &s), 0);
    assert_int_equal(s.n, 0);
    evc_config_free(a);
    evc_config_free(b);
}

/*
 * An error from a cross-check or from check-config's disk checks about
 * one key names that key's line, wherever the key is in its section; one
 * about a missing key names the section's header.
 */
static void
test_key_lines(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"[server \"web\"]\nconnect = h:1\n; a comment\n\ntrust = t\ninterval = 0s\n",
         "a.ini:6: interval: '0s' is too short; at least 1s"},
        {"[policy]\ndelete_old = no\n\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\n"
         "verify = nohostport\n",
         "a.ini:8: store \"w\": verify: expected host:port"},
        {"[store \"r\"]\nrole = root\npath = r\nafter_replace = true\n",
         "a.ini:4: store \"r\": service, after_replace and verify belong to personal stores"},
        {"[store \"t\"]\nrole = trust\npath = t\n\nverify = h:1\n",
         "a.ini:5: store \"t\": service, after_replace and verify belong to personal stores"},
        {"[server \"s\"]\nurl = http://x/y\nconnect = h:1\ntrust = t\n",
         "a.ini:2: server \"s\": url: expected https://host/path"},
        {"[server \"s\"]\nsources = push\nconnect = h:1\ntrust = t\n",
         "a.ini:2: server \"s\": sources has push but there is no announce"},
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\npath = p\ncert = c\nkey = k\n",
         "a.ini:5: store \"w\": a personal store needs cert and key, or keystore (and no path)"},
        {"[policy]\ndelete_old = no\n[store \"r\"]\nrole = root\npath = p\n\nkey = k\n",
         "a.ini:7: store \"r\": this role needs path (and no cert or key)"},
        /* keystore instead of cert and key; alias with it; publish for personal stores. */
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\nkeystore = k.jks\n\ncert = "
         "c\n",
         "a.ini:7: store \"w\": keystore or cert and key: one or the other"},
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\nalias = "
         "a\n",
         "a.ini:7: store \"w\": alias needs keystore"},
        {"[policy]\ndelete_old = no\n[store \"t\"]\nrole = trust\npath = t\npublish = /srv\n",
         "a.ini:6: store \"t\": keystore, alias and publish belong to personal stores"},
        {"[policy]\ndelete_old = no\n[store \"a\"]\nrole = personal\nkeystore = k.jks\n"
         "[store \"b\"]\nrole = personal\nkeystore = k.jks\n",
         "a.ini:8: store \"b\": ./k.jks is also used by store \"a\""},
        /* Missing keys: the header's line. */
        {"[store \"a\"]\npath = x\n", "a.ini:1: store \"a\": role is missing"},
        {"\n[server \"s\"]\ntrust = t.pem\n",
         "a.ini:2: server \"s\": connect and trust are needed"},
    };
    struct evc_config *c;
    struct evc_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        c = NULL;
        if (evc_config_parse(bad[i].text, strlen(bad[i].text), "a.ini", ".", &c, &err) !=
            EVC_ERR_CONFIG) {
            fail_msg("case %zu: accepted", i);
        }
        if (strncmp(err.detail, bad[i].want, strlen(bad[i].want)) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, err.detail, bad[i].want);
        }
    }
}

/* check-config's disk checks name the key's line too. */
static void
test_check_key_lines(void **state)
{
    static const char text[] = "[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\n"
                               "cert = /nonexistent/c.crt\n\nkey = /nonexistent/k.key\n"
                               "[store \"t\"]\nrole = trust\npath = /\n"
                               "password_file = /nonexistent/pw\n";
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    (void)state;
    assert_int_equal(evc_config_parse(text, strlen(text), "a.ini", "/", &c, &err), 0);
    assert_int_equal(c->stores[0].key_lines[EVC_KEY_STORE_cert], 5);
    assert_int_equal(c->stores[0].key_lines[EVC_KEY_STORE_key], 7);
    assert_int_equal(c->stores[0].key_lines[EVC_KEY_STORE_verify], 0);
    assert_int_equal(evc_config_check(c, EVC_CONFIG_USE_ANY, NULL, NULL, &err), EVC_ERR_CONFIG);
    assert_string_equal(err.detail,
                        "a.ini:5: store \"w\": cert /nonexistent/c.crt: No such file or directory");
    /* Without the cert's failure, the next one is the password file's, at its line. */
    free(c->stores[0].cert);
    free(c->stores[0].key);
    c->stores[0].cert = strdup("/");
    c->stores[0].key = strdup("/");
    assert_non_null(c->stores[0].cert);
    assert_non_null(c->stores[0].key);
    c->stores[0].role = EVC_ROLE_TRUST;
    c->stores[0].path = strdup("/");
    assert_non_null(c->stores[0].path);
    memset(&err, 0, sizeof(err));
    assert_int_equal(evc_config_check(c, EVC_CONFIG_USE_ANY, NULL, NULL, &err), EVC_ERR_CONFIG);
    assert_string_equal(
        err.detail,
        "a.ini:11: store \"t\": password_file /nonexistent/pw: No such file or directory");
    evc_config_free(c);
}

/* Durations within the table's bounds, and a message that says them. */
static void
test_duration_bounds(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"[store \"w\"]\nhook_timeout = 0s\n",
         "c.ini:2: hook_timeout: '0s' is too short; at least 1s"},
        {"[store \"w\"]\nverify_timeout = 0s\n",
         "c.ini:2: verify_timeout: '0s' is too short; at least 1s"},
        {"[server \"s\"]\nhook_timeout = 0m\n",
         "c.ini:2: hook_timeout: '0m' is too short; at least 1s"},
        {"[store \"w\"]\nhook_timeout = 2d\n",
         "c.ini:2: hook_timeout: '2d' is too long; at most 1d"},
        {"[policy]\ndeleted_retention = 36500000d\n",
         "c.ini:2: deleted_retention: '36500000d' is too long; at most 3650d"},
        {"[policy]\ndeleted_retention = 99999999999999999999s\n",
         "c.ini:2: deleted_retention: '99999999999999999999s' is too long; at most 3650d"},
        {"[server \"s\"]\ninterval = 366d\n",
         "c.ini:2: interval: '366d' is too long; at most 365d"},
        /* Not a duration at all: the form is asked for, not a bound. */
        {"[policy]\ndeleted_retention = 90\n",
         "c.ini:2: deleted_retention: expected a duration like 90d, not '90'"},
        {"[policy]\ndeleted_retention = 9x\n", "c.ini:2: deleted_retention: expected a duration"},
        {"[policy]\ndeleted_retention = d\n", "c.ini:2: deleted_retention: expected a duration"},
        /* BOOL is lower case; the message names every word it takes. */
        {"[policy]\nreuse_key = Yes\n",
         "c.ini:2: reuse_key: expected true or false (or yes, on, no, off), not 'Yes'"},
    };
    static const char fine[] = "[policy]\ndeleted_retention = 0s\n[monitor]\nday_of_week = ANY\n"
                               "[store \"w\"]\nrole = trust\npath = t\nhook_timeout = 1s\n"
                               "verify_timeout = 1d\n";
    struct evc_config *c;
    struct evc_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        c = NULL;
        if (evc_config_parse(bad[i].text, strlen(bad[i].text), "c.ini", ".", &c, &err) !=
            EVC_ERR_CONFIG) {
            fail_msg("case %zu: accepted", i);
        }
        if (strncmp(err.detail, bad[i].want, strlen(bad[i].want)) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, err.detail, bad[i].want);
        }
    }
    /* The bounds themselves are taken; DAY is any case, "any" too. */
    memset(&err, 0, sizeof(err));
    c = NULL;
    assert_int_equal(evc_config_parse(fine, strlen(fine), "c.ini", ".", &c, &err), 0);
    assert_int_equal(c->policy.deleted_retention, 0);
    assert_int_equal(c->monitor.schedule.day_of_week, -1);
    assert_int_equal(c->stores[0].hook_timeout, 1);
    assert_int_equal(c->stores[0].verify_timeout, 86400);
    evc_config_free(c);
}

/* activate, activate_margin and the readiness sources: what they set, and their defaults. */
static void
test_activate(void **state)
{
    static const char *const text = "[policy]\n"
                                    "delete_old = no\n"
                                    "activate = ready:95%\n"
                                    "activate_margin = 2d\n"
                                    "[store \"web\"]\n"
                                    "role = personal\n"
                                    "cert = c\n"
                                    "key = k\n"
                                    "readiness = unix:run/status.sock\n"
                                    "[store \"api\"]\n"
                                    "role = personal\n"
                                    "cert = c2\n"
                                    "key = k2\n"
                                    "access_log = /var/log/nginx/access.log\n"
                                    "readiness_window = 1d\n";
    static const struct {
        const char *v;
        unsigned share;
    } shares[] = {{"ready", 100}, {"ready:1", 1}, {"ready:100%", 100}, {"ready:007", 7}};
    struct evc_config *c = NULL;
    struct evc_err err = {0};
    char buf[256];

    (void)state;
    assert_int_equal(evc_config_parse(text, strlen(text), "c.ini", "/etc/e", &c, &err), 0);
    assert_int_equal(c->policy.activate, EVC_ACTIVATE_READY);
    assert_int_equal(c->policy.ready_share, 95);
    assert_int_equal(c->policy.margin.unit, EVC_SPAN_SECONDS);
    assert_int_equal(c->policy.margin.value, 2 * 86400);
    assert_string_equal(c->stores[0].readiness, "unix:/etc/e/run/status.sock");
    assert_null(c->stores[0].access_log);
    assert_int_equal(c->stores[0].readiness_window, 7 * 86400);
    assert_string_equal(c->stores[1].access_log, "/var/log/nginx/access.log");
    assert_int_equal(c->stores[1].readiness_window, 86400);
    evc_config_free(c);
    /* The defaults: at, and a margin of 10% of the old lifetime; no source is needed. */
    snprintf(buf, sizeof(buf),
             "[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\n"
             "cert = c\nkey = k\n");
    assert_int_equal(evc_config_parse(buf, strlen(buf), "c.ini", ".", &c, &err), 0);
    assert_int_equal(c->policy.activate, EVC_ACTIVATE_AT);
    assert_int_equal(c->policy.margin.unit, EVC_SPAN_PERCENT);
    assert_int_equal(c->policy.margin.value, 10);
    evc_config_free(c);
    for (size_t i = 0; i < sizeof(shares) / sizeof(shares[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "[policy]\ndelete_old = no\nactivate = %s\n[store \"w\"]\nrole = personal\n"
                 "cert = c\nkey = k\nreadiness = 127.0.0.1:9000\n",
                 shares[i].v);
        assert_int_equal(evc_config_parse(buf, strlen(buf), "c.ini", ".", &c, &err), 0);
        assert_int_equal(c->policy.activate, EVC_ACTIVATE_READY);
        assert_int_equal(c->policy.ready_share, shares[i].share);
        assert_string_equal(c->stores[0].readiness, "127.0.0.1:9000");
        evc_config_free(c);
    }
}

/* Every refusal of the activation keys, at the line that is wrong. */
static void
test_activate_bad(void **state)
{
    static const char *const values[] = {"ready:0",   "ready:101", "ready:-5",  "ready: 5",
                                         "ready:5%%", "ready:",    "later",     "ready:1000",
                                         "READY",     "ready:+5",  "ready:5 %", "at:5"};
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        /* ready without a way to count the clients: the store's header. */
        {"[policy]\ndelete_old = no\nactivate = ready\n\n[store \"w\"]\nrole = personal\n"
         "cert = c\nkey = k\n",
         "a.ini:5: store \"w\": activate = ready needs readiness = HOST:PORT|unix:PATH or "
         "access_log = PATH in each personal store"},
        /* Both sources: the later line. */
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\n"
         "access_log = a.log\nreadiness = h:1\n",
         "a.ini:8: store \"w\": readiness and access_log: one or the other"},
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\n"
         "readiness = h:1\naccess_log = a.log\n",
         "a.ini:8: store \"w\": readiness and access_log: one or the other"},
        /* A source on a store without clients. */
        {"[store \"t\"]\nrole = trust\npath = t\naccess_log = a.log\n",
         "a.ini:4: store \"t\": readiness and access_log belong to personal stores"},
        {"[store \"w\"]\nrole = personal\ncert = c\nkey = k\nreadiness = h:0\n",
         "a.ini:5: readiness: expected host:port or unix:PATH, not 'h:0'"},
        {"[store \"w\"]\nrole = personal\ncert = c\nkey = k\nreadiness = unix:\n",
         "a.ini:5: readiness: unix: needs a socket's path"},
        {"[policy]\ndelete_old = no\n[store \"w\"]\nrole = personal\ncert = c\nkey = k\n"
         "readiness = unix:/"
         "a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789"
         "a123456789a123456789a123456789\n",
         "a.ini:7: store \"w\": readiness: the socket's path is too long for a unix socket"},
        {"[store \"w\"]\nrole = personal\ncert = c\nkey = k\nreadiness_window = 30s\n",
         "a.ini:5: readiness_window: '30s' is too short; at least 1m"},
        {"[store \"w\"]\nrole = personal\ncert = c\nkey = k\nreadiness_window = 366d\n",
         "a.ini:5: readiness_window: '366d' is too long; at most 365d"},
        {"[policy]\nactivate_margin = soon\n",
         "a.ini:2: activate_margin: expected a duration like 60d or 33%, not 'soon'"},
    };
    struct evc_config *c;
    struct evc_err err;
    char buf[256], want[256];

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        memset(&err, 0, sizeof(err));
        c = NULL;
        snprintf(buf, sizeof(buf), "[policy]\n\nactivate = %s\n", values[i]);
        assert_int_equal(evc_config_parse(buf, strlen(buf), "a.ini", ".", &c, &err),
                         EVC_ERR_CONFIG);
        snprintf(want, sizeof(want),
                 "a.ini:3: activate: expected at, ready or ready:SHARE with SHARE 1..100 (like "
                 "ready:95%%), not '%s'",
                 values[i]);
        assert_string_equal(err.detail, want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        c = NULL;
        if (evc_config_parse(bad[i].text, strlen(bad[i].text), "a.ini", ".", &c, &err) !=
            EVC_ERR_CONFIG) {
            fail_msg("case %zu: accepted", i);
        }
        if (strcmp(err.detail, bad[i].want) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, err.detail, bad[i].want);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_servers),
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_default_deleted),
        cmocka_unit_test(test_state_path),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_table_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_keep_fixed),
        cmocka_unit_test(test_fleet_state),
        cmocka_unit_test(test_key_lines),
        cmocka_unit_test(test_check_key_lines),
        cmocka_unit_test(test_duration_bounds),
        cmocka_unit_test(test_activate),
        cmocka_unit_test(test_activate_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
