/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's pure decisions: where a DER object ends on the push
 * channel (and every way a stream is refused), the reconnect backoff,
 * what a trust store needs for a successor, the freeze alarm (when, and
 * once per leaf), and how near an SA waiting for approval is to the switch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "evercert/agent.h"
#include "evercert/ca.h"
#include "evercert/cert.h"
#include "evercert/limits.h"
#include "evercert/state.h"
#include "agent/agent_int.h"

#define NOW ((evc_time)1800000000)
#define HOUR 3600

static void
test_der_frame(void **state)
{
    static const uint8_t short_form[] = {0x30, 0x03, 1, 2, 3};
    static const uint8_t long_form[] = {0x30, 0x82, 0x07, 0xc1};
    static const uint8_t too_big[] = {0x30, 0x83, 0x01, 0x00, 0x01};
    static const uint8_t not_seq[] = {0x04, 0x01, 0x00};
    static const uint8_t indefinite[] = {0x30, 0x80};
    static const uint8_t five_bytes[] = {0x30, 0x85, 0, 0, 0, 0, 1};
    struct evc_err err = {0};
    size_t total = 99;

    (void)state;
    assert_int_equal(evc_der_frame(short_form, 0, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(evc_der_frame(short_form, 1, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(evc_der_frame(short_form, 2, EVC_SA_MAX, &total, &err), 0);
    assert_int_equal(total, 5);
    /* The header of a long form needs all its length bytes. */
    assert_int_equal(evc_der_frame(long_form, 3, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(evc_der_frame(long_form, 4, EVC_SA_MAX, &total, &err), 0);
    assert_int_equal(total, 4 + 0x7c1);
    assert_int_equal(evc_der_frame(too_big, sizeof(too_big), EVC_SA_MAX, &total, &err),
                     EVC_ERR_LIMIT);
    assert_non_null(strstr(err.detail, "over the 65536-byte cap"));
    assert_int_equal(evc_der_frame(not_seq, 1, EVC_SA_MAX, &total, &err), EVC_ERR_PARSE);
    assert_non_null(strstr(err.detail, "first byte 0x04"));
    assert_int_equal(evc_der_frame(indefinite, 2, EVC_SA_MAX, &total, &err), EVC_ERR_PARSE);
    assert_int_equal(evc_der_frame(five_bytes, sizeof(five_bytes), EVC_SA_MAX, &total, &err),
                     EVC_ERR_PARSE);
    /* Exactly at the cap is fine; one more is not. */
    {
        uint8_t at_cap[] = {0x30, 0x83, 0x00, 0xff, 0xfb};

        assert_int_equal(evc_der_frame(at_cap, 5, 65536, &total, &err), 0);
        assert_int_equal(total, 65536);
        at_cap[4] = 0xfc;
        assert_int_equal(evc_der_frame(at_cap, 5, 65536, &total, &err), EVC_ERR_LIMIT);
    }
}

/* The one DER framer (x509) the push channel's evc_der_frame and evc_der_element_len share. */
static void
test_der_element_head(void **state)
{
    static const struct {
        uint8_t b[12];
        size_t n;
        int r;
        size_t total;
    } cases[] = {
        {{0}, 0, 1, 2},
        {{0x30}, 1, 1, 2},
        {{0x30, 0x03, 1, 2, 3}, 5, 0, 5},
        {{0x30, 0x03, 1}, 3, 0, 5}, /* the content need not be in */
        {{0x04, 0x82, 0x01}, 3, 1, 4},
        {{0x04, 0x82, 0x01, 0x00}, 4, 0, 260},
        {{0x30, 0x80}, 2, EVC_ERR_BAD_DER, 0},                /* indefinite */
        {{0x30, 0x85, 0, 0, 0, 0, 1}, 7, EVC_ERR_BAD_DER, 0}, /* over 4 length bytes */
        {{0x1f}, 1, 1, 3},                                    /* a high tag number follows */
        {{0x1f, 0x81}, 2, 1, 4},
        {{0x1f, 0x81, 0x01}, 3, 1, 4},
        {{0x1f, 0x81, 0x01, 0x02, 9, 9}, 6, 0, 6},
        {{0x1f, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00}, 8, EVC_ERR_BAD_DER, 0},
    };
    size_t total;

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        total = 99;
        assert_int_equal(evc_der_element_head(cases[k].b, cases[k].n, &total), cases[k].r);
        assert_int_equal(total, cases[k].total);
        /* evc_der_element_len is the same framer, asking for the whole element. */
        assert_int_equal(evc_der_element_len(cases[k].b, cases[k].n),
                         cases[k].r == 0 && cases[k].total <= cases[k].n ? cases[k].total : 0);
    }
}

/* The runtime's small pure parts: the earliest wake-up, and where the state lives. */
static void
test_runtime_pure(void **state)
{
    evc_time next = 0;
    char out[128];

    (void)state;
    evc_agent_next_at(&next, 0); /* no time: nothing */
    assert_int_equal(next, 0);
    evc_agent_next_at(&next, NOW + 50);
    assert_int_equal(next, NOW + 50);
    evc_agent_next_at(&next, NOW + 90); /* later: kept */
    assert_int_equal(next, NOW + 50);
    evc_agent_next_at(&next, NOW + 10);
    assert_int_equal(next, NOW + 10);
    evc_agent_next_at(&next, 0);
    assert_int_equal(next, NOW + 10);
    /* A configured path wins; else beside the configuration (root: /var/lib/evercert). */
    evc_agent_state_path("/etc/evercert/agent.ini", "/srv/a.db", out, sizeof(out));
    assert_string_equal(out, "/srv/a.db");
    evc_agent_state_path("/etc/evercert/agent.ini", NULL, out, sizeof(out));
    assert_string_equal(out, geteuid() == 0 ? "/var/lib/evercert/agent.db"
                                            : "/etc/evercert/evercert-agent.db");
    evc_agent_state_path("agent.ini", NULL, out, sizeof(out));
    assert_string_equal(out, geteuid() == 0 ? "/var/lib/evercert/agent.db" : "evercert-agent.db");
}

static void
test_backoff(void **state)
{
    (void)state;
    /* Half fixed, half random: attempt 0 waits 0.5..1 s. */
    assert_int_equal(evc_agent_backoff(0, 300000, 0), 500);
    assert_int_equal(evc_agent_backoff(0, 300000, 500), 1000);
    assert_int_equal(evc_agent_backoff(0, 300000, 501), 500);
    assert_int_equal(evc_agent_backoff(3, 300000, 0), 4000);
    /* Doubling stops at the cap, however many attempts. */
    assert_int_equal(evc_agent_backoff(30, 300000, 0), 150000);
    assert_int_equal(evc_agent_backoff(31, 300000, 150000), 300000);
    for (uint32_t r = 0; r < 100000; r += 997) {
        uint32_t d = evc_agent_backoff(10, 300000, r);

        assert_true(d >= 150000 && d <= 300000);
    }
}

static EVP_PKEY *
key(void)
{
    EVP_PKEY *k = NULL;
    struct evc_err err = {0};

    assert_int_equal(evc_key_generate("ec:P-256", &k, &err), 0);
    return k;
}

static X509 *
make(enum evc_profile prof, const char *cn, EVP_PKEY *k, X509 *ca, EVP_PKEY *cakey, evc_time nb,
     evc_time na)
{
    const char *sans[] = {"DNS:web.test"};
    struct evc_cert_req req = {prof, NULL, cn, sans, prof != EVC_PROFILE_ROOT, nb, na};
    struct evc_err err = {0};
    X509 *x = NULL;

    assert_int_equal(evc_ca_make(&req, k, ca, cakey, &x, &err), 0);
    return x;
}

/* An SA's content: leaf, then the certificates of anchors (NULL-terminated; none: no field). */
static struct evc_sa *
sa_with(X509 *leaf, X509 *const *anchors)
{
    struct evc_sa *sa = calloc(1, sizeof(*sa));

    sa->successor = sk_X509_new_null();
    assert_true(X509_add_cert(sa->successor, leaf, X509_ADD_FLAG_UP_REF));
    for (size_t i = 0; anchors != NULL && anchors[i] != NULL; i++) {
        if (sa->anchors == NULL) {
            sa->anchors = sk_X509_new_null();
        }
        assert_true(X509_add_cert(sa->anchors, anchors[i], X509_ADD_FLAG_UP_REF));
    }
    sa->activate_at = NOW + HOUR;
    return sa;
}

static struct evc_sa *
sa_of(X509 *leaf, X509 *anchor)
{
    X509 *a[] = {anchor, NULL};

    return sa_with(leaf, a);
}

/* The plan for sa in mode must be refused, naming reason; nothing is handed back. */
static void
refused(struct evc_sa *sa, enum evc_sa_policy_mode mode, X509_STORE *trust, const char *reason)
{
    STACK_OF(X509) *add = (STACK_OF(X509) *)1;
    struct evc_err err = {0};

    assert_int_equal(evc_agent_trust_plan(sa, mode, trust, NOW + HOUR, &add, &err), EVC_ERR_POLICY);
    assert_null(add);
    if (strstr(err.detail, reason) == NULL) {
        fail_msg("want %s, got: %s", reason, err.detail);
    }
    evc_sa_free(sa);
}

/* The plan for sa in mode adds exactly want (NULL: nothing). */
static void
adds(struct evc_sa *sa, enum evc_sa_policy_mode mode, X509_STORE *trust, X509 *want)
{
    STACK_OF(X509) *add = NULL;
    struct evc_err err = {0};

    if (evc_agent_trust_plan(sa, mode, trust, NOW + HOUR, &add, &err) != 0) {
        fail_msg("refused: %s", err.detail);
    }
    assert_int_equal(sk_X509_num(add), want != NULL ? 1 : 0);
    if (want != NULL) {
        assert_int_equal(X509_cmp(sk_X509_value(add, 0), want), 0);
    }
    sk_X509_pop_free(add, X509_free);
    evc_sa_free(sa);
}

static void
test_trust_plan(void **state)
{
    EVP_PKEY *rk = key(), *rk2 = key(), *lk = key(), *sk = key();
    X509 *root = make(EVC_PROFILE_ROOT, "Root", rk, NULL, NULL, NOW - HOUR, NOW + 100 * HOUR);
    X509 *root2 = make(EVC_PROFILE_ROOT, "Root 2", rk2, NULL, NULL, NOW - HOUR, NOW + 100 * HOUR);
    X509 *chained = make(EVC_PROFILE_SERVER, "web.test", lk, root, rk, NOW, NOW + 10 * HOUR);
    X509 *under2 = make(EVC_PROFILE_SERVER, "web.test", lk, root2, rk2, NOW, NOW + 10 * HOUR);
    X509 *self = make(EVC_PROFILE_SELFSIGNED, "web.test", sk, NULL, NULL, NOW, NOW + 10 * HOUR);
    X509_STORE *trust = X509_STORE_new();
    STACK_OF(X509) *add = NULL;
    struct evc_err err = {0};
    struct evc_sa *sa;

    (void)state;
    X509_STORE_add_cert(trust, root);
    /* Chains to what is trusted: nothing to add, pinned or under a CA. */
    adds(sa_of(chained, NULL), EVC_SA_POLICY_AUTO, trust, NULL);
    adds(sa_of(chained, NULL), EVC_SA_POLICY_CA, trust, NULL);
    /* A self-signed successor under pinned trust: itself. */
    adds(sa_of(self, NULL), EVC_SA_POLICY_AUTO, trust, self);
    adds(sa_of(self, NULL), EVC_SA_POLICY_MANUAL, trust, self);
    /* Under a CA a self-signed successor chains to nothing trusted. */
    refused(sa_of(self, NULL), EVC_SA_POLICY_CA, trust, "no-anchor");
    /* From an issuer nobody trusts, with no anchor: refused. */
    refused(sa_of(under2, NULL), EVC_SA_POLICY_AUTO, trust, "chains to nothing");
    refused(sa_of(under2, NULL), EVC_SA_POLICY_CA, trust, "no-anchor");
    /* An anchor the successor does not chain to is no help. */
    refused(sa_of(under2, root), EVC_SA_POLICY_CA, trust, "no-anchor");
    /* Checked at activation: a trusted root expired by then does not count. */
    sa = sa_of(chained, NULL);
    assert_int_equal(
        evc_agent_trust_plan(sa, EVC_SA_POLICY_AUTO, trust, NOW + 200 * HOUR, &add, &err),
        EVC_ERR_POLICY);
    evc_sa_free(sa);
    X509_STORE_free(trust);
    X509_free(root);
    X509_free(root2);
    X509_free(chained);
    X509_free(under2);
    X509_free(self);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(rk2);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(sk);
}

/*
 * The roots and links of a CA rollover: the client trusts old; new is
 * the successor's root, with link (new's subject and key, issued by old);
 * the rest are what an attacker or a mistake puts beside them.
 */
struct roll {
    EVP_PKEY *ok, *nk, *xk, *lk, *pk;
    X509 *old, *new, *link, *other, *stranger, *link_by_stranger, *link_other_key, *pinned,
        *link_by_pinned, *notca, *succ, *succ_notca, *succ_old;
    X509_STORE *trust;
};

static X509 *
make_subject(enum evc_profile prof, const char *subject, EVP_PKEY *k, X509 *ca, EVP_PKEY *cakey)
{
    struct evc_cert_req req = {prof, subject, NULL, NULL, 0, NOW - HOUR, NOW + 100 * HOUR};
    struct evc_err err = {0};
    X509 *x = NULL;

    assert_int_equal(evc_ca_make(&req, k, ca, cakey, &x, &err), 0);
    return x;
}

static void
roll_init(struct roll *r)
{
    memset(r, 0, sizeof(*r));
    r->ok = key();
    r->nk = key();
    r->xk = key();
    r->lk = key();
    r->pk = key();
    r->old = make_subject(EVC_PROFILE_ROOT, "CN=Old Root", r->ok, NULL, NULL);
    r->new = make_subject(EVC_PROFILE_ROOT, "CN=New Root", r->nk, NULL, NULL);
    r->link = make_subject(EVC_PROFILE_ROOT, "CN=New Root", r->nk, r->old, r->ok);
    r->other = make_subject(EVC_PROFILE_ROOT, "CN=Other Root", r->xk, NULL, NULL);
    r->stranger = make_subject(EVC_PROFILE_ROOT, "CN=Stranger Root", r->xk, NULL, NULL);
    r->link_by_stranger = make_subject(EVC_PROFILE_ROOT, "CN=New Root", r->nk, r->stranger, r->xk);
    r->link_other_key = make_subject(EVC_PROFILE_ROOT, "CN=New Root", r->xk, r->old, r->ok);
    /* A pinned self-signed leaf in the same store: its key must never vouch for a CA. */
    r->pinned =
        make(EVC_PROFILE_SELFSIGNED, "web.test", r->pk, NULL, NULL, NOW - HOUR, NOW + 100 * HOUR);
    r->link_by_pinned = make_subject(EVC_PROFILE_ROOT, "CN=New Root", r->nk, r->pinned, r->pk);
    r->notca =
        make(EVC_PROFILE_SELFSIGNED, "Not A CA", r->xk, NULL, NULL, NOW - HOUR, NOW + 100 * HOUR);
    r->succ = make(EVC_PROFILE_SERVER, "web.test", r->lk, r->new, r->nk, NOW, NOW + 10 * HOUR);
    r->succ_notca =
        make(EVC_PROFILE_SERVER, "web.test", r->lk, r->notca, r->xk, NOW, NOW + 10 * HOUR);
    r->succ_old = make(EVC_PROFILE_SERVER, "web.test", r->lk, r->old, r->ok, NOW, NOW + 10 * HOUR);
    r->trust = X509_STORE_new();
    assert_int_equal(X509_STORE_add_cert(r->trust, r->old), 1);
    assert_int_equal(X509_STORE_add_cert(r->trust, r->pinned), 1);
}

static void
roll_clear(struct roll *r)
{
    X509 *all[] = {r->old,
                   r->new,
                   r->link,
                   r->other,
                   r->stranger,
                   r->link_by_stranger,
                   r->link_other_key,
                   r->pinned,
                   r->link_by_pinned,
                   r->notca,
                   r->succ,
                   r->succ_notca,
                   r->succ_old};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        X509_free(all[i]);
    }
    EVP_PKEY_free(r->ok);
    EVP_PKEY_free(r->nk);
    EVP_PKEY_free(r->xk);
    EVP_PKEY_free(r->lk);
    EVP_PKEY_free(r->pk);
    X509_STORE_free(r->trust);
}

/* Pinned trust (auto, manual; holddown is auto with a wait) takes no anchor, linked or not. */
static void
test_trust_plan_pinned_anchors(void **state)
{
    static const enum evc_sa_policy_mode pinned[] = {EVC_SA_POLICY_AUTO, EVC_SA_POLICY_MANUAL};
    struct roll r;

    (void)state;
    roll_init(&r);
    for (size_t m = 0; m < sizeof(pinned) / sizeof(pinned[0]); m++) {
        X509 *attack[] = {r.new, r.other, NULL};
        X509 *linked[] = {r.new, r.link, NULL};

        refused(sa_with(r.succ, attack), pinned[m], r.trust, "anchors-under-pin");
        refused(sa_with(r.succ, linked), pinned[m], r.trust, "anchors-under-pin");
        /* Even beside a successor that needs nothing, or a self-signed one. */
        refused(sa_of(r.succ_old, r.other), pinned[m], r.trust, "anchors-under-pin");
        refused(sa_of(r.pinned, r.other), pinned[m], r.trust, "anchors-under-pin");
    }
    roll_clear(&r);
}

static void
test_trust_plan_ca_anchors(void **state)
{
    struct roll r;

    (void)state;
    roll_init(&r);
    {
        /* A new root vouched for by a link from the trusted root: that root alone. */
        X509 *a[] = {r.new, r.link, NULL}, *b[] = {r.link, r.new, NULL};

        adds(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, r.new);
        adds(sa_with(r.succ, b), EVC_SA_POLICY_CA, r.trust, r.new);
    }
    {
        /* An unrelated root beside them: refused, not silently dropped. */
        X509 *a[] = {r.new, r.link, r.other, NULL};

        refused(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, "anchor-unneeded");
    }
    {
        /* A link for a name the successor does not need. */
        X509 *a[] = {r.new, r.link, r.link_by_stranger, NULL};
        X509 *other_link = make_subject(EVC_PROFILE_ROOT, "CN=Other Root", r.xk, r.old, r.ok);
        X509 *c[] = {r.new, r.link, other_link, NULL};

        refused(sa_with(r.succ, c), EVC_SA_POLICY_CA, r.trust, "anchor-unneeded");
        X509_free(other_link);
        /* One good link and one from a stranger: every link must hold. */
        refused(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, "anchor-link-untrusted");
    }
    /* The new root with no link. */
    refused(sa_of(r.succ, r.new), EVC_SA_POLICY_CA, r.trust, "anchor-no-link");
    {
        /* The attack of a pinned key's holder: two roots, no link. */
        X509 *a[] = {r.new, r.other, NULL};

        refused(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, "anchor-unneeded");
    }
    {
        /* A link signed by a root the client does not trust. */
        X509 *a[] = {r.new, r.link_by_stranger, NULL};

        refused(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, "anchor-link-untrusted");
    }
    {
        /* A link signed by a pinned leaf that is in the trust store. */
        X509 *a[] = {r.new, r.link_by_pinned, NULL};

        refused(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, "anchor-link-untrusted");
    }
    {
        /* A link for the root's name with another key. */
        X509 *a[] = {r.new, r.link_other_key, NULL};

        refused(sa_with(r.succ, a), EVC_SA_POLICY_CA, r.trust, "anchor-link-key");
    }
    {
        /* An anchor that is not a CA certificate. */
        X509 *a[] = {r.notca, NULL};

        refused(sa_with(r.succ_notca, a), EVC_SA_POLICY_CA, r.trust, "anchor-not-ca");
    }
    {
        /*
         * A root renewed under its old name with a new key, as renew does: the
         * link shares the name but is signed by the old key, so it is no root.
         */
        EVP_PKEY *k = key();
        X509 *same = make_subject(EVC_PROFILE_ROOT, "CN=Old Root", k, NULL, NULL);
        X509 *same_link = make_subject(EVC_PROFILE_ROOT, "CN=Old Root", k, r.old, r.ok);
        X509 *succ = make(EVC_PROFILE_SERVER, "web.test", r.lk, same, k, NOW, NOW + 10 * HOUR);
        X509 *a[] = {same, same_link, NULL};

        adds(sa_with(succ, a), EVC_SA_POLICY_CA, r.trust, same);
        refused(sa_of(succ, same), EVC_SA_POLICY_CA, r.trust, "anchor-no-link");
        X509_free(same);
        X509_free(same_link);
        X509_free(succ);
        EVP_PKEY_free(k);
    }
    {
        /* A successor that chains to the trust store already: the anchors are not looked at. */
        X509 *a[] = {r.new, r.other, NULL};

        adds(sa_with(r.succ_old, a), EVC_SA_POLICY_CA, r.trust, NULL);
    }
    roll_clear(&r);
}

static void
test_frozen(void **state)
{
    EVP_PKEY *k = key();
    /* Lives 100 hours, from NOW. */
    X509 *x = make(EVC_PROFILE_SELFSIGNED, "web.test", k, NULL, NULL, NOW, NOW + 100 * HOUR);
    struct evc_thresholds t;

    (void)state;
    evc_thresholds_default(&t); /* 60 days: capped at half the lifetime, 50 hours */
    /* Without grace: renew's own moment. */
    assert_int_equal(evc_agent_freeze_at(x, &t, 0), NOW + 50 * HOUR);
    assert_false(evc_agent_frozen(x, 0, &t, 0, NOW + 49 * HOUR));
    assert_true(evc_agent_frozen(x, 0, &t, 0, NOW + 50 * HOUR));
    assert_true(evc_agent_frozen(x, 0, &t, 0, NOW + 101 * HOUR)); /* expired */
    assert_false(evc_agent_frozen(x, 1, &t, 0, NOW + 60 * HOUR)); /* a successor came */
    /* The moment plus grace: one hour... */
    assert_int_equal(evc_agent_freeze_at(x, &t, HOUR), NOW + 51 * HOUR);
    assert_false(evc_agent_frozen(x, 0, &t, HOUR, NOW + 50 * HOUR));
    assert_true(evc_agent_frozen(x, 0, &t, HOUR, NOW + 51 * HOUR));
    /* ...but never more than a quarter of the 50 hours from the moment to the end. */
    assert_int_equal(evc_agent_freeze_at(x, &t, 14 * 24 * HOUR), NOW + 50 * HOUR + 50 * HOUR / 4);
    assert_false(evc_agent_frozen(x, 0, &t, 14 * 24 * HOUR, NOW + 62 * HOUR));
    assert_true(evc_agent_frozen(x, 0, &t, 14 * 24 * HOUR, NOW + 63 * HOUR));
    assert_int_equal(evc_agent_freeze_at(x, &t, -5), NOW + 50 * HOUR);
    assert_int_equal(evc_span_parse("10%", &t.threshold), 0);
    assert_false(evc_agent_frozen(x, 0, &t, 0, NOW + 89 * HOUR));
    assert_true(evc_agent_frozen(x, 0, &t, 0, NOW + 90 * HOUR));
    assert_false(evc_agent_frozen(NULL, 0, &t, 0, NOW));
    assert_int_equal(evc_agent_freeze_at(NULL, &t, 0), 0);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* Each leaf raises once; a raised alarm clears once; nothing else makes a line. */
static void
test_freeze_step(void **state)
{
    static const char a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    static const struct {
        const char *told, *leaf;
        int frozen;
        enum evc_agent_freeze_step want;
    } cases[] = {
        {"", a, 0, EVC_FREEZE_QUIET},        /* nothing told, nothing to tell */
        {"", a, 1, EVC_FREEZE_RAISE},        /* first alarm for a */
        {a, a, 1, EVC_FREEZE_STANDS},        /* again for a: no second line */
        {a, a, 0, EVC_FREEZE_CLEAR},         /* an SA came for a */
        {a, b, 0, EVC_FREEZE_CLEAR},         /* the server presents b */
        {a, b, 1, EVC_FREEZE_RAISE},         /* b is frozen too: its own alarm */
        {"cleared", a, 0, EVC_FREEZE_QUIET}, /* cleared once only */
        {"cleared", a, 1, EVC_FREEZE_RAISE}, /* frozen again after a clear */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(evc_agent_freeze_step(cases[i].told, cases[i].leaf, cases[i].frozen),
                         cases[i].want);
    }
}

/* Early until the last quarter of publication .. activate_at, warning in it, critical after. */
static void
test_wait_level(void **state)
{
    evc_time next = 1;

    (void)state;
    /* Published at NOW, the server switches 4 hours later: warning from 3 hours. */
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW, &next), EVC_WAIT_EARLY);
    assert_int_equal(next, NOW + 3 * HOUR);
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW + 3 * HOUR - 1, &next),
                     EVC_WAIT_EARLY);
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW + 3 * HOUR, &next),
                     EVC_WAIT_WARNING);
    assert_int_equal(next, NOW + 4 * HOUR);
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW + 4 * HOUR - 1, &next),
                     EVC_WAIT_WARNING);
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW + 4 * HOUR, &next),
                     EVC_WAIT_CRITICAL);
    assert_int_equal(next, 0);
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW + 400 * HOUR, &next),
                     EVC_WAIT_CRITICAL);
    /* Before publication (a clock behind): early. */
    assert_int_equal(evc_agent_wait_level(NOW, NOW + 4 * HOUR, NOW - HOUR, &next), EVC_WAIT_EARLY);
    /* No time between publication and the switch: a warning at once. */
    assert_int_equal(evc_agent_wait_level(NOW, NOW, NOW - 10, &next), EVC_WAIT_WARNING);
    assert_int_equal(next, NOW);
    assert_int_equal(evc_agent_wait_level(NOW + HOUR, NOW, NOW - 10, &next), EVC_WAIT_WARNING);
    /* The extremes of the time range do not wrap. */
    assert_int_equal(evc_agent_wait_level(-62135596800LL, 253402300799LL, 0, &next),
                     EVC_WAIT_EARLY);
}

/* --- one object at a time, exact caps ------------------------------------- */

/* The header of an object of total bytes (SEQUENCE, long form when needed). */
static size_t
header(uint8_t *h, size_t total)
{
    size_t len, k = 0;

    h[0] = 0x30;
    if (total - 2 < 0x80) {
        h[1] = (uint8_t)(total - 2);
        return 2;
    }
    for (k = 1; k <= 4; k++) {
        len = total - 2 - k;
        if (k == 4 || len < ((size_t)1 << (8 * k))) {
            break;
        }
    }
    h[1] = (uint8_t)(0x80 | k);
    for (size_t i = 0; i < k; i++) {
        h[2 + i] = (uint8_t)(len >> (8 * (k - 1 - i)));
    }
    return 2 + k;
}

static void
test_der_frame_caps(void **state)
{
    uint8_t h[8];
    struct evc_err err = {0};
    size_t total = 0, n;

    (void)state;
    /* 64 KiB means 65,536 bytes, header included, are allowed and 65,537 are not. */
    n = header(h, EVC_SA_MAX);
    assert_int_equal(n, 4);
    assert_int_equal(evc_der_frame(h, n, EVC_SA_MAX, &total, &err), 0);
    assert_int_equal(total, 65536);
    n = header(h, EVC_SA_MAX + 1);
    assert_int_equal(evc_der_frame(h, n, EVC_SA_MAX, &total, &err), EVC_ERR_LIMIT);
    assert_non_null(strstr(err.detail, "an object of 65537 bytes, over the 65536-byte cap"));
    assert_int_equal(total, 0);
    /* The largest lengths do not wrap the cap check. */
    {
        static const uint8_t huge[] = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff};

        assert_int_equal(evc_der_frame(huge, sizeof(huge), EVC_SA_MAX, &total, &err),
                         EVC_ERR_LIMIT);
        assert_int_equal(evc_der_frame(huge, sizeof(huge), SIZE_MAX, &total, &err), 0);
        assert_int_equal(total, 6 + (size_t)0xffffffff);
    }
    /* A 60,000-byte object is framed alone, whatever follows it. */
    n = header(h, 60000);
    assert_int_equal(evc_der_frame(h, n, EVC_SA_MAX, &total, &err), 0);
    assert_int_equal(total, 60000);
}

/* While the header is incomplete, *total says how many bytes to have: never more than it. */
static void
test_der_frame_need(void **state)
{
    static const uint8_t obj[] = {0x30, 0x82, 0x01, 0x00};
    static const uint8_t short_form[] = {0x30, 0x05};
    struct evc_err err = {0};
    size_t total = 99;

    (void)state;
    assert_int_equal(evc_der_frame(NULL, 0, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(total, 2);
    assert_int_equal(evc_der_frame(obj, 1, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(total, 2);
    assert_int_equal(evc_der_frame(obj, 2, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(total, 4);
    assert_int_equal(evc_der_frame(obj, 3, EVC_SA_MAX, &total, &err), 1);
    assert_int_equal(total, 4);
    assert_int_equal(evc_der_frame(obj, 4, EVC_SA_MAX, &total, &err), 0);
    assert_int_equal(total, 4 + 256);
    assert_int_equal(evc_der_frame(short_form, 2, EVC_SA_MAX, &total, &err), 0);
    assert_int_equal(total, 7);
    /* Three objects back to back: reading to each *total lands on each boundary. */
    {
        uint8_t stream[3 * 300];
        size_t off = 0, objs = 0;

        memset(stream, 0, sizeof(stream));
        for (int i = 0; i < 3; i++) {
            (void)header(stream + i * 300, 300);
        }
        while (off < sizeof(stream)) {
            size_t have = 0;

            /* Feed byte by byte as a reader would, up to what the framer asks. */
            while (evc_der_frame(stream + off, have, EVC_SA_MAX, &total, &err) == 1) {
                assert_true(total > have);
                have = total;
            }
            assert_int_equal(total, 300);
            off += total;
            objs++;
        }
        assert_int_equal(objs, 3);
    }
}

/* The rejection log: first BURST lines of a window, then one count when it is over. */
static void
test_ratelimit(void **state)
{
    struct evc_ratelimit rl;
    unsigned held = 9, repeats = 9, out = 0;
    int64_t due = 0, t = 1000000, win = 60000;

    (void)state;
    memset(&rl, 0, sizeof(rl));
    assert_int_equal(evc_ratelimit_flush(&rl, t, win, 0, &held, &repeats, &due), 0);
    assert_int_equal(due, 0);
    for (int i = 0; i < 2000; i++) {
        out += (unsigned)evc_ratelimit_take(&rl, t + i, 5, win, &held, &repeats);
        assert_int_equal(held, 0);
        evc_ratelimit_note(&rl, t + i);
    }
    assert_int_equal(out, 5);
    /* Not over yet: nothing to tell, and when to ask again. */
    assert_int_equal(evc_ratelimit_flush(&rl, t + 59999, win, 0, &held, &repeats, &due), 0);
    assert_int_equal(due, t + win);
    assert_int_equal(evc_ratelimit_flush(&rl, t + win, win, 0, &held, &repeats, &due), 1);
    assert_int_equal(held, 1995);
    assert_int_equal(repeats, 2000);
    assert_int_equal(due, 0);
    assert_int_equal(evc_ratelimit_flush(&rl, t + win + 1, win, 0, &held, &repeats, &due), 0);
    /* The next window: its first line goes out after the count of the one before. */
    assert_int_equal(evc_ratelimit_take(&rl, t + 2 * win, 5, win, &held, &repeats), 1);
    assert_int_equal(held, 0);
    for (int i = 0; i < 6; i++) {
        (void)evc_ratelimit_take(&rl, t + 2 * win, 5, win, &held, &repeats);
    }
    assert_int_equal(evc_ratelimit_take(&rl, t + 3 * win, 5, win, &held, &repeats), 1);
    assert_int_equal(held, 2);
    assert_int_equal(repeats, 0);
    /* A stop tells what is held at once. */
    for (int i = 0; i < 7; i++) {
        (void)evc_ratelimit_take(&rl, t + 3 * win + 1, 5, win, &held, &repeats);
    }
    assert_int_equal(evc_ratelimit_flush(&rl, t + 3 * win + 2, win, 1, &held, &repeats, &due), 1);
    assert_int_equal(held, 3);
    /* Nothing held: a window that ends says nothing. */
    assert_int_equal(evc_ratelimit_take(&rl, t + 5 * win, 5, win, &held, &repeats), 1);
    assert_int_equal(evc_ratelimit_flush(&rl, t + 5 * win, win, 0, &held, &repeats, &due), 0);
    assert_int_equal(due, 0);
    assert_int_equal(evc_ratelimit_flush(&rl, t + 7 * win, win, 0, &held, &repeats, &due), 0);
}

/* Refused rows kept: the newest that fit both caps, a prefix, nothing after the first miss. */
static void
test_keep(void **state)
{
    struct evc_keep k = {3, 1000, 0, 0, 0};
    struct evc_keep b = {EVC_AGENT_REFUSED_MAX, EVC_AGENT_REFUSED_BYTES_MAX, 0, 0, 0};
    size_t kept = 0;

    (void)state;
    assert_int_equal(evc_keep_next(&k, 400), 1);
    assert_int_equal(evc_keep_next(&k, 600), 1); /* exactly at the byte cap */
    assert_int_equal(evc_keep_next(&k, 1), 0);
    assert_int_equal(evc_keep_next(&k, 0), 0); /* older ones go too, even if they would fit */
    k = (struct evc_keep){3, 1000, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        kept += (size_t)evc_keep_next(&k, 10);
    }
    assert_int_equal(kept, 3); /* the row cap */
    k = (struct evc_keep){3, 1000, 0, 0, 0};
    assert_int_equal(evc_keep_next(&k, SIZE_MAX), 0); /* no wrap */
    /* The caps hold the largest SA, and are what the state is bounded by. */
    assert_int_equal(evc_keep_next(&b, EVC_SA_MAX), 1);
    assert_true(EVC_AGENT_REFUSED_BYTES_MAX >= EVC_SA_MAX);
    kept = 1;
    while (evc_keep_next(&b, 3000)) {
        kept++;
    }
    assert_int_equal(kept, EVC_AGENT_REFUSED_MAX);
}

/* --- the refused rows in a real state database ------------------------------ */

static int
count_refused(void *arg, const struct evc_agent_sa *a)
{
    size_t *n = arg;

    assert_int_equal(a->status, EVC_SA_STATUS_REFUSED);
    n[0]++;
    n[1] += a->der.len;
    if (a->first_seen < (evc_time)n[2]) {
        n[2] = (size_t)a->first_seen; /* the oldest kept */
    }
    return 0;
}

static void
test_refused_bounded(void **state)
{
    char dir[] = "/tmp/evc-agent-test-XXXXXX", path[64];
    uint8_t der[3000];
    struct evc_state *st = NULL;
    struct evc_err err = {0};
    int64_t id = 0, first_id = 0;
    int is_new = 0;
    size_t n[3];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.db", dir);
    assert_int_equal(evc_state_open(path, 0, &st, &err), 0);
    memset(der, 0x30, sizeof(der));
    for (int i = 0; i < 100; i++) {
        char hex[65];
        struct evc_agent_refusal rf = {.server = "web",
                                       .sha256hex = hex,
                                       .der = der,
                                       .len = sizeof(der),
                                       .source = "push",
                                       .now = NOW + i,
                                       .reason = "bad-signature",
                                       .max_rows = 10,
                                       .max_bytes = 100000};

        snprintf(hex, sizeof(hex), "%064d", i);
        assert_int_equal(evc_state_agent_refused(st, &rf, &id, &is_new, &err), 0);
        assert_true(is_new);
        /* The same bytes again: the same row, nothing stored. */
        rf.now = NOW + i;
        assert_int_equal(evc_state_agent_refused(st, &rf, &first_id, &is_new, &err), 0);
        assert_false(is_new);
        assert_int_equal(first_id, id);
    }
    /* The newest 10 are kept, the 90 before them dropped. */
    n[0] = n[1] = 0;
    n[2] = (size_t)(NOW + 1000);
    assert_int_equal(
        evc_state_agent_sa_each(st, "web", EVC_SA_STATUS_REFUSED, count_refused, n, &err), 0);
    assert_int_equal(n[0], 10);
    assert_int_equal(n[2], (size_t)(NOW + 90));
    /* The byte cap, when it is the tighter: 31 KB holds 10 of 3,000 bytes, so 5 KB holds 1. */
    {
        char hex[65] = "";
        struct evc_agent_refusal rf = {.server = "web",
                                       .sha256hex = hex,
                                       .der = der,
                                       .len = sizeof(der),
                                       .source = "push",
                                       .now = NOW + 500,
                                       .reason = "malformed",
                                       .max_rows = 10,
                                       .max_bytes = 5000};

        snprintf(hex, sizeof(hex), "%064d", 1000);
        assert_int_equal(evc_state_agent_refused(st, &rf, &id, &is_new, &err), 0);
        n[0] = n[1] = 0;
        n[2] = (size_t)(NOW + 1000);
        assert_int_equal(
            evc_state_agent_sa_each(st, "web", EVC_SA_STATUS_REFUSED, count_refused, n, &err), 0);
        assert_int_equal(n[0], 1);
        assert_true(n[1] <= 5000);
        assert_int_equal(n[2], (size_t)(NOW + 500));
    }
    /* Another server's rows are not touched. */
    n[0] = n[1] = 0;
    assert_int_equal(
        evc_state_agent_sa_each(st, "other", EVC_SA_STATUS_REFUSED, count_refused, n, &err), 0);
    assert_int_equal(n[0], 0);
    evc_state_close(st);
    unlink(path);
    rmdir(dir);
}

/* --- an SA's status: one table of names, the words agent.db has always held -- */

static void
test_sa_status_names(void **state)
{
    /* The stored words, spelled here once more on purpose: a respelled table fails this. */
    static const struct {
        enum evc_sa_status s;
        const char *name;
    } stored[] = {
        {EVC_SA_STATUS_PENDING, "pending"},       {EVC_SA_STATUS_HOLDING, "holding"},
        {EVC_SA_STATUS_APPLYING, "applying"},     {EVC_SA_STATUS_APPLIED, "applied"},
        {EVC_SA_STATUS_REFUSED, "refused"},       {EVC_SA_STATUS_REJECTED, "rejected"},
        {EVC_SA_STATUS_SUPERSEDED, "superseded"},
    };
    static const char *const bad[] = {"",         "Pending", "pending ", " pending", "applie",
                                      "appliedx", "unknown", "any",      "refused\n"};
    enum evc_sa_status s;

    (void)state;
    for (size_t k = 0; k < sizeof(stored) / sizeof(stored[0]); k++) {
        assert_string_equal(evc_sa_status_name(stored[k].s), stored[k].name);
        s = EVC_SA_STATUS_ANY;
        assert_int_equal(evc_sa_status_parse(stored[k].name, &s), 0);
        assert_int_equal(s, stored[k].s);
    }
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        s = EVC_SA_STATUS_APPLIED;
        assert_int_equal(evc_sa_status_parse(bad[k], &s), EVC_ERR_PARSE);
        assert_int_equal(s, EVC_SA_STATUS_APPLIED); /* untouched */
    }
    assert_int_equal(evc_sa_status_parse(NULL, &s), EVC_ERR_PARSE);
    assert_string_equal(evc_sa_status_name(EVC_SA_STATUS_ANY), "unknown");
    assert_string_equal(evc_sa_status_name((enum evc_sa_status)(EVC_SA_STATUS_SUPERSEDED + 1)),
                        "unknown");
}

static int
note_status(void *arg, const struct evc_agent_sa *a)
{
    enum evc_sa_status *out = arg;

    *out = a->status;
    return 0;
}

/* A raw row as an older evercert (or another program) left it. */
static void
raw_row(const char *path, const char *sha, const char *status)
{
    sqlite3 *db = NULL;
    char sql[400];

    snprintf(sql, sizeof(sql),
             "INSERT INTO agent_sas(server, sha256, generation, der, source, first_seen,"
             " last_seen, status) VALUES('web', '%s', 3, x'3000', 'push', 1, 1, '%s')",
             sha, status);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* What is in agent.db: the words as before, read back the same; an unknown one is an error naming
 * it. */
static void
test_sa_status_stored(void **state)
{
    char dir[] = "/tmp/evc-agent-test-XXXXXX", path[64];
    static const uint8_t der[] = {0x30, 0x00};
    struct evc_state *st = NULL;
    struct evc_err err = {0};
    struct evc_agent_sa row;
    enum evc_sa_status seen = EVC_SA_STATUS_ANY;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int is_new = 0;

    (void)state;
    memset(&row, 0, sizeof(row));
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.db", dir);
    assert_int_equal(evc_state_open(path, 0, &st, &err), 0);
    /* Written through the enum: the database holds the word. */
    assert_int_equal(evc_state_agent_sa_seen(st, "web", "aa", 2, der, sizeof(der), "push", NOW,
                                             EVC_SA_STATUS_HOLDING, &row, &is_new, &err),
                     0);
    assert_true(is_new);
    assert_int_equal(row.status, EVC_SA_STATUS_HOLDING);
    assert_int_equal(
        evc_state_agent_sa_status(st, row.id, EVC_SA_STATUS_SUPERSEDED, "conflict", &err), 0);
    evc_agent_sa_clear(&row);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT status FROM agent_sas WHERE sha256 = 'aa'", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "superseded");
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* A row an earlier release wrote reads as its status, and the filter finds it. */
    raw_row(path, "bb", "pending");
    assert_int_equal(
        evc_state_agent_sa_each(st, "web", EVC_SA_STATUS_PENDING, note_status, &seen, &err), 0);
    assert_int_equal(seen, EVC_SA_STATUS_PENDING);
    /* A word no release wrote: an error that names it, never a guess. */
    raw_row(path, "cc", "approved");
    assert_int_equal(
        evc_state_agent_sa_each(st, "web", EVC_SA_STATUS_ANY, note_status, &seen, &err),
        EVC_ERR_PARSE);
    assert_non_null(strstr(evc_err_message(&err), "unknown status \"approved\""));
    assert_non_null(strstr(evc_err_message(&err), path));
    err.code = 0;
    assert_int_equal(evc_state_agent_sa_get(st, 3, &row, &err), EVC_ERR_PARSE);
    assert_non_null(strstr(evc_err_message(&err), "announcement 3"));
    evc_agent_sa_clear(&row);
    evc_state_close(st);
    unlink(path);
    rmdir(dir);
}

static int
count_events(void *arg, const struct evc_agent_event *e)
{
    size_t *n = arg;

    if (strcmp(e->server, "web") == 0 && strcmp(e->event, "reject") == 0) {
        n[strcmp(e->reason, "person") == 0 ? 1 : 0]++;
    }
    return 0;
}

/* A rule's rejection events are kept up to the cap per server; a person's are all kept. */
static void
test_reject_events_bounded(void **state)
{
    char dir[] = "/tmp/evc-agent-test-XXXXXX", path[64];
    struct evc_state *st = NULL;
    struct evc_err err = {0};
    size_t n[2] = {0, 0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.db", dir);
    assert_int_equal(evc_state_open(path, 0, &st, &err), 0);
    for (int i = 0; i < EVC_AGENT_REJECT_EVENTS_MAX + 50; i++) {
        struct evc_agent_event e = {NOW + i, "web", "reject", i == 0 ? "person" : "bad-signature",
                                    i + 1,   1,     "push",   NULL};

        assert_int_equal(evc_state_agent_event(st, &e, &err), 0);
    }
    assert_int_equal(evc_state_agent_events(st, count_events, n, &err), 0);
    assert_int_equal(n[0], EVC_AGENT_REJECT_EVENTS_MAX);
    assert_int_equal(n[1], 1);
    evc_state_close(st);
    unlink(path);
    rmdir(dir);
}

/* The name given to servers: as configured, none, or the host name cut to the clientId set. */
static void
test_client_id(void **state)
{
    static const struct {
        const char *configured, *host, *want;
    } cases[] = {
        {NULL, "web-01.example.test", "web-01.example.test"},
        {NULL, "my host!name", "myhostname"},             /* others left out */
        {NULL, "\xc3\xa9t\xc3\xa9", "t"},                 /* bytes of UTF-8 too */
        {NULL, "", ""},                                   /* no host name: none */
        {NULL, "!!!", ""},                                /* nothing left: none */
        {"none", "host", ""},                             /* none: none */
        {"agent-7@site:a_b", "host", "agent-7@site:a_b"}, /* as configured */
        {"bad id", "host", ""},                           /* never a bad ack */
        {"", "host", ""},
    };
    char out[EVC_ACK_ID_MAX + 1], host[200];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(out, 'x', sizeof(out));
        evc_agent_client_id(cases[i].configured, cases[i].host, out);
        assert_string_equal(out, cases[i].want);
    }
    /* Cut to 64 bytes; 65 configured are refused (the configuration's check says so first). */
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    evc_agent_client_id(NULL, host, out);
    assert_int_equal(strlen(out), EVC_ACK_ID_MAX);
    host[EVC_ACK_ID_MAX] = '\0';
    evc_agent_client_id(host, "x", out);
    assert_string_equal(out, host);
    host[EVC_ACK_ID_MAX] = 'h';
    host[EVC_ACK_ID_MAX + 1] = '\0';
    evc_agent_client_id(host, "x", out);
    assert_string_equal(out, "");
}

/* The URL fetch's query: after the URL's own, before a fragment, held always, client when named. */
static void
test_url_held(void **state)
{
    static const struct {
        const char *url, *id;
        uint64_t held;
        const char *want;
    } cases[] = {
        {"https://h/.well-known/evercert/successor", "a-1", 5,
         "https://h/.well-known/evercert/successor?held=5&client=a-1"},
        {"https://h/.well-known/evercert/successor", "", 0,
         "https://h/.well-known/evercert/successor?held=0"},
        {"https://h/p?x=1", "c", 7, "https://h/p?x=1&held=7&client=c"},
        {"https://h/p?", "c", 7, "https://h/p?held=7&client=c"},
        {"https://h/p?x=1&", "", 7, "https://h/p?x=1&held=7"},
        {"https://h/p#frag", "c", 1, "https://h/p?held=1&client=c#frag"},
        {"https://h/p?a#f?g", "", 2, "https://h/p?a&held=2#f?g"},
        {"https://h/p", "", UINT64_MAX, "https://h/p?held=18446744073709551615"},
    };
    char out[200];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            evc_agent_url_held(cases[i].url, cases[i].held, cases[i].id, out, sizeof(out)), 0);
        assert_string_equal(out, cases[i].want);
    }
    /* Exactly the room it needs, and one byte less. */
    assert_int_equal(evc_agent_url_held("https://h/p", 12, "ab", out, 30), 0);
    assert_string_equal(out, "https://h/p?held=12&client=ab");
    assert_int_equal(evc_agent_url_held("https://h/p", 12, "ab", out, 29), EVC_ERR_LIMIT);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_der_frame),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_trust_plan),
        cmocka_unit_test(test_trust_plan_pinned_anchors),
        cmocka_unit_test(test_trust_plan_ca_anchors),
        cmocka_unit_test(test_frozen),
        cmocka_unit_test(test_freeze_step),
        cmocka_unit_test(test_wait_level),
        /* Hostile peers: exact caps, one object at a time, bounded state and log. */
        cmocka_unit_test(test_der_frame_caps),
        cmocka_unit_test(test_der_frame_need),
        cmocka_unit_test(test_der_element_head),
        cmocka_unit_test(test_runtime_pure),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_refused_bounded),
        cmocka_unit_test(test_reject_events_bounded),
        cmocka_unit_test(test_sa_status_names),
        cmocka_unit_test(test_sa_status_stored),
        /* What the agent tells its servers it holds. */
        cmocka_unit_test(test_client_id),
        cmocka_unit_test(test_url_held),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
