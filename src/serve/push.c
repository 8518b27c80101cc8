/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The push channel (docs/PROTOCOL.md, "The push channel"): a TLS listener of its own,
 * not HTTP. Every connection gets the SA there is when it connects and
 * each new SA the moment it is loaded, as DER objects back to back
 * (src/agent/push.c reads them). Listeners have nothing to say; a reader
 * that falls EVC_SERVE_PUSH_BUFFER_MAX behind is dropped, so one slow
 * client cannot make the server hold SAs for it without bound, and one
 * that has not finished its handshake by the request timeout is dropped,
 * so silent sockets cannot hold descriptors.
 */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "evercert/announce.h"
#include "serve/serve_int.h"

struct push_conn {
    struct bufferevent *bev;
    struct event *handshake; /* the deadline of the TLS handshake */
    struct evc_server *s;
    struct push_conn *next, *prev;
};

static void
push_drop(struct evc_server *s, struct push_conn *c)
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
    if (c->handshake != NULL) {
        event_free(c->handshake);
    }
    free(c);
    s->npush--;
}

static void
push_event(struct bufferevent *bev, short what, void *arg)
{
    struct push_conn *c = arg;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        event_del(c->handshake);
        return;
    }
    push_drop(c->s, c);
}

static void
push_handshake_late(evutil_socket_t fd, short what, void *arg)
{
    struct push_conn *c = arg;

    (void)fd;
    (void)what;
    push_drop(c->s, c);
}

static void
push_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

void
evc_server_push_all(struct evc_server *s)
{
    struct evc_buf sa;
    struct push_conn *c, *next;

    evc_buf_init(&sa, EVC_SA_MAX);
    if (evc_tls_server_sa(s->tls, &sa) != 0 || sa.len == 0) {
        evc_buf_free(&sa);
        return;
    }
    for (c = s->push; c != NULL; c = next) {
        next = c->next;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > EVC_SERVE_PUSH_BUFFER_MAX) {
            push_drop(s, c);
            continue;
        }
        if (bufferevent_write(c->bev, sa.data, sa.len) == 0) {
            s->st.sa_pushed++;
        }
    }
    evc_server_logf(s, "pushed the SA (%zu bytes) to %zu announce connection%s", sa.len, s->npush,
                    s->npush == 1 ? "" : "s");
    evc_buf_free(&sa);
}

void
evc_server_push_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                       void *arg)
{
    struct evc_server *s = arg;
    SSL *ssl = evc_tls_server_ssl(s->tls);
    struct push_conn *c = calloc(1, sizeof(*c));
    struct evc_buf cur;
    struct timeval tv = {s->request_timeout, 0};
    int one = 1;

    (void)l;
    (void)sa;
    (void)len;
    /* Small writes (an SA) go out at once, not after a delayed ACK. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ssl == NULL || c == NULL ||
        (c->handshake = evtimer_new(s->base, push_handshake_late, c)) == NULL) {
        SSL_free(ssl);
        if (c != NULL && c->handshake != NULL) {
            event_free(c->handshake);
        }
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        /* libevent freed the SSL; its socket BIO does not own fd. */
        event_free(c->handshake);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->s = s;
    (void)event_add(c->handshake, &tv);
    bufferevent_setcb(c->bev, push_read, NULL, push_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = s->push;
    if (s->push != NULL) {
        s->push->prev = c;
    }
    s->push = c;
    s->npush++;
    s->st.push_connections++;
    evc_buf_init(&cur, EVC_SA_MAX);
    if (evc_tls_server_sa(s->tls, &cur) == 0 && cur.len > 0 &&
        bufferevent_write(c->bev, cur.data, cur.len) == 0) {
        s->st.sa_pushed++;
    }
    evc_buf_free(&cur);
}

void
evc_server_push_free(struct evc_server *s)
{
    while (s->push != NULL) {
        push_drop(s, s->push);
    }
}
