/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A service's side of the inventory: each write lands in the local state
 * (the outbox with a fleet database, the inventory tables without), and a
 * flush sends the outbox in order, one transaction of idempotent upserts
 * per batch, deleting the rows only after the fleet database committed. A
 * database that cannot be reached or takes no writes leaves the rows
 * waiting; the service goes on, told once per change of the link's state,
 * and tries again after a backoff (5 s doubling to 5 minutes) so a pass is
 * never held longer than one connect's deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/text.h"
#include "evercert/limits.h"
#include "fleet/fleet_int.h"

#ifndef EVC_VERSION
#define EVC_VERSION "0"
#endif

#define BACKOFF_MIN_MS 5000
#define BACKOFF_MAX_MS 300000
#define DAY 86400

struct evc_fleet {
    struct evc_db *local;
    struct evc_db *remote; /* the fleet database while connected; NULL otherwise */
    char *url, *password;
    char name[512]; /* url redacted */
    char host[EVC_FLEET_HOST_MAX + 1];
    char service[16];
    char version[64];
    evc_time keep;
    int connect_timeout;
    int64_t retry_at, backoff; /* monotonic ms */
    evc_time pruned_at;        /* the last prune of the inventory (its clock); 0: not yet */
    char origin[33];           /* this outbox's identity, with its ids the snapshots' order */
};

const char *
evc_fleet_host(const struct evc_fleet *f)
{
    return f->host;
}

void
evc_fleet_close(struct evc_fleet *f)
{
    if (f == NULL) {
        return;
    }
    evc_db_close(f->remote);
    evc_db_close(f->local);
    if (f->url != NULL) {
        OPENSSL_cleanse(f->url, strlen(f->url));
        free(f->url);
    }
    if (f->password != NULL) {
        explicit_bzero(f->password, strlen(f->password));
        free(f->password);
    }
    free(f);
}

/*
 * The outbox's identity, made once: a snapshot's order is its outbox id
 * within one origin (ids only grow), never a clock, and a host whose state
 * was made anew is a new origin whose first snapshot applies.
 */
static int
outbox_origin(struct evc_fleet *f, struct evc_err *err)
{
    uint8_t rnd[16];
    int r;

    if ((r = evc_fleet_outbox_meta_get(f->local, "origin", f->origin, sizeof(f->origin), err)) !=
            0 ||
        strlen(f->origin) == 32) {
        return r;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        return evc_err_set(err, EVC_ERR_IO, "getrandom: %s", strerror(errno));
    }
    evc_text_hex(rnd, sizeof(rnd), f->origin);
    return evc_fleet_outbox_meta_set(f->local, "origin", f->origin, err);
}

int
evc_fleet_open(const struct evc_fleet_opts *o, struct evc_fleet **out, struct evc_err *err)
{
    struct evc_fleet *f = NULL;
    struct evc_db_opts dbo;
    char host[EVC_FLEET_HOST_MAX + 2] = "";
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    if (o->local == NULL || o->service == NULL) {
        return evc_err_set(err, EVC_ERR_USAGE, "fleet: no local state");
    }
    if (o->host != NULL) {
        snprintf(host, sizeof(host), "%s", o->host);
    } else if (gethostname(host, sizeof(host) - 1) != 0) {
        host[0] = '\0';
    }
    if (host[0] == '\0' || strlen(host) > EVC_FLEET_HOST_MAX ||
        (o->host != NULL && strlen(o->host) > EVC_FLEET_HOST_MAX)) {
        return evc_err_set(err, EVC_ERR_CONFIG,
                           "fleet: the host name must be 1 to %d bytes (set [fleet] host)",
                           EVC_FLEET_HOST_MAX);
    }
    if ((f = calloc(1, sizeof(*f))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    /* Checked above to fit. */
    memcpy(f->host, host, strlen(host) + 1);
    snprintf(f->service, sizeof(f->service), "%s", o->service);
    snprintf(f->version, sizeof(f->version), "%s", o->version != NULL ? o->version : EVC_VERSION);
    f->keep = o->keep > 0 ? o->keep : 90 * DAY;
    f->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 5;
    if (o->url != NULL) {
        if ((f->url = strdup(o->url)) == NULL ||
            (o->password != NULL && (f->password = strdup(o->password)) == NULL)) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        evc_db_redact(o->url, f->name, sizeof(f->name));
    }
    memset(&dbo, 0, sizeof(dbo));
    if ((r = evc_db_open(o->local, &dbo, &f->local, err)) != 0) {
        goto out;
    }
    r = f->url != NULL ? evc_fleet_outbox_schema(f->local, err) : evc_fleet_schema(f->local, err);
    if (r != 0) {
        goto out;
    }
    if (f->url != NULL && (r = outbox_origin(f, err)) != 0) {
        goto out;
    }
    *out = f;
    f = NULL;
    r = 0;
out:
    evc_fleet_close(f);
    return r;
}

/* A local write: into the outbox, or straight into the local inventory. */
static int
write_item(struct evc_fleet *f, struct item *it, struct evc_err *err)
{
    int r;

    it->host = f->host;
    it->service = f->service;
    it->version = f->version;
    if (f->url != NULL) {
        return evc_fleet_outbox_put(f->local, it, err);
    }
    if ((r = evc_db_begin(f->local, err)) != 0) {
        return r;
    }
    if ((r = evc_fleet_apply(f->local, it, err)) != 0 ||
        (r = evc_fleet_host_mark(f->local, f->host, f->service, f->version, EVC_FLEET_DB_NOW, 0, 0,
                                 "", err)) != 0) {
        evc_db_rollback(f->local);
        return r;
    }
    return evc_db_commit(f->local, err);
}

int
evc_fleet_snapshot(struct evc_fleet *f, const char *source, evc_time now,
                   const struct evc_fleet_cert *c, size_t n, struct evc_err *err)
{
    struct item it;

    memset(&it, 0, sizeof(it));
    it.kind = ITEM_SNAPSHOT;
    it.at = now;
    it.source = source;
    it.certs = c;
    it.ncerts = n > EVC_FLEET_SNAPSHOT_MAX ? EVC_FLEET_SNAPSHOT_MAX : n;
    it.cut = n > EVC_FLEET_SNAPSHOT_MAX;
    return write_item(f, &it, err);
}

int
evc_fleet_event(struct evc_fleet *f, const struct evc_fleet_event *e, struct evc_err *err)
{
    struct item it;
    uint8_t rnd[16];
    char uid[33];

    /* The event's key in every inventory: a resend of it is the same row. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        return evc_err_set(err, EVC_ERR_IO, "getrandom: %s", strerror(errno));
    }
    evc_text_hex(rnd, sizeof(rnd), uid);
    memset(&it, 0, sizeof(it));
    it.kind = ITEM_EVENT;
    it.at = e->at;
    it.uid = uid;
    it.what = e->what;
    it.subject = e->subject;
    it.old_sha256 = e->old_sha256;
    it.new_sha256 = e->new_sha256;
    it.generation = e->generation;
    it.detail = e->detail;
    return write_item(f, &it, err);
}

int
evc_fleet_holding(struct evc_fleet *f, const struct evc_fleet_holding *h, struct evc_err *err)
{
    struct item it;

    memset(&it, 0, sizeof(it));
    it.kind = ITEM_HOLDING;
    it.at = h->at;
    it.subject = h->server;
    it.generation = h->generation;
    it.new_sha256 = h->sha256;
    return write_item(f, &it, err);
}

/* One batch applied to the fleet database: what it saw, for the host's row. */
struct batch {
    struct evc_fleet *f;
    struct evc_err *err;
    size_t rows;
    int remote_failed; /* the fleet database refused an item (not the outbox's read) */
};

static int
send_one(void *arg, const struct item *it)
{
    struct batch *b = arg;
    int r;

    struct item sent = *it;

    sent.origin = b->f->origin;
    b->rows++;
    if ((r = evc_fleet_apply(b->f->remote, &sent, b->err)) != 0) {
        b->remote_failed = 1;
    }
    return r;
}

/* Send one batch; *last 0 when nothing waited. A fleet database's failure is *remote_failed. */
static int
send_batch(struct evc_fleet *f, int64_t *last, size_t *rows, int *remote_failed,
           struct evc_err *err)
{
    struct batch b = {f, err, 0, 0};
    int incomplete, r;
    int64_t lost;
    char note[128] = "";

    *last = 0;
    *rows = 0;
    *remote_failed = 0;
    if ((r = evc_fleet_outbox_standing(f->local, &incomplete, &lost, err)) != 0) {
        return r;
    }
    if ((r = evc_db_begin(f->remote, err)) != 0) {
        *remote_failed = 1;
        return r;
    }
    if ((r = evc_fleet_outbox_each(f->local, send_one, &b, last, err)) != 0 && !b.remote_failed) {
        /* The outbox could not be read: the local state's error, the batch not sent. */
        evc_db_rollback(f->remote);
        return r;
    }
    if (r == 0 && *last != 0) {
        if (lost > 0) {
            snprintf(note, sizeof(note), "%lld events dropped from a full outbox", (long long)lost);
        }
        r = evc_fleet_host_mark(f->remote, f->host, f->service, f->version, EVC_FLEET_DB_NOW,
                                incomplete, lost, note, err);
    }
    if (r == 0) {
        r = evc_db_commit(f->remote, err);
    }
    if (r != 0) {
        *remote_failed = 1;
        evc_db_rollback(f->remote);
        return r;
    }
    *rows = b.rows;
    /* Committed: a crash before this delete resends the batch, which the upserts make harmless. */
    if (*last != 0) {
        r = evc_fleet_outbox_done(f->local, *last, err);
    }
    return r;
}

/*
 * The host is alive (a flush is its heartbeat), and, at most once an hour,
 * the inventory drops what is older than keep. Both by the database's
 * clock: a host whose clock is ahead neither prunes the others' rows nor
 * stamps itself seen in the future.
 */
static int
heartbeat(struct evc_fleet *f, struct evc_db *db, struct evc_err *err)
{
    char note[128] = "";
    int incomplete = 0, r;
    int64_t lost = 0;
    evc_time now = 0;

    if (f->url != NULL && (r = evc_fleet_outbox_standing(f->local, &incomplete, &lost, err)) != 0) {
        return r;
    }
    if (lost > 0) {
        snprintf(note, sizeof(note), "%lld events dropped from a full outbox", (long long)lost);
    }
    if ((r = evc_db_begin(db, err)) != 0) {
        return r;
    }
    if ((r = evc_fleet_db_now(db, &now, err)) != 0 ||
        (r = evc_fleet_host_mark(db, f->host, f->service, f->version, EVC_FLEET_DB_NOW, incomplete,
                                 lost, note, err)) != 0 ||
        (f->pruned_at + 3600 <= now &&
         (r = evc_fleet_prune(db, f->host, now - f->keep, err)) != 0)) {
        evc_db_rollback(db);
        return r;
    }
    if ((r = evc_db_commit(db, err)) == 0 && f->pruned_at + 3600 <= now) {
        f->pruned_at = now;
    }
    return r;
}

/* Record the link's state (up, unreachable, read-only); say it once when it changed. */
static int
link_state(struct evc_fleet *f, struct evc_fleet_sent *out, const char *now, const char *why,
           struct evc_err *err)
{
    char was[64];
    int r;

    if ((r = evc_fleet_outbox_meta_get(f->local, "link", was, sizeof(was), err)) != 0) {
        return r;
    }
    if (strcmp(was, now) == 0) {
        return 0;
    }
    /* The first flush that reaches the database has nothing to tell. */
    if (was[0] != '\0' || out->down) {
        out->changed = 1;
        if (out->down) {
            snprintf(out->line, sizeof(out->line),
                     "fleet database %.200s: %s: %.240s; working locally, %zu changes wait",
                     f->name, now, why, out->waiting);
        } else {
            snprintf(out->line, sizeof(out->line),
                     "fleet database %.200s: reachable again; %zu changes sent, %zu wait", f->name,
                     out->sent, out->waiting);
        }
    }
    return evc_fleet_outbox_meta_set(f->local, "link", now, err);
}

int
evc_fleet_flush(struct evc_fleet *f, evc_time now, struct evc_fleet_sent *out, struct evc_err *err)
{
    struct evc_db_opts dbo;
    struct evc_err rerr = {0};
    char why[384] = "";
    const char *state = "up";
    enum evc_db_fault fault;
    int64_t last = 0;
    size_t rows;
    int r, failed = 0;

    /* The heartbeat and the prune go by the database's clock, not the caller's. */
    (void)now;
    memset(out, 0, sizeof(*out));
    if (f->url == NULL) {
        return heartbeat(f, f->local, err);
    }
    if (evc_mono_ms() < f->retry_at) {
        out->down = 1;
        return evc_fleet_outbox_items(f->local, &out->waiting, err);
    }
    if (f->remote == NULL) {
        memset(&dbo, 0, sizeof(dbo));
        dbo.password = f->password;
        dbo.connect_timeout = f->connect_timeout;
        if (evc_db_open(f->url, &dbo, &f->remote, &rerr) != 0) {
            failed = 1;
        } else if (evc_fleet_schema(f->remote, &rerr) != 0) {
            failed = 1;
        }
    }
    while (!failed) {
        if ((r = send_batch(f, &last, &rows, &failed, &rerr)) != 0 && !failed) {
            *err = rerr;
            return r;
        }
        if (failed || last == 0) {
            break;
        }
        out->sent += rows;
    }
    if (!failed && heartbeat(f, f->remote, &rerr) != 0) {
        failed = 1;
    }
    if (failed) {
        const char *m = evc_err_message(&rerr);

        /* The reason without the database's name, which the line gives first. */
        if (strncmp(m, f->name, strlen(f->name)) == 0 &&
            strncmp(m + strlen(f->name), ": ", 2) == 0) {
            m += strlen(f->name) + 2;
        }
        if (strncmp(m, "unreachable: ", 13) == 0) {
            m += 13;
        } else if (strncmp(m, "read-only: ", 11) == 0) {
            m += 11;
        }
        m += strspn(m, ": ");
        if (strncmp(m, "ERROR:", 6) == 0) {
            m += 6 + strspn(m + 6, " ");
        }
        snprintf(why, sizeof(why), "%s", m);
        out->down = 1;
        /* A refusal that is neither (a newer schema, a constraint) is said as what it is. */
        fault = f->remote != NULL ? evc_db_fault(f->remote) : EVC_DB_FAULT_DOWN;
        if (fault == EVC_DB_FAULT_READONLY) {
            state = "read-only";
        } else {
            state = fault == EVC_DB_FAULT_OTHER || fault == EVC_DB_FAULT_NONE
                        ? "refusing the writes"
                        : "unreachable";
            evc_db_close(f->remote);
            f->remote = NULL;
        }
        f->backoff = f->backoff == 0 ? BACKOFF_MIN_MS : f->backoff * 2;
        if (f->backoff > BACKOFF_MAX_MS) {
            f->backoff = BACKOFF_MAX_MS;
        }
        f->retry_at = evc_mono_ms() + f->backoff;
    } else {
        f->backoff = 0;
        f->retry_at = 0;
    }
    if ((r = evc_fleet_outbox_items(f->local, &out->waiting, err)) != 0) {
        return r;
    }
    return link_state(f, out, state, why, err);
}
