/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The database interface, the same checks on both engines: SQLite always,
 * PostgreSQL when EVC_TEST_PGURL names one (integration/db_pg starts it).
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

#include "db/db.h"

static char lite_path[256];

static const struct evc_db_migration migrations[] = {
    {1, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE NOT NULL, n BIGINT, b BLOB)",
     "CREATE TABLE t(id BIGSERIAL PRIMARY KEY, k TEXT UNIQUE NOT NULL, n BIGINT, b BYTEA)"},
    {2, "CREATE INDEX t_n ON t(n)", NULL},
};

static struct evc_db *
open_target(const char *target)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};

    if (evc_db_open(target, NULL, &db, &err) != 0) {
        fail_msg("open %s: %s", target, evc_err_message(&err));
    }
    return db;
}

static int
setup_lite(void **state)
{
    snprintf(lite_path, sizeof(lite_path), "/tmp/evc-db-test-%d.db", (int)getpid());
    unlink(lite_path);
    *state = (void *)lite_path;
    return 0;
}

static int
setup_pg(void **state)
{
    struct evc_db *db;
    const char *url = getenv("EVC_TEST_PGURL");

    db = open_target(url);
    assert_int_equal(
        evc_db_exec(db, "DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS schema_version", NULL), 0);
    evc_db_close(db);
    *state = (void *)url;
    return 0;
}

static int
teardown(void **state)
{
    if (*state == lite_path) {
        unlink(lite_path);
    }
    return 0;
}

static void
test_roundtrip(void **state)
{
    static const uint8_t bytes[] = {0, 1, 2, 0xff, 0, 'x'};
    struct evc_db *db = open_target(*state);
    struct evc_db_stmt *q = NULL;
    struct evc_err err = {0};
    const uint8_t *b;
    size_t len;
    int64_t id;

    assert_int_equal(evc_db_migrate(db, "test", migrations, 2, &err), 0);
    /* Again: nothing to do, nothing broken. */
    assert_int_equal(evc_db_migrate(db, "test", migrations, 2, &err), 0);

    assert_int_equal(evc_db_begin(db, &err), 0);
    assert_int_equal(
        evc_db_prepare(db, "INSERT INTO t(k, n, b) VALUES(?1, ?2, ?3) RETURNING id", &q, &err), 0);
    assert_int_equal(evc_db_bind_text(q, 1, "a 'quoted' ?1 key"), 0);
    assert_int_equal(evc_db_bind_int64(q, 2, INT64_MIN), 0);
    assert_int_equal(evc_db_bind_blob(q, 3, bytes, sizeof(bytes)), 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_ROW);
    id = evc_db_col_int64(q, 0);
    assert_true(id > 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_DONE);
    evc_db_reset(q);
    assert_int_equal(evc_db_bind_text(q, 1, "second"), 0);
    assert_int_equal(evc_db_bind_int64(q, 2, INT64_MAX), 0);
    assert_int_equal(evc_db_bind_null(q, 3), 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_ROW);
    evc_db_finalize(q);
    assert_int_equal(evc_db_commit(db, &err), 0);

    /* An upsert: the same SQL on both engines. */
    assert_int_equal(evc_db_prepare(db,
                                    "INSERT INTO t(k, n) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE"
                                    " SET n = excluded.n",
                                    &q, &err),
                     0);
    assert_int_equal(evc_db_bind_text(q, 1, "second"), 0);
    assert_int_equal(evc_db_bind_int64(q, 2, 42), 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_DONE);
    assert_int_equal(evc_db_changes(q), 1);
    evc_db_finalize(q);

    assert_int_equal(
        evc_db_prepare(db, "SELECT k, n, b FROM t WHERE k <> '?2' ORDER BY id", &q, &err), 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_ROW);
    assert_string_equal(evc_db_col_text(q, 0), "a 'quoted' ?1 key");
    assert_true(evc_db_col_int64(q, 1) == INT64_MIN);
    b = evc_db_col_blob(q, 2, &len);
    assert_int_equal(len, sizeof(bytes));
    assert_memory_equal(b, bytes, sizeof(bytes));
    assert_int_equal(evc_db_step(q, &err), EVC_DB_ROW);
    assert_string_equal(evc_db_col_text(q, 0), "second");
    assert_int_equal(evc_db_col_int64(q, 1), 42);
    assert_true(evc_db_col_is_null(q, 2));
    evc_db_col_blob(q, 2, &len);
    assert_int_equal(len, 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_DONE);
    evc_db_finalize(q);

    /* A rolled-back transaction leaves nothing. */
    assert_int_equal(evc_db_begin(db, &err), 0);
    assert_int_equal(evc_db_exec(db, "DELETE FROM t", &err), 0);
    evc_db_rollback(db);
    assert_int_equal(evc_db_prepare(db, "SELECT count(*) FROM t", &q, &err), 0);
    assert_int_equal(evc_db_step(q, &err), EVC_DB_ROW);
    assert_int_equal(evc_db_col_int64(q, 0), 2);
    evc_db_finalize(q);
    evc_db_close(db);
}

/* A schema newer than the code is refused, not written over. */
static void
test_newer_schema(void **state)
{
    struct evc_db *db = open_target(*state);
    struct evc_err err = {0};

    assert_int_equal(evc_db_migrate(db, "test", migrations, 2, &err), 0);
    assert_int_equal(
        evc_db_exec(db, "UPDATE schema_version SET version = 9 WHERE component = 'test'", &err), 0);
    assert_int_equal(evc_db_migrate(db, "test", migrations, 2, &err), EVC_ERR_POLICY);
    assert_non_null(strstr(evc_err_message(&err), "schema version 9 is newer"));
    evc_db_close(db);
}

/* A database that takes no writes says so, and the caller can tell. */
static void
test_read_only(void **state)
{
    struct evc_db *db = open_target(*state);
    struct evc_err err = {0};

    assert_int_equal(evc_db_migrate(db, "test", migrations, 2, &err), 0);
    assert_int_equal(evc_db_exec(db,
                                 evc_db_engine_of(db) == EVC_DB_PG
                                     ? "SET default_transaction_read_only = on"
                                     : "PRAGMA query_only = 1",
                                 &err),
                     0);
    assert_int_not_equal(evc_db_exec(db, "INSERT INTO t(k) VALUES('ro')", &err), 0);
    assert_int_equal(evc_db_fault(db), EVC_DB_FAULT_READONLY);
    if (evc_db_engine_of(db) == EVC_DB_PG) {
        assert_non_null(strstr(evc_err_message(&err),
                               ": read-only: cannot execute INSERT in a read-only transaction"));
    }
    /* A current schema needs no write: a read-only database (a standby) still opens. */
    assert_int_equal(evc_db_migrate(db, "test", migrations, 2, &err), 0);
    evc_db_close(db);
}

/* PostgreSQL: a lost session is an error that says unreachable, and the next call reconnects. */
static void
test_lost(void **state)
{
    struct evc_db *db = open_target(*state);
    struct evc_err err = {0};

    assert_int_not_equal(evc_db_exec(db, "SELECT pg_terminate_backend(pg_backend_pid())", &err), 0);
    assert_int_equal(evc_db_fault(db), EVC_DB_FAULT_DOWN);
    assert_non_null(strstr(evc_err_message(&err), "unreachable"));
    assert_int_equal(evc_db_exec(db, "SELECT 1", &err), 0);
    evc_db_close(db);
}

/* Nobody listening: an error within the connect timeout that names the place, not the password. */
static void
test_unreachable(void **state)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};
    struct evc_db_opts o = {.connect_timeout = 2};

    (void)state;
    assert_int_not_equal(evc_db_open("postgresql://u:s3cret@127.0.0.1:1/x", &o, &db, &err), 0);
    assert_null(db);
    assert_non_null(strstr(evc_err_message(&err), "postgresql://u@127.0.0.1:1/x: unreachable"));
    assert_null(strstr(evc_err_message(&err), "s3cret"));
}

/* A host name is looked up within the connect timeout; one that does not resolve is unreachable. */
static void
test_lookup(void **state)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};
    struct evc_db_opts o = {.connect_timeout = 2};

    (void)state;
    assert_int_not_equal(evc_db_open("postgresql://u@no-such-host.invalid/x", &o, &db, &err), 0);
    assert_null(db);
    assert_non_null(strstr(evc_err_message(&err), "unreachable: no-such-host.invalid: "));
    assert_int_not_equal(evc_db_open("postgresql://u:%zzS3CRET@h/x", &o, &db, &err), 0);
    assert_null(strstr(evc_err_message(&err), "S3CRET"));
}

/* PostgreSQL by name: the address looked up here is the one libpq connects to. */
static void
test_by_name(void **state)
{
    char url[512];
    const char *at = strstr((const char *)*state, "127.0.0.1");
    struct evc_db *db;
    struct evc_err err = {0};

    assert_non_null(at);
    snprintf(url, sizeof(url), "%.*slocalhost%s", (int)(at - (const char *)*state),
             (const char *)*state, at + 9);
    db = open_target(url);
    assert_int_equal(evc_db_exec(db, "SELECT 1", &err), 0);
    evc_db_close(db);
}

static void
test_pure(void **state)
{
    char out[128];

    (void)state;
    assert_int_equal(
        evc_db_pg_sql("SELECT ?1, '?2', \"?3\", ?12 WHERE x = '' || ?4", out, sizeof(out)), 0);
    assert_string_equal(out, "SELECT $1, '?2', \"?3\", $12 WHERE x = '' || $4");
    assert_int_equal(evc_db_pg_sql("SELECT ?1", out, 5), -1);
    evc_db_redact("postgresql://u:pw@h:5/d?sslmode=require&password=x", out, sizeof(out));
    assert_string_equal(out, "postgresql://u@h:5/d");
    /* Wherever a password hides, it is not in the name. */
    {
        static const char *const hidden[] = {
            "postgresql://h/d?sslpassword=a&password=S3CRET",
            "postgresql://h/d?password=x&password=S3CRET",
            "postgresql://h/d?pass%77ord=S3CRET",
            "postgresql://u:pa?ssS3CRET@h/d",
            "postgresql://u:S3CRET%zz@h/d",
            "postgresql://u:S3CRET@h:notaport/d",
        };

        for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
            evc_db_redact(hidden[i], out, sizeof(out));
            if (strstr(out, "S3CRET") != NULL) {
                fail_msg("%s -> %s", hidden[i], out);
            }
        }
    }
    evc_db_redact("postgres://h/d", out, sizeof(out));
    assert_string_equal(out, "postgresql://h/d");
    evc_db_redact("/var/lib/evercert/state.db", out, sizeof(out));
    assert_string_equal(out, "/var/lib/evercert/state.db");
    assert_true(evc_db_is_url("postgresql://x"));
    assert_true(evc_db_is_url("postgres://x"));
    assert_false(evc_db_is_url("/postgresql://x"));
}

int
main(void)
{
    const struct CMUnitTest lite[] = {
        cmocka_unit_test(test_pure),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema, setup_lite, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup_lite, teardown),
    };
    const struct CMUnitTest pg[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_lost, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_by_name, setup_pg, teardown),
    };

    if (getenv("EVC_TEST_PGURL") != NULL) {
        return cmocka_run_group_tests_name("db on PostgreSQL", pg, NULL, NULL);
    }
    return cmocka_run_group_tests_name("db on SQLite", lite, NULL, NULL);
}
