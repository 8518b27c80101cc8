/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake extension in memory (a BIO pair, no sockets): the SA
 * travels only to a client that has an older generation, only in TLS 1.3,
 * only to a client that verified, only when every OpenSSL client takes it
 * (OpenSSL's limit on EncryptedExtensions measured here); a malformed
 * ClientHello extension ends the handshake; a swap leaves a connection in
 * progress on its context.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/tls.h"
#include "sa_pad.h"

#define NOW ((evc_time)time(NULL))

struct fx {
    char dir[64];
    char a_crt[96], a_key[96], b_crt[96], b_key[96], sa[96], ca[96];
    X509 *ca_x;
    EVP_PKEY *ca_k;
    struct evc_tls_server *srv;
};

static void
write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    struct evc_buf b;
    struct evc_err err = {0};
    FILE *f = fopen(path, "w");

    evc_buf_init(&b, 1 << 20);
    assert_int_equal(x != NULL ? evc_x509_pem(x, &b, &err) : evc_key_pem(k, &b, &err), 0);
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    evc_buf_free(&b);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct evc_err err = {0};
    EVP_PKEY *ck = NULL, *ak = NULL, *bk = NULL;
    X509 *a = NULL, *b = NULL;
    const char *sans[] = {"DNS:web.test"};
    struct evc_cert_req root = {EVC_PROFILE_ROOT, NULL, "TLS Root", NULL, 0, NOW - 60, NOW + 86400};
    struct evc_cert_req leaf = {EVC_PROFILE_SERVER, NULL,      "web.test", sans, 1,
                                NOW - 60,           NOW + 3600};
    struct evc_buf sa;
    FILE *fp;

    snprintf(f->dir, sizeof(f->dir), "/tmp/evc-tls-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->a_crt, sizeof(f->a_crt), "%s/a.crt", f->dir);
    snprintf(f->a_key, sizeof(f->a_key), "%s/a.key", f->dir);
    snprintf(f->b_crt, sizeof(f->b_crt), "%s/b.crt", f->dir);
    snprintf(f->b_key, sizeof(f->b_key), "%s/b.key", f->dir);
    snprintf(f->sa, sizeof(f->sa), "%s/ab.sa", f->dir);
    snprintf(f->ca, sizeof(f->ca), "%s/ca.crt", f->dir);
    assert_int_equal(evc_key_generate("ec:P-256", &ck, &err), 0);
    assert_int_equal(evc_key_generate("ec:P-256", &ak, &err), 0);
    assert_int_equal(evc_key_generate("ec:P-256", &bk, &err), 0);
    assert_int_equal(evc_ca_make(&root, ck, NULL, NULL, &f->ca_x, &err), 0);
    assert_int_equal(evc_ca_make(&leaf, ak, f->ca_x, ck, &a, &err), 0);
    assert_int_equal(evc_ca_make(&leaf, bk, f->ca_x, ck, &b, &err), 0);
    write_pem(f->a_crt, a, NULL);
    write_pem(f->a_key, NULL, ak);
    write_pem(f->b_crt, b, NULL);
    write_pem(f->b_key, NULL, bk);
    write_pem(f->ca, f->ca_x, NULL);
    {
        struct evc_sa_params p = {"web.test", 7, NOW, NOW + 600, a, ak, b, bk, NULL, NULL, 0};

        evc_buf_init(&sa, EVC_SA_MAX);
        assert_int_equal(evc_sa_encode(&p, &sa, &err), 0);
        fp = fopen(f->sa, "wb");
        assert_int_equal(fwrite(sa.data, 1, sa.len, fp), sa.len);
        fclose(fp);
        evc_buf_free(&sa);
    }
    assert_int_equal(evc_tls_server_new(&f->srv, &err), 0);
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, f->sa, NOW, &err), 0);
    X509_free(a);
    X509_free(b);
    f->ca_k = ck;
    EVP_PKEY_free(ak);
    EVP_PKEY_free(bk);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    evc_tls_server_free(f->srv);
    X509_free(f->ca_x);
    EVP_PKEY_free(f->ca_k);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static SSL_CTX *
client_ctx(struct fx *f, int with_ext, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    struct evc_err err = {0};

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_load_verify_file(ctx, f->ca), 1);
    if (max_version != 0) {
        assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    }
    if (with_ext) {
        assert_int_equal(evc_tls_client_enable(ctx, &err), 0);
    }
    return ctx;
}

/* Drive both ends until both finish or either fails; 1 on success. */
static int
handshake(SSL *c, SSL *s)
{
    BIO *cb, *sb;
    int cdone = 0, sdone = 0;

    /* Room for a whole flight, so neither end waits to write. */
    assert_int_equal(BIO_new_bio_pair(&cb, 256 * 1024, &sb, 256 * 1024), 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(c);

            if (r == 1) {
                cdone = 1;
            } else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ) {
                return 0;
            }
        }
        if (!sdone) {
            int r = SSL_do_handshake(s);

            if (r == 1) {
                sdone = 1;
            } else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ) {
                return 0;
            }
        }
    }
    return cdone && sdone;
}

/* One connection; the SA the client got (its length), or -1 if the handshake failed. */
static long
connect_with(struct fx *f, SSL_CTX *ctx, uint64_t have, int set_have)
{
    SSL *c = SSL_new(ctx), *s = evc_tls_server_ssl(f->srv);
    struct evc_buf sa;
    struct evc_err err = {0};
    long got = -1;

    evc_buf_init(&sa, EVC_SA_MAX);
    assert_non_null(c);
    assert_non_null(s);
    SSL_set_tlsext_host_name(c, "web.test");
    SSL_set1_host(c, "web.test");
    if (set_have) {
        assert_int_equal(evc_tls_client_set_generation(c, have), 0);
    }
    if (handshake(c, s)) {
        got = evc_tls_client_sa(c, &sa, &err) == 0 ? (long)sa.len : -2;
    }
    SSL_free(c);
    SSL_free(s);
    evc_buf_free(&sa);
    return got;
}

static void
test_sa_only_when_newer(void **state)
{
    struct fx *f = *state;
    SSL_CTX *ctx = client_ctx(f, 1, 0);

    assert_true(connect_with(f, ctx, 0, 1) > 100);
    assert_true(connect_with(f, ctx, 6, 1) > 100);
    assert_int_equal(connect_with(f, ctx, 7, 1), 0);
    assert_int_equal(connect_with(f, ctx, 99, 1), 0);
    SSL_CTX_free(ctx);
}

static void
test_clients_without_it(void **state)
{
    struct fx *f = *state;
    SSL_CTX *plain = client_ctx(f, 0, 0), *tls12 = client_ctx(f, 1, TLS1_2_VERSION);

    /* A client without the extension: a normal handshake, nothing more. */
    assert_int_equal(connect_with(f, plain, 0, 0), 0);
    /* TLS 1.2 has no EncryptedExtensions: no SA, no failure. */
    assert_int_equal(connect_with(f, tls12, 0, 1), 0);
    SSL_CTX_free(plain);
    SSL_CTX_free(tls12);
}

static void
test_unverified_client_reads_nothing(void **state)
{
    struct fx *f = *state;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    struct evc_err err = {0};

    /* No trust anchors: the handshake completes (VERIFY_NONE) but does not verify. */
    assert_int_equal(evc_tls_client_enable(ctx, &err), 0);
    assert_int_equal(connect_with(f, ctx, 0, 1), -2);
    SSL_CTX_free(ctx);
}

static int
seven_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
          size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    static const unsigned char seven[7] = {0};

    (void)s;
    (void)type;
    (void)context;
    (void)x;
    (void)chainidx;
    (void)al;
    (void)arg;
    *out = seven;
    *outlen = sizeof(seven);
    return 1;
}

static void
test_malformed_client_hello(void **state)
{
    struct fx *f = *state;
    SSL_CTX *ctx = client_ctx(f, 0, 0);

    /* Our code point with 7 bytes instead of 8: the server ends the handshake. */
    assert_int_equal(SSL_CTX_add_custom_ext(ctx, EVC_TLS_EXT_TYPE, SSL_EXT_CLIENT_HELLO, seven_add,
                                            NULL, NULL, NULL, NULL),
                     1);
    assert_int_equal(connect_with(f, ctx, 0, 0), -1);
    SSL_CTX_free(ctx);
}

static void
test_swap_keeps_connections(void **state)
{
    struct fx *f = *state;
    struct evc_err err = {0};
    SSL *before = evc_tls_server_ssl(f->srv), *after;
    uint8_t fp[32], want[32];
    uint64_t gen;

    /* A broken pair is refused; the published context stays. */
    assert_int_equal(evc_tls_server_load(f->srv, f->b_crt, f->a_key, NULL, NULL, NOW, &err),
                     EVC_ERR_KEY_MISMATCH);
    evc_tls_server_current(f->srv, fp, &gen);
    assert_int_equal(gen, 7);
    /* A whole pair is published; an SSL made before keeps its certificate. */
    assert_int_equal(evc_tls_server_load(f->srv, f->b_crt, f->b_key, NULL, NULL, NOW, &err), 0);
    after = evc_tls_server_ssl(f->srv);
    assert_int_equal(evc_x509_sha256(SSL_get_certificate(before), fp), 0);
    assert_int_equal(evc_x509_sha256(SSL_get_certificate(after), want), 0);
    assert_memory_not_equal(fp, want, 32);
    evc_tls_server_current(f->srv, fp, &gen);
    assert_memory_equal(fp, want, 32);
    assert_int_equal(gen, 0);
    SSL_free(before);
    SSL_free(after);
    /* Back to the first, for the other tests. */
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, f->sa, NOW, &err), 0);
}

/* --- how large an SA the handshake can carry ------------------------------ */

static unsigned char *ee_bytes;
static size_t ee_len;

/* A server extension of ee_len bytes in EncryptedExtensions, as a server of any make could send. */
static int
ee_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out, size_t *outlen,
       X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)s;
    (void)type;
    (void)x;
    (void)chainidx;
    (void)al;
    (void)arg;
    if (context != SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS) {
        return 0;
    }
    *out = ee_bytes;
    *outlen = ee_len;
    return 1;
}

/* Does an evercert client finish a handshake whose EncryptedExtensions carry n bytes of ours? */
static int
ee_handshake(struct fx *f, SSL_CTX *sctx, size_t n, unsigned long *reason)
{
    SSL_CTX *cctx = client_ctx(f, 1, 0);
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    int ok;

    ee_len = n;
    SSL_set_tlsext_host_name(c, "web.test");
    ERR_clear_error();
    ok = handshake(c, s);
    *reason = ok ? 0 : ERR_GET_REASON(ERR_peek_error());
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return ok;
}

static void
test_openssl_ee_limit(void **state)
{
    struct fx *f = *state;
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    size_t lo = 1, hi = 65000;
    unsigned long why;

    ee_bytes = calloc(1, 65536);
    assert_non_null(ee_bytes);
    assert_non_null(sctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(sctx, f->a_crt), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(sctx, f->a_key, SSL_FILETYPE_PEM), 1);
    assert_int_equal(
        SSL_CTX_add_custom_ext(sctx, EVC_TLS_EXT_TYPE,
                               SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS, ee_add,
                               NULL, NULL, NULL, NULL),
        1);
    /* The largest that passes, by bisection: lo passes, hi fails. */
    assert_true(ee_handshake(f, sctx, lo, &why));
    assert_false(ee_handshake(f, sctx, hi, &why));
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (ee_handshake(f, sctx, mid, &why)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    print_message("OpenSSL %s: an extension of %zu bytes is the most EncryptedExtensions "
                  "carries\n",
                  OpenSSL_version(OPENSSL_VERSION_STRING), lo);
    /* The client refuses the message as too large (20,000 bytes with the framing) ... */
    assert_false(ee_handshake(f, sctx, lo + 1, &why));
    assert_int_equal(why, SSL_R_EXCESSIVE_MESSAGE_SIZE);
    assert_true(lo + 6 <= 20000);
    /* ... and our cap leaves room for the server's other extensions. */
    assert_true(EVC_SA_HANDSHAKE_MAX + 2048 <= lo);
    SSL_CTX_free(sctx);
    free(ee_bytes);
    ee_bytes = NULL;
}

/* Serve an SA of n bytes; what the client got (see connect_with). */
static long
serve_sa_of(struct fx *f, struct sa_pad *p, size_t n)
{
    struct evc_buf b;
    struct evc_err err = {0};
    char path[128];
    SSL_CTX *ctx = client_ctx(f, 1, 0);
    FILE *fp;
    long got;

    evc_buf_init(&b, EVC_SA_MAX + 1);
    assert_int_equal(sa_pad_find(p, n), 0);
    assert_int_equal(sa_pad_encode(p, p->succ, p->namelen, &b), 0);
    assert_int_equal(b.len, n);
    snprintf(path, sizeof(path), "%s/pad.sa", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
    fclose(fp);
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, path, NOW, &err), 0);
    /* Whatever it says of the handshake, push and URL still have the whole SA. */
    assert_int_equal(evc_tls_server_sa(f->srv, &b), 0);
    assert_int_equal(b.len, n);
    got = connect_with(f, ctx, 0, 1);
    SSL_CTX_free(ctx);
    evc_buf_free(&b);
    return got;
}

static void
test_sa_handshake_cap(void **state)
{
    struct fx *f = *state;
    struct sa_pad p;
    struct evc_err err = {0};

    assert_int_equal(sa_pad_init(&p), 0);
    /* At the cap: in the handshake, whole. */
    assert_int_equal(serve_sa_of(f, &p, EVC_SA_HANDSHAKE_MAX), (long)EVC_SA_HANDSHAKE_MAX);
    /* One byte over: not in the handshake, which still succeeds. */
    assert_int_equal(serve_sa_of(f, &p, EVC_SA_HANDSHAKE_MAX + 1), 0);
    /* Where OpenSSL clients used to fail, and at the 64 KiB cap: the same. */
    assert_int_equal(serve_sa_of(f, &p, 20000), 0);
    assert_int_equal(serve_sa_of(f, &p, EVC_SA_MAX), 0);
    sa_pad_free(&p);
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, f->sa, NOW, &err), 0);
}

/* A missing SA file is no SA; one that is there but unusable is refused, the old context kept. */
static void
test_sa_file_unusable(void **state)
{
    struct fx *f = *state;
    struct evc_err err = {0};
    char path[128];
    uint8_t fp[32];
    uint64_t gen;
    FILE *fp_big;

    snprintf(path, sizeof(path), "%s/none.sa", f->dir);
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, path, NOW, &err), 0);
    evc_tls_server_current(f->srv, fp, &gen);
    assert_int_equal(gen, 0);
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, f->sa, NOW, &err), 0);
    /* A directory, and a file one byte over the cap. */
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, f->dir, NOW, &err),
                     EVC_ERR_NOT_REGULAR);
    assert_non_null(strstr(evc_err_message(&err), f->dir));
    snprintf(path, sizeof(path), "%s/big.sa", f->dir);
    fp_big = fopen(path, "wb");
    assert_non_null(fp_big);
    for (size_t i = 0; i < EVC_SA_MAX + 1; i++) {
        fputc(0x30, fp_big);
    }
    fclose(fp_big);
    assert_int_equal(evc_tls_server_load(f->srv, f->a_crt, f->a_key, NULL, path, NOW, &err),
                     EVC_ERR_TOO_LARGE);
    assert_non_null(strstr(evc_err_message(&err), "big.sa"));
    evc_tls_server_current(f->srv, fp, &gen);
    assert_int_equal(gen, 7);
}

/* --- evc_tls_session over a loopback socket ------------------------------- */

struct one_server {
    struct fx *f;
    int lfd;
};

/* Accept one connection and handshake; the client decides how it ends. */
static void *
serve_one(void *arg)
{
    struct one_server *o = arg;
    int fd = accept(o->lfd, NULL, NULL);
    SSL *s = fd >= 0 ? evc_tls_server_ssl(o->f->srv) : NULL;

    if (s != NULL && SSL_set_fd(s, fd) == 1 && SSL_accept(s) == 1) {
        (void)SSL_shutdown(s);
    }
    SSL_free(s);
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

/* One strict session to a one-shot server, with trust (NULL: an empty store). */
static int
session_with(struct fx *f, const char *trust, const char *name, struct evc_tls_timing *t,
             struct evc_probe *p, struct evc_err *err)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    struct one_server o = {f, socket(AF_INET, SOCK_STREAM, 0)};
    struct evc_tls_conn c;
    X509_STORE *st = X509_STORE_new();
    pthread_t th;
    char hp[32];
    int r;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(o.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(o.lfd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(listen(o.lfd, 1), 0);
    assert_int_equal(pthread_create(&th, NULL, serve_one, &o), 0);
    if (trust != NULL) {
        assert_int_equal(X509_STORE_load_file(st, trust), 1);
    }
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", ntohs(a.sin_port));
    r = evc_tls_session(hp, name, st, 0, 2000, t, p, &c, err);
    if (r == 0) {
        evc_tls_conn_close(&c);
    }
    pthread_join(th, NULL);
    close(o.lfd);
    X509_STORE_free(st);
    return r;
}

static void
test_session_times_each_step(void **state)
{
    struct fx *f = *state;
    struct evc_tls_timing t;
    struct evc_probe p;
    struct evc_err err = {0};

    assert_int_equal(session_with(f, f->ca, "web.test", &t, &p, &err), 0);
    assert_true(p.verified);
    assert_true(p.sa.len > 0); /* generation 0 < 7: the SA came in the handshake */
    assert_true(t.tcp_ms >= 0);
    assert_true(t.client_hello_ms >= t.tcp_ms);
    assert_true(t.server_hello_ms >= t.client_hello_ms);
    assert_true(t.certificate_ms >= t.server_hello_ms);
    assert_true(t.finished_ms >= t.certificate_ms);
    assert_int_equal(t.alert, -1);
    assert_true(t.alert_ms < 0);
    evc_probe_clear(&p);
}

static void
test_session_untrusted_fails_with_alert(void **state)
{
    struct fx *f = *state;
    struct evc_tls_timing t;
    struct evc_probe p;
    struct evc_err err = {0};
    uint8_t got[32], want[32];
    X509 *a = NULL;
    FILE *fp = fopen(f->a_crt, "r");

    /* Nothing trusted: the handshake ends with the client's unknown_ca alert. */
    assert_int_equal(session_with(f, NULL, "web.test", &t, &p, &err), EVC_ERR_IO);
    assert_non_null(strstr(evc_err_message(&err), "127.0.0.1:"));
    assert_non_null(strstr(evc_err_message(&err), "unable to get local issuer certificate"));
    assert_int_equal(t.alert, 48);
    assert_int_equal(t.alert_sent, 1);
    assert_true(t.alert_ms >= t.server_hello_ms && t.server_hello_ms >= 0);
    assert_true(t.finished_ms < 0);
    assert_int_equal(p.sa.len, 0);
    /* Who answered is still known. */
    assert_non_null(p.leaf);
    assert_non_null(fp);
    a = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_int_equal(evc_x509_sha256(p.leaf, got), 0);
    assert_int_equal(evc_x509_sha256(a, want), 0);
    assert_memory_equal(got, want, 32);
    X509_free(a);
    evc_probe_clear(&p);

    /* Trusted, but for another name: refused too, nothing read. */
    assert_int_not_equal(session_with(f, f->ca, "other.test", &t, &p, &err), 0);
    assert_non_null(strstr(evc_err_message(&err), "hostname mismatch"));
    assert_true(t.alert >= 0);
    assert_int_equal(p.sa.len, 0);
    evc_probe_clear(&p);
}

/* A TLS 1.3 resumption on srv with sess; 1 when it resumed. *next gets the new ticket's session. */
static int
resume13(struct evc_tls_server *srv, SSL_CTX *ctx, SSL_SESSION *sess, SSL_SESSION **next,
         X509 **peer)
{
    SSL *c = SSL_new(ctx), *s = evc_tls_server_ssl(srv);
    unsigned char byte;
    int reused;

    assert_non_null(c);
    assert_non_null(s);
    SSL_set_tlsext_host_name(c, "web.test");
    assert_int_equal(SSL_set_session(c, sess), 1);
    assert_true(handshake(c, s));
    reused = SSL_session_reused(c);
    assert_true(SSL_read(c, &byte, 1) <= 0); /* the new ticket */
    *next = SSL_get1_session(c);
    *peer = SSL_get1_peer_certificate(c);
    (void)SSL_shutdown(c);
    SSL_free(c);
    SSL_free(s);
    return reused;
}

/*
 * A session made under a certificate that ends in seconds, resumed over
 * TLS 1.3 after a swap to its successor: the new ticket still ends with
 * the old certificate (OpenSSL copies a resumed session with a new start
 * and the old timeout, and the published certificate is the successor's).
 * Past the old certificate's end the ticket is refused, even by a client
 * that still offers it, and the handshake is a full one with the successor.
 */
static void
session_ends_with_first_certificate(struct fx *f)
{
    const char *sans[] = {"DNS:web.test"};
    struct evc_cert_req req = {EVC_PROFILE_SERVER, NULL, "web.test", sans, 1, NOW - 60, NOW + 3};
    struct evc_tls_server *srv = NULL;
    struct evc_err err = {0};
    SSL_CTX *ctx = client_ctx(f, 0, TLS1_3_VERSION);
    SSL_SESSION *sess = NULL, *next = NULL;
    EVP_PKEY *k = NULL;
    X509 *x = NULL, *peer = NULL, *b = NULL;
    char crt[112], key[112];
    FILE *fp;
    evc_time end;

    snprintf(crt, sizeof(crt), "%s/short.crt", f->dir);
    snprintf(key, sizeof(key), "%s/short.key", f->dir);
    assert_int_equal(evc_key_generate("ec:P-256", &k, &err), 0);
    assert_int_equal(evc_ca_make(&req, k, f->ca_x, f->ca_k, &x, &err), 0);
    end = req.not_after;
    write_pem(crt, x, NULL);
    write_pem(key, NULL, k);
    assert_non_null(fp = fopen(f->b_crt, "r"));
    assert_non_null(b = PEM_read_X509(fp, NULL, NULL, NULL));
    fclose(fp);
    assert_int_equal(evc_tls_server_new(&srv, &err), 0);
    assert_int_equal(evc_tls_server_load(srv, crt, key, NULL, NULL, NOW, &err), 0);

    /* A TLS 1.2 client that takes no ticket: the session-id cache keeps it until the end only. */
    {
        SSL_CTX *c12 = client_ctx(f, 0, TLS1_2_VERSION);
        SSL *c, *s = evc_tls_server_ssl(srv);

        SSL_CTX_set_options(c12, SSL_OP_NO_TICKET);
        c = SSL_new(c12);
        SSL_set_tlsext_host_name(c, "web.test");
        assert_true(handshake(c, s));
        assert_false(SSL_SESSION_has_ticket(SSL_get_session(c)));
        assert_true(SSL_SESSION_get_timeout(SSL_get_session(s)) <= 3);
        SSL_free(c);
        SSL_free(s);
        SSL_CTX_free(c12);
    }
    /* A full handshake under the short certificate: the ticket lives at most until its end. */
    {
        SSL *c = SSL_new(ctx), *s = evc_tls_server_ssl(srv);
        unsigned char byte;

        SSL_set_tlsext_host_name(c, "web.test");
        assert_true(handshake(c, s));
        assert_true(SSL_read(c, &byte, 1) <= 0);
        assert_non_null(sess = SSL_get1_session(c));
        assert_true(SSL_SESSION_get_ticket_lifetime_hint(sess) <= 3);
        (void)SSL_shutdown(c);
        SSL_free(c);
        SSL_free(s);
    }
    /* The swap: resumed, and the new ticket still ends with the short certificate, not b. */
    assert_int_equal(evc_tls_server_load(srv, f->b_crt, f->b_key, NULL, NULL, NOW, &err), 0);
    assert_true(resume13(srv, ctx, sess, &next, &peer));
    assert_non_null(next);
    assert_true(SSL_SESSION_get_ticket_lifetime_hint(next) <= 3);
    assert_true((evc_time)SSL_SESSION_get_time(next) +
                    (evc_time)SSL_SESSION_get_ticket_lifetime_hint(next) <=
                end + 1);
    X509_free(peer);
    peer = NULL;

    /*
     * Resumed each second, each from the last: within the end every new
     * ticket still ends there (not a second resumed from it later); past
     * it the ticket is refused, even from a client that still offers it,
     * and the handshake is a full one with b. At most 4 s.
     */
    for (;;) {
        evc_time t, t2;
        int reused;

        sleep(1);
        SSL_SESSION_free(sess);
        sess = next;
        next = NULL;
        t = NOW;
        (void)SSL_SESSION_set_time(sess, (long)t); /* so the client offers it anyway */
        reused = resume13(srv, ctx, sess, &next, &peer);
        t2 = NOW;
        assert_non_null(next);
        assert_non_null(peer);
        if (t2 < end) {
            assert_true(reused);
            assert_true((evc_time)SSL_SESSION_get_time(next) +
                            (evc_time)SSL_SESSION_get_ticket_lifetime_hint(next) <=
                        end + 1);
        } else if (t >= end || !reused) {
            assert_false(reused);
            assert_int_equal(X509_cmp(peer, b), 0);
            assert_true(SSL_SESSION_get_ticket_lifetime_hint(next) > 3500); /* b's hour */
            break;
        }
        X509_free(peer);
        peer = NULL;
    }

    X509_free(peer);
    X509_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    SSL_SESSION_free(sess);
    SSL_SESSION_free(next);
    SSL_CTX_free(ctx);
    evc_tls_server_free(srv);
}

/*
 * A session lives no longer than the certificate it was made under (an
 * hour here, against OpenSSL's two hours): the ticket's lifetime says so,
 * over TLS 1.2 and TLS 1.3, and a session resumes within it.
 */
static void
test_session_ends_with_certificate(void **state)
{
    struct fx *f = *state;
    const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        SSL_CTX *ctx = client_ctx(f, 0, versions[i]);
        SSL *c = SSL_new(ctx), *s = evc_tls_server_ssl(f->srv);
        SSL_SESSION *sess;
        unsigned char byte;
        unsigned long hint;

        assert_non_null(c);
        assert_non_null(s);
        SSL_set_tlsext_host_name(c, "web.test");
        assert_true(handshake(c, s));
        /* TLS 1.3 tickets come after the handshake: read them. */
        assert_true(SSL_read(c, &byte, 1) <= 0);
        sess = SSL_get1_session(c);
        assert_non_null(sess);
        assert_true(SSL_SESSION_has_ticket(sess));
        hint = SSL_SESSION_get_ticket_lifetime_hint(sess);
        assert_true(hint <= 3600);
        assert_true(hint > 3500);
        /* A session ended without close_notify is not resumable (OpenSSL). */
        (void)SSL_shutdown(c);
        SSL_free(c);
        SSL_free(s);

        c = SSL_new(ctx);
        s = evc_tls_server_ssl(f->srv);
        SSL_set_tlsext_host_name(c, "web.test");
        assert_int_equal(SSL_set_session(c, sess), 1);
        assert_true(handshake(c, s));
        assert_true(SSL_session_reused(c));
        SSL_free(c);
        SSL_free(s);
        SSL_SESSION_free(sess);
        SSL_CTX_free(ctx);
    }
    session_ends_with_first_certificate(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sa_only_when_newer),
        cmocka_unit_test(test_clients_without_it),
        cmocka_unit_test(test_unverified_client_reads_nothing),
        cmocka_unit_test(test_malformed_client_hello),
        cmocka_unit_test(test_swap_keeps_connections),
        cmocka_unit_test(test_openssl_ee_limit),
        cmocka_unit_test(test_sa_handshake_cap),
        cmocka_unit_test(test_sa_file_unusable),
        cmocka_unit_test(test_session_times_each_step),
        cmocka_unit_test(test_session_untrusted_fails_with_alert),
        cmocka_unit_test(test_session_ends_with_certificate),
    };

    signal(SIGPIPE, SIG_IGN); /* a peer that closes first is an error, not a signal */

    return cmocka_run_group_tests(tests, setup, teardown);
}
