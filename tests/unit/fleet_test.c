/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet inventory, the same checks on both engines: the inventory in a
 * host's SQLite state always, and in PostgreSQL (the writers' outboxes in
 * SQLite) when EVC_TEST_PGURL names one (integration/fleet_db_pg starts it).
 * Each check writes through the library's writer as a service does and
 * reads through evc_fleet_report as `evercert fleet` does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "db/db.h"
#include "evercert/fleet.h"
#include "evercert/limits.h"
#include "fleet/fleet_int.h"

#define T0 ((evc_time)1900000000) /* 2030-03-17 */
#define DAY 86400

struct env {
    const char *url; /* NULL: the inventory is the first host's state */
    char dir[64];
    char inv[128]; /* the inventory's target: the URL, or dir/h1.db */
};

static struct env lite_env, pg_env;

static void
wipe_pg(const char *url)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};

    if (evc_db_open(url, NULL, &db, &err) != 0) {
        fail_msg("open %s: %s", url, evc_err_message(&err));
    }
    assert_int_equal(evc_db_exec(db,
                                 "DROP TABLE IF EXISTS fleet_hosts, fleet_sources, fleet_certs,"
                                 " fleet_events, fleet_holdings;"
                                 " CREATE TABLE IF NOT EXISTS schema_version(x INTEGER);"
                                 " DROP TABLE schema_version",
                                 &err),
                     0);
    evc_db_close(db);
}

static int
setup(void **state, struct env *e, const char *url)
{
    memset(e, 0, sizeof(*e));
    e->url = url;
    snprintf(e->dir, sizeof(e->dir), "/tmp/evc-fleet-test-XXXXXX");
    if (mkdtemp(e->dir) == NULL) {
        return -1;
    }
    if (url != NULL) {
        wipe_pg(url);
        snprintf(e->inv, sizeof(e->inv), "%s", url);
    } else {
        snprintf(e->inv, sizeof(e->inv), "%s/h1.db", e->dir);
    }
    *state = e;
    return 0;
}

static int
setup_lite(void **state)
{
    return setup(state, &lite_env, NULL);
}

static int
setup_pg(void **state)
{
    return setup(state, &pg_env, getenv("EVC_TEST_PGURL"));
}

static int
teardown(void **state)
{
    struct env *e = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/*
 * A writer for host: its own state file; the inventory is the URL, or,
 * without one, the first host's state (one host alone).
 */
static struct evc_fleet *
writer(const struct env *e, const char *host, const char *service, evc_time keep)
{
    struct evc_fleet_opts o;
    struct evc_fleet *f = NULL;
    struct evc_err err = {0};
    char local[160];

    snprintf(local, sizeof(local), "%s/%s.db", e->dir, host);
    memset(&o, 0, sizeof(o));
    o.local = e->url != NULL ? local : e->inv;
    o.url = e->url;
    o.host = host;
    o.service = service;
    o.keep = keep;
    if (evc_fleet_open(&o, &f, &err) != 0) {
        fail_msg("fleet open: %s", evc_err_message(&err));
    }
    return f;
}

static void
flush(struct evc_fleet *f, evc_time now)
{
    struct evc_fleet_sent s;
    struct evc_err err = {0};

    if (evc_fleet_flush(f, now, &s, &err) != 0) {
        fail_msg("flush: %s", evc_err_message(&err));
    }
    if (s.down) {
        fail_msg("flush: %s", s.line);
    }
    assert_int_equal(s.waiting, 0);
}

static json_t *
report(const struct env *e, evc_time now, const char *host, int only_expiring, int *status)
{
    struct evc_fleet_query q;
    struct evc_err err = {0};
    json_error_t jerr;
    json_t *j;
    FILE *f = tmpfile();

    assert_non_null(f);
    memset(&q, 0, sizeof(q));
    q.target = e->inv;
    q.now = now;
    q.host = host;
    q.only_expiring = only_expiring;
    q.verbose = 1;
    if (evc_fleet_report(&q, EVC_FLEET_JSON, f, status, &err) != 0) {
        fail_msg("report: %s", evc_err_message(&err));
    }
    rewind(f);
    j = json_loadf(f, 0, &jerr);
    if (j == NULL) {
        fail_msg("report is not JSON: %s", jerr.text);
    }
    fclose(f);
    return j;
}

static int64_t
count(const struct env *e, const char *sql)
{
    struct evc_db *db = NULL;
    struct evc_db_stmt *q = NULL;
    struct evc_err err = {0};
    int64_t n = -1;

    if (evc_db_open(e->inv, NULL, &db, &err) != 0 || evc_db_prepare(db, sql, &q, &err) != 0) {
        fail_msg("%s: %s", sql, evc_err_message(&err));
    }
    if (evc_db_step(q, &err) == EVC_DB_ROW) {
        n = evc_db_col_int64(q, 0);
    }
    evc_db_finalize(q);
    evc_db_close(db);
    return n;
}

/* Run sql on the inventory: rows aged by hand, as the database's clock would see them later. */
static void
sql(const struct env *e, const char *text)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};

    if (evc_db_open(e->inv, NULL, &db, &err) != 0 || evc_db_exec(db, text, &err) != 0) {
        fail_msg("%s: %s", text, evc_err_message(&err));
    }
    evc_db_close(db);
}

static struct evc_fleet_cert
cert(const char *loc, const char *sha, const char *subject, evc_time not_after)
{
    struct evc_fleet_cert c;

    memset(&c, 0, sizeof(c));
    c.location = loc;
    c.sha256 = sha;
    c.subject = subject;
    c.issuer = "CN=Root";
    c.not_before = T0 - 10 * DAY;
    c.not_after = not_after;
    c.status = "ok";
    c.kind = "chained";
    return c;
}

static void
event(struct evc_fleet *f, evc_time at, const char *what, const char *subject)
{
    struct evc_fleet_event ev;
    struct evc_err err = {0};

    memset(&ev, 0, sizeof(ev));
    ev.at = at;
    ev.what = what;
    ev.subject = subject;
    ev.new_sha256 = "ab";
    if (evc_fleet_event(f, &ev, &err) != 0) {
        fail_msg("event: %s", evc_err_message(&err));
    }
}

static json_t *
find_cert(json_t *rep, const char *sha)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(rep, "certificates"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "sha256")), sha) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Three hosts share a certificate; each snapshot replaces its host's view whole. */
static void
test_snapshot_view(void **state)
{
    const struct env *e = *state;
    const char *hosts[] = {"h1", "h2", "h3"};
    struct evc_err err = {0};
    json_t *rep, *c;
    int status;

    for (size_t i = 0; i < 3; i++) {
        struct evc_fleet *f = writer(e, hosts[i], "monitor", 0);
        struct evc_fleet_cert rows[2] = {
            cert("web", "aa11", "CN=web", T0 + 90 * DAY),
            cert("own", i == 0 ? "bb22" : "cc33", "CN=own", T0 + 10 * DAY)};

        assert_int_equal(evc_fleet_snapshot(f, "stores", T0, rows, 2, &err), 0);
        flush(f, T0);
        evc_fleet_close(f);
    }
    rep = report(e, T0, NULL, 0, &status);
    assert_int_equal(json_array_size(json_object_get(rep, "hosts")), 3);
    assert_non_null(c = find_cert(rep, "aa11"));
    assert_int_equal(json_integer_value(json_object_get(c, "hosts")), 3);
    assert_int_equal(json_array_size(json_object_get(c, "where")), 3);
    assert_non_null(c = find_cert(rep, "cc33"));
    assert_int_equal(json_integer_value(json_object_get(c, "hosts")), 2);
    /* Sorted by the end: the ten-day certificates first, and they make it a warning. */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(rep, "certificates"), 0), "status")),
                        "expiring");
    assert_int_equal(status, 1);
    json_decref(rep);

    /* h1 renews: its new view has no bb22 and a new dd44; the others' rows stay. */
    {
        struct evc_fleet *f = writer(e, "h1", "monitor", 0);
        struct evc_fleet_cert rows[2] = {cert("web", "aa11", "CN=web", T0 + 90 * DAY),
                                         cert("own", "dd44", "CN=own", T0 + 60 * DAY)};

        assert_int_equal(evc_fleet_snapshot(f, "stores", T0 + 60, rows, 2, &err), 0);
        flush(f, T0 + 60);
        evc_fleet_close(f);
    }
    rep = report(e, T0 + 60, NULL, 0, &status);
    assert_null(find_cert(rep, "bb22"));
    assert_non_null(find_cert(rep, "dd44"));
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), 6);
    /* --at past the web certificate's end: expired, status 2. */
    json_decref(rep);
    rep = report(e, T0 + 91 * DAY, NULL, 0, &status);
    assert_int_equal(status, 2);
    json_decref(rep);
    /* --expiring lists only what ends within it (30 days by default), --host only that host. */
    rep = report(e, T0, "h2", 1, &status);
    assert_int_equal(json_array_size(json_object_get(rep, "certificates")), 1);
    assert_non_null(find_cert(rep, "cc33"));
    assert_int_equal(json_array_size(json_object_get(rep, "hosts")), 1);
    json_decref(rep);
}

/*
 * A host that has not reported within stale is silent. Its last report is
 * the database's clock at its heartbeat, whatever clock the writer had.
 */
static void
test_silent(void **state)
{
    const struct env *e = *state;
    struct evc_fleet *f = writer(e, "h1", "agent", 0), *g = writer(e, "h2", "agent", 0);
    evc_time now = evc_time_now();
    json_t *rep, *h;
    int status;

    flush(f, now);
    /* A writer whose clock is a day ahead is seen now, not tomorrow. */
    flush(g, now + DAY);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_hosts WHERE last_seen > "
                              "(SELECT min(last_seen) FROM fleet_hosts) + 600"),
                     0);
    sql(e, "UPDATE fleet_hosts SET last_seen = last_seen - 10800, first_seen = first_seen - 10800"
           " WHERE host = 'h1'");
    rep = report(e, now, NULL, 0, &status);
    h = json_array_get(json_object_get(rep, "hosts"), 0);
    assert_string_equal(json_string_value(json_object_get(h, "host")), "h1");
    assert_true(json_is_true(json_object_get(h, "silent")));
    assert_false(
        json_is_true(json_object_get(json_array_get(json_object_get(rep, "hosts"), 1), "silent")));
    assert_int_equal(status, 1);
    json_decref(rep);
    rep = report(e, now - 7200, NULL, 0, &status);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rep, "summary"), "silent")),
                     0);
    json_decref(rep);
    evc_fleet_close(f);
    evc_fleet_close(g);
}

/* Which generation each agent holds, and who is behind the newest. */
static void
test_generations(void **state)
{
    const struct env *e = *state;
    const char *hosts[] = {"a1", "a2", "a3"};
    struct evc_err err = {0};
    json_t *rep, *gens, *behind;
    int status;

    for (size_t i = 0; i < 3; i++) {
        struct evc_fleet *f = writer(e, hosts[i], "agent", 0);
        struct evc_fleet_holding h = {"web", i == 2 ? 1 : 2, i == 2 ? "old" : "new", T0};

        assert_int_equal(evc_fleet_holding(f, &h, &err), 0);
        /* An older holding written late changes nothing. */
        h.generation = 0;
        h.at = T0 - 10;
        assert_int_equal(evc_fleet_holding(f, &h, &err), 0);
        flush(f, T0);
        evc_fleet_close(f);
    }
    rep = report(e, T0, NULL, 0, &status);
    gens = json_object_get(rep, "generations");
    assert_int_equal(json_array_size(gens), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gens, 0), "generation")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gens, 0), "hosts")), 2);
    assert_true(json_is_true(json_object_get(json_array_get(gens, 0), "newest")));
    behind = json_object_get(rep, "behind");
    assert_int_equal(json_array_size(behind), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(behind, 0), "host")),
                        "a3");
    json_decref(rep);
}

static int
apply_cb(void *arg, const struct item *it)
{
    struct evc_err err = {0};

    return evc_fleet_apply(arg, it, &err);
}

/*
 * A crash between the fleet database's commit and the outbox's delete:
 * the batch is sent again, and the inventory holds each event once.
 */
static void
test_resend_harmless(void **state)
{
    const struct env *e = *state;
    struct evc_fleet *f;
    struct evc_db *local = NULL, *inv = NULL;
    struct evc_err err = {0};
    struct evc_fleet_cert rows[1] = {cert("web", "aa11", "CN=web", T0 + 90 * DAY)};
    char path[160];
    int64_t last = 0;

    if (e->url == NULL) {
        skip(); /* without a fleet database there is no outbox to resend */
    }
    f = writer(e, "h1", "monitor", 0);
    for (int i = 0; i < 5; i++) {
        event(f, T0 + i, "renewed", "web");
    }
    assert_int_equal(evc_fleet_snapshot(f, "stores", T0 + 5, rows, 1, &err), 0);
    /* The sender's first half by hand: the batch applied and committed, the outbox left whole. */
    snprintf(path, sizeof(path), "%s/h1.db", e->dir);
    assert_int_equal(evc_db_open(path, NULL, &local, &err), 0);
    assert_int_equal(evc_db_open(e->inv, NULL, &inv, &err), 0);
    assert_int_equal(evc_fleet_schema(inv, &err), 0);
    assert_int_equal(evc_db_begin(inv, &err), 0);
    assert_int_equal(evc_fleet_outbox_each(local, apply_cb, inv, &last, &err), 0);
    assert_int_equal(evc_db_commit(inv, &err), 0);
    assert_true(last > 0);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_events"), 5);
    evc_db_close(inv);
    evc_db_close(local);
    /* The next flush sends the same batch again, then deletes it. */
    flush(f, T0 + 10);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_events"), 5);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), 1);
    flush(f, T0 + 20);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_events"), 5);
    evc_fleet_close(f);
}

/*
 * A snapshot older than the one applied (sent late) leaves the newer view:
 * older by its outbox sequence, whatever time it carries; a snapshot from
 * another origin (the host's state made anew) applies.
 */
static void
test_older_snapshot_ignored(void **state)
{
    const struct env *e = *state;
    struct evc_db *inv = NULL;
    struct evc_err err = {0};
    struct evc_fleet_cert a = cert("web", "aa11", "CN=a", T0 + DAY);
    struct evc_fleet_cert b = cert("web", "bb22", "CN=b", T0 + DAY);
    struct evc_fleet_cert c = cert("web", "cc33", "CN=c", T0 + DAY);
    struct item it;

    assert_int_equal(evc_db_open(e->inv, NULL, &inv, &err), 0);
    assert_int_equal(evc_fleet_schema(inv, &err), 0);
    memset(&it, 0, sizeof(it));
    it.kind = ITEM_SNAPSHOT;
    it.host = "h1";
    it.source = "stores";
    it.origin = "o1";
    /* Sent by a run whose clock was five years ahead. */
    it.id = 10;
    it.at = T0 + 5 * 365 * DAY;
    it.certs = &a;
    it.ncerts = 1;
    assert_int_equal(evc_fleet_apply(inv, &it, &err), 0);
    /* The next one, with a true clock: applies. */
    it.id = 11;
    it.at = T0;
    it.certs = &b;
    assert_int_equal(evc_fleet_apply(inv, &it, &err), 0);
    /* A late resend of the first: ignored. */
    it.id = 10;
    it.at = T0 + 5 * 365 * DAY;
    it.certs = &a;
    assert_int_equal(evc_fleet_apply(inv, &it, &err), 0);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs WHERE sha256 = 'bb22'"), 1);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), 1);
    /* The host's state made anew: its outbox counts from 1 again, and applies. */
    it.origin = "o2";
    it.id = 1;
    it.at = T0;
    it.certs = &c;
    assert_int_equal(evc_fleet_apply(inv, &it, &err), 0);
    evc_db_close(inv);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs WHERE sha256 = 'cc33'"), 1);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), 1);
}

/* Events older than keep, by the database's clock, are pruned; those within it stay. */
static void
test_retention(void **state)
{
    const struct env *e = *state;
    struct evc_fleet *f = writer(e, "h1", "agent", 10 * DAY);
    evc_time now = evc_time_now();

    event(f, now - 20 * DAY, "accepted", "web");
    event(f, now - 11 * DAY, "activated", "web");
    event(f, now - 9 * DAY, "retired", "web");
    event(f, now, "accepted", "web");
    /* The caller's clock a year behind or five ahead changes nothing of the cutoff. */
    flush(f, now - 365 * DAY);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_events"), 2);
    assert_int_equal(count(e, "SELECT min(at) FROM fleet_events"), now - 9 * DAY);
    evc_fleet_close(f);
}

/*
 * A host gone for longer than keep leaves the inventory with its rows; a
 * writer whose clock is far ahead prunes no host that is not gone.
 */
static void
test_gone_host_pruned(void **state)
{
    const struct env *e = *state;
    struct evc_fleet *old = writer(e, "gone", "monitor", 10 * DAY);
    struct evc_fleet *f = writer(e, "h1", "monitor", 10 * DAY);
    struct evc_fleet *g = writer(e, "ahead", "monitor", 10 * DAY);
    struct evc_fleet_cert rows[1] = {cert("web", "aa11", "CN=web", T0 + 90 * DAY)};
    struct evc_err err = {0};
    evc_time now = evc_time_now();

    assert_int_equal(evc_fleet_snapshot(old, "stores", now, rows, 1, &err), 0);
    flush(old, now);
    flush(g, now + 5 * 365 * DAY);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_hosts WHERE host = 'gone'"), 1);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), 1);
    sql(e, "UPDATE fleet_hosts SET last_seen = last_seen - 2592000 WHERE host = 'gone'");
    flush(f, now);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_hosts WHERE host = 'gone'"), 0);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), 0);
    evc_fleet_close(old);
    evc_fleet_close(f);
    evc_fleet_close(g);
}

/*
 * A fleet database that cannot be reached: the writes wait in the
 * outbox, the flush says so once (not again while it stays down), and
 * the password in the URL is never in the line.
 */
static void
test_unreachable_waits(void **state)
{
    const struct env *e = *state;
    struct evc_fleet_opts o;
    struct evc_fleet *f = NULL;
    struct evc_fleet_sent s;
    struct evc_err err = {0};
    char local[160];

    snprintf(local, sizeof(local), "%s/down.db", e->dir);
    memset(&o, 0, sizeof(o));
    o.local = local;
    o.url = "postgresql://u:s3cret@127.0.0.1:1/fleet";
    o.host = "h1";
    o.service = "monitor";
    o.connect_timeout = 2;
    assert_int_equal(evc_fleet_open(&o, &f, &err), 0);
    event(f, T0, "renewed", "web");
    event(f, T0 + 1, "activated", "web");
    assert_int_equal(evc_fleet_flush(f, T0, &s, &err), 0);
    assert_true(s.down);
    assert_true(s.changed);
    assert_int_equal(s.waiting, 2);
    assert_non_null(strstr(s.line, "unreachable"));
    assert_non_null(strstr(s.line, "working locally, 2 changes wait"));
    assert_null(strstr(s.line, "s3cret"));
    evc_fleet_close(f);
    /* Again, from a new process's writer: still down, nothing new to say. */
    assert_int_equal(evc_fleet_open(&o, &f, &err), 0);
    assert_int_equal(evc_fleet_flush(f, T0 + 60, &s, &err), 0);
    assert_true(s.down);
    assert_false(s.changed);
    assert_int_equal(s.waiting, 2);
    evc_fleet_close(f);
}

/*
 * A full outbox drops the oldest waiting snapshot first, never an event
 * while a snapshot is left, and the host is reported incomplete.
 */
static void
test_outbox_full(void **state)
{
    const struct env *e = *state;
    size_t n = EVC_FLEET_SNAPSHOT_MAX;
    struct evc_fleet_cert *rows = calloc(n, sizeof(*rows));
    char(*loc)[16] = calloc(n, sizeof(*loc));
    struct evc_fleet *f;
    struct evc_db *local = NULL;
    struct evc_err err = {0};
    json_t *rep, *h;
    char path[160];
    size_t items = 0;
    int status;

    if (e->url == NULL) {
        skip(); /* the outbox is there only with a fleet database */
    }
    assert_non_null(rows);
    assert_non_null(loc);
    for (size_t i = 0; i < n; i++) {
        snprintf(loc[i], sizeof(loc[i]), "f%zu", i);
        rows[i] = cert(loc[i], "aa11", "CN=a", T0 + DAY);
    }
    f = writer(e, "h1", "monitor", 0);
    event(f, T0, "renewed", "web");
    assert_int_equal(evc_fleet_snapshot(f, "stores", T0, rows, n, &err), 0);
    /* A second source's snapshot does not fit beside the first: the first goes. */
    assert_int_equal(evc_fleet_snapshot(f, "trust", T0 + 1, rows, n - 1, &err), 0);
    snprintf(path, sizeof(path), "%s/h1.db", e->dir);
    assert_int_equal(evc_db_open(path, NULL, &local, &err), 0);
    assert_int_equal(evc_fleet_outbox_items(local, &items, &err), 0);
    assert_int_equal(items, 2); /* the event and the trust snapshot */
    evc_db_close(local);
    flush(f, T0 + 2);
    rep = report(e, T0 + 2, NULL, 0, &status);
    h = json_array_get(json_object_get(rep, "hosts"), 0);
    assert_true(json_is_true(json_object_get(h, "incomplete")));
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_events"), 1);
    json_decref(rep);
    /* A new snapshot of the dropped source makes the view whole again. */
    assert_int_equal(evc_fleet_snapshot(f, "stores", T0 + 3, rows, 1, &err), 0);
    flush(f, T0 + 3);
    rep = report(e, T0 + 3, NULL, 0, &status);
    h = json_array_get(json_object_get(rep, "hosts"), 0);
    assert_false(json_is_true(json_object_get(h, "incomplete")));
    json_decref(rep);
    evc_fleet_close(f);
    free(rows);
    free(loc);
}

/* A snapshot of more than EVC_FLEET_SNAPSHOT_MAX rows is cut, and the host is incomplete. */
static void
test_snapshot_cut(void **state)
{
    const struct env *e = *state;
    size_t n = EVC_FLEET_SNAPSHOT_MAX + 1;
    struct evc_fleet_cert *rows = calloc(n, sizeof(*rows));
    char(*loc)[16] = calloc(n, sizeof(*loc));
    struct evc_fleet *f;
    struct evc_err err = {0};
    json_t *rep;
    int status;

    assert_non_null(rows);
    assert_non_null(loc);
    for (size_t i = 0; i < n; i++) {
        snprintf(loc[i], sizeof(loc[i]), "f%zu", i);
        rows[i] = cert(loc[i], "aa11", "CN=a", T0 + 90 * DAY);
    }
    f = writer(e, "h1", "monitor", 0);
    assert_int_equal(evc_fleet_snapshot(f, "stores", T0, rows, n, &err), 0);
    flush(f, T0);
    assert_int_equal(count(e, "SELECT count(*) FROM fleet_certs"), (int64_t)EVC_FLEET_SNAPSHOT_MAX);
    rep = report(e, T0, NULL, 0, &status);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(rep, "hosts"), 0), "incomplete")));
    assert_int_equal(status, 1);
    json_decref(rep);
    evc_fleet_close(f);
    free(rows);
    free(loc);
}

/*
 * What hosts wrote is untrusted in every format: a subject with a quote,
 * a newline and a terminal escape stays one JSON string, one escaped
 * text cell (no raw control byte), one Prometheus label value (quote and
 * newline escaped, as scan's metrics do).
 */
static void
test_escaping(void **state)
{
    static const char evil[] = "CN=a\"b\n\x1b[31mred";
    static const char evilhost[] = "h\x1b[1m";
    static const char evilsvc[] = "m\x1b]0;x\x07";
    const struct env *e = *state;
    struct evc_fleet *f = writer(e, evilhost, evilsvc, 0);
    struct evc_fleet_cert rows[2] = {cert("web", "aa11", evil, T0 + 90 * DAY),
                                     cert("web", "", "", 0)};
    struct evc_fleet_holding h = {evil, 1, "aa11", T0};
    struct evc_fleet_query q;
    struct evc_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *out;
    json_t *rep, *c, *x;
    int status;

    /* Every string a host sends: subject, issuer, kind, location, an error's detail, server. */
    rows[0].issuer = evil;
    rows[0].kind = evil;
    rows[0].location = evil;
    rows[1].location = evil;
    rows[1].status = "error";
    rows[1].detail = evil;
    assert_int_equal(evc_fleet_snapshot(f, "stores", T0, rows, 2, &err), 0);
    assert_int_equal(evc_fleet_holding(f, &h, &err), 0);
    flush(f, T0);
    evc_fleet_close(f);
    rep = report(e, T0, NULL, 0, &status);
    c = find_cert(rep, "aa11");
    assert_string_equal(json_string_value(json_object_get(c, "subject")), evil);
    assert_string_equal(json_string_value(json_object_get(c, "issuer")), evil);
    assert_string_equal(json_string_value(json_object_get(c, "kind")), evil);
    x = json_array_get(json_object_get(rep, "hosts"), 0);
    assert_string_equal(json_string_value(json_object_get(x, "host")), evilhost);
    assert_string_equal(json_string_value(json_object_get(x, "service")), evilsvc);
    x = json_array_get(json_object_get(rep, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(x, "location")), evil);
    assert_string_equal(json_string_value(json_object_get(x, "error")), evil);
    x = json_array_get(json_object_get(rep, "generations"), 0);
    assert_string_equal(json_string_value(json_object_get(x, "server")), evil);
    json_decref(rep);
    memset(&q, 0, sizeof(q));
    q.target = e->inv;
    q.now = T0;
    q.verbose = 1; /* the hosts and locations too */
    for (int fmt = EVC_FLEET_TEXT; fmt <= EVC_FLEET_PROMETHEUS; fmt += 2) {
        assert_non_null(out = open_memstream(&buf, &len));
        assert_int_equal(evc_fleet_report(&q, (enum evc_fleet_format)fmt, out, &status, &err), 0);
        fclose(out);
        if (fmt == EVC_FLEET_TEXT) {
            /* Text goes to terminals: no raw control byte in any column. */
            assert_null(memchr(buf, 0x1b, len));
            assert_null(memchr(buf, 0x07, len));
            assert_non_null(strstr(buf, "CN=a\"b\\x0a\\x1b[31mred"));
            assert_non_null(strstr(buf, "h\\x1b[1m"));
            assert_non_null(strstr(buf, "m\\x1b]0;x\\x07"));
        } else {
            assert_non_null(strstr(buf, "subject=\"CN=a\\\"b\\n"));
        }
        free(buf);
        buf = NULL;
    }
}

/* Bad input: a host name too long, a state that is not there, a state without an inventory. */
static void
test_refusals(void **state)
{
    const struct env *e = *state;
    struct evc_fleet_opts o;
    struct evc_fleet_query q;
    struct evc_fleet *f = NULL;
    struct evc_err err = {0};
    char host[EVC_FLEET_HOST_MAX + 2], path[160];
    int status = 0;
    FILE *out = tmpfile();

    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(path, sizeof(path), "%s/x.db", e->dir);
    memset(&o, 0, sizeof(o));
    o.local = path;
    o.host = host;
    o.service = "agent";
    assert_int_equal(evc_fleet_open(&o, &f, &err), EVC_ERR_CONFIG);
    assert_null(f);
    memset(&q, 0, sizeof(q));
    q.target = path;
    q.now = T0;
    assert_int_equal(evc_fleet_report(&q, EVC_FLEET_TEXT, out, &status, &err), EVC_ERR_NOENT);
    assert_non_null(strstr(evc_err_message(&err), "no such state database"));
    assert_int_equal(access(path, F_OK), -1); /* a reader never creates it */
    {
        struct evc_db *db = NULL;

        assert_int_equal(evc_db_open(path, NULL, &db, &err), 0);
        evc_db_close(db);
    }
    assert_int_equal(evc_fleet_report(&q, EVC_FLEET_TEXT, out, &status, &err), EVC_ERR_NOENT);
    assert_non_null(strstr(evc_err_message(&err), "no fleet inventory"));
    assert_int_equal(ftell(out), 0); /* nothing written */
    assert_int_equal(status, 3);
    fclose(out);
}

int
main(void)
{
    const struct CMUnitTest lite[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_view, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_silent, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_generations, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_older_snapshot_ignored, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_gone_host_pruned, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_waits, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_cut, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup_lite, teardown),
    };
    const struct CMUnitTest pg[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_view, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_silent, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_generations, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_resend_harmless, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_older_snapshot_ignored, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_gone_host_pruned, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_full, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_cut, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup_pg, teardown),
    };

    if (getenv("EVC_TEST_PGURL") != NULL) {
        return cmocka_run_group_tests_name("fleet on PostgreSQL", pg, NULL, NULL);
    }
    return cmocka_run_group_tests_name("fleet on SQLite", lite, NULL, NULL);
}
