/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the demo leaves for a person: the raw records (CSV), the charts
 * (a gnuplot script, drawn to PNG when gnuplot is installed), the table
 * and its JSON twin.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/atomic.h"
#include "base/spawn.h"
#include "demo/demo.h"

static const char *const step_names[DEMO_STEPS] = {
    "TCP connected", "ClientHello sent", "ServerHello read", "Certificate checked",
    "alert",         "Finished",         "response read",
};

/* Write a file whole, atomically, from a memory stream's text. */
static int
write_text(const char *dir, const char *name, char *text, size_t len, struct evc_err *err)
{
    char path[4300];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return evc_atomic_write(path, text, len, 0644, err);
}

static int
write_csv(const struct demo_run *run, const char *dir, struct evc_err *err)
{
    char name[64], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int r;

    if (f == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    fprintf(f, "client,kind,t,ok,alert,leaf,sa_bytes");
    for (int st = 0; st < DEMO_STEPS; st++) {
        fprintf(f, ",ms_%d", st);
    }
    fputc('\n', f);
    for (size_t i = 0; i < run->log.n; i++) {
        const struct demo_session *s = &run->log.s[i];

        fprintf(f, "%d,%s,%.3f,%d,%d,%016llx,%u", s->client,
                s->kind == DEMO_NEW            ? "new"
                : s->kind == DEMO_OPEN_REQUEST ? "open-request"
                                               : "open-connect",
                s->t, s->ok, s->alert, (unsigned long long)s->leaf, s->sa_bytes);
        for (int st = 0; st < DEMO_STEPS; st++) {
            fprintf(f, ",%.3f", s->step_ms[st]);
        }
        fputc('\n', f);
    }
    fclose(f);
    snprintf(name, sizeof(name), "sessions-%s.csv", run->name);
    r = write_text(dir, name, text, len, err);
    free(text);
    return r;
}

int
demo_write_data(const struct demo_result *res, const char *dir, struct evc_err *err)
{
    char *text = NULL, *json;
    size_t len = 0;
    FILE *f;
    int r;

    for (int i = 0; i < res->nruns; i++) {
        if ((r = write_csv(&res->runs[i], dir, err)) != 0) {
            return r;
        }
    }
    /* Median step times: one row per step, ok and failed for each run; "?" where none. */
    if ((f = open_memstream(&text, &len)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    fprintf(f, "# step");
    for (int i = 0; i < res->nruns; i++) {
        fprintf(f, " %s_ok %s_failed", res->runs[i].name, res->runs[i].name);
    }
    fprintf(f, " (median ms from the TCP connect)\n");
    for (int st = 0; st < DEMO_STEPS; st++) {
        fprintf(f, "\"%s\"", step_names[st]);
        for (int i = 0; i < res->nruns; i++) {
            double ok = res->runs[i].fig.step_ok[st], bad = res->runs[i].fig.step_failed[st];

            if (ok >= 0) {
                fprintf(f, " %.3f", ok);
            } else {
                fprintf(f, " ?");
            }
            if (bad >= 0) {
                fprintf(f, " %.3f", bad);
            } else {
                fprintf(f, " ?");
            }
        }
        fputc('\n', f);
    }
    fclose(f);
    r = write_text(dir, "steps.dat", text, len, err);
    free(text);
    if (r != 0) {
        return r;
    }
    if ((json = demo_json(res)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    r = write_text(dir, "result.json", json, strlen(json), err);
    free(json);
    return r;
}

static void
timeline_panel(FILE *f, const struct demo_run *run, const char *title)
{
    fprintf(f, "unset arrow\n");
    for (int k = 0; k < run->fig.nswaps; k++) {
        fprintf(f, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lc rgb '#555555'\n",
                run->fig.swaps[k], run->fig.swaps[k]);
    }
    fprintf(f, "set title \"%s\"\n", title);
    fprintf(f,
            "plot 'sessions-%s.csv' skip 1 using ($4==1 ? $3 : 1/0):1 with points pt 7 ps 0.35 "
            "lc rgb '#2a9d2a' title 'session succeeded', \\\n"
            "     '' skip 1 using ($4==0 ? $3 : 1/0):1 with points pt 7 ps 0.6 lc rgb "
            "'#d62728' title 'failed'\n",
            run->name);
}

/* Is there an executable name on PATH? */
static int
in_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], full[4400];

    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");

        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(full, sizeof(full), "%s/%s", dir, name);
            if (access(full, X_OK) == 0) {
                return 1;
            }
        }
        path += n + (path[n] == ':');
    }
    return 0;
}

int
demo_draw_charts(const struct demo_result *res, const char *dir, int *drawn, char *why,
                 size_t whylen, struct evc_err *err)
{
    const struct demo_settings *s = res->runs[0].set;
    char title[256], *text = NULL, cmd[4400];
    size_t len = 0;
    struct evc_spawn_result sr;
    FILE *f = open_memstream(&text, &len);
    int r;

    *drawn = 0;
    if (f == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    fprintf(f,
            "# evercert demo charts: gnuplot demo.gp (in this directory)\n"
            "set terminal pngcairo size 1200,800 font ',10'\n"
            "set datafile separator ','\n"
            "set output 'timeline.png'\n"
            "set multiplot layout %d,1 title \"Each client's sessions over time (dashed: "
            "the server presents a new certificate)\"\n"
            "set xlabel 'seconds'\nset ylabel 'client'\nset key outside right\n"
            "set xrange [0:%.0f]\nset yrange [-1:%d]\n",
            res->nruns, ceil(res->duration), s->clients + s->open_sessions);
    snprintf(title, sizeof(title),
             "existing: replaced at expiry, trust stores fixed by hand %d s later", s->manual_fix);
    timeline_panel(f, &res->runs[0], title);
    snprintf(title, sizeof(title),
             "evercert: renewed at half its life, announced in the handshake, swapped%s",
             res->nruns > 2 ? " at activate_at" : "");
    timeline_panel(f, &res->runs[1], title);
    if (res->nruns > 2) {
        snprintf(title, sizeof(title),
                 "evercert-ready: the same, swapped once every client holds the successor");
        timeline_panel(f, &res->runs[2], title);
    }
    fprintf(f,
            "unset multiplot\nunset arrow\n"
            "set output 'handshake.png'\n"
            "set datafile separator whitespace\nset datafile missing '?'\n"
            "set style data histograms\nset style histogram clustered gap 1\n"
            "set style fill solid 0.8 border -1\nset xtics rotate by -20\n"
            "set xrange [*:*]\nset yrange [0:*]\nset xlabel ''\n"
            "set ylabel 'ms from the TCP connect (median)'\n"
            "set multiplot layout 1,%d title 'Handshake steps as the clients timed them'\n",
            res->nruns);
    for (int i = 0; i < res->nruns; i++) {
        fprintf(f,
                "set title '%s'\n"
                "plot 'steps.dat' using %d:xtic(1) title 'succeeded' lc rgb '#2a9d2a', '' using %d "
                "title 'failed' lc rgb '#d62728'\n",
                res->runs[i].name, 2 + 2 * i, 3 + 2 * i);
    }
    fprintf(f, "unset multiplot\n");
    fclose(f);
    r = write_text(dir, "demo.gp", text, len, err);
    free(text);
    if (r != 0) {
        return r;
    }
    if (!in_path("gnuplot")) {
        snprintf(why, whylen, "gnuplot is not installed; %s/demo.gp draws them", dir);
        return 0;
    }
    /* gnuplot reads its data relative to the directory it runs in. */
    snprintf(cmd, sizeof(cmd), "cd \"$EVC_DEMO_DIR\" && gnuplot demo.gp");
    {
        char env_dir[4400];
        char *env[] = {env_dir, NULL};

        snprintf(env_dir, sizeof(env_dir), "EVC_DEMO_DIR=%s", dir);
        if ((r = evc_spawn_run(cmd, 1, 60, env, &sr, err)) != 0) {
            return r;
        }
    }
    if (sr.status != 0) {
        return evc_err_set(err, EVC_ERR_IO, "gnuplot %s/demo.gp failed (status %d): %.300s", dir,
                           sr.status, sr.output);
    }
    *drawn = 1;
    return 0;
}

/*
 * Every JSON value is checked: put and push take over v (NULL when it could
 * not be made) and mark *bad on any failure, so a document is whole or none.
 */
static void
put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (o == NULL || v == NULL || json_object_set_new(o, key, v) != 0) {
        if (o == NULL) {
            json_decref(v);
        }
        *bad = 1;
    }
}

static void
push(json_t *a, json_t *v, int *bad)
{
    if (a == NULL || v == NULL || json_array_append_new(a, v) != 0) {
        if (a == NULL) {
            json_decref(v);
        }
        *bad = 1;
    }
}

static json_t *
whole(json_t *o, int bad)
{
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The capture's summary of one run, as JSON. */
static json_t *
wire_json(const struct demo_wire *w)
{
    json_t *o = json_object(), *alerts = json_object();
    char buf[32];
    int bad = 0;

    for (int i = 0; i < DEMO_ALERTS; i++) {
        if (w->alerts[i] > 0) {
            put(alerts, demo_alert_name(i, buf, sizeof(buf)), json_integer(w->alerts[i]), &bad);
        }
    }
    put(o, "packets", json_integer(w->packets), &bad);
    put(o, "syn", json_integer(w->syn), &bad);
    put(o, "fin", json_integer(w->fin), &bad);
    put(o, "rst", json_integer(w->rst), &bad);
    put(o, "alerts", alerts, &bad);
    return whole(o, bad);
}

/* A group of clients' figures (see demo_group_sum). */
static json_t *
group_json(const struct demo_run *run, int tls12, int late)
{
    struct demo_group g;
    json_t *o = json_object();
    int bad = 0;

    demo_group_sum(&run->fig, run->agent, run->set->clients + run->set->open_sessions, tls12, late,
                   &g);
    put(o, "clients", json_integer(g.clients), &bad);
    put(o, "tries", json_integer(g.tries), &bad);
    put(o, "failed", json_integer(g.failed), &bad);
    put(o, "downtime_total_s", json_real(round(g.down_total * 1000) / 1000), &bad);
    put(o, "downtime_worst_s", json_real(round(g.down_worst * 1000) / 1000), &bad);
    return whole(o, bad);
}

/* What client c's agent decided, from its state. */
static json_t *
agent_json(const struct demo_run *run, int c)
{
    const struct demo_agent_figures *g = &run->agent[c];
    json_t *o = json_object(), *at = json_array();
    int bad = 0;

    put(o, "policy", json_string(run->set->manual ? "manual" : "auto"), &bad);
    put(o, "source", json_string(g->tls12 ? "push" : "handshake"), &bad);
    put(o, "accepted", json_integer(g->accepted), &bad);
    put(o, "by_handshake", json_integer(g->by_handshake), &bad);
    put(o, "by_push", json_integer(g->by_push), &bad);
    put(o, "activated", json_integer(g->activated), &bad);
    put(o, "rejected", json_integer(g->rejected), &bad);
    put(o, "queued", json_integer(g->queued), &bad);
    put(o, "approved", json_integer(g->approved), &bad);
    if (run->set->manual) {
        put(o, "approval", json_string(g->late ? "late" : "early"), &bad);
        for (int k = 0; k < g->napproved && k < DEMO_APPROVALS; k++) {
            push(at, json_real(round(g->approved_at[k] * 1000) / 1000), &bad);
        }
        put(o, "approvals_run", json_integer(g->approvals_run), &bad);
        put(o, "approvals_failed", json_integer(g->approvals_failed), &bad);
    }
    put(o, "approved_at_s", at, &bad);
    return whole(o, bad);
}

static json_t *
run_json(const struct demo_run *run)
{
    const struct demo_figures *g = &run->fig;
    json_t *o = json_object(), *alerts = json_object();
    char buf[32];
    int bad = 0;

    for (int i = 0; i < DEMO_ALERTS; i++) {
        if (g->alerts[i] > 0) {
            put(alerts, demo_alert_name(i, buf, sizeof(buf)), json_integer(g->alerts[i]), &bad);
        }
    }
    put(o, "name", json_string(run->name), &bad);
    put(o, "sessions", json_integer(g->sessions), &bad);
    put(o, "failed_handshakes", json_integer(g->failed_handshakes), &bad);
    put(o, "alerts", alerts, &bad);
    put(o, "downtime_total_s", json_real(round(g->downtime_total * 1000) / 1000), &bad);
    put(o, "downtime_worst_s", json_real(round(g->downtime_worst * 1000) / 1000), &bad);
    put(o, "converge_s",
        g->converge_state == DEMO_CONVERGE_KNOWN ? json_real(round(g->converge * 1000) / 1000)
                                                 : json_null(),
        &bad);
    put(o, "converged", json_boolean(g->converge_state != DEMO_CONVERGE_NEVER), &bad);
    put(o, "sa_bytes_per_handshake", json_real(round(g->sa_bytes_per_handshake * 100) / 100), &bad);
    put(o, "renewals", json_integer(g->renewals), &bad);
    put(o, "open_session_requests", json_integer(g->open_requests), &bad);
    put(o, "open_session_failures", json_integer(g->open_failed), &bad);
    put(o, "sa_rejected", json_integer(run->log.sa_rejected), &bad);
    put(o, "tls12", group_json(run, 1, -1), &bad);
    put(o, "tls13", group_json(run, 0, -1), &bad);
    if (run->agents) {
        json_t *m = json_object();

        put(m, "process", json_string("evercert monitor"), &bad);
        put(m, "swaps", json_integer(run->replacements), &bad);
        put(m, "swaps_in_history", json_integer(run->monitor_swaps), &bad);
        put(m, "passes", run->monitor_passes >= 0 ? json_integer(run->monitor_passes) : json_null(),
            &bad);
        put(m, "passes_asked_for", json_integer(run->monitor_triggered), &bad);
        put(m, "activate", json_string(run->ready ? "ready" : "at"), &bad);
        put(o, "monitor", m, &bad);
    } else {
        put(o, "monitor", json_null(), &bad);
    }
    if (run->set->manual && run->agents) {
        put(o, "approved_early", group_json(run, -1, 0), &bad);
        put(o, "approved_late", group_json(run, -1, 1), &bad);
    }
    /* Per client, as the study counts: the open sessions come after the others. */
    {
        json_t *clients = json_array();

        for (int c = 0; c < g->nclients_seen; c++) {
            const struct demo_client_figures *cf = &g->client[c];
            json_t *one = json_object();

            put(one, "client", json_integer(c), &bad);
            put(one, "open_session", json_boolean(c >= run->set->clients), &bad);
            put(one, "tries", json_integer(cf->tries), &bad);
            put(one, "failed", json_integer(cf->failed), &bad);
            put(one, "alert",
                cf->alert >= 0 ? json_string(demo_alert_name(cf->alert, buf, sizeof(buf)))
                               : json_null(),
                &bad);
            put(one, "downtime_s", json_real(round(cf->down * 1000) / 1000), &bad);
            put(one, "tls", json_string(run->agent[c].tls12 ? "1.2" : "1.3"), &bad);
            put(one, "agent", run->agents ? agent_json(run, c) : json_null(), &bad);
            push(clients, one, &bad);
        }
        put(o, "clients", clients, &bad);
    }
    return whole(o, bad);
}

char *
demo_json(const struct demo_result *res)
{
    const struct demo_settings *s = res->runs[0].set;
    json_t *root = json_object(), *set = json_object(), *runs = json_array();
    char *text;
    int bad = 0;

    put(set, "lifetime_s", json_integer(s->lifetime), &bad);
    put(set, "clients", json_integer(s->clients), &bad);
    put(set, "open_sessions", json_integer(s->open_sessions), &bad);
    put(set, "session_interval_s", json_real(s->interval_ms / 1000.0), &bad);
    put(set, "manual_fix_s", json_integer(s->manual_fix), &bad);
    put(set, "rotations_asked", json_integer(s->rotations), &bad);
    put(set, "manual", json_boolean(s->manual), &bad);
    put(set, "approve_early_s",
        s->manual ? json_real(round(s->approve_early * 1000) / 1000) : json_null(), &bad);
    put(set, "approve_late_s",
        s->manual ? json_real(round(s->approve_late * 1000) / 1000) : json_null(), &bad);
    put(set, "tls12_clients", json_string("odd-numbered"), &bad);
    put(set, "renew_threshold", json_string("50%"), &bad);
    put(set, "distribution_window", json_string("50%"), &bad);
    put(set, "duration_s", json_real(round(res->duration * 10) / 10), &bad);
    put(set, "server", json_string("evercert serve, one per run, 127.0.0.1"), &bad);
    put(set, "runs_at_the_same_time", json_true(), &bad);
    put(root, "settings", set, &bad);
    put(set, "capture",
        res->wire_ok ? json_string("tshark on lo, capture.pcapng") : json_string(res->capture.why),
        &bad);
    for (int i = 0; i < res->nruns; i++) {
        json_t *r = run_json(&res->runs[i]);

        put(r, "capture", res->wire_ok ? wire_json(&res->wire[i]) : json_null(), &bad);
        push(runs, r, &bad);
    }
    put(root, "runs", runs, &bad);
    /* A document that could not be built whole is no document: NULL, as for a failed dump. */
    text = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

/* "unknown_ca 120, certificate_expired 4", or "none". */
static void
alerts_text(const long alerts[DEMO_ALERTS], char *out, size_t len)
{
    char buf[32];
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < DEMO_ALERTS && n < len; i++) {
        if (alerts[i] > 0) {
            n += (size_t)snprintf(out + n, len - n, "%s%s %ld", n > 0 ? ", " : "",
                                  demo_alert_name(i, buf, sizeof(buf)), alerts[i]);
        }
    }
    if (out[0] == '\0') {
        snprintf(out, len, "none");
    }
}

static void
converge_text(const struct demo_figures *g, char *out, size_t len)
{
    if (g->converge_state == DEMO_CONVERGE_NONE) {
        snprintf(out, len, "no renewal");
    } else if (g->converge_state == DEMO_CONVERGE_NEVER) {
        snprintf(out, len, "never");
    } else {
        snprintf(out, len, "%+.1f s", g->converge);
    }
}

/* One row of the table: a label and each run's value, formatted by the caller. */
static void
row(FILE *f, const struct demo_result *res, const char *label, char v[DEMO_RUNS_MAX][64])
{
    fprintf(f, "%-34s", label);
    for (int i = 0; i < res->nruns; i++) {
        fprintf(f, " %15s", v[i]);
    }
    fputc('\n', f);
}

void
demo_text(const struct demo_result *res, const char *out_dir, int drawn, FILE *f)
{
    const struct demo_settings *s = res->runs[0].set;
    const struct demo_figures *a = &res->runs[0].fig, *b = &res->runs[1].fig;
    char x[256], v[DEMO_RUNS_MAX][64];
    int n = s->clients + s->open_sessions;

    fprintf(f,
            "evercert demo: %d clients each open a new TLS session every %.1f s, and %d more "
            "keep one session open;\n"
            "%s runs at the same time, %.0f s, each with its own evercert serve on 127.0.0.1; "
            "certificates live %d s.\n"
            "  existing: the certificate is replaced at expiry; a person fixes the clients' trust "
            "stores %d s later.\n"
            "  evercert: an evercert monitor process renews at half the life and swaps at "
            "activate_at;\n"
            "    each client's own agent (policy %s) takes the successor from its TLS 1.3 "
            "handshakes\n"
            "    or, for the TLS 1.2 clients (the odd-numbered half), from serve's push "
            "channel.\n",
            s->clients, s->interval_ms / 1000.0, s->open_sessions,
            res->nruns > 2 ? "three" : "both", res->duration, s->lifetime, s->manual_fix,
            s->manual ? "manual" : "auto");
    if (res->nruns > 2) {
        fprintf(f, "  evercert-ready: the same, but the monitor swaps once serve has seen every "
                   "client hold the\n    successor (activate = ready), at the latest 5%% of "
                   "the lifetime before the old one ends.\n");
    }
    fputc('\n', f);
    fprintf(f, "%-34s", "");
    for (int i = 0; i < res->nruns; i++) {
        fprintf(f, " %15s", res->runs[i].name);
    }
    fputc('\n', f);
#define EACH(fmt, ...)                                                                             \
    for (int i = 0; i < res->nruns; i++) {                                                         \
        const struct demo_figures *g = &res->runs[i].fig;                                          \
        (void)g;                                                                                   \
        snprintf(v[i], sizeof(v[i]), fmt, __VA_ARGS__);                                            \
    }
    EACH("%ld", g->sessions);
    row(f, res, "sessions", v);
    EACH("%ld", g->failed_handshakes);
    row(f, res, "failed handshakes", v);
    for (int i = 0; i < res->nruns; i++) {
        struct demo_group gr;

        demo_group_sum(&res->runs[i].fig, res->runs[i].agent, n, 1, -1, &gr);
        snprintf(v[i], sizeof(v[i]), "%ld", gr.failed);
    }
    row(f, res, "  of them by TLS 1.2 clients", v);
    EACH("%.1f s", g->downtime_total);
    row(f, res, "downtime, all clients together", v);
    EACH("%.1f s", g->downtime_worst);
    row(f, res, "downtime, worst client", v);
    for (int i = 0; i < res->nruns; i++) {
        converge_text(&res->runs[i].fig, v[i], sizeof(v[i]));
    }
    row(f, res, "all clients trust the new cert", v);
    EACH("%.1f", g->sa_bytes_per_handshake);
    row(f, res, "SA bytes per handshake", v);
    EACH("%d", g->renewals);
    row(f, res, "renewals the clients saw", v);
    EACH("%ld/%ld", g->open_requests - g->open_failed, g->open_requests);
    row(f, res, "requests on open sessions, ok", v);
#undef EACH
    fprintf(f, "TLS alerts:");
    for (int i = 0; i < res->nruns; i++) {
        alerts_text(res->runs[i].fig.alerts, x, sizeof(x));
        fprintf(f, "%s %s: %s", i == 0 ? "" : ";", res->runs[i].name, x);
    }
    fprintf(f, "\n");
    if (res->wire_ok) {
        fprintf(f, "On the wire (tshark, capture.pcapng):");
        for (int i = 0; i < res->nruns; i++) {
            alerts_text(res->wire[i].alerts, x, sizeof(x));
            fprintf(f, "%s %s: %ld connections (SYN), %ld FIN, %ld RST, TLS alerts %s",
                    i == 0 ? "" : ";", res->runs[i].name, res->wire[i].syn, res->wire[i].fin,
                    res->wire[i].rst, x);
        }
        fprintf(f, ".\n");
    } else {
        fprintf(f, "No packet capture: %s.\n", res->capture.why);
    }
    fprintf(f, "(\"all clients trust the new cert\": when the last client held it, from when the "
               "server first presented it;\n negative is before.)\n\n");

    /* The ten-second version. */
    if (a->failed_handshakes > 0) {
        fprintf(f,
                "In short: the old way, %ld of %ld connections failed and clients were cut off "
                "for up to %.1f s after the certificate changed, until a person fixed them.\n",
                a->failed_handshakes, a->sessions, a->downtime_worst);
    } else {
        fprintf(f, "In short: the old way had no failed connection in this run.\n");
    }
    if (b->failed_handshakes == 0 && b->converge_state == DEMO_CONVERGE_KNOWN && b->converge <= 0) {
        fprintf(f,
                "With evercert the certificate changed %d times and no connection failed: every "
                "client trusted each new certificate at least %.1f s before the server used it.\n",
                b->renewals, -b->converge);
    } else {
        fprintf(f,
                "With evercert the certificate changed %d times and %ld of %ld connections "
                "failed.\n",
                b->renewals, b->failed_handshakes, b->sessions);
    }
    {
        const struct demo_run *run = &res->runs[1];
        long acc = 0, hs = 0, pu = 0;

        for (int i = 0; i < s->clients + s->open_sessions; i++) {
            acc += run->agent[i].accepted;
            hs += run->agent[i].by_handshake;
            pu += run->agent[i].by_push;
        }
        fprintf(f,
                "The evercert monitor process made %d swaps in %ld passes, %ld of them asked for "
                "(--trigger); the clients' agents accepted %ld SAs, %ld from handshakes and %ld "
                "by push.\n",
                run->replacements, run->monitor_passes, run->monitor_triggered, acc, hs, pu);
    }
    for (int i = 1; s->manual && i < res->nruns; i++) {
        const struct demo_run *run = &res->runs[i];
        struct demo_group ge, gl;

        demo_group_sum(&run->fig, run->agent, n, -1, 0, &ge);
        demo_group_sum(&run->fig, run->agent, n, -1, 1, &gl);
        fprintf(f,
                "Policy manual, %s (activate = %s): a person approved %.1f s after each SA came "
                "(before activate_at)\n"
                "  for %d clients: %ld failed handshakes; %.1f s after (past activate_at) for %d "
                "clients: %ld failed\n  handshakes, downtime %.1f s together, %.1f s the worst "
                "client.\n",
                run->name, run->ready ? "ready" : "at", s->approve_early, ge.clients, ge.failed,
                s->approve_late, gl.clients, gl.failed, gl.down_total, gl.down_worst);
    }
    for (int i = 1; i < res->nruns; i++) {
        if (res->runs[i].log.sa_rejected > 0) {
            fprintf(f, "%s: clients refused %ld SAs; the last reason: %s\n", res->runs[i].name,
                    res->runs[i].log.sa_rejected, res->runs[i].log.sa_reason);
        }
    }
    fprintf(f, "\nRaw data%s: %s/\n", drawn ? " and charts (timeline.png, handshake.png)" : "",
            out_dir);
}
