/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 responder on the HTTPS addresses, on libevent's evhttp:
 * it frames requests (a body is read by its length and never taken for a
 * request; HEAD gets the head only; HTTP/1.0 closes unless keep-alive is
 * asked; pipelined requests are answered in order), caps the head at
 * EVC_SERVE_HEAD_MAX (answered with a 4xx status line, then closed) and
 * the body at EVC_SERVE_BODY_MAX, and closes a connection silent for the
 * idle timeout. Each connection is TLS on a context taken from the
 * holder at accept, so a swap never changes a connection under way.
 *
 * evhttp restarts its timeout on every read, so a client that drips a
 * byte at a time would hold a connection for ever. Each connection also
 * has a request deadline: from the accept (the handshake included) or
 * from the first byte of a request to that request's end; past it the
 * socket is shut down and evhttp frees the connection. Framing that two
 * parsers could read two ways (Content-Length twice or not plain digits,
 * beside Transfer-Encoding, or on HEAD, whose body evhttp does not read)
 * gets 400 and a close, so nothing after it is taken for a request.
 *
 * A client may close its sending side right after its request (gnutls-cli
 * with its input at an end sends the request and close_notify at once).
 * evhttp would take the close for the end of the connection and drop the
 * answer not yet written, so reading stops from a whole request until its
 * answer is out; evhttp resumes it for the next one. Every connection that
 * made a request ends with a close_notify after its last answer (RFC 8446,
 * 6.1), so the client can tell the end from a cut, and what the client
 * already sent is read first, so the kernel does not answer the close with
 * a reset that could overtake the answer.
 *
 * Answers: "/" and "/ping" give the SHA-256 (hex) of the certificate the
 * connection was given; EVC_SERVE_WELL_KNOWN gives the SA's DER (404 when
 * there is none or it is turned off), and its query's held= and client=
 * are a readiness report; anything else 404.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "evercert/announce.h"
#include "evercert/keys.h"
#include "evercert/ready.h"
#include "base/text.h"
#include "serve/serve_int.h"

/*
 * Empty lines before the first request line are ignored (RFC 9112, 2.2),
 * as this server always did: `echo | openssl s_client` sends a lone
 * newline, which evhttp would answer with 400 and a close. Only the
 * first bytes the connection brings are looked at, then the hook goes,
 * so its cost is bounded by one read.
 */
static void
skip_blank(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    unsigned char c;

    (void)arg;
    if (info->n_added == 0) {
        return; /* our own drain below */
    }
    while (evbuffer_copyout(in, &c, 1) == 1 && (c == '\r' || c == '\n')) {
        evbuffer_drain(in, 1);
    }
    evbuffer_remove_cb(in, skip_blank, NULL);
}

/*
 * The request deadline of one connection. It lives as long as the
 * connection's SSL (freed with it through the ex_data free callback),
 * because evhttp says nothing when it frees a connection that never
 * finished a request.
 */
struct deadline {
    struct event *ev;
    struct bufferevent *bev;
    struct timeval tv;
    int armed;
    int cut; /* the deadline shut the socket: nothing more is written on it */
};

static int deadline_index = -1;
static pthread_once_t deadline_once = PTHREAD_ONCE_INIT;

static void
deadline_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct deadline *d = ptr;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (d != NULL) {
        if (d->ev != NULL) {
            event_free(d->ev);
        }
        free(d);
    }
}

static void
deadline_init(void)
{
    deadline_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, deadline_free);
}

/* Past the deadline: end the socket; evhttp sees the close and frees the connection. */
static void
deadline_fire(evutil_socket_t fd, short what, void *arg)
{
    struct deadline *d = arg;
    evutil_socket_t sock = bufferevent_getfd(d->bev);

    (void)fd;
    (void)what;
    d->armed = 0;
    if (sock >= 0) {
        d->cut = 1;
        (void)shutdown(sock, SHUT_RDWR);
    }
}

static struct deadline *
deadline_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;

    return ssl != NULL ? SSL_get_ex_data(ssl, deadline_index) : NULL;
}

/* The first bytes of a request start its deadline. */
static void
deadline_start(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    struct deadline *d = arg;

    (void)in;
    if (info->n_added > 0 && !d->armed && event_add(d->ev, &d->tv) == 0) {
        d->armed = 1;
    }
}

/*
 * evhttp is about to free the connection (after an answer with a close,
 * the client's close, the idle timeout, an error). Only when everything
 * was written: a close_notify after a cut answer would say it was whole.
 */
static void
on_close(struct evhttp_connection *evcon, void *arg)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    struct deadline *d = ssl != NULL ? SSL_get_ex_data(ssl, deadline_index) : NULL;
    char sink[4096];
    size_t drained = 0;
    ssize_t n;

    (void)arg;
    if (ssl == NULL || fd < 0 || (d != NULL && d->cut)) {
        return;
    }
    if (SSL_is_init_finished(ssl) && (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) == 0 &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        (void)SSL_shutdown(ssl); /* one record; the socket takes it or the client never sees it */
    }
    ERR_clear_error();
    /*
     * Bytes received and never read make close() send a reset, which may
     * overtake the answer and the close_notify; what has arrived is read
     * and dropped (at most EVC_SERVE_DRAIN_MAX, without waiting).
     */
    (void)shutdown(fd, SHUT_WR);
    while (drained < EVC_SERVE_DRAIN_MAX && (n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
        drained += (size_t)n;
    }
}

/* Every accepted connection gets its own SSL on the published context. */
static struct bufferevent *
on_connection(struct event_base *base, void *arg)
{
    struct evc_server *s = arg;
    SSL *ssl = evc_tls_server_ssl(s->tls);
    struct bufferevent *bev;
    struct deadline *d;

    /*
     * Returning NULL (out of memory only) makes evhttp read the socket as
     * plain HTTP: a client's ClientHello is no request line, so it gets a
     * 400 in the clear and a close, and nothing is served.
     */
    if (ssl == NULL) {
        return NULL;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL || SSL_set_ex_data(ssl, deadline_index, d) != 1) {
        free(d);
        SSL_free(ssl);
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        return NULL; /* libevent freed the SSL (BEV_OPT_CLOSE_ON_FREE), and d with it */
    }
    d->bev = bev;
    d->tv.tv_sec = s->request_timeout;
    /* From the accept: the handshake and the first request share one deadline. */
    if ((d->ev = evtimer_new(base, deadline_fire, d)) == NULL || event_add(d->ev, &d->tv) != 0 ||
        evbuffer_add_cb(bufferevent_get_input(bev), skip_blank, NULL) == NULL ||
        evbuffer_add_cb(bufferevent_get_input(bev), deadline_start, d) == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    d->armed = 1;
    s->st.connections++;
    return bev;
}

/* Framing another parser could read otherwise: refuse it, and close. */
static int
ambiguous(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *cl = NULL;
    int ncl = 0, te = 0;

    for (struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        if (evutil_ascii_strcasecmp(kv->key, "Content-Length") == 0) {
            ncl++;
            cl = kv->value;
        } else if (evutil_ascii_strcasecmp(kv->key, "Transfer-Encoding") == 0) {
            te = 1;
        }
    }
    if (ncl > 1 || (ncl == 1 && te)) {
        return 1;
    }
    if (cl != NULL) {
        if (*cl == '\0' || strspn(cl, "0123456789") != strlen(cl)) {
            return 1;
        }
    }
    /* evhttp reads no body for HEAD; one announced would be taken for the next request. */
    return evhttp_request_get_command(req) == EVHTTP_REQ_HEAD &&
           (te || (cl != NULL && strspn(cl, "0") != strlen(cl)));
}

static void
reply(struct evhttp_request *req, int code, const char *reason, const char *type, const void *p,
      size_t n)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    char len[24];

    /*
     * Always a length, also for HEAD (what GET would send; evhttp sends no
     * body for HEAD) and for HTTP/1.0, where a close would otherwise end it.
     */
    snprintf(len, sizeof(len), "%zu", n);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Length", len);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && n > 0) {
        evbuffer_add(evhttp_request_get_output_buffer(req), p, n);
    }
    evhttp_send_reply(req, code, reason, NULL);
    /*
     * evhttp reads on while it writes, to see a close; a close_notify
     * read now would free the connection with this answer unwritten.
     * The answer is only queued (written from the loop), so bev lives;
     * evhttp reads again once it is out.
     */
    if (bev != NULL) {
        (void)bufferevent_disable(bev, EV_READ);
    }
}

/* The fingerprint of the certificate this connection's handshake used. */
static void
reply_fingerprint(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *mine = ssl != NULL ? SSL_get_certificate(ssl) : NULL;
    uint8_t fp[32];
    char line[66];

    if (mine == NULL || evc_x509_sha256(mine, fp) != 0) {
        memset(fp, 0, sizeof(fp));
    }
    evc_text_hex(fp, 32, line);
    line[64] = '\n';
    line[65] = '\0';
    reply(req, HTTP_OK, "OK", "text/plain", line, 65);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct evc_server *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct deadline *d;
    struct evc_buf sa;

    s->st.requests++;
    if (evcon != NULL) {
        evhttp_connection_set_closecb(evcon, on_close, s);
    }
    if ((d = deadline_of(req)) != NULL && d->armed) {
        event_del(d->ev); /* this request is whole; the next one's first byte starts anew */
        d->armed = 0;
    }
    if (ambiguous(req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        reply(req, HTTP_BADREQUEST, "Bad Request", "text/plain", "ambiguous framing\n", 18);
        return;
    }
    /*
     * An absolute-form target is an origin server's too (RFC 9112, 3.2.2):
     * evhttp marks it a proxy request, answers without a Connection header
     * and closes, so a pipelined request went unanswered. Served as any other.
     */
    req->flags &= ~EVHTTP_PROXY_REQUEST;
    /* Only what is served; the rest is 405 with what is allowed, in plain text. */
    if ((evhttp_request_get_command(req) & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST)) ==
        0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, POST");
        reply(req, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
        return;
    }
    /* What came with the request was read by its length; nothing answers to it. */
    evbuffer_drain(evhttp_request_get_input_buffer(req),
                   evbuffer_get_length(evhttp_request_get_input_buffer(req)));
    if (path != NULL && (strcmp(path, "/") == 0 || strcmp(path, "/ping") == 0)) {
        reply_fingerprint(req);
        return;
    }
    if (path != NULL && s->well_known && strcmp(path, EVC_SERVE_WELL_KNOWN) == 0) {
        const char *q = evhttp_uri_get_query(uri);
        char id[EVC_ACK_ID_MAX + 1];
        uint64_t held;

        /* ?held=G&client=ID: what this client holds (docs/PROTOCOL.md); a bad query says nothing.
         */
        if (q != NULL && evcon != NULL && evc_ready_query_parse(q, strlen(q), &held, id) == 1) {
            evc_server_observe(s, evhttp_connection_get_addr(evcon), id, held, EVC_READY_URL);
        }
        evc_buf_init(&sa, EVC_SA_MAX);
        if (evc_tls_server_sa(s->tls, &sa) == 0 && sa.len > 0) {
            if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
                s->st.sa_by_url++;
            }
            reply(req, HTTP_OK, "OK", "application/octet-stream", sa.data, sa.len);
            evc_buf_free(&sa);
            return;
        }
        evc_buf_free(&sa);
    }
    s->st.not_found++;
    reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", "not found\n", 10);
}

int
evc_server_http_new(struct evc_server *s, int idle_timeout, struct evc_err *err)
{
    if (pthread_once(&deadline_once, deadline_init) != 0 || deadline_index < 0) {
        return evc_err_set(err, EVC_ERR_NOMEM, "cannot set up the request deadline");
    }
    if ((s->http = evhttp_new(s->base)) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "cannot set up the HTTP responder");
    }
    evhttp_set_bevcb(s->http, on_connection, s);
    evhttp_set_gencb(s->http, on_request, s);
    /* Every method evhttp knows reaches on_request, which says 405 to all but three. */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(s->http, EVC_SERVE_HEAD_MAX);
    evhttp_set_max_body_size(s->http, EVC_SERVE_BODY_MAX);
    evhttp_set_timeout(s->http, idle_timeout);
    return 0;
}

void
evc_server_http_free(struct evc_server *s)
{
    if (s->http != NULL) {
        evhttp_free(s->http); /* its connections and listeners with it */
        s->http = NULL;
        s->nlisteners = 0;
    }
}
