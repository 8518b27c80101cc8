/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Puts N events into a service's outbox as its writer would, without
 * sending them, so fleet.sh can kill the sender in the middle of a large
 * send. The file is written without fsync (synchronous=OFF) to make the
 * many small transactions quick; the sender opens it as usual.
 *   fleetfill STATE HOST SERVICE N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "fleet/fleet_int.h"

int
main(int argc, char **argv)
{
    struct evc_db *db = NULL;
    struct evc_err err = {0};
    long n;
    int r = 1;

    if (argc != 5 || (n = strtol(argv[4], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: fleetfill STATE HOST SERVICE N\n");
        return 2;
    }
    if (evc_db_open(argv[1], NULL, &db, &err) != 0 ||
        evc_db_exec(db, "PRAGMA synchronous=OFF", &err) != 0 ||
        evc_fleet_outbox_schema(db, &err) != 0) {
        goto out;
    }
    for (long i = 0; i < n; i++) {
        struct item it;
        char uid[40];

        snprintf(uid, sizeof(uid), "fill-%ld", i);
        memset(&it, 0, sizeof(it));
        it.kind = ITEM_EVENT;
        it.host = argv[2];
        it.service = argv[3];
        it.version = "fill";
        it.at = evc_time_now();
        it.uid = uid;
        it.what = "renewed";
        it.subject = "fill";
        it.detail = "fill";
        if (evc_fleet_outbox_put(db, &it, &err) != 0) {
            goto out;
        }
    }
    r = 0;
out:
    if (r != 0) {
        fprintf(stderr, "fleetfill: %s\n", evc_err_message(&err));
    }
    evc_db_close(db);
    return r;
}
