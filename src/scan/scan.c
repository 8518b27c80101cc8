/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scan engine.
 *
 * Pass 1 reads every file and collects the identity of every subject name,
 * so pass 2 can tell a chained certificate (its issuer is among ours) from
 * an external one while it streams. Pass 1 only walks the DER; the cost is
 * reading and base64-decoding the files twice, which the page cache makes
 * cheap, against holding every certificate in memory until the end.
 *
 * In pass 2, worker threads take files in order, read and render them; the
 * calling thread writes each file's rendering in file order, so the output
 * is the same whatever the number of threads. Workers run at most WINDOW
 * files ahead of the writer, which bounds memory.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/idset.h"
#include "base/text.h"
#include "evercert/announce.h"
#include "evercert/endpoint.h"
#include "evercert/limits.h"
#include "evercert/scan.h"
#include "evercert/store.h"

#define WINDOW 64
#define JOBS_MAX 64
/* Rendered findings of one file: a bundle of 300,000 fits. */
#define FILE_OUT_MAX ((size_t)1024 * 1024 * 1024)

struct file_job {
    char *path;
    int wanted;
};

struct file_result {
    int ready;
    struct evc_buf out;
    size_t counts[EVC_STATUS_COUNT];
    char **errors; /* "message" strings, path is the job's */
    size_t nerrors, dropped;
    size_t announcements; /* 1 when the file is a Successor Announcement */
};

struct scan {
    const struct evc_scan_opts *o;
    struct evc_report *rep;
    struct file_job *files;
    size_t nfiles, cap;
    size_t walk_errors;
    struct evc_idset subjects;
    int pass; /* 1 or 2 */

    pthread_mutex_t mu;
    pthread_cond_t ready; /* a result is ready for the writer */
    pthread_cond_t space; /* the writer moved on */
    size_t next_claim, next_emit;
    struct file_result *results;
    int failed; /* a worker ran out of memory */
};

/* What one worker needs while it reads one file. */
struct worker {
    struct scan *s;
    struct evc_cert_reader *reader;
    struct evc_buf data;
    struct file_result *res;
    const char *path;
    /* pass 1 */
    uint8_t (*ids)[EVC_NAME_ID_LEN];
    size_t nids, capids;
    int oom;
};

void
evc_scan_opts_default(struct evc_scan_opts *o, evc_time now)
{
    memset(o, 0, sizeof(*o));
    o->now = now;
    evc_thresholds_default(&o->thresholds);
}

int
evc_scan_exit_status(const struct evc_summary *sum)
{
    if (sum->expired > 0 || sum->not_yet_valid > 0) {
        return 2;
    }
    if (sum->threshold > 0 || sum->prenotify > 0) {
        return 1;
    }
    return sum->errors > 0 ? 3 : 0;
}

static int add_error(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
add_error(struct worker *w, const char *fmt, ...)
{
    struct file_result *res = w->res;
    char msg[EVC_ERR_DETAIL_MAX + 64], **more;
    va_list ap;

    if (w->s->pass == 1) {
        return 0; /* pass 2 reads the same bytes and reports */
    }
    if (res->nerrors >= EVC_FILE_ERRORS_MAX) {
        res->dropped++;
        return 0;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if ((more = realloc(res->errors, (res->nerrors + 1) * sizeof(*more))) == NULL) {
        return EVC_ERR_NOMEM;
    }
    res->errors = more;
    if ((res->errors[res->nerrors] = strdup(msg)) == NULL) {
        return EVC_ERR_NOMEM;
    }
    res->nerrors++;
    return 0;
}

static void
describe_loc(const struct evc_cert_loc *loc, char *out, size_t outlen)
{
    if (loc->line > 0) {
        snprintf(out, outlen, "line %lu: certificate %zu", loc->line, loc->index);
    } else {
        snprintf(out, outlen, "certificate %zu", loc->index);
    }
}

static int
on_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *err)
{
    (void)loc;
    return add_error(arg, "%s", evc_err_message(err));
}

static int
on_cert_pass1(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct worker *w = arg;
    uint8_t issuer[EVC_NAME_ID_LEN];

    (void)loc;
    if (w->nids == w->capids) {
        size_t cap = w->capids ? w->capids * 2 : 1024;
        void *n = realloc(w->ids, cap * sizeof(*w->ids));

        if (n == NULL) {
            w->oom = 1;
            return EVC_ERR_NOMEM;
        }
        w->ids = n;
        w->capids = cap;
    }
    if (evc_cert_read_names(w->reader, der, len, w->ids[w->nids], issuer) == 0) {
        w->nids++;
    }
    return 0;
}

static int
on_cert_pass2(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct worker *w = arg;
    struct scan *s = w->s;
    struct evc_cert c;
    struct evc_err e = {0};
    struct evc_finding f;
    enum evc_status st;
    enum evc_kind kind;
    char sha[2 * sizeof(c.sha256) + 1], where[96];
    int r;

    if ((r = evc_cert_read(w->reader, der, len, &c, &e)) != 0) {
        describe_loc(loc, where, sizeof(where));
        return r == EVC_ERR_NOMEM ? r : add_error(w, "%s: %s", where, evc_err_message(&e));
    }
    evc_text_hex(c.sha256, sizeof(c.sha256), sha);
    memset(&f, 0, sizeof(f));

    st = evc_classify(c.not_before, c.not_after, s->o->now, &s->o->thresholds);
    f.path = w->path;
    f.index = loc->index;
    f.subject = c.subject;
    f.issuer = c.issuer;
    f.serial = c.serial;
    f.sha256 = sha;
    f.not_before = c.not_before;
    f.not_after = c.not_after;
    f.seconds_left = c.not_after - s->o->now;
    f.status = evc_status_name(st);
    f.severity = (int)st;
    kind = evc_kind_of(&c, evc_idset_has(&s->subjects, c.issuer_id));
    f.kind = evc_kind_name(kind);
    /* The moment renew acts on, so a "threshold" row is never one nothing happens to. */
    f.renew_at = kind == EVC_KIND_EXTERNAL
                     ? 0
                     : evc_renew_moment(c.not_before, c.not_after, &s->o->thresholds);
    f.is_ca = c.is_ca;
    f.sans = (const char *const *)c.sans;
    f.nsans = c.nsans;
    f.key = c.key;
    f.warning = c.warning;
    r = evc_report_render(s->rep, &f, &w->res->out);
    if (r == 0) {
        w->res->counts[st]++;
    }
    evc_cert_clear(&c);
    return r;
}

/*
 * Whether a DER file is a Successor Announcement (the .sa renew leaves
 * beside a certificate): a CMS SignedData whose certificates are its
 * signer's, not a store's. Read as a .p7b, the old certificate in it would
 * raise a false alarm after every rotation.
 */
static int
is_announcement(const uint8_t *data, size_t len)
{
    struct evc_sa *sa = NULL;
    struct evc_err e = {0};

    if (evc_format_detect(data, len) != EVC_FORMAT_DER || len > EVC_SA_MAX ||
        evc_sa_decode(data, len, &sa, &e) != 0) {
        return 0;
    }
    evc_sa_free(sa);
    return 1;
}

static int
read_one(struct worker *w, const struct file_job *job)
{
    struct evc_store_opts so = {w->s->o->password};
    struct evc_cert_sink sink = {w->s->pass == 1 ? on_cert_pass1 : on_cert_pass2, on_bad, w};
    struct evc_err e = {0};
    int r;

    for (size_t i = 0; i < w->s->o->nsecrets; i++) {
        if (strcmp(w->s->o->secrets[i].path, job->path) == 0) {
            so.password = w->s->o->secrets[i].password;
        }
    }
    w->path = job->path;
    if ((r = evc_file_read(job->path, EVC_STORE_FILE_MAX, &w->data, &e)) != 0) {
        return add_error(w, "%s", evc_err_message(&e));
    }
    if (is_announcement(w->data.data, w->data.len)) {
        if (w->res != NULL) {
            w->res->announcements = 1;
        }
        return 0;
    }
    r = evc_store_read(w->data.data, w->data.len, &so, &sink, NULL, &e);
    if (r == EVC_ERR_UNKNOWN_FORMAT) {
        return job->wanted ? add_error(w, "%s", evc_err_message(&e)) : 0;
    }
    if (r == EVC_ERR_NOMEM || (r < 0 && w->oom)) {
        return EVC_ERR_NOMEM;
    }
    if (r < 0) {
        return add_error(w, "%s", evc_err_message(&e));
    }
    return r;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct scan *s = w->s;

    for (;;) {
        size_t i;
        int r;

        pthread_mutex_lock(&s->mu);
        while (s->pass == 2 && !s->failed && s->next_claim < s->nfiles &&
               s->next_claim >= s->next_emit + WINDOW) {
            pthread_cond_wait(&s->space, &s->mu);
        }
        if (s->failed || s->next_claim >= s->nfiles) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        i = s->next_claim++;
        pthread_mutex_unlock(&s->mu);

        w->res = s->pass == 2 ? &s->results[i] : NULL;
        r = read_one(w, &s->files[i]);

        pthread_mutex_lock(&s->mu);
        if (r == EVC_ERR_NOMEM) {
            s->failed = 1;
            pthread_cond_broadcast(&s->space);
        }
        if (w->res != NULL) {
            w->res->ready = 1;
        }
        pthread_cond_broadcast(&s->ready);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int
on_walk_file(void *arg, const char *path, int wanted)
{
    struct scan *s = arg;

    if (s->nfiles == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct file_job *n = realloc(s->files, cap * sizeof(*n));

        if (n == NULL) {
            return EVC_ERR_NOMEM;
        }
        s->files = n;
        s->cap = cap;
    }
    if ((s->files[s->nfiles].path = strdup(path)) == NULL) {
        return EVC_ERR_NOMEM;
    }
    s->files[s->nfiles++].wanted = wanted;
    return 0;
}

static int
on_walk_error(void *arg, const char *path, const struct evc_err *err)
{
    struct scan *s = arg;

    s->walk_errors++;
    return evc_report_error(s->rep, path, evc_err_message(err));
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Write results in file order as they become ready. Called with s->mu held. */
static int
write_results(struct scan *s, struct evc_summary *sum, const struct timespec *t0)
{
    double last = 0;
    int r = 0;

    while (s->next_emit < s->nfiles && !s->failed) {
        struct file_result *res = &s->results[s->next_emit];
        const char *path = s->files[s->next_emit].path;

        if (!res->ready) {
            struct timespec until;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200 * 1000 * 1000;
            if (until.tv_nsec >= 1000 * 1000 * 1000) {
                until.tv_sec++;
                until.tv_nsec -= 1000 * 1000 * 1000;
            }
            pthread_cond_timedwait(&s->ready, &s->mu, &until);
            if (s->o->progress != NULL && seconds_since(t0) > 1.0 &&
                seconds_since(t0) - last >= 0.2) {
                last = seconds_since(t0);
                s->o->progress(s->o->progress_arg, sum->total, s->next_emit, s->nfiles, 0);
            }
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        r = evc_report_take(s->rep, res->out.data, res->out.len);
        for (size_t k = 0; k < res->nerrors && r == 0; k++) {
            r = evc_report_error(s->rep, path, res->errors[k]);
        }
        if (r == 0 && res->dropped > 0) {
            char more[64];

            snprintf(more, sizeof(more), "%zu more errors not shown", res->dropped);
            r = evc_report_error(s->rep, path, more);
        }
        sum->ok += res->counts[EVC_STATUS_OK];
        sum->prenotify += res->counts[EVC_STATUS_PRENOTIFY];
        sum->threshold += res->counts[EVC_STATUS_THRESHOLD];
        sum->expired += res->counts[EVC_STATUS_EXPIRED];
        sum->not_yet_valid += res->counts[EVC_STATUS_NOT_YET_VALID];
        for (int k = 0; k < EVC_STATUS_COUNT; k++) {
            sum->total += res->counts[k];
        }
        sum->errors += res->nerrors + res->dropped; /* every error, shown or not */
        sum->announcements += res->announcements;
        evc_buf_free(&res->out);
        for (size_t k = 0; k < res->nerrors; k++) {
            free(res->errors[k]);
        }
        free(res->errors);
        res->errors = NULL;
        res->nerrors = 0;
        pthread_mutex_lock(&s->mu);
        if (r != 0) {
            s->failed = 1;
            pthread_cond_broadcast(&s->space);
            break;
        }
        s->next_emit++;
        pthread_cond_broadcast(&s->space);
    }
    if (s->o->progress != NULL && last > 0) {
        s->o->progress(s->o->progress_arg, sum->total, s->next_emit, s->nfiles, 1);
    }
    return r;
}

static int
run_pass(struct scan *s, int pass, int jobs, struct worker *ws, struct evc_summary *sum)
{
    pthread_t tid[JOBS_MAX];
    struct timespec t0;
    int started = 0, r = 0;

    s->pass = pass;
    s->next_claim = 0;
    s->next_emit = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < jobs; i++) {
        if (pthread_create(&tid[i], NULL, worker_main, &ws[i]) != 0) {
            break;
        }
        started++;
    }
    if (started == 0) {
        worker_main(&ws[0]); /* no thread to be had: do the work here */
    }
    if (pass == 2) {
        pthread_mutex_lock(&s->mu);
        r = write_results(s, sum, &t0);
        pthread_mutex_unlock(&s->mu);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
    }
    if (r == 0 && s->failed) {
        r = EVC_ERR_NOMEM;
    }
    return r;
}

int
evc_scan(const char *const *paths, size_t npaths, const struct evc_scan_opts *o,
         struct evc_report *rep, struct evc_summary *sum, struct evc_err *err)
{
    struct scan s;
    struct worker ws[JOBS_MAX];
    int jobs = o->jobs, threads, r = EVC_ERR_INTERNAL;
    struct evc_walk_cb wcb;

    memset(sum, 0, sizeof(*sum));
    memset(&s, 0, sizeof(s));
    memset(ws, 0, sizeof(ws));
    s.o = o;
    s.rep = rep;
    evc_idset_init(&s.subjects);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.ready, NULL);
    pthread_cond_init(&s.space, NULL);
    if (jobs <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        jobs = n > 0 ? (int)n : 1;
    }
    jobs = jobs > JOBS_MAX ? JOBS_MAX : jobs;

    if ((r = evc_report_begin(rep, o->now)) != 0) {
        evc_err_set(err, r, "cannot write the report");
        goto out;
    }
    wcb.file = on_walk_file;
    wcb.error = on_walk_error;
    wcb.arg = &s;
    if ((r = evc_store_walk(paths, npaths, &wcb)) != 0) {
        evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    /* No more threads than files: a scan of one file needs one. */
    threads = s.nfiles < (size_t)jobs ? (s.nfiles > 0 ? (int)s.nfiles : 1) : jobs;
    for (int i = 0; i < jobs; i++) {
        ws[i].s = &s;
        evc_buf_init(&ws[i].data, EVC_STORE_FILE_MAX + 2);
        if ((r = evc_cert_reader_new(&ws[i].reader)) != 0) {
            evc_err_set(err, r, "cannot set up the certificate reader");
            goto out;
        }
    }
    if ((r = run_pass(&s, 1, threads, ws, sum)) != 0) {
        evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    for (int i = 0; i < jobs; i++) {
        for (size_t k = 0; k < ws[i].nids; k++) {
            if ((r = evc_idset_add(&s.subjects, ws[i].ids[k])) != 0) {
                evc_err_set(err, r, "%s", evc_strerror(r));
                goto out;
            }
        }
        free(ws[i].ids);
        ws[i].ids = NULL;
        ws[i].nids = ws[i].capids = 0;
    }
    if (s.nfiles > 0 && (s.results = calloc(s.nfiles, sizeof(*s.results))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, NULL);
        goto out;
    }
    for (size_t i = 0; i < s.nfiles; i++) {
        evc_buf_init(&s.results[i].out, FILE_OUT_MAX);
    }
    if ((r = run_pass(&s, 2, threads, ws, sum)) != 0) {
        evc_err_set(err, r, "%s", r == EVC_ERR_IO ? "cannot write the report" : evc_strerror(r));
        goto out;
    }
    sum->errors += s.walk_errors;
    if (o->nendpoints > 0 &&
        (r = evc_ep_report(o->endpoints, o->nendpoints, o->now, &o->thresholds, rep, sum)) != 0) {
        evc_err_set(err, r, "%s", r == EVC_ERR_IO ? "cannot write the report" : evc_strerror(r));
        goto out;
    }
    if ((r = evc_report_finish(rep, sum)) != 0) {
        evc_err_set(err, r, "cannot write the report");
        goto out;
    }
    r = 0;
out:
    for (int i = 0; i < JOBS_MAX; i++) {
        evc_cert_reader_free(ws[i].reader);
        evc_buf_free(&ws[i].data);
        free(ws[i].ids);
    }
    for (size_t i = 0; i < s.nfiles; i++) {
        if (s.results != NULL) {
            evc_buf_free(&s.results[i].out);
            for (size_t k = 0; k < s.results[i].nerrors; k++) {
                free(s.results[i].errors[k]);
            }
            free(s.results[i].errors);
        }
        free(s.files[i].path);
    }
    free(s.results);
    free(s.files);
    evc_idset_free(&s.subjects);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.ready);
    pthread_cond_destroy(&s.space);
    return r;
}
