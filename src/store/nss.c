/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An NSS database (cert9.db) as a trust store: what Firefox and Chromium
 * read. Every access goes through NSS itself, never by editing the SQLite
 * files, so NSS's own locking and transactions apply (each change is one
 * SQLite transaction: whole and on disk, or not there). Each access opens
 * an NSS context of its own without a database or root module, opens the
 * directory as a slot of its own (SECMOD_OpenUserDB), and closes both
 * again, so a process may use several databases, one after another or
 * beside another NSS user, and the database is not held between changes.
 *
 * The trust evercert gives depends on the kind of certificate: a CA is
 * "C,," (a trusted CA for TLS servers). A self-signed server certificate
 * (what a pin file holds) that says it is no CA (basicConstraints
 * cA=FALSE) is "CP,,"; one that does not say (v1, no basicConstraints) is
 * only "P,,", since C would let it issue for any name. Firefox takes such a certificate only
 * as a trust anchor (C) and refuses it as a trusted peer (P), Chromium
 * takes it only as a trusted leaf (P) and refuses it as an anchor (C);
 * both accept it with both (tests/integration/browsers.sh).
 *
 * What evercert adds is named "evercert <16 hex digits of its SHA-256>"
 * and only such entries are ever deleted or given trust; every other
 * entry, with its nickname and trust, stays as it is (adding a certificate
 * a person's entry holds without TLS trust is an error).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cert.h>
#include <certdb.h>
#include <nss.h>
#include <pk11pub.h>
#include <prerror.h>
#include <secitem.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/keys.h"
#include "evercert/limits.h"
#include "base/file.h"
#include "base/text.h"
#include "store/nss.h"
#include "store/trust_int.h"

#define NICK_PREFIX "evercert "
/* The token's name while evercert has the database open; nicknames come back prefixed by it. */
#define TOKEN_NAME "evercert"
/* Room for a nickname read back: NSS keeps labels of any length, the rest is not compared. */
#define EVC_NSS_NICK_MAX 256

struct nssdb {
    NSSInitContext *ctx;
    PK11SlotInfo *slot;
};

const char *
evc_nss_path(const char *path)
{
    if (strncmp(path, "nss:", 4) == 0 || strncmp(path, "sql:", 4) == 0) {
        return path + 4;
    }
    return NULL;
}

int
evc_nss_detect(const char *dir)
{
    char p[EVC_PATH_MAX];
    struct stat st;

    return evc_path_fmt(p, sizeof(p), "%s/cert9.db", dir) == 0 && stat(p, &st) == 0 &&
           S_ISREG(st.st_mode);
}

/* NSS's reason for its last failure. */
static const char *
reason(void)
{
    PRErrorCode e = PORT_GetError();
    const char *s = PR_ErrorToString(e, PR_LANGUAGE_I_DEFAULT);

    if (s == NULL || *s == '\0' || strncmp(s, "Unknown code", 12) == 0) {
        s = PR_ErrorToName(e);
    }
    return s != NULL ? s : "unknown NSS error";
}

static void
db_close(struct nssdb *db)
{
    if (db->slot != NULL) {
        (void)SECMOD_CloseUserDB(db->slot);
        PK11_FreeSlot(db->slot);
        db->slot = NULL;
    }
    if (db->ctx != NULL) {
        (void)NSS_ShutdownContext(db->ctx);
        db->ctx = NULL;
    }
}

/*
 * Open the database in dir, read-only or read-write, logged in with the
 * password (NULL: an empty one) when it has one. Nothing is created: a
 * directory without cert9.db is an error, not a new database.
 */
static int
db_open(const char *dir, const char *password, int rw, struct nssdb *db, struct evc_err *err)
{
    char p[EVC_PATH_MAX], spec[EVC_PATH_MAX + 128];
    struct stat st;

    memset(db, 0, sizeof(*db));
    /* The module spec quotes the path; these characters would end or nest its quoting. */
    if (strpbrk(dir, "'\"<>[]{}\\") != NULL) {
        return evc_err_set(err, EVC_ERR_USAGE,
                           "%s: an NSS database path cannot hold quotes, brackets or backslashes",
                           dir);
    }
    if (evc_path_fmt(p, sizeof(p), "%s/cert9.db", dir) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", dir);
    }
    if (stat(p, &st) == -1) {
        return evc_err_set(err, evc_errno_code(errno),
                           "%s: not an NSS database: cert9.db: %s (make one with certutil -N -d "
                           "sql:DIR --empty-password)",
                           dir, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return evc_err_set(err, EVC_ERR_NOT_REGULAR, "%s: cert9.db is not a regular file", dir);
    }
    if (rw && access(p, W_OK) != 0) {
        return evc_err_set(err, evc_errno_code(errno), "%s: cannot write cert9.db: %s", dir,
                           strerror(errno));
    }
    db->ctx = NSS_InitContext("", "", "", "", NULL,
                              NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB | NSS_INIT_FORCEOPEN |
                                  NSS_INIT_NOROOTINIT | NSS_INIT_OPTIMIZESPACE);
    if (db->ctx == NULL) {
        return evc_err_set(err, EVC_ERR_CRYPTO, "%s: NSS does not start: %s", dir, reason());
    }
    snprintf(spec, sizeof(spec), "configdir='sql:%s' tokenDescription='" TOKEN_NAME "' flags=%s",
             dir, rw ? "optimizeSpace" : "readOnly,optimizeSpace");
    db->slot = SECMOD_OpenUserDB(spec);
    if (db->slot == NULL || !PK11_IsPresent(db->slot)) {
        int r = evc_err_set(err, EVC_ERR_IO,
                            "%s: NSS cannot open the database (damaged, or locked by another "
                            "program): %s",
                            dir, db->slot == NULL ? reason() : "the token is not present");

        db_close(db);
        return r;
    }
    /*
     * A database never given a password (made by NSS_Initialize, not by
     * certutil -N or a browser) gets the empty one, as Firefox and Chromium
     * give it at their first start; listing needs none.
     */
    if (PK11_NeedUserInit(db->slot)) {
        if (rw && PK11_InitPin(db->slot, NULL, "") != SECSuccess) {
            int r = evc_err_set(err, EVC_ERR_IO, "%s: NSS cannot set up the database: %s", dir,
                                reason());

            db_close(db);
            return r;
        }
        return 0;
    }
    if (PK11_NeedLogin(db->slot) && !PK11_IsLoggedIn(db->slot, NULL) &&
        PK11_CheckUserPassword(db->slot, password != NULL ? password : "") != SECSuccess) {
        db_close(db);
        return evc_err_set(err, EVC_ERR_BAD_PASSWORD, "%s: the database has a password and %s", dir,
                           password != NULL ? "password_file does not give it"
                                            : "no password_file gives it");
    }
    return 0;
}

/* A nickname as the database holds it, without the "token:" NSS puts before it. */
static const char *
plain_nick(const char *n)
{
    if (n != NULL && strncmp(n, TOKEN_NAME ":", sizeof(TOKEN_NAME)) == 0) {
        return n + sizeof(TOKEN_NAME);
    }
    return n != NULL ? n : "";
}

/*
 * The entry of the database with these DER bytes, with its trust as the
 * listing gives it (a lookup by DER may hand back a cached object whose
 * trust is not the database's), or NULL.
 */
static CERTCertificate *
find(PK11SlotInfo *slot, const SECItem *der, CERTCertTrust *tr, char *nick, size_t nicksz)
{
    CERTCertList *list;
    CERTCertListNode *node;
    CERTCertificate *c;

    /* The lookup by DER is an index search; only a certificate that is there needs the listing. */
    if ((c = PK11_FindCertFromDERCertItem(slot, der, NULL)) == NULL) {
        return NULL;
    }
    CERT_DestroyCertificate(c);
    c = NULL;
    if ((list = PK11_ListCertsInSlot(slot)) == NULL) {
        return NULL;
    }
    for (node = CERT_LIST_HEAD(list); !CERT_LIST_END(node, list); node = CERT_LIST_NEXT(node)) {
        if (SECITEM_ItemsAreEqual(&node->cert->derCert, der)) {
            if (CERT_GetCertTrust(node->cert, tr) != SECSuccess) {
                memset(tr, 0, sizeof(*tr));
            }
            snprintf(nick, nicksz, "%s", plain_nick((const char *)node->appData));
            c = CERT_DupCertificate(node->cert);
            break;
        }
    }
    CERT_DestroyCertList(list);
    return c;
}

int
evc_nss_load(struct evc_trust *t, struct evc_err *err)
{
    struct nssdb db;
    CERTCertList *list = NULL;
    CERTCertListNode *node;
    int r;

    if ((r = db_open(t->path, t->password, 0, &db, err)) != 0) {
        return r;
    }
    if ((list = PK11_ListCertsInSlot(db.slot)) == NULL) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: NSS cannot list the certificates: %s", t->path,
                        reason());
        goto out;
    }
    for (node = CERT_LIST_HEAD(list); !CERT_LIST_END(node, list); node = CERT_LIST_NEXT(node)) {
        CERTCertTrust tr;
        const unsigned char *p = node->cert->derCert.data;
        unsigned f;
        X509 *x;

        if (CERT_GetCertTrust(node->cert, &tr) != SECSuccess) {
            continue; /* no trust at all: a cached certificate */
        }
        f = tr.sslFlags;
        if ((f & (CERTDB_TRUSTED_CA | CERTDB_TRUSTED | CERTDB_TERMINAL_RECORD)) == 0) {
            continue;
        }
        if ((x = d2i_X509(NULL, &p, (long)node->cert->derCert.len)) == NULL) {
            ERR_clear_error();
            r = evc_err_set(err, EVC_ERR_BAD_DER, "%s: %s: invalid DER certificate", t->path,
                            plain_nick((const char *)node->appData));
            goto out;
        }
        /* Marked not to be trusted for TLS: held as a reject mark, as in a TRUSTED CERTIFICATE. */
        if ((f & (CERTDB_TRUSTED_CA | CERTDB_TRUSTED)) == 0 &&
            X509_add1_reject_object(x, OBJ_nid2obj(NID_server_auth)) != 1) {
            X509_free(x);
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        r = evc_trust_push(t, x, plain_nick((const char *)node->appData), 1);
        X509_free(x);
        if (r != 0) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    r = 0;
out:
    if (list != NULL) {
        CERT_DestroyCertList(list);
    }
    db_close(&db);
    return r;
}

/* Trust as certutil writes it ("C,C,C"); libnss3 does not export its own encoder. */
static void
trust_string(const CERTCertTrust *tr, char *out, size_t outsz)
{
    const unsigned f[3] = {tr->sslFlags, tr->emailFlags, tr->objectSigningFlags};
    size_t n = 0;

    for (int i = 0; i < 3; i++) {
        if ((f[i] & CERTDB_TERMINAL_RECORD) != 0 && (f[i] & CERTDB_TRUSTED) == 0) {
            out[n++] = 'p';
        }
        if ((f[i] & CERTDB_TRUSTED) != 0) {
            out[n++] = 'P';
        }
        if ((f[i] & CERTDB_VALID_CA) != 0 && (f[i] & CERTDB_TRUSTED_CA) == 0) {
            out[n++] = 'c';
        }
        if ((f[i] & CERTDB_TRUSTED_CA) != 0) {
            out[n++] = 'C';
        }
        if ((f[i] & CERTDB_TRUSTED_CLIENT_CA) != 0) {
            out[n++] = 'T';
        }
        if (i < 2) {
            out[n++] = ',';
        }
    }
    out[n < outsz ? n : outsz - 1] = '\0';
}

/*
 * The trust for x. Under NSS's classic verification (certutil -V) C makes
 * a certificate an issuer whatever it says, so only a certificate that
 * says it cannot issue (basicConstraints cA=FALSE, no keyCertSign) gets
 * CP,,; one that says nothing (v1, no basicConstraints) is only a peer,
 * P,,, which Firefox refuses for a self-signed server certificate.
 */
static const char *
trust_for(X509 *x)
{
    uint32_t fl = X509_get_extension_flags(x);

    if ((fl & EXFLAG_BCONS) == 0) {
        return "P,,";
    }
    if ((fl & EXFLAG_CA) != 0) {
        return X509_check_ca(x) > 0 ? "C,," : "P,,";
    }
    if ((fl & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) != 0) {
        return "P,,";
    }
    return "CP,,";
}

int
evc_nss_add(struct evc_trust *t, X509 *x, struct evc_err *err)
{
    struct evc_trust_cert *c = &t->certs[t->n - 1];
    struct nssdb db;
    CERTCertificate *cert = NULL, *had = NULL;
    CERTCertTrust trust;
    unsigned char *der = NULL;
    char nick[EVC_NSS_NICK_MAX], hex[17];
    const char *flags = trust_for(x);
    SECItem item;
    int n, r;

    evc_text_hex(c->sha256, 8, hex);
    snprintf(nick, sizeof(nick), NICK_PREFIX "%s", hex);
    if ((n = i2d_X509(x, &der)) <= 0) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "%s: cannot encode the certificate", t->path);
    }
    item.type = siBuffer;
    item.data = der;
    item.len = (unsigned)n;
    if ((r = db_open(t->path, t->password, 1, &db, err)) != 0) {
        goto out;
    }
    /*
     * Already there: with SSL trust or a distrust mark it stays exactly as
     * it is (a person's decision). Another entry of a person's is never
     * changed either (giving it TLS trust could not be undone without
     * touching the trust it had); only evercert's own gets the trust.
     */
    if ((had = find(db.slot, &item, &trust, nick, sizeof(nick))) != NULL) {
        if ((trust.sslFlags & (CERTDB_TRUSTED_CA | CERTDB_TRUSTED)) != 0) {
            goto done;
        }
        if ((trust.sslFlags & CERTDB_TERMINAL_RECORD) != 0) {
            r = evc_err_set(err, EVC_ERR_POLICY,
                            "%s: %s is there marked not to be trusted for TLS; left as it is",
                            t->path, nick);
            goto out;
        }
        if (strncmp(nick, NICK_PREFIX, sizeof(NICK_PREFIX) - 1) != 0) {
            char ts[3 * 8];

            trust_string(&trust, ts, sizeof(ts));
            r = evc_err_set(err, EVC_ERR_POLICY,
                            "%s: certificate %s is already there as %s (trust %s), not "
                            "evercert's; its trust is left as it is",
                            t->path, hex, nick, ts);
            goto out;
        }
    }
    if (CERT_DecodeTrustString(&trust, flags) != SECSuccess ||
        (cert = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &item, NULL, PR_FALSE, PR_TRUE)) ==
            NULL) {
        r = evc_err_set(err, EVC_ERR_CRYPTO, "%s: NSS does not take the certificate: %s", t->path,
                        reason());
        goto out;
    }
    if ((had == NULL &&
         PK11_ImportCert(db.slot, cert, CK_INVALID_HANDLE, nick, PR_FALSE) != SECSuccess) ||
        CERT_ChangeCertTrust(CERT_GetDefaultCertDB(), cert, &trust) != SECSuccess) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: NSS cannot add the certificate: %s", t->path,
                        reason());
        goto out;
    }
done:
    free(c->file);
    if ((c->file = strdup(nick)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    c->linked = 1;
    r = 0;
out:
    if (cert != NULL) {
        CERT_DestroyCertificate(cert);
    }
    if (had != NULL) {
        CERT_DestroyCertificate(had);
    }
    db_close(&db);
    OPENSSL_free(der);
    return r;
}

int
evc_nss_remove(struct evc_trust *t, size_t i, struct evc_err *err)
{
    struct evc_trust_cert *c = &t->certs[i];
    struct nssdb db;
    CERTCertificate *cert = NULL;
    unsigned char *der = NULL;
    SECItem item;
    int n, r;

    /* Not evercert's: it stays in the database, with its trust, whatever retires it here. */
    if (c->file == NULL || strncmp(c->file, NICK_PREFIX, sizeof(NICK_PREFIX) - 1) != 0) {
        return 0;
    }
    if ((n = i2d_X509(c->x, &der)) <= 0) {
        return evc_err_openssl(err, EVC_ERR_CRYPTO, "%s: cannot encode the certificate", t->path);
    }
    item.type = siBuffer;
    item.data = der;
    item.len = (unsigned)n;
    if ((r = db_open(t->path, t->password, 1, &db, err)) != 0) {
        goto out;
    }
    /* Gone already (a person deleted it, or a run stopped after the delete): nothing to do. */
    if ((cert = PK11_FindCertFromDERCertItem(db.slot, &item, NULL)) != NULL &&
        SEC_DeletePermCertificate(cert) != SECSuccess) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: NSS cannot delete %s: %s", t->path, c->file,
                        reason());
        goto out;
    }
    r = 0;
out:
    if (cert != NULL) {
        CERT_DestroyCertificate(cert);
    }
    db_close(&db);
    OPENSSL_free(der);
    return r;
}
