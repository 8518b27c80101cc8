/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared stores' pieces without a server: sealing (a record opens only
 * under its key, store, generation and leaf; any changed byte, a cut or
 * another version is refused), the fleet key file's rules (length, digits,
 * mode, owner, no link), and the lease and publication on the SQLite
 * engine (the same SQL runs on PostgreSQL in integration/shared): one
 * holder at a time, a takeover raises the token, a renewer that lost its
 * lease publishes nothing, and one row per (store, generation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>

#include "evercert/shared.h"
#include "db/db.h"

static const uint8_t key1[EVC_FLEET_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t key2[EVC_FLEET_KEY_LEN] = {2, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const char secret[] = "-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n";

static struct evc_seal_ad
ad_for(const char *store, uint64_t g, uint8_t b)
{
    struct evc_seal_ad ad;

    memset(&ad, 0, sizeof(ad));
    ad.store = store;
    ad.generation = g;
    memset(ad.leaf_sha256, b, 32);
    return ad;
}

static void
sealed(struct evc_buf *out)
{
    struct evc_seal_ad ad = ad_for("web", 3, 0xaa);
    struct evc_err err = {0};

    evc_buf_init(out, EVC_SEAL_RECORD_MAX);
    assert_int_equal(evc_seal(key1, &ad, (const uint8_t *)secret, strlen(secret), out, &err), 0);
    assert_int_equal(out->len, strlen(secret) + EVC_SEAL_OVERHEAD);
    assert_int_equal(out->data[0], EVC_SEAL_VERSION);
}

static void
test_roundtrip(void **state)
{
    struct evc_buf s, s2, pt;
    struct evc_seal_ad ad = ad_for("web", 3, 0xaa);
    struct evc_err err = {0};

    (void)state;
    sealed(&s);
    sealed(&s2);
    /* A fresh nonce per seal: the same key sealed twice is two different records. */
    assert_memory_not_equal(s.data + 1, s2.data + 1, EVC_SEAL_NONCE_LEN);
    /* The key is not in the record. */
    assert_null(memmem(s.data, s.len, "PRIVATE KEY", 11));
    evc_buf_init(&pt, EVC_SEAL_PLAIN_MAX + 1);
    assert_int_equal(evc_unseal(key1, &ad, s.data, s.len, &pt, &err), 0);
    assert_int_equal(pt.len, strlen(secret));
    assert_memory_equal(pt.data, secret, pt.len);
    evc_buf_free(&pt);
    evc_buf_free(&s);
    evc_buf_free(&s2);
}

/* Every binding and every byte counts: each is EVC_ERR_POLICY and leaves nothing in out. */
static void
test_refused(void **state)
{
    struct {
        const uint8_t *key;
        struct evc_seal_ad ad;
        const char *what;
    } cases[] = {
        {key2, ad_for("web", 3, 0xaa), "another key"},
        {key1, ad_for("api", 3, 0xaa), "another store"},
        {key1, ad_for("web", 4, 0xaa), "another generation"},
        {key1, ad_for("web", 3, 0xab), "another leaf"},
        {key1, ad_for("web2", 3, 0xaa), "a longer store name"},
    };
    struct evc_buf s, pt;
    struct evc_err err = {0};
    struct evc_seal_ad ad = ad_for("web", 3, 0xaa);

    (void)state;
    sealed(&s);
    evc_buf_init(&pt, EVC_SEAL_PLAIN_MAX + 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(evc_unseal(cases[i].key, &cases[i].ad, s.data, s.len, &pt, &err),
                         EVC_ERR_POLICY);
        assert_int_equal(pt.len, 0);
    }
    /* A flipped bit anywhere after the version: nonce, ciphertext, tag. */
    for (size_t i = 1; i < s.len; i++) {
        s.data[i] ^= 0x01;
        assert_int_equal(evc_unseal(key1, &ad, s.data, s.len, &pt, &err), EVC_ERR_POLICY);
        assert_int_equal(pt.len, 0);
        s.data[i] ^= 0x01;
    }
    assert_int_equal(evc_unseal(key1, &ad, s.data, s.len, &pt, &err), 0);
    evc_buf_free(&pt);
    evc_buf_free(&s);
}

static void
test_parse(void **state)
{
    uint8_t big[EVC_SEAL_RECORD_MAX + 1], rec[EVC_SEAL_OVERHEAD + 1];
    struct evc_seal_rec r;
    const char *why;

    (void)state;
    memset(big, 1, sizeof(big));
    memset(rec, 0, sizeof(rec));
    rec[0] = EVC_SEAL_VERSION;
    /* Table of refusals: empty, the overhead alone, another version, over the cap. */
    assert_int_equal(evc_seal_parse(NULL, 0, &r, &why), EVC_ERR_TRUNCATED);
    assert_int_equal(evc_seal_parse(rec, EVC_SEAL_OVERHEAD, &r, &why), EVC_ERR_TRUNCATED);
    assert_non_null(why);
    assert_null(r.nonce);
    rec[0] = 2;
    assert_int_equal(evc_seal_parse(rec, sizeof(rec), &r, &why), EVC_ERR_PARSE);
    assert_int_equal(evc_seal_parse(big, sizeof(big), &r, &why), EVC_ERR_LIMIT);
    rec[0] = EVC_SEAL_VERSION;
    assert_int_equal(evc_seal_parse(rec, sizeof(rec), &r, &why), 0);
    assert_int_equal(r.ct_len, 1);
    assert_ptr_equal(r.nonce, rec + 1);
    assert_ptr_equal(r.ct, rec + 1 + EVC_SEAL_NONCE_LEN);
    assert_ptr_equal(r.tag, rec + 1 + EVC_SEAL_NONCE_LEN + 1);
}

static char dir[128];

static void
put(const char *name, const void *data, size_t len, mode_t mode, char *path, size_t plen)
{
    FILE *f;

    snprintf(path, plen, "%s/%s", dir, name);
    unlink(path);
    assert_non_null(f = fopen(path, "w"));
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_key_file(void **state)
{
    char p[256], l[256];
    uint8_t k[EVC_FLEET_KEY_LEN], raw[EVC_FLEET_KEY_LEN];
    struct evc_err err = {0};
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    (void)state;
    for (size_t i = 0; i < sizeof(raw); i++) {
        raw[i] = (uint8_t)i;
    }
    snprintf(dir, sizeof(dir), "/tmp/evc-seal-test-%d", (int)getpid());
    mkdir(dir, 0700);
    put("raw", raw, sizeof(raw), 0600, p, sizeof(p));
    assert_int_equal(evc_fleet_key_load(p, k, &err), 0);
    assert_memory_equal(k, raw, sizeof(raw));
    put("hex", hex, 64, 0400, p, sizeof(p));
    assert_int_equal(evc_fleet_key_load(p, k, &err), 0);
    assert_memory_equal(k, raw, sizeof(raw));
    put("hexnl", "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\n", 65, 0600, p,
        sizeof(p));
    assert_int_equal(evc_fleet_key_load(p, k, &err), 0);
    assert_memory_equal(k, raw, sizeof(raw));
    /* Refusals, each naming the file: too short, too long, not hex, readable by others, a link. */
    put("short", raw, 31, 0600, p, sizeof(p));
    assert_int_equal(evc_fleet_key_load(p, k, &err), EVC_ERR_PARSE);
    assert_non_null(strstr(evc_err_message(&err), p));
    put("long", hex, 64, 0600, p, sizeof(p));
    {
        FILE *f = fopen(p, "a");

        assert_non_null(f);
        fputs("00", f);
        fclose(f);
    }
    assert_int_equal(evc_fleet_key_load(p, k, &err), EVC_ERR_PARSE);
    put("nothex", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64, 0600, p,
        sizeof(p));
    assert_int_equal(evc_fleet_key_load(p, k, &err), EVC_ERR_PARSE);
    put("open", hex, 64, 0640, p, sizeof(p));
    assert_int_equal(evc_fleet_key_load(p, k, &err), EVC_ERR_ACCESS);
    assert_non_null(strstr(evc_err_message(&err), "chmod 600"));
    put("raw", raw, sizeof(raw), 0600, p, sizeof(p));
    snprintf(l, sizeof(l), "%s/link", dir);
    unlink(l);
    assert_int_equal(symlink(p, l), 0);
    assert_int_equal(evc_fleet_key_load(l, k, &err), EVC_ERR_LOOP);
    /* A new key: 0600, loads, and an existing file is never replaced. */
    snprintf(p, sizeof(p), "%s/new", dir);
    unlink(p);
    assert_int_equal(evc_fleet_key_new(p, &err), 0);
    {
        struct stat st;

        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, 65);
    }
    assert_int_equal(evc_fleet_key_load(p, k, &err), 0);
    assert_int_not_equal(evc_fleet_key_new(p, &err), 0);
}

static struct evc_db *
lite(void)
{
    char p[256];
    struct evc_db *db = NULL;
    struct evc_err err = {0};

    snprintf(p, sizeof(p), "/tmp/evc-seal-test-%d.db", (int)getpid());
    unlink(p);
    assert_int_equal(evc_db_open(p, NULL, &db, &err), 0);
    assert_int_equal(evc_shared_migrate(db, &err), 0);
    return db;
}

static void
test_lease(void **state)
{
    struct evc_db *db = lite();
    struct evc_lease a, b;
    struct evc_err err = {0};

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    assert_int_equal(evc_lease_take(db, "web", "hostA", 1000, 60, &a, &err), 0);
    assert_true(a.held);
    assert_int_equal(a.token, 1);
    assert_int_equal(a.until, 1060);
    /* Held: B does not get it, and learns who has it. */
    assert_int_equal(evc_lease_take(db, "web", "hostB", 1030, 60, &b, &err), 0);
    assert_false(b.held);
    assert_string_equal(b.holder, "hostA");
    /* A keeps it under the same token while it works. */
    assert_int_equal(evc_lease_take(db, "web", "hostA", 1050, 60, &a, &err), 0);
    assert_true(a.held);
    assert_int_equal(a.token, 1);
    assert_int_equal(a.until, 1110);
    /* Lapsed: B takes it over with a new token; A's holding is gone. */
    memset(&b, 0, sizeof(b));
    assert_int_equal(evc_lease_take(db, "web", "hostB", 1111, 60, &b, &err), 0);
    assert_true(b.held);
    assert_int_equal(b.token, 2);
    assert_int_equal(evc_lease_take(db, "web", "hostA", 1112, 60, &a, &err), 0);
    assert_false(a.held);
    assert_string_equal(a.holder, "hostB");
    /* Another store's lease is its own. */
    memset(&a, 0, sizeof(a));
    assert_int_equal(evc_lease_take(db, "api", "hostA", 1112, 60, &a, &err), 0);
    assert_true(a.held);
    /* Released: the next host need not wait for it to lapse. */
    assert_int_equal(evc_lease_release(db, "web", "hostB", 2, &err), 0);
    memset(&a, 0, sizeof(a));
    assert_int_equal(evc_lease_take(db, "web", "hostA", 1113, 60, &a, &err), 0);
    assert_true(a.held);
    assert_int_equal(a.token, 3);
    evc_db_close(db);
}

/* The lease's clock is the database's: SQLite's 'now' here, whatever a run's --at says. */
static void
test_db_now(void **state)
{
    struct evc_db *db = lite();
    struct evc_err err = {0};
    evc_time now = 0, mine = (evc_time)time(NULL);

    (void)state;
    assert_int_equal(evc_lease_db_now(db, &now, &err), 0);
    /* The same clock as the host's here: within a few seconds, never an --at far away. */
    assert_true(now >= mine - 5 && now <= mine + 5);
    evc_db_close(db);
}

static void
test_publish_fenced(void **state)
{
    struct evc_db *db = lite();
    struct evc_lease a, b;
    struct evc_shared_pub p;
    struct evc_err err = {0};
    static const uint8_t blob[] = {1, 2, 3};

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    assert_int_equal(evc_lease_take(db, "web", "hostA", 1000, 60, &a, &err), 0);
    memset(&p, 0, sizeof(p));
    p.store = "web";
    p.generation = 1;
    p.activate_at = 2000;
    p.chain = (const uint8_t *)"PEM";
    p.chain_len = 3;
    p.sa = blob;
    p.sa_len = sizeof(blob);
    p.sealed = blob;
    p.sealed_len = sizeof(blob);
    p.token = a.token;
    p.made_at = 1001;
    /* A stopped for longer than its lease; B took over. A's late publication is refused. */
    assert_int_equal(evc_lease_take(db, "web", "hostB", 1061, 60, &b, &err), 0);
    assert_true(b.held);
    assert_int_equal(evc_shared_publish(db, &p, "hostA", &err), EVC_ERR_POLICY);
    assert_non_null(strstr(evc_err_message(&err), "lease lost"));
    p.token = b.token;
    assert_int_equal(evc_shared_publish(db, &p, "hostB", &err), 0);
    /* One row per (store, generation): a second is refused, whoever holds the lease. */
    assert_int_not_equal(evc_shared_publish(db, &p, "hostB", &err), 0);
    evc_db_close(db);
}

static const char *
row_state(struct evc_db *db, const char *store, int64_t generation, char *out, size_t len)
{
    struct evc_db_stmt *q = NULL;
    struct evc_err err = {0};

    out[0] = '\0';
    assert_int_equal(evc_db_prepare(db,
                                    "SELECT state FROM successors WHERE store = ?1 AND "
                                    "generation = ?2",
                                    &q, &err),
                     0);
    assert_int_equal(evc_db_bind_text(q, 1, store), 0);
    assert_int_equal(evc_db_bind_int64(q, 2, generation), 0);
    if (evc_db_step(q, &err) == EVC_DB_ROW) {
        snprintf(out, len, "%s", evc_db_col_text(q, 0));
    }
    evc_db_finalize(q);
    return out;
}

/* A row some host staged is never withdrawn or published over; one nobody staged is. */
static void
test_staged_kept(void **state)
{
    struct evc_db *db = lite();
    struct evc_lease l;
    struct evc_shared_pub p;
    struct evc_err err = {0};
    static const uint8_t blob[] = {1, 2, 3};
    char st[32];

    (void)state;
    for (int k = 0; k < 2; k++) {
        const char *store = k == 0 ? "web" : "api";

        memset(&l, 0, sizeof(l));
        assert_int_equal(evc_lease_take(db, store, "hostA", 1000, 60, &l, &err), 0);
        memset(&p, 0, sizeof(p));
        p.store = store;
        p.generation = 1;
        p.activate_at = 2000;
        p.chain = (const uint8_t *)"PEM";
        p.chain_len = 3;
        p.sa = blob;
        p.sa_len = sizeof(blob);
        p.sealed = blob;
        p.sealed_len = sizeof(blob);
        p.token = l.token;
        p.made_at = 1001;
        assert_int_equal(evc_shared_publish(db, &p, "hostA", &err), 0);
        if (k == 0) {
            assert_int_equal(evc_shared_staged(db, store, 1, "hostC", 1002, &err), 0);
            /* Told twice (a pass run again): still one host. */
            assert_int_equal(evc_shared_staged(db, store, 1, "hostC", 1003, &err), 0);
        }
        memset(&l, 0, sizeof(l));
        assert_int_equal(evc_lease_take(db, store, "hostB", 1100, 60, &l, &err), 0);
        assert_true(l.held);
        p.generation = 2;
        p.token = l.token;
        if (k == 0) {
            assert_int_equal(evc_shared_publish(db, &p, "hostB", &err), EVC_ERR_POLICY);
            assert_non_null(strstr(evc_err_message(&err), "staged by 1 host"));
            assert_string_equal(row_state(db, store, 1, st, sizeof(st)), "staged");
            assert_string_equal(row_state(db, store, 2, st, sizeof(st)), "");
        } else {
            assert_int_equal(evc_shared_publish(db, &p, "hostB", &err), 0);
            assert_string_equal(row_state(db, store, 1, st, sizeof(st)), "withdrawn");
            assert_string_equal(row_state(db, store, 2, st, sizeof(st)), "staged");
        }
    }
    assert_int_not_equal(evc_shared_staged(db, "web", 0, "hostC", 1004, &err), 0);
    evc_db_close(db);
}

static void
offer_init(struct evc_shared_offer *o)
{
    memset(o, 0, sizeof(*o));
    evc_buf_init(&o->chain, EVC_SHARED_CHAIN_MAX + 1);
    evc_buf_init(&o->sa, 64 * 1024 + 1);
    evc_buf_init(&o->key, EVC_SEAL_PLAIN_MAX + 1);
}

static void
offer_clear(struct evc_shared_offer *o)
{
    evc_buf_free(&o->chain);
    evc_buf_free(&o->sa);
    evc_buf_free(&o->key);
}

/*
 * What a follower fetches: the newest row for its live certificate above
 * its generation, not withdrawn, its key opened; a row whose key or hash
 * was changed is refused with the reason, its key never handed out.
 */
static void
test_fetch(void **state)
{
    struct evc_db *db = lite();
    struct evc_lease l;
    struct evc_shared_pub p;
    struct evc_shared_offer o;
    struct evc_seal_ad ad = ad_for("web", 1, 0xaa);
    struct evc_buf sealed;
    struct evc_err err = {0};
    uint8_t cur[32], other[32];
    static const uint8_t sa[] = {0x30, 0x03, 0x02, 0x01, 0x01};

    (void)state;
    memset(cur, 0x11, sizeof(cur));
    memset(other, 0x22, sizeof(other));
    memset(&l, 0, sizeof(l));
    assert_int_equal(evc_lease_take(db, "web", "hostA", 1000, 60, &l, &err), 0);
    evc_buf_init(&sealed, EVC_SEAL_RECORD_MAX);
    assert_int_equal(evc_seal(key1, &ad, (const uint8_t *)secret, strlen(secret), &sealed, &err),
                     0);
    memset(&p, 0, sizeof(p));
    p.store = "web";
    p.generation = 1;
    memcpy(p.prev_sha256, cur, 32);
    memset(p.leaf_sha256, 0xaa, 32);
    p.activate_at = 2000;
    p.chain = (const uint8_t *)"-----BEGIN CERTIFICATE-----";
    p.chain_len = 27;
    p.sa = sa;
    p.sa_len = sizeof(sa);
    p.sealed = sealed.data;
    p.sealed_len = sealed.len;
    p.token = l.token;
    assert_int_equal(evc_shared_publish(db, &p, "hostA", &err), 0);
    offer_init(&o);
    assert_int_equal(evc_shared_fetch(db, "web", cur, 0, key1, &o, &err), 1);
    assert_int_equal(o.turn, EVC_SHARED_USE);
    assert_int_equal(o.generation, 1);
    assert_int_equal(o.activate_at, 2000);
    assert_string_equal(o.who, "hostA");
    assert_int_equal(o.key.len, strlen(secret));
    assert_memory_equal(o.key.data, secret, o.key.len);
    assert_int_equal(o.sa.len, sizeof(sa));
    offer_clear(&o);
    /* A host name in a row is outside bytes: shown only when it is an id. */
    assert_int_equal(evc_db_exec(db, "UPDATE successors SET made_by = 'host\"A' || char(27)", &err),
                     0);
    offer_init(&o);
    assert_int_equal(evc_shared_fetch(db, "web", cur, 0, key1, &o, &err), 1);
    assert_string_equal(o.who, "(a host name not shown)");
    offer_clear(&o);
    assert_int_equal(evc_db_exec(db, "UPDATE successors SET made_by = 'hostA'", &err), 0);
    /* Another certificate, a generation already held, another store: nothing. */
    offer_init(&o);
    assert_int_equal(evc_shared_fetch(db, "web", other, 0, key1, &o, &err), 0);
    assert_int_equal(evc_shared_fetch(db, "web", cur, 1, key1, &o, &err), 0);
    assert_int_equal(evc_shared_fetch(db, "api", cur, 0, key1, &o, &err), 0);
    /* Another fleet key: refused, the reason given, no key handed out. */
    assert_int_equal(evc_shared_fetch(db, "web", cur, 0, key2, &o, &err), 1);
    assert_int_equal(o.turn, EVC_SHARED_REFUSED);
    assert_non_null(strstr(o.detail, "generation 1 published by hostA refused"));
    assert_int_equal(o.key.len, 0);
    offer_clear(&o);
    /* The row's hash changed (the key was sealed for another leaf), then a malformed one. */
    assert_int_equal(
        evc_db_exec(db,
                    "UPDATE successors SET sha256 = '"
                    "abababababababababababababababababababababababababababababababab'",
                    &err),
        0);
    offer_init(&o);
    assert_int_equal(evc_shared_fetch(db, "web", cur, 0, key1, &o, &err), 1);
    assert_int_equal(o.turn, EVC_SHARED_REFUSED);
    assert_non_null(strstr(o.detail, "does not open"));
    assert_int_equal(o.key.len, 0);
    offer_clear(&o);
    assert_int_equal(evc_db_exec(db, "UPDATE successors SET sha256 = 'zz'", &err), 0);
    offer_init(&o);
    assert_int_equal(evc_shared_fetch(db, "web", cur, 0, key1, &o, &err), 1);
    assert_int_equal(o.turn, EVC_SHARED_REFUSED);
    assert_non_null(strstr(o.detail, "malformed"));
    offer_clear(&o);
    /* A withdrawn row is never handed out. */
    assert_int_equal(evc_db_exec(db, "UPDATE successors SET state = 'withdrawn'", &err), 0);
    offer_init(&o);
    assert_int_equal(evc_shared_fetch(db, "web", cur, 0, key1, &o, &err), 0);
    offer_clear(&o);
    evc_buf_free(&sealed);
    evc_db_close(db);
}

static void
clean(void)
{
    static const char *const names[] = {"raw",    "hex",  "hexnl", "short", "long",
                                        "nothex", "open", "link",  "new"};
    char p[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    snprintf(p, sizeof(p), "/tmp/evc-seal-test-%d.db", (int)getpid());
    unlink(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_refused),
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_lease),       cmocka_unit_test(test_db_now),
        cmocka_unit_test(test_staged_kept), cmocka_unit_test(test_publish_fenced),
        cmocka_unit_test(test_fetch),
    };

    int r = cmocka_run_group_tests(tests, NULL, NULL);

    clean();
    return r;
}
