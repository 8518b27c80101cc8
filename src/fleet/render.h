/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The answer of `evercert fleet` in three formats, rendered row by row as
 * the database returns them (the caller collects the output, so a failed
 * query prints nothing; the text table holds its rows until printed).
 */
#ifndef EVC_FLEET_RENDER_H
#define EVC_FLEET_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include "evercert/fleet.h"
#include "evercert/time.h"

struct fleet_host_row {
    const char *host, *service, *version, *last_error;
    evc_time first_seen, last_seen;
    int silent, incomplete;
    int64_t lost;
};
struct fleet_cert_row {
    const char *sha256, *subject, *issuer, *kind;
    const char *status; /* at the query's now: expired, not_yet_valid, expiring, ok */
    evc_time not_before, not_after;
    int64_t hosts, locations;
};
struct fleet_gen_row {
    const char *server;
    uint64_t generation;
    int64_t hosts;
    int newest;
};
struct fleet_behind_row {
    const char *server, *host;
    uint64_t generation;
};
struct fleet_error_row {
    const char *host, *location, *detail;
};
struct fleet_summary {
    int64_t hosts, silent, incomplete;
    int64_t certs, expired, not_yet_valid, expiring, ok, errors;
};

struct fleet_out;

int evc_fleet_out_new(enum evc_fleet_format format, FILE *f, evc_time now, int verbose,
                      struct fleet_out **out);
void evc_fleet_out_free(struct fleet_out *o);
/* Sections in order: hosts, certificates (with locations under -v), generations, behind, errors. */
int evc_fleet_out_section(struct fleet_out *o, const char *name);
int evc_fleet_out_host(struct fleet_out *o, const struct fleet_host_row *h);
int evc_fleet_out_cert(struct fleet_out *o, const struct fleet_cert_row *c);
int evc_fleet_out_location(struct fleet_out *o, const char *host, const char *location);
int evc_fleet_out_gen(struct fleet_out *o, const struct fleet_gen_row *g);
int evc_fleet_out_behind(struct fleet_out *o, const struct fleet_behind_row *b);
int evc_fleet_out_error(struct fleet_out *o, const struct fleet_error_row *e);
/* The end, with the counts; 0 or EVC_ERR_IO. */
int evc_fleet_out_finish(struct fleet_out *o, const struct fleet_summary *s);

#endif
