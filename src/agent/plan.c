/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's pure decisions: where a DER object ends on the push
 * channel, how long to wait before reconnecting, what a trust store needs
 * for a successor, when to raise and clear the freeze alarm, and how near
 * an SA that waits for a person is to the server's switch. No I/O, no clock.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "evercert/agent.h"
#include "evercert/keys.h"
#include "evercert/cert.h"

int
evc_der_frame(const uint8_t *p, size_t n, size_t max, size_t *total, struct evc_err *err)
{
    size_t want;
    int r;

    /* Only a SEQUENCE is an SA: told at the first byte, before waiting for more. */
    if (n >= 1 && p[0] != 0x30) {
        *total = 0;
        return evc_err_set(err, EVC_ERR_PARSE, "not an SA: first byte 0x%02x, not a DER SEQUENCE",
                           p[0]);
    }
    /* The header is read by the one DER framer (x509), which evc_der_element_len uses too. */
    if ((r = evc_der_element_head(p, n, &want)) == 1) {
        *total = want;
        return 1;
    }
    *total = 0;
    if (r != 0) {
        /* A SEQUENCE's tag is one byte: what the framer refused is the length form. */
        return evc_err_set(err, EVC_ERR_PARSE, "not an SA: DER length form 0x%02x", p[1]);
    }
    if (want > max) {
        return evc_err_set(err, EVC_ERR_LIMIT, "an object of %zu bytes, over the %zu-byte cap",
                           want, max);
    }
    *total = want;
    return 0;
}

uint32_t
evc_agent_backoff(unsigned attempt, uint32_t cap_ms, uint32_t rnd)
{
    uint64_t d = 1000;

    for (unsigned i = 0; i < attempt && d < cap_ms; i++) {
        d *= 2;
    }
    if (d > cap_ms) {
        d = cap_ms;
    }
    /* "Equal jitter": half fixed, half random. */
    return (uint32_t)(d / 2 + (d - d / 2 > 0 ? rnd % (d - d / 2 + 1) : 0));
}

/* Does the successor (leaf, then its chain) verify against store at when, for serverAuth? */
static int
chains(const struct evc_sa *sa, X509_STORE *store, evc_time when)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok = 0;

    if (ctx == NULL || untrusted == NULL) {
        goto out;
    }
    for (int i = 1; i < sk_X509_num(sa->successor); i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(sa->successor, i))) {
            goto out;
        }
    }
    if (X509_STORE_CTX_init(ctx, store, sk_X509_value(sa->successor, 0), untrusted) != 1) {
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, (time_t)when);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    ok = X509_verify_cert(ctx) == 1;
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    ERR_clear_error();
    return ok;
}

int
evc_agent_trust_plan(const struct evc_sa *sa, enum evc_sa_policy_mode mode, X509_STORE *trust,
                     evc_time when, STACK_OF(X509) * *add, struct evc_err *err)
{
    X509 *leaf = sk_X509_value(sa->successor, 0), *anchor = NULL;
    char why[256];
    enum evc_sa_reason reason;
    int r = 0;

    if ((*add = sk_X509_new_null()) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    if (mode == EVC_SA_POLICY_CA) {
        /* Nothing, or the one new root a root trusted now vouches for: the same rule as verify. */
        if ((reason = evc_sa_anchor_check(sa, trust, when, &anchor, why, sizeof(why))) !=
            EVC_SA_R_OK) {
            r = evc_err_set(err, EVC_ERR_POLICY, "%s: %s", evc_sa_reason_name(reason), why);
        } else if (anchor != NULL && !X509_add_cert(*add, anchor, X509_ADD_FLAG_UP_REF)) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        goto out;
    }
    /* Pinned trust: a leaf key never introduces a CA; only the successor leaf may be added. */
    if (sa->anchors != NULL && sk_X509_num(sa->anchors) > 0) {
        r = evc_err_set(err, EVC_ERR_POLICY,
                        "%s: the SA carries anchors; pinned trust takes no CA from an SA",
                        evc_sa_reason_name(EVC_SA_R_ANCHORS_UNDER_PIN));
        goto out;
    }
    if (chains(sa, trust, when)) {
        goto out;
    }
    if (X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0 &&
        evc_x509_signed_by(leaf, leaf)) {
        if (!X509_add_cert(*add, leaf, X509_ADD_FLAG_UP_REF)) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        goto out;
    }
    r = evc_err_set(err, EVC_ERR_POLICY,
                    "the successor chains to nothing in the trust store and is not self-signed");
out:
    ERR_clear_error();
    if (r != 0) {
        sk_X509_pop_free(*add, X509_free);
        *add = NULL;
    }
    return r;
}

evc_time
evc_agent_freeze_at(X509 *leaf, const struct evc_thresholds *t, int64_t grace)
{
    evc_time nb, na;
    int64_t thr;

    if (leaf == NULL || evc_asn1_time(X509_get0_notBefore(leaf), &nb) != 0 ||
        evc_asn1_time(X509_get0_notAfter(leaf), &na) != 0) {
        return 0;
    }
    /* The moment renew acts on. */
    thr = na - evc_renew_moment(nb, na, t);
    /* The server renews at the moment or retries soon after; a short life leaves less room. */
    if (grace < 0) {
        grace = 0;
    }
    if (grace > thr / 4) {
        grace = thr / 4;
    }
    return na - thr + grace;
}

int
evc_agent_frozen(X509 *leaf, int successor_known, const struct evc_thresholds *t, int64_t grace,
                 evc_time now)
{
    evc_time due;

    if (leaf == NULL || successor_known || (due = evc_agent_freeze_at(leaf, t, grace)) == 0) {
        return 0;
    }
    return now >= due;
}

enum evc_agent_freeze_step
evc_agent_freeze_step(const char *told, const char *leaf_hex, int frozen)
{
    /* Only a leaf's fingerprint stands for a raised alarm; "" and "cleared" do not. */
    int standing = strlen(told) == 64;

    if (frozen) {
        return standing && strcmp(told, leaf_hex) == 0 ? EVC_FREEZE_STANDS : EVC_FREEZE_RAISE;
    }
    return standing ? EVC_FREEZE_CLEAR : EVC_FREEZE_QUIET;
}

enum evc_agent_wait_level
evc_agent_wait_level(evc_time published_at, evc_time activate_at, evc_time now, evc_time *next)
{
    evc_time warn_from;

    *next = 0;
    if (now >= activate_at) {
        return EVC_WAIT_CRITICAL;
    }
    /* Subtraction form: both are times an SA may carry, so the difference cannot wrap. */
    warn_from =
        activate_at > published_at ? activate_at - (activate_at - published_at) / 4 : published_at;
    if (activate_at <= published_at || now >= warn_from) {
        *next = activate_at;
        return EVC_WAIT_WARNING;
    }
    *next = warn_from;
    return EVC_WAIT_EARLY;
}
