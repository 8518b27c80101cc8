/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SAs of an exact size, for tests at a cap's two sides. The successor is
 * padded with subjectAltNames to come near the size, then the serviceName's
 * length (1 to 253 bytes) makes it exact. Both signers use RSA, whose
 * signatures have a fixed length, so the size depends on the content
 * alone; the successor is made once, since its random serial may change
 * its length.
 */
#ifndef EVC_TEST_SA_PAD_H
#define EVC_TEST_SA_PAD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/announce.h"
#include "evercert/ca.h"

struct sa_pad {
    EVP_PKEY *ca_key, *cur_key, *succ_key;
    X509 *ca, *cur, *succ;
    size_t nsans, namelen;
};

static void
sa_pad_name(char *out, size_t len)
{
    /* Labels of 31 letters: a host name of any length up to 253. */
    for (size_t i = 0; i < len; i++) {
        out[i] = i % 32 == 31 && i + 1 < len ? '.' : 'a';
    }
    out[len] = '\0';
}

static X509 *
sa_pad_successor(struct sa_pad *p, size_t nsans)
{
    struct evc_cert_req req = {EVC_PROFILE_SERVER, NULL,      "web.test", NULL, 0,
                               1700000000,         1900000000};
    const char **sans = calloc(nsans + 1, sizeof(*sans));
    char *names = malloc((nsans + 1) * 32);
    struct evc_err err = {0};
    X509 *x = NULL;

    for (size_t i = 0; i <= nsans; i++) {
        snprintf(names + i * 32, 32, "DNS:p%05u.web.test", (unsigned)(i % 100000));
        sans[i] = names + i * 32;
    }
    req.sans = sans;
    req.nsans = nsans + 1;
    if (evc_ca_make(&req, p->succ_key, p->ca, p->ca_key, &x, &err) != 0) {
        x = NULL;
    }
    free(sans);
    free(names);
    return x;
}

/* Encode with the successor made for p and a name of namelen; 0 or the error. */
static int
sa_pad_encode(struct sa_pad *p, X509 *succ, size_t namelen, struct evc_buf *out)
{
    char name[EVC_SA_SERVICE_MAX + 1];
    struct evc_sa_params sp;
    struct evc_err err = {0};

    sa_pad_name(name, namelen);
    memset(&sp, 0, sizeof(sp));
    sp.service = name;
    sp.generation = 9;
    sp.published_at = 1800000000;
    sp.activate_at = 1800003600;
    sp.current = p->cur;
    sp.current_key = p->cur_key;
    sp.successor = succ;
    sp.successor_key = p->succ_key;
    evc_buf_reset(out);
    return evc_sa_encode(&sp, out, &err);
}

static int
sa_pad_init(struct sa_pad *p)
{
    struct evc_err err = {0};
    struct evc_cert_req root = {EVC_PROFILE_ROOT, NULL,      "Pad Root", NULL, 0,
                                1700000000,       1900000000};
    const char *san[] = {"DNS:web.test"};
    struct evc_cert_req leaf = {EVC_PROFILE_SERVER, NULL,      "web.test", san, 1,
                                1700000000,         1900000000};

    memset(p, 0, sizeof(*p));
    if (evc_key_generate("ec:P-256", &p->ca_key, &err) != 0 ||
        evc_key_generate("rsa:2048", &p->cur_key, &err) != 0 ||
        evc_key_generate("rsa:2048", &p->succ_key, &err) != 0 ||
        evc_ca_make(&root, p->ca_key, NULL, NULL, &p->ca, &err) != 0 ||
        evc_ca_make(&leaf, p->cur_key, p->ca, p->ca_key, &p->cur, &err) != 0) {
        return -1;
    }
    return 0;
}

/*
 * Find a successor and a name length that make an SA of exactly want
 * bytes (want <= EVC_SA_MAX); p->succ, p->nsans and p->namelen hold them.
 * 0, or -1 if no such pair was found.
 */
static int
sa_pad_find(struct sa_pad *p, size_t want)
{
    struct evc_buf b;
    size_t s0, s1, per, k;
    X509 *x;
    int r = -1;

    evc_buf_init(&b, EVC_SA_MAX + 1);
    X509_free(p->succ);
    p->succ = NULL;
    /* The size grows by a fixed step per name: measure it, aim 60 bytes short. */
    if ((x = sa_pad_successor(p, 0)) == NULL || sa_pad_encode(p, x, 128, &b) != 0) {
        goto out;
    }
    s0 = b.len;
    X509_free(x);
    if ((x = sa_pad_successor(p, 100)) == NULL || sa_pad_encode(p, x, 128, &b) != 0) {
        goto out;
    }
    s1 = b.len;
    X509_free(x);
    x = NULL;
    per = (s1 - s0) / 100;
    k = want > s0 + 60 ? (want - s0 - 60) / per : 0;
    for (int tries = 0; tries < 20; tries++) {
        size_t len, at128;

        if ((x = sa_pad_successor(p, k)) == NULL) {
            break;
        }
        /* Over the cap already: fewer names. */
        at128 = sa_pad_encode(p, x, 128, &b) == 0 ? b.len : EVC_SA_MAX + 1;
        len = 128 + want - at128; /* wraps when at128 > want + 128: caught below */
        if (at128 <= want + 127 && len <= EVC_SA_SERVICE_MAX && sa_pad_encode(p, x, len, &b) == 0 &&
            b.len == want) {
            p->succ = x;
            p->nsans = k;
            p->namelen = len;
            x = NULL;
            r = 0;
            goto out;
        }
        X509_free(x);
        x = NULL;
        k = at128 > want ? (k > 0 ? k - 1 : 0) : k + 1;
    }
out:
    X509_free(x);
    evc_buf_free(&b);
    return r;
}

static void
sa_pad_free(struct sa_pad *p)
{
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->cur_key);
    EVP_PKEY_free(p->succ_key);
    X509_free(p->ca);
    X509_free(p->cur);
    X509_free(p->succ);
}

#endif
