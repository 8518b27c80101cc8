/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert serve: a TLS server on libevent that shows the hot swap and
 * the push channel at work. Each HTTP request gets the SHA-256 of the
 * certificate its connection was given. The cert, key and SA files are
 * watched (inotify, and a one-second stat as fallback); a change builds a
 * new context and publishes it only if the pair is whole, so a key is
 * never served with a certificate it does not match. Every connection on
 * the announce listener gets each new SA the moment it is loaded, as DER
 * objects back to back.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/tls.h"
#include "base/text.h"
#include "cli.h"

#define REQUEST_MAX 8192 /* a request head longer than this closes the connection */
#define WATCH_MAX 8
#define PUSH_BUFFER_MAX (256 * 1024) /* a listener that reads nothing is dropped */

struct push_conn {
    struct bufferevent *bev;
    struct push_conn *next, *prev;
};

struct serve {
    struct event_base *base;
    struct evc_tls_server *tls;
    const char *cert, *key, *chain, *sa;
    struct evconnlistener *listener, *announce;
    struct event *inotify_ev, *timer, *debounce, *sigterm, *sigint, *resume;
    int inotify_fd;
    struct stat seen[3];
    uint64_t sa_generation;
    uint8_t sa_noted[32]; /* the last SA said to be too large for the handshake */
    struct push_conn *push;
    size_t npush;
    int stopping;
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logf_(const char *fmt, ...)
{
    va_list ap;

    fputs("evercert serve: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* --- requests ------------------------------------------------------------ */

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & BEV_EVENT_CONNECTED) {
        return; /* the handshake is done */
    }
    bufferevent_free(bev); /* EOF, error or timeout: the SSL goes with it */
}

static void
conn_written(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
        bufferevent_get_enabled(bev) == EV_WRITE) {
        bufferevent_free(bev); /* Connection: close, answered */
    }
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end;

    (void)arg;
    for (;;) {
        char head[REQUEST_MAX + 1], hex[65];
        uint8_t fp[32];
        size_t n;
        X509 *mine;
        int close_after;

        end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0) {
            if (evbuffer_get_length(in) > REQUEST_MAX) {
                bufferevent_free(bev);
            }
            return;
        }
        n = (size_t)end.pos + 4;
        if (n > REQUEST_MAX) {
            bufferevent_free(bev);
            return;
        }
        evbuffer_remove(in, head, n);
        head[n] = '\0';
        close_after =
            strstr(head, "Connection: close") != NULL || strstr(head, "connection: close") != NULL;
        mine = SSL_get_certificate(bufferevent_openssl_get_ssl(bev));
        if (mine == NULL || evc_x509_sha256(mine, fp) != 0) {
            memset(fp, 0, sizeof(fp));
        }
        evc_text_hex(fp, 32, hex);
        evbuffer_add_printf(bufferevent_get_output(bev),
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 65\r\n"
                            "%s\r\n%s\n",
                            close_after ? "Connection: close\r\n" : "", hex);
        if (close_after) {
            bufferevent_disable(bev, EV_READ);
            return;
        }
    }
}

/* Small writes (an SA, a short answer) go out at once, not after a delayed ACK. */
static void
no_delay(evutil_socket_t fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
accept_tls(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct serve *s = arg;
    SSL *ssl = evc_tls_server_ssl(s->tls);
    struct bufferevent *bev;
    struct timeval idle = {300, 0};

    (void)l;
    (void)sa;
    (void)len;
    if (ssl == NULL ||
        (bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                              BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        SSL_free(ssl);
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, conn_read, conn_written, conn_event, s);
    bufferevent_set_timeouts(bev, &idle, &idle);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* --- the push channel ---------------------------------------------------- */

static void
push_drop(struct serve *s, struct push_conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->push = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    bufferevent_free(c->bev);
    free(c);
    s->npush--;
}

static void
push_event(struct bufferevent *bev, short what, void *arg)
{
    struct serve *s = arg;

    if (what & BEV_EVENT_CONNECTED) {
        return;
    }
    for (struct push_conn *c = s->push; c != NULL; c = c->next) {
        if (c->bev == bev) {
            push_drop(s, c);
            return;
        }
    }
}

static void
push_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    /* Listeners have nothing to say; what they send is dropped. */
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

/* Write the SA down every announce connection; a reader far behind is dropped. */
static void
push_all(struct serve *s)
{
    struct evc_buf sa;
    struct push_conn *c, *next;

    evc_buf_init(&sa, 1 << 17);
    if (evc_tls_server_sa(s->tls, &sa) != 0 || sa.len == 0) {
        evc_buf_free(&sa);
        return;
    }
    for (c = s->push; c != NULL; c = next) {
        next = c->next;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > PUSH_BUFFER_MAX) {
            push_drop(s, c);
            continue;
        }
        bufferevent_write(c->bev, sa.data, sa.len);
    }
    logf_("pushed the SA (%zu bytes) to %zu announce connection%s", sa.len, s->npush,
          s->npush == 1 ? "" : "s");
    evc_buf_free(&sa);
}

static void
accept_announce(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                void *arg)
{
    struct serve *s = arg;
    SSL *ssl = evc_tls_server_ssl(s->tls);
    struct push_conn *c = calloc(1, sizeof(*c));
    struct evc_buf cur;

    (void)l;
    (void)sa;
    (void)len;
    no_delay(fd);
    if (ssl == NULL || c == NULL ||
        (c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        SSL_free(ssl);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(c->bev, push_read, NULL, push_event, s);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = s->push;
    if (s->push != NULL) {
        s->push->prev = c;
    }
    s->push = c;
    s->npush++;
    /* A new listener gets the SA there is now. */
    evc_buf_init(&cur, 1 << 17);
    if (evc_tls_server_sa(s->tls, &cur) == 0 && cur.len > 0) {
        bufferevent_write(c->bev, cur.data, cur.len);
    }
    evc_buf_free(&cur);
}

/* --- watching the files ---------------------------------------------------- */

/* Say once per SA that it is too large for the handshake. */
static void
note_sa_size(struct serve *s)
{
    struct evc_buf sa;
    uint8_t h[32];

    evc_buf_init(&sa, EVC_SA_MAX + 1);
    if (evc_tls_server_sa(s->tls, &sa) == 0 && sa.len > EVC_SA_HANDSHAKE_MAX &&
        SHA256(sa.data, sa.len, h) != NULL && memcmp(h, s->sa_noted, sizeof(h)) != 0) {
        memcpy(s->sa_noted, h, sizeof(h));
        logf_("%s: the SA is %zu bytes, over the %zu the handshake carries; it goes by the push "
              "channel and URL only",
              s->sa, sa.len, EVC_SA_HANDSHAKE_MAX);
    }
    evc_buf_free(&sa);
}

static void
reload(struct serve *s, const char *why)
{
    struct evc_err err = {0};
    uint8_t fp[32];
    uint64_t gen;
    char hex[65];

    if (evc_tls_server_load(s->tls, s->cert, s->key, s->chain, s->sa, evc_time_now(), &err) != 0) {
        logf_("%s changed, but the new files are not used: %s", why, evc_err_message(&err));
        return;
    }
    evc_tls_server_current(s->tls, fp, &gen);
    evc_text_hex(fp, 32, hex);
    logf_("serving %s (SA generation %llu)", hex, (unsigned long long)gen);
    note_sa_size(s);
    if (gen != s->sa_generation) {
        s->sa_generation = gen;
        push_all(s);
    }
}

/* Has any watched file changed since we last looked (inode, size, time)? */
static int
changed(struct serve *s)
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

static void
on_debounce(evutil_socket_t fd, short what, void *arg)
{
    struct serve *s = arg;

    (void)fd;
    (void)what;
    if (changed(s)) {
        reload(s, "a file");
    }
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
    struct serve *s = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct timeval soon = {0, 2000}; /* writers often touch two files: wait 2 ms */

    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    evtimer_add(s->debounce, &soon);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    on_debounce(-1, 0, arg);
}

/* Watch the directories of each file, and of what a symlink points at (renew's pair layout). */
static void
watch(struct serve *s)
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
            logf_("%s: cannot watch (%s); checking every second instead", dirs[i], strerror(errno));
        }
    }
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct serve *s = arg;
    struct timeval grace = {2, 0};

    (void)what;
    if (s->stopping) {
        return;
    }
    s->stopping = 1;
    logf_("%s: no new connections; stopping in %ld s", strsignal((int)sig), (long)grace.tv_sec);
    if (s->listener != NULL) {
        evconnlistener_disable(s->listener);
    }
    if (s->announce != NULL) {
        evconnlistener_disable(s->announce);
    }
    event_base_loopexit(s->base, &grace);
}

/*
 * accept() failed (out of descriptors, most likely): pause both listeners
 * for 100 ms instead of spinning on a queue we cannot empty.
 */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
    struct serve *s = arg;
    struct timeval pause = {0, 100000};
    int e = EVUTIL_SOCKET_ERROR();

    (void)l;
    if (s->listener != NULL) {
        evconnlistener_disable(s->listener);
    }
    if (s->announce != NULL) {
        evconnlistener_disable(s->announce);
    }
    if (!evtimer_pending(s->resume, NULL)) {
        logf_("cannot accept: %s; pausing new connections for 100 ms",
              evutil_socket_error_to_string(e));
        evtimer_add(s->resume, &pause);
    }
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct serve *s = arg;

    (void)fd;
    (void)what;
    if (s->stopping) {
        return;
    }
    if (s->listener != NULL) {
        evconnlistener_enable(s->listener);
    }
    if (s->announce != NULL) {
        evconnlistener_enable(s->announce);
    }
}

static struct evconnlistener *
listen_on(struct serve *s, const char *addr, evconnlistener_cb cb)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    struct evconnlistener *l;

    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) != 0) {
        evc_cli_error(addr, "expected ADDR:PORT, like 127.0.0.1:8443 or [::1]:8443");
        return NULL;
    }
    l = evconnlistener_new_bind(s->base, cb, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&ss, len);
    if (l == NULL) {
        evc_cli_error(addr, "cannot listen: %s", strerror(errno));
    } else {
        evconnlistener_set_error_cb(l, on_accept_error);
    }
    return l;
}

int
evc_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cert", required_argument, NULL, 'c'},   {"key", required_argument, NULL, 'k'},
        {"chain", required_argument, NULL, 'C'},  {"sa", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'}, {"announce-listen", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct serve s;
    struct evc_err err = {0};
    const char *listen_addr = NULL, *announce_addr = NULL;
    struct timeval second = {1, 0};
    int c, ret = EVC_EXIT_FAILURE;

    memset(&s, 0, sizeof(s));
    s.inotify_fd = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            s.cert = optarg;
            break;
        case 'k':
            s.key = optarg;
            break;
        case 'C':
            s.chain = optarg;
            break;
        case 's':
            s.sa = optarg;
            break;
        case 'l':
            listen_addr = optarg;
            break;
        case 'a':
            announce_addr = optarg;
            break;
        case 'h':
            evc_cli_help("serve", 0);
            return 0;
        default:
            evc_cli_help("serve", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (s.cert == NULL || s.key == NULL || listen_addr == NULL || optind != argc) {
        evc_cli_error("serve", "usage: evercert serve --cert F --key F [--chain F] [--sa F] "
                               "--listen ADDR:PORT [--announce-listen ADDR:PORT]");
        return EVC_EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (evc_tls_server_new(&s.tls, &err) != 0 ||
        evc_tls_server_load(s.tls, s.cert, s.key, s.chain, s.sa, evc_time_now(), &err) != 0) {
        evc_cli_error("serve", "%s", evc_err_message(&err));
        goto out;
    }
    (void)changed(&s);
    {
        uint8_t fp[32];

        evc_tls_server_current(s.tls, fp, &s.sa_generation);
        note_sa_size(&s);
    }
    if ((s.base = event_base_new()) == NULL ||
        (s.resume = evtimer_new(s.base, on_resume, &s)) == NULL ||
        (s.listener = listen_on(&s, listen_addr, accept_tls)) == NULL ||
        (announce_addr != NULL &&
         (s.announce = listen_on(&s, announce_addr, accept_announce)) == NULL)) {
        goto out;
    }
    s.debounce = evtimer_new(s.base, on_debounce, &s);
    s.timer = event_new(s.base, -1, EV_PERSIST, on_timer, &s);
    s.sigterm = evsignal_new(s.base, SIGTERM, on_stop, &s);
    s.sigint = evsignal_new(s.base, SIGINT, on_stop, &s);
    if (s.debounce == NULL || s.timer == NULL || s.sigterm == NULL || s.sigint == NULL ||
        event_add(s.timer, &second) != 0 || event_add(s.sigterm, NULL) != 0 ||
        event_add(s.sigint, NULL) != 0) {
        evc_cli_error("serve", "cannot set up events");
        goto out;
    }
    if ((s.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) != -1) {
        watch(&s);
        s.inotify_ev = event_new(s.base, s.inotify_fd, EV_READ | EV_PERSIST, on_inotify, &s);
        if (s.inotify_ev != NULL) {
            event_add(s.inotify_ev, NULL);
        }
    }
    logf_("listening on %s%s%s", listen_addr, announce_addr != NULL ? ", announcing on " : "",
          announce_addr != NULL ? announce_addr : "");
    event_base_dispatch(s.base);
    ret = 0;
out:
    while (s.push != NULL) {
        push_drop(&s, s.push);
    }
    if (s.listener != NULL) {
        evconnlistener_free(s.listener);
    }
    if (s.announce != NULL) {
        evconnlistener_free(s.announce);
    }
    if (s.inotify_ev != NULL) {
        event_free(s.inotify_ev);
    }
    if (s.inotify_fd != -1) {
        close(s.inotify_fd);
    }
    if (s.debounce != NULL) {
        event_free(s.debounce);
    }
    if (s.resume != NULL) {
        event_free(s.resume);
    }
    if (s.timer != NULL) {
        event_free(s.timer);
    }
    if (s.sigterm != NULL) {
        event_free(s.sigterm);
    }
    if (s.sigint != NULL) {
        event_free(s.sigint);
    }
    if (s.base != NULL) {
        event_base_free(s.base);
    }
    evc_tls_server_free(s.tls);
    return ret;
}
