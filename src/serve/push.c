/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The push channel (docs/PROTOCOL.md, "The push channel"): a TLS listener of its own,
 * not HTTP. Every connection gets the SA there is when it connects and
 * each new SA the moment it is loaded, as DER objects back to back
 * (src/agent/push.c reads them). A client says one thing back: an
 * acknowledgement (docs/PROTOCOL.md) of the generation it installed, which
 * is counted for readiness. Anything else, an acknowledgement over
 * EVC_ACK_MAX, or more than EVC_SERVE_ACK_BURST in EVC_SERVE_ACK_WINDOW_S
 * seconds drops the connection: a client has no reason to, and the
 * server reads no more than one small object at a time. A reader
 * that falls EVC_SERVE_PUSH_BUFFER_MAX behind is dropped, so one slow
 * client cannot make the server hold SAs for it without bound, and one
 * that has not finished its handshake by the request timeout is dropped,
 * so silent sockets cannot hold descriptors.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <time.h>

#include "evercert/announce.h"
#include "evercert/ready.h"
#include "evercert/time.h"
#include "serve/serve_int.h"

struct push_conn {
    struct bufferevent *bev;
    struct event *handshake; /* the deadline of the TLS handshake, then of part of an ack */
    int connected;           /* the handshake is done */
    struct evc_server *s;
    struct push_conn *next, *prev;
    struct sockaddr_storage peer;
    char peer_text[64];
    int64_t acks_at[EVC_SERVE_ACK_BURST]; /* monotonic ms of the last acknowledgements, a ring */
    size_t acks_next, acks_seen;
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
        c->connected = 1;
        return;
    }
    push_drop(c->s, c);
}

static void push_refuse(struct push_conn *c, const char *why);

#define STR_(x) #x
#define STR(x) STR_(x)

/* The handshake, or the rest of an acknowledgement, did not come in time. */
static void
push_late(evutil_socket_t fd, short what, void *arg)
{
    struct push_conn *c = arg;

    (void)fd;
    (void)what;
    if (!c->connected) {
        push_drop(c->s, c);
        return;
    }
    push_refuse(c, "held part of an acknowledgement for " STR(EVC_SERVE_ACK_PARTIAL_S) " s");
}

/* The peer as ADDR:PORT or [ADDR]:PORT, for the log. */
static void
peer_format(const struct sockaddr *sa, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN];

    snprintf(out, n, "?");
    if (sa == NULL) {
        return;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        if (inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a)) != NULL) {
            snprintf(out, n, "%s:%u", a, (unsigned)ntohs(in->sin_port));
        }
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        if (inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)) != NULL) {
            snprintf(out, n, "[%s]:%u", a, (unsigned)ntohs(in6->sin6_port));
        }
    }
}

static void
push_refuse(struct push_conn *c, const char *why)
{
    struct evc_server *s = c->s;

    evc_server_logf(s, "push %s: %s; connection dropped", c->peer_text, why);
    s->st.push_dropped++;
    push_drop(s, c);
}

/* Part of an acknowledgement waits for its rest, at most EVC_SERVE_ACK_PARTIAL_S. */
static void
partial(struct push_conn *c)
{
    struct timeval tv = {EVC_SERVE_ACK_PARTIAL_S, 0};

    if (!event_pending(c->handshake, EV_TIMEOUT, NULL)) {
        (void)event_add(c->handshake, &tv);
    }
}

/* Acknowledgements, whole ones only; anything else ends the connection. */
static void
push_read(struct bufferevent *bev, void *arg)
{
    struct push_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        uint8_t der[EVC_ACK_MAX];
        size_t have = evbuffer_get_length(in), len;
        struct evc_ack a;
        const char *why = NULL;
        int64_t now;

        if (have == 0) {
            event_del(c->handshake);
            return;
        }
        if (have < 2) {
            partial(c);
            return;
        }
        (void)evbuffer_copyout(in, der, 2);
        /* A SEQUENCE with a one-byte length: a longer form is over the cap or not DER. */
        if (der[0] != 0x30) {
            push_refuse(c, "sent something other than an acknowledgement");
            return;
        }
        if ((der[1] & 0x80) != 0) {
            push_refuse(c, "an acknowledgement with a long-form length (over " STR(
                               EVC_ACK_MAX) " bytes, or not DER)");
            return;
        }
        if ((size_t)der[1] + 2 > EVC_ACK_MAX) {
            push_refuse(c, "an acknowledgement over " STR(EVC_ACK_MAX) " bytes");
            return;
        }
        len = (size_t)der[1] + 2;
        if (have < len) {
            partial(c);
            return;
        }
        (void)evbuffer_remove(in, der, len);
        event_del(c->handshake); /* a whole one: the next part has a deadline of its own */
        if (evc_ack_parse(der, len, &a, &why) != 0) {
            char line[160];

            snprintf(line, sizeof(line), "a malformed acknowledgement (%s)",
                     why != NULL ? why : "?");
            push_refuse(c, line);
            return;
        }
        /* A client acknowledges after a write: a few a minute at most, never a stream. */
        now = evc_mono_ms();
        if (c->acks_seen >= EVC_SERVE_ACK_BURST &&
            now - c->acks_at[c->acks_next] < (int64_t)EVC_SERVE_ACK_WINDOW_S * 1000) {
            push_refuse(c, "more than " STR(EVC_SERVE_ACK_BURST) " acknowledgements in " STR(
                               EVC_SERVE_ACK_WINDOW_S) " s");
            return;
        }
        c->acks_at[c->acks_next] = now;
        c->acks_next = (c->acks_next + 1) % EVC_SERVE_ACK_BURST;
        c->acks_seen++;
        c->s->st.acks++;
        evc_server_observe(c->s, (const struct sockaddr *)&c->peer, a.client_id, a.generation,
                           EVC_READY_ACK);
    }
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

/* The same address (not port) as a connection's peer? */
static int
same_peer(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family) {
        return 0;
    }
    if (b->sa_family == AF_INET) {
        return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
                      &((const struct sockaddr_in *)(const void *)b)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    }
    if (b->sa_family == AF_INET6) {
        return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    }
    return 0;
}

/*
 * Room for one more push connection from sa: under EVC_SERVE_PUSH_MAX in
 * all and EVC_SERVE_PUSH_PER_PEER from its address. A refusal is logged
 * once a minute at most, with how many there were.
 */
static int
push_room(struct evc_server *s, const struct sockaddr *sa, int len)
{
    struct push_conn *c;
    size_t same = 0;
    time_t now = time(NULL);

    for (c = s->push; sa != NULL && len > 0 && c != NULL; c = c->next) {
        same += same_peer(&c->peer, sa);
    }
    if (s->npush < EVC_SERVE_PUSH_MAX && same < EVC_SERVE_PUSH_PER_PEER) {
        return 1;
    }
    s->st.push_dropped++;
    s->push_refused++;
    if (now - s->push_refused_said >= 60) {
        char peer[64];

        peer_format(sa, peer, sizeof(peer));
        evc_server_logf(s,
                        "push %s: refused: %zu connections from its address, %zu in all (at most "
                        "%d and %d); %lu refused since the last such line",
                        peer, same, s->npush, EVC_SERVE_PUSH_PER_PEER, EVC_SERVE_PUSH_MAX,
                        s->push_refused);
        s->push_refused = 0;
        s->push_refused_said = now;
    }
    return 0;
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
    if (!push_room(s, sa, len)) {
        SSL_free(ssl);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    /* Small writes (an SA) go out at once, not after a delayed ACK. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ssl == NULL || c == NULL || (c->handshake = evtimer_new(s->base, push_late, c)) == NULL) {
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
    if (sa != NULL && len > 0 && (size_t)len <= sizeof(c->peer)) {
        memcpy(&c->peer, sa, (size_t)len);
    }
    peer_format(sa, c->peer_text, sizeof(c->peer_text));
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
