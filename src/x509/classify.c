/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Classification is pure arithmetic on the validity period and the time the
 * caller passes in: WebSphere's expiration threshold and pre-notification
 * period, with either one optionally a share of the certificate's lifetime.
 */
#include "evercert/cert.h"

void
evc_thresholds_default(struct evc_thresholds *t)
{
    t->threshold.unit = EVC_SPAN_SECONDS;
    t->threshold.value = EVC_THRESHOLD_DEFAULT;
    t->prenotify.unit = EVC_SPAN_SECONDS;
    t->prenotify.value = EVC_PRENOTIFY_DEFAULT;
}

evc_time
evc_renew_moment(evc_time not_before, evc_time not_after, const struct evc_thresholds *t)
{
    int64_t life = not_after - not_before > 0 ? not_after - not_before : 0;
    int64_t th = evc_span_seconds(&t->threshold, life);

    /*
     * A threshold longer than half the lifetime counts as half, or a
     * certificate that lives 30 days under a 60-day threshold would be
     * replaced as soon as it is made.
     */
    if (th > life / 2) {
        th = life / 2;
    }
    return not_after - th;
}

enum evc_status
evc_classify(evc_time not_before, evc_time not_after, evc_time now, const struct evc_thresholds *t)
{
    int64_t life = not_after - not_before;
    int64_t pre = evc_span_seconds(&t->prenotify, life);
    evc_time at = evc_renew_moment(not_before, not_after, t);

    if (now >= not_after) {
        return EVC_STATUS_EXPIRED;
    }
    if (now < not_before) {
        return EVC_STATUS_NOT_YET_VALID;
    }
    if (now >= at) {
        return EVC_STATUS_THRESHOLD;
    }
    /*
     * The prenotification period counts at most half the time from
     * notBefore to the renewal moment, or a fresh 90-day certificate would
     * be "prenotify" (scan exit 1) from the day it is made; a certificate
     * is "ok" for at least its first quarter of life.
     */
    if (at - not_before > 0 && pre > (at - not_before) / 2) {
        pre = (at - not_before) / 2;
    }
    /* Compare in subtraction form: at - now is positive here. */
    if (at - now <= pre) {
        return EVC_STATUS_PRENOTIFY;
    }
    return EVC_STATUS_OK;
}

enum evc_kind
evc_kind_of(const struct evc_cert *c, int issuer_held)
{
    if (c->self_issued) {
        return c->is_ca ? EVC_KIND_ROOT : EVC_KIND_SELF_SIGNED;
    }
    return issuer_held ? EVC_KIND_CHAINED : EVC_KIND_EXTERNAL;
}

const char *
evc_status_name(enum evc_status s)
{
    switch (s) {
    case EVC_STATUS_OK:
        return "ok";
    case EVC_STATUS_PRENOTIFY:
        return "prenotify";
    case EVC_STATUS_THRESHOLD:
        return "threshold";
    case EVC_STATUS_EXPIRED:
        return "expired";
    case EVC_STATUS_NOT_YET_VALID:
        return "not_yet_valid";
    default:
        return "unknown";
    }
}

const char *
evc_kind_name(enum evc_kind k)
{
    switch (k) {
    case EVC_KIND_ROOT:
        return "root";
    case EVC_KIND_SELF_SIGNED:
        return "self-signed";
    case EVC_KIND_CHAINED:
        return "chained";
    case EVC_KIND_EXTERNAL:
        return "external";
    default:
        return "unknown";
    }
}
