/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal plan as a pure function of facts, policy and now: which
 * actions, in what order, and what a half-finished state leads to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ca/plan.h"

#define DAY ((int64_t)86400)
#define NOW ((evc_time)1800000000)

static struct evc_policy
policy(void)
{
    struct evc_policy p;

    memset(&p, 0, sizeof(p));
    evc_thresholds_default(&p.thresholds);
    p.auto_replace = 1;
    p.delete_old = 1;
    p.deleted_retention = 90 * DAY;
    return p;
}

/* The plan as "type:index type:index ...". */
static const char *
plan(const struct evc_facts *f)
{
    static char out[512];
    struct evc_action a[32];
    long n = evc_plan_make(f, a, 32);
    size_t len = 0;

    out[0] = '\0';
    assert_true(n >= 0);
    for (long i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s:%zu", i ? " " : "",
                                evc_action_name(a[i].type), a[i].index);
    }
    return out;
}

/* The plan with reasons: "type:index:reason[:stale] ...". */
static const char *
plan_why(const struct evc_facts *f)
{
    static char out[512];
    struct evc_action a[32];
    long n = evc_plan_make(f, a, 32);
    size_t len = 0;

    out[0] = '\0';
    assert_true(n >= 0);
    for (long i = 0; i < n; i++) {
        len +=
            (size_t)snprintf(out + len, sizeof(out) - len, "%s%s:%zu:%s%s%s", i ? " " : "",
                             evc_action_name(a[i].type), a[i].index, evc_reason_name(a[i].reason),
                             a[i].stale ? ":" : "", evc_stale_name(a[i].stale));
    }
    return out;
}

static struct evc_fact_personal
chained(int64_t days_left, long root)
{
    struct evc_fact_personal p;

    memset(&p, 0, sizeof(p));
    p.kind = EVC_KIND_CHAINED;
    p.root = root;
    p.signed_by_root = 1;
    p.not_before = NOW + days_left * DAY - 365 * DAY;
    p.not_after = NOW + days_left * DAY;
    return p;
}

/* A successor staged at now - 60 that lives a year, activated at at. */
static void
stage(struct evc_fact_personal *w, evc_time at)
{
    w->staged = 1;
    w->staged_by_root = 1;
    w->activate_at = at;
    w->staged_not_before = NOW - 60;
    w->staged_not_after = NOW + 365 * DAY;
}

static void
test_nothing_due(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 100 * DAY, NOW + 5000 * DAY};
    struct evc_fact_personal w = chained(200, 0);
    struct evc_facts f = {
        .now = NOW, .policy = &p, .roots = &r, .nroots = 1, .personals = &w, .npersonals = 1};

    (void)state;
    assert_string_equal(plan(&f), "");
}

static void
test_threshold_and_expired(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 100 * DAY, NOW + 5000 * DAY};
    struct evc_fact_personal w[4] = {chained(59, 0), chained(61, 0), chained(-1, 0),
                                     chained(10, 0)};
    struct evc_facts f = {
        .now = NOW, .policy = &p, .roots = &r, .nroots = 1, .personals = w, .npersonals = 4};

    (void)state;
    w[3].kind = EVC_KIND_EXTERNAL; /* reported, never replaced */
    /* Inside the threshold: renew, activate later. Expired: renew and activate now. */
    assert_string_equal(plan(&f), "renew:0 renew:2 activate:2");
    p.window_set = 1; /* distribution_window = 0: replace at once */
    assert_string_equal(plan(&f), "renew:0 renew:2 activate:0 activate:2");
}

static void
test_root_recreated_renews_its_chain(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r[2] = {{0, 0, NOW - 3000 * DAY, NOW + 30 * DAY},
                                 {1, 0, NOW - 10 * DAY, NOW + 5000 * DAY}};
    struct evc_fact_personal w[3] = {chained(300, 0), chained(300, 1), chained(300, 0)};
    struct evc_fact_trust t[2] = {{0, 0, -1, 1}, {1, 1, -1, 1}};
    struct evc_facts f = {.now = NOW,
                          .policy = &p,
                          .roots = r,
                          .nroots = 2,
                          .personals = w,
                          .npersonals = 3,
                          .trusts = t,
                          .ntrusts = 2};

    (void)state;
    assert_string_equal(plan(&f), "recreate-root:0 renew:0 renew:2 add-signer:0");
    /* Without auto_replace the trust stores are left to a person. */
    p.auto_replace = 0;
    assert_string_equal(plan(&f), "recreate-root:0 renew:0 renew:2");
}

static void
test_rerun_after_a_crash(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 1 * DAY, NOW + 5000 * DAY};
    struct evc_fact_personal w = chained(300, 0);
    struct evc_fact_trust t = {0, 0, -1, 0};
    struct evc_facts f = {.now = NOW,
                          .policy = &p,
                          .roots = &r,
                          .nroots = 1,
                          .personals = &w,
                          .npersonals = 1,
                          .trusts = &t,
                          .ntrusts = 1};

    (void)state;
    /* The root was recreated, the run stopped: the chain and the trust store catch up. */
    w.signed_by_root = 0;
    assert_string_equal(plan(&f), "renew:0 add-signer:0");
    /* A successor signed by the new root is staged: it is not made twice. */
    stage(&w, NOW + 3600);
    t.has_newest = 1;
    assert_string_equal(plan(&f), "");
    /* A successor staged under the old root is made again. */
    w.staged_by_root = 0;
    assert_string_equal(plan(&f), "renew:0");
    /* The swap happened, the cleanup did not. */
    w.staged_by_root = 1;
    w.staged_is_live = 1;
    assert_string_equal(plan(&f), "activate:0");
}

static void
test_activate_at_its_time(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w = chained(30, -1);
    struct evc_facts f = {.now = NOW, .policy = &p, .personals = &w, .npersonals = 1};

    (void)state;
    w.kind = EVC_KIND_SELF_SIGNED;
    stage(&w, NOW + 1);
    w.staged_by_root = 0;
    assert_string_equal(plan(&f), "");
    f.now = NOW + 1;
    assert_string_equal(plan(&f), "activate:0");
    f.activate_only = 1;
    assert_string_equal(plan(&f), "activate:0");
}

static void
test_activate_only_does_nothing_else(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 3000 * DAY, NOW - 1};
    struct evc_fact_personal w = chained(-5, 0);
    struct evc_fact_deleted d = {NOW - 1000 * DAY};
    struct evc_facts f = {.now = NOW,
                          .activate_only = 1,
                          .policy = &p,
                          .roots = &r,
                          .nroots = 1,
                          .personals = &w,
                          .npersonals = 1,
                          .deleted = &d,
                          .ndeleted = 1};

    (void)state;
    assert_string_equal(plan(&f), "");
    f.activate_only = 0;
    assert_string_equal(plan(&f), "purge:0 recreate-root:0 renew:0 activate:0");
}

static void
test_retire_and_purge(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_signer s[3] = {
        {0, 0, -1, 0, NOW - 1, {0}}, /* old root, due */
        {0, 0, -1, 0, NOW + 1, {0}}, /* old root, not yet */
        {0, 0, -1, 1, NOW - 1, {0}}, /* the newest: never */
    };
    struct evc_fact_deleted d[2] = {{NOW - 90 * DAY}, {NOW - 89 * DAY}};
    struct evc_facts f = {
        .now = NOW, .policy = &p, .signers = s, .nsigners = 3, .deleted = d, .ndeleted = 2};

    (void)state;
    assert_string_equal(plan(&f), "purge:0 retire:0");
    p.delete_old = 0;
    assert_string_equal(plan(&f), "purge:0");
}

static void
test_threshold_capped_at_half_the_lifetime(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w;
    struct evc_facts f = {.now = NOW, .policy = &p, .personals = &w, .npersonals = 1};

    (void)state;
    memset(&w, 0, sizeof(w));
    w.kind = EVC_KIND_SELF_SIGNED;
    /* 30 days of life under a 60-day threshold: due after 15, not at birth. */
    w.not_before = NOW;
    w.not_after = NOW + 30 * DAY;
    assert_string_equal(plan(&f), "");
    f.now = NOW + 15 * DAY;
    assert_string_equal(plan(&f), "renew:0");
    /* A percentage: 33% left. */
    f.now = NOW + 19 * DAY;
    p.thresholds.threshold.unit = EVC_SPAN_PERCENT;
    p.thresholds.threshold.value = 33;
    assert_string_equal(plan(&f), "");
    f.now = NOW + 21 * DAY;
    assert_string_equal(plan(&f), "renew:0");
}

static void
test_default_root_for_an_orphan(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r[2] = {{0, 0, NOW - 100 * DAY, NOW + 5000 * DAY}, {1, 1, 0, 0}};
    struct evc_fact_personal w = chained(30, 1);
    struct evc_fact_trust t = {0, 1, -1, 0};
    struct evc_facts f = {.now = NOW,
                          .policy = &p,
                          .roots = r,
                          .nroots = 2,
                          .personals = &w,
                          .npersonals = 1,
                          .trusts = &t,
                          .ntrusts = 1};

    (void)state;
    /* Its root is in no root store; root store 1 is empty: a default root there, then renew. */
    w.orphan = 1;
    w.signed_by_root = 0;
    assert_string_equal(plan(&f), "create-root:1 renew:0 add-signer:0");
    /* Not due yet: nothing, not even the root. */
    w = chained(300, 1);
    w.orphan = 1;
    w.signed_by_root = 0;
    t.has_newest = 0;
    f.trusts = NULL;
    f.ntrusts = 0;
    assert_string_equal(plan(&f), "");
    /* After a crash: the default root exists, the successor not yet staged. */
    w = chained(30, 1);
    w.orphan = 1;
    w.signed_by_root = 0;
    r[1].empty = 0;
    r[1].not_before = NOW - 10;
    r[1].not_after = NOW + 5000 * DAY;
    assert_string_equal(plan(&f), "renew:0");
    /* Staged under it: done. */
    stage(&w, NOW + DAY);
    assert_string_equal(plan(&f), "");
}

/*
 * A staged successor that can never go live is made again (and gone live
 * at once when the live certificate has ended), never refused at every
 * activation; `activate` reports it and leaves it to the renewal run.
 */
static void
test_stale_successor(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 100 * DAY, NOW + 5000 * DAY};
    struct evc_fact_personal w = chained(300, 0);
    struct evc_facts f = {
        .now = NOW, .policy = &p, .roots = &r, .nroots = 1, .personals = &w, .npersonals = 1};

    (void)state;
    stage(&w, NOW + DAY);
    assert_string_equal(plan_why(&f), "");
    /* Its validity ended before it went live. */
    w.staged_not_after = NOW;
    assert_string_equal(plan_why(&f), "renew:0:stale-successor:expired");
    /* ... and the live certificate has ended too: made again and live in the same pass. */
    w.not_before = NOW - 20 * DAY;
    w.not_after = NOW - 1;
    w.activate_at = NOW - DAY;
    assert_string_equal(plan_why(&f), "renew:0:stale-successor:expired activate:0:activate");
    /* `activate` does not renew: it says why it does not swap. */
    f.activate_only = 1;
    assert_string_equal(plan_why(&f), "activate:0:stale-successor:expired");
    f.activate_only = 0;
    /* Valid at its activation time: activated as always. */
    w.staged_not_after = NOW + 1;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    f.activate_only = 1;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    f.activate_only = 0;
    /* Starting within the slack a swap allows is fine; later is not (a clock set back). */
    w = chained(300, 0);
    stage(&w, NOW + DAY);
    w.staged_not_before = NOW + EVC_SWAP_SLACK;
    assert_string_equal(plan_why(&f), "");
    w.staged_not_before = NOW + EVC_SWAP_SLACK + 1;
    assert_string_equal(plan_why(&f), "renew:0:stale-successor:not yet valid");
    /* Signed by a key that is no longer the root's, while the live one is. */
    stage(&w, NOW + DAY);
    w.staged_by_root = 0;
    assert_string_equal(plan_why(&f), "renew:0:stale-successor:signed by a replaced root");
    /* A self-signed one has no root to be replaced. */
    w.kind = EVC_KIND_SELF_SIGNED;
    w.root = -1;
    assert_string_equal(plan_why(&f), "");
    /* .next files that are not a whole set are replaced, even when nothing is due. */
    w = chained(300, 0);
    w.debris = 1;
    assert_string_equal(plan_why(&f), "renew:0:stale-successor:not a whole set");
    /* An external certificate is never replaced, whatever lies beside it. */
    w.kind = EVC_KIND_EXTERNAL;
    assert_string_equal(plan_why(&f), "");
    /* Already live, the cleanup not done: activate cleans up. */
    w = chained(300, 0);
    stage(&w, NOW - DAY);
    w.staged_is_live = 1;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    /* ... but if the live one has ended since, it is made again and goes live at once. */
    w = chained(-1, 0);
    stage(&w, NOW - DAY);
    w.staged_is_live = 1;
    w.staged_not_after = NOW - 1;
    assert_string_equal(plan_why(&f), "renew:0:expired activate:0:activate");
    /* Due but not ended: the new successor waits for its time. */
    w = chained(10, 0);
    stage(&w, NOW - DAY);
    w.staged_is_live = 1;
    assert_string_equal(plan_why(&f), "renew:0:threshold");
}

/* A root recreated in this run makes the staged successor under the old one stale. */
static void
test_stale_when_the_root_is_recreated(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 3000 * DAY, NOW + 10 * DAY};
    struct evc_fact_personal w = chained(300, 0);
    struct evc_facts f = {
        .now = NOW, .policy = &p, .roots = &r, .nroots = 1, .personals = &w, .npersonals = 1};

    (void)state;
    stage(&w, NOW + DAY);
    assert_string_equal(
        plan_why(&f), "recreate-root:0:threshold renew:0:root-recreated:signed by a replaced root");
}

/* An orphan whose staged successor expired gets its default root back, then a new successor. */
static void
test_stale_orphan(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 1, 0, 0};
    struct evc_fact_personal w = chained(300, 0);
    struct evc_facts f = {
        .now = NOW, .policy = &p, .roots = &r, .nroots = 1, .personals = &w, .npersonals = 1};

    (void)state;
    w.orphan = 1;
    w.signed_by_root = 0;
    stage(&w, NOW + DAY);
    w.staged_by_root = 0; /* the root store was emptied */
    assert_string_equal(plan_why(&f),
                        "create-root:0:no-root renew:0:stale-successor:signed by a replaced root");
}

static void
test_plan_too_long(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_deleted d[3] = {{0}, {0}, {0}};
    struct evc_facts f = {.now = NOW, .policy = &p, .deleted = d, .ndeleted = 3};
    struct evc_action a[2];

    (void)state;
    assert_int_equal(evc_plan_make(&f, a, 2), EVC_ERR_LIMIT);
}

static void
test_activate_at(void **state)
{
    struct evc_policy p = policy();

    (void)state;
    /* Default: a third of the time left, at most 7 days. */
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 3 * DAY), NOW + DAY);
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 60 * DAY), NOW + 7 * DAY);
    /* Expired: at once. */
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW - 1), NOW);
    /* A configured window, but never past 90% of the time left. */
    p.window_set = 1;
    p.window.unit = EVC_SPAN_SECONDS;
    p.window.value = 10 * DAY;
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 100 * DAY), NOW + 10 * DAY);
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 10 * DAY), NOW + 9 * DAY);
    p.window.value = 0;
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 10 * DAY), NOW);
    p.window.unit = EVC_SPAN_PERCENT;
    p.window.value = 50;
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 10 * DAY), NOW + 5 * DAY);
    /* Seconds-long certificates keep a window: 5 s left, half of it, floored. */
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 5), NOW + 2);
    p.window_set = 0;
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 5), NOW + 1);
    p.window_set = 1;
    p.window.unit = EVC_SPAN_SECONDS;
    p.window.value = 60;
    assert_int_equal(evc_policy_activate_at(&p, NOW, NOW + 5), NOW + 4);
}

/*
 * The monitor's clock agrees with the planner: at the moment it names the
 * plan has work, a second before it has none; it names the earliest such
 * moment, leaves room for jitter only after renewals, and counts what is
 * due now.
 */
static void
test_clock_names_the_planners_next_moment(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_root r = {0, 0, NOW - 100 * DAY, NOW + 3000 * DAY};
    struct evc_fact_personal w[2] = {chained(100, 0), chained(200, 0)};
    struct evc_facts f = {
        .now = NOW, .policy = &p, .roots = &r, .nroots = 1, .personals = w, .npersonals = 2};
    struct evc_plan_clock c;

    (void)state;
    evc_plan_clock(&f, &c);
    /* 100 days left, a 60-day threshold: due in 40 days; 10 minutes of room after. */
    assert_int_equal(c.next, NOW + 40 * DAY);
    assert_int_equal(c.latest, NOW + 40 * DAY + 600);
    assert_int_equal(c.deadline, NOW + 100 * DAY);
    assert_int_equal(c.overdue, 0);
    f.now = c.next - 1;
    assert_string_equal(plan(&f), "");
    f.now = c.next;
    assert_string_equal(plan(&f), "renew:0");
    /* Due now: counted, and the clock names the next moment after. */
    evc_plan_clock(&f, &c);
    assert_int_equal(c.overdue, 1);
    assert_int_equal(c.next, NOW + 140 * DAY);
}

static void
test_clock_staged_retire_purge_external(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w = chained(30, -1);
    struct evc_fact_signer s = {0, 0, -1, 0, NOW + 5 * DAY, {0}};
    struct evc_fact_deleted d = {NOW - 80 * DAY};
    struct evc_facts f = {.now = NOW,
                          .policy = &p,
                          .personals = &w,
                          .npersonals = 1,
                          .signers = &s,
                          .nsigners = 1,
                          .deleted = &d,
                          .ndeleted = 1};
    struct evc_plan_clock c;

    (void)state;
    /* A staged successor: its activate_at, to the second. */
    w.kind = EVC_KIND_SELF_SIGNED;
    stage(&w, NOW + 3 * DAY);
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, NOW + 3 * DAY);
    assert_int_equal(c.latest, NOW + 3 * DAY);
    /* Then the retirement, then the end of the retention. */
    f.now = NOW + 3 * DAY;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.overdue, 1);
    assert_int_equal(c.next, NOW + 5 * DAY);
    p.delete_old = 0;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, NOW + 10 * DAY);
    /* A stale successor (it ended before its activation) is work due now. */
    w.staged_not_after = NOW + 3 * DAY;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.overdue, 1);
    assert_int_equal(c.next, NOW + 10 * DAY);
    /* An external certificate is never renewed: no moment, no deadline. */
    w.kind = EVC_KIND_EXTERNAL;
    f.ndeleted = 0;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, 0);
    assert_int_equal(c.deadline, 0);
}

/* A certificate that lives a minute under a 50% threshold: due half-way, a second of room. */
static void
test_clock_short_lived(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w;
    struct evc_facts f = {.now = NOW, .policy = &p, .personals = &w, .npersonals = 1};
    struct evc_plan_clock c;

    (void)state;
    memset(&w, 0, sizeof(w));
    w.kind = EVC_KIND_SELF_SIGNED;
    w.not_before = NOW - 10;
    w.not_after = NOW + 50;
    assert_int_equal(evc_span_parse("50%", &p.thresholds.threshold), 0);
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, NOW + 20);
    assert_int_equal(c.latest, NOW + 21);
}

/* activate = ready, with a deadline: every branch of the decision past activate_at. */
static void
test_activate_ready(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w = chained(30, -1);
    struct evc_facts f = {.now = NOW, .policy = &p, .personals = &w, .npersonals = 1};

    (void)state;
    p.activate = EVC_ACTIVATE_READY;
    p.ready_share = 100;
    w.kind = EVC_KIND_SELF_SIGNED;
    stage(&w, NOW + DAY);
    w.staged_by_root = 0;
    w.activate_by = NOW + 20 * DAY;
    /* Before activate_at nothing goes live, ready or not. */
    for (int ready = 0; ready <= 1; ready++) {
        w.ready = ready;
        f.activate_only = 0;
        assert_string_equal(plan_why(&f), "");
        f.activate_only = 1;
        assert_string_equal(plan_why(&f), "");
    }
    /* Ready at activate_at (or before: counted now): live now. */
    f.now = NOW + DAY;
    w.ready = 1;
    f.activate_only = 0;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    f.activate_only = 1;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    /* Not ready, or not known to be (the same fact): it waits, and writes nothing. */
    w.ready = 0;
    f.activate_only = 0;
    assert_string_equal(plan_why(&f), "wait:0:not-ready");
    f.activate_only = 1;
    assert_string_equal(plan_why(&f), "wait:0:not-ready");
    f.now = NOW + 20 * DAY - 1;
    assert_string_equal(plan_why(&f), "wait:0:not-ready");
    /* At the deadline it goes live without them. */
    f.now = NOW + 20 * DAY;
    assert_string_equal(plan_why(&f), "activate:0:deadline");
    f.activate_only = 0;
    assert_string_equal(plan_why(&f), "activate:0:deadline");
    /* Ready and at the deadline: they were ready. */
    w.ready = 1;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    /* activate = at ignores the clients. */
    w.ready = 0;
    p.activate = EVC_ACTIVATE_AT;
    f.now = NOW + DAY;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    /* Already live: activate only cleans up, whatever the clients hold. */
    p.activate = EVC_ACTIVATE_READY;
    w.staged_is_live = 1;
    w.not_before = w.staged_not_before;
    w.not_after = w.staged_not_after;
    assert_string_equal(plan_why(&f), "activate:0:activate");
    f.activate_only = 1;
    assert_string_equal(plan_why(&f), "activate:0:activate");
}

/* A successor made in this run has no client holding it: it waits, or goes live at its deadline. */
static void
test_activate_ready_made_now(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w = chained(10, -1);
    struct evc_facts f = {.now = NOW, .policy = &p, .personals = &w, .npersonals = 1};

    (void)state;
    w.kind = EVC_KIND_SELF_SIGNED;
    w.ready = 1; /* about no successor: it cannot count for the new one */
    p.activate = EVC_ACTIVATE_READY;
    p.ready_share = 100;
    p.window_set = 1;
    p.window.unit = EVC_SPAN_SECONDS;
    p.window.value = 0;
    p.margin.unit = EVC_SPAN_SECONDS;
    p.margin.value = DAY;
    assert_string_equal(plan_why(&f), "renew:0:threshold wait:0:not-ready");
    /* A margin as long as the time left: the deadline is activate_at, now. */
    p.margin.value = 10 * DAY;
    assert_string_equal(plan_why(&f), "renew:0:threshold activate:0:deadline");
    p.activate = EVC_ACTIVATE_AT;
    assert_string_equal(plan_why(&f), "renew:0:threshold activate:0:activate");
}

static void
test_activate_by(void **state)
{
    struct evc_policy p = policy();

    (void)state;
    /* activate = at: the deadline is activate_at itself. */
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 90 * DAY, NOW + 10 * DAY), NOW);
    p.activate = EVC_ACTIVATE_READY;
    /* 10% of a 100-day lifetime before the end. */
    p.margin.unit = EVC_SPAN_PERCENT;
    p.margin.value = 10;
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 90 * DAY, NOW + 10 * DAY), NOW);
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 80 * DAY, NOW + 20 * DAY),
                     NOW + 10 * DAY);
    /* A duration; never before activate_at; no overflow from any margin. */
    p.margin.unit = EVC_SPAN_SECONDS;
    p.margin.value = 3 * DAY;
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 80 * DAY, NOW + 20 * DAY),
                     NOW + 17 * DAY);
    assert_int_equal(evc_policy_activate_by(&p, NOW + 18 * DAY, NOW - 80 * DAY, NOW + 20 * DAY),
                     NOW + 18 * DAY);
    p.margin.value = INT64_MAX;
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 80 * DAY, NOW + 20 * DAY), NOW);
    p.margin.value = 0;
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 80 * DAY, NOW + 20 * DAY),
                     NOW + 20 * DAY);
    /* Ended already: activate_at. */
    assert_int_equal(evc_policy_activate_by(&p, NOW, NOW - 80 * DAY, NOW - 1), NOW);
}

/*
 * A successor waiting for its clients is counted again within a minute,
 * or a tenth of the time to its deadline (at least 1 s), and at the
 * deadline; waiting is not work overdue.
 */
static void
test_clock_waiting(void **state)
{
    struct evc_policy p = policy();
    struct evc_fact_personal w = chained(30, -1);
    struct evc_facts f = {.now = NOW, .policy = &p, .personals = &w, .npersonals = 1};
    struct evc_plan_clock c;

    (void)state;
    p.activate = EVC_ACTIVATE_READY;
    w.kind = EVC_KIND_SELF_SIGNED;
    stage(&w, NOW + DAY);
    w.staged_by_root = 0;
    w.activate_by = NOW + 20 * DAY;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, NOW + DAY);
    assert_int_equal(c.waiting, 0);
    f.now = NOW + DAY;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, NOW + DAY + 60);
    assert_int_equal(c.latest, NOW + DAY + 60);
    assert_int_equal(c.overdue, 0);
    assert_int_equal(c.waiting, 1);
    f.now = NOW + 20 * DAY - 300;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, f.now + 30);
    f.now = NOW + 20 * DAY - 5;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.next, f.now + 1);
    /* At the deadline the activation is due. */
    f.now = NOW + 20 * DAY;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.overdue, 1);
    assert_int_equal(c.waiting, 0);
    /* activate = at: past activate_at is work due, not a wait. */
    p.activate = EVC_ACTIVATE_AT;
    f.now = NOW + DAY;
    evc_plan_clock(&f, &c);
    assert_int_equal(c.overdue, 1);
    assert_int_equal(c.waiting, 0);
    assert_int_equal(evc_plan_recheck(NOW, NOW + 5 * DAY), 60);
    assert_int_equal(evc_plan_recheck(NOW, NOW + 100), 10);
    assert_int_equal(evc_plan_recheck(NOW, NOW), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_due),
        cmocka_unit_test(test_threshold_and_expired),
        cmocka_unit_test(test_root_recreated_renews_its_chain),
        cmocka_unit_test(test_rerun_after_a_crash),
        cmocka_unit_test(test_activate_at_its_time),
        cmocka_unit_test(test_activate_only_does_nothing_else),
        cmocka_unit_test(test_retire_and_purge),
        cmocka_unit_test(test_threshold_capped_at_half_the_lifetime),
        cmocka_unit_test(test_default_root_for_an_orphan),
        cmocka_unit_test(test_stale_successor),
        cmocka_unit_test(test_stale_when_the_root_is_recreated),
        cmocka_unit_test(test_stale_orphan),
        cmocka_unit_test(test_plan_too_long),
        cmocka_unit_test(test_activate_at),
        cmocka_unit_test(test_clock_names_the_planners_next_moment),
        cmocka_unit_test(test_clock_staged_retire_purge_external),
        cmocka_unit_test(test_clock_short_lived),
        cmocka_unit_test(test_activate_ready),
        cmocka_unit_test(test_activate_ready_made_now),
        cmocka_unit_test(test_activate_by),
        cmocka_unit_test(test_clock_waiting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
