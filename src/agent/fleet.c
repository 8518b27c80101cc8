/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's report to the fleet inventory: each decision that changes
 * what a client trusts (accepted, activated, retired, rejected), and per
 * server the generation it holds and the leaf it trusts, so `evercert
 * fleet` can say which clients hold which generation. Only the agent
 * service writes it (not pending, approve or reject, which open the same
 * state); a problem never stops the agent, it is a log line.
 *
 * The agent's state is a rollback-journal SQLite file that the agent's own
 * connection may be reading (a tick walks its SAs while deciding), and a
 * second connection's commit would wait on that read and fail. So a
 * decision is kept in memory where it is made and written to the outbox
 * at the end of the tick (or when the agent closes), where no statement is
 * open; the agent's own state has recorded it durably by then.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/file.h"
#include "base/text.h"
#include "evercert/fleet.h"
#include "evercert/limits.h"
#include "agent/agent_int.h"

/* A holding is written again at least this often: the host's heartbeat. */
#define HOLDING_EVERY 600

struct evc_agent_told {
    char server[256];
    uint64_t generation;
    char sha256[65];
    evc_time at;
};

/* A write waiting for the end of the tick: an event (what set) or a holding. */
struct evc_agent_fleet_pending {
    evc_time at;
    char what[16];
    char server[256];
    uint64_t generation;
    char sha256[65];
    char detail[256];
};

static struct evc_fleet *
writer(struct evc_agent *a)
{
    struct evc_fleet_opts o;
    struct evc_err err = {0};
    struct evc_buf pw;
    char path[EVC_PATH_MAX];

    if (!a->fleet_on || a->fleet_failed || a->fleet != NULL) {
        return a->fleet;
    }
    /* A moved clock would stamp the fleet with a time that is not (see the monitor's). */
    if (a->clock_offset != 0) {
        evc_logf(&a->log, LOG_WARNING, "fleet inventory: not written under --at");
        a->fleet_failed = 1;
        return NULL;
    }
    evc_buf_init(&pw, EVC_PASSWORD_MAX + 2);
    evc_agent_state_path(a->config_path, a->conf->agent.state, path, sizeof(path));
    memset(&o, 0, sizeof(o));
    o.local = path;
    o.url = a->conf->agent.fleet_url;
    o.host = a->conf->fleet.host;
    o.service = "agent";
    o.keep = a->conf->fleet.keep;
    if (o.url != NULL && a->conf->fleet.password_file != NULL) {
        if (evc_password_read(a->conf->fleet.password_file, &pw, &err) != 0) {
            goto fail;
        }
        o.password = evc_buf_str(&pw);
    }
    if (evc_fleet_open(&o, &a->fleet, &err) != 0) {
        goto fail;
    }
    evc_buf_free(&pw);
    return a->fleet;
fail:
    evc_logf(&a->log, LOG_ERR, "fleet inventory not written: %s", evc_err_message(&err));
    a->fleet_failed = 1;
    evc_buf_free(&pw);
    return NULL;
}

static void
pend(struct evc_agent *a, evc_time at, const char *what, const char *server, uint64_t generation,
     const char *sha256, const char *detail)
{
    struct evc_agent_fleet_pending *p;

    /* Bounded: a flood of rejections between two ticks keeps the oldest. */
    if (a->nfleet_pending >= EVC_AGENT_FLEET_PENDING_MAX) {
        a->fleet_pending_lost++;
        return;
    }
    p = realloc(a->fleet_pending, (a->nfleet_pending + 1) * sizeof(*p));
    if (p == NULL) {
        a->fleet_pending_lost++;
        return;
    }
    a->fleet_pending = p;
    p = &a->fleet_pending[a->nfleet_pending++];
    memset(p, 0, sizeof(*p));
    p->at = at;
    snprintf(p->what, sizeof(p->what), "%s", what != NULL ? what : "");
    snprintf(p->server, sizeof(p->server), "%s", server);
    p->generation = generation;
    snprintf(p->sha256, sizeof(p->sha256), "%s", sha256 != NULL ? sha256 : "");
    snprintf(p->detail, sizeof(p->detail), "%s", detail != NULL ? detail : "");
}

void
evc_agent_fleet_event(struct evc_agent *a, evc_time now, const char *server, const char *what,
                      uint64_t generation, const char *detail)
{
    const char *w = strcmp(what, "accept") == 0     ? "accepted"
                    : strcmp(what, "activate") == 0 ? "activated"
                    : strcmp(what, "retire") == 0   ? "retired"
                    : strcmp(what, "reject") == 0   ? "rejected"
                                                    : NULL;

    if (w != NULL && a->fleet_on && !a->fleet_failed) {
        pend(a, now, w, server, generation, NULL, detail);
    }
}

/* Write what waits into the outbox: at the end of a tick, or when the agent closes. */
static void
write_pending(struct evc_agent *a)
{
    struct evc_err err = {0};
    struct evc_fleet *f = a->nfleet_pending > 0 ? writer(a) : NULL;

    for (size_t i = 0; f != NULL && i < a->nfleet_pending; i++) {
        const struct evc_agent_fleet_pending *p = &a->fleet_pending[i];
        int r;

        if (p->what[0] != '\0') {
            struct evc_fleet_event e;

            memset(&e, 0, sizeof(e));
            e.at = p->at;
            e.what = p->what;
            e.subject = p->server;
            e.generation = p->generation;
            e.detail = p->detail;
            r = evc_fleet_event(f, &e, &err);
        } else {
            struct evc_fleet_holding h = {p->server, p->generation, p->sha256, p->at};

            r = evc_fleet_holding(f, &h, &err);
        }
        if (r != 0) {
            evc_logf(&a->log, LOG_ERR, "fleet inventory: %s", evc_err_message(&err));
            break;
        }
    }
    if (a->fleet_pending_lost > 0) {
        evc_logf(&a->log, LOG_WARNING,
                 "fleet inventory: %zu decisions between two ticks were not kept for it",
                 a->fleet_pending_lost);
    }
    free(a->fleet_pending);
    a->fleet_pending = NULL;
    a->nfleet_pending = 0;
    a->fleet_pending_lost = 0;
}

void
evc_agent_fleet_holding(struct evc_agent *a, evc_time now, const char *server,
                        const struct evc_agent_server *known)
{
    struct evc_agent_told *t = NULL;
    uint8_t md[32];
    char hex[65] = "";

    if (!a->fleet_on || a->fleet_failed) {
        return;
    }
    if (known->trusted.len > 0) {
        if (EVP_Digest(known->trusted.data, known->trusted.len, md, NULL, EVP_sha256(), NULL) !=
            1) {
            return;
        }
        evc_text_hex(md, sizeof(md), hex);
    }
    for (size_t i = 0; i < a->nfleet_told; i++) {
        if (strcmp(a->fleet_told[i].server, server) == 0) {
            t = &a->fleet_told[i];
        }
    }
    if (t != NULL && t->generation == known->generation && strcmp(t->sha256, hex) == 0 &&
        now - t->at < HOLDING_EVERY) {
        return;
    }
    if (t == NULL) {
        struct evc_agent_told *n =
            realloc(a->fleet_told, (a->nfleet_told + 1) * sizeof(*a->fleet_told));

        if (n == NULL) {
            return;
        }
        a->fleet_told = n;
        t = &a->fleet_told[a->nfleet_told++];
        snprintf(t->server, sizeof(t->server), "%s", server);
    }
    pend(a, now, NULL, server, known->generation, hex, NULL);
    t->generation = known->generation;
    snprintf(t->sha256, sizeof(t->sha256), "%s", hex);
    t->at = now;
}

void
evc_agent_fleet_flush(struct evc_agent *a, evc_time now)
{
    struct evc_fleet_sent sent;
    struct evc_err err = {0};
    struct evc_fleet *f;

    write_pending(a);
    if ((f = writer(a)) == NULL) {
        return;
    }
    if (evc_fleet_flush(f, now, &sent, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "fleet inventory: %s", evc_err_message(&err));
    } else if (sent.changed) {
        evc_logf(&a->log, sent.down ? LOG_WARNING : LOG_INFO, "%s", sent.line);
    }
}

void
evc_agent_fleet_close(struct evc_agent *a)
{
    write_pending(a);
    evc_fleet_close(a->fleet);
    a->fleet = NULL;
    free(a->fleet_told);
    a->fleet_told = NULL;
    a->nfleet_told = 0;
}
