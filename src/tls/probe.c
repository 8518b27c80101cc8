/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One TLS handshake to learn the served certificate, for `verify =` after
 * a reload: a reload is not proof (nginx keeps the old certificate when
 * the new pair is broken and says so only in its log).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "evercert/tls.h"

/* Split "host:port" or "[v6]:port" into host and port. */
static int
split_hostport(const char *hp, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(hp, ':');
    const char *h = hp;
    size_t n;

    if (colon == NULL || colon[1] == '\0') {
        return -1;
    }
    n = (size_t)(colon - hp);
    if (*h == '[' && n >= 2 && hp[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen) {
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

static int
connect_timeout(const char *host, const char *port, int timeout_ms, struct evc_err *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        evc_err_set(err, EVC_ERR_IO, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct pollfd pfd;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
            continue;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS) {
            soerr = errno;
        } else {
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (poll(&pfd, 1, timeout_ms) != 1) {
                soerr = ETIMEDOUT;
            } else {
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            }
        }
        if (soerr == 0) {
            fcntl(fd, F_SETFL, 0);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            break;
        }
        evc_err_set(err, EVC_ERR_IO, "%s:%s: %s", host, port, strerror(soerr));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int
evc_tls_served_leaf(const char *hostport, const char *servername, int timeout_ms, X509 **out,
                    struct evc_err *err)
{
    char host[256], port[16], sni[256];
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    X509 *leaf = NULL;
    int fd = -1, r = EVC_ERR_INTERNAL;

    *out = NULL;
    if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) != 0) {
        return evc_err_set(err, EVC_ERR_USAGE, "'%s': expected host:port", hostport);
    }
    snprintf(sni, sizeof(sni), "%s", servername != NULL ? servername : host);
    if ((fd = connect_timeout(host, port, timeout_ms, err)) == -1) {
        return EVC_ERR_IO;
    }
    if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL || (ssl = SSL_new(ctx)) == NULL ||
        !SSL_set_fd(ssl, fd) || !SSL_set_tlsext_host_name(ssl, sni)) {
        r = evc_err_openssl(err, EVC_ERR_CRYPTO, "%s: cannot set up TLS", hostport);
        goto out;
    }
    if (SSL_connect(ssl) != 1) {
        r = evc_err_openssl(err, EVC_ERR_IO, "%s: TLS handshake failed", hostport);
        goto out;
    }
    if ((leaf = SSL_get1_peer_certificate(ssl)) == NULL) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: no certificate presented", hostport);
        goto out;
    }
    *out = leaf;
    r = 0;
out:
    if (ssl != NULL) {
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    ERR_clear_error();
    return r;
}
