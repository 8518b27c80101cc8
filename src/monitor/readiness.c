/* SPDX-License-Identifier: Apache-2.0 */
/*
 * activate = ready, the monitor's side: how ready the clients of a
 * personal store are for a staged generation, for the renewal run's
 * callback (evc_renew_opts.readiness). Either the status listener of the
 * `evercert serve` serving the store (readiness = HOST:PORT|unix:PATH),
 * which counted the handshakes, acknowledgements and URL fetches itself,
 * or a web server's access log (access_log = PATH), read here: the last
 * EVC_READY_LOG_TAIL_MAX bytes of PATH.1 (logrotate's delaycompress
 * leaves it plain) and PATH together, newest first, whole lines, counted
 * over the store's window at the run's now, so --at moves this clock too.
 * Whatever cannot be counted is unknown, never ready; a count that does
 * not cover a whole window is not complete, never ready; the error says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evercert/limits.h"
#include "evercert/monitor.h"
#include "evercert/ready.h"
#include "base/file.h"

/* How long a status listener may take to answer, all told. */
#define STATUS_TIMEOUT_MS 5000

/* The unready clients as "ADDR ID HELD, ..." (id "-" when unnamed), and how many more. */
static void
unready_text(const struct evc_ready_summary *s, char *out, size_t len)
{
    size_t n = 0, more = s->unready_total;

    out[0] = '\0';
    for (size_t i = 0; i < s->nunready && n + 1 < len; i++) {
        const struct evc_ready_client *c = &s->unready[i];
        int w = snprintf(out + n, len - n, "%s%s %s %llu", i > 0 ? ", " : "", c->addr,
                         c->id[0] != '\0' ? c->id : "-", (unsigned long long)c->held);

        if (w < 0 || (size_t)w >= len - n) {
            out[n] = '\0'; /* a name is whole or not there */
            break;
        }
        n += (size_t)w;
        more--;
    }
    if (more > 0) {
        char tail[48];

        snprintf(tail, sizeof(tail), "%s%zu more", n > 0 ? " and " : "", more);
        if (n + strlen(tail) < len) {
            memcpy(out + n, tail, strlen(tail) + 1);
        }
    }
}

static void
fill(const struct evc_ready_summary *s, struct evc_readiness *out, const char *what)
{
    char since[EVC_TIME_TEXT_MAX];

    out->known = 1;
    out->complete = s->complete;
    out->clients = s->clients;
    out->ready = s->ready;
    /* Listed or not, every unready entry is in the count of them. */
    if (s->unready_total < s->nunready) {
        struct evc_ready_summary t = *s;

        t.unready_total = t.nunready;
        unready_text(&t, out->unready, sizeof(out->unready));
    } else {
        unready_text(s, out->unready, sizeof(out->unready));
    }
    if (s->complete) {
        return;
    }
    evc_time_format(s->since, since);
    if (s->at - s->window < s->since) {
        snprintf(out->error, sizeof(out->error),
                 "%.120s reaches back only to %s, not a whole window", what, since);
    } else {
        snprintf(out->error, sizeof(out->error),
                 "%.120s forgot clients seen within the window (its cap)", what);
    }
}

/*
 * The last EVC_READY_LOG_TAIL_MAX bytes of path, from the first line
 * start in them to the last line end: whole lines only. A FIFO or a
 * device is refused (it would block a pass); a log that rotated away is
 * an error like any other.
 */
static int
read_tail(const char *path, size_t budget, char **data, size_t *len, struct evc_err *err)
{
    struct stat sb;
    off_t start;
    size_t n = 0, want, skip = 0;
    char *buf = NULL;
    int fd = -1, r = EVC_ERR_INTERNAL;

    *data = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0) {
        r = evc_err_set(err, evc_errno_code(errno), "access_log %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        r = evc_err_set(err, EVC_ERR_NOT_REGULAR, "access_log %s: not a regular file", path);
        goto out;
    }
    want = (uintmax_t)sb.st_size > budget ? budget : (size_t)sb.st_size;
    start = sb.st_size - (off_t)want;
    if ((buf = malloc(want + 1)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The file may shrink (rotated) while it is read: what was read is used. */
    while (n < want) {
        ssize_t got = pread(fd, buf + n, want - n, start + (off_t)n);

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            r = evc_err_set(err, EVC_ERR_IO, "access_log %s: %s", path, strerror(errno));
            goto out;
        }
        if (got == 0) {
            break;
        }
        n += (size_t)got;
    }
    /* Started inside a line: that part line is not a line. */
    if (start > 0) {
        char *nl = memchr(buf, '\n', n);

        skip = nl != NULL ? (size_t)(nl - buf) + 1 : n;
    }
    while (n > skip && buf[n - 1] != '\n') {
        n--;
    }
    memmove(buf, buf + skip, n - skip);
    *len = n - skip;
    *data = buf;
    buf = NULL;
    r = 0;
out:
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

static int
from_log(const struct evc_store_conf *store, uint64_t generation, evc_time now,
         struct evc_readiness *out)
{
    struct evc_ready_opts ro;
    struct evc_ready *rd = NULL;
    struct evc_ready_summary *sum = NULL;
    struct evc_err err = {0};
    char *data = NULL, *older = NULL, *path1 = NULL, what[300];
    size_t len = 0, olen = 0, bad = 0, plen = strlen(store->access_log);
    struct stat st;
    int r;

    memset(&ro, 0, sizeof(ro));
    ro.window = store->readiness_window > 0 ? store->readiness_window : EVC_READY_WINDOW_DEFAULT;
    ro.max_entries = EVC_READY_ENTRIES_DEFAULT;
    if ((sum = calloc(1, sizeof(*sum))) == NULL) {
        r = evc_err_set(&err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((path1 = malloc(plen + 3)) == NULL) {
        r = evc_err_set(&err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(path1, store->access_log, plen);
    memcpy(path1 + plen, ".1", 3);
    /* The newest lines win the budget; the rotated file gets what is left. */
    if ((r = read_tail(store->access_log, EVC_READY_LOG_TAIL_MAX, &data, &len, &err)) != 0) {
        goto out;
    }
    if (len < EVC_READY_LOG_TAIL_MAX && stat(path1, &st) == 0 &&
        (r = read_tail(path1, EVC_READY_LOG_TAIL_MAX - len, &older, &olen, &err)) != 0) {
        goto out;
    }
    if ((r = evc_ready_new(&rd, &ro, &err)) != 0) {
        goto out;
    }
    /* Lines that are no log line are skipped: a log is not ours to refuse. */
    if (older != NULL) {
        (void)evc_ready_log_feed(rd, (const uint8_t *)older, olen, &bad);
    }
    (void)evc_ready_log_feed(rd, (const uint8_t *)data, len, &bad);
    evc_ready_count(rd, generation, now, sum);
    snprintf(what, sizeof(what), "the access log %s%s", store->access_log,
             older != NULL ? " (with .1)" : "");
    fill(sum, out, what);
    r = 0;
out:
    if (r != 0) {
        snprintf(out->error, sizeof(out->error), "%s", evc_err_message(&err));
    }
    evc_ready_free(rd);
    free(older);
    free(path1);
    free(data);
    free(sum);
    return r;
}

static int
from_status(const struct evc_store_conf *store, uint64_t generation, struct evc_readiness *out)
{
    struct evc_ready_summary *sum = calloc(1, sizeof(*sum));
    struct evc_err err = {0};
    int r;

    if (sum == NULL) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        return EVC_ERR_NOMEM;
    }
    if ((r = evc_ready_status_fetch(store->readiness, STATUS_TIMEOUT_MS, sum, &err)) != 0) {
        /* The message names where already. */
        snprintf(out->error, sizeof(out->error), "readiness: %.240s", evc_err_message(&err));
    } else if (sum->successor != generation) {
        /* Its clients are counted against another SA: they say nothing of this one. */
        snprintf(out->error, sizeof(out->error),
                 "readiness %.100s counts generation %llu, not the staged %llu", store->readiness,
                 (unsigned long long)sum->successor, (unsigned long long)generation);
        r = EVC_ERR_POLICY;
    } else {
        char what[160];

        snprintf(what, sizeof(what), "readiness %.100s", store->readiness);
        fill(sum, out, what);
    }
    free(sum);
    return r;
}

int
evc_monitor_readiness(void *arg, const struct evc_store_conf *store, uint64_t generation,
                      evc_time now, struct evc_readiness *out)
{
    (void)arg;
    memset(out, 0, sizeof(*out));
    if (store->readiness != NULL) {
        return from_status(store, generation, out);
    }
    if (store->access_log != NULL) {
        return from_log(store, generation, now, out);
    }
    snprintf(out->error, sizeof(out->error), "neither readiness nor access_log is set");
    return EVC_ERR_USAGE;
}
