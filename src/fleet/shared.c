/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Published successors of shared stores, and the fleet's half of a
 * renewal run (evc_renew_opts' shared callbacks). Before a shared store's
 * successor is made, take() looks for one already published for the live
 * certificate; if there is none it takes the lease (lease.c), and only the
 * holder makes one. publish() seals the holder's key (seal.c) and inserts
 * the row in one transaction that checks the lease's token. Whatever is
 * fetched is handed to the ca layer, which checks it against the live
 * certificate before it stages anything. A database that cannot be
 * reached or written means no shared store is renewed: never alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "evercert/announce.h"
#include "evercert/config.h"
#include "evercert/shared.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"
#include "db/db.h"

static const struct evc_db_migration migrations[] = {
    {1,
     "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
     "until_at INTEGER NOT NULL, token INTEGER NOT NULL);"
     "CREATE TABLE successors (store TEXT NOT NULL, generation INTEGER NOT NULL, "
     "state TEXT NOT NULL CHECK (state IN ('staged', 'active', 'withdrawn')), "
     "prev TEXT NOT NULL, sha256 TEXT NOT NULL, chain TEXT NOT NULL, sa BLOB NOT NULL, "
     "sealed BLOB NOT NULL, activate_at INTEGER NOT NULL, made_by TEXT NOT NULL, "
     "token INTEGER NOT NULL, made_at INTEGER NOT NULL, PRIMARY KEY (store, generation));"
     "CREATE INDEX successors_prev ON successors (store, prev);",
     "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
     "until_at BIGINT NOT NULL, token BIGINT NOT NULL);"
     "CREATE TABLE successors (store TEXT NOT NULL, generation BIGINT NOT NULL, "
     "state TEXT NOT NULL CHECK (state IN ('staged', 'active', 'withdrawn')), "
     "prev TEXT NOT NULL, sha256 TEXT NOT NULL, chain TEXT NOT NULL, sa BYTEA NOT NULL, "
     "sealed BYTEA NOT NULL, activate_at BIGINT NOT NULL, made_by TEXT NOT NULL, "
     "token BIGINT NOT NULL, made_at BIGINT NOT NULL, PRIMARY KEY (store, generation));"
     "CREATE INDEX successors_prev ON successors (store, prev);"},
    /*
     * Which host has committed which successor to its disk: a row some host
     * staged is never withdrawn or superseded, or the fleet would split.
     */
    {2,
     "CREATE TABLE staged_by (store TEXT NOT NULL, generation INTEGER NOT NULL, "
     "host TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (store, generation, host));",
     "CREATE TABLE staged_by (store TEXT NOT NULL, generation BIGINT NOT NULL, "
     "host TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (store, generation, host));"},
};

int
evc_shared_migrate(struct evc_db *db, struct evc_err *err)
{
    return evc_db_migrate(db, "shared", migrations, sizeof(migrations) / sizeof(migrations[0]),
                          err);
}

/*
 * A host name read from a row, as it may be shown: the charset of ids
 * (letters, digits and . _ - : @), else a placeholder; a row is outside bytes.
 */
static void
host_show(char *out, size_t len, const char *s)
{
    if (evc_text_id_check(s, strlen(s)) == 0) {
        snprintf(out, len, "%s", s);
    } else {
        snprintf(out, len, "(a host name not shown)");
    }
}

static const char sql_check_lease[] =
    "UPDATE leases SET until_at = until_at WHERE name = ?1 AND holder = ?2 AND token = ?3";
/* Only a row no host has staged is superseded. */
static const char sql_withdraw[] =
    "UPDATE successors SET state = 'withdrawn' WHERE store = ?1 AND prev = ?2 AND generation < ?3 "
    "AND state = 'staged' AND NOT EXISTS (SELECT 1 FROM staged_by b WHERE b.store = "
    "successors.store AND b.generation = successors.generation)";
/* The newest row for the live certificate that some host has staged, and how many hosts did. */
static const char sql_staged[] =
    "SELECT s.generation, COUNT(b.host) FROM successors s JOIN staged_by b ON b.store = s.store "
    "AND b.generation = s.generation WHERE s.store = ?1 AND s.prev = ?2 AND s.state <> "
    "'withdrawn' GROUP BY s.generation ORDER BY s.generation DESC LIMIT 1";
/*
 * For take: the newest generation above ?3 that some host staged, for the
 * live certificate ?2, or whose row is gone or renumbered (a row changed
 * under a host that staged it still binds the fleet).
 */
static const char sql_staged_above[] =
    "SELECT b.generation, COUNT(b.host) FROM staged_by b LEFT JOIN successors s ON s.store = "
    "b.store AND s.generation = b.generation WHERE b.store = ?1 AND b.generation > ?3 AND "
    "(s.generation IS NULL OR (s.prev = ?2 AND s.state <> 'withdrawn')) GROUP BY b.generation "
    "ORDER BY b.generation DESC LIMIT 1";
static const char sql_staged_by[] =
    "INSERT INTO staged_by (store, generation, host, at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (store, generation, host) DO UPDATE SET at = excluded.at";

/*
 * The newest successor of prev (hex) in store some host has staged (with
 * above, sql_staged_above's): 1 with *gen and *hosts, 0 when none, or a
 * database error.
 */
static int
staged_row(struct evc_db *db, const char *store, const char *prev, const uint64_t *above,
           uint64_t *gen, int64_t *hosts, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    *gen = 0;
    *hosts = 0;
    if ((r = evc_db_prepare(db, above != NULL ? sql_staged_above : sql_staged, &q, err)) != 0) {
        return r;
    }
    if (evc_db_bind_text(q, 1, store) != 0 || evc_db_bind_text(q, 2, prev) != 0 ||
        (above != NULL && evc_db_bind_int64(q, 3, (int64_t)*above) != 0)) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
    } else if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        int64_t g = evc_db_col_int64(q, 0);

        *gen = g > 0 ? (uint64_t)g : 0;
        *hosts = evc_db_col_int64(q, 1);
        r = 1;
    } else if (r == EVC_DB_DONE) {
        r = 0;
    }
    evc_db_finalize(q);
    return r;
}

int
evc_shared_staged(struct evc_db *db, const char *store, uint64_t generation, const char *host,
                  evc_time at, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if (generation == 0 || generation > INT64_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "shared store \"%.64s\": no generation", store);
    }
    if ((r = evc_db_prepare(db, sql_staged_by, &q, err)) != 0) {
        return r;
    }
    if (evc_db_bind_text(q, 1, store) != 0 || evc_db_bind_int64(q, 2, (int64_t)generation) != 0 ||
        evc_db_bind_text(q, 3, host) != 0 || evc_db_bind_int64(q, 4, at) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
    } else if ((r = evc_db_step(q, err)) >= 0) {
        r = 0;
    }
    evc_db_finalize(q);
    return r;
}
static const char sql_insert[] =
    "INSERT INTO successors (store, generation, state, prev, sha256, chain, sa, sealed, "
    "activate_at, made_by, token, made_at) "
    "VALUES (?1, ?2, 'staged', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

int
evc_shared_publish(struct evc_db *db, const struct evc_shared_pub *p, const char *host,
                   struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    char prev[65], sha[65], *chain = NULL;
    uint64_t staged;
    int64_t hosts;
    int r, began = 0;

    if (p->generation > INT64_MAX || p->chain_len == 0 || p->chain_len > EVC_SHARED_CHAIN_MAX ||
        memchr(p->chain, '\0', p->chain_len) != NULL) {
        return evc_err_set(err, EVC_ERR_USAGE, "shared store \"%.64s\": nothing to publish",
                           p->store);
    }
    if ((chain = malloc(p->chain_len + 1)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    memcpy(chain, p->chain, p->chain_len);
    chain[p->chain_len] = '\0';
    evc_text_hex(p->prev_sha256, 32, prev);
    evc_text_hex(p->leaf_sha256, 32, sha);
    if ((r = evc_db_begin(db, err)) != 0) {
        goto out;
    }
    began = 1;
    /* The fencing check: a renewer whose lease was taken over publishes nothing. */
    if ((r = evc_db_prepare(db, sql_check_lease, &q, err)) != 0) {
        goto out;
    }
    if (evc_db_bind_text(q, 1, p->store) != 0 || evc_db_bind_text(q, 2, host) != 0 ||
        evc_db_bind_int64(q, 3, p->token) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
        goto out;
    }
    if ((r = evc_db_step(q, err)) < 0) {
        goto out;
    }
    if (evc_db_changes(q) != 1) {
        r = evc_err_set(err, EVC_ERR_POLICY,
                        "shared store \"%.64s\": lease lost (token %lld is no longer %.64s's); "
                        "nothing published",
                        p->store, (long long)p->token, host);
        goto out;
    }
    evc_db_finalize(q);
    q = NULL;
    if ((r = evc_db_prepare(db, sql_withdraw, &q, err)) != 0) {
        goto out;
    }
    if (evc_db_bind_text(q, 1, p->store) != 0 || evc_db_bind_text(q, 2, prev) != 0 ||
        evc_db_bind_int64(q, 3, (int64_t)p->generation) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
        goto out;
    }
    if ((r = evc_db_step(q, err)) < 0) {
        goto out;
    }
    evc_db_finalize(q);
    q = NULL;
    /* A row some host staged meanwhile stays the fleet's successor: nothing is published over it.
     */
    if ((r = staged_row(db, p->store, prev, NULL, &staged, &hosts, err)) < 0) {
        goto out;
    }
    if (r == 1) {
        r = evc_err_set(err, EVC_ERR_POLICY,
                        "shared store \"%.64s\": generation %llu is staged by %lld host(s); "
                        "nothing published over it",
                        p->store, (unsigned long long)staged, (long long)hosts);
        goto out;
    }
    if ((r = evc_db_prepare(db, sql_insert, &q, err)) != 0) {
        goto out;
    }
    if (evc_db_bind_text(q, 1, p->store) != 0 ||
        evc_db_bind_int64(q, 2, (int64_t)p->generation) != 0 || evc_db_bind_text(q, 3, prev) != 0 ||
        evc_db_bind_text(q, 4, sha) != 0 || evc_db_bind_text(q, 5, chain) != 0 ||
        evc_db_bind_blob(q, 6, p->sa, p->sa_len) != 0 ||
        evc_db_bind_blob(q, 7, p->sealed, p->sealed_len) != 0 ||
        evc_db_bind_int64(q, 8, p->activate_at) != 0 || evc_db_bind_text(q, 9, host) != 0 ||
        evc_db_bind_int64(q, 10, p->token) != 0 || evc_db_bind_int64(q, 11, p->made_at) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
        goto out;
    }
    if ((r = evc_db_step(q, err)) < 0) {
        goto out;
    }
    evc_db_finalize(q);
    q = NULL;
    /* The publication changes the fleet's disk: a crash test may stop the renewer here. */
    evc_fault_point();
    if ((r = evc_db_commit(db, err)) != 0) {
        began = 0;
        goto out;
    }
    began = 0;
    r = 0;
out:
    evc_db_finalize(q);
    if (began) {
        evc_db_rollback(db);
    }
    free(chain);
    return r;
}

/* --- the renewal run's callbacks ------------------------------------------ */

struct evc_shared_ctx {
    char *url;
    char *password_file;
    char *key_file;
    char host[EVC_SHARED_HOST_MAX + 1];
    int64_t lease;
    struct evc_db *db;
    enum evc_db_fault fault; /* of the last failed open, when db is NULL */
    void (*log)(void *arg, int level, const char *msg);
    void *log_arg;
};

static void say(struct evc_shared_ctx *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(struct evc_shared_ctx *c, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (c->log == NULL) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->log(c->log_arg, level, msg);
}

/* out->detail, cut to fit (a reason is worth more whole, but never worth overflowing). */
static void detail_set(struct evc_shared_offer *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
detail_set(struct evc_shared_offer *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int
evc_shared_ctx_new(const struct evc_config *conf, const char *url,
                   void (*log)(void *arg, int level, const char *msg), void *log_arg,
                   struct evc_shared_ctx **out, struct evc_err *err)
{
    struct evc_shared_ctx *c = NULL;
    size_t shared = 0;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    for (size_t i = 0; i < conf->nstores; i++) {
        shared += conf->stores[i].shared != 0;
    }
    if (shared == 0 || url == NULL) {
        return 0;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->url = strdup(url)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    c->password_file = dup_or_null(conf->fleet.password_file);
    c->key_file = dup_or_null(conf->fleet.key_file);
    if ((conf->fleet.password_file != NULL && c->password_file == NULL) ||
        (conf->fleet.key_file != NULL && c->key_file == NULL)) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (conf->fleet.host != NULL) {
        snprintf(c->host, sizeof(c->host), "%s", conf->fleet.host);
    } else if (gethostname(c->host, sizeof(c->host)) != 0) {
        snprintf(c->host, sizeof(c->host), "localhost");
    }
    c->host[sizeof(c->host) - 1] = '\0';
    /* The name every other host shows: refused here rather than hidden there. */
    if (evc_text_id_check(c->host, strlen(c->host)) != 0 ||
        (conf->fleet.host != NULL && strlen(conf->fleet.host) > EVC_SHARED_HOST_MAX)) {
        r = evc_err_set(err, EVC_ERR_CONFIG,
                        "[fleet] host \"%.64s\": at most %d letters, digits and . _ - : @; shared "
                        "stores are not renewed",
                        c->host, EVC_SHARED_HOST_MAX);
        goto out;
    }
    c->lease = conf->fleet.lease > 0 ? conf->fleet.lease : 60;
    c->log = log;
    c->log_arg = log_arg;
    *out = c;
    c = NULL;
    r = 0;
out:
    evc_shared_ctx_free(c);
    return r;
}

void
evc_shared_ctx_free(struct evc_shared_ctx *c)
{
    if (c == NULL) {
        return;
    }
    evc_db_close(c->db);
    free(c->url);
    free(c->password_file);
    free(c->key_file);
    free(c);
}

/* The database, opened and migrated on first use; a lost connection is opened again. */
static int
connect_db(struct evc_shared_ctx *c, struct evc_err *err)
{
    struct evc_db_opts o;
    struct evc_buf pw;
    int r;

    if (c->db != NULL) {
        return 0;
    }
    memset(&o, 0, sizeof(o));
    o.connect_timeout = 5;
    o.statement_ms = 10000;
    evc_buf_init(&pw, EVC_PASSWORD_MAX + 2);
    if (c->password_file != NULL && (r = evc_password_read(c->password_file, &pw, err)) != 0) {
        evc_buf_free(&pw);
        return r;
    }
    o.password = c->password_file != NULL ? evc_buf_str(&pw) : NULL;
    r = evc_db_open(c->url, &o, &c->db, err);
    evc_buf_free(&pw); /* wipes the password */
    if (r != 0) {
        c->db = NULL;
        c->fault = EVC_DB_FAULT_DOWN;
        return r;
    }
    if ((r = evc_shared_migrate(c->db, err)) != 0) {
        /*
         * A read-only database (a standby) can still hand out what was
         * published; taking a lease then fails, so nothing is made.
         */
        if (evc_db_fault(c->db) == EVC_DB_FAULT_READONLY) {
            return 0;
        }
        c->fault = evc_db_fault(c->db);
        evc_db_close(c->db);
        c->db = NULL;
    }
    return r;
}

/* After a failed call: a connection that is gone is closed, to be opened again next time. */
static void
after_failure(struct evc_shared_ctx *c)
{
    if (c->db != NULL && evc_db_fault(c->db) == EVC_DB_FAULT_DOWN) {
        evc_db_close(c->db);
        c->db = NULL;
    }
}

static void
down(struct evc_shared_ctx *c, const struct evc_store_conf *store, const struct evc_err *e,
     struct evc_shared_offer *out)
{
    enum evc_db_fault f = c->db != NULL ? evc_db_fault(c->db) : c->fault;

    out->turn = EVC_SHARED_DOWN;
    /* The database's message names it (redacted: never a password). */
    detail_set(out, "shared store \"%.40s\": fleet database %s; not renewing alone (%s)",
               store->name,
               f == EVC_DB_FAULT_READONLY ? "read-only"
               : f == EVC_DB_FAULT_DOWN   ? "unreachable"
                                          : "failed",
               evc_err_message(e));
    after_failure(c);
}

static const char sql_fetch[] =
    "SELECT generation, sha256, chain, sa, sealed, activate_at, made_by FROM successors "
    "WHERE store = ?1 AND prev = ?2 AND generation > ?3 AND state <> 'withdrawn' "
    "ORDER BY generation DESC LIMIT 1";
static const char sql_max[] =
    "SELECT COALESCE(MAX(generation), 0) FROM successors WHERE store = ?1";

int
evc_shared_fetch(struct evc_db *db, const char *store, const uint8_t cur[32], uint64_t generation,
                 const uint8_t key[EVC_FLEET_KEY_LEN], struct evc_shared_offer *out,
                 struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    struct evc_seal_ad ad;
    struct evc_err e = {0};
    const uint8_t *sa, *sealed;
    const char *chain;
    size_t sa_len, sealed_len, chain_len;
    char prev[65];
    int64_t g;
    int r;

    evc_text_hex(cur, 32, prev);
    if ((r = evc_db_prepare(db, sql_fetch, &q, err)) != 0) {
        return r;
    }
    if (evc_db_bind_text(q, 1, store) != 0 || evc_db_bind_text(q, 2, prev) != 0 ||
        evc_db_bind_int64(q, 3, (int64_t)generation) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
        goto out;
    }
    if ((r = evc_db_step(q, err)) != EVC_DB_ROW) {
        goto out; /* none (0), or an error */
    }
    g = evc_db_col_int64(q, 0);
    out->generation = (uint64_t)g;
    out->activate_at = evc_db_col_int64(q, 5);
    host_show(out->who, sizeof(out->who), evc_db_col_text(q, 6));
    r = 1;
    out->turn = EVC_SHARED_REFUSED;
    /* A row is outside bytes: every field is bounded before it is used. */
    if (g <= 0 || evc_text_unhex(evc_db_col_text(q, 1), out->leaf_sha256, 32) != 0) {
        snprintf(out->detail, sizeof(out->detail),
                 "the published successor's generation or sha256 is malformed");
        goto out;
    }
    /* Each column is copied before the next is read: a blob lives until the next is read. */
    chain = evc_db_col_text(q, 2);
    chain_len = strlen(chain);
    if (chain_len == 0 || chain_len > EVC_SHARED_CHAIN_MAX ||
        evc_buf_put(&out->chain, chain, chain_len) != 0) {
        snprintf(out->detail, sizeof(out->detail),
                 "the published successor's chain is empty or over its cap");
        goto out;
    }
    sa = evc_db_col_blob(q, 3, &sa_len);
    if (sa_len == 0 || sa_len > EVC_SA_MAX || evc_buf_put(&out->sa, sa, sa_len) != 0) {
        snprintf(out->detail, sizeof(out->detail),
                 "the published successor's SA is empty or over its cap");
        goto out;
    }
    memset(&ad, 0, sizeof(ad));
    ad.store = store;
    ad.generation = out->generation;
    memcpy(ad.leaf_sha256, out->leaf_sha256, 32);
    sealed = evc_db_col_blob(q, 4, &sealed_len);
    if ((r = evc_unseal(key, &ad, sealed, sealed_len, &out->key, &e)) != 0) {
        r = 1;
        snprintf(out->detail, sizeof(out->detail), "%.200s", evc_err_message(&e));
        goto out;
    }
    r = 1;
    out->turn = EVC_SHARED_USE;
    snprintf(out->detail, sizeof(out->detail), "generation %llu published by %s",
             (unsigned long long)out->generation, out->who);
out:
    if (r == 1 && out->turn == EVC_SHARED_REFUSED) {
        char why[sizeof(out->detail)];

        memcpy(why, out->detail, sizeof(why));
        detail_set(out,
                   "shared store \"%.40s\": generation %llu published by %.40s refused: %s; "
                   "nothing staged",
                   store, (unsigned long long)out->generation, out->who, why);
    }
    evc_db_finalize(q);
    return r;
}

/* The fleet key, then what is published for cur (evc_shared_fetch); the key is wiped after. */
static int
fetch(struct evc_shared_ctx *c, const struct evc_store_conf *store, const uint8_t cur[32],
      uint64_t generation, struct evc_shared_offer *out, struct evc_err *err)
{
    uint8_t key[EVC_FLEET_KEY_LEN];
    struct evc_err e = {0};
    int r;

    if (evc_fleet_key_load(c->key_file != NULL ? c->key_file : "", key, &e) != 0) {
        out->turn = EVC_SHARED_REFUSED;
        detail_set(out, "shared store \"%.40s\": %s; not renewing", store->name,
                   evc_err_message(&e));
        return 1;
    }
    r = evc_shared_fetch(c->db, store->name, cur, generation, key, out, err);
    OPENSSL_cleanse(key, sizeof(key));
    return r;
}

static int
max_generation(struct evc_shared_ctx *c, const char *store, uint64_t *out, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    *out = 0;
    if ((r = evc_db_prepare(c->db, sql_max, &q, err)) != 0) {
        return r;
    }
    if (evc_db_bind_text(q, 1, store) != 0) {
        r = evc_err_set(err, EVC_ERR_INTERNAL, "cannot bind");
    } else if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        int64_t g = evc_db_col_int64(q, 0);

        *out = g > 0 ? (uint64_t)g : 0;
        r = 0;
    } else if (r == EVC_DB_DONE) {
        r = 0;
    }
    evc_db_finalize(q);
    return r;
}

/* out's buffers emptied (the key wiped) for another fetch; what the caller said stays. */
static void
offer_empty(struct evc_shared_offer *out)
{
    evc_buf_free(&out->chain);
    evc_buf_free(&out->sa);
    evc_buf_free(&out->key);
    evc_buf_init(&out->chain, EVC_SHARED_CHAIN_MAX + 1);
    evc_buf_init(&out->sa, EVC_SA_MAX + 1);
    evc_buf_init(&out->key, EVC_SEAL_PLAIN_MAX + 1);
    out->turn = EVC_SHARED_MAKE;
}

/*
 * A fetched row this host cannot use: refused by fetch (malformed, its key
 * does not open), or the one the ca layer refused before (out->refused).
 * A refusal without a row (the fleet key cannot be read) is not a row's.
 */
static int
row_refused(const struct evc_shared_offer *out)
{
    return out->generation != 0 &&
           (out->turn == EVC_SHARED_REFUSED ||
            (out->turn == EVC_SHARED_USE && out->generation == out->refused));
}

static void
take(void *arg, const struct evc_store_conf *store, const uint8_t cur[32], uint64_t generation,
     evc_time now, struct evc_shared_offer *out)
{
    struct evc_shared_ctx *c = arg;
    struct evc_lease l;
    struct evc_err err = {0};
    char until[EVC_TIME_TEXT_MAX], why[sizeof(out->detail)], prev[65];
    uint64_t top, refused = 0, staged;
    int64_t hosts;
    evc_time dbnow;
    int r;

    (void)now; /* the run's time: the lease takes the database's instead */

    /* The ca layer's reason for the row it refused, kept for the line a person reads. */
    if (out->refused != 0) {
        memcpy(why, out->detail, sizeof(why));
        why[sizeof(why) - 1] = '\0';
    } else {
        why[0] = '\0';
    }
    offer_empty(out);
    evc_text_hex(cur, 32, prev);
    if (connect_db(c, &err) != 0) {
        down(c, store, &err, out);
        return;
    }
    if ((r = fetch(c, store, cur, generation, out, &err)) < 0) {
        down(c, store, &err, out);
        return;
    }
    if (r == 1 && !row_refused(out)) {
        return;
    }
    if (r == 1) {
        /* The newest row is refused here: only the holder may supersede it, if no host staged it.
         */
        refused = out->generation;
        if (out->turn == EVC_SHARED_REFUSED) {
            memcpy(why, out->detail, sizeof(why));
        }
        offer_empty(out);
    }
    memset(&l, 0, sizeof(l));
    /* The lease runs on the database's clock: the run's own (--at included) is not the fleet's. */
    if (evc_lease_db_now(c->db, &dbnow, &err) != 0 ||
        evc_lease_take(c->db, store->name, c->host, dbnow, c->lease, &l, &err) != 0) {
        down(c, store, &err, out);
        return;
    }
    evc_time_format(l.until, until);
    if (!l.held) {
        host_show(out->who, sizeof(out->who), l.holder);
        if (refused != 0) {
            out->turn = EVC_SHARED_REFUSED;
            out->generation = refused;
            detail_set(out, "%s", why);
            return;
        }
        out->turn = EVC_SHARED_WAIT;
        snprintf(out->detail, sizeof(out->detail),
                 "shared store \"%.64s\": %.64s holds the lease until %s (token %lld); waiting "
                 "for its successor",
                 store->name, out->who, until, (long long)l.token);
        return;
    }
    /* What the previous holder published just before its lease ended is used, not made again. */
    if ((r = fetch(c, store, cur, generation, out, &err)) < 0) {
        down(c, store, &err, out);
        return;
    }
    if (r == 1 && !row_refused(out)) {
        evc_lease_release(c->db, store->name, c->host, l.token, &err);
        return;
    }
    if (r == 1) {
        refused = out->generation;
        if (out->turn == EVC_SHARED_REFUSED) {
            memcpy(why, out->detail, sizeof(why));
        }
        offer_empty(out);
    }
    /*
     * A successor some host has staged is the fleet's: making another
     * would leave that host (which never fetches again) serving a
     * different certificate at the switch. A person must decide.
     */
    if ((r = staged_row(c->db, store->name, prev, &generation, &staged, &hosts, &err)) < 0) {
        down(c, store, &err, out);
        return;
    }
    if (r == 1) {
        evc_lease_release(c->db, store->name, c->host, l.token, &err);
        out->turn = EVC_SHARED_REFUSED;
        out->generation = staged;
        if (why[0] == '\0') {
            snprintf(why, sizeof(why),
                     "shared store \"%.64s\": generation %llu is published for the live "
                     "certificate and cannot be taken",
                     store->name, (unsigned long long)staged);
        }
        detail_set(out,
                   "%.150s; generation %llu is staged by %lld host(s), so it is not superseded: "
                   "a person deletes the bad row",
                   why, (unsigned long long)staged, (long long)hosts);
        return;
    }
    if (max_generation(c, store->name, &top, &err) != 0) {
        down(c, store, &err, out);
        return;
    }
    out->turn = EVC_SHARED_MAKE;
    out->generation = (top > generation ? top : generation) + 1;
    out->token = l.token;
    snprintf(out->who, sizeof(out->who), "%s", c->host);
    if (refused != 0) {
        say(c, LOG_WARNING,
            "shared store \"%.64s\": generation %llu refused and staged by no host: superseded",
            store->name, (unsigned long long)refused);
    }
    say(c, LOG_NOTICE,
        "shared store \"%.64s\": lease taken (token %lld, until %s); making "
        "generation %llu",
        store->name, (long long)l.token, until, (unsigned long long)out->generation);
}

/* After this host committed a shared store's successor to its disk: the fleet is told. */
static void
staged(void *arg, const struct evc_store_conf *store, uint64_t generation, evc_time now)
{
    struct evc_shared_ctx *c = arg;
    struct evc_err err = {0};

    if (connect_db(c, &err) != 0 ||
        evc_shared_staged(c->db, store->name, generation, c->host, now, &err) != 0) {
        /* The successor stays staged; only its protection from being superseded is missing. */
        say(c, LOG_WARNING,
            "shared store \"%.64s\": generation %llu staged, but the fleet database was not "
            "told (%.200s)",
            store->name, (unsigned long long)generation, evc_err_message(&err));
        after_failure(c);
    }
}

static int
publish(void *arg, const struct evc_store_conf *store, const struct evc_shared_made *m,
        evc_time now, char *detail, size_t len)
{
    struct evc_shared_ctx *c = arg;
    struct evc_shared_pub p;
    struct evc_seal_ad ad;
    struct evc_buf sealed;
    struct evc_err err = {0};
    uint8_t key[EVC_FLEET_KEY_LEN];
    int r;

    evc_buf_init(&sealed, EVC_SEAL_RECORD_MAX);
    memset(&ad, 0, sizeof(ad));
    ad.store = store->name;
    ad.generation = m->generation;
    memcpy(ad.leaf_sha256, m->leaf_sha256, 32);
    if ((r = evc_fleet_key_load(c->key_file != NULL ? c->key_file : "", key, &err)) != 0) {
        goto out;
    }
    r = evc_seal(key, &ad, m->key, m->key_len, &sealed, &err);
    OPENSSL_cleanse(key, sizeof(key));
    if (r != 0 || (r = connect_db(c, &err)) != 0) {
        goto out;
    }
    memset(&p, 0, sizeof(p));
    p.store = store->name;
    p.generation = m->generation;
    memcpy(p.prev_sha256, m->prev_sha256, 32);
    memcpy(p.leaf_sha256, m->leaf_sha256, 32);
    p.activate_at = m->activate_at;
    p.chain = m->chain;
    p.chain_len = m->chain_len;
    p.sa = m->sa;
    p.sa_len = m->sa_len;
    p.sealed = sealed.data;
    p.sealed_len = sealed.len;
    p.token = m->token;
    p.made_at = now;
    if ((r = evc_shared_publish(c->db, &p, c->host, &err)) != 0) {
        goto out;
    }
    evc_lease_release(c->db, store->name, c->host, m->token, &err);
    say(c, LOG_NOTICE, "shared store \"%.64s\": generation %llu published for the fleet",
        store->name, (unsigned long long)m->generation);
    r = 0;
out:
    if (r != 0) {
        char name[256];

        evc_db_redact(c->url, name, sizeof(name));
        snprintf(detail, len, "shared store \"%.64s\": not published to %.100s: %.200s",
                 store->name, name, evc_err_message(&err));
        after_failure(c);
    }
    evc_buf_free(&sealed);
    return r;
}

void
evc_shared_hooks(struct evc_shared_ctx *c, struct evc_renew_opts *o)
{
    if (c == NULL) {
        return;
    }
    o->shared_take = take;
    o->shared_publish = publish;
    o->shared_staged = staged;
    o->shared_arg = c;
}
