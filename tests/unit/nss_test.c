/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NSS databases as trust stores, read back with NSS itself: the trust
 * given to each kind of certificate (a CA C,,; a self-signed server
 * certificate CP,,), what is listed (SSL trust, distrust as a reject
 * mark, nothing without SSL flags), removal of evercert's own entries
 * only, several databases in one process, the nss: and sql: names, and
 * a directory without cert9.db refused without creating one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cert.h>
#include <certdb.h>
#include <nss.h>
#include <pk11pub.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "evercert/stores.h"
#include "testcert.h"

static char dirs[1][64];

/* A new empty database made by NSS, as certutil -N does. */
static void
make_db(const char *dir)
{
    char spec[128];
    NSSInitContext *ctx;

    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(spec, sizeof(spec), "sql:%s", dir);
    ctx = NSS_InitContext(spec, "", "", "", NULL, NSS_INIT_NOROOTINIT | NSS_INIT_NOMODDB);
    assert_non_null(ctx);
    assert_int_equal(NSS_ShutdownContext(ctx), SECSuccess);
}

/* Open dir with NSS for the test's own look (or write, with trust set: a user's certutil -A). */
struct look {
    NSSInitContext *ctx;
    PK11SlotInfo *slot;
};

static void
look_open(const char *dir, struct look *l)
{
    char spec[128];

    l->ctx = NSS_InitContext("", "", "", "", NULL,
                             NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB | NSS_INIT_NOROOTINIT);
    assert_non_null(l->ctx);
    snprintf(spec, sizeof(spec), "configdir='sql:%s' tokenDescription='look'", dir);
    l->slot = SECMOD_OpenUserDB(spec);
    assert_non_null(l->slot);
}

static void
look_close(struct look *l)
{
    SECMOD_CloseUserDB(l->slot);
    PK11_FreeSlot(l->slot);
    assert_int_equal(NSS_ShutdownContext(l->ctx), SECSuccess);
}

/* The SSL trust flags of the entry named nick ("look:" + nick), or -1 if none. */
static int
ssl_flags(const char *dir, const char *nick)
{
    struct look l;
    CERTCertList *list;
    CERTCertListNode *n;
    char want[128];
    int f = -1;

    snprintf(want, sizeof(want), "look:%s", nick);
    look_open(dir, &l);
    list = PK11_ListCertsInSlot(l.slot);
    for (n = CERT_LIST_HEAD(list); !CERT_LIST_END(n, list); n = CERT_LIST_NEXT(n)) {
        CERTCertTrust tr;

        if (n->appData != NULL && strcmp(n->appData, want) == 0) {
            f = CERT_GetCertTrust(n->cert, &tr) == SECSuccess ? (int)tr.sslFlags : 0;
        }
    }
    CERT_DestroyCertList(list);
    look_close(&l);
    return f;
}

/* A user's own entry: certutil -A -n nick -t trust. */
static void
user_add(const char *dir, X509 *x, const char *nick, const char *trust)
{
    struct look l;
    CERTCertTrust tr;
    CERTCertificate *c;
    size_t len;
    uint8_t *der = tc_der(x, &len);
    SECItem item = {siBuffer, der, (unsigned)len};

    look_open(dir, &l);
    if (PK11_NeedUserInit(l.slot)) {
        assert_int_equal(PK11_InitPin(l.slot, NULL, ""), SECSuccess); /* as certutil -N */
    }
    c = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &item, NULL, PR_FALSE, PR_TRUE);
    assert_non_null(c);
    assert_int_equal(PK11_ImportCert(l.slot, c, CK_INVALID_HANDLE, nick, PR_FALSE), SECSuccess);
    assert_int_equal(CERT_DecodeTrustString(&tr, trust), SECSuccess);
    assert_int_equal(CERT_ChangeCertTrust(CERT_GetDefaultCertDB(), c, &tr), SECSuccess);
    CERT_DestroyCertificate(c);
    look_close(&l);
    free(der);
}

static X509 *
cert(EVP_PKEY *k, const char *cn, int ca)
{
    struct tc_spec s = {0};

    s.key = k;
    s.subject = cn;
    s.ca = ca;
    s.sans = ca ? NULL : "DNS:web.test";
    s.not_before = time(NULL) - 60;
    s.not_after = time(NULL) + 86400;
    return tc_cert(&s);
}

static char *
nick_of(X509 *x)
{
    static char n[32];
    uint8_t md[32];
    unsigned len;

    assert_int_equal(X509_digest(x, EVP_sha256(), md, &len), 1);
    snprintf(n, sizeof(n), "evercert %02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3],
             md[4], md[5], md[6], md[7]);
    return n;
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dirs[0], sizeof(dirs[0]), "/tmp/evc-nss-unit-XXXXXX");
    assert_non_null(mkdtemp(dirs[0]));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dirs[0]);
    return system(cmd) == 0 ? 0 : -1;
}

static void
test_kinds_and_foreign(void **state)
{
    char db[96], nss[112];
    EVP_PKEY *k1 = tc_key("ec:P-256"), *k2 = tc_key("ec:P-256"), *k3 = tc_key("ec:P-256");
    X509 *ca = cert(k1, "/CN=Test Root", 1), *leaf = cert(k2, "/CN=web.test", 0);
    X509 *mine = cert(k3, "/CN=web.test", 0), *bad = cert(k1, "/CN=Bad", 1);
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char ca_nick[32], leaf_nick[32];
    long i;

    (void)state;
    snprintf(db, sizeof(db), "%s/profile", dirs[0]);
    make_db(db);
    user_add(db, mine, "my server", "P,,");
    user_add(db, bad, "distrusted", "p,p,");
    snprintf(nss, sizeof(nss), "nss:%s", db);
    assert_int_equal(evc_trust_load(nss, NULL, &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "NSS database");
    assert_int_equal(t->n, 2);
    /* The distrusted entry is listed with a reject mark: found, and it anchors nothing. */
    for (size_t k = 0; k < t->n; k++) {
        int rejects = X509_get0_reject_objects(t->certs[k].x) != NULL;

        assert_int_equal(rejects, strcmp(t->certs[k].file, "distrusted") == 0);
    }
    assert_int_equal(evc_trust_add(t, ca, &err), 0);
    assert_int_equal(evc_trust_add(t, leaf, &err), 0);
    evc_trust_free(t);

    snprintf(ca_nick, sizeof(ca_nick), "%s", nick_of(ca));
    snprintf(leaf_nick, sizeof(leaf_nick), "%s", nick_of(leaf));
    /* A CA: C,, (VALID_CA | TRUSTED_CA). A self-signed leaf: CP,, for Firefox and Chromium. */
    assert_int_equal(ssl_flags(db, ca_nick), CERTDB_VALID_CA | CERTDB_TRUSTED_CA);
    assert_int_equal(ssl_flags(db, leaf_nick),
                     CERTDB_VALID_CA | CERTDB_TRUSTED_CA | CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD);
    assert_int_equal(ssl_flags(db, "my server"), CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD);

    /* Read back: four listed; removing each leaves the user's two as they were. */
    assert_int_equal(evc_trust_load(db, NULL, &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "NSS database");
    assert_int_equal(t->n, 4);
    while (t->n > 0) {
        assert_int_equal(evc_trust_remove(t, 0, &err), 0);
    }
    evc_trust_free(t);
    assert_int_equal(ssl_flags(db, ca_nick), -1);
    assert_int_equal(ssl_flags(db, leaf_nick), -1);
    assert_int_equal(ssl_flags(db, "my server"), CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD);
    assert_int_equal(ssl_flags(db, "distrusted"), CERTDB_TERMINAL_RECORD);

    /* A distrusted certificate is not made trusted by an add. */
    assert_int_equal(evc_trust_load(db, NULL, &t, &err), 0);
    i = (long)t->n;
    assert_int_not_equal(evc_trust_add(t, bad, &err), 0);
    assert_non_null(strstr(evc_err_message(&err), "marked not to be trusted"));
    assert_int_equal((long)t->n, i);
    evc_trust_free(t);
    assert_int_equal(ssl_flags(db, "distrusted"), CERTDB_TERMINAL_RECORD);

    X509_free(ca);
    X509_free(leaf);
    X509_free(mine);
    X509_free(bad);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
}

/*
 * Two databases in one process, beside another NSS user that holds NSS
 * open throughout: each change has its own context and slot, and neither
 * database sees the other's changes.
 */
static void
test_two_databases(void **state)
{
    char a[96], b[96], sql[112];
    EVP_PKEY *k = tc_key("ec:P-256");
    X509 *x = cert(k, "/CN=web.test", 0);
    struct evc_trust *ta = NULL, *tb = NULL;
    NSSInitContext *hold;
    struct evc_err err = {0};

    (void)state;
    snprintf(a, sizeof(a), "%s/two-a", dirs[0]);
    snprintf(b, sizeof(b), "%s/two-b", dirs[0]);
    make_db(a);
    make_db(b);
    snprintf(sql, sizeof(sql), "sql:%s", b);
    hold = NSS_InitContext("", "", "", "", NULL,
                           NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB | NSS_INIT_NOROOTINIT);
    assert_non_null(hold);
    assert_int_equal(evc_trust_load(a, NULL, &ta, &err), 0);
    assert_int_equal(evc_trust_load(sql, NULL, &tb, &err), 0);
    assert_int_equal(evc_trust_add(ta, x, &err), 0);
    assert_int_equal(ssl_flags(a, nick_of(x)) > 0, 1);
    assert_int_equal(ssl_flags(b, nick_of(x)), -1);
    assert_int_equal(evc_trust_add(tb, x, &err), 0);
    assert_int_equal(evc_trust_remove(ta, 0, &err), 0);
    assert_int_equal(ssl_flags(a, nick_of(x)), -1);
    assert_int_equal(ssl_flags(b, nick_of(x)) > 0, 1);
    evc_trust_free(ta);
    evc_trust_free(tb);
    assert_int_equal(NSS_ShutdownContext(hold), SECSuccess);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* nss:DIR without cert9.db: an error naming DIR, and no database made there. */
static void
test_missing(void **state)
{
    char d[96], p[112], nss[112];
    struct evc_trust *t = (struct evc_trust *)1;
    struct evc_err err = {0};
    struct stat st;

    (void)state;
    snprintf(d, sizeof(d), "%s/none", dirs[0]);
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(nss, sizeof(nss), "nss:%s", d);
    assert_int_not_equal(evc_trust_load(nss, NULL, &t, &err), 0);
    assert_null(t);
    assert_non_null(strstr(evc_err_message(&err), d));
    assert_non_null(strstr(evc_err_message(&err), "not an NSS database"));
    snprintf(p, sizeof(p), "%s/cert9.db", d);
    assert_int_equal(stat(p, &st), -1);
    /* Without the prefix the same directory is an (empty) hashed directory, as before. */
    assert_int_equal(evc_trust_load(d, NULL, &t, &err), 0);
    assert_string_equal(evc_trust_format(t), "hashed directory");
    evc_trust_free(t);
}

/*
 * A certificate a person's entry already holds without TLS trust (a CA
 * trusted for e-mail and code signing only, ",C,C"): adding it is an
 * error naming the entry, and neither the add nor a remove changes it.
 */
static void
test_foreign_entry(void **state)
{
    char db[96];
    EVP_PKEY *k = tc_key("ec:P-256");
    X509 *ca = cert(k, "/CN=Mail Root", 1);
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    int before;

    (void)state;
    snprintf(db, sizeof(db), "%s/foreign", dirs[0]);
    make_db(db);
    user_add(db, ca, "mail root", ",C,C");
    before = ssl_flags(db, "mail root");
    assert_int_equal(evc_trust_load(db, NULL, &t, &err), 0);
    assert_int_equal(t->n, 0); /* no TLS trust: not a member */
    assert_int_not_equal(evc_trust_add(t, ca, &err), 0);
    assert_int_equal(err.code, EVC_ERR_POLICY);
    assert_non_null(strstr(evc_err_message(&err), "already there as mail root (trust ,C,C)"));
    assert_non_null(strstr(evc_err_message(&err), "not evercert's"));
    assert_int_equal(t->n, 0);
    evc_trust_free(t);
    assert_int_equal(ssl_flags(db, "mail root"), before);
    assert_int_equal(ssl_flags(db, nick_of(ca)), -1);

    /* Given TLS trust by the person later, it is a member; removing it leaves it as it is. */
    user_add(db, ca, "mail root", "C,C,C");
    before = ssl_flags(db, "mail root");
    assert_int_equal(evc_trust_load(db, NULL, &t, &err), 0);
    assert_int_equal(t->n, 1);
    assert_int_equal(evc_trust_remove(t, 0, &err), 0);
    evc_trust_free(t);
    assert_int_equal(ssl_flags(db, "mail root"), before);
    X509_free(ca);
    EVP_PKEY_free(k);
}

/* Whether NSS's classic verification (certutil -V -u V) takes x as a TLS server in dir. */
static int
nss_verifies(const char *dir, X509 *x)
{
    struct look l;
    CERTCertificate *c;
    size_t len;
    uint8_t *der = tc_der(x, &len);
    SECItem item = {siBuffer, der, (unsigned)len};
    SECStatus rv;

    look_open(dir, &l);
    c = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &item, NULL, PR_FALSE, PR_TRUE);
    assert_non_null(c);
    rv = CERT_VerifyCertNow(CERT_GetDefaultCertDB(), c, PR_TRUE, certUsageSSLServer, NULL);
    CERT_DestroyCertificate(c);
    look_close(&l);
    free(der);
    return rv == SECSuccess;
}

/* Round trip through DER, so OpenSSL reads the extensions (and their flags) afresh. */
static X509 *
reparsed(X509 *x)
{
    size_t len;
    uint8_t *der = tc_der(x, &len);
    const unsigned char *p = der;
    X509 *y = d2i_X509(NULL, &p, (long)len);

    assert_non_null(y);
    free(der);
    X509_free(x);
    return y;
}

/*
 * A v3 self-signed certificate without basicConstraints is only P,,: given
 * C it would issue for any name under NSS's classic verification. The
 * control database, where a person gave it C, shows the test can tell.
 */
static void
test_no_bc_issues_nothing(void **state)
{
    char db[96], ctl[96];
    EVP_PKEY *k1 = tc_key("ec:P-256"), *k2 = tc_key("ec:P-256");
    struct tc_spec s = {0};
    X509 *nobc, *evil;
    struct evc_trust *t = NULL;
    struct evc_err err = {0};

    (void)state;
    s.key = k1;
    s.subject = "/CN=web.test";
    s.v1 = 1;
    s.not_before = time(NULL) - 60;
    s.not_after = time(NULL) + 86400;
    nobc = tc_cert(&s);
    assert_int_equal(X509_set_version(nobc, X509_VERSION_3), 1);
    assert_true(X509_sign(nobc, k1, EVP_sha256()) > 0);
    nobc = reparsed(nobc);
    memset(&s, 0, sizeof(s));
    s.key = k2;
    s.signer = k1;
    s.issuer = X509_get_subject_name(nobc);
    s.subject = "/CN=evil.test";
    s.sans = "DNS:evil.test";
    s.not_before = time(NULL) - 60;
    s.not_after = time(NULL) + 86400;
    evil = tc_cert(&s);

    snprintf(ctl, sizeof(ctl), "%s/nobc-control", dirs[0]);
    make_db(ctl);
    user_add(ctl, nobc, "given C", "C,,");
    assert_int_equal(nss_verifies(ctl, evil), 1);

    snprintf(db, sizeof(db), "%s/nobc", dirs[0]);
    make_db(db);
    assert_int_equal(evc_trust_load(db, NULL, &t, &err), 0);
    assert_int_equal(evc_trust_add(t, nobc, &err), 0);
    evc_trust_free(t);
    assert_int_equal(ssl_flags(db, nick_of(nobc)), CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD);
    assert_int_equal(nss_verifies(db, evil), 0);
    X509_free(nobc);
    X509_free(evil);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/*
 * The trust of a self-signed certificate follows what it says: cA=FALSE
 * is CP,,; a v1 one without basicConstraints only P,, (C would let it
 * issue for any name under NSS's classic verification).
 */
static void
test_flags_by_kind(void **state)
{
    char db[96];
    EVP_PKEY *k1 = tc_key("ec:P-256"), *k2 = tc_key("ec:P-256");
    struct tc_spec s = {0};
    X509 *v1, *leaf = cert(k2, "/CN=web.test", 0);
    struct evc_trust *t = NULL;
    struct evc_err err = {0};
    char v1_nick[32];

    (void)state;
    s.key = k1;
    s.subject = "/CN=old.test";
    s.v1 = 1;
    s.not_before = time(NULL) - 60;
    s.not_after = time(NULL) + 86400;
    v1 = tc_cert(&s);
    snprintf(db, sizeof(db), "%s/kinds", dirs[0]);
    make_db(db);
    assert_int_equal(evc_trust_load(db, NULL, &t, &err), 0);
    assert_int_equal(evc_trust_add(t, v1, &err), 0);
    assert_int_equal(evc_trust_add(t, leaf, &err), 0);
    evc_trust_free(t);
    snprintf(v1_nick, sizeof(v1_nick), "%s", nick_of(v1));
    assert_int_equal(ssl_flags(db, v1_nick), CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD);
    assert_int_equal(ssl_flags(db, nick_of(leaf)),
                     CERTDB_VALID_CA | CERTDB_TRUSTED_CA | CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD);
    X509_free(v1);
    X509_free(leaf);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_and_foreign), cmocka_unit_test(test_two_databases),
        cmocka_unit_test(test_missing),           cmocka_unit_test(test_foreign_entry),
        cmocka_unit_test(test_flags_by_kind),     cmocka_unit_test(test_no_bc_issues_nothing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
