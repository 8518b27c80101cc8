/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshakes under swaps: two client threads make new and resumed TLS
 * handshakes against `evercert serve` while a third replaces its
 * certificate files N times. It checks, with OpenSSL alone:
 *   - no handshake fails;
 *   - a full handshake that starts after a swap was seen complete presents
 *     that certificate or a later one, never an older one (a resumed one
 *     presents none);
 *   - a connection opened before the first swap still answers after the last;
 *   - resumption keeps working across swaps.
 * Bounded: N swaps, at most 2 s each, at most 50,000 handshakes.
 *
 * usage: loadswap PORT CA.crt DIR N LIVE.crt LIVE.key
 *   DIR holds 0.crt 0.key .. N.crt N.key; LIVE.* start as a copy of 0.*.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#define MAX_GEN 256
#define MAX_HANDSHAKES 50000

static int port;
static SSL_CTX *ctx;
static unsigned char fps[MAX_GEN + 1][32];
static int ngen;
static atomic_int published; /* the newest generation seen served */
static atomic_int done;
static atomic_long handshakes, failures, stale, resumed;

static int
tcp(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd != -1) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* The generation of the certificate an SSL was given, or -1. */
static int
generation_of(SSL *ssl)
{
    X509 *x = SSL_get0_peer_certificate(ssl);
    unsigned char fp[32];
    unsigned int n = 0;

    if (x == NULL || !X509_digest(x, EVP_sha256(), fp, &n)) {
        return -1;
    }
    for (int i = 0; i <= ngen; i++) {
        if (memcmp(fp, fps[i], 32) == 0) {
            return i;
        }
    }
    return -1;
}

/* One handshake; the generation served, or -1 on failure. *sess is used and renewed. */
static int
handshake(SSL_SESSION **sess, int *was_resumed)
{
    int fd = tcp(), g = -1;
    SSL *ssl;

    if (fd == -1) {
        return -1;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "web.test");
    SSL_set1_host(ssl, "web.test");
    if (sess != NULL && *sess != NULL) {
        SSL_set_session(ssl, *sess);
    }
    if (SSL_connect(ssl) == 1 && SSL_get_verify_result(ssl) == X509_V_OK) {
        /* TLS 1.3 tickets arrive after the handshake: read the response to get them. */
        char buf[256];
        const char req[] = "GET / HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n";

        if (SSL_write(ssl, req, sizeof(req) - 1) > 0 && SSL_read(ssl, buf, sizeof(buf)) > 0) {
            g = generation_of(ssl);
            *was_resumed = SSL_session_reused(ssl);
            if (sess != NULL) {
                SSL_SESSION_free(*sess);
                *sess = SSL_get1_session(ssl);
            }
        }
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    return g;
}

static void *
loader(void *arg)
{
    SSL_SESSION *sess = NULL;
    long i = 0;

    (void)arg;
    while (!atomic_load(&done) && atomic_load(&handshakes) < MAX_HANDSHAKES) {
        int before = atomic_load(&published), r = 0;
        /* Every other handshake resumes. */
        int g = handshake(i++ % 2 ? &sess : NULL, &r);

        atomic_fetch_add(&handshakes, 1);
        if (g < 0) {
            atomic_fetch_add(&failures, 1);
        } else if (!r && g < before) {
            /* A resumed handshake presents no certificate: only full ones count. */
            atomic_fetch_add(&stale, 1);
        }
        if (r) {
            atomic_fetch_add(&resumed, 1);
        }
    }
    SSL_SESSION_free(sess);
    return NULL;
}

static int
copy_file(const char *from, const char *to)
{
    char tmp[4096], buf[65536];
    FILE *in = fopen(from, "rb"), *out;
    size_t n;

    snprintf(tmp, sizeof(tmp), "%s.swap", to);
    if (in == NULL || (out = fopen(tmp, "wb")) == NULL) {
        if (in != NULL) {
            fclose(in);
        }
        return -1;
    }
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        fwrite(buf, 1, n, out);
    }
    fclose(in);
    fclose(out);
    return rename(tmp, to);
}

static double
now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    const char *dir, *live_crt, *live_key;
    pthread_t th[2];
    SSL *early;
    int early_fd, ok = 1;
    double slowest = 0;

    if (argc != 7) {
        fprintf(stderr, "usage: loadswap PORT CA.crt DIR N LIVE.crt LIVE.key\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    port = (int)strtol(argv[1], NULL, 10);
    dir = argv[3];
    ngen = (int)strtol(argv[4], NULL, 10);
    live_crt = argv[5];
    live_key = argv[6];
    if (ngen < 1 || ngen > MAX_GEN) {
        return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_file(ctx, argv[2]);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    for (int i = 0; i <= ngen; i++) {
        char p[4096];
        FILE *f;
        X509 *x;
        unsigned int n;

        snprintf(p, sizeof(p), "%s/%d.crt", dir, i);
        if ((f = fopen(p, "r")) == NULL || (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
            fprintf(stderr, "loadswap: %s unreadable\n", p);
            return 2;
        }
        fclose(f);
        X509_digest(x, EVP_sha256(), fps[i], &n);
        X509_free(x);
    }
    /* A connection opened before the first swap. */
    early_fd = tcp();
    early = SSL_new(ctx);
    SSL_set_fd(early, early_fd);
    SSL_set_tlsext_host_name(early, "web.test");
    if (early_fd == -1 || SSL_connect(early) != 1) {
        fprintf(stderr, "loadswap: the first connection failed\n");
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, loader, NULL);
    }
    for (int g = 1; g <= ngen; g++) {
        char c[4096], k[4096];
        double t0 = now_s(), t;
        int seen = -1, r = 0;

        snprintf(c, sizeof(c), "%s/%d.crt", dir, g);
        snprintf(k, sizeof(k), "%s/%d.key", dir, g);
        /* Key, then certificate: the server refuses the mixed pair in between. */
        if (copy_file(k, live_key) != 0 || copy_file(c, live_crt) != 0) {
            fprintf(stderr, "loadswap: cannot write generation %d\n", g);
            return 1;
        }
        while ((seen = handshake(NULL, &r)) != g && now_s() - t0 < 2.0) {
            usleep(1000);
        }
        t = now_s() - t0;
        slowest = t > slowest ? t : slowest;
        if (seen != g) {
            fprintf(stderr, "loadswap: generation %d not served after 2 s\n", g);
            ok = 0;
            break;
        }
        atomic_store(&published, g);
    }
    atomic_store(&done, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    {
        const char req[] = "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n";
        char buf[512];
        int n;

        if (SSL_write(early, req, sizeof(req) - 1) <= 0 ||
            (n = SSL_read(early, buf, sizeof(buf) - 1)) <= 0) {
            fprintf(stderr, "loadswap: the connection opened before the first swap is gone\n");
            ok = 0;
        } else {
            buf[n] = '\0';
            if (strstr(buf, "200 OK") == NULL) {
                ok = 0;
            }
        }
    }
    printf("swaps %d, handshakes %ld, failed %ld, older than a completed swap %ld, resumed %ld, "
           "slowest swap seen after %.0f ms, early connection %s\n",
           ngen, atomic_load(&handshakes), atomic_load(&failures), atomic_load(&stale),
           atomic_load(&resumed), slowest * 1000, ok ? "still served" : "LOST");
    SSL_free(early);
    close(early_fd);
    SSL_CTX_free(ctx);
    return ok && atomic_load(&failures) == 0 && atomic_load(&stale) == 0 &&
                   atomic_load(&resumed) > 0
               ? 0
               : 1;
}
