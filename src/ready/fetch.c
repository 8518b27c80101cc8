/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /status from the status listener of an `evercert serve` (the
 * monitor asks it whether the clients are ready). Plain HTTP/1.0 on TCP
 * or a unix socket, one deadline for the connect, the request and the
 * whole answer, and the answer capped, so a listener that is slow or
 * talks too much cannot hold the monitor.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "evercert/ready.h"
#include "evercert/time.h"

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, long deadline)
{
    for (;;) {
        struct pollfd pfd = {fd, events, 0};
        long left = deadline - evc_mono_ms();
        int n;

        if (left <= 0) {
            return 0;
        }
        n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0) {
            return 1;
        }
        if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
}

static int
split(const char *where, char *host, size_t hl, char *port, size_t pl)
{
    const char *colon;
    size_t n;

    if (where[0] == '[') {
        const char *rb = strchr(where, ']');

        if (rb == NULL || rb[1] != ':') {
            return -1;
        }
        n = (size_t)(rb - where - 1);
        colon = rb + 1;
        where++;
    } else {
        if ((colon = strrchr(where, ':')) == NULL) {
            return -1;
        }
        n = (size_t)(colon - where);
    }
    if (n == 0 || n >= hl || strlen(colon + 1) == 0 || strlen(colon + 1) >= pl) {
        return -1;
    }
    memcpy(host, where, n);
    host[n] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

/* A non-blocking connect to where within deadline: the socket, or -1 with err set. */
static int
connect_to(const char *where, long deadline, struct evc_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = -1, fam;
    struct addrinfo hints, *res = NULL;
    int soerr = 0;
    socklen_t el = sizeof(soerr);

    memset(&ss, 0, sizeof(ss));
    if (strncmp(where, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        size_t n = strlen(where + 5);

        if (n == 0 || n >= sizeof(un->sun_path)) {
            evc_err_set(err, EVC_ERR_USAGE, "%s: expected unix:PATH (a path of at most %zu bytes)",
                        where, sizeof(un->sun_path) - 1);
            return -1;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, where + 5, n + 1);
        sl = (socklen_t)sizeof(*un);
        fam = AF_UNIX;
    } else {
        char host[256], port[32];
        int rc;

        if (split(where, host, sizeof(host), port, sizeof(port)) != 0) {
            evc_err_set(err, EVC_ERR_USAGE, "%s: expected HOST:PORT, [V6]:PORT or unix:PATH",
                        where);
            return -1;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        /* Numeric only: a name lookup has no deadline and would hold the monitor's pass. */
        hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
        if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
            evc_err_set(err, EVC_ERR_IO, "%s: %s", where, gai_strerror(rc));
            return -1;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        sl = res->ai_addrlen;
        fam = res->ai_family;
        freeaddrinfo(res);
    }
    if ((fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        evc_err_set(err, EVC_ERR_IO, "%s: socket: %s", where, strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        int w;

        if (errno != EINPROGRESS && errno != EAGAIN) {
            evc_err_set(err, EVC_ERR_IO, "%s: %s", where, strerror(errno));
            close(fd);
            return -1;
        }
        if ((w = wait_fd(fd, POLLOUT, deadline)) <= 0) {
            evc_err_set(err, EVC_ERR_IO, "%s: %s", where,
                        w == 0 ? "timed out connecting" : strerror(errno));
            close(fd);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0) {
            evc_err_set(err, EVC_ERR_IO, "%s: %s", where, strerror(soerr != 0 ? soerr : errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

int
evc_ready_status_fetch(const char *where, long timeout_ms, struct evc_ready_summary *out,
                       struct evc_err *err)
{
    static const char req[] =
        "GET /status HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    long deadline = evc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    struct evc_buf b;
    size_t off = 0;
    int fd, r = EVC_ERR_IO, w;
    const uint8_t *body;
    const uint8_t *hend;

    memset(out, 0, sizeof(*out));
    evc_buf_init(&b, EVC_READY_STATUS_MAX + EVC_SERVE_HEAD_MAX);
    if ((fd = connect_to(where, deadline, err)) < 0) {
        return err != NULL && err->code != 0 ? err->code : EVC_ERR_IO;
    }
    while (off < sizeof(req) - 1) {
        ssize_t k = send(fd, req + off, sizeof(req) - 1 - off, MSG_NOSIGNAL);

        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EINTR) {
            r = evc_err_set(err, EVC_ERR_IO, "%s: %s", where, strerror(errno));
            goto out;
        }
        if ((w = wait_fd(fd, POLLOUT, deadline)) <= 0) {
            r = evc_err_set(err, EVC_ERR_IO, "%s: %s", where, w == 0 ? "timed out" : "poll failed");
            goto out;
        }
    }
    for (;;) {
        uint8_t chunk[4096];
        ssize_t k = recv(fd, chunk, sizeof(chunk), 0);

        if (k == 0) {
            break;
        }
        if (k > 0) {
            if (evc_buf_put(&b, chunk, (size_t)k) != 0) {
                r = evc_err_set(err, EVC_ERR_LIMIT, "%s: the answer is over %zu bytes", where,
                                (size_t)(EVC_READY_STATUS_MAX + EVC_SERVE_HEAD_MAX));
                goto out;
            }
            continue;
        }
        if (errno != EAGAIN && errno != EINTR) {
            r = evc_err_set(err, EVC_ERR_IO, "%s: %s", where, strerror(errno));
            goto out;
        }
        if ((w = wait_fd(fd, POLLIN, deadline)) <= 0) {
            r = evc_err_set(err, EVC_ERR_IO, "%s: %s", where,
                            w == 0 ? "timed out reading the status" : "poll failed");
            goto out;
        }
    }
    (void)evc_buf_str(&b);
    if (b.len < 12 || memcmp(b.data, "HTTP/1.", 7) != 0 || b.data[8] != ' ') {
        r = evc_err_set(err, EVC_ERR_IO, "%s: not an HTTP answer", where);
        goto out;
    }
    if (memcmp(b.data + 9, "200", 3) != 0) {
        const char *c = (const char *)b.data + 9;

        /* The peer's bytes are printed only as three digits and a line of plain text. */
        if (c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9') {
            r = evc_err_set(err, EVC_ERR_IO, "%s: not an HTTP status", where);
        } else {
            char why[81];
            size_t k = 0;

            why[0] = '\0';
            if ((hend = memmem(b.data, b.len, "\r\n\r\n", 4)) != NULL) {
                const uint8_t *m = hend + 4, *e = b.data + b.len;

                while (m < e && k + 1 < sizeof(why) && *m >= 0x20 && *m < 0x7f) {
                    why[k++] = (char)*m++;
                }
                why[k] = '\0';
            }
            r = evc_err_set(err, EVC_ERR_IO, "%s: HTTP status %.3s%s%s", where, c,
                            k > 0 ? ": " : "", why);
        }
        goto out;
    }
    if ((hend = memmem(b.data, b.len, "\r\n\r\n", 4)) == NULL) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: the answer has no end of head", where);
        goto out;
    }
    body = hend + 4;
    if ((r = evc_ready_status_parse(body, b.len - (size_t)(body - b.data), out, err)) != 0) {
        char detail[EVC_ERR_DETAIL_MAX];

        if (err != NULL) {
            memcpy(detail, err->detail, sizeof(detail));
            (void)evc_err_set(err, r, "%s: %s", where, detail);
        }
        goto out;
    }
    r = 0;
out:
    close(fd);
    evc_buf_free(&b);
    return r;
}
