/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox: the inventory's writes waiting in a host's own SQLite state
 * until the fleet database takes them. A write lands here in its own short
 * durable transaction, so nothing a host did is lost while the database is
 * away. A snapshot supersedes the one of the same source still waiting
 * (the inventory keeps only the current view), which keeps the outbox
 * small in a long outage; when it is full all the same
 * (EVC_FLEET_OUTBOX_MAX rows), the oldest snapshots go first and events
 * only when none is left, and the host is reported incomplete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/limits.h"
#include "fleet/fleet_int.h"

static const char *
nz(const char *s)
{
    return s != NULL ? s : "";
}

static int
exec1(struct evc_db *db, const char *sql, int64_t v, const char *t, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db, sql, &q, err)) != 0) {
        return r;
    }
    if (t != NULL) {
        evc_db_bind_text(q, 1, t);
    } else {
        evc_db_bind_int64(q, 1, v);
    }
    r = evc_db_step(q, err);
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

static int
query_int(struct evc_db *db, const char *sql, int64_t *out, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    *out = 0;
    if ((r = evc_db_prepare(db, sql, &q, err)) != 0) {
        return r;
    }
    if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        *out = evc_db_col_int64(q, 0);
    }
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_outbox_count(struct evc_db *db, size_t *rows, struct evc_err *err)
{
    int64_t n = 0;
    int r;

    *rows = 0;
    /*
     * Cheap at any size: items by their ids' span (ids only grow; a gap
     * left by a superseded snapshot counts, which errs towards full), and
     * the few snapshots' rows through the (kind, source) index.
     */
    if ((r = query_int(db,
                       "SELECT coalesce((SELECT max(id) FROM fleet_outbox) -"
                       " (SELECT min(id) FROM fleet_outbox) + 1, 0) +"
                       " (SELECT coalesce(sum(ncerts), 0) FROM fleet_outbox WHERE kind = 1)",
                       &n, err)) != 0) {
        return r;
    }
    *rows = (size_t)n;
    return 0;
}

int
evc_fleet_outbox_items(struct evc_db *db, size_t *items, struct evc_err *err)
{
    int64_t n = 0;
    int r;

    *items = 0;
    if ((r = query_int(db, "SELECT count(*) FROM fleet_outbox", &n, err)) != 0) {
        return r;
    }
    *items = (size_t)n;
    return 0;
}

int
evc_fleet_outbox_meta_get(struct evc_db *db, const char *key, char *out, size_t len,
                          struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    out[0] = '\0';
    if ((r = evc_db_prepare(db, "SELECT value FROM fleet_outbox_meta WHERE key = ?1", &q, err)) !=
        0) {
        return r;
    }
    evc_db_bind_text(q, 1, key);
    if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        snprintf(out, len, "%s", evc_db_col_text(q, 0));
    }
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_outbox_meta_set(struct evc_db *db, const char *key, const char *value,
                          struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db,
                            "INSERT INTO fleet_outbox_meta(key, value) VALUES(?1, ?2)"
                            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            &q, err)) != 0) {
        return r;
    }
    evc_db_bind_text(q, 1, key);
    evc_db_bind_text(q, 2, value);
    r = evc_db_step(q, err);
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_outbox_standing(struct evc_db *db, int *incomplete, int64_t *lost, struct evc_err *err)
{
    char v[32];
    int64_t n = 0;
    int r;

    *incomplete = 0;
    *lost = 0;
    if ((r = query_int(db, "SELECT count(*) FROM fleet_outbox_dropped", &n, err)) != 0 ||
        (r = evc_fleet_outbox_meta_get(db, "lost", v, sizeof(v), err)) != 0) {
        return r;
    }
    *incomplete = n > 0;
    *lost = strtoll(v, NULL, 10);
    return 0;
}

/* Drop the oldest waiting item of kind (a snapshot, or an event at the last); 0 when none was. */
static int
drop_oldest(struct evc_db *db, int kind, int *dropped, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    char source[256] = "";
    int64_t id = 0;
    int r;

    *dropped = 0;
    if ((r = evc_db_prepare(
             db, "SELECT id, source FROM fleet_outbox WHERE kind = ?1 ORDER BY id LIMIT 1", &q,
             err)) != 0) {
        return r;
    }
    evc_db_bind_int64(q, 1, kind);
    if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        id = evc_db_col_int64(q, 0);
        snprintf(source, sizeof(source), "%s", evc_db_col_text(q, 1));
    }
    evc_db_finalize(q);
    if (r < 0 || id == 0) {
        return r < 0 ? r : 0;
    }
    if ((r = exec1(db, "DELETE FROM fleet_outbox_certs WHERE box = ?1", id, NULL, err)) != 0 ||
        (r = exec1(db, "DELETE FROM fleet_outbox WHERE id = ?1", id, NULL, err)) != 0) {
        return r;
    }
    if (kind == ITEM_SNAPSHOT) {
        r = exec1(db, "INSERT INTO fleet_outbox_dropped(source) VALUES(?1) ON CONFLICT DO NOTHING",
                  0, source, err);
    } else {
        char v[32];
        int64_t lost;

        if ((r = evc_fleet_outbox_meta_get(db, "lost", v, sizeof(v), err)) == 0) {
            lost = strtoll(v, NULL, 10) + 1;
            snprintf(v, sizeof(v), "%lld", (long long)lost);
            r = evc_fleet_outbox_meta_set(db, "lost", v, err);
        }
    }
    *dropped = r == 0;
    return r;
}

static int
put_certs(struct evc_db *db, int64_t box, const struct item *it, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    int r;

    if ((r = evc_db_prepare(db,
                            "INSERT INTO fleet_outbox_certs(box, seq, location, sha256, subject,"
                            " issuer, not_before, not_after, status, kind, detail)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                            &q, err)) != 0) {
        return r;
    }
    for (size_t i = 0; i < it->ncerts; i++) {
        const struct evc_fleet_cert *c = &it->certs[i];

        evc_db_reset(q);
        evc_db_bind_int64(q, 1, box);
        evc_db_bind_int64(q, 2, (int64_t)i);
        evc_db_bind_text(q, 3, nz(c->location));
        evc_db_bind_text(q, 4, nz(c->sha256));
        evc_db_bind_text(q, 5, nz(c->subject));
        evc_db_bind_text(q, 6, nz(c->issuer));
        evc_db_bind_int64(q, 7, c->not_before);
        evc_db_bind_int64(q, 8, c->not_after);
        evc_db_bind_text(q, 9, nz(c->status));
        evc_db_bind_text(q, 10, nz(c->kind));
        evc_db_bind_text(q, 11, nz(c->detail));
        if ((r = evc_db_step(q, err)) < 0) {
            break;
        }
        r = 0;
    }
    evc_db_finalize(q);
    return r;
}

int
evc_fleet_outbox_put(struct evc_db *db, const struct item *it, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    size_t rows = 0, need = 1 + it->ncerts;
    int64_t box = 0;
    int r, dropped;

    if ((r = evc_db_begin(db, err)) != 0) {
        return r;
    }
    if (it->kind == ITEM_SNAPSHOT) {
        /* The inventory keeps the current view only: a waiting older view of the source is moot. */
        if ((r = exec1(db,
                       "DELETE FROM fleet_outbox_certs WHERE box IN (SELECT id FROM fleet_outbox"
                       " WHERE kind = 1 AND source = ?1)",
                       0, it->source, err)) != 0 ||
            (r = exec1(db, "DELETE FROM fleet_outbox WHERE kind = 1 AND source = ?1", 0, it->source,
                       err)) != 0 ||
            (r = exec1(db, "DELETE FROM fleet_outbox_dropped WHERE source = ?1", 0, it->source,
                       err)) != 0) {
            goto out;
        }
    }
    if ((r = evc_fleet_outbox_count(db, &rows, err)) != 0) {
        goto out;
    }
    while (rows + need > EVC_FLEET_OUTBOX_MAX) {
        if ((r = drop_oldest(db, ITEM_SNAPSHOT, &dropped, err)) != 0) {
            goto out;
        }
        if (!dropped && (r = drop_oldest(db, ITEM_EVENT, &dropped, err)) != 0) {
            goto out;
        }
        if (!dropped && (r = drop_oldest(db, ITEM_HOLDING, &dropped, err)) != 0) {
            goto out;
        }
        if (!dropped) {
            /* Nothing else to drop: this snapshot alone is larger than the outbox. */
            r = exec1(db,
                      "INSERT INTO fleet_outbox_dropped(source) VALUES(?1) ON CONFLICT DO NOTHING",
                      0, nz(it->source), err);
            if (r == 0) {
                r = evc_db_commit(db, err);
            } else {
                evc_db_rollback(db);
            }
            return r;
        }
        if ((r = evc_fleet_outbox_count(db, &rows, err)) != 0) {
            goto out;
        }
    }
    if ((r = evc_db_prepare(db,
                            "INSERT INTO fleet_outbox(kind, host, service, version, at, uid,"
                            " source, cut, what, subject, old_sha256, new_sha256, generation,"
                            " detail, ncerts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                            " ?11, ?12, ?13, ?14, ?15) RETURNING id",
                            &q, err)) != 0) {
        goto out;
    }
    evc_db_bind_int64(q, 1, it->kind);
    evc_db_bind_text(q, 2, it->host);
    evc_db_bind_text(q, 3, it->service);
    evc_db_bind_text(q, 4, nz(it->version));
    evc_db_bind_int64(q, 5, it->at);
    evc_db_bind_text(q, 6, nz(it->uid));
    evc_db_bind_text(q, 7, nz(it->source));
    evc_db_bind_int64(q, 8, it->cut);
    evc_db_bind_text(q, 9, nz(it->what));
    evc_db_bind_text(q, 10, nz(it->subject));
    evc_db_bind_text(q, 11, nz(it->old_sha256));
    evc_db_bind_text(q, 12, nz(it->new_sha256));
    evc_db_bind_int64(q, 13, (int64_t)it->generation);
    evc_db_bind_text(q, 14, nz(it->detail));
    evc_db_bind_int64(q, 15, (int64_t)it->ncerts);
    if ((r = evc_db_step(q, err)) == EVC_DB_ROW) {
        box = evc_db_col_int64(q, 0);
        r = evc_db_step(q, err);
    }
    evc_db_finalize(q);
    if (r < 0) {
        goto out;
    }
    if ((r = put_certs(db, box, it, err)) != 0) {
        goto out;
    }
    r = evc_db_commit(db, err);
    return r;
out:
    evc_db_rollback(db);
    return r;
}

/* Read the certificates of box into an array the caller frees (strings in one block). */
struct certs_read {
    struct evc_fleet_cert *c;
    char *text;
    size_t n;
};

static void
certs_read_free(struct certs_read *cr)
{
    free(cr->c);
    free(cr->text);
    memset(cr, 0, sizeof(*cr));
}

static int
read_certs(struct evc_db *db, int64_t box, size_t n, struct certs_read *cr, struct evc_err *err)
{
    static const int textcols[] = {0, 1, 2, 3, 6, 7, 8};
    struct evc_db_stmt *q = NULL;
    size_t cap = 0, used = 0, i = 0;
    int r;

    memset(cr, 0, sizeof(*cr));
    if (n == 0) {
        return 0;
    }
    if ((cr->c = calloc(n, sizeof(*cr->c))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if ((r = evc_db_prepare(db,
                            "SELECT location, sha256, subject, issuer, not_before, not_after,"
                            " status, kind, detail FROM fleet_outbox_certs WHERE box = ?1"
                            " ORDER BY seq",
                            &q, err)) != 0) {
        goto fail;
    }
    evc_db_bind_int64(q, 1, box);
    /* Texts are copied into one block; offsets first, pointers once it stops moving. */
    while (i < n && (r = evc_db_step(q, err)) == EVC_DB_ROW) {
        size_t off[7];

        for (size_t k = 0; k < 7; k++) {
            const char *s = evc_db_col_text(q, textcols[k]);
            size_t l = strlen(s) + 1;

            if (used + l > cap) {
                size_t ncap = cap == 0 ? 4096 : cap;
                char *t;

                while (ncap < used + l) {
                    ncap *= 2;
                }
                if ((t = realloc(cr->text, ncap)) == NULL) {
                    r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                    goto fail;
                }
                cr->text = t;
                cap = ncap;
            }
            memcpy(cr->text + used, s, l);
            off[k] = used;
            used += l;
        }
        cr->c[i].location = (const char *)(uintptr_t)off[0];
        cr->c[i].sha256 = (const char *)(uintptr_t)off[1];
        cr->c[i].subject = (const char *)(uintptr_t)off[2];
        cr->c[i].issuer = (const char *)(uintptr_t)off[3];
        cr->c[i].status = (const char *)(uintptr_t)off[4];
        cr->c[i].kind = (const char *)(uintptr_t)off[5];
        cr->c[i].detail = (const char *)(uintptr_t)off[6];
        cr->c[i].not_before = evc_db_col_int64(q, 4);
        cr->c[i].not_after = evc_db_col_int64(q, 5);
        i++;
    }
    evc_db_finalize(q);
    q = NULL;
    if (r < 0) {
        goto fail;
    }
    cr->n = i;
    for (size_t k = 0; k < i; k++) {
        struct evc_fleet_cert *c = &cr->c[k];

        c->location = cr->text + (uintptr_t)c->location;
        c->sha256 = cr->text + (uintptr_t)c->sha256;
        c->subject = cr->text + (uintptr_t)c->subject;
        c->issuer = cr->text + (uintptr_t)c->issuer;
        c->status = cr->text + (uintptr_t)c->status;
        c->kind = cr->text + (uintptr_t)c->kind;
        c->detail = cr->text + (uintptr_t)c->detail;
    }
    return 0;
fail:
    evc_db_finalize(q);
    certs_read_free(cr);
    return r;
}

int
evc_fleet_outbox_each(struct evc_db *db, int (*cb)(void *arg, const struct item *it), void *arg,
                      int64_t *last, struct evc_err *err)
{
    struct evc_db_stmt *q = NULL;
    size_t rows = 0;
    int r;

    *last = 0;
    if ((r = evc_db_prepare(db,
                            "SELECT id, kind, host, service, version, at, uid, source, cut, what,"
                            " subject, old_sha256, new_sha256, generation, detail, ncerts"
                            " FROM fleet_outbox ORDER BY id LIMIT ?1",
                            &q, err)) != 0) {
        return r;
    }
    evc_db_bind_int64(q, 1, (int64_t)EVC_FLEET_BATCH);
    while (rows < EVC_FLEET_BATCH && (r = evc_db_step(q, err)) == EVC_DB_ROW) {
        struct item it;
        struct certs_read cr;
        int64_t ncerts = evc_db_col_int64(q, 15);

        /* A batch holds at least one item, then stops before it would pass the batch's rows. */
        if (rows > 0 && rows + 1 + (size_t)ncerts > EVC_FLEET_BATCH) {
            break;
        }
        memset(&it, 0, sizeof(it));
        it.id = evc_db_col_int64(q, 0);
        it.kind = (enum item_kind)evc_db_col_int64(q, 1);
        it.host = evc_db_col_text(q, 2);
        it.service = evc_db_col_text(q, 3);
        it.version = evc_db_col_text(q, 4);
        it.at = evc_db_col_int64(q, 5);
        it.uid = evc_db_col_text(q, 6);
        it.source = evc_db_col_text(q, 7);
        it.cut = (int)evc_db_col_int64(q, 8);
        it.what = evc_db_col_text(q, 9);
        it.subject = evc_db_col_text(q, 10);
        it.old_sha256 = evc_db_col_text(q, 11);
        it.new_sha256 = evc_db_col_text(q, 12);
        it.generation = (uint64_t)evc_db_col_int64(q, 13);
        it.detail = evc_db_col_text(q, 14);
        if ((r = read_certs(db, it.id, (size_t)ncerts, &cr, err)) != 0) {
            break;
        }
        it.certs = cr.c;
        it.ncerts = cr.n;
        r = cb(arg, &it);
        certs_read_free(&cr);
        if (r != 0) {
            break;
        }
        *last = it.id;
        rows += 1 + (size_t)ncerts;
    }
    evc_db_finalize(q);
    return r < 0 ? r : 0;
}

int
evc_fleet_outbox_done(struct evc_db *db, int64_t last, struct evc_err *err)
{
    int r;

    if ((r = evc_db_begin(db, err)) != 0) {
        return r;
    }
    if ((r = exec1(db, "DELETE FROM fleet_outbox_certs WHERE box <= ?1", last, NULL, err)) != 0 ||
        (r = exec1(db, "DELETE FROM fleet_outbox WHERE id <= ?1", last, NULL, err)) != 0) {
        evc_db_rollback(db);
        return r;
    }
    return evc_db_commit(db, err);
}
