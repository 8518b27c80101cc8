/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint results into a report: the presented certificates as rows like
 * a file's (location URL#i), and one error row per endpoint for what went
 * wrong (no chain, a chain that does not verify, a certificate other than
 * the one on disk). The earliest expiry of the verified chain rides on the
 * leaf's row; the Prometheus gauges carry it per endpoint.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/file.h"
#include "base/text.h"
#include "evercert/certfile.h"
#include "evercert/endpoint.h"
#include "evercert/store.h"

struct first {
    struct evc_cert_reader *reader;
    uint8_t sha256[32];
    int found;
    struct evc_err err;
};

static int
on_first(void *arg, const uint8_t *der, size_t len, const struct evc_cert_loc *loc)
{
    struct first *f = arg;
    struct evc_cert c;
    int r;

    (void)loc;
    if (f->found) {
        return 0;
    }
    if ((r = evc_cert_read(f->reader, der, len, &c, &f->err)) != 0) {
        return r;
    }
    memcpy(f->sha256, c.sha256, sizeof(f->sha256));
    f->found = 1;
    evc_cert_clear(&c);
    return 1; /* the leaf is the first certificate: stop */
}

static int
on_bad(void *arg, const struct evc_cert_loc *loc, const struct evc_err *err)
{
    (void)arg;
    (void)loc;
    (void)err;
    return 0;
}

int
evc_ep_file_sha256(const char *path, uint8_t sha256[32], struct evc_err *err)
{
    struct evc_store_opts so = {NULL};
    struct first f;
    struct evc_cert_sink sink = {on_first, on_bad, &f};
    struct evc_buf data;
    struct evc_err e = {0};
    int r = EVC_ERR_INTERNAL;

    memset(&f, 0, sizeof(f));
    evc_buf_init(&data, EVC_STORE_FILE_MAX + 2);
    if ((r = evc_file_read(path, EVC_STORE_FILE_MAX, &data, err)) != 0) {
        goto out;
    }
    if ((r = evc_cert_reader_new(&f.reader)) != 0) {
        r = evc_err_set(err, r, NULL);
        goto out;
    }
    r = evc_store_read(data.data, data.len, &so, &sink, NULL, &e);
    if (!f.found) {
        r = evc_err_set(err, r < 0 ? r : EVC_ERR_UNKNOWN_FORMAT, "%s: %s", path,
                        r < 0 ? evc_err_message(&e)
                              : (f.err.code != 0 ? evc_err_message(&f.err) : "no certificate"));
        goto out;
    }
    memcpy(sha256, f.sha256, 32);
    r = 0;
out:
    evc_cert_reader_free(f.reader);
    evc_buf_free(&data);
    return r;
}

int
evc_ep_mismatch(const struct evc_ep_result *r)
{
    uint8_t sha[32];
    unsigned int n = 0;
    const EVP_MD *md = EVP_sha256();

    if (!r->compare_set || r->ncerts == 0) {
        return 0;
    }
    if (EVP_Digest(r->der[0], r->der_len[0], sha, &n, md, NULL) != 1 || n != 32) {
        return 1;
    }
    return CRYPTO_memcmp(sha, r->compare_sha256, 32) != 0;
}

/* Whether a presented certificate's issuer is among the other presented ones. */
static int
issuer_presented(const struct evc_cert *certs, size_t n, size_t i)
{
    for (size_t k = 0; k < n; k++) {
        if (k != i && memcmp(certs[k].subject_id, certs[i].issuer_id, EVC_NAME_ID_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
one(const struct evc_ep_result *res, evc_time now, const struct evc_thresholds *t,
    struct evc_cert_reader *reader, struct evc_report *rep, struct evc_summary *sum)
{
    struct evc_cert certs[EVC_EP_CHAIN_MAX];
    size_t nc = 0, idx[EVC_EP_CHAIN_MAX];
    int unused;
    struct evc_buf b, msg;
    int r = 0;

    memset(certs, 0, sizeof(certs));
    evc_buf_init(&b, (size_t)64 * 1024 * 1024);
    evc_buf_init(&msg, 4096);
    if (res->error != NULL || res->ncerts == 0) {
        sum->errors++;
        r = evc_report_error(rep, res->url, res->error != NULL ? res->error : "no chain");
        goto out;
    }
    for (size_t i = 0; i < res->ncerts; i++) {
        struct evc_err e = {0};

        if ((r = evc_cert_read(reader, res->der[i], res->der_len[i], &certs[nc], &e)) != 0) {
            char where[EVC_EP_URL_MAX + 32];

            if (r == EVC_ERR_NOMEM) {
                goto out;
            }
            snprintf(where, sizeof(where), "%s#%zu", res->url, i);
            sum->errors++;
            if ((r = evc_report_error(rep, where, evc_err_message(&e))) != 0) {
                goto out;
            }
            continue;
        }
        idx[nc++] = i;
    }
    for (size_t i = 0; i < nc; i++) {
        const struct evc_cert *c = &certs[i];
        struct evc_finding f;
        enum evc_status st = evc_classify(c->not_before, c->not_after, now, t);
        enum evc_kind kind = evc_kind_of(c, issuer_presented(certs, nc, i));
        char sha[65], loc[EVC_EP_URL_MAX + 32];

        memset(&f, 0, sizeof(f));
        evc_text_hex(c->sha256, sizeof(c->sha256), sha);
        snprintf(loc, sizeof(loc), "%s#%zu", res->url, idx[i]);
        f.path = loc;
        f.index = idx[i];
        f.subject = c->subject;
        f.issuer = c->issuer;
        f.serial = c->serial;
        f.sha256 = sha;
        f.not_before = c->not_before;
        f.not_after = c->not_after;
        f.seconds_left = c->not_after - now;
        f.status = evc_status_name(st);
        f.severity = (int)st;
        f.kind = evc_kind_name(kind);
        f.renew_at =
            kind == EVC_KIND_EXTERNAL ? 0 : evc_renew_moment(c->not_before, c->not_after, t);
        f.is_ca = c->is_ca;
        f.sans = (const char *const *)c->sans;
        f.nsans = c->nsans;
        f.key = c->key;
        f.warning = c->warning;
        f.endpoint = 1;
        /*
         * Sent along but not on the path clients verify (an old cross-sign):
         * listed, not counted, so its expiry raises no alarm.
         */
        unused = res->verified && !res->on_chain[idx[i]];
        if (unused) {
            f.warning =
                "presented but not on the verified chain: its expiry does not reach clients";
        }
        if (idx[i] == 0) {
            f.verify = res->verified ? "ok" : res->verify_error;
            f.chain_not_after = res->verified ? res->chain_not_after : 0;
        }
        evc_buf_reset(&b);
        if ((r = evc_report_render(rep, &f, &b)) != 0 ||
            (r = evc_report_take(rep, b.data, b.len)) != 0) {
            goto out;
        }
        if (unused) {
            continue;
        }
        sum->total++;
        switch (st) {
        case EVC_STATUS_OK:
            sum->ok++;
            break;
        case EVC_STATUS_PRENOTIFY:
            sum->prenotify++;
            break;
        case EVC_STATUS_THRESHOLD:
            sum->threshold++;
            break;
        case EVC_STATUS_EXPIRED:
            sum->expired++;
            break;
        case EVC_STATUS_NOT_YET_VALID:
        default:
            sum->not_yet_valid++;
            break;
        }
    }
    if (!res->verified) {
        sum->errors++;
        if ((r = evc_buf_printf(&msg, "chain does not verify: %s",
                                res->verify_error != NULL ? res->verify_error : "unknown")) != 0 ||
            (r = evc_report_error(rep, res->url, evc_buf_str(&msg))) != 0) {
            goto out;
        }
    }
    if (evc_ep_mismatch(res)) {
        char sha[65], want[65];
        uint8_t d[32];
        unsigned int dn = 0;

        if (EVP_Digest(res->der[0], res->der_len[0], d, &dn, EVP_sha256(), NULL) != 1) {
            memset(d, 0, sizeof(d));
        }
        evc_text_hex(d, 32, sha);
        evc_text_hex(res->compare_sha256, 32, want);
        sum->errors++;
        evc_buf_reset(&msg);
        if ((r = evc_buf_printf(
                 &msg,
                 "served certificate differs from on-disk %s (sha256 %.16s... served, "
                 "%.16s... on disk): a server not reloaded since a renewal?",
                 res->compare_name != NULL ? res->compare_name : "certificate", sha, want)) != 0 ||
            (r = evc_report_error(rep, res->url, evc_buf_str(&msg))) != 0) {
            goto out;
        }
    }
    r = 0;
out:
    for (size_t i = 0; i < nc; i++) {
        evc_cert_clear(&certs[i]);
    }
    evc_buf_free(&b);
    evc_buf_free(&msg);
    return r;
}

int
evc_ep_report(const struct evc_ep_result *res, size_t n, evc_time now,
              const struct evc_thresholds *t, struct evc_report *rep, struct evc_summary *sum)
{
    struct evc_cert_reader *reader = NULL;
    int r;

    if ((r = evc_cert_reader_new(&reader)) != 0) {
        return r;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        r = one(&res[i], now, t, reader, rep, sum);
    }
    evc_cert_reader_free(reader);
    return r;
}

static int
labels(struct evc_buf *b, const struct evc_ep_result *r, const char *name)
{
    int rc;

    if ((rc = evc_buf_puts(b, "{endpoint=\"")) != 0 || (rc = evc_text_prom(b, r->url)) != 0) {
        return rc;
    }
    if (name != NULL &&
        ((rc = evc_buf_puts(b, "\",name=\"")) != 0 || (rc = evc_text_prom(b, name)) != 0)) {
        return rc;
    }
    return evc_buf_puts(b, "\"}");
}

int
evc_ep_prom(const struct evc_ep_result *res, size_t n, const char *const *names,
            struct evc_buf *out)
{
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"evercert_endpoint_up", "1 when the endpoint presented a chain, 0 on error."},
        {"evercert_endpoint_verified", "1 when the presented chain verifies against the anchors."},
        {"evercert_endpoint_not_after_timestamp_seconds",
         "notAfter of the served leaf, Unix time."},
        {"evercert_endpoint_chain_not_after_timestamp_seconds",
         "Earliest notAfter in the verified chain (not of unused presented certificates)."},
        {"evercert_endpoint_mismatch",
         "1 when the served leaf differs from the on-disk certificate of its store."},
    };
    int r;

    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        if ((r = evc_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help,
                                fam[f].name)) != 0) {
            return r;
        }
        for (size_t i = 0; i < n; i++) {
            const struct evc_ep_result *e = &res[i];
            int up = e->error == NULL && e->ncerts > 0;
            int64_t v;

            switch (f) {
            case 0:
                v = up;
                break;
            case 1:
                v = e->verified;
                break;
            case 2: {
                struct evc_cert_reader *rd = NULL;
                struct evc_cert c;
                struct evc_err er = {0};

                if (!up || evc_cert_reader_new(&rd) != 0) {
                    evc_cert_reader_free(rd);
                    continue;
                }
                if (evc_cert_read(rd, e->der[0], e->der_len[0], &c, &er) != 0) {
                    evc_cert_reader_free(rd);
                    continue;
                }
                v = c.not_after;
                evc_cert_clear(&c);
                evc_cert_reader_free(rd);
                break;
            }
            case 3:
                if (!e->verified) {
                    continue;
                }
                v = e->chain_not_after;
                break;
            default:
                if (!e->compare_set) {
                    continue;
                }
                v = evc_ep_mismatch(e);
                break;
            }
            if ((r = evc_buf_puts(out, fam[f].name)) != 0 ||
                (r = labels(out, e, names != NULL ? names[i] : NULL)) != 0 ||
                (r = evc_buf_printf(out, " %" PRId64 "\n", v)) != 0) {
                return r;
            }
        }
    }
    return 0;
}
