/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SAs that wait for a person (policy = manual): how near each is to the
 * server's switch, told once per level, and the person's decision, which
 * checks the SA again before writing it.
 */
#include <stdio.h>
#include <string.h>

#include "evercert/announce.h"
#include "evercert/limits.h"
#include "agent/agent_int.h"

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
    evc_agent_next_at(&w->next, rise);
    evc_time_format(sa->activate_at, when);
    snprintf(key, sizeof(key), "agent-approval/%s/%s", v->name, s->sha256);
    if (sa->activate_by > sa->activate_at) {
        /*
         * The server waits for its clients (this one among them) up to
         * activateBy: from activate_at on it may switch, at activateBy it does.
         */
        char by[EVC_TIME_TEXT_MAX];

        evc_time_format(sa->activate_by, by);
        evc_span_format(sa->activate_by > w->now ? sa->activate_by - w->now : 0, left,
                        sizeof(left));
        snprintf(line, sizeof(line),
                 "%sserver=%s SA %lld (generation %llu) waits for approval (evercert approve "
                 "%lld): the server may switch from %s and does by %s, in %s; from its switch "
                 "connections fail until it is approved",
                 lv == EVC_WAIT_CRITICAL  ? "CRITICAL: "
                 : lv == EVC_WAIT_WARNING ? "WARNING: "
                                          : "",
                 v->name, (long long)s->id, (unsigned long long)sa->generation, (long long)s->id,
                 when, by, left);
    } else if (lv == EVC_WAIT_CRITICAL) {
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
    (void)evc_agent_tell(a, w->now, lv == EVC_WAIT_EARLY ? LOG_INFO : LOG_WARNING, key,
                         wait_names[lv], line, subject, body);
    evc_agent_worse(a, (int)lv);
    evc_sa_free(sa);
    return 0;
}

/* The SAs of server i that wait for a person; *next gets when a level next rises. */
void
evc_agent_waits_check(struct evc_agent *a, size_t i, evc_time now, evc_time *next)
{
    struct waits w = {a, i, now, 0};
    struct evc_err err = {0};

    if (evc_state_agent_sa_each(a->st, a->conf->servers[i].name, EVC_SA_STATUS_PENDING, wait_one,
                                &w, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s %s", a->conf->servers[i].name, evc_err_message(&err));
        evc_agent_worse(a, 2);
    }
    evc_agent_next_at(next, w.next);
}

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
        /* A row that is there but does not read keeps its own message (the state, the word). */
        if (r == EVC_ERR_NOENT) {
            evc_err_set(err, r, "no announcement %lld in %s", (long long)id, config_path);
        }
        goto out;
    }
    if (row.status != EVC_SA_STATUS_PENDING && row.status != EVC_SA_STATUS_HOLDING) {
        r = evc_err_set(err, EVC_ERR_USAGE, "announcement %lld is %s, not waiting for a decision",
                        (long long)id, evc_sa_status_name(row.status));
        goto out;
    }
    if ((i = evc_agent_server_index(&a, row.server)) < 0) {
        r = evc_err_set(err, EVC_ERR_CONFIG,
                        "announcement %lld is for server \"%s\", which %s no "
                        "longer follows",
                        (long long)id, row.server, config_path);
        goto out;
    }
    if (!approve) {
        if ((r = evc_state_agent_sa_status(a.st, id, EVC_SA_STATUS_REJECTED, "rejected by a person",
                                           err)) == 0) {
            evc_agent_event(&a, now, row.server, "reject", "person", id, row.generation, row.source,
                            NULL);
            snprintf(msg, len, "rejected announcement %lld for %s (generation %llu)", (long long)id,
                     row.server, (unsigned long long)row.generation);
        }
        goto out;
    }
    /* Approval skips the wait, never a rule: check again, now. */
    if ((r = evc_state_agent_server(a.st, row.server, &known, err)) != 0) {
        goto out;
    }
    trusted = evc_agent_x509_of(&known.trusted);
    if ((r = evc_agent_check_store(&a, (size_t)i, &store, err)) != 0 ||
        (r = evc_agent_verify(&a, (size_t)i, row.der.data, row.der.len, trusted, &known,
                              EVC_SA_POLICY_AUTO, store, now, &vd)) != 0) {
        goto out;
    }
    if (vd.decision != EVC_SA_ACCEPT) {
        r = evc_err_set(err, EVC_ERR_POLICY, "announcement %lld no longer passes: %s: %s",
                        (long long)id, evc_sa_reason_name(vd.reason), vd.message);
        goto out;
    }
    evc_agent_event(&a, now, row.server, "approve", "person", id, row.generation, row.source, NULL);
    if ((r = evc_agent_apply(&a, (size_t)i, &row, vd.sa, trusted, now, err)) == 0) {
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
