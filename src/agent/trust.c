/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The trust stores the agent writes: each read back in the format the
 * configuration names, turned into the store an SA is checked against,
 * and locked so the agent and `evercert approve` take turns writing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "evercert/limits.h"
#include "evercert/stores.h"
#include "base/file.h"
#include "agent/agent_int.h"

/* Read server i's trust store, checking it is of the configured format. */
int
evc_agent_trust_load(struct evc_agent *a, size_t i, struct evc_trust **out, struct evc_err *err)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    struct evc_buf pw;
    const char *want = NULL, *got;
    char named[EVC_PATH_MAX + 8];
    int r;

    *out = NULL;
    evc_buf_init(&pw, EVC_PASSWORD_MAX + 2);
    if (v->password_file != NULL && (r = evc_password_read(v->password_file, &pw, err)) != 0) {
        goto out;
    }
    /*
     * An NSS database and a system directory are named as such: a directory without
     * cert9.db says so, and no content tells a system directory from a hashed one.
     */
    if (v->trust_format == EVC_TRUST_NSS || v->trust_format == EVC_TRUST_SYSTEM) {
        if (evc_path_fmt(named, sizeof(named), "%s:%s",
                         v->trust_format == EVC_TRUST_NSS ? "nss" : "system", v->trust) != 0) {
            r = evc_err_set(err, EVC_ERR_LIMIT, "%s: the path is too long", v->trust);
            goto out;
        }
    }
    if ((r = evc_trust_load(v->trust_format == EVC_TRUST_NSS || v->trust_format == EVC_TRUST_SYSTEM
                                ? named
                                : v->trust,
                            v->password_file != NULL ? evc_buf_str(&pw) : NULL, out, err)) != 0) {
        goto out;
    }
    got = evc_trust_format(*out);
    switch (v->trust_format) {
    /* The names of the store layer's backends. */
    case EVC_TRUST_BUNDLE:
    case EVC_TRUST_PIN:
        want = "PEM bundle";
        break;
    case EVC_TRUST_HASHDIR:
        want = "hashed directory";
        break;
    case EVC_TRUST_PKCS12:
        want = "PKCS#12";
        break;
    case EVC_TRUST_NSS:
        want = "NSS database";
        break;
    case EVC_TRUST_SYSTEM:
        want = "system directory";
        break;
    case EVC_TRUST_JKS:
        want = "JKS";
        break;
    default:
        break;
    }
    if (want != NULL && strcmp(want, got) != 0) {
        r = evc_err_set(err, EVC_ERR_CONFIG, "%s: trust_format = %s, but it is a %s", v->trust,
                        evc_trust_format_name(v->trust_format), got);
    } else if (v->trust_format == EVC_TRUST_PIN && (*out)->n != 1) {
        r = evc_err_set(err, EVC_ERR_CONFIG, "%s: a pin file holds one certificate, not %zu",
                        v->trust, (*out)->n);
    }
out:
    evc_buf_free(&pw);
    if (r != 0) {
        evc_trust_free(*out);
        *out = NULL;
    }
    return r;
}

X509_STORE *
evc_agent_store_of(const struct evc_trust *t, struct evc_err *err)
{
    X509_STORE *s = X509_STORE_new();

    /*
     * The certificates keep the trust settings of TRUSTED CERTIFICATE
     * blocks; anchors trusted as for a TLS server make OpenSSL honour
     * them in every check against this store (a handshake does so anyway),
     * so an anchor marked to reject serverAuth anchors nothing. Only the
     * trust is set, not the purpose: other checks keep their own.
     */
    if (s == NULL || X509_STORE_set_trust(s, X509_TRUST_SSL_SERVER) != 1) {
        X509_STORE_free(s);
        evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t k = 0; k < t->n; k++) {
        /* What OpenSSL finds: in a hashed directory, only what has a <hash>.N name. */
        if (t->certs[k].linked) {
            (void)X509_STORE_add_cert(s, t->certs[k].x);
        }
    }
    ERR_clear_error();
    return s;
}

X509_STORE *
evc_agent_trust_store(struct evc_agent *a, size_t i, struct evc_err *err)
{
    struct evc_trust *t;
    X509_STORE *s;

    if (evc_agent_trust_load(a, i, &t, err) != 0) {
        return NULL;
    }
    s = evc_agent_store_of(t, err);
    evc_trust_free(t);
    return s;
}

/*
 * The store an SA is checked against: the trust store, whose content says
 * what a successor must chain to, except for a pin file, which takes the
 * successor leaf itself. *out is NULL for a pin file.
 */
int
evc_agent_check_store(struct evc_agent *a, size_t i, X509_STORE **out, struct evc_err *err)
{
    const struct evc_server_conf *v = &a->conf->servers[i];

    *out = NULL;
    if (v->policy != EVC_SA_POLICY_CA && v->trust_format == EVC_TRUST_PIN) {
        return 0;
    }
    return (*out = evc_agent_trust_store(a, i, err)) == NULL ? -1 : 0;
}

/*
 * Writers of one trust store take turns (the agent and `evercert
 * approve`): a lock on its directory, which a replace never changes.
 */
int
evc_agent_store_lock(const char *trust, struct evc_err *err)
{
    char dir[EVC_PATH_MAX];
    struct stat sb;
    const char *slash;
    int fd;

    if (stat(trust, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof(dir), "%s", trust);
    } else if ((slash = strrchr(trust, '/')) == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        snprintf(dir, sizeof(dir), "%.*s", slash == trust ? 1 : (int)(slash - trust), trust);
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
        evc_err_set(err, EVC_ERR_IO, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; tries++) {
        if (errno != EWOULDBLOCK || tries >= 100) {
            evc_err_set(err, EVC_ERR_BUSY, "%s: another evercert holds its lock", dir);
            close(fd);
            return -1;
        }
        usleep(100 * 1000);
    }
    return fd;
}

int
evc_agent_x509_der(X509 *x, struct evc_buf *out)
{
    unsigned char *p = NULL;
    int n = i2d_X509(x, &p);
    int r;

    if (n <= 0) {
        return EVC_ERR_CRYPTO;
    }
    r = evc_buf_put(out, p, (size_t)n);
    OPENSSL_free(p);
    return r;
}

X509 *
evc_agent_x509_of(const struct evc_buf *b)
{
    const unsigned char *p = b->data;

    return b->len > 0 ? d2i_X509(NULL, &p, (long)b->len) : NULL;
}
