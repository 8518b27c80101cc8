/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Readiness in the server: every client report (a handshake's extension,
 * an acknowledgement on the push channel, the query of a well-known
 * fetch) goes to the tracker with the peer's address, and the status
 * listener answers GET /status (the status text) and GET /metrics
 * (Prometheus) in plain HTTP. The listener has no authentication: it is
 * meant for loopback or a unix socket, which is made 0600.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "evercert/ready.h"
#include "base/file.h"
#include "serve/serve_int.h"

void
evc_server_observe(struct evc_server *s, const struct sockaddr *peer, const char *id, uint64_t held,
                   int src)
{
    if (s->ready != NULL && peer != NULL) {
        evc_ready_observe(s->ready, peer, id, held, (enum evc_ready_source)src, evc_time_now());
    }
}

/*
 * The count behind /status and /metrics, made at most once a second (and
 * again when the SA changes): a count sorts every entry, and GETs must not
 * make the event loop do it per request. NULL when out of memory.
 */
static const struct evc_ready_summary *
readiness(struct evc_server *s)
{
    uint8_t fp[32];
    uint64_t gen = 0;
    evc_time now = evc_time_now();

    evc_tls_server_current(s->tls, fp, &gen);
    if (s->status_cache == NULL &&
        (s->status_cache = calloc(1, sizeof(*s->status_cache))) == NULL) {
        return NULL;
    }
    if (s->status_cache->at != now || s->status_cache_gen != gen) {
        evc_ready_count(s->ready, gen, now, s->status_cache);
        s->status_cache_gen = gen;
        s->st.status_counts++;
    }
    return s->status_cache;
}

void
evc_server_readiness(struct evc_server *s, struct evc_ready_summary *out)
{
    const struct evc_ready_summary *c = s->ready != NULL ? readiness(s) : NULL;

    if (c != NULL) {
        *out = *c;
    } else {
        /* Off or out of memory: an empty count, never complete, never met. */
        evc_ready_count(NULL, 0, evc_time_now(), out);
    }
}

static void
status_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
             const void *p, size_t n)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char len[24];

    snprintf(len, sizeof(len), "%zu", n);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Length", len);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && n > 0) {
        evbuffer_add(evhttp_request_get_output_buffer(req), p, n);
    }
    evhttp_send_reply(req, code, reason, NULL);
}

static int
serve_metrics(const struct evc_server_stats *st, size_t npush, struct evc_buf *b)
{
    return evc_buf_printf(
        b,
        "# HELP evercert_serve_connections_total Connections accepted on the HTTPS addresses.\n"
        "# TYPE evercert_serve_connections_total counter\nevercert_serve_connections_total %llu\n"
        "# HELP evercert_serve_requests_total HTTP requests answered.\n"
        "# TYPE evercert_serve_requests_total counter\nevercert_serve_requests_total %llu\n"
        "# HELP evercert_serve_sa_by_url_total SAs sent at the well-known URL.\n"
        "# TYPE evercert_serve_sa_by_url_total counter\nevercert_serve_sa_by_url_total %llu\n"
        "# HELP evercert_serve_push_connections Open push connections.\n"
        "# TYPE evercert_serve_push_connections gauge\nevercert_serve_push_connections %zu\n"
        "# HELP evercert_serve_sa_pushed_total SAs written down push connections.\n"
        "# TYPE evercert_serve_sa_pushed_total counter\nevercert_serve_sa_pushed_total %llu\n"
        "# HELP evercert_serve_acks_total Acknowledgements read on the push channel.\n"
        "# TYPE evercert_serve_acks_total counter\nevercert_serve_acks_total %llu\n"
        "# HELP evercert_serve_push_dropped_total Push connections dropped for what they sent.\n"
        "# TYPE evercert_serve_push_dropped_total counter\nevercert_serve_push_dropped_total %llu\n"
        "# HELP evercert_serve_swaps_total Contexts published after the first.\n"
        "# TYPE evercert_serve_swaps_total counter\nevercert_serve_swaps_total %llu\n"
        "# HELP evercert_serve_refused_total Changed files not used.\n"
        "# TYPE evercert_serve_refused_total counter\nevercert_serve_refused_total %llu\n"
        "# HELP evercert_serve_readiness_counts_total Counts of the clients made (at most one a "
        "second).\n"
        "# TYPE evercert_serve_readiness_counts_total counter\n"
        "evercert_serve_readiness_counts_total %llu\n",
        (unsigned long long)st->connections, (unsigned long long)st->requests,
        (unsigned long long)st->sa_by_url, npush, (unsigned long long)st->sa_pushed,
        (unsigned long long)st->acks, (unsigned long long)st->push_dropped,
        (unsigned long long)st->swaps, (unsigned long long)st->refused,
        (unsigned long long)st->status_counts);
}

/*
 * A Host a local client sends: none, localhost, or an address literal. A
 * name is a page in a browser that a DNS answer pointed here (rebinding),
 * which must not read the clients' addresses.
 */
static int
host_is_local(const char *host)
{
    char h[INET6_ADDRSTRLEN + 8];
    unsigned char a[16];
    size_t n;

    if (host == NULL) {
        return 1;
    }
    if (host[0] == '[') {
        n = strcspn(host + 1, "]");
        if (host[1 + n] != ']' || n >= sizeof(h)) {
            return 0;
        }
        memcpy(h, host + 1, n);
        h[n] = '\0';
        return inet_pton(AF_INET6, h, a) == 1;
    }
    n = strcspn(host, ":");
    if (n >= sizeof(h)) {
        return 0;
    }
    memcpy(h, host, n);
    h[n] = '\0';
    return strcasecmp(h, "localhost") == 0 || inet_pton(AF_INET, h, a) == 1;
}

static void
on_status(struct evhttp_request *req, void *arg)
{
    struct evc_server *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const struct evc_ready_summary *sum;
    struct evc_buf b;
    int metrics = path != NULL && strcmp(path, "/metrics") == 0;

    s->st.status_requests++;
    if (!host_is_local(evhttp_find_header(evhttp_request_get_input_headers(req), "Host"))) {
        static const char why[] = "only a local Host: an address or localhost\n";

        status_reply(req, 403, "Forbidden", "text/plain", why, sizeof(why) - 1);
        return;
    }
    if (path == NULL || (!metrics && strcmp(path, "/status") != 0)) {
        status_reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", "not found\n", 10);
        return;
    }
    if (s->ready == NULL && !metrics) {
        /* Counting is off: an empty count would read as "nobody to wait for". */
        status_reply(req, HTTP_SERVUNAVAIL, "Service Unavailable", "text/plain",
                     "readiness is not counted\n", 25);
        return;
    }
    evc_buf_init(&b, (size_t)1 << 20);
    if (s->ready == NULL) {
        if (serve_metrics(&s->st, s->npush, &b) != 0) {
            status_reply(req, HTTP_INTERNAL, "Internal Server Error", "text/plain", "no memory\n",
                         10);
        } else {
            status_reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4", b.data, b.len);
        }
        evc_buf_free(&b);
        return;
    }
    if ((sum = readiness(s)) == NULL ||
        (metrics ? (evc_ready_prometheus(sum, &b) != 0 || serve_metrics(&s->st, s->npush, &b) != 0)
                 : evc_ready_status_text(sum, &b) != 0)) {
        status_reply(req, HTTP_INTERNAL, "Internal Server Error", "text/plain", "no memory\n", 10);
    } else {
        status_reply(req, HTTP_OK, "OK",
                     metrics ? "text/plain; version=0.0.4" : "text/plain; charset=utf-8", b.data,
                     b.len);
    }
    evc_buf_free(&b);
}

/* A unix socket at path, made 0600 before anyone can connect; a stale one is replaced. */
static int
unix_listen(const char *path, struct evc_err *err)
{
    struct sockaddr_un un;
    struct stat st;
    size_t n = strlen(path);
    int fd = -1;
    mode_t old;

    memset(&un, 0, sizeof(un));
    if (n == 0 || n >= sizeof(un.sun_path)) {
        evc_err_set(err, EVC_ERR_USAGE, "unix:%s: a socket path is 1 to %zu bytes", path,
                    sizeof(un.sun_path) - 1);
        return -1;
    }
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, n + 1);
    if (lstat(path, &st) == 0) {
        int probe;

        if (!S_ISSOCK(st.st_mode)) {
            evc_err_set(err, EVC_ERR_EXISTS, "unix:%s: exists and is not a socket", path);
            return -1;
        }
        /* A socket someone answers on is in use; one nobody answers on is left over. */
        if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
            int live = connect(probe, (struct sockaddr *)&un, sizeof(un)) == 0;

            close(probe);
            if (live) {
                evc_err_set(err, EVC_ERR_BUSY, "unix:%s: another process listens there", path);
                return -1;
            }
        }
        (void)unlink(path);
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        evc_err_set(err, EVC_ERR_IO, "unix:%s: socket: %s", path, strerror(errno));
        return -1;
    }
    /* The mode comes from the umask at bind: no moment with a wider one. */
    old = umask(0177);
    if (bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0) {
        int e = errno;

        umask(old);
        close(fd);
        evc_err_set(err, evc_errno_code(e), "unix:%s: cannot listen: %s", path, strerror(e));
        return -1;
    }
    umask(old);
    if (chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
        int e = errno;

        close(fd);
        (void)unlink(path);
        evc_err_set(err, EVC_ERR_IO, "unix:%s: cannot listen: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
static int
loopback(const struct sockaddr_storage *ss)
{
    const uint8_t *a;

    if (ss->ss_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr;
        return a[0] == 127;
    }
    if (ss->ss_family == AF_INET6) {
        static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        a = ((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr.s6_addr;
        return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
    }
    return 0;
}

int
evc_server_status_new(struct evc_server *s, const char *where, struct evc_err *err)
{
    struct evhttp_bound_socket *bound = NULL;

    if ((s->status_http = evhttp_new(s->base)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "cannot set up the status listener");
    }
    evhttp_set_gencb(s->status_http, on_status, s);
    evhttp_set_allowed_methods(s->status_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_max_headers_size(s->status_http, EVC_SERVE_HEAD_MAX);
    evhttp_set_max_body_size(s->status_http, 0);
    evhttp_set_timeout(s->status_http, 30);
    if (strncmp(where, "unix:", 5) == 0) {
        int fd = unix_listen(where + 5, err);

        if (fd < 0) {
            return err != NULL && err->code != 0 ? err->code : EVC_ERR_IO;
        }
        if ((s->status_unix = strdup(where + 5)) == NULL ||
            (bound = evhttp_accept_socket_with_handle(s->status_http, fd)) == NULL) {
            close(fd);
            return evc_err_set(err, EVC_ERR_NOMEM, "%s: cannot serve HTTP", where);
        }
        return 0;
    }
    {
        struct sockaddr_storage ss;
        int len = (int)sizeof(ss);
        struct evconnlistener *l;

        memset(&ss, 0, sizeof(ss));
        if (evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &len) != 0) {
            return evc_err_set(err, EVC_ERR_USAGE,
                               "%s: expected ADDR:PORT (127.0.0.1:9443, [::1]:9443) or unix:PATH",
                               where);
        }
        l = evconnlistener_new_bind(
            s->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
            128, (struct sockaddr *)&ss, len);
        if (l == NULL) {
            return evc_err_set(err, EVC_ERR_IO, "%s: cannot listen: %s", where, strerror(errno));
        }
        if (evhttp_bind_listener(s->status_http, l) == NULL) {
            evconnlistener_free(l);
            return evc_err_set(err, EVC_ERR_NOMEM, "%s: cannot serve HTTP", where);
        }
        if (!loopback(&ss)) {
            evc_server_logf(s,
                            "the status listener %s is not on loopback: it has no "
                            "authentication, anyone who reaches it reads the clients",
                            where);
        }
    }
    return 0;
}

void
evc_server_status_free(struct evc_server *s)
{
    free(s->status_cache);
    s->status_cache = NULL;
    if (s->status_http != NULL) {
        evhttp_free(s->status_http);
        s->status_http = NULL;
    }
    if (s->status_unix != NULL) {
        (void)unlink(s->status_unix);
        free(s->status_unix);
        s->status_unix = NULL;
    }
}
