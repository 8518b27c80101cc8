/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hot swap's trigger: the cert, key and SA files are watched (inotify
 * on their directories, including the .NAME.evercert directory where
 * renew's pair layout switches "live", and a one-second stat as the
 * fallback), and a change builds a new context that is published only if
 * the pair is whole (evc_tls_server_load), so a key is never served with
 * a certificate it does not match. A new SA generation goes down the push
 * channel at once.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/sha.h>

#include "evercert/announce.h"
#include "base/text.h"
#include "serve/serve_int.h"

#define WATCH_MAX 8

void
evc_server_note_sa_size(struct evc_server *s)
{
    struct evc_buf sa;
    uint8_t h[32];

    /* Said once per SA, not at every reload. */
    evc_buf_init(&sa, EVC_SA_MAX + 1);
    if (evc_tls_server_sa(s->tls, &sa) == 0 && sa.len > EVC_SA_HANDSHAKE_MAX &&
        SHA256(sa.data, sa.len, h) != NULL && memcmp(h, s->sa_noted, sizeof(h)) != 0) {
        memcpy(s->sa_noted, h, sizeof(h));
        evc_server_logf(s,
                        "%s: the SA is %zu bytes, over the %zu the handshake carries; it goes by "
                        "the push channel and URL only",
                        s->sa, sa.len, (size_t)EVC_SA_HANDSHAKE_MAX);
    }
    evc_buf_free(&sa);
}

static int
reload(struct evc_server *s, const char *why, struct evc_err *err)
{
    uint8_t fp[32];
    uint64_t gen;
    char hex[65];
    int r;

    if ((r = evc_tls_server_load(s->tls, s->cert, s->key, s->chain, s->sa, evc_time_now(), err)) !=
        0) {
        s->st.refused++;
        evc_server_logf(s, "%s, but the new files are not used: %s", why, evc_err_message(err));
        return r;
    }
    s->st.swaps++;
    evc_tls_server_current(s->tls, fp, &gen);
    evc_text_hex(fp, 32, hex);
    evc_server_logf(s, "serving %s (SA generation %llu)", hex, (unsigned long long)gen);
    evc_server_note_sa_size(s);
    if (gen != s->sa_generation) {
        s->sa_generation = gen;
        evc_server_push_all(s);
    }
    return 0;
}

/* Has any watched file changed since we last looked (inode, size, time)? */
static int
changed(struct evc_server *s)
{
    const char *paths[3] = {s->cert, s->key, s->sa};
    int any = 0;

    for (int i = 0; i < 3; i++) {
        struct stat st;

        memset(&st, 0, sizeof(st));
        if (paths[i] != NULL && stat(paths[i], &st) != 0) {
            memset(&st, 0, sizeof(st));
        }
        if (st.st_ino != s->seen[i].st_ino || st.st_size != s->seen[i].st_size ||
            st.st_mtim.tv_sec != s->seen[i].st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != s->seen[i].st_mtim.tv_nsec) {
            s->seen[i] = st;
            any = 1;
        }
    }
    return any;
}

int
evc_server_reload(struct evc_server *s, struct evc_err *err)
{
    (void)changed(s); /* what is loaded now is what the watch compares with */
    return reload(s, "asked to reload", err);
}

static void
on_debounce(evutil_socket_t fd, short what, void *arg)
{
    struct evc_server *s = arg;

    (void)fd;
    (void)what;
    struct evc_err err = {0};

    if (changed(s)) {
        (void)reload(s, "a file changed", &err);
    }
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
    struct evc_server *s = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct timeval soon = {0, 2000}; /* writers often touch two files: wait 2 ms */

    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    evtimer_add(s->debounce, &soon);
}

/* Watch the directories of each file, and of what a symlink points at (renew's pair layout). */
static void
watch_dirs(struct evc_server *s)
{
    const char *paths[3] = {s->cert, s->key, s->sa};
    char dirs[WATCH_MAX][PATH_MAX];
    size_t n = 0;

    for (int i = 0; i < 3; i++) {
        char a[PATH_MAX], b[PATH_MAX], *d;

        if (paths[i] == NULL) {
            continue;
        }
        snprintf(a, sizeof(a), "%s", paths[i]);
        d = dirname(a);
        if (n < WATCH_MAX) {
            snprintf(dirs[n++], PATH_MAX, "%s", d);
        }
        if (realpath(paths[i], b) != NULL && strcmp(b, paths[i]) != 0) {
            /* .NAME.evercert/gN/cert: watch .NAME.evercert, where live is switched. */
            d = dirname(dirname(b));
            if (n < WATCH_MAX) {
                snprintf(dirs[n++], PATH_MAX, "%s", d);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (inotify_add_watch(s->inotify_fd, dirs[i],
                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB) ==
            -1) {
            evc_server_logf(s, "%s: cannot watch (%s); checking every second instead", dirs[i],
                            strerror(errno));
        }
    }
}

int
evc_server_watch_start(struct evc_server *s, struct evc_err *err)
{
    struct timeval second = {1, 0};
    uint8_t fp[32];

    (void)changed(s); /* what is loaded now is the baseline */
    evc_tls_server_current(s->tls, fp, &s->sa_generation);
    evc_server_note_sa_size(s);
    s->debounce = evtimer_new(s->base, on_debounce, s);
    s->timer = event_new(s->base, -1, EV_PERSIST, on_debounce, s);
    if (s->debounce == NULL || s->timer == NULL || event_add(s->timer, &second) != 0) {
        return evc_err_set(err, EVC_ERR_NOMEM, "cannot set up the file watch");
    }
    if ((s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) != -1) {
        watch_dirs(s);
        s->inotify_ev = event_new(s->base, s->inotify_fd, EV_READ | EV_PERSIST, on_inotify, s);
        if (s->inotify_ev != NULL) {
            event_add(s->inotify_ev, NULL);
        }
    }
    return 0;
}

void
evc_server_watch_free(struct evc_server *s)
{
    if (s->inotify_ev != NULL) {
        event_free(s->inotify_ev);
        s->inotify_ev = NULL;
    }
    if (s->inotify_fd != -1) {
        close(s->inotify_fd);
        s->inotify_fd = -1;
    }
    if (s->debounce != NULL) {
        event_free(s->debounce);
        s->debounce = NULL;
    }
    if (s->timer != NULL) {
        event_free(s->timer);
        s->timer = NULL;
    }
}
