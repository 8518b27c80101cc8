/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TLS server with zero-downtime certificate swaps and Successor
 * Announcements, in a few lines of libevercert: SIGHUP reloads the files;
 * a client with an older generation gets the SA in its handshake.
 *
 * usage: example-server PORT CERT KEY [SA]
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <evercert/tls.h>

static volatile sig_atomic_t reload;

static void
on_hup(int sig)
{
    (void)sig;
    reload = 1;
}

int
main(int argc, char **argv)
{
    struct evc_tls_server *srv;
    struct evc_err err = {0};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CERT KEY [SA]\n", argv[0]);
        return 2;
    }
    sa.sin_port = htons((unsigned short)strtol(argv[1], NULL, 10));
    if (evc_tls_server_new(&srv, &err) != 0 ||
        evc_tls_server_load(srv, argv[2], argv[3], NULL, argv[4], evc_time_now(), &err) != 0) {
        fprintf(stderr, "example-server: %s\n", evc_err_message(&err));
        return 1;
    }
    signal(SIGHUP, on_hup);
    signal(SIGPIPE, SIG_IGN); /* a client that leaves must not end the server */
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 16) != 0) {
        perror("example-server");
        return 1;
    }
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        SSL *ssl;

        if (reload) { /* a swap: new handshakes get the new pair; a bad pair keeps the old */
            reload = 0;
            if (evc_tls_server_load(srv, argv[2], argv[3], NULL, argv[4], evc_time_now(), &err))
                fprintf(stderr, "example-server: kept the old pair: %s\n", evc_err_message(&err));
        }
        if (fd < 0 || (ssl = evc_tls_server_ssl(srv)) == NULL)
            continue;
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1)
            SSL_write(ssl, "hello\n", 6);
        SSL_shutdown(ssl);
        SSL_free(ssl);
        close(fd);
    }
}
