/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/state: the handle, the schema of the agent's tables, the error helper. */
#ifndef EVC_STATE_INT_H
#define EVC_STATE_INT_H

#include <sqlite3.h>

#include "evercert/error.h"
#include "evercert/state.h"

struct evc_state {
    sqlite3 *db;
    char *path;
    int lockfd;
};

/*
 * The agent's tables. agent_servers: per server, the last accepted SA and
 * the leaf trusted now; agent_sas: every distinct SA seen, with its
 * status; agent_retire: predecessors to move out once expired;
 * agent_events: every decision, for `evercert history`.
 */
#define EVC_STATE_AGENT_SCHEMA                                                                     \
    "CREATE TABLE IF NOT EXISTS agent_servers(server TEXT PRIMARY KEY,"                            \
    " generation INTEGER NOT NULL DEFAULT 0, sa_sha256 TEXT, trusted BLOB, successor BLOB,"        \
    " activate_at INTEGER NOT NULL DEFAULT 0);"                                                    \
    "CREATE TABLE IF NOT EXISTS agent_sas(id INTEGER PRIMARY KEY, server TEXT NOT NULL,"           \
    " sha256 TEXT NOT NULL, generation INTEGER NOT NULL, der BLOB NOT NULL,"                       \
    " source TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"              \
    " status TEXT NOT NULL, reason TEXT, UNIQUE(server, sha256));"                                 \
    "CREATE TABLE IF NOT EXISTS agent_retire(server TEXT NOT NULL, sha256 TEXT NOT NULL,"          \
    " der BLOB NOT NULL, not_after INTEGER NOT NULL, PRIMARY KEY(server, sha256));"                \
    "CREATE TABLE IF NOT EXISTS agent_events(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"         \
    " server TEXT NOT NULL, event TEXT NOT NULL, reason TEXT, sa INTEGER, generation INTEGER,"     \
    " source TEXT, detail TEXT);"

int evc_state_db_err(struct evc_state *st, struct evc_err *err, const char *what);
int evc_state_exec(struct evc_state *st, const char *sql, struct evc_err *err);
/* A text column, "" for NULL. */
const char *evc_state_col(sqlite3_stmt *q, int i);

#define db_err evc_state_db_err
#define exec evc_state_exec
#define col evc_state_col

#endif
