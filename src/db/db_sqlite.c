/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite engine: a local file, each change one transaction in rollback
 * journal mode with synchronous=FULL (SQLite's own atomic, durable commit).
 */
#include <string.h>

#include "db/db_int.h"

int
evc_db_lite_err(struct evc_db *db, struct evc_err *err, const char *what)
{
    int rc = db->lite != NULL ? sqlite3_errcode(db->lite) : SQLITE_CANTOPEN;
    int code = EVC_ERR_IO;

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        db->fault = EVC_DB_FAULT_BUSY;
        code = EVC_ERR_BUSY;
        break;
    case SQLITE_READONLY:
        db->fault = EVC_DB_FAULT_READONLY;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        db->fault = EVC_DB_FAULT_OTHER;
        code = EVC_ERR_PARSE;
        break;
    default:
        db->fault = EVC_DB_FAULT_OTHER;
    }
    return evc_err_set(err, code, "%s: %s: %s", db->name, what,
                       db->lite != NULL ? sqlite3_errmsg(db->lite) : "cannot open");
}

int
evc_db_lite_open(struct evc_db *db, const struct evc_db_opts *o, struct evc_err *err)
{
    if (sqlite3_open_v2(db->target, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        return evc_db_lite_err(db, err, "cannot open");
    }
    sqlite3_busy_timeout(db->lite, o != NULL && o->busy_ms > 0 ? o->busy_ms : 2000);
    if (sqlite3_exec(db->lite, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        return evc_db_lite_err(db, err, "cannot open");
    }
    return 0;
}
