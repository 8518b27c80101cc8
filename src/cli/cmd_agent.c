/* SPDX-License-Identifier: Apache-2.0 */
/* evercert agent, pending, approve and reject. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/sha.h>

#include "evercert/agent.h"
#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/config.h"
#include "evercert/state.h"
#include "base/text.h"
#include "x509/x509_int.h"
#include "cli.h"

/*
 * agent --once --format json: what the log says, as one document. Each
 * line that names its server ("server=NAME ...") goes under that server;
 * every configured server is listed, with no events if nothing happened.
 */
struct once_json {
    json_t *servers; /* name -> {"name", "events": []} */
    json_t *order;   /* the servers in the configuration's order */
    json_t *events;  /* lines of no server */
    int failed;
};

static const char *
prio_name(int prio)
{
    return prio <= LOG_ERR ? "error" : prio == LOG_WARNING ? "warning" : "info";
}

static json_t *
server_entry(struct once_json *j, const char *name)
{
    json_t *s = json_object_get(j->servers, name);

    if (s == NULL) {
        s = json_pack("{s:o, s:[]}", "name", evc_text_jstring(name), "events");
        if (s == NULL || json_object_set_new(j->servers, name, s) != 0 ||
            json_array_append(j->order, s) != 0) {
            j->failed = 1;
            return NULL;
        }
    }
    return s;
}

static void
on_line(void *arg, int prio, const char *line)
{
    struct once_json *j = arg;
    json_t *list = j->events, *s, *ev;
    const char *msg = line;
    char name[256];

    if (strncmp(line, "server=", 7) == 0) {
        size_t n = strcspn(line + 7, " ");

        if (n < sizeof(name)) {
            memcpy(name, line + 7, n);
            name[n] = '\0';
            msg = line[7 + n] == ' ' ? line + 8 + n : line + 7 + n;
            if ((s = server_entry(j, name)) != NULL) {
                list = json_object_get(s, "events");
            }
        }
    }
    ev = json_pack("{s:s, s:o}", "level", prio_name(prio), "message", evc_text_jstring(msg));
    if (ev == NULL || json_array_append_new(list, ev) != 0) {
        j->failed = 1;
    }
}

static int
print_once_json(struct once_json *j, const char *config_path, int status)
{
    struct evc_config *c = NULL;
    struct evc_err err = {0};
    json_t *root = NULL, *servers = json_array();
    int r = -1;

    /*
     * Every configured server, in order; then any the log named that is not
     * (none). A configuration that no longer loads is a failure, not a
     * document with its servers left out.
     */
    if (servers != NULL && evc_config_load(config_path, &c, &err) != 0) {
        evc_cli_error("agent", "%s", evc_err_message(&err));
        j->failed = 1;
    } else if (servers != NULL) {
        for (size_t i = 0; i < c->nservers; i++) {
            json_t *s = server_entry(j, c->servers[i].name);

            if (s == NULL || json_array_append(servers, s) != 0) {
                j->failed = 1;
            }
        }
    }
    evc_config_free(c);
    for (size_t i = 0; servers != NULL && i < json_array_size(j->order); i++) {
        json_t *s = json_array_get(j->order, i);
        size_t k;

        for (k = 0; k < json_array_size(servers) && json_array_get(servers, k) != s; k++) {
        }
        if (k == json_array_size(servers) && json_array_append(servers, s) != 0) {
            j->failed = 1;
        }
    }
    root = json_pack("{s:i, s:s, s:o, s:O}", "status", status, "status_text",
                     evc_cli_nagios_name(status), "servers", servers, "events", j->events);
    if (root != NULL && !j->failed && json_dumpf(root, stdout, JSON_INDENT(2)) == 0 &&
        fputc('\n', stdout) != EOF && fflush(stdout) == 0) {
        r = 0;
    }
    json_decref(root);
    return r;
}

int
evc_cmd_agent(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, 'o'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {"check-config", no_argument, NULL, 'C'},
        {"format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    struct evc_agent_opts o;
    struct evc_err err = {0};
    struct once_json j = {NULL, NULL, NULL, 0};
    int c, status = 0, check = 0, json = 0, ret;

    memset(&o, 0, sizeof(o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:oa:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'c':
            o.config_path = optarg;
            break;
        case 'o':
            o.once = 1;
            break;
        case 'a':
            if (evc_cli_at(optarg, &o.clock_offset) != 0) {
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'C':
            check = 1;
            break;
        case 'h':
            evc_cli_help("agent", 0);
            return 0;
        default:
            evc_cli_help("agent", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (o.config_path == NULL || optind != argc || (check && o.once) || (json && !o.once)) {
        evc_cli_error("agent", "usage: evercert agent --config FILE [--once [--format text|json] | "
                               "--check-config] [--at TIME]");
        return EVC_EXIT_FAILURE;
    }
    if (check) {
        return evc_cli_check_config(o.config_path, EVC_CONFIG_USE_AGENT);
    }
    evc_cli_fault_init();
    if (json) {
        j.servers = json_object();
        j.order = json_array();
        j.events = json_array();
        if (j.servers == NULL || j.order == NULL || j.events == NULL) {
            evc_cli_error("agent", "out of memory");
            ret = EVC_EXIT_FAILURE;
            goto out;
        }
        o.on_line = on_line;
        o.line_arg = &j;
    }
    if (evc_agent_run(&o, &status, &err) != 0) {
        evc_cli_error("agent", "%s", evc_err_message(&err));
        ret = EVC_EXIT_FAILURE;
        goto out;
    }
    ret = status;
    if (json && print_once_json(&j, o.config_path, status) != 0) {
        evc_cli_error("agent", "the JSON report could not be built whole");
        ret = EVC_EXIT_FAILURE;
    }
out:
    json_decref(j.servers);
    json_decref(j.order);
    json_decref(j.events);
    return ret;
}

struct pending {
    int json;
    json_t *list;
    size_t n;
    int failed;   /* a JSON value could not be built: the listing would not be whole */
    evc_time now; /* the clock, moved by --at */
};

/*
 * The server's own deadline (activateBy): the latest it switches, when it
 * waits for its clients to hold the successor.
 */
static void
activate_by_text(const struct evc_sa *sa, evc_time now, char *out, size_t len)
{
    char when[EVC_TIME_TEXT_MAX], left[32];

    if (sa->activate_by == 0) {
        snprintf(out, len, "not said");
        return;
    }
    evc_time_format(sa->activate_by, when);
    if (sa->activate_by >= now) {
        evc_span_format(sa->activate_by - now, left, sizeof(left));
        snprintf(out, len, "%s, in %s (the server switches by then at the latest)", when, left);
    } else {
        evc_span_format(now - sa->activate_by, left, sizeof(left));
        snprintf(out, len, "%s, passed %s ago (the server has switched)", when, left);
    }
}

/* The approval deadline of a pending SA: when the server switches, and how near that is. */
static void
deadline_text(const struct evc_sa *sa, evc_time now, char *out, size_t len)
{
    enum evc_agent_wait_level lv;
    char left[32], warn[EVC_TIME_TEXT_MAX];
    evc_time rise;

    lv = evc_agent_wait_level(sa->published_at, sa->activate_at, now, &rise);
    if (lv == EVC_WAIT_CRITICAL && sa->activate_by > now) {
        /* A server that waits for its clients waits for this one too, until activateBy. */
        evc_span_format(now - sa->activate_at, left, sizeof(left));
        evc_time_format(sa->activate_by, warn);
        snprintf(out, len,
                 "passed %s ago: the server waits for its clients until %s at the latest; "
                 "this one is not ready until it is approved (CRITICAL)",
                 left, warn);
        return;
    }
    if (lv == EVC_WAIT_CRITICAL) {
        evc_span_format(now - sa->activate_at, left, sizeof(left));
        snprintf(out, len,
                 "passed %s ago: the server has switched; connections fail until it is "
                 "approved (CRITICAL)",
                 left);
        return;
    }
    evc_span_format(sa->activate_at - now, left, sizeof(left));
    if (lv == EVC_WAIT_WARNING) {
        snprintf(out, len, "in %s, when the server switches (WARNING)", left);
        return;
    }
    evc_time_format(rise, warn);
    snprintf(out, len, "in %s, when the server switches; a warning from %s", left, warn);
}

static void
fp_hex(X509 *x, char out[65])
{
    uint8_t fp[32];

    out[0] = '\0';
    if (x != NULL && evc_x509_sha256(x, fp) == 0) {
        evc_text_hex(fp, 32, out);
    }
}

static int
on_pending(void *arg, const struct evc_agent_sa *s)
{
    struct pending *p = arg;
    struct evc_sa *sa = NULL;
    struct evc_err err = {0};
    char cur[65] = "", succ[65] = "", nb[EVC_TIME_TEXT_MAX] = "", na[EVC_TIME_TEXT_MAX] = "",
         act[EVC_TIME_TEXT_MAX] = "", seen[EVC_TIME_TEXT_MAX];
    char *subject = NULL;
    struct evc_buf shown;
    uint8_t fps[2][32];
    size_t nsig = 0;
    X509 *leaf;
    BIO *bio = BIO_new(BIO_s_mem());
    static const char *const names[] = {"early", "warning", "critical"};
    enum evc_agent_wait_level lv;
    char deadline[300] = "", by[200] = "", bytime[EVC_TIME_TEXT_MAX] = "";
    evc_time t, rise;
    int waiting;
    json_t *row;

    if (evc_sa_decode(s->der.data, s->der.len, &sa, &err) != 0) {
        return 0; /* stored only after it parsed: cannot happen short of a damaged database */
    }
    leaf = sk_X509_value(sa->successor, 0);
    fp_hex(leaf, succ);
    /* The subject is the SA maker's text: valid UTF-8 in JSON, escaped on a terminal. */
    if (bio == NULL || evc_x509_name_text(bio, X509_get_subject_name(leaf), &subject, NULL) != 0) {
        subject = NULL;
    }
    evc_buf_init(&shown, EVC_TEXT_SHOW_MAX + 1);
    if (evc_asn1_time(X509_get0_notBefore(leaf), &t) == 0) {
        evc_time_format(t, nb);
    }
    if (evc_asn1_time(X509_get0_notAfter(leaf), &t) == 0) {
        evc_time_format(t, na);
    }
    evc_time_format(sa->activate_at, act);
    evc_time_format(s->first_seen, seen);
    /* Of the two signers (a SET: in no set order), the one that is not the successor. */
    if (evc_sa_signers(s->der.data, s->der.len, fps, 2, &nsig, &err) == 0) {
        for (size_t k = 0; k < nsig && k < 2; k++) {
            char hex[65];

            evc_text_hex(fps[k], 32, hex);
            if (strcmp(hex, succ) != 0) {
                memcpy(cur, hex, sizeof(hex));
            }
        }
    }
    /* Only a person's approval has a deadline; a hold ends by itself. */
    waiting = s->status == EVC_SA_STATUS_PENDING;
    lv = evc_agent_wait_level(sa->published_at, sa->activate_at, p->now, &rise);
    if (waiting) {
        deadline_text(sa, p->now, deadline, sizeof(deadline));
        activate_by_text(sa, p->now, by, sizeof(by));
    }
    if (sa->activate_by != 0) {
        evc_time_format(sa->activate_by, bytime);
    }
    if (p->json) {
        int said = waiting && sa->activate_by != 0;

        row = json_pack(
            "{s:I, s:s, s:s, s:I, s:s, s:s, s:o*, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:o*, "
            "s:o*, s:o*}",
            "id", (json_int_t)s->id, "server", s->server, "service", sa->service, "generation",
            (json_int_t)sa->generation, "current_sha256", cur, "successor_sha256", succ, "subject",
            evc_text_jstring(subject != NULL ? subject : ""), "not_before", nb, "not_after", na,
            "activate_at", act, "source", s->source, "arrived_at", seen, "status",
            evc_sa_status_name(s->status), "deadline", waiting ? json_string(act) : json_null(),
            "seconds_left",
            waiting ? json_integer((json_int_t)(sa->activate_at - p->now)) : json_null(), "urgency",
            waiting ? json_string(names[lv]) : json_null(), "activate_by",
            said ? json_string(bytime) : json_null(), "activate_by_seconds_left",
            said ? json_integer((json_int_t)(sa->activate_by - p->now)) : json_null());
        if (row == NULL || json_array_append_new(p->list, row) != 0) {
            p->failed = 1;
        }
    } else {
        if (evc_text_nvis(&shown, subject != NULL ? subject : "", EVC_TEXT_SHOW_MAX) != 0 ||
            evc_buf_put(&shown, "", 1) != 0) {
            p->failed = 1;
        }
        printf("%lld  %s  %s  generation %llu  %s\n"
               "    current   %s\n    successor %s\n    subject   %s\n"
               "    valid     %s .. %s\n    activates %s\n    arrived   %s by %s\n",
               (long long)s->id, s->server, sa->service, (unsigned long long)sa->generation,
               evc_sa_status_name(s->status), cur, succ, p->failed ? "?" : (const char *)shown.data,
               nb, na, act, seen, s->source);
        if (waiting) {
            printf("    deadline  %s\n    latest    %s\n", deadline, by);
        }
    }
    p->n++;
    evc_buf_free(&shown);
    free(subject);
    BIO_free(bio);
    evc_sa_free(sa);
    return 0;
}

static int
open_state(const char *config, struct evc_state **st)
{
    struct evc_config *conf = NULL;
    struct evc_err err = {0};
    char path[4096];

    if (evc_config_load(config, &conf, &err) != 0) {
        evc_cli_error("pending", "%s", evc_err_message(&err));
        return -1;
    }
    evc_agent_state_path(config, conf->agent.state, path, sizeof(path));
    evc_config_free(conf);
    if (evc_state_open(path, 0, st, &err) != 0) {
        evc_cli_error("pending", "%s", evc_err_message(&err));
        return -1;
    }
    return 0;
}

int
evc_cmd_pending(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    struct pending p = {0, NULL, 0, 0, 0};
    struct evc_state *st = NULL;
    struct evc_err err = {0};
    int64_t offset = 0;
    int c, ret = EVC_EXIT_FAILURE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:a:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            if (evc_cli_at(optarg, &offset) != 0) {
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                p.json = 1;
            } else if (strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'h':
            evc_cli_help("pending", 0);
            return 0;
        default:
            evc_cli_help("pending", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (config == NULL || optind != argc) {
        evc_cli_error("pending",
                      "usage: evercert pending --config FILE [--format text|json] [--at TIME]");
        return EVC_EXIT_FAILURE;
    }
    p.now = evc_time_now() + offset;
    if (open_state(config, &st) != 0) {
        return EVC_EXIT_FAILURE;
    }
    if ((p.list = json_array()) == NULL) {
        evc_cli_error("pending", "out of memory");
        goto out;
    }
    if (evc_state_agent_sa_each(st, NULL, EVC_SA_STATUS_PENDING, on_pending, &p, &err) != 0 ||
        evc_state_agent_sa_each(st, NULL, EVC_SA_STATUS_HOLDING, on_pending, &p, &err) != 0) {
        evc_cli_error("pending", "%s", evc_err_message(&err));
        goto out;
    }
    if (p.failed) {
        evc_cli_error("pending", "out of memory: the listing would not be whole");
        goto out;
    }
    if (p.json) {
        if (json_dumpf(p.list, stdout, JSON_INDENT(2)) != 0) {
            evc_cli_error("pending", "cannot write the listing");
            goto out;
        }
        putchar('\n');
    } else if (p.n == 0) {
        printf("nothing waits\n");
    }
    ret = 0;
out:
    json_decref(p.list);
    evc_state_close(st);
    return ret;
}

static int
decide(int argc, char **argv, int approve)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = approve ? "approve" : "reject", *config = NULL;
    struct evc_err err = {0};
    int64_t offset = 0;
    long long id;
    char msg[600], *end;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:a:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            if (evc_cli_at(optarg, &offset) != 0) {
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'h':
            evc_cli_help(cmd, 0);
            return 0;
        default:
            evc_cli_help(cmd, 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (config == NULL || optind != argc - 1) {
        evc_cli_error(cmd, "usage: evercert %s --config FILE [--at TIME] ID", cmd);
        return EVC_EXIT_FAILURE;
    }
    errno = 0;
    id = strtoll(argv[optind], &end, 10);
    if (*argv[optind] == '\0' || *end != '\0' || id <= 0 || errno == ERANGE) {
        evc_cli_error(cmd, "'%s': expected the id `evercert pending` shows", argv[optind]);
        return EVC_EXIT_FAILURE;
    }
    evc_cli_fault_init();
    if (evc_agent_decide(config, id, approve, offset, msg, sizeof(msg), &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        return err.code == EVC_ERR_POLICY ? 2 : EVC_EXIT_FAILURE;
    }
    printf("%s\n", msg);
    return 0;
}

int
evc_cmd_approve(int argc, char **argv)
{
    return decide(argc, argv, 1);
}

int
evc_cmd_reject(int argc, char **argv)
{
    return decide(argc, argv, 0);
}
