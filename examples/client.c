/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TLS client that learns its server's successor in the handshake and
 * decides on it, in a few lines of libevercert.
 *
 * usage: example-client PORT CA SERVICE HAVE-GENERATION
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <evercert/announce.h>
#include <evercert/tls.h>

int
main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evc_err err = {0};
    struct evc_buf got;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (argc != 5 || ctx == NULL) {
        fprintf(stderr, "usage: %s PORT CA SERVICE HAVE-GENERATION\n", argv[0]);
        return 2;
    }
    sa.sin_port = htons((unsigned short)strtol(argv[1], NULL, 10));
    SSL_CTX_load_verify_file(ctx, argv[2]);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (evc_tls_client_enable(ctx, &err) != 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        fprintf(stderr, "example-client: cannot connect\n");
        return 1;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, argv[3]);
    SSL_set1_host(ssl, argv[3]);
    evc_buf_init(&got, EVC_SA_MAX);
    if (evc_tls_client_set_generation(ssl, strtoull(argv[4], NULL, 10)) != 0 ||
        SSL_connect(ssl) != 1 || evc_tls_client_sa(ssl, &got, &err) != 0) {
        fprintf(stderr, "example-client: handshake failed\n");
        return 1;
    }
    if (got.len == 0) {
        printf("no successor announced\n");
    } else {
        /* Decide as a client would, against the certificate trusted now: the one presented. */
        struct evc_sa_known known = {SSL_get0_peer_certificate(ssl), argv[3],
                                     strtoull(argv[4], NULL, 10), NULL};
        struct evc_sa_policy policy = {EVC_SA_POLICY_AUTO, NULL, 0};
        struct evc_sa_verdict v;

        if (evc_sa_verify(got.data, got.len, &known, &policy, evc_time_now(), &v) == 0)
            printf("%s: %s\n", evc_sa_decision_name(v.decision), v.message);
        evc_sa_verdict_clear(&v);
    }
    evc_buf_free(&got);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}
