/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Walking real directories: order, links, loops, special files, the "wanted"
 * rule. Trust stores on real files: what evercert does not own survives
 * every add and remove byte for byte (comments, other blocks, reject marks,
 * order, mode, owner, symbolic links, other files of a hashed directory,
 * other PKCS#12 bags and their attributes), also when the write is cut
 * short at any step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/ca.h"
#include "evercert/pkcs12.h"
#include "evercert/store.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "testcert.h"

struct seen {
    char files[32][512];
    int wanted[32];
    int nfiles;
    char errs[32][512];
    int codes[32];
    int nerrs;
};

static int
on_file(void *arg, const char *path, int wanted)
{
    struct seen *s = arg;

    snprintf(s->files[s->nfiles], 512, "%s", strrchr(path, '/') + 1);
    s->wanted[s->nfiles++] = wanted;
    return 0;
}

static int
on_error(void *arg, const char *path, const struct evc_err *e)
{
    struct seen *s = arg;

    snprintf(s->errs[s->nerrs], 512, "%s: %s", strrchr(path, '/') + 1, evc_err_message(e));
    s->codes[s->nerrs++] = e->code;
    return 0;
}

static void
touch(const char *dir, const char *name)
{
    char p[512];
    FILE *f;

    assert_true(snprintf(p, sizeof(p), "%s/%s", dir, name) < (int)sizeof(p));
    assert_non_null(f = fopen(p, "w"));
    fputs("x", f);
    fclose(f);
}

static void
test_walk(void **state)
{
    char dir[] = "/tmp/evc-walk-XXXXXX", p[512], q[512];
    struct seen s;
    struct evc_walk_cb cb = {on_file, on_error, &s};
    const char *paths[2];

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_non_null(mkdtemp(dir));
    touch(dir, "b.pem");
    touch(dir, "a.txt");
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    touch(p, "c.CRT");
    /* a hash link sorts after the file it names, which is reported once */
    snprintf(p, sizeof(p), "%s/0badcafe.0", dir);
    assert_int_equal(symlink("b.pem", p), 0);
    /* a link back up: not followed twice */
    snprintf(p, sizeof(p), "%s/sub/up", dir);
    assert_int_equal(symlink("..", p), 0);
    /* a broken link, a link loop and a FIFO: one error each */
    snprintf(p, sizeof(p), "%s/broken.pem", dir);
    assert_int_equal(symlink("nowhere", p), 0);
    snprintf(p, sizeof(p), "%s/loop1", dir);
    snprintf(q, sizeof(q), "%s/loop2", dir);
    assert_int_equal(symlink("loop2", p), 0);
    assert_int_equal(symlink("loop1", q), 0);
    snprintf(p, sizeof(p), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);

    paths[0] = dir;
    paths[1] = dir; /* named twice: still once */
    assert_int_equal(evc_store_walk(paths, 2, &cb), 0);
    assert_int_equal(s.nfiles, 3);
    assert_string_equal(s.files[0], "a.txt");
    assert_int_equal(s.wanted[0], 0);
    assert_string_equal(s.files[1], "b.pem");
    assert_int_equal(s.wanted[1], 1);
    assert_string_equal(s.files[2], "c.CRT");
    assert_int_equal(s.wanted[2], 1);
    assert_int_equal(s.nerrs, 4);
    assert_string_equal(s.errs[0], "broken.pem: broken symbolic link");
    assert_int_equal(s.codes[1], EVC_ERR_NOT_REGULAR);
    assert_non_null(strstr(s.errs[1], "FIFO"));
    assert_int_equal(s.codes[2], EVC_ERR_LOOP);
    assert_int_equal(s.codes[3], EVC_ERR_LOOP);

    /* A missing path is an error; a file named directly is wanted. */
    memset(&s, 0, sizeof(s));
    snprintf(p, sizeof(p), "%s/a.txt", dir);
    snprintf(q, sizeof(q), "%s/missing", dir);
    paths[0] = p;
    paths[1] = q;
    assert_int_equal(evc_store_walk(paths, 2, &cb), 0);
    assert_int_equal(s.nfiles, 1);
    assert_int_equal(s.wanted[0], 1);
    assert_int_equal(s.nerrs, 1);
    assert_int_equal(s.codes[0], EVC_ERR_NOENT);

    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    assert_int_equal(system(p), 0);
}

/* --- trust stores ------------------------------------------------------------ */

struct fix {
    char dir[64];
    EVP_PKEY *rkey, *key, *bkey;
    X509 *root;    /* a CA, kept in the bundle with a reject mark for serverAuth */
    X509 *leaf;    /* issued by root, for web.test */
    X509 *a, *b;   /* self-signed web.test certificates: the current one and its successor */
    X509 *other;   /* a certificate of another subject */
    char *trusted; /* root as a TRUSTED CERTIFICATE block, reject serverAuth */
};

/*
 * A certificate with an authority key identifier, as real ones have: two
 * self-signed certificates of one subject are then told apart by OpenSSL.
 */
static X509 *
mk(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *subject, int ca)
{
    time_t now = time(NULL);
    struct tc_spec s = {key,
                        signer,
                        issuer ? X509_get_subject_name(issuer) : NULL,
                        subject,
                        0,
                        ca,
                        ca ? NULL : "DNS:web.test",
                        now - 60,
                        now + 86400,
                        0,
                        TC_ODD_NONE};
    X509 *x = tc_cert(&s);
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    assert_non_null(
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always"));
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, signer != NULL ? signer : key, EVP_sha256()) > 0);
    return x;
}

static char *
trusted_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    assert_int_equal(X509_add1_reject_object(x, OBJ_nid2obj(NID_server_auth)), 1);
    assert_int_equal(PEM_write_bio_X509_AUX(b, x), 1);
    X509_reject_clear(x);
    n = BIO_get_mem_data(b, &data);
    out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

static int
fix_setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/evc-trust-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->rkey = tc_key("ec:P-256");
    f->key = tc_key("ec:P-256");
    f->bkey = tc_key("ec:P-256");
    f->root = mk(f->rkey, NULL, NULL, "/CN=Rejected Root", 1);
    f->leaf = mk(f->key, f->rkey, f->root, "/CN=web.test", 0);
    f->a = mk(f->key, NULL, NULL, "/CN=web.test", 0);
    f->b = mk(f->bkey, NULL, NULL, "/CN=web.test", 0);
    f->other = mk(f->bkey, NULL, NULL, "/CN=other.test", 0);
    f->trusted = trusted_pem(f->root);
    *state = f;
    return 0;
}

static int
fix_teardown(void **state)
{
    struct fix *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    X509_free(f->root);
    X509_free(f->leaf);
    X509_free(f->a);
    X509_free(f->b);
    X509_free(f->other);
    EVP_PKEY_free(f->rkey);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->bkey);
    free(f->trusted);
    free(f);
    return 0;
}

static void
put(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The whole file as a string (NUL-terminated; the tests' files hold text). */
static char *
slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    return buf;
}

static char *
cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);

    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* Some text with every kind of thing a bundle may hold besides plain certificates. */
static char *
bundle_text(struct fix *f, char **a_pem)
{
    char *pa = tc_pem(f->a), *po = tc_pem(f->other), *t;
    size_t n = strlen(pa) + strlen(po) + strlen(f->trusted) + 1024;

    t = malloc(n);
    snprintf(t, n,
             "# Trust for web.test, kept by hand. Do not trust the old root for TLS.\n"
             "\n%s\n# the rejected root\n%s"
             "-----BEGIN EXAMPLE PARAMETERS-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
             "-----END EXAMPLE PARAMETERS-----\n"
             "%s# trailing comment without a newline",
             pa, f->trusted, po);
    *a_pem = pa;
    free(po);
    return t;
}

/* OpenSSL's verdict on leaf with the store's certificates as anchors, for a TLS server. */
static int
verify_sslserver(const struct evc_trust *t, X509 *leaf)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int err;

    for (size_t i = 0; i < t->n; i++) {
        assert_int_equal(X509_STORE_add_cert(st, t->certs[i].x), 1);
    }
    assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
    assert_int_equal(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
    err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return err;
}

/* OpenSSL reading the file itself, as `openssl verify -CAfile F -purpose sslserver` does. */
static int
verify_file_sslserver(const char *cafile, X509 *leaf)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int err;

    assert_int_equal(X509_STORE_load_file(st, cafile), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
    assert_int_equal(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
    err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return err;
}

static long
index_of(const struct evc_trust *t, X509 *x)
{
    uint8_t fp[32];

    assert_int_equal(evc_x509_sha256(x, fp), 0);
    return evc_trust_find(t, fp);
}

/* A bundle: the reject mark, the comments, the other blocks and the order survive add and remove.
 */
static void
test_bundle_keeps_bytes(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char path[128], *orig, *pa, *pb = tc_pem(f->b), *want, *got;
    long k;

    snprintf(path, sizeof(path), "%s/bundle.pem", f->dir);
    orig = bundle_text(f, &pa);
    put(path, orig, 0644);
    assert_int_equal(evc_trust_load(path, NULL, &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "PEM bundle");
    assert_int_equal(t->n, 3);

    /* The rejected root is loaded with its reject mark, and OpenSSL honours it. */
    assert_int_equal(X509_check_trust(t->certs[1].x, X509_TRUST_SSL_SERVER, 0),
                     X509_TRUST_REJECTED);
    assert_int_equal(verify_sslserver(t, f->leaf), X509_V_ERR_CERT_REJECTED);

    /* Add: the old bytes, a line break for the comment that lacked one, the new block. */
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    want = malloc(strlen(orig) + strlen(pb) + 2);
    snprintf(want, strlen(orig) + strlen(pb) + 2, "%s\n%s", orig, pb);
    got = slurp(path);
    assert_string_equal(got, want);
    free(got);
    assert_int_equal(verify_file_sslserver(path, f->leaf), X509_V_ERR_CERT_REJECTED);
    assert_int_equal(verify_file_sslserver(path, f->b), X509_V_OK);

    /* Remove the first certificate: exactly its block goes, nothing else. */
    assert_true((k = index_of(t, f->a)) >= 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
    got = slurp(path);
    {
        char *at = strstr(want, pa), *w2 = calloc(1, strlen(want) + 1);

        assert_non_null(at);
        memcpy(w2, want, (size_t)(at - want));
        memcpy(w2 + (at - want), at + strlen(pa), strlen(at + strlen(pa)) + 1);
        assert_string_equal(got, w2);
        free(w2);
    }
    free(got);

    /* Remove the one added (offsets moved by the first cut): the rest as it was. */
    assert_true((k = index_of(t, f->b)) >= 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
    got = slurp(path);
    assert_non_null(strstr(got, "# Trust for web.test"));
    assert_non_null(strstr(got, "-----BEGIN TRUSTED CERTIFICATE-----"));
    assert_non_null(strstr(got, "-----BEGIN EXAMPLE PARAMETERS-----"));
    assert_non_null(strstr(got, "# trailing comment without a newline\n"));
    assert_null(strstr(got, pb));
    free(got);
    evc_trust_free(t);

    /* What is left loads again, with the mark. */
    assert_int_equal(evc_trust_load(path, NULL, &t, &err), 0);
    assert_int_equal(t->n, 2);
    assert_int_equal(verify_sslserver(t, f->leaf), X509_V_ERR_CERT_REJECTED);
    evc_trust_free(t);
    free(orig);
    free(pa);
    free(pb);
    free(want);
}

/* The test above can fail: without the mark, the same root anchors the leaf. */
static void
test_bundle_without_mark_trusts(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char path[128], *pr = tc_pem(f->root);

    snprintf(path, sizeof(path), "%s/plain.pem", f->dir);
    put(path, pr, 0644);
    assert_int_equal(evc_trust_load(path, NULL, &t, &err), 0);
    assert_int_equal(verify_sslserver(t, f->leaf), X509_V_OK);
    evc_trust_free(t);
    free(pr);
}

/* A root trusted for clientAuth only anchors no TLS server either. */
static void
test_bundle_trust_excludes_serverauth(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char path[128], *pem;
    BIO *b = BIO_new(BIO_s_mem());
    long n;
    char *data;

    assert_int_equal(X509_add1_trust_object(f->root, OBJ_nid2obj(NID_client_auth)), 1);
    assert_int_equal(PEM_write_bio_X509_AUX(b, f->root), 1);
    X509_trust_clear(f->root);
    n = BIO_get_mem_data(b, &data);
    pem = strndup(data, (size_t)n);
    BIO_free(b);
    snprintf(path, sizeof(path), "%s/client-only.pem", f->dir);
    put(path, pem, 0644);
    assert_int_equal(evc_trust_load(path, NULL, &t, &err), 0);
    assert_int_equal(verify_sslserver(t, f->leaf), X509_V_ERR_CERT_REJECTED);
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    evc_trust_free(t);
    assert_int_equal(verify_file_sslserver(path, f->leaf), X509_V_ERR_CERT_REJECTED);
    free(pem);
}

/* Mode, owner and group stay; a new store file is 0644. */
static void
test_bundle_keeps_mode_owner(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char path[128], *pa = tc_pem(f->a);
    struct stat st;
    int root = geteuid() == 0;

    snprintf(path, sizeof(path), "%s/owned.pem", f->dir);
    put(path, pa, 0640);
    if (root) {
        assert_int_equal(chown(path, 1, 1), 0);
    }
    assert_int_equal(evc_trust_load(path, NULL, &t, &err), 0);
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (root) {
        assert_int_equal(st.st_uid, 1);
        assert_int_equal(st.st_gid, 1);
    }
    assert_int_equal(evc_trust_remove(t, 0, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (root) {
        assert_int_equal(st.st_uid, 1);
        assert_int_equal(st.st_gid, 1);
    }
    evc_trust_free(t);

    /* A new file: 0644 whatever the umask. */
    snprintf(path, sizeof(path), "%s/new.pem", f->dir);
    {
        mode_t old = umask(077);

        assert_int_equal(evc_atomic_write(path, "x\n", 2, 0644, &err), 0);
        umask(old);
    }
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    /* A key written over a world-readable file does not stay world-readable. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(evc_atomic_write(path, "k\n", 2, 0600, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    free(pa);
    if (!root) {
        skip(); /* the owner and group part needs root to chown to 1:1 */
    }
}

/* A store reached through symbolic links is written where the last link points; links stay. */
static void
test_bundle_symlink(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char real[128], sub[128], l1[128], l2[128], buf[256], *pa = tc_pem(f->a), *got;
    struct stat st;
    ssize_t n;

    snprintf(sub, sizeof(sub), "%s/real", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(real, sizeof(real), "%s/real/trust.pem", f->dir);
    snprintf(l1, sizeof(l1), "%s/hop.pem", f->dir);
    snprintf(l2, sizeof(l2), "%s/store.pem", f->dir);
    put(real, pa, 0640);
    assert_int_equal(symlink("real/trust.pem", l1), 0); /* relative to its own directory */
    assert_int_equal(symlink(l1, l2), 0);               /* absolute */
    assert_int_equal(evc_trust_load(l2, NULL, &t, &err), 0);
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    evc_trust_free(t);

    assert_int_equal(lstat(l2, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(l1, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    n = readlink(l1, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "real/trust.pem");
    assert_int_equal(lstat(real, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640);
    got = slurp(real);
    assert_int_equal(strncmp(got, pa, strlen(pa)), 0);
    assert_non_null(strstr(got + strlen(pa), "BEGIN CERTIFICATE"));
    free(got);

    /* A group commit writes through links the same way. */
    {
        struct evc_batch *b = NULL;

        assert_int_equal(evc_batch_new(&b, &err), 0);
        assert_int_equal(evc_batch_write(b, l2, "batch\n", 6, 0644, &err), 0);
        assert_int_equal(evc_batch_commit(b, &err), 0);
        evc_batch_free(b);
        assert_int_equal(lstat(l2, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(stat(real, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        got = slurp(real);
        assert_string_equal(got, "batch\n");
        free(got);
    }

    /* A loop of links is refused by name, and nothing is written. */
    snprintf(l1, sizeof(l1), "%s/loop1", f->dir);
    snprintf(l2, sizeof(l2), "%s/loop2", f->dir);
    assert_int_equal(symlink("loop2", l1), 0);
    assert_int_equal(symlink("loop1", l2), 0);
    assert_int_equal(evc_atomic_write(l1, "x", 1, 0644, &err), EVC_ERR_LOOP);
    assert_non_null(strstr(evc_err_message(&err), "loop1"));
    assert_int_equal(lstat(l1, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(pa);
}

/* The process's step counter runs on from earlier tests: count from the hook's installation. */
static int fault_at, fault_seen;

static void
die_at(unsigned long step)
{
    (void)step;
    if (++fault_seen == fault_at) {
        _exit(99);
    }
}

/*
 * A write cut short at every step, through a symbolic link, on a 0640 file
 * of another owner: the file is the old one byte for byte or the new one,
 * and keeps its link, mode and owner either way.
 */
static void
test_bundle_crash_steps(void **state)
{
    struct fix *f = *state;
    char real[128], link[128], *orig, *pa, *pb = tc_pem(f->b), *want, *got;
    int crashes = 0, root = geteuid() == 0;

    snprintf(real, sizeof(real), "%s/crash-real.pem", f->dir);
    snprintf(link, sizeof(link), "%s/crash.pem", f->dir);
    orig = bundle_text(f, &pa);
    want = malloc(strlen(orig) + strlen(pb) + 2);
    snprintf(want, strlen(orig) + strlen(pb) + 2, "%s\n%s", orig, pb);
    assert_int_equal(symlink("crash-real.pem", link), 0);
    for (fault_at = 1; fault_at < 50; fault_at++) {
        struct stat st;
        pid_t pid;
        int status;

        put(real, orig, 0640);
        if (root) {
            assert_int_equal(chown(real, 1, 1), 0);
        }
        if ((pid = fork()) == 0) {
            struct evc_trust *t = NULL;
            struct evc_err err = {0};

            evc_fault_hook = die_at;
            if (evc_trust_load(link, NULL, &t, &err) != 0 || evc_trust_add(t, f->b, &err) != 0) {
                _exit(1);
            }
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        got = slurp(real);
        assert_true(strcmp(got, orig) == 0 || strcmp(got, want) == 0);
        free(got);
        assert_int_equal(lstat(link, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(stat(real, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        if (root) {
            assert_int_equal(st.st_uid, 1);
            assert_int_equal(st.st_gid, 1);
        }
        if (WEXITSTATUS(status) == 0) {
            got = slurp(real);
            assert_string_equal(got, want);
            free(got);
            break;
        }
        assert_int_equal(WEXITSTATUS(status), 99);
        crashes++;
    }
    assert_true(crashes >= 3); /* create, rename, sync: each was cut short */
    free(orig);
    free(pa);
    free(pb);
    free(want);
}

static char *
hash_name(X509 *x, int k)
{
    char *s = malloc(32);

    snprintf(s, 32, "%08lx.%d", X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, NULL), k);
    return s;
}

/* A hashed directory: files evercert did not add keep their names, modes and bytes. */
static void
test_hashdir_keeps_others(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char dir[128], p[256], q[8192], *pa = tc_pem(f->a), *po = tc_pem(f->other),
                                    *pr = tc_pem(f->root);
    char *mine, *multi, *multi_after, *h0, *h1, *ho, *got;
    struct stat st;
    long k;

    snprintf(dir, sizeof(dir), "%s/hashed", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    /* The current certificate as a regular file named by its hash (c_rehash's copy mode). */
    h0 = hash_name(f->a, 0);
    h1 = hash_name(f->a, 1);
    ho = hash_name(f->other, 0);
    mine = cat("# copied here by hand\n", pa);
    snprintf(p, sizeof(p), "%s/%s", dir, h0);
    put(p, mine, 0640);
    /* A file of two certificates and the rejected root's trust block, linked by hash. */
    multi = malloc(strlen(po) + strlen(f->trusted) + 64);
    snprintf(multi, strlen(po) + strlen(f->trusted) + 64, "# two\n%s%s# end\n", po, f->trusted);
    snprintf(p, sizeof(p), "%s/multi.crt", dir);
    put(p, multi, 0600);
    snprintf(p, sizeof(p), "%s/%s", dir, ho);
    assert_int_equal(symlink("multi.crt", p), 0);
    {
        char *hr = hash_name(f->root, 0);

        snprintf(p, sizeof(p), "%s/%s", dir, hr);
        assert_int_equal(symlink("multi.crt", p), 0);
        free(hr);
    }
    assert_int_equal(evc_trust_load(dir, NULL, &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "hashed directory");
    assert_true(index_of(t, f->a) >= 0); /* found by OpenSSL under its own name */
    assert_int_equal(verify_sslserver(t, f->leaf), X509_V_ERR_CERT_REJECTED);

    /* Add a successor of the same subject: a link numbered after the user's file. */
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    snprintf(p, sizeof(p), "%s/%s", dir, h0);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640);
    got = slurp(p);
    assert_string_equal(got, mine);
    free(got);
    snprintf(p, sizeof(p), "%s/%s", dir, h1);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    snprintf(p, sizeof(p), "%s/multi.crt", dir);
    got = slurp(p);
    assert_string_equal(got, multi);
    free(got);
    evc_trust_free(t);
    {
        /* OpenSSL finds both through the directory. */
        X509_STORE *xs = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();

        assert_int_equal(X509_STORE_load_path(xs, dir), 1);
        assert_int_equal(X509_STORE_CTX_init(ctx, xs, f->b, NULL), 1);
        assert_int_equal(X509_verify_cert(ctx), 1);
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(xs);
    }

    /* Remove one certificate of the two-certificate file: that block only. */
    assert_int_equal(evc_trust_load(dir, NULL, &t, &err), 0);
    assert_true((k = index_of(t, f->other)) >= 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
    snprintf(p, sizeof(p), "%s/multi.crt", dir);
    got = slurp(p);
    multi_after = cat("# two\n", f->trusted);
    snprintf(q, sizeof(q), "%s# end\n", multi_after);
    assert_string_equal(got, q);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    free(got);
    snprintf(p, sizeof(p), "%s/%s", dir, h0);
    got = slurp(p);
    assert_string_equal(got, mine);
    free(got);

    /* Retire the certificate whose file was <hash>.0 itself: the successor's link moves up. */
    assert_true((k = index_of(t, f->a)) >= 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
    evc_trust_free(t);
    snprintf(p, sizeof(p), "%s/%s", dir, h0);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    snprintf(p, sizeof(p), "%s/%s", dir, h1);
    assert_int_equal(lstat(p, &st), -1);
    {
        X509_STORE *xs = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();

        assert_int_equal(X509_STORE_load_path(xs, dir), 1);
        assert_int_equal(X509_STORE_CTX_init(ctx, xs, f->b, NULL), 1);
        assert_int_equal(X509_verify_cert(ctx), 1);
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(xs);
    }

    free(pa);
    free(po);
    free(pr);
    free(mine);
    free(multi);
    free(multi_after);
    free(h0);
    free(h1);
    free(ho);
}

/* The attributes of bag i of a PKCS#12 file, as text, for comparing. */
static void
bag_attrs(const uint8_t *der, size_t len, const char *pass, char *out, size_t outsz)
{
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(PKCS7) * safes;
    size_t o = 0;

    assert_non_null(p12);
    assert_non_null(safes = PKCS12_unpack_authsafes(p12));
    out[0] = '\0';
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = OBJ_obj2nid(p7->type) == NID_pkcs7_data
                                             ? PKCS12_unpack_p7data(p7)
                                             : PKCS12_unpack_p7encdata(p7, pass, -1);

        assert_non_null(bags);
        for (int k = 0; k < sk_PKCS12_SAFEBAG_num(bags); k++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, k);
            char *fn = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
            const ASN1_TYPE *lk = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
            const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);

            o += (size_t)snprintf(out + o, outsz - o, "[%s lk=%d n=%d]", fn ? fn : "-",
                                  lk != NULL ? lk->value.octet_string->length : 0,
                                  sk_X509_ATTRIBUTE_num(attrs));
            OPENSSL_free(fn);
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
}

/* A PKCS#12 truststore: the other entries keep their aliases, localKeyId and other attributes. */
static void
test_pkcs12_keeps_bags(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12_SAFEBAG *bag;
    PKCS12 *p12;
    unsigned char *der = NULL, id[4] = {1, 2, 3, 4};
    ASN1_OBJECT *any = OBJ_txt2obj("2.5.29.37.0", 1);
    char path[128], before[1024], after[1024], want[2048];
    int len;
    struct stat st;
    long k;
    FILE *fp;

    /* As keytool writes one, plus a bag with a localKeyId and an extra attribute. */
    assert_non_null(bag = PKCS12_add_cert(&bags, f->a));
    assert_int_equal(PKCS12_add_friendlyname_utf8(bag, "web", -1), 1);
    assert_int_equal(PKCS12_add1_attr_by_txt(bag, "2.16.840.1.113894.746875.1.1", V_ASN1_OBJECT,
                                             (const unsigned char *)any, -1),
                     1);
    assert_non_null(bag = PKCS12_add_cert(&bags, f->other));
    assert_int_equal(PKCS12_add_friendlyname_utf8(bag, "other", -1), 1);
    assert_int_equal(PKCS12_add_localkeyid(bag, id, 4), 1);
    assert_int_equal(PKCS12_add1_attr_by_txt(bag, "2.16.840.1.113894.746875.1.1", V_ASN1_OBJECT,
                                             (const unsigned char *)any, -1),
                     1);
    assert_int_equal(PKCS12_add_safe(&safes, bags, NID_aes_256_cbc, 0, "pw"), 1);
    assert_non_null(p12 = PKCS12_add_safes(safes, 0));
    assert_int_equal(PKCS12_set_mac(p12, "pw", -1, NULL, 0, 0, NULL), 1);
    assert_true((len = i2d_PKCS12(p12, &der)) > 0);
    snprintf(path, sizeof(path), "%s/trust.p12", f->dir);
    assert_non_null(fp = fopen(path, "wb"));
    assert_int_equal(fwrite(der, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    assert_int_equal(chmod(path, 0640), 0);
    bag_attrs(der, (size_t)len, "pw", before, sizeof(before));
    assert_string_equal(before, "[web lk=0 n=2][other lk=4 n=3]");
    OPENSSL_free(der);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    ASN1_OBJECT_free(any);

    assert_int_equal(evc_trust_load(path, "pw", &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "PKCS#12");
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    {
        FILE *in = fopen(path, "rb");
        uint8_t buf[65536];
        size_t n;

        assert_non_null(in);
        n = fread(buf, 1, sizeof(buf), in);
        fclose(in);
        bag_attrs(buf, n, "pw", after, sizeof(after));
    }
    {
        uint8_t md[32];
        unsigned int ml;

        assert_int_equal(X509_digest(f->b, EVP_sha256(), md, &ml), 1);
        snprintf(want, sizeof(want), "%s[evercert-%02x%02x%02x%02x%02x%02x%02x%02x lk=0 n=2]",
                 before, md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
    }
    assert_string_equal(after, want);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    /* Remove the first: the second keeps its alias, its localKeyId and the rest. */
    assert_true((k = index_of(t, f->a)) >= 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
    evc_trust_free(t);
    assert_int_equal(evc_trust_load(path, "pw", &t, &err), 0);
    assert_int_equal(t->n, 2);
    assert_true(index_of(t, f->a) < 0);
    evc_trust_free(t);
    {
        FILE *in = fopen(path, "rb");
        uint8_t buf[65536];
        size_t n;

        assert_non_null(in);
        n = fread(buf, 1, sizeof(buf), in);
        fclose(in);
        bag_attrs(buf, n, "pw", after, sizeof(after));
    }
    assert_non_null(strstr(after, "[other lk=4 n=3]"));
    assert_null(strstr(after, "[web "));

    /* A wrong password changes nothing and says so. */
    assert_int_equal(evc_trust_load(path, "nope", &t, &err), EVC_ERR_BAD_PASSWORD);
    assert_non_null(strstr(evc_err_message(&err), "trust.p12: wrong password"));
}

/* The block reader: bad input is named by line; what is not a certificate is skipped. */
static void
test_pem_certs_parse(void **state)
{
    struct fix *f = *state;
    char *pa = tc_pem(f->a), buf[8192];
    struct evc_pem_cert *v = NULL;
    size_t n = 0;
    struct evc_err err = {0};
    static const struct {
        const char *pre, *post; /* around the certificate */
        int cut;                /* bytes cut off its end */
        int code;
        const char *msg;
    } bad[] = {
        {"# a\n# b\n", "", 40, EVC_ERR_TRUNCATED,
         "unterminated -----BEGIN CERTIFICATE----- at line 3: no END line"},
        {"", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", 0, EVC_ERR_BAD_PEM,
         "invalid base64"},
        {"", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0, EVC_ERR_BAD_DER,
         "line "},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t pl = strlen(pa) - (size_t)bad[i].cut;

        snprintf(buf, sizeof(buf), "%s%.*s%s", bad[i].pre, (int)pl, pa, bad[i].post);
        assert_int_equal(evc_pem_certs_parse((const uint8_t *)buf, strlen(buf), &v, &n, &err),
                         bad[i].code);
        assert_non_null(strstr(evc_err_message(&err), bad[i].msg));
        assert_null(v);
    }
    /* Other blocks and a too-long label: skipped, their bytes kept. */
    snprintf(buf, sizeof(buf),
             "-----BEGIN %0100d-----\n%s-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE "
             "KEY-----\r\n%s",
             0, pa, pa);
    assert_int_equal(evc_pem_certs_parse((const uint8_t *)buf, strlen(buf), &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].line, 2);
    assert_int_equal(strncmp(buf + v[0].start, pa, strlen(pa)), 0);
    assert_int_equal(v[0].end - v[0].start, strlen(pa));
    assert_int_equal(strncmp(buf + v[1].start, pa, strlen(pa)), 0);
    evc_pem_certs_free(v, n);
    /* An unterminated block of any label: a store that does not parse whole is not rewritten. */
    strncat(buf, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n", sizeof(buf) - strlen(buf) - 1);
    assert_int_equal(evc_pem_certs_parse((const uint8_t *)buf, strlen(buf), &v, &n, &err),
                     EVC_ERR_TRUNCATED);
    assert_non_null(strstr(evc_err_message(&err), "unterminated -----BEGIN RSA PRIVATE KEY-----"));
    assert_null(v);
    /* Data after a certificate's DER is an error, not ignored. */
    {
        size_t dl;
        uint8_t *der = tc_der(f->a, &dl), *big = malloc(dl + 2);
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long bl;

        memcpy(big, der, dl);
        big[dl] = 0x05;
        big[dl + 1] = 0x00;
        assert_true(PEM_write_bio(b, "CERTIFICATE", "", big, (long)dl + 2) > 0);
        bl = BIO_get_mem_data(b, &data);
        assert_int_equal(evc_pem_certs_parse((const uint8_t *)data, (size_t)bl, &v, &n, &err),
                         EVC_ERR_BAD_DER);
        assert_non_null(strstr(evc_err_message(&err), "line 1: data after the certificate"));
        BIO_free(b);
        OPENSSL_free(der);
        free(big);
    }
    free(pa);
}

/*
 * A system trust directory is what update-ca-certificates reads (find -L
 * DIR -name '*.crt'): *.crt files at any depth, a linked directory
 * followed, *.pem not read, a loop refused naming it. A person's file is
 * never removed or cut when its certificate is retired; evercert's own is.
 */
static void
test_sysdir_view(void **state)
{
    struct fix *f = *state;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char sys[128], p[256], q[256], spec[160], *pa = tc_pem(f->a), *po = tc_pem(f->other),
                                              *pr = tc_pem(f->root), *pb = tc_pem(f->b),
                                              *pl = tc_pem(f->leaf), *two, *got;
    long k;

    snprintf(sys, sizeof(sys), "%s/sys", f->dir);
    snprintf(spec, sizeof(spec), "system:%s", sys);
    snprintf(p, sizeof(p), "%s/sub/deep", sys);
    assert_int_equal(mkdir(sys, 0755), 0);
    snprintf(q, sizeof(q), "%s/sub", sys);
    assert_int_equal(mkdir(q, 0755), 0);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(q, sizeof(q), "%s/outside", f->dir);
    assert_int_equal(mkdir(q, 0755), 0);
    two = cat(pa, po);
    snprintf(p, sizeof(p), "%s/person.crt", sys);
    put(p, two, 0644);
    snprintf(p, sizeof(p), "%s/sub/deep/root.crt", sys);
    put(p, pr, 0644);
    snprintf(p, sizeof(p), "%s/ignored.pem", sys);
    put(p, pb, 0644);
    snprintf(p, sizeof(p), "%s/outside/linked.crt", f->dir);
    put(p, pl, 0644);
    snprintf(p, sizeof(p), "%s/lnk", sys);
    assert_int_equal(symlink("../outside", p), 0);
    snprintf(p, sizeof(p), "%s/dangling.crt", sys);
    assert_int_equal(symlink("nowhere.crt", p), 0);

    /* A DER file of two certificates (p11-kit reads DER): read, and never cut when one retires. */
    {
        size_t l1, l2;
        uint8_t *d1 = tc_der(f->b, &l1), *d2 = tc_der(f->root, &l2);
        FILE *fp;

        snprintf(p, sizeof(p), "%s/sub/two-der.crt", sys);
        assert_non_null(fp = fopen(p, "wb"));
        assert_int_equal(fwrite(d1, 1, l1, fp), l1);
        assert_int_equal(fwrite(d2, 1, l2, fp), l2);
        assert_int_equal(fclose(fp), 0);
        free(d1);
        free(d2);
        assert_int_equal(evc_trust_load(spec, NULL, &t, &err), 0);
        assert_int_equal(t->n, 6);
        while ((k = index_of(t, f->b)) >= 0) {
            assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
        }
        assert_int_equal(t->n, 5);
        evc_trust_free(t);
        t = NULL;
        assert_int_equal(evc_trust_load(spec, NULL, &t, &err), 0);
        assert_int_equal(t->n, 6);
        evc_trust_free(t);
        t = NULL;
        assert_int_equal(unlink(p), 0);
    }
    assert_int_equal(evc_trust_load(spec, NULL, &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "system directory");
    assert_int_equal(t->n, 4);
    assert_true(index_of(t, f->a) >= 0);
    assert_true(index_of(t, f->other) >= 0);
    assert_true(index_of(t, f->root) >= 0);
    assert_true(index_of(t, f->leaf) >= 0);
    assert_int_equal(index_of(t, f->b), -1);

    /* Retiring what a person's files hold leaves every file as it was. */
    assert_int_equal(evc_trust_remove(t, (size_t)index_of(t, f->a), &err), 0);
    assert_int_equal(evc_trust_remove(t, (size_t)index_of(t, f->root), &err), 0);
    snprintf(p, sizeof(p), "%s/person.crt", sys);
    got = slurp(p);
    assert_string_equal(got, two);
    free(got);
    snprintf(p, sizeof(p), "%s/sub/deep/root.crt", sys);
    got = slurp(p);
    assert_string_equal(got, pr);
    free(got);

    /* evercert's own file comes and goes. */
    assert_int_equal(evc_trust_add(t, f->b, &err), 0);
    k = index_of(t, f->b);
    assert_true(k >= 0);
    snprintf(p, sizeof(p), "%s/%s", sys, t->certs[k].file);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(evc_trust_remove(t, (size_t)k, &err), 0);
    assert_int_equal(access(p, F_OK), -1);
    evc_trust_free(t);
    t = NULL;

    /* A directory linked inside itself: refused, naming the link. */
    snprintf(p, sizeof(p), "%s/sub/up", sys);
    assert_int_equal(symlink("..", p), 0);
    assert_int_not_equal(evc_trust_load(spec, NULL, &t, &err), 0);
    assert_null(t);
    assert_non_null(strstr(evc_err_message(&err), "sub/up"));
    assert_non_null(strstr(evc_err_message(&err), "loop"));
    free(pa);
    free(po);
    free(pr);
    free(pb);
    free(pl);
    free(two);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk),
        cmocka_unit_test_setup_teardown(test_bundle_keeps_bytes, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_bundle_without_mark_trusts, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_bundle_trust_excludes_serverauth, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_bundle_symlink, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_bundle_crash_steps, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_hashdir_keeps_others, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_pkcs12_keeps_bags, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_pem_certs_parse, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_bundle_keeps_mode_owner, fix_setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_sysdir_view, fix_setup, fix_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
