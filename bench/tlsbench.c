/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS measurements against any server on 127.0.0.1, with OpenSSL alone:
 *
 *   tlsbench rate PORT SECONDS THREADS full|resumed|sa|ext
 *       handshakes per second (TLS 1.3, EC P-256); "sa" sends the evercert
 *       extension with generation 0 and reports the bytes the server sent;
 *       "ext" sends it with the highest generation (the server counts it
 *       for readiness and sends no SA)
 *   tlsbench swap PORT NEW.crt IDLE -- COMMAND...
 *       opens IDLE keep-alive connections, runs COMMAND (a reload or a
 *       file swap), then reports the ms until the first handshake with
 *       NEW.crt, how many handshakes got the old one after that in the next
 *       200 ms (interleaving), and how many idle connections still answer.
 *   tlsbench http PORT SECONDS THREADS PATH
 *       HTTPS requests per second for PATH, each thread on one keep-alive
 *       connection, every response read whole (its Content-Length); with
 *       the body bytes of the last response
 *   tlsbench push PORT N LEN0 LEN1 SERVER-PID -- COMMAND...
 *       opens N announce connections (each first gets the current SA, LEN0
 *       bytes), runs COMMAND (which makes a new SA of LEN1 bytes), and
 *       reports the ms until every connection has it, and the server's
 *       resident memory per open connection.
 */
#include <pthread.h>
#include <stdint.h>
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
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static int port;
static SSL_CTX *ctx;
static double deadline;
static atomic_long count, fails, bytes_in;
static int mode; /* 0 full, 1 resumed, 2 sa, 3 ext */

static double
now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

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

/* The evercert extension, by hand (a benchmark must not link what it measures). */
static int
ext_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out, size_t *outlen,
        X509 *x, size_t chainidx, int *al, void *arg)
{
    static const unsigned char zero[8] = {0};
    static const unsigned char newest[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    (void)s;
    (void)type;
    (void)context;
    (void)x;
    (void)chainidx;
    (void)al;
    (void)arg;
    /* "ext": a client that holds everything, so no SA comes back; "sa": one that holds nothing. */
    *out = mode == 3 ? newest : zero;
    *outlen = 8;
    return 1;
}

static int
ext_parse(SSL *s, unsigned int type, unsigned int context, const unsigned char *in, size_t inlen,
          X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)s;
    (void)type;
    (void)context;
    (void)in;
    (void)x;
    (void)chainidx;
    (void)al;
    (void)arg;
    atomic_fetch_add(&bytes_in, (long)inlen);
    return 1;
}

/* One handshake; the leaf's first byte of SHA-256 compare is left to the caller. */
static SSL *
connect_tls(SSL_SESSION *sess)
{
    int fd = tcp();
    SSL *ssl;

    if (fd == -1) {
        return NULL;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "web.test");
    if (sess != NULL) {
        SSL_set_session(ssl, sess);
    }
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        ERR_clear_error();
        return NULL;
    }
    return ssl;
}

static void
close_tls(SSL *ssl)
{
    int fd = SSL_get_fd(ssl);

    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

static void *
rate_worker(void *arg)
{
    SSL_SESSION *sess = NULL;

    (void)arg;
    while (now_s() < deadline) {
        SSL *ssl = connect_tls(mode == 1 ? sess : NULL);

        if (ssl == NULL) {
            atomic_fetch_add(&fails, 1);
            continue;
        }
        if (mode == 1 && sess == NULL) {
            /* TLS 1.3 tickets come after the handshake: one request fetches them. */
            char buf[512];
            const char req[] = "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n";

            if (SSL_write(ssl, req, sizeof(req) - 1) > 0 && SSL_read(ssl, buf, sizeof(buf)) > 0) {
                sess = SSL_get1_session(ssl);
            }
        }
        atomic_fetch_add(&count, 1);
        close_tls(ssl);
    }
    SSL_SESSION_free(sess);
    return NULL;
}

static int
fp_of(X509 *x, unsigned char fp[32])
{
    unsigned int n = 0;

    return x != NULL && X509_digest(x, EVP_sha256(), fp, &n);
}

static int
request(SSL *ssl)
{
    const char req[] = "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n";
    char buf[1024];

    return SSL_write(ssl, req, sizeof(req) - 1) > 0 && SSL_read(ssl, buf, sizeof(buf)) > 0;
}

/* One GET on a keep-alive connection, read to the end of its body; the body's length or -1. */
static const char *http_path;

static long
http_get(SSL *ssl)
{
    char req[512], buf[16384];
    size_t have = 0;
    long body = -1, len = -1;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: web.test\r\n\r\n", http_path);
    if (SSL_write(ssl, req, (int)strlen(req)) <= 0) {
        return -1;
    }
    for (;;) {
        int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));
        char *end, *cl;

        if (n <= 0) {
            return -1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        if (body < 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            body = (long)(end + 4 - buf);
            cl = strcasestr(buf, "\ncontent-length:");
            len = cl != NULL && cl < end ? strtol(cl + 16, NULL, 10) : -1;
            if (len < 0) {
                return -1;
            }
        }
        if (body >= 0 && (long)have >= body + len) {
            return (long)have == body + len ? len : -1; /* nothing pipelined was asked */
        }
        if (have == sizeof(buf) - 1) {
            return -1;
        }
    }
}

static atomic_long last_len;

static void *
http_worker(void *arg)
{
    SSL *ssl = connect_tls(NULL);

    (void)arg;
    if (ssl == NULL) {
        atomic_fetch_add(&fails, 1);
        return NULL;
    }
    while (now_s() < deadline) {
        long n = http_get(ssl);

        if (n < 0) {
            atomic_fetch_add(&fails, 1);
            break;
        }
        atomic_store(&last_len, n);
        atomic_fetch_add(&count, 1);
    }
    close_tls(ssl);
    return NULL;
}

static long
rss_kib(long pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kib;
}

struct pushc {
    SSL *ssl;
    long got;
};

static struct pushc *pc;
static long npc, len0;
static atomic_long opened;

static void *
push_opener(void *arg)
{
    long from = (long)(intptr_t)arg;
    char buf[4096];

    for (long i = from; i < npc; i += 2) {
        long got = 0;
        int n;

        if ((pc[i].ssl = connect_tls(NULL)) == NULL) {
            atomic_fetch_add(&fails, 1);
            continue;
        }
        while (got < len0 && (n = SSL_read(pc[i].ssl, buf, sizeof(buf))) > 0) {
            got += n;
        }
        fcntl(SSL_get_fd(pc[i].ssl), F_SETFL, O_NONBLOCK);
        atomic_fetch_add(&opened, 1);
    }
    return NULL;
}

static int
push_bench(int argc, char **argv)
{
    long len1, pid, rss0, rss1, have = 0;
    char cmd[4096] = "", buf[8192];
    pthread_t th[2];
    int ep = epoll_create1(0);
    double t0, t, topen;

    npc = strtol(argv[3], NULL, 10);
    len0 = strtol(argv[4], NULL, 10);
    len1 = strtol(argv[5], NULL, 10);
    pid = strtol(argv[6], NULL, 10);
    for (int i = 8; i < argc; i++) {
        strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 2);
        strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
    }
    if (npc < 1 || npc > 100000 || (pc = calloc((size_t)npc, sizeof(*pc))) == NULL || ep == -1) {
        return 2;
    }
    rss0 = rss_kib(pid);
    t0 = now_s();
    for (long i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, push_opener, (void *)(intptr_t)i);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    topen = now_s() - t0;
    rss1 = rss_kib(pid);
    for (long i = 0; i < npc; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};

        if (pc[i].ssl != NULL) {
            epoll_ctl(ep, EPOLL_CTL_ADD, SSL_get_fd(pc[i].ssl), &ev);
        }
    }
    if (system(cmd) != 0) {
        fprintf(stderr, "tlsbench: '%s' failed\n", cmd);
    }
    t0 = now_s();
    while (have < atomic_load(&opened) && now_s() - t0 < 30) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 1000);

        for (int k = 0; k < n; k++) {
            struct pushc *c = &pc[evs[k].data.u64];
            int r;

            while ((r = SSL_read(c->ssl, buf, sizeof(buf))) > 0) {
                if (c->got < len1 && c->got + r >= len1) {
                    have++;
                }
                c->got += r;
            }
        }
    }
    t = now_s() - t0;
    printf("%ld announce connections open (opened in %.1f s, %ld failed); the new SA reached %ld "
           "of them in %.0f ms; server memory %.1f KiB per open connection\n",
           atomic_load(&opened), topen, atomic_load(&fails), have, t * 1000,
           (double)(rss1 - rss0) / (double)(atomic_load(&opened) ? atomic_load(&opened) : 1));
    for (long i = 0; i < npc; i++) {
        if (pc[i].ssl != NULL) {
            close(SSL_get_fd(pc[i].ssl));
            SSL_free(pc[i].ssl);
        }
    }
    free(pc);
    return have == atomic_load(&opened) ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tlsbench rate|swap PORT ...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a server that drops a connection must not end the count */
    port = (int)strtol(argv[2], NULL, 10);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    if (strcmp(argv[1], "rate") == 0 && argc == 6) {
        int threads = (int)strtol(argv[4], NULL, 10);
        pthread_t th[16];
        double t0, t;

        mode = strcmp(argv[5], "resumed") == 0 ? 1
               : strcmp(argv[5], "sa") == 0    ? 2
               : strcmp(argv[5], "ext") == 0   ? 3
                                               : 0;
        if (mode == 2 || mode == 3) {
            SSL_CTX_add_custom_ext(ctx, 0xFF5E,
                                   SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
                                   ext_add, NULL, NULL, ext_parse, NULL);
        }
        if (threads < 1 || threads > 16) {
            return 2;
        }
        t0 = now_s();
        deadline = t0 + strtod(argv[3], NULL);
        for (int i = 0; i < threads; i++) {
            pthread_create(&th[i], NULL, rate_worker, NULL);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
        }
        t = now_s() - t0;
        printf("%.0f handshakes/s (%ld in %.1f s, %ld failed)", atomic_load(&count) / t,
               atomic_load(&count), t, atomic_load(&fails));
        if (mode == 2) {
            printf(", SA bytes per handshake %.0f",
                   atomic_load(&count) ? (double)atomic_load(&bytes_in) / atomic_load(&count) : 0);
        }
        putchar('\n');
        return 0;
    }
    if (strcmp(argv[1], "http") == 0 && argc == 6) {
        int threads = (int)strtol(argv[4], NULL, 10);
        pthread_t th[16];
        double t0, t;

        if (threads < 1 || threads > 16) {
            return 2;
        }
        http_path = argv[5];
        t0 = now_s();
        deadline = t0 + strtod(argv[3], NULL);
        for (int i = 0; i < threads; i++) {
            pthread_create(&th[i], NULL, http_worker, NULL);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
        }
        t = now_s() - t0;
        printf("%.0f requests/s (%ld in %.1f s, %ld failed, body %ld bytes)\n",
               atomic_load(&count) / t, atomic_load(&count), t, atomic_load(&fails),
               atomic_load(&last_len));
        return 0;
    }
    if (strcmp(argv[1], "push") == 0 && argc >= 9 && strcmp(argv[7], "--") == 0) {
        return push_bench(argc, argv);
    }
    if (strcmp(argv[1], "swap") == 0 && argc >= 7 && strcmp(argv[5], "--") == 0) {
        unsigned char want[32], got[32];
        FILE *f = fopen(argv[3], "r");
        X509 *nx = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        int idle = (int)strtol(argv[4], NULL, 10), alive = 0, old_after = 0, failed = 0;
        SSL **conns = calloc((size_t)idle + 1, sizeof(*conns));
        char cmd[4096] = "";
        double t0, first = -1, ran;

        if (f != NULL) {
            fclose(f);
        }
        if (nx == NULL || !fp_of(nx, want) || conns == NULL) {
            fprintf(stderr, "tlsbench: %s unreadable\n", argv[3]);
            return 2;
        }
        for (int i = 6; i < argc; i++) {
            strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 2);
            strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
        }
        for (int i = 0; i < idle; i++) {
            if ((conns[i] = connect_tls(NULL)) == NULL || !request(conns[i])) {
                fprintf(stderr, "tlsbench: keep-alive connection %d failed\n", i);
                return 1;
            }
        }
        t0 = now_s();
        if (system(cmd) != 0) {
            fprintf(stderr, "tlsbench: '%s' failed\n", cmd);
        }
        /* From the moment the files are in place (or the reload is signalled). */
        ran = now_s() - t0;
        t0 = now_s();
        while (now_s() - t0 < 5.0) {
            SSL *ssl = connect_tls(NULL);
            int is_new;

            if (ssl == NULL) {
                failed++;
                continue;
            }
            is_new = fp_of(SSL_get0_peer_certificate(ssl), got) && memcmp(got, want, 32) == 0;
            close_tls(ssl);
            if (is_new && first < 0) {
                first = now_s() - t0;
            } else if (!is_new && first >= 0) {
                old_after++;
            }
            if (first >= 0 && now_s() - t0 > first + 0.2) {
                break;
            }
        }
        usleep(300 * 1000);
        for (int i = 0; i < idle; i++) {
            alive += request(conns[i]);
            close_tls(conns[i]);
        }
        printf("new certificate %.1f ms after the change (the change took %.1f ms), old one "
               "served %d times after that, %d failed handshakes, idle keep-alive connections "
               "kept %d of %d\n",
               first * 1000, ran * 1000, old_after, failed, alive, idle);
        X509_free(nx);
        free(conns);
        return 0;
    }
    fprintf(stderr, "usage: tlsbench rate PORT SECONDS THREADS full|resumed|sa\n"
                    "       tlsbench http PORT SECONDS THREADS PATH\n"
                    "       tlsbench swap PORT NEW.crt IDLE -- COMMAND...\n");
    return 2;
}
