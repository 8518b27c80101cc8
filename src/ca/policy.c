/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy's decisions that need no store: role names, when a
 * successor goes live and how long it may wait for its clients. They
 * belong to renewal, so the configuration file fills the structs and the
 * ca layer owns what they mean.
 */
#include "evercert/policy.h"

static const char *const role_names[] = {"root", "personal", "trust", "deleted"};

const char *
evc_role_name(enum evc_role r)
{
    return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "?";
}

evc_time
evc_policy_activate_at(const struct evc_policy *p, evc_time now, evc_time not_after)
{
    int64_t left = not_after - now, window;

    if (left <= 0) {
        return now;
    }
    if (p->window_set) {
        /* A share is of the time left, not of the lifetime. */
        window = evc_span_seconds(&p->window, left);
    } else {
        window = left / 3;
        if (window > (int64_t)7 * 86400) {
            window = (int64_t)7 * 86400;
        }
    }
    /* Activation always falls before the old certificate ends. */
    /* (left * 9 / 10, not left / 10 * 9: a few seconds left must not round to no window.) */
    if (window > left * 9 / 10) {
        window = left * 9 / 10;
    }
    return now + window;
}

evc_time
evc_policy_activate_by(const struct evc_policy *p, evc_time activate_at, evc_time not_before,
                       evc_time not_after)
{
    int64_t life = not_after - not_before, margin;

    if (p->activate != EVC_ACTIVATE_READY) {
        return activate_at;
    }
    /* A share is of the old certificate's whole lifetime: the deadline does not drift. */
    margin = evc_span_seconds(&p->margin, life > 0 ? life : 0);
    /* Compared in subtraction form: a margin of any size cannot overflow. */
    if (margin < 0 || margin >= not_after - activate_at) {
        return activate_at;
    }
    return not_after - margin;
}
