/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TLS server with zero-downtime certificate swaps and Successor
 * Announcements, in a few lines of libevercert: evc_server on an event
 * base this program owns. The server swaps when the files change; SIGHUP
 * reloads them at once. A client with an older generation gets the SA in
 * its handshake, and any client at /.well-known/evercert/successor.
 *
 * usage: example-server PORT CERT KEY [SA]
 */
#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#include <evercert/serve.h>

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct evc_err err = {0};

    (void)sig;
    (void)what;
    /* A swap: new handshakes get the new pair; a bad pair keeps the old. */
    if (evc_server_reload(arg, &err) != 0) {
        fprintf(stderr, "example-server: kept the old pair: %s\n", evc_err_message(&err));
    }
}

int
main(int argc, char **argv)
{
    struct evc_server_opts o = {0};
    struct evc_server *srv = NULL;
    struct evc_err err = {0};
    struct event_base *base;
    struct event *hup;
    char addr[64];
    const char *listen[1] = {addr};

    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CERT KEY [SA]\n", argv[0]);
        return 2;
    }
    snprintf(addr, sizeof(addr), "127.0.0.1:%s", argv[1]);
    o.listen = listen;
    o.nlisten = 1;
    o.cert = argv[2];
    o.key = argv[3];
    o.sa = argv[4];           /* NULL when not given */
    o.handle_signals = 1;     /* SIGTERM and SIGINT stop it */
    signal(SIGPIPE, SIG_IGN); /* a client that leaves must not end the server */
    if ((base = event_base_new()) == NULL || evc_server_new(&srv, &o, base, &err) != 0) {
        fprintf(stderr, "example-server: %s\n", evc_err_message(&err));
        return 1;
    }
    hup = evsignal_new(base, SIGHUP, on_hup, srv);
    evsignal_add(hup, NULL);
    event_base_dispatch(base);
    event_free(hup);
    evc_server_free(srv);
    event_base_free(base);
    return 0;
}
