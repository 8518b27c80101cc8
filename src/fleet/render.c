/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing the fleet's answer: a text table per section for people, one
 * JSON object whose keys and order never change for programs, and the
 * Prometheus text format. Every string from the database came from some
 * host, so it is escaped for where it goes (evc_text_nvis, evc_text_json,
 * evc_text_prom). Prometheus series are per certificate (sha256) and per
 * server generation, never per host, so a fleet of ten thousand hosts is
 * not ten thousand series.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/table.h"
#include "base/text.h"
#include "fleet/render.h"

struct fleet_out {
    enum evc_fleet_format format;
    FILE *f;
    evc_time now;
    int verbose;
    const char *section;
    int first;      /* no element written in the current JSON list */
    int cert_open;  /* a JSON certificate object waits for its locations and '}' */
    int locs_first; /* its locations list is still empty */
    struct evc_table t;
    int table_open;
    /* Prometheus: the second family of a section, written after the first. */
    char *second;
    size_t second_len;
    FILE *sf;
    struct evc_buf b;
    int err;
};

static void
put(struct fleet_out *o, const char *s)
{
    if (fputs(s, o->f) == EOF) {
        o->err = 1;
    }
}

/* s escaped for the format into o->b (reset first), returned as a string. */
static const char *
esc(struct fleet_out *o, const char *s, int how)
{
    evc_buf_reset(&o->b);
    if ((how == 'j'   ? evc_text_json(&o->b, s != NULL ? s : "")
         : how == 'p' ? evc_text_prom(&o->b, s != NULL ? s : "")
                      : evc_text_nvis(&o->b, s != NULL ? s : "", 200)) != 0) {
        o->err = 1;
        return how == 'j' ? "\"\"" : "";
    }
    return evc_buf_str(&o->b);
}

static void
tm(evc_time t, char out[EVC_TIME_TEXT_MAX])
{
    if (t == 0) {
        snprintf(out, EVC_TIME_TEXT_MAX, "-");
    } else {
        evc_time_format(t, out);
    }
}

int
evc_fleet_out_new(enum evc_fleet_format format, FILE *f, evc_time now, int verbose,
                  struct fleet_out **out)
{
    struct fleet_out *o = calloc(1, sizeof(*o));
    char at[EVC_TIME_TEXT_MAX];

    *out = NULL;
    if (o == NULL) {
        return EVC_ERR_NOMEM;
    }
    o->format = format;
    o->f = f;
    o->now = now;
    o->verbose = verbose;
    evc_buf_init(&o->b, 64 * 1024);
    if (format == EVC_FLEET_JSON) {
        evc_time_format(now, at);
        fprintf(f, "{\"at\":\"%s\"", at);
    }
    *out = o;
    return 0;
}

void
evc_fleet_out_free(struct fleet_out *o)
{
    if (o == NULL) {
        return;
    }
    if (o->table_open) {
        evc_table_free(&o->t);
    }
    if (o->sf != NULL) {
        fclose(o->sf);
    }
    free(o->second);
    evc_buf_free(&o->b);
    free(o);
}

static void
end_section(struct fleet_out *o)
{
    if (o->section == NULL) {
        return;
    }
    if (o->format == EVC_FLEET_TEXT && o->table_open) {
        if (o->t.nrows > 1 && evc_table_print(&o->t, o->f, "", 2) != 0) {
            o->err = 1;
        } else if (o->t.nrows <= 1) {
            put(o, "(none)\n");
        }
        evc_table_free(&o->t);
        o->table_open = 0;
    } else if (o->format == EVC_FLEET_JSON) {
        if (o->cert_open) {
            put(o, o->locs_first ? "}" : "]}");
            o->cert_open = 0;
        }
        put(o, "]");
    } else if (o->format == EVC_FLEET_PROMETHEUS && o->sf != NULL) {
        if (fclose(o->sf) != 0) {
            o->err = 1;
        }
        o->sf = NULL;
        if (o->second_len > 0 && fwrite(o->second, 1, o->second_len, o->f) != o->second_len) {
            o->err = 1;
        }
        free(o->second);
        o->second = NULL;
        o->second_len = 0;
    }
    o->section = NULL;
}

static void
header(struct fleet_out *o, size_t n, const char *const *cols)
{
    evc_table_init(&o->t, n);
    o->table_open = 1;
    if (evc_table_add(&o->t, cols) != 0) {
        o->err = 1;
    }
}

int
evc_fleet_out_section(struct fleet_out *o, const char *name)
{
    static const char *const hosts[] = {"HOST", "SERVICE", "VERSION", "LAST SEEN", "STATE", "NOTE"};
    static const char *const certs[] = {"NOT AFTER", "STATUS", "HOSTS",
                                        "KIND",      "SHA256", "SUBJECT"};
    static const char *const gens[] = {"SERVER", "GENERATION", "HOSTS"};
    static const char *const behind[] = {"SERVER", "HOST", "GENERATION"};
    static const char *const errs[] = {"HOST", "LOCATION", "ERROR"};

    end_section(o);
    o->section = name;
    o->first = 1;
    switch (o->format) {
    case EVC_FLEET_TEXT:
        fprintf(o->f, "%s%s\n", strcmp(name, "hosts") == 0 ? "" : "\n",
                strcmp(name, "hosts") == 0          ? "HOSTS"
                : strcmp(name, "certificates") == 0 ? "CERTIFICATES"
                : strcmp(name, "generations") == 0  ? "GENERATIONS HELD"
                : strcmp(name, "behind") == 0       ? "HOSTS BEHIND THE NEWEST GENERATION"
                                                    : "ERRORS");
        if (strcmp(name, "hosts") == 0) {
            header(o, 6, hosts);
        } else if (strcmp(name, "certificates") == 0) {
            header(o, 6, certs);
        } else if (strcmp(name, "generations") == 0) {
            header(o, 3, gens);
        } else if (strcmp(name, "behind") == 0) {
            header(o, 3, behind);
        } else {
            header(o, 3, errs);
        }
        break;
    case EVC_FLEET_JSON:
        fprintf(o->f, ",\"%s\":[", name);
        break;
    case EVC_FLEET_PROMETHEUS:
        if (strcmp(name, "certificates") == 0) {
            put(o, "# HELP evercert_fleet_certificate_not_after_seconds When each certificate "
                   "in the fleet expires.\n"
                   "# TYPE evercert_fleet_certificate_not_after_seconds gauge\n");
            if ((o->sf = open_memstream(&o->second, &o->second_len)) == NULL) {
                o->err = 1;
            } else {
                fputs("# HELP evercert_fleet_certificate_hosts How many hosts hold each "
                      "certificate.\n# TYPE evercert_fleet_certificate_hosts gauge\n",
                      o->sf);
            }
        } else if (strcmp(name, "generations") == 0) {
            put(o, "# HELP evercert_fleet_generation_hosts Agent hosts holding each "
                   "generation of a server.\n# TYPE evercert_fleet_generation_hosts gauge\n");
        }
        break;
    default:
        return EVC_ERR_INTERNAL;
    }
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_host(struct fleet_out *o, const struct fleet_host_row *h)
{
    char seen[EVC_TIME_TEXT_MAX], first[EVC_TIME_TEXT_MAX];
    const char *state = h->silent ? "silent" : h->incomplete ? "incomplete" : "ok";

    tm(h->last_seen, seen);
    tm(h->first_seen, first);
    if (o->format == EVC_FLEET_TEXT) {
        /* Every column from the database came from a host: each escaped. */
        char *host = strdup(esc(o, h->host, 'v'));
        char *service = strdup(esc(o, h->service, 'v'));
        char *ver = strdup(esc(o, h->version, 'v'));
        const char *cells[6];

        cells[0] = host;
        cells[1] = service;
        cells[2] = ver;
        cells[3] = seen;
        cells[4] = state;
        cells[5] = esc(o, h->last_error, 'v');
        if (host == NULL || service == NULL || ver == NULL || evc_table_add(&o->t, cells) != 0) {
            o->err = 1;
        }
        free(host);
        free(service);
        free(ver);
    } else if (o->format == EVC_FLEET_JSON) {
        fprintf(o->f, "%s{\"host\":%s", o->first ? "" : ",", esc(o, h->host, 'j'));
        fprintf(o->f, ",\"service\":%s", esc(o, h->service, 'j'));
        fprintf(o->f, ",\"version\":%s", esc(o, h->version, 'j'));
        fprintf(o->f,
                ",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"state\":\"%s\",\"silent\":%s,"
                "\"incomplete\":%s,\"events_lost\":%" PRId64,
                first, seen, state, h->silent ? "true" : "false", h->incomplete ? "true" : "false",
                h->lost);
        fprintf(o->f, ",\"note\":%s}", esc(o, h->last_error, 'j'));
    }
    o->first = 0;
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_cert(struct fleet_out *o, const struct fleet_cert_row *c)
{
    char na[EVC_TIME_TEXT_MAX], nb[EVC_TIME_TEXT_MAX], hosts[32];

    tm(c->not_after, na);
    tm(c->not_before, nb);
    snprintf(hosts, sizeof(hosts), "%" PRId64, c->hosts);
    if (o->format == EVC_FLEET_TEXT) {
        char sha[17];
        char *kind = strdup(esc(o, c->kind, 'v'));
        const char *cells[6];

        snprintf(sha, sizeof(sha), "%s", esc(o, c->sha256, 'v'));
        cells[0] = na;
        cells[1] = c->status; /* the query's classification, not a host's text */
        cells[2] = hosts;
        cells[3] = kind;
        cells[4] = sha;
        cells[5] = esc(o, c->subject, 'v');
        if (kind == NULL || evc_table_add(&o->t, cells) != 0) {
            o->err = 1;
        }
        free(kind);
    } else if (o->format == EVC_FLEET_JSON) {
        if (o->cert_open) {
            put(o, o->locs_first ? "}" : "]}");
        }
        fprintf(o->f, "%s{\"sha256\":%s", o->first ? "" : ",", esc(o, c->sha256, 'j'));
        fprintf(o->f, ",\"subject\":%s", esc(o, c->subject, 'j'));
        fprintf(o->f, ",\"issuer\":%s", esc(o, c->issuer, 'j'));
        fprintf(o->f, ",\"kind\":%s", esc(o, c->kind, 'j'));
        /* A time the reporter did not know is null, not a date. */
        fprintf(o->f, ",\"not_before\":%s%s%s", c->not_before != 0 ? "\"" : "",
                c->not_before != 0 ? nb : "null", c->not_before != 0 ? "\"" : "");
        fprintf(o->f,
                ",\"not_after\":\"%s\",\"status\":\"%s\",\"hosts\":%" PRId64
                ",\"locations\":%" PRId64,
                na, c->status, c->hosts, c->locations);
        o->cert_open = 1;
        o->locs_first = 1;
    } else if (o->format == EVC_FLEET_PROMETHEUS) {
        char *sha = strdup(esc(o, c->sha256, 'p'));

        if (sha == NULL) {
            o->err = 1;
        } else {
            fprintf(o->f,
                    "evercert_fleet_certificate_not_after_seconds{sha256=\"%s\",subject=\"%s\"}"
                    " %" PRId64 "\n",
                    sha, esc(o, c->subject, 'p'), (int64_t)c->not_after);
            if (o->sf != NULL) {
                fprintf(o->sf, "evercert_fleet_certificate_hosts{sha256=\"%s\"} %" PRId64 "\n", sha,
                        c->hosts);
            }
            free(sha);
        }
    }
    o->first = 0;
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_location(struct fleet_out *o, const char *host, const char *location)
{
    if (o->format == EVC_FLEET_TEXT) {
        char *h = strdup(esc(o, host, 'v'));
        const char *cells[6] = {"", "", "", "", "", NULL};
        char line[600];

        if (h == NULL) {
            o->err = 1;
            return EVC_ERR_NOMEM;
        }
        snprintf(line, sizeof(line), "  %s %s", h, esc(o, location, 'v'));
        cells[5] = line;
        if (evc_table_add(&o->t, cells) != 0) {
            o->err = 1;
        }
        free(h);
    } else if (o->format == EVC_FLEET_JSON && o->cert_open) {
        fprintf(o->f, "%s{\"host\":%s", o->locs_first ? ",\"where\":[" : ",", esc(o, host, 'j'));
        fprintf(o->f, ",\"location\":%s}", esc(o, location, 'j'));
        o->locs_first = 0;
    }
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_gen(struct fleet_out *o, const struct fleet_gen_row *g)
{
    char gen[32], hosts[32];

    snprintf(gen, sizeof(gen), "%" PRIu64 "%s", g->generation, g->newest ? " (newest)" : "");
    snprintf(hosts, sizeof(hosts), "%" PRId64, g->hosts);
    if (o->format == EVC_FLEET_TEXT) {
        const char *cells[3] = {esc(o, g->server, 'v'), gen, hosts};

        if (evc_table_add(&o->t, cells) != 0) {
            o->err = 1;
        }
    } else if (o->format == EVC_FLEET_JSON) {
        fprintf(o->f, "%s{\"server\":%s", o->first ? "" : ",", esc(o, g->server, 'j'));
        fprintf(o->f, ",\"generation\":%" PRIu64 ",\"hosts\":%" PRId64 ",\"newest\":%s}",
                g->generation, g->hosts, g->newest ? "true" : "false");
    } else if (o->format == EVC_FLEET_PROMETHEUS) {
        fprintf(o->f,
                "evercert_fleet_generation_hosts{server=\"%s\",generation=\"%" PRIu64 "\"} %" PRId64
                "\n",
                esc(o, g->server, 'p'), g->generation, g->hosts);
    }
    o->first = 0;
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_behind(struct fleet_out *o, const struct fleet_behind_row *b)
{
    char gen[32];

    snprintf(gen, sizeof(gen), "%" PRIu64, b->generation);
    if (o->format == EVC_FLEET_TEXT) {
        char *server = strdup(esc(o, b->server, 'v'));
        const char *cells[3] = {server, esc(o, b->host, 'v'), gen};

        if (server == NULL || evc_table_add(&o->t, cells) != 0) {
            o->err = 1;
        }
        free(server);
    } else if (o->format == EVC_FLEET_JSON) {
        fprintf(o->f, "%s{\"server\":%s", o->first ? "" : ",", esc(o, b->server, 'j'));
        fprintf(o->f, ",\"host\":%s,\"generation\":%" PRIu64 "}", esc(o, b->host, 'j'),
                b->generation);
    }
    o->first = 0;
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_error(struct fleet_out *o, const struct fleet_error_row *e)
{
    if (o->format == EVC_FLEET_TEXT) {
        char *host = strdup(esc(o, e->host, 'v'));
        char *loc = strdup(esc(o, e->location, 'v'));
        const char *cells[3] = {host, loc, esc(o, e->detail, 'v')};

        if (host == NULL || loc == NULL || evc_table_add(&o->t, cells) != 0) {
            o->err = 1;
        }
        free(host);
        free(loc);
    } else if (o->format == EVC_FLEET_JSON) {
        fprintf(o->f, "%s{\"host\":%s", o->first ? "" : ",", esc(o, e->host, 'j'));
        fprintf(o->f, ",\"location\":%s", esc(o, e->location, 'j'));
        fprintf(o->f, ",\"error\":%s}", esc(o, e->detail, 'j'));
    }
    o->first = 0;
    return o->err ? EVC_ERR_IO : 0;
}

int
evc_fleet_out_finish(struct fleet_out *o, const struct fleet_summary *s)
{
    end_section(o);
    switch (o->format) {
    case EVC_FLEET_TEXT:
        fprintf(o->f,
                "\n%" PRId64 " hosts (%" PRId64 " silent, %" PRId64 " incomplete), %" PRId64
                " certificates: %" PRId64 " expired, %" PRId64 " not yet valid, %" PRId64
                " expiring, %" PRId64 " ok; %" PRId64 " errors\n",
                s->hosts, s->silent, s->incomplete, s->certs, s->expired, s->not_yet_valid,
                s->expiring, s->ok, s->errors);
        break;
    case EVC_FLEET_JSON:
        fprintf(o->f,
                ",\"summary\":{\"hosts\":%" PRId64 ",\"silent\":%" PRId64 ",\"incomplete\":%" PRId64
                ",\"certificates\":%" PRId64 ",\"expired\":%" PRId64 ",\"not_yet_valid\":%" PRId64
                ",\"expiring\":%" PRId64 ",\"ok\":%" PRId64 ",\"errors\":%" PRId64 "}}\n",
                s->hosts, s->silent, s->incomplete, s->certs, s->expired, s->not_yet_valid,
                s->expiring, s->ok, s->errors);
        break;
    case EVC_FLEET_PROMETHEUS:
        fprintf(o->f,
                "# HELP evercert_fleet_hosts Hosts in the inventory by state.\n"
                "# TYPE evercert_fleet_hosts gauge\n"
                "evercert_fleet_hosts{state=\"reporting\"} %" PRId64 "\n"
                "evercert_fleet_hosts{state=\"silent\"} %" PRId64 "\n"
                "evercert_fleet_hosts{state=\"incomplete\"} %" PRId64 "\n"
                "# HELP evercert_fleet_certificates Certificates in the fleet by status.\n"
                "# TYPE evercert_fleet_certificates gauge\n"
                "evercert_fleet_certificates{status=\"expired\"} %" PRId64 "\n"
                "evercert_fleet_certificates{status=\"not_yet_valid\"} %" PRId64 "\n"
                "evercert_fleet_certificates{status=\"expiring\"} %" PRId64 "\n"
                "evercert_fleet_certificates{status=\"ok\"} %" PRId64 "\n"
                "# HELP evercert_fleet_errors Error rows the hosts reported.\n"
                "# TYPE evercert_fleet_errors gauge\n"
                "evercert_fleet_errors %" PRId64 "\n",
                s->hosts - s->silent, s->silent, s->incomplete, s->expired, s->not_yet_valid,
                s->expiring, s->ok, s->errors);
        break;
    default:
        return EVC_ERR_INTERNAL;
    }
    if (fflush(o->f) != 0 || ferror(o->f)) {
        o->err = 1;
    }
    return o->err ? EVC_ERR_IO : 0;
}
