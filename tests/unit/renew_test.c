/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The renewal run's pure parts, on stores made in memory: the facts for
 * the planner (kind, root, orphan, staged successor, signers in trust
 * stores and when an old one may leave) and the report rows (when each
 * certificate is replaced, and by what).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ca/renew_int.h"
#include "testcert.h"

#define DAY ((int64_t)86400)
#define NOW ((evc_time)1800000000)

struct fixture {
    struct run *run;
    struct evc_renew_opts o;
    struct evc_policy policy;
    struct evc_renew_result res;
    struct evc_store_conf conf[8];
    EVP_PKEY *k1, *k2, *k3;
};

static struct fixture *
fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_non_null(f->run = calloc(1, sizeof(*f->run)));
    evc_thresholds_default(&f->policy.thresholds);
    f->policy.auto_replace = 1;
    f->policy.delete_old = 1;
    f->o.policy = &f->policy;
    f->o.now = NOW;
    f->o.dry_run = 1;
    f->run->o = &f->o;
    f->run->policy = &f->policy;
    f->run->res = &f->res;
    for (size_t i = 0; i < 8; i++) {
        static char names[8][8];

        snprintf(names[i], sizeof(names[i]), "s%zu", i);
        f->conf[i].name = names[i];
    }
    f->k1 = tc_key("ec:P-256");
    f->k2 = tc_key("ec:P-256");
    f->k3 = tc_key("ec:P-256");
    return f;
}

static void
fixture_free(struct fixture *f)
{
    evc_renew_unload(f->run);
    evc_renew_result_clear(&f->res);
    EVP_PKEY_free(f->k1);
    EVP_PKEY_free(f->k2);
    EVP_PKEY_free(f->k3);
    free(f->run);
    free(f);
}

static X509 *
ca(EVP_PKEY *key, const char *subject, evc_time nb, evc_time na)
{
    struct tc_spec s = {key, NULL, NULL, subject, 0, 1, NULL, nb, na, 0, TC_ODD_NONE};

    return tc_cert(&s);
}

/* A server certificate; issuer NULL: self-signed with key. */
static X509 *
server(EVP_PKEY *key, X509 *issuer, EVP_PKEY *signer, const char *subject, evc_time nb, evc_time na)
{
    struct tc_spec s = {key,     signer,     issuer != NULL ? X509_get_subject_name(issuer) : NULL,
                        subject, 0,          0,
                        "DNS:x", nb,         na,
                        0,       TC_ODD_NONE};

    return tc_cert(&s);
}

static void
add_root(struct fixture *f, size_t conf, X509 *cert, EVP_PKEY *key)
{
    struct root_st *rs = &f->run->roots[f->run->nroots++];

    f->conf[conf].role = EVC_ROLE_ROOT;
    rs->conf = &f->conf[conf];
    if (cert == NULL) {
        rs->empty = 1;
        return;
    }
    rs->cert = cert;
    EVP_PKEY_up_ref(key);
    rs->key = key;
}

static struct personal_st *
add_personal(struct fixture *f, size_t conf, X509 *leaf_cert, EVP_PKEY *key)
{
    struct personal_st *p = &f->run->pers[f->run->npers++];

    f->conf[conf].role = EVC_ROLE_PERSONAL;
    p->conf = &f->conf[conf];
    p->root = -1;
    assert_non_null(p->chain = sk_X509_new_null());
    assert_true(sk_X509_push(p->chain, leaf_cert) > 0);
    EVP_PKEY_up_ref(key);
    p->key = key;
    return p;
}

/* A trust store holding the certificates (references taken). */
static void
add_trust(struct fixture *f, size_t conf, X509 *const *certs, size_t n)
{
    struct trust_st *ts = &f->run->trusts[f->run->ntrusts++];

    f->conf[conf].role = EVC_ROLE_TRUST;
    ts->conf = &f->conf[conf];
    assert_non_null(ts->t = calloc(1, sizeof(*ts->t)));
    assert_non_null(ts->t->certs = calloc(n + 1, sizeof(*ts->t->certs)));
    for (size_t i = 0; i < n; i++) {
        X509_up_ref(certs[i]);
        ts->t->certs[i].x = certs[i];
        ts->t->certs[i].linked = 1;
        assert_int_equal(evc_x509_sha256(certs[i], ts->t->certs[i].sha256), 0);
    }
    ts->t->n = n;
}

static const struct evc_renew_cert *
row(const struct fixture *f, const char *store)
{
    for (size_t i = 0; i < f->res.ncerts; i++) {
        if (strcmp(f->res.certs[i].store, store) == 0) {
            return &f->res.certs[i];
        }
    }
    fail_msg("no row for %s", store);
    return NULL;
}

/*
 * A root, what it signed, a self-signed pin, an outside certificate, and a
 * trust store with the root, an older version of it and the pin.
 */
static void
test_kinds(void **state)
{
    struct fixture *f = fixture_new();
    struct evc_err err = {0};
    EVP_PKEY *outside = tc_key("ec:P-256");
    X509 *root = ca(f->k1, "/CN=R", NOW - 100 * DAY, NOW + 3000 * DAY);
    X509 *old = ca(f->k2, "/CN=R", NOW - 4000 * DAY, NOW + 10 * DAY);
    X509 *stranger = ca(outside, "/CN=Elsewhere", NOW - DAY, NOW + 100 * DAY);
    X509 *pin = server(f->k3, NULL, NULL, "/CN=pin", NOW - 10 * DAY, NOW + 20 * DAY);
    X509 *trusted[3];

    (void)state;
    add_root(f, 0, root, f->k1);
    add_personal(f, 1, server(f->k3, root, f->k1, "/CN=web", NOW - DAY, NOW + 89 * DAY), f->k3);
    add_personal(f, 2, pin, f->k3);
    add_personal(f, 3, server(f->k3, stranger, outside, "/CN=ext", NOW - DAY, NOW + 89 * DAY),
                 f->k3);
    trusted[0] = root;
    trusted[1] = old;
    trusted[2] = pin;
    add_trust(f, 4, trusted, 3);
    assert_int_equal(evc_renew_facts(f->run, &err), 0);

    assert_int_equal(f->run->fpers[0].kind, EVC_KIND_CHAINED);
    assert_int_equal(f->run->fpers[0].root, 0);
    assert_true(f->run->fpers[0].signed_by_root);
    assert_false(f->run->fpers[0].orphan);
    assert_int_equal(f->run->fpers[1].kind, EVC_KIND_SELF_SIGNED);
    assert_int_equal(f->run->fpers[1].root, -1);
    assert_int_equal(f->run->fpers[2].kind, EVC_KIND_EXTERNAL);
    assert_int_equal(f->run->fpers[2].root, -1);
    assert_int_equal(f->run->froots[0].not_after, NOW + 3000 * DAY);
    assert_false(f->run->froots[0].empty);

    /* The root's fact holds the newest; the old version is a signer to retire at its end. */
    assert_int_equal(f->run->nftrusts, 2);
    assert_int_equal(f->run->ftrusts[0].root, 0);
    assert_true(f->run->ftrusts[0].has_newest);
    assert_int_equal(f->run->ftrusts[1].personal, 1);
    assert_true(f->run->ftrusts[1].has_newest);
    assert_int_equal(f->run->nfsigners, 1);
    assert_int_equal(f->run->fsigners[0].root, 0);
    assert_false(f->run->fsigners[0].newest);
    assert_int_equal(f->run->fsigners[0].retire_at, NOW + 10 * DAY);

    /* Rows: each certificate once, with what happens to it and when. */
    assert_int_equal(evc_renew_rows(f->run), 0);
    assert_int_equal(f->res.ncerts, 4 + 3);
    assert_string_equal(row(f, "s0")->plan, "renew");
    assert_int_equal(row(f, "s0")->kind, EVC_KIND_ROOT);
    assert_int_equal(row(f, "s0")->renew_at,
                     evc_renew_moment(NOW - 100 * DAY, NOW + 3000 * DAY, &f->policy.thresholds));
    assert_string_equal(row(f, "s1")->plan, "renew");
    assert_int_equal(row(f, "s1")->renew_at,
                     evc_renew_moment(NOW - DAY, NOW + 89 * DAY, &f->policy.thresholds));
    assert_int_equal(row(f, "s2")->kind, EVC_KIND_SELF_SIGNED);
    assert_string_equal(row(f, "s3")->plan, "external");
    assert_int_equal(row(f, "s3")->renew_at, 0);
    assert_string_equal(row(f, "s4")->plan, "signer");
    assert_int_equal(row(f, "s4")->role, EVC_ROLE_TRUST);

    X509_free(old);
    X509_free(stranger);
    EVP_PKEY_free(outside);
    fixture_free(f);
}

/*
 * A certificate from one of our CAs whose key no root store holds is an
 * orphan: renewed under a default root in the empty root store, which the
 * trust store holding its old CA must get.
 */
static void
test_orphan(void **state)
{
    struct fixture *f = fixture_new();
    struct evc_err err = {0};
    X509 *lost = ca(f->k1, "/CN=Lost", NOW - 100 * DAY, NOW + 1000 * DAY);

    (void)state;
    add_root(f, 0, NULL, NULL);
    add_personal(f, 1, server(f->k3, lost, f->k1, "/CN=web", NOW - DAY, NOW + 89 * DAY), f->k3);
    add_trust(f, 2, &lost, 1);
    assert_int_equal(evc_renew_facts(f->run, &err), 0);
    assert_true(f->run->froots[0].empty);
    assert_int_equal(f->run->fpers[0].kind, EVC_KIND_CHAINED);
    assert_true(f->run->fpers[0].orphan);
    assert_int_equal(f->run->fpers[0].root, 0);
    assert_false(f->run->fpers[0].signed_by_root);
    assert_int_equal(f->run->nftrusts, 1);
    assert_int_equal(f->run->ftrusts[0].trust, 0);
    assert_int_equal(f->run->ftrusts[0].root, 0);
    assert_int_equal(f->run->ftrusts[0].personal, -1);
    assert_false(f->run->ftrusts[0].has_newest);

    /* Without a root store to renew it in, it stays an outside certificate. */
    f->run->nroots = 0;
    free(f->run->ftrusts);
    f->run->ftrusts = NULL;
    f->run->nftrusts = 0;
    memset(f->run->fpers, 0, sizeof(f->run->fpers[0]));
    assert_int_equal(evc_renew_facts(f->run, &err), 0);
    assert_int_equal(f->run->fpers[0].kind, EVC_KIND_EXTERNAL);
    assert_false(f->run->fpers[0].orphan);
    f->run->nroots = 1;
    X509_free(lost);
    fixture_free(f);
}

/*
 * A staged successor: the facts say whether it can go live, and the row
 * says when (its activate_at), or that it is made again now (stale). An
 * old root in a trust store may leave when the last thing it signed ends.
 */
static void
test_staged(void **state)
{
    struct fixture *f = fixture_new();
    struct evc_err err = {0};
    X509 *root = ca(f->k1, "/CN=R", NOW - 100 * DAY, NOW + 3000 * DAY);
    X509 *old = ca(f->k2, "/CN=R", NOW - 4000 * DAY, NOW + 400 * DAY);
    X509 *leaf_cert = server(f->k3, old, f->k2, "/CN=web", NOW - 80 * DAY, NOW + 10 * DAY);
    X509 *trusted[2] = {root, old};
    struct personal_st *p;

    (void)state;
    add_root(f, 0, root, f->k1);
    p = add_personal(f, 1, leaf_cert, f->k3);
    assert_non_null(p->next = sk_X509_new_null());
    assert_true(sk_X509_push(p->next,
                             server(f->k3, root, f->k1, "/CN=web", NOW - DAY, NOW + 89 * DAY)) > 0);
    p->activate_at = NOW + 2 * DAY;
    add_trust(f, 2, trusted, 2);
    assert_int_equal(evc_renew_facts(f->run, &err), 0);
    assert_int_equal(f->run->fpers[0].kind, EVC_KIND_CHAINED);
    assert_false(f->run->fpers[0].signed_by_root); /* the old root signed the live one */
    assert_true(f->run->fpers[0].staged);
    assert_true(f->run->fpers[0].staged_by_root);
    assert_false(f->run->fpers[0].staged_is_live);
    assert_int_equal(f->run->fpers[0].activate_at, NOW + 2 * DAY);
    assert_int_equal(f->run->fpers[0].staged_not_after, NOW + 89 * DAY);
    /* The old root may leave when the live certificate it signed ends, not at its own end. */
    assert_int_equal(f->run->nfsigners, 1);
    assert_int_equal(f->run->fsigners[0].retire_at, NOW + 10 * DAY);
    assert_ptr_equal(evc_renew_newest_signer(f->run, &f->run->ftrusts[0]), root);
    assert_int_equal(evc_renew_rows(f->run), 0);
    assert_string_equal(row(f, "s1")->plan, "activate");
    assert_int_equal(row(f, "s1")->renew_at, NOW + 2 * DAY);

    /* Debris beside it: the row says it is made again now. */
    snprintf(p->debris, sizeof(p->debris), "web.key.next without web.crt.next");
    free(f->run->ftrusts);
    free(f->run->fsigners);
    f->run->ftrusts = NULL;
    f->run->fsigners = NULL;
    f->run->nftrusts = f->run->nfsigners = 0;
    evc_renew_result_clear(&f->res);
    assert_int_equal(evc_renew_facts(f->run, &err), 0);
    assert_true(f->run->fpers[0].debris);
    assert_int_equal(evc_renew_rows(f->run), 0);
    assert_string_equal(row(f, "s1")->plan, "renew");
    assert_int_equal(row(f, "s1")->renew_at, NOW);
    X509_free(old);
    fixture_free(f);
}

/* A run needs a policy, and one that writes needs the file it locks so runs never overlap. */
static void
test_opts(void **state)
{
    struct evc_policy p;
    struct evc_renew_opts o;
    struct evc_renew_result res;
    struct evc_err err = {0};

    (void)state;
    memset(&p, 0, sizeof(p));
    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    evc_thresholds_default(&p.thresholds);
    o.now = NOW;
    assert_int_equal(evc_renew_run(&o, &res, &err), EVC_ERR_USAGE);
    o.policy = &p;
    assert_int_equal(evc_renew_run(&o, &res, &err), EVC_ERR_USAGE);
    assert_non_null(strstr(evc_err_message(&err), "needs a file to lock"));
    o.dry_run = 1;
    assert_int_equal(evc_renew_run(&o, &res, &err), 0);
    assert_int_equal(res.nactions, 0);
    evc_renew_result_clear(&res);
}

/* What the readiness callback of the tests answers, and what it was asked. */
struct answer {
    int r;
    struct evc_readiness out;
    int calls;
    const struct evc_store_conf *store;
    uint64_t generation;
    evc_time now;
};

static int
answer_cb(void *arg, const struct evc_store_conf *store, uint64_t generation, evc_time now,
          struct evc_readiness *out)
{
    struct answer *a = arg;

    a->calls++;
    a->store = store;
    a->generation = generation;
    a->now = now;
    *out = a->out;
    return a->r;
}

/* Ask once more, as a new run would, with the facts made again. */
static void
ask(struct fixture *f)
{
    struct evc_err err = {0};

    f->run->pers[0].ready_asked = 0;
    assert_int_equal(evc_renew_facts(f->run, &err), 0);
    evc_renew_ask_readiness(f->run);
}

/*
 * activate = ready: the callback is asked about the staged generation past
 * activate_at; ready means known and enough of the address groups; an
 * error, an unknown count or no callback at all is never ready; the
 * wait's report line carries the counts, the deadline and who is not ready.
 */
static void
test_readiness(void **state)
{
    struct fixture *f = fixture_new();
    X509 *leaf_cert = server(f->k1, NULL, f->k1, "/CN=web", NOW - 80 * DAY, NOW + 20 * DAY);
    struct personal_st *p;
    struct answer a;
    struct evc_action act = {EVC_ACT_WAIT, 0, EVC_REASON_NOT_READY, EVC_STALE_NONE};
    struct evc_renew_action v;

    (void)state;
    memset(&a, 0, sizeof(a));
    f->policy.activate = EVC_ACTIVATE_READY;
    f->policy.ready_share = 50;
    f->policy.margin.unit = EVC_SPAN_PERCENT;
    f->policy.margin.value = 10;
    f->o.readiness = answer_cb;
    f->o.readiness_arg = &a;
    p = add_personal(f, 1, leaf_cert, f->k1);
    assert_non_null(p->next = sk_X509_new_null());
    assert_true(sk_X509_push(p->next,
                             server(f->k2, NULL, f->k2, "/CN=web", NOW - DAY, NOW + 89 * DAY)) > 0);
    p->generation = 5;
    p->activate_at = NOW + DAY;
    /* Before activate_at nobody is asked. */
    ask(f);
    assert_int_equal(a.calls, 0);
    assert_false(f->run->fpers[0].ready);
    /* The SA had no activateBy: the policy's, 10% of 100 days before the end. */
    assert_int_equal(f->run->fpers[0].activate_by, NOW + 10 * DAY);
    p->activate_at = NOW - DAY;
    a.out.known = 1;
    a.out.complete = 1;
    a.out.clients = 4;
    a.out.ready = 2;
    ask(f);
    assert_int_equal(a.calls, 1);
    assert_ptr_equal(a.store, &f->conf[1]);
    assert_int_equal(a.generation, 5);
    assert_int_equal(a.now, NOW);
    assert_true(f->run->fpers[0].ready);
    /* One of four is not half. */
    a.out.ready = 1;
    snprintf(a.out.unready, sizeof(a.out.unready), "192.0.2.7 agent-7 4");
    ask(f);
    assert_false(f->run->fpers[0].ready);
    memset(&v, 0, sizeof(v));
    evc_renew_wait(f->run, &act, &v);
    assert_int_equal(v.activate_at, NOW - DAY);
    assert_int_equal(v.activate_by, NOW + 10 * DAY);
    assert_true(v.ready_known);
    assert_int_equal(v.clients, 4);
    assert_int_equal(v.ready, 1);
    assert_string_equal(v.unready, "192.0.2.7 agent-7 4");
    assert_string_equal(v.detail, "1 of 4 clients hold generation 5 (50% needed); live by "
                                  "2027-01-25T08:00:00Z at the latest");
    assert_true(v.has_old && v.has_new);
    /* Nobody seen in the window: nobody to wait for. */
    a.out.clients = 0;
    a.out.ready = 0;
    ask(f);
    assert_true(f->run->fpers[0].ready);
    /* A count that may miss a client (not a whole window) is never ready, nobody or everybody. */
    a.out.complete = 0;
    snprintf(a.out.error, sizeof(a.out.error), "the access log x reaches back only to T");
    ask(f);
    assert_false(f->run->fpers[0].ready);
    a.out.clients = a.out.ready = 3;
    ask(f);
    assert_false(f->run->fpers[0].ready);
    memset(&v, 0, sizeof(v));
    evc_renew_wait(f->run, &act, &v);
    assert_non_null(strstr(v.detail, "3 of 3 clients hold generation 5, a count that may miss "
                                     "some: the access log x reaches back only to T"));
    a.out.complete = 1;
    a.out.error[0] = '\0';
    /* Unknown: said so, and never ready, even with figures that would be. */
    a.out.known = 0;
    a.out.clients = a.out.ready = 3;
    ask(f);
    assert_false(f->run->fpers[0].ready);
    assert_string_equal(p->ready.error, "they could not be counted");
    a.out.known = 1;
    a.r = EVC_ERR_IO;
    snprintf(a.out.error, sizeof(a.out.error), "127.0.0.1:9: connection refused");
    ask(f);
    assert_false(f->run->fpers[0].ready);
    memset(&v, 0, sizeof(v));
    evc_renew_wait(f->run, &act, &v);
    assert_false(v.ready_known);
    assert_string_equal(v.unready, "unknown");
    assert_non_null(strstr(v.detail, "clients not counted: 127.0.0.1:9: connection refused"));
    /* The callback's text is held to its buffers. */
    a.r = 0;
    memset(a.out.unready, 'x', sizeof(a.out.unready));
    memset(a.out.error, 'y', sizeof(a.out.error));
    ask(f);
    assert_int_equal(strlen(p->ready.unready), sizeof(p->ready.unready) - 1);
    /* At the deadline the activation names who was not ready. */
    a.out.ready = 1;
    a.out.clients = 4;
    snprintf(a.out.unready, sizeof(a.out.unready), "192.0.2.7 - 4");
    ask(f);
    act.type = EVC_ACT_ACTIVATE;
    act.reason = EVC_REASON_DEADLINE;
    memset(&v, 0, sizeof(v));
    snprintf(v.detail, sizeof(v.detail), "after_replace ran");
    evc_renew_readiness_note(f->run, &act, &v);
    assert_string_equal(v.detail, "deadline 2027-01-25T08:00:00Z reached; 1 of 4 clients hold "
                                  "generation 5 (50% needed); after_replace ran");
    assert_string_equal(v.unready, "192.0.2.7 - 4");
    /* Without a callback, or in a run that only plans, nothing is asked and nothing is ready. */
    f->o.readiness = NULL;
    ask(f);
    assert_false(f->run->fpers[0].ready);
    assert_string_equal(p->ready.error, "nothing counts them here");
    f->o.readiness = answer_cb;
    f->o.plan_only = 1;
    a.calls = 0;
    a.out.ready = 4;
    ask(f);
    assert_int_equal(a.calls, 0);
    assert_false(f->run->fpers[0].ready);
    /* activate = at asks nobody. */
    f->o.plan_only = 0;
    f->policy.activate = EVC_ACTIVATE_AT;
    ask(f);
    assert_int_equal(a.calls, 0);
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts),      cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_orphan),    cmocka_unit_test(test_staged),
        cmocka_unit_test(test_readiness),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
