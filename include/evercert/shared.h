/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared stores: one certificate served by several hosts behind a load
 * balancer ([store "X"] shared = yes), renewed by one of them. The fleet's
 * PostgreSQL database holds, per shared store, a lease (who renews, until
 * when, and a fencing token raised at each takeover) and the published
 * successors: chain, SA, activate_at and the private key sealed under the
 * fleet key (AES-256-GCM), which every host of the store holds and the
 * database never does. The lease holder makes the successor and publishes
 * it in one transaction that checks its token; every other host fetches
 * it, the ca layer verifies it, and each stages the same successor for the
 * same activate_at. docs/DESIGN.md, "Shared stores".
 */
#ifndef EVERCERT_SHARED_H
#define EVERCERT_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/limits.h"
#include "evercert/renew.h"
#include "evercert/time.h"

struct evc_config;
struct evc_db;

/* --- the fleet key and sealed records (seal.c) --------------------------- */

#define EVC_FLEET_KEY_LEN 32
#define EVC_SEAL_VERSION 1
#define EVC_SEAL_NONCE_LEN 12
#define EVC_SEAL_TAG_LEN 16
#define EVC_SEAL_OVERHEAD (1 + EVC_SEAL_NONCE_LEN + EVC_SEAL_TAG_LEN)

/*
 * A sealed record as laid out: version (1 byte, EVC_SEAL_VERSION), nonce
 * (12), ciphertext (the rest but the last 16 bytes), tag (16). The
 * pointers borrow from the parsed bytes.
 */
struct evc_seal_rec {
    uint8_t version;
    const uint8_t *nonce;
    const uint8_t *ct;
    size_t ct_len;
    const uint8_t *tag;
};

/*
 * Split len bytes into a sealed record: EVC_ERR_TRUNCATED under the
 * overhead or for an empty ciphertext, EVC_ERR_LIMIT over
 * EVC_SEAL_RECORD_MAX, EVC_ERR_PARSE for another version; why (may be
 * NULL) gets a static reason. Pure, constant cost; out is zeroed on error.
 */
EVC_EXPORT EVC_MUST_USE int evc_seal_parse(const uint8_t *p, size_t len, struct evc_seal_rec *out,
                                           const char **why);

/*
 * What a sealed key is bound to (the GCM associated data): the store's
 * name, the successor's generation and its leaf's SHA-256, so a sealed key
 * moved to another row, store or certificate does not open.
 */
struct evc_seal_ad {
    const char *store;
    uint64_t generation;
    uint8_t leaf_sha256[32];
};

/* Seal pt (len bytes, at most EVC_SEAL_PLAIN_MAX) under key with a fresh random nonce into out. */
EVC_EXPORT EVC_MUST_USE int evc_seal(const uint8_t key[EVC_FLEET_KEY_LEN],
                                     const struct evc_seal_ad *ad, const uint8_t *pt, size_t len,
                                     struct evc_buf *out, struct evc_err *err);
/*
 * Open a sealed record into out (which the caller frees with evc_buf_free,
 * which wipes). EVC_ERR_PARSE/TRUNCATED/LIMIT for a record that does not
 * parse, EVC_ERR_POLICY when it does not open under key and ad (another
 * key, another row, changed bytes); nothing is left in out then.
 */
EVC_EXPORT EVC_MUST_USE int evc_unseal(const uint8_t key[EVC_FLEET_KEY_LEN],
                                       const struct evc_seal_ad *ad, const uint8_t *rec, size_t len,
                                       struct evc_buf *out, struct evc_err *err);

/*
 * The fleet key from path: a regular file (no symbolic link), mode 0600 or
 * stricter, owned by the effective user, holding exactly 32 bytes or 64
 * hexadecimal digits (a line break after them allowed). Errors name the
 * file and the reason; the file's bytes are wiped after reading.
 */
EVC_EXPORT EVC_MUST_USE int evc_fleet_key_load(const char *path, uint8_t key[EVC_FLEET_KEY_LEN],
                                               struct evc_err *err);
/* A new fleet key, 64 hex digits and a line break, at path (which must not exist), 0600. */
EVC_EXPORT EVC_MUST_USE int evc_fleet_key_new(const char *path, struct evc_err *err);

/* --- the lease (lease.c) ---------------------------------------------------- */

struct evc_lease {
    int held;                             /* this host holds it now */
    int64_t token;                        /* the fencing token of the holding */
    evc_time until;                       /* the holding ends */
    char holder[EVC_SHARED_HOST_MAX + 1]; /* who holds it (this host when held) */
};

/*
 * The database's time in seconds (PostgreSQL's statement_timestamp(),
 * SQLite's 'now'): the clock every lease is taken on, the same for every
 * host of the fleet whatever its own clock or --at says.
 */
EVC_EXPORT EVC_MUST_USE int evc_lease_db_now(struct evc_db *db, evc_time *now, struct evc_err *err);
/*
 * Take or keep the lease of store for host until now + period: one atomic
 * UPDATE that succeeds when host holds it or it has ended (a takeover
 * raises the token), after an INSERT ... ON CONFLICT DO NOTHING of the
 * first row. out holds on entry the holding this process knows (zeroed:
 * none), and on return whether host holds it and, if not, who does.
 * now is the database's time (evc_lease_db_now); tests give their own.
 * Errors: the database's (evc_db_fault tells an unreachable one).
 */
EVC_EXPORT EVC_MUST_USE int evc_lease_take(struct evc_db *db, const char *store, const char *host,
                                           evc_time now, int64_t period, struct evc_lease *out,
                                           struct evc_err *err);
/*
 * End host's holding at once (after a publication), so the next renewal
 * need not wait for it to lapse. Best effort: a holding not ended lapses.
 */
EVC_EXPORT int evc_lease_release(struct evc_db *db, const char *store, const char *host,
                                 int64_t token, struct evc_err *err);

/* --- published successors (shared.c) ------------------------------------- */

/* The tables of the component "shared" (leases, successors, staged_by), in both engines. */
EVC_EXPORT EVC_MUST_USE int evc_shared_migrate(struct evc_db *db, struct evc_err *err);

/* One published successor, as the database holds it (borrowed while the row is read). */
struct evc_shared_pub {
    const char *store;
    uint64_t generation;
    uint8_t prev_sha256[32]; /* the certificate it succeeds */
    uint8_t leaf_sha256[32]; /* its leaf */
    evc_time activate_at;
    const uint8_t *chain; /* PEM, leaf first */
    size_t chain_len;
    const uint8_t *sa; /* DER */
    size_t sa_len;
    const uint8_t *sealed; /* the key, sealed (seal.c) */
    size_t sealed_len;
    const char *made_by;
    int64_t token;
    evc_time made_at;
};

/*
 * Insert p in one transaction that first checks that host still holds the
 * lease of p->store under p->token (EVC_ERR_POLICY "lease lost" if not:
 * a renewer that lost its lease cannot publish). The successor of the
 * same certificate with a lower generation, if any and if no host has
 * staged it, is withdrawn in the same transaction; one some host staged
 * makes the publication fail (EVC_ERR_POLICY). (store, generation) is unique: a second row is a
 * constraint error.
 */
EVC_EXPORT EVC_MUST_USE int evc_shared_publish(struct evc_db *db, const struct evc_shared_pub *p,
                                               const char *host, struct evc_err *err);
/*
 * Record that host committed store's successor of generation to its disk
 * (the table staged_by): a row some host staged is never withdrawn or
 * superseded. Idempotent.
 */
EVC_EXPORT EVC_MUST_USE int evc_shared_staged(struct evc_db *db, const char *store,
                                              uint64_t generation, const char *host, evc_time at,
                                              struct evc_err *err);
/*
 * The newest successor published for the certificate whose SHA-256 is cur
 * in store, above generation and not withdrawn, its key opened with key:
 * 1 with out filled (turn USE; or REFUSED with the reason in detail when a
 * field is malformed or over its cap, or the sealed key does not open),
 * 0 when there is none, or a database error. out's buffers are
 * initialised by the caller (the chain, the SA, the key: wiped when freed).
 * The row is outside bytes: the ca layer checks what USE hands it.
 */
EVC_EXPORT EVC_MUST_USE int evc_shared_fetch(struct evc_db *db, const char *store,
                                             const uint8_t cur[32], uint64_t generation,
                                             const uint8_t key[EVC_FLEET_KEY_LEN],
                                             struct evc_shared_offer *out, struct evc_err *err);

/*
 * The fleet's side of a shared store for the renewal run: a connection
 * opened on first use, this host's name, the fleet key and the lease
 * period, behind the callbacks of evc_renew_opts (evc_shared_hooks).
 */
struct evc_shared_ctx;

/*
 * A context from the configuration (monitor or agent fleet_url, [fleet]
 * host, key_file, password_file, lease); NULL in *out when the
 * configuration has no shared store. The database is opened on first
 * use; the key is read then and wiped on free. log (may be NULL) is told
 * each step worth a line ("lease taken", "published", "fetched").
 */
EVC_EXPORT EVC_MUST_USE int evc_shared_ctx_new(const struct evc_config *conf, const char *url,
                                               void (*log)(void *arg, int level, const char *msg),
                                               void *log_arg, struct evc_shared_ctx **out,
                                               struct evc_err *err);
EVC_EXPORT void evc_shared_ctx_free(struct evc_shared_ctx *c);
/* Fill o's shared callbacks with c (NULL leaves them unset: shared stores are never renewed). */
EVC_EXPORT void evc_shared_hooks(struct evc_shared_ctx *c, struct evc_renew_opts *o);

#endif
