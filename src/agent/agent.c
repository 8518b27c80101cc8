/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's decisions and writes. An SA is checked by evc_sa_verify
 * (every rule of DESIGN.md), then by the server's policy: auto writes it,
 * manual queues it for `evercert approve`, holddown waits until the same
 * SA has been seen that long. Nothing is written before every check
 * passes.
 *
 * The trust store and the state database are two files, so "the
 * generation is stored with the trust store change" is kept by a
 * write-ahead mark: the SA is marked "applying" before the store is
 * touched, the store change is idempotent (a certificate already there is
 * not added again), and the generation is recorded after it. A crash at
 * any point leaves the store parsing and holding what it held, and the
 * next start finishes the write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/spawn.h"
#include "base/text.h"
#include "agent/agent_int.h"

#define CONTACT_TIMEOUT_MS 10000 /* each handshake, each fetch: connect, TLS and reads together */

evc_time
evc_agent_now(const struct evc_agent *a)
{
    return evc_time_now() + a->clock_offset;
}

void
evc_agent_state_path(const char *config_path, const char *configured, char *out, size_t len)
{
    const char *slash = strrchr(config_path, '/');

    if (configured != NULL) {
        snprintf(out, len, "%s", configured);
    } else if (geteuid() == 0) {
        snprintf(out, len, "/var/lib/evercert/agent.db");
    } else if (slash == NULL) {
        snprintf(out, len, "evercert-agent.db");
    } else {
        snprintf(out, len, "%.*s/evercert-agent.db", (int)(slash - config_path), config_path);
    }
}

int
evc_agent_open(struct evc_agent *a, const char *config_path, int64_t clock_offset, int exclusive,
               struct evc_err *err)
{
    char path[EVC_PATH_MAX];
    int r;

    memset(a, 0, sizeof(*a));
    a->cancel_fd = -1;
    a->clock_offset = clock_offset;
    snprintf(a->config_path, sizeof(a->config_path), "%s", config_path);
    if ((r = evc_config_load(config_path, &a->conf, err)) != 0) {
        return r;
    }
    if (a->conf->nservers == 0) {
        evc_config_free(a->conf);
        a->conf = NULL;
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: no [server \"name\"] sections to follow",
                           config_path);
    }
    evc_log_init(&a->log, a->conf->notify.log, "evercert agent");
    evc_agent_state_path(config_path, a->conf->agent.state, path, sizeof(path));
    if ((r = evc_state_open(path, exclusive, &a->st, err)) != 0) {
        evc_config_free(a->conf);
        a->conf = NULL;
        return r;
    }
    return 0;
}

void
evc_agent_close(struct evc_agent *a)
{
    evc_state_close(a->st);
    evc_config_free(a->conf);
    a->st = NULL;
    a->conf = NULL;
}

static void
worse(struct evc_agent *a, int status)
{
    if (status > a->status) {
        a->status = status;
    }
}

/* Record a decision: the state (for `evercert history`) and the log. */
static void
event(struct evc_agent *a, evc_time now, const char *server, const char *what, const char *reason,
      int64_t sa_id, uint64_t generation, const char *source, const char *detail)
{
    struct evc_agent_event e = {now, server, what, reason, sa_id, generation, source, detail};
    struct evc_err err = {0};

    evc_logf(&a->log,
             strcmp(what, "reject") == 0 || strcmp(what, "conflict") == 0 ? LOG_WARNING : LOG_INFO,
             "server=%s event=%s reason=%s generation=%llu source=%s sa=%lld%s%s", server, what,
             reason != NULL ? reason : "-", (unsigned long long)generation,
             source != NULL ? source : "-", (long long)sa_id, detail != NULL ? ": " : "",
             detail != NULL ? detail : "");
    if (evc_state_agent_event(a->st, &e, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    }
}

/*
 * Tell a person once per (key, value), across restarts: the line when the
 * value recorded under key changes, and e-mail when [notify] email_to is
 * set (recorded under its own key, so a mail that failed is sent by the
 * next round without the line being repeated). 1 when the line was told.
 */
static int
tell(struct evc_agent *a, evc_time now, int prio, const char *key, const char *value,
     const char *line, const char *subject, const char *body)
{
    struct evc_err err = {0};
    char mkey[600];
    int changed = 0, mail = 0;

    if (evc_state_notice_changed(a->st, key, value, &changed, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        return 0;
    }
    if (changed) {
        evc_logf(&a->log, prio, "%s", line);
        if (evc_state_notice_set(a->st, key, value, now, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        }
    }
    snprintf(mkey, sizeof(mkey), "%s#mail", key);
    if (a->conf->notify.email_to == NULL) {
        return changed;
    }
    if (evc_state_notice_changed(a->st, mkey, value, &mail, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        return changed;
    }
    if (!mail) {
        return changed;
    }
    if (evc_notify_mail(&a->conf->notify, subject, body, now, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "mail not sent (the next round retries): %s",
                 evc_err_message(&err));
    } else if (evc_state_notice_set(a->st, mkey, value, now, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    }
    return changed;
}

/* --- trust stores ------------------------------------------------------------ */

/* Read server i's trust store, checking it is of the configured format. */
static int
trust_load(struct evc_agent *a, size_t i, struct evc_trust **out, struct evc_err *err)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_buf pw;
    const char *want = NULL, *got;
    int r;

    *out = NULL;
    evc_buf_init(&pw, EVC_PASSWORD_MAX + 2);
    if (v->password_file != NULL) {
        if ((r = evc_file_read(v->password_file, EVC_PASSWORD_MAX, &pw, err)) != 0) {
            evc_err_set(err, r, "%s: %s", v->password_file, evc_err_message(err));
            goto out;
        }
        while (pw.len > 0 && (pw.data[pw.len - 1] == '\n' || pw.data[pw.len - 1] == '\r')) {
            pw.len--;
        }
    }
    if ((r = evc_trust_load(v->trust, v->password_file != NULL ? evc_buf_str(&pw) : NULL, out,
                            err)) != 0) {
        goto out;
    }
    got = evc_trust_format(*out);
    switch (v->trust_format) {
    /* The names of the store layer's backends. */
    case EVC_TRUST_BUNDLE:
    case EVC_TRUST_PIN:
        want = "PEM bundle";
        break;
    case EVC_TRUST_HASHDIR:
        want = "hashed directory";
        break;
    case EVC_TRUST_PKCS12:
        want = "PKCS#12";
        break;
    default:
        break;
    }
    if (want != NULL && strcmp(want, got) != 0) {
        r = evc_err_set(err, EVC_ERR_CONFIG, "%s: trust_format = %s, but it is a %s", v->trust,
                        evc_trust_format_name(v->trust_format), got);
    } else if (v->trust_format == EVC_TRUST_PIN && (*out)->n != 1) {
        r = evc_err_set(err, EVC_ERR_CONFIG, "%s: a pin file holds one certificate, not %zu",
                        v->trust, (*out)->n);
    }
out:
    evc_buf_free(&pw);
    if (r != 0) {
        evc_trust_free(*out);
        *out = NULL;
    }
    return r;
}

static X509_STORE *
store_of(const struct evc_trust *t, struct evc_err *err)
{
    X509_STORE *s = X509_STORE_new();

    /*
     * The certificates keep the trust settings of TRUSTED CERTIFICATE
     * blocks; anchors trusted as for a TLS server make OpenSSL honour
     * them in every check against this store (a handshake does so anyway),
     * so an anchor marked to reject serverAuth anchors nothing. Only the
     * trust is set, not the purpose: other checks keep their own.
     */
    if (s == NULL || X509_STORE_set_trust(s, X509_TRUST_SSL_SERVER) != 1) {
        X509_STORE_free(s);
        evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t k = 0; k < t->n; k++) {
        /* What OpenSSL finds: in a hashed directory, only what has a <hash>.N name. */
        if (t->certs[k].linked) {
            (void)X509_STORE_add_cert(s, t->certs[k].x);
        }
    }
    ERR_clear_error();
    return s;
}

X509_STORE *
evc_agent_trust_store(struct evc_agent *a, size_t i, struct evc_err *err)
{
    struct evc_trust *t;
    X509_STORE *s;

    if (trust_load(a, i, &t, err) != 0) {
        return NULL;
    }
    s = store_of(t, err);
    evc_trust_free(t);
    return s;
}

/*
 * The store an SA is checked against: the trust store, whose content says
 * what a successor must chain to, except for a pin file, which takes the
 * successor leaf itself. *out is NULL for a pin file.
 */
static int
check_store(struct evc_agent *a, size_t i, X509_STORE **out, struct evc_err *err)
{
    const struct evc_server_conf *v = &a->conf->servers[i];

    *out = NULL;
    if (v->policy != EVC_SA_POLICY_CA && v->trust_format == EVC_TRUST_PIN) {
        return 0;
    }
    return (*out = evc_agent_trust_store(a, i, err)) == NULL ? -1 : 0;
}

/*
 * Writers of one trust store take turns (the agent and `evercert
 * approve`): a lock on its directory, which a replace never changes.
 */
static int
store_lock(const char *trust, struct evc_err *err)
{
    char dir[EVC_PATH_MAX];
    struct stat sb;
    const char *slash;
    int fd;

    if (stat(trust, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof(dir), "%s", trust);
    } else if ((slash = strrchr(trust, '/')) == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        snprintf(dir, sizeof(dir), "%.*s", slash == trust ? 1 : (int)(slash - trust), trust);
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
        evc_err_set(err, EVC_ERR_IO, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; tries++) {
        if (errno != EWOULDBLOCK || tries >= 100) {
            evc_err_set(err, EVC_ERR_BUSY, "%s: another evercert holds its lock", dir);
            close(fd);
            return -1;
        }
        usleep(100 * 1000);
    }
    return fd;
}

static void
after_change(struct evc_agent *a, size_t i, const char *what)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    char e1[EVC_PATH_MAX + 32], e2[300], e3[64];
    char *env[] = {e1, e2, e3, NULL};
    struct evc_spawn_result res;
    struct evc_err err = {0};

    if (v->after_change == NULL) {
        return;
    }
    snprintf(e1, sizeof(e1), "EVERCERT_TRUST=%s", v->trust);
    snprintf(e2, sizeof(e2), "EVERCERT_SERVER=%s", v->name);
    snprintf(e3, sizeof(e3), "EVERCERT_CHANGE=%s", what);
    if (evc_spawn_run(v->after_change, v->after_change_shell, v->hook_timeout, env, &res, &err) !=
        0) {
        evc_logf(&a->log, LOG_ERR, "server=%s after_change not run: %s", v->name,
                 evc_err_message(&err));
        worse(a, 1);
    } else if (res.status != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s after_change failed (status %d%s): %.*s", v->name,
                 res.status, res.timed_out ? ", timed out" : "", (int)res.output_len, res.output);
        worse(a, 1);
    } else {
        evc_logf(&a->log, LOG_INFO, "server=%s after_change ran", v->name);
    }
}

static int
x509_der(X509 *x, struct evc_buf *out)
{
    unsigned char *p = NULL;
    int n = i2d_X509(x, &p);
    int r;

    if (n <= 0) {
        return EVC_ERR_CRYPTO;
    }
    r = evc_buf_put(out, p, (size_t)n);
    OPENSSL_free(p);
    return r;
}

static X509 *
x509_of(const struct evc_buf *b)
{
    const unsigned char *p = b->data;

    return b->len > 0 ? d2i_X509(NULL, &p, (long)b->len) : NULL;
}

/*
 * An earlier successor this agent wrote for server i that never went live
 * (not prev_trusted, not current, not the new successor) leaves the trust
 * store t, kept in the deleted store if one is set: the store holds one
 * successor at a time, so a key holder cannot stack up many. 1 if one was
 * removed, 0 if none, or an error.
 */
static int
drop_superseded(struct evc_agent *a, size_t i, struct evc_trust *t,
                const struct evc_agent_server *before, X509 *current, X509 *succ, evc_time now,
                struct evc_err *err)
{
    X509 *prev = x509_of(&before->successor), *live = x509_of(&before->trusted);
    struct evc_deleted *d = NULL;
    uint8_t fp[32];
    char hex[65];
    long k;
    int r = 0;

    if (prev == NULL || X509_cmp(prev, succ) == 0 ||
        (current != NULL && X509_cmp(prev, current) == 0) ||
        (live != NULL && X509_cmp(prev, live) == 0)) {
        goto out;
    }
    if ((r = evc_x509_sha256(prev, fp)) != 0 || (k = evc_trust_find(t, fp)) < 0) {
        goto out;
    }
    if (a->conf->agent.deleted != NULL &&
        ((r = evc_deleted_load(a->conf->agent.deleted, &d, err)) != 0 ||
         (r = evc_deleted_put(d, prev, a->conf->servers[i].trust, "superseded successor", now,
                              err)) != 0)) {
        goto out;
    }
    if ((r = evc_trust_remove(t, (size_t)k, err)) != 0) {
        goto out;
    }
    evc_text_hex(fp, 32, hex);
    event(a, now, a->conf->servers[i].name, "retire", "superseded", 0, 0, NULL, hex);
    r = 1;
out:
    evc_deleted_free(d);
    X509_free(prev);
    X509_free(live);
    ERR_clear_error();
    return r;
}

/*
 * Write an accepted SA: what the trust store needs, then the state. The
 * SA row is "applying" while the store is written. current is the leaf
 * the SA follows; it is retired once expired if the successor itself was
 * added beside it.
 */
static int
apply(struct evc_agent *a, size_t i, const struct evc_agent_sa *row, const struct evc_sa *sa,
      X509 *current, evc_time now, struct evc_err *err)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_trust *t = NULL;
    X509_STORE *store = NULL;
    STACK_OF(X509) *add = NULL;
    struct evc_buf succ, old;
    uint8_t fp[32];
    char oldhex[65] = "";
    struct evc_agent_server before = {0};
    int lock = -1, changed = 0, retire = 0, r;
    evc_time old_end = 0;

    evc_buf_init(&succ, EVC_SA_MAX);
    evc_buf_init(&old, EVC_SA_MAX);
    /* What was trusted and which successor was written before this SA: see drop_superseded. */
    if ((r = evc_state_agent_server(a->st, v->name, &before, err)) != 0) {
        goto out;
    }
    /* The write-ahead mark, with the leaf the SA follows: what a resumed write checks against. */
    if (current != NULL &&
        ((r = x509_der(current, &old)) != 0 ||
         (r = evc_state_agent_trusted(a->st, v->name, old.data, old.len, err)) != 0)) {
        goto out;
    }
    evc_buf_reset(&old);
    if ((r = evc_state_agent_sa_status(a->st, row->id, "applying", NULL, err)) != 0 ||
        (lock = store_lock(v->trust, err)) == -1) {
        r = r != 0 ? r : EVC_ERR_BUSY;
        goto out;
    }
    if ((r = trust_load(a, i, &t, err)) != 0 || (store = store_of(t, err)) == NULL) {
        r = r != 0 ? r : EVC_ERR_NOMEM;
        goto out;
    }
    /* A pin file changes at activate_at, to the successor alone (evc_agent_tick). */
    if (v->trust_format != EVC_TRUST_PIN &&
        (r = evc_agent_trust_plan(sa, (enum evc_sa_policy_mode)v->policy, store,
                                  sa->activate_at > now ? sa->activate_at : now, &add, err)) != 0) {
        goto out;
    }
    for (int k = 0; k < sk_X509_num(add); k++) {
        X509 *x = sk_X509_value(add, k);

        if ((r = evc_x509_sha256(x, fp)) != 0) {
            goto out;
        }
        if (evc_trust_find(t, fp) >= 0) {
            continue; /* written before a crash, or there all along */
        }
        if ((r = evc_trust_add(t, x, err)) != 0) {
            goto out;
        }
        changed = 1;
        retire = retire || x == sk_X509_value(sa->successor, 0);
    }
    if (v->trust_format != EVC_TRUST_PIN) {
        if ((r = drop_superseded(a, i, t, &before, current, sk_X509_value(sa->successor, 0), now,
                                 err)) < 0) {
            goto out;
        }
        changed = changed || r == 1;
        r = 0;
    }
    if (current != NULL && retire) {
        if ((r = evc_x509_sha256(current, fp)) != 0 || (r = x509_der(current, &old)) != 0 ||
            (r = evc_asn1_time(X509_get0_notAfter(current), &old_end)) != 0) {
            goto out;
        }
        evc_text_hex(fp, 32, oldhex);
    }
    if ((r = x509_der(sk_X509_value(sa->successor, 0), &succ)) != 0) {
        goto out;
    }
    {
        struct evc_agent_applied ap = {
            v->name,   row->id,  sa->generation,  row->sha256,
            succ.data, succ.len, sa->activate_at, retire ? old.data : NULL,
            old.len,   oldhex,   old_end};

        if ((r = evc_state_agent_applied(a->st, &ap, err)) != 0) {
            goto out;
        }
    }
    {
        char detail[200], when[EVC_TIME_TEXT_MAX];

        evc_time_format(sa->activate_at, when);
        snprintf(detail, sizeof(detail), "%d certificate%s added to %s; active from %s",
                 changed ? sk_X509_num(add) : 0, changed && sk_X509_num(add) == 1 ? "" : "s",
                 v->trust, when);
        event(a, now, v->name, "accept", "ok", row->id, sa->generation, row->source, detail);
    }
out:
    if (lock != -1) {
        close(lock);
    }
    sk_X509_pop_free(add, X509_free);
    X509_STORE_free(store);
    evc_trust_free(t);
    evc_buf_free(&succ);
    evc_buf_free(&old);
    evc_agent_server_clear(&before);
    if (r == 0 && changed) {
        after_change(a, i, "add");
    }
    return r;
}

/* The checks of DESIGN.md for server i, with trusted as the certificate it follows. */
static int
verify(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *trusted,
       const struct evc_agent_server *known, int mode, X509_STORE *ca, evc_time now,
       struct evc_sa_verdict *out)
{
    uint8_t last[32];
    struct evc_sa_known k = {trusted, a->conf->servers[i].service, known->generation, NULL};
    struct evc_sa_policy p = {(enum evc_sa_policy_mode)mode, ca, 300};
    size_t n;

    if (known->sa_sha256[0] != '\0' && strlen(known->sa_sha256) == 64) {
        for (n = 0; n < 32; n++) {
            unsigned hi, lo;

            if (sscanf(known->sa_sha256 + 2 * n, "%1x%1x", &hi, &lo) != 2) {
                break;
            }
            last[n] = (uint8_t)(hi << 4 | lo);
        }
        k.last_sha256 = n == 32 ? last : NULL;
    }
    return evc_sa_verify(der, len, &k, &p, now, out);
}

static void reject_event(struct evc_agent *a, size_t i, evc_time now, const char *what, int64_t id,
                         uint64_t gen, const char *source, const char *reason, const char *message);

/*
 * A conflict is told once per server and generation, across restarts (the
 * line, and mail when configured): a second holder of the key pushing
 * variants in a loop raises one alarm, not one per variant.
 */
static void
conflict_alert(struct evc_agent *a, size_t i, evc_time now, uint64_t gen, const char *line,
               const char *body)
{
    const char *name = a->conf->servers[i].name;
    char key[400], subject[600];

    snprintf(key, sizeof(key), "agent-conflict/%s/%llu", name, (unsigned long long)gen);
    snprintf(subject, sizeof(subject), "evercert agent: %s", line);
    (void)tell(a, now, LOG_WARNING, key, "told", line, subject, body);
}

/* Another SA of the same generation while one is held: the older hold ends, a conflict. */
struct rival {
    struct evc_agent *a;
    size_t i;
    int64_t id;
    uint64_t generation;
    evc_time now;
};

static int
supersede(void *arg, const struct evc_agent_sa *s)
{
    struct rival *rv = arg;
    struct evc_err err = {0};
    char line[400];

    if (s->id == rv->id || s->generation != rv->generation) {
        return 0;
    }
    if (evc_state_agent_sa_status(rv->a->st, s->id, "superseded", "conflict", &err) != 0) {
        evc_logf(&rv->a->log, LOG_ERR, "%s", evc_err_message(&err));
        return 0;
    }
    reject_event(rv->a, rv->i, rv->now, "conflict", s->id, s->generation, s->source, "conflict",
                 "another SA for the same generation arrived; the hold-down starts again");
    snprintf(line, sizeof(line),
             "CONFLICT for %s: two SAs for generation %llu while held; the hold-down starts again",
             s->server, (unsigned long long)s->generation);
    conflict_alert(rv->a, rv->i, rv->now, s->generation, line, line);
    worse(rv->a, 1);
    return 0;
}

/* Rejections held back by the rate limit, in one line and one event. */
static void
reject_summary(struct evc_agent *a, size_t i, evc_time now, unsigned held, unsigned repeats)
{
    char detail[300];

    snprintf(detail, sizeof(detail),
             "%u more refused SA%s not logged one by one and %u repeat%s of refused SAs in the "
             "last %d s; the state keeps the newest %d refused SAs",
             held, held == 1 ? "" : "s", repeats, repeats == 1 ? "" : "s",
             EVC_AGENT_REJECT_LOG_WINDOW_S, EVC_AGENT_REFUSED_MAX);
    event(a, now, a->conf->servers[i].name, "reject", "rate-limited", 0, 0, NULL, detail);
}

/*
 * A new refusal or conflict (what): its line and event, unless server i's
 * rate limit holds it back.
 */
static void
reject_event(struct evc_agent *a, size_t i, evc_time now, const char *what, int64_t id,
             uint64_t gen, const char *source, const char *reason, const char *message)
{
    unsigned held = 0, repeats = 0;

    if (a->reject_log != NULL &&
        !evc_ratelimit_take(&a->reject_log[i], evc_agent_mono_ms(), EVC_AGENT_REJECT_LOG_BURST,
                            (int64_t)EVC_AGENT_REJECT_LOG_WINDOW_S * 1000, &held, &repeats)) {
        return;
    }
    if (held > 0 || repeats > 0) {
        reject_summary(a, i, now, held, repeats);
    }
    event(a, now, a->conf->servers[i].name, what, reason, id, gen, source, message);
}

void
evc_agent_reject_flush(struct evc_agent *a, size_t i, int64_t now_ms, int force, int64_t *next_ms)
{
    unsigned held, repeats;
    int64_t due;

    if (a->reject_log == NULL) {
        return;
    }
    if (evc_ratelimit_flush(&a->reject_log[i], now_ms,
                            (int64_t)EVC_AGENT_REJECT_LOG_WINDOW_S * 1000, force, &held, &repeats,
                            &due)) {
        reject_summary(a, i, evc_agent_now(a), held, repeats);
    }
    if (due != 0 && (*next_ms == 0 || due < *next_ms)) {
        *next_ms = due;
    }
}

static void freeze_check(struct evc_agent *a, size_t i, X509 *leaf, evc_time now);
static void waits_check(struct evc_agent *a, size_t i, evc_time now, evc_time *next);

/*
 * The row of an SA that passes now. Bytes a rule refused before (the trust
 * the agent had then did not hold, or the clock was off) are not refused
 * for ever: the row takes the status the SA earns now, as a new one would.
 */
static int
seen(struct evc_agent *a, size_t i, const char *hex, const struct evc_sa *sa, const uint8_t *der,
     size_t len, const char *source, evc_time now, const char *status, struct evc_agent_sa *row,
     int *is_new, struct evc_err *err)
{
    const char *name = a->conf->servers[i].name;
    int r;

    if ((r = evc_state_agent_sa_seen(a->st, name, hex, sa->generation, der, len, source, now,
                                     status, row, is_new, err)) != 0 ||
        *is_new || strcmp(row->status, "refused") != 0) {
        return r;
    }
    if ((r = evc_state_agent_sa_status(a->st, row->id, status, "", err)) != 0) {
        return r;
    }
    snprintf(row->status, sizeof(row->status), "%s", status);
    *is_new = 1;
    return 0;
}

int
evc_agent_offer(struct evc_agent *a, size_t i, const uint8_t *der, size_t len, X509 *conn_leaf,
                const char *source, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_agent_server known;
    struct evc_sa_verdict vd;
    struct evc_agent_sa row;
    struct evc_err err = {0};
    X509_STORE *ca = NULL;
    X509 *prev = NULL, *trusted = conn_leaf;
    uint8_t fp[32];
    char hex[65];
    int is_new = 0, recorded = 0, waits = 0;

    memset(&vd, 0, sizeof(vd));
    memset(&row, 0, sizeof(row));
    evc_buf_init(&row.der, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    if (evc_state_agent_server(a->st, v->name, &known, &err) != 0) {
        goto fail;
    }
    /* The bytes as received name the SA, decoded or not: malformed ones differ too. */
    if (EVP_Digest(der, len, fp, NULL, EVP_sha256(), NULL) != 1) {
        evc_err_set(&err, EVC_ERR_CRYPTO, "server %s: cannot hash the SA", v->name);
        goto fail;
    }
    evc_text_hex(fp, 32, hex);
    if (strcmp(hex, known.sa_sha256) == 0) {
        goto out; /* applied already: the same SA by another way, or again */
    }
    if (check_store(a, i, &ca, &err) != 0) {
        goto fail;
    }
    if (verify(a, i, der, len, trusted, &known, v->policy, ca, now, &vd) != 0) {
        evc_err_set(&err, EVC_ERR_INTERNAL, "server %s: cannot check the SA", v->name);
        goto fail;
    }
    /*
     * A push connection opened before a swap still shows the old leaf; the
     * SA then follows one trusted since: seen verified, or the successor
     * accepted before (the server may swap before our clock says so).
     */
    for (int k = 0; k < 2 && vd.reason == EVC_SA_R_NO_CURRENT_SIGNER; k++) {
        X509 *alt = x509_of(k == 0 ? &known.trusted : &known.successor);

        if (alt == NULL || X509_cmp(alt, conn_leaf) == 0) {
            X509_free(alt);
            continue;
        }
        X509_free(prev);
        prev = alt;
        trusted = prev;
        evc_sa_verdict_clear(&vd);
        if (verify(a, i, der, len, trusted, &known, v->policy, ca, now, &vd) != 0) {
            evc_err_set(&err, EVC_ERR_INTERNAL, "server %s: cannot check the SA", v->name);
            goto fail;
        }
    }
    if (vd.decision == EVC_SA_REJECT) {
        uint64_t gen = vd.sa != NULL ? vd.sa->generation : 0;
        struct evc_agent_refusal rf = {.server = v->name,
                                       .sha256hex = hex,
                                       .generation = gen,
                                       .der = der,
                                       .len = len,
                                       .source = source,
                                       .now = now,
                                       .reason = evc_sa_reason_name(vd.reason),
                                       .max_rows = EVC_AGENT_REFUSED_MAX,
                                       .max_bytes = EVC_AGENT_REFUSED_BYTES_MAX};
        int64_t id = 0;

        if (vd.reason == EVC_SA_R_REPLAY) {
            goto out; /* the one applied, seen again */
        }
        waits = vd.reason == EVC_SA_R_NO_CURRENT_SIGNER;
        if (evc_state_agent_refused(a->st, &rf, &id, &is_new, &err) != 0) {
            goto fail;
        }
        worse(a, 1);
        if (is_new) {
            reject_event(a, i, now, vd.reason == EVC_SA_R_CONFLICT ? "conflict" : "reject", id, gen,
                         source, evc_sa_reason_name(vd.reason), vd.message);
        } else if (a->reject_log != NULL) {
            evc_ratelimit_note(&a->reject_log[i], evc_agent_mono_ms());
        }
        if (vd.reason == EVC_SA_R_CONFLICT) {
            char line[300];

            snprintf(line, sizeof(line),
                     "CONFLICT for %s: a second SA for generation %llu; only a second holder of "
                     "the server's key can make one",
                     v->name, (unsigned long long)gen);
            conflict_alert(a, i, now, gen, line, vd.message);
        }
        goto out;
    }
    if (vd.decision == EVC_SA_QUEUE) {
        if (seen(a, i, hex, vd.sa, der, len, source, now, "pending", &row, &is_new, &err) != 0) {
            goto fail;
        }
        if (is_new) {
            evc_time unused = 0;

            event(a, now, v->name, "queue", "manual", row.id, vd.sa->generation, source,
                  "waits for evercert approve");
            /* When the server switches, told now; the level rises in evc_agent_tick. */
            waits_check(a, i, now, &unused);
        }
        recorded = 1;
        goto out;
    }
    /* Accepted by every rule. */
    if (v->holddown > 0) {
        if (seen(a, i, hex, vd.sa, der, len, source, now, "holding", &row, &is_new, &err) != 0) {
            goto fail;
        }
        if (is_new) {
            struct rival rv = {a, i, row.id, vd.sa->generation, now};

            event(a, now, v->name, "hold", "holddown", row.id, vd.sa->generation, source, NULL);
            if (evc_state_agent_sa_each(a->st, v->name, "holding", supersede, &rv, &err) != 0) {
                goto fail;
            }
        }
        recorded = 1;
        if (strcmp(row.status, "holding") != 0 || now - row.first_seen < v->holddown) {
            goto out;
        }
    } else if (seen(a, i, hex, vd.sa, der, len, source, now, "applying", &row, &is_new, &err) !=
               0) {
        goto fail;
    }
    if (strcmp(row.status, "rejected") == 0 || strcmp(row.status, "superseded") == 0) {
        goto out; /* a person or a conflict dropped it */
    }
    recorded = 1;
    if (apply(a, i, &row, vd.sa, trusted, now, &err) != 0) {
        goto fail;
    }
    goto out;
fail:
    evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
    worse(a, 2);
out:
    if (recorded && trusted != NULL) {
        /* A successor for the leaf clears its freeze alarm now, whichever way it came. */
        freeze_check(a, i, trusted, now);
    }
    X509_free(prev);
    X509_STORE_free(ca);
    evc_sa_verdict_clear(&vd);
    evc_agent_sa_clear(&row);
    evc_agent_server_clear(&known);
    return waits;
}

/* The earlier of *next and t; 0 is no time. */
static void
next_at(evc_time *next, evc_time t)
{
    if (t > 0 && (*next == 0 || t < *next)) {
        *next = t;
    }
}

/* --- the freeze alarm ------------------------------------------------------------ */

/* The SAs recorded for a server that follow one leaf (it signed them). */
struct follows {
    uint8_t leaf[32];
    int waiting;         /* a pending or held SA follows it */
    X509 *next;          /* the successor of the newest accepted SA that follows it */
    uint64_t generation; /* of that SA */
};

static int
follows_one(void *arg, const struct evc_agent_sa *s)
{
    struct follows *f = arg;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    uint8_t fps[2][32], succ[32];
    size_t n = 0, k;
    X509 *x;
    int accepted = strcmp(s->status, "applied") == 0 || strcmp(s->status, "applying") == 0;

    if (evc_sa_decode(s->der.data, s->der.len, &sa, &err) != 0 ||
        (x = sk_X509_value(sa->successor, 0)) == NULL || evc_x509_sha256(x, succ) != 0 ||
        evc_sa_signers(s->der.data, s->der.len, fps, 2, &n, &err) != 0) {
        goto out;
    }
    /* The successor signs its own SA too; only the other signer is the leaf it follows. */
    if (CRYPTO_memcmp(succ, f->leaf, 32) == 0) {
        goto out;
    }
    for (k = 0; k < n && k < 2; k++) {
        if (CRYPTO_memcmp(fps[k], f->leaf, 32) == 0) {
            break;
        }
    }
    if (k == n || k == 2) {
        goto out;
    }
    if (!accepted) {
        f->waiting = 1;
    } else if ((f->next == NULL || s->generation > f->generation) && X509_up_ref(x) == 1) {
        X509_free(f->next);
        f->next = x;
        f->generation = s->generation;
    }
out:
    evc_sa_free(sa);
    return 0;
}

/*
 * The leaf whose renewal is awaited: the one served, or, when an SA that
 * follows it was accepted already, that SA's successor (the server may
 * still present its predecessor around the switch), and so on. *judged
 * gets a reference; *waiting is 1 when an SA for it waits (pending or
 * held): a successor has come, the approval alarm speaks for it.
 */
static int
judged_leaf(struct evc_agent *a, size_t i, X509 *served, X509 **judged, int *waiting,
            struct evc_err *err)
{
    static const char *const statuses[] = {"applied", "applying", "pending", "holding"};
    const char *name = a->conf->servers[i].name;
    X509 *cur = served;
    int r = 0;

    *judged = NULL;
    *waiting = 0;
    if (X509_up_ref(cur) != 1) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    /* Each step is a newer generation; a few steps cover any switch in progress. */
    for (int step = 0; step < 4; step++) {
        struct follows f;

        memset(&f, 0, sizeof(f));
        if ((r = evc_x509_sha256(cur, f.leaf)) != 0) {
            goto out;
        }
        for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
            if ((r = evc_state_agent_sa_each(a->st, name, statuses[k], follows_one, &f, err)) !=
                0) {
                X509_free(f.next);
                goto out;
            }
        }
        if (f.waiting || f.next == NULL || X509_cmp(f.next, cur) == 0) {
            *waiting = f.waiting;
            X509_free(f.next);
            break;
        }
        X509_free(cur);
        cur = f.next;
    }
out:
    if (r != 0) {
        X509_free(cur);
        return r;
    }
    *judged = cur;
    return 0;
}

/*
 * The freeze alarm for server i, which presents leaf: raised once per
 * leaf (the state remembers it across restarts), an alarm for --once
 * while it stands, cleared with one line when an SA comes for the leaf or
 * the server presents another.
 */
static void
freeze_check(struct evc_agent *a, size_t i, X509 *leaf, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_err err = {0};
    X509 *judged = NULL;
    int waiting = 0, frozen;
    /*
     * The monitor renews at the moment (jitter: a twentieth of the time
     * left) and retries a failure no later than a quarter of it: that
     * quarter, evc_agent_freeze_at's cap, is the grace.
     */
    int64_t grace = INT64_MAX;
    uint8_t fp[32], sfp[32];
    char hex[65], served[65], told[80], key[300], line[600], body[900], when[EVC_TIME_TEXT_MAX],
        left[32];
    evc_time due;

    snprintf(key, sizeof(key), "agent-freeze/%s", v->name);
    if (judged_leaf(a, i, leaf, &judged, &waiting, &err) != 0 || evc_x509_sha256(judged, fp) != 0 ||
        evc_x509_sha256(leaf, sfp) != 0 ||
        evc_state_agent_told(a->st, key, told, sizeof(told), &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name,
                 err.code != 0 ? evc_err_message(&err) : "cannot hash its certificate");
        X509_free(judged);
        return;
    }
    evc_text_hex(fp, 32, hex);
    evc_text_hex(sfp, 32, served);
    frozen = evc_agent_frozen(judged, waiting, &a->conf->policy.thresholds, grace, now);
    due = evc_agent_freeze_at(judged, &a->conf->policy.thresholds, grace);
    evc_time_format(due, when);
    evc_span_format(now - due, left, sizeof(left));
    switch (evc_agent_freeze_step(told, hex, frozen)) {
    case EVC_FREEZE_RAISE:
    case EVC_FREEZE_STANDS:
        /* Standing, the line is not told again; a mail not sent yet is tried again. */
        snprintf(line, sizeof(line),
                 "FREEZE for %s: certificate %.16s is past its renewal moment and grace (%s, %s "
                 "ago) and no successor has come; an update may be withheld",
                 v->name, hex, when, left);
        snprintf(body, sizeof(body),
                 "Server %s (%s) presents certificate SHA-256 %s.\n"
                 "Its server renews it at its threshold; with the time a renewal may take to be\n"
                 "published that was %s, %s ago, and no Successor Announcement has come.\n"
                 "An update may be withheld, or the server's renewal may have failed.\n",
                 v->name, v->service, hex, when, left);
        {
            char subject[400];

            snprintf(subject, sizeof(subject), "evercert agent: FREEZE for %s", v->name);
            (void)tell(a, now, LOG_WARNING, key, hex, line, subject, body);
        }
        worse(a, 1);
        break;
    case EVC_FREEZE_CLEAR:
        snprintf(line, sizeof(line), "FREEZE for %s cleared: %s", v->name,
                 /* The leaf told about is still presented: what changed is an SA for it. */
                 strcmp(told, served) == 0 ? "a successor has come"
                                           : "the server presents another certificate");
        snprintf(body, sizeof(body), "%s\n", line);
        {
            char subject[400];

            snprintf(subject, sizeof(subject), "evercert agent: FREEZE for %s cleared", v->name);
            (void)tell(a, now, LOG_INFO, key, "cleared", line, subject, body);
        }
        break;
    case EVC_FREEZE_QUIET:
    default:
        break;
    }
    X509_free(judged);
}

/* --- approval deadlines ------------------------------------------------------------ */

struct waits {
    struct evc_agent *a;
    size_t i;
    evc_time now;
    evc_time next; /* the earliest moment a level rises */
};

static const char *const wait_names[] = {"early", "warning", "critical"};

/*
 * One SA that waits for a person: when the server switches to it, and
 * what that means, told once per level (the log, e-mail when set).
 */
static int
wait_one(void *arg, const struct evc_agent_sa *s)
{
    struct waits *w = arg;
    struct evc_agent *a = w->a;
    const struct evc_server_conf *v = &a->conf->servers[w->i];
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    enum evc_agent_wait_level lv;
    evc_time rise;
    char when[EVC_TIME_TEXT_MAX], left[32], key[400], line[700], subject[400], body[1200];

    if (evc_sa_decode(s->der.data, s->der.len, &sa, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s SA %lld: %s", v->name, (long long)s->id,
                 evc_err_message(&err));
        return 0;
    }
    lv = evc_agent_wait_level(sa->published_at, sa->activate_at, w->now, &rise);
    next_at(&w->next, rise);
    evc_time_format(sa->activate_at, when);
    snprintf(key, sizeof(key), "agent-approval/%s/%s", v->name, s->sha256);
    if (lv == EVC_WAIT_CRITICAL) {
        evc_span_format(w->now - sa->activate_at, left, sizeof(left));
        snprintf(line, sizeof(line),
                 "CRITICAL: server=%s SA %lld (generation %llu) is still not approved and the "
                 "server switched at %s, %s ago; connections fail until it is approved "
                 "(evercert approve %lld)",
                 v->name, (long long)s->id, (unsigned long long)sa->generation, when, left,
                 (long long)s->id);
    } else {
        evc_span_format(sa->activate_at - w->now, left, sizeof(left));
        snprintf(line, sizeof(line),
                 "%sserver=%s SA %lld (generation %llu) waits for approval (evercert approve "
                 "%lld): the server switches at %s, in %s; after that connections fail until it "
                 "is approved",
                 lv == EVC_WAIT_WARNING ? "WARNING: " : "", v->name, (long long)s->id,
                 (unsigned long long)sa->generation, (long long)s->id, when, left);
    }
    snprintf(subject, sizeof(subject),
             "evercert agent: %sa successor for %s waits for approval "
             "(evercert approve %lld)",
             lv == EVC_WAIT_CRITICAL  ? "CRITICAL: "
             : lv == EVC_WAIT_WARNING ? "WARNING: "
                                      : "",
             v->name, (long long)s->id);
    snprintf(body, sizeof(body),
             "%s.\n\nServer %s (%s) announced a successor, generation %llu, by %s.\n"
             "It passed every check; policy = manual keeps it until a person decides.\n"
             "See it with `evercert pending`; write it with `evercert approve %lld`,\n"
             "or drop it with `evercert reject %lld`.\n",
             line, v->name, v->service, (unsigned long long)sa->generation, s->source,
             (long long)s->id, (long long)s->id);
    (void)tell(a, w->now, lv == EVC_WAIT_EARLY ? LOG_INFO : LOG_WARNING, key, wait_names[lv], line,
               subject, body);
    worse(a, (int)lv);
    evc_sa_free(sa);
    return 0;
}

/* The SAs of server i that wait for a person; *next gets when a level next rises. */
static void
waits_check(struct evc_agent *a, size_t i, evc_time now, evc_time *next)
{
    struct waits w = {a, i, now, 0};
    struct evc_err err = {0};

    if (evc_state_agent_sa_each(a->st, a->conf->servers[i].name, "pending", wait_one, &w, &err) !=
        0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", a->conf->servers[i].name, evc_err_message(&err));
        worse(a, 2);
    }
    next_at(next, w.next);
}

/* --- contact ------------------------------------------------------------------------ */

void
evc_agent_contact(struct evc_agent *a, size_t i, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_agent_server known;
    struct evc_probe p;
    struct evc_tls_conn c;
    struct evc_err err = {0};
    struct evc_buf body, leafder;
    X509_STORE *store;
    X509 *leaf = NULL;

    memset(&p, 0, sizeof(p));
    evc_buf_init(&body, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    evc_buf_init(&leafder, EVC_SA_MAX);
    if (evc_state_agent_server(a->st, v->name, &known, &err) != 0 ||
        (store = evc_agent_trust_store(a, i, &err)) == NULL) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        worse(a, 2);
        evc_agent_server_clear(&known);
        return;
    }
    if (v->sources & EVC_SOURCE_HANDSHAKE) {
        if (evc_tls_open_cancel(v->connect, v->service, store, known.generation, CONTACT_TIMEOUT_MS,
                                a->cancel_fd, &p, &c, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "server=%s not reached: %s", v->name, evc_err_message(&err));
            worse(a, 2);
        } else {
            evc_tls_conn_close(&c);
            if (!p.verified) {
                evc_logf(&a->log, LOG_ERR,
                         "server=%s at %s does not verify with the trust in %s (%s); it is not a "
                         "source of successors",
                         v->name, v->connect, v->trust, p.reason);
                worse(a, 2);
            } else {
                leaf = p.leaf;
                p.leaf = NULL;
                if (p.sa.len > 0) {
                    evc_agent_offer(a, i, p.sa.data, p.sa.len, leaf, "handshake", now);
                }
            }
        }
    }
    if ((v->sources & EVC_SOURCE_URL) && !evc_agent_stopping(a)) {
        X509 *uleaf = NULL;

        if (evc_agent_fetch(v->url, v->connect, store, CONTACT_TIMEOUT_MS, a->cancel_fd, &body,
                            &uleaf, &err) != 0) {
            evc_logf(&a->log, LOG_ERR,
                     "server=%s url not fetched; it is not a source of "
                     "successors: %s",
                     v->name, evc_err_message(&err));
            worse(a, 2);
        } else {
            if (body.len > 0) {
                evc_agent_offer(a, i, body.data, body.len, uleaf, "url", now);
            }
            if (leaf == NULL) {
                leaf = uleaf;
                uleaf = NULL;
            }
        }
        X509_free(uleaf);
    }
    if (leaf != NULL) {
        /* The leaf seen verified is the one an SA must follow (or the one before it). */
        if (x509_der(leaf, &leafder) == 0 &&
            (leafder.len != known.trusted.len ||
             memcmp(leafder.data, known.trusted.data, leafder.len) != 0) &&
            evc_state_agent_trusted(a->st, v->name, leafder.data, leafder.len, &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        }
        freeze_check(a, i, leaf, now);
    }
    X509_free(leaf);
    X509_STORE_free(store);
    evc_probe_clear(&p);
    evc_buf_free(&body);
    evc_buf_free(&leafder);
    evc_agent_server_clear(&known);
}

/* --- what time decides ------------------------------------------------------------ */

static long
server_index(const struct evc_agent *a, const char *name)
{
    for (size_t i = 0; i < a->conf->nservers; i++) {
        if (strcmp(a->conf->servers[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* The successor is active: a pin file now names it alone. */
static void
activate(struct evc_agent *a, size_t i, const struct evc_agent_server *known, evc_time now)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_err err = {0};
    struct evc_buf pem;
    X509 *x = x509_of(&known->successor);
    int lock = -1, r = 0;

    evc_buf_init(&pem, EVC_SA_MAX);
    if (x == NULL) {
        r = evc_err_set(&err, EVC_ERR_PARSE, "server %s: the stored successor does not parse",
                        v->name);
    } else if (v->trust_format == EVC_TRUST_PIN) {
        if ((lock = store_lock(v->trust, &err)) == -1 || (r = evc_x509_pem(x, &pem, &err)) != 0 ||
            (r = evc_atomic_write(v->trust, pem.data, pem.len, 0644, &err)) != 0) {
            r = r != 0 ? r : EVC_ERR_BUSY;
        }
    }
    if (r == 0 && (r = evc_state_agent_activated(a->st, v->name, &err)) == 0) {
        event(a, now, v->name, "activate", NULL, 0, known->generation, NULL,
              v->trust_format == EVC_TRUST_PIN ? "the pin file now holds the successor" : NULL);
    }
    if (lock != -1) {
        close(lock);
    }
    X509_free(x);
    evc_buf_free(&pem);
    if (r != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", v->name, evc_err_message(&err));
        worse(a, 2);
    } else if (v->trust_format == EVC_TRUST_PIN) {
        after_change(a, i, "pin");
    }
}

struct tick {
    struct evc_agent *a;
    evc_time now;
    evc_time next;
};

/* An expired predecessor leaves the trust store for the deleted store. */
static int
retire_one(void *arg, const char *server, const char *sha256hex, const uint8_t *der, size_t len)
{
    struct tick *tk = arg;
    struct evc_agent *a = tk->a;
    long i = server_index(a, server);
    struct evc_trust *t = NULL;
    struct evc_deleted *d = NULL;
    struct evc_err err = {0};
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    uint8_t fp[32];
    long k;
    int lock = -1, r = 0, removed = 0;

    if (i < 0 || x == NULL || a->conf->agent.deleted == NULL) {
        /* A server no longer followed, or no deleted store: the certificate stays. */
        goto done;
    }
    if ((lock = store_lock(a->conf->servers[i].trust, &err)) == -1 ||
        (r = trust_load(a, (size_t)i, &t, &err)) != 0 ||
        (r = evc_deleted_load(a->conf->agent.deleted, &d, &err)) != 0 ||
        (r = evc_x509_sha256(x, fp)) != 0) {
        r = r != 0 ? r : EVC_ERR_BUSY;
        goto done;
    }
    if ((k = evc_trust_find(t, fp)) >= 0) {
        if ((r = evc_deleted_put(d, x, a->conf->servers[i].trust, "expired predecessor", tk->now,
                                 &err)) != 0 ||
            (r = evc_trust_remove(t, (size_t)k, &err)) != 0) {
            goto done;
        }
        removed = 1;
    }
    /* The deleted store grows only here: what is past deleted_retention goes now. */
    for (size_t j = 0; r == 0 && j < d->n; j++) {
        if (d->entries[j].x != NULL &&
            tk->now - d->entries[j].deleted_at >= a->conf->policy.deleted_retention) {
            r = evc_deleted_purge(d, j, &err);
        }
    }
done:
    if (lock != -1) {
        close(lock);
    }
    if (r == 0 && (r = evc_state_agent_retired(a->st, server, sha256hex, &err)) == 0 && removed) {
        event(a, tk->now, server, "retire", "expired", 0, 0, NULL, sha256hex);
        after_change(a, (size_t)i, "retire");
    }
    if (r != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s retire: %s", server, evc_err_message(&err));
        worse(a, 2);
    }
    evc_deleted_free(d);
    evc_trust_free(t);
    X509_free(x);
    return 0;
}

/* A crash between the mark and the record: finish the write. A hold that is over: decide. */
static int
resume_one(void *arg, const struct evc_agent_sa *row)
{
    struct tick *tk = arg;
    struct evc_agent *a = tk->a;
    long i = server_index(a, row->server);
    struct evc_agent_server known;
    struct evc_sa_verdict vd;
    struct evc_err err = {0};
    X509 *trusted;
    X509_STORE *ca = NULL;
    int holding = strcmp(row->status, "holding") == 0, ca_policy;

    if (i < 0) {
        return 0;
    }
    ca_policy = a->conf->servers[i].policy == EVC_SA_POLICY_CA;
    if (holding) {
        evc_time due = row->first_seen + a->conf->servers[i].holddown;

        /* Seen continuously: still offered within the last interval. */
        if (due > tk->now) {
            next_at(&tk->next, due);
            return 0;
        }
        if (row->last_seen + a->conf->servers[i].interval + 60 < tk->now) {
            return 0;
        }
    }
    memset(&vd, 0, sizeof(vd));
    if (evc_state_agent_server(a->st, row->server, &known, &err) != 0) {
        goto fail;
    }
    trusted = x509_of(&known.trusted);
    /* Decided by the server's policy again; manual's approval was given before the mark. */
    if (check_store(a, (size_t)i, &ca, &err) != 0) {
        X509_free(trusted);
        evc_agent_server_clear(&known);
        goto fail;
    }
    if (verify(a, (size_t)i, row->der.data, row->der.len, trusted, &known,
               ca_policy ? EVC_SA_POLICY_CA : EVC_SA_POLICY_AUTO, ca, tk->now, &vd) != 0 ||
        vd.sa == NULL) {
        evc_err_set(&err, EVC_ERR_INTERNAL, "server %s: cannot read SA %lld", row->server,
                    (long long)row->id);
    } else if (vd.decision != EVC_SA_ACCEPT && !(!holding && vd.reason == EVC_SA_R_REPLAY)) {
        if (evc_state_agent_sa_status(a->st, row->id, "refused", evc_sa_reason_name(vd.reason),
                                      &err) != 0) {
            evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
        }
        err.code = 0;
        event(a, tk->now, row->server, "reject", evc_sa_reason_name(vd.reason), row->id,
              vd.sa->generation, row->source, vd.message);
    } else if (apply(a, (size_t)i, row, vd.sa, trusted, tk->now, &err) == 0) {
        err.code = 0;
    }
    X509_free(trusted);
    X509_STORE_free(ca);
    evc_sa_verdict_clear(&vd);
    evc_agent_server_clear(&known);
    if (err.code == 0) {
        return 0;
    }
fail:
    evc_logf(&a->log, LOG_ERR, "server=%s %s", row->server, evc_err_message(&err));
    worse(a, 2);
    return 0;
}

void
evc_agent_tick(struct evc_agent *a, evc_time now, evc_time *next)
{
    struct tick tk = {a, now, 0};
    struct evc_err err = {0};
    evc_time retire_next;

    if (evc_state_agent_sa_each(a->st, NULL, "applying", resume_one, &tk, &err) != 0 ||
        evc_state_agent_sa_each(a->st, NULL, "holding", resume_one, &tk, &err) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < a->conf->nservers; i++) {
        struct evc_agent_server known;

        if (evc_state_agent_server(a->st, a->conf->servers[i].name, &known, &err) != 0) {
            goto fail;
        }
        if (known.successor.len > 0) {
            if (known.activate_at <= now) {
                activate(a, i, &known, now);
            } else {
                next_at(&tk.next, known.activate_at);
            }
        }
        evc_agent_server_clear(&known);
        waits_check(a, i, now, &tk.next);
    }
    if (evc_state_agent_retire_due(a->st, now, retire_one, &tk, &err) != 0 ||
        evc_state_agent_retire_next(a->st, &retire_next, &err) != 0) {
        goto fail;
    }
    /* Without a deleted store the rows stay; wake for them only when something can be done. */
    if (a->conf->agent.deleted != NULL) {
        next_at(&tk.next, retire_next);
    }
    *next = tk.next;
    return;
fail:
    evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    worse(a, 2);
    *next = tk.next;
}

/* --- a person's decision ------------------------------------------------------------ */

int
evc_agent_decide(const char *config_path, int64_t id, int approve, int64_t clock_offset, char *msg,
                 size_t len, struct evc_err *err)
{
    struct evc_agent a;
    struct evc_agent_sa row;
    struct evc_agent_server known;
    struct evc_sa_verdict vd;
    X509 *trusted = NULL;
    X509_STORE *store = NULL;
    evc_time now;
    long i;
    int r;

    memset(&row, 0, sizeof(row));
    memset(&known, 0, sizeof(known));
    memset(&vd, 0, sizeof(vd));
    if ((r = evc_agent_open(&a, config_path, clock_offset, 0, err)) != 0) {
        return r;
    }
    now = evc_agent_now(&a);
    if ((r = evc_state_agent_sa_get(a.st, id, &row, err)) != 0) {
        evc_err_set(err, r, "no announcement %lld in %s", (long long)id, config_path);
        goto out;
    }
    if (strcmp(row.status, "pending") != 0 && strcmp(row.status, "holding") != 0) {
        r = evc_err_set(err, EVC_ERR_USAGE, "announcement %lld is %s, not waiting for a decision",
                        (long long)id, row.status);
        goto out;
    }
    if ((i = server_index(&a, row.server)) < 0) {
        r = evc_err_set(err, EVC_ERR_CONFIG,
                        "announcement %lld is for server \"%s\", which %s no "
                        "longer follows",
                        (long long)id, row.server, config_path);
        goto out;
    }
    if (!approve) {
        if ((r = evc_state_agent_sa_status(a.st, id, "rejected", "rejected by a person", err)) ==
            0) {
            event(&a, now, row.server, "reject", "person", id, row.generation, row.source, NULL);
            snprintf(msg, len, "rejected announcement %lld for %s (generation %llu)", (long long)id,
                     row.server, (unsigned long long)row.generation);
        }
        goto out;
    }
    /* Approval skips the wait, never a rule: check again, now. */
    if ((r = evc_state_agent_server(a.st, row.server, &known, err)) != 0) {
        goto out;
    }
    trusted = x509_of(&known.trusted);
    if ((r = check_store(&a, (size_t)i, &store, err)) != 0 ||
        (r = verify(&a, (size_t)i, row.der.data, row.der.len, trusted, &known, EVC_SA_POLICY_AUTO,
                    store, now, &vd)) != 0) {
        goto out;
    }
    if (vd.decision != EVC_SA_ACCEPT) {
        r = evc_err_set(err, EVC_ERR_POLICY, "announcement %lld no longer passes: %s: %s",
                        (long long)id, evc_sa_reason_name(vd.reason), vd.message);
        goto out;
    }
    event(&a, now, row.server, "approve", "person", id, row.generation, row.source, NULL);
    if ((r = apply(&a, (size_t)i, &row, vd.sa, trusted, now, err)) == 0) {
        snprintf(msg, len, "approved announcement %lld for %s (generation %llu): written to %s",
                 (long long)id, row.server, (unsigned long long)row.generation,
                 a.conf->servers[i].trust);
    }
out:
    X509_free(trusted);
    X509_STORE_free(store);
    evc_sa_verdict_clear(&vd);
    evc_agent_server_clear(&known);
    evc_agent_sa_clear(&row);
    evc_agent_close(&a);
    return r;
}
