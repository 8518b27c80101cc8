/* SPDX-License-Identifier: Apache-2.0 */
/* The demo's figures, from hand-made client records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "demo/demo.h"

#define A 0x1111111111111111ULL
#define B 0x2222222222222222ULL
#define C 0x3333333333333333ULL

static struct demo_session
rec(int client, double t, int ok, uint64_t leaf)
{
    struct demo_session s;

    memset(&s, 0, sizeof(s));
    s.client = (int16_t)client;
    s.t = t;
    s.ok = (uint8_t)ok;
    s.leaf = leaf;
    s.alert = -1;
    s.kind = DEMO_NEW;
    for (int i = 0; i < DEMO_STEPS; i++) {
        s.step_ms[i] = -1;
    }
    s.step_ms[DEMO_STEP_TCP] = 1;
    if (ok) {
        s.step_ms[DEMO_STEP_FINISHED] = 3;
    } else {
        s.step_ms[DEMO_STEP_ALERT] = 2;
        s.alert = 48;
    }
    return s;
}

/* The existing way: client 0 fails from 10 to 15 (recovers at 15.5), client 1 never recovers. */
static void
test_downtime(void **state)
{
    struct demo_session s[] = {
        rec(0, 9.5, 1, A),  rec(1, 9.7, 1, A),  rec(0, 10.0, 0, B), rec(1, 10.2, 0, B),
        rec(0, 12.0, 0, B), rec(1, 12.2, 0, B), rec(0, 15.5, 1, B), rec(1, 16.0, 0, B),
    };
    struct demo_hold h[] = {{0, A, 0}, {0, A, 1}, {15.5, B, 0}};
    struct demo_figures f;

    (void)state;
    assert_int_equal(demo_figures_compute(s, 8, h, 3, 2, 20.0, &f), 0);
    assert_int_equal(f.sessions, 8);
    assert_int_equal(f.failed_handshakes, 5);
    assert_int_equal(f.alerts[48], 5);
    /* client 0: 10.0 to 15.5; client 1: 10.2 to the end, 20.0. */
    assert_true(f.downtime_total > 5.5 + 9.8 - 1e-9 && f.downtime_total < 5.5 + 9.8 + 1e-9);
    assert_true(f.downtime_worst > 9.8 - 1e-9 && f.downtime_worst < 9.8 + 1e-9);
    assert_int_equal(f.worst_client, 1);
    /* Per client. */
    assert_int_equal(f.nclients_seen, 2);
    assert_int_equal(f.client[0].tries, 4);
    assert_int_equal(f.client[0].failed, 2);
    assert_int_equal(f.client[0].alert, 48);
    assert_true(f.client[0].down > 5.5 - 1e-9 && f.client[0].down < 5.5 + 1e-9);
    assert_int_equal(f.client[1].failed, 3);
    assert_int_equal(f.renewals, 1);
    assert_int_equal(f.nswaps, 1);
    assert_true(f.swaps[0] == 10.0);
    /* Client 1 never held B. */
    assert_int_equal(f.converge_state, DEMO_CONVERGE_NEVER);
    /* Medians: failed sessions stop at the alert, the successful ones finish. */
    assert_true(f.step_failed[DEMO_STEP_ALERT] == 2);
    assert_true(f.step_failed[DEMO_STEP_FINISHED] == -1);
    assert_true(f.step_ok[DEMO_STEP_FINISHED] == 3);
    assert_true(f.step_ok[DEMO_STEP_ALERT] == -1);
}

/* evercert: both clients hold each successor before the server presents it. */
static void
test_converge_before(void **state)
{
    struct demo_session s[] = {
        rec(0, 1.0, 1, A), rec(1, 1.2, 1, A), rec(0, 5.0, 1, B),
        rec(1, 5.2, 1, B), rec(0, 9.0, 1, C), rec(1, 9.1, 1, C),
    };
    struct demo_hold h[] = {{1.0, A, 0}, {1.2, A, 1}, {3.0, B, 0}, {3.5, B, 1},
                            {7.0, C, 0}, {8.5, C, 1}, {8.0, C, 1}};
    struct demo_figures f;

    (void)state;
    s[0].sa_bytes = 0;
    s[1].sa_bytes = 600;
    s[4].sa_bytes = 600;
    assert_int_equal(demo_figures_compute(s, 6, h, 7, 2, 10.0, &f), 0);
    assert_int_equal(f.failed_handshakes, 0);
    assert_true(f.downtime_total == 0);
    assert_int_equal(f.renewals, 2);
    assert_int_equal(f.converge_state, DEMO_CONVERGE_KNOWN);
    /* B: last held 3.5, presented at 5.0 -> -1.5; C: last held 8.0 (its first), at 9.0 -> -1.0. */
    assert_true(f.converge > -1.0 - 1e-9 && f.converge < -1.0 + 1e-9);
    assert_true(f.sa_bytes_per_handshake == 200);
}

/* No renewal: nothing to converge on; open-session requests are counted apart. */
static void
test_no_renewal_open_sessions(void **state)
{
    struct demo_session s[] = {rec(2, 0.0, 1, A), rec(2, 0.5, 1, 0), rec(2, 1.0, 0, 0),
                               rec(2, 1.5, 1, A)};
    struct demo_figures f;

    (void)state;
    s[0].kind = DEMO_OPEN_CONNECT;
    s[1].kind = DEMO_OPEN_REQUEST;
    s[2].kind = DEMO_OPEN_REQUEST;
    s[2].alert = -1;
    s[3].kind = DEMO_OPEN_CONNECT;
    assert_int_equal(demo_figures_compute(s, 4, NULL, 0, 2, 2.0, &f), 0);
    assert_int_equal(f.sessions, 2);
    assert_int_equal(f.failed_handshakes, 0);
    assert_int_equal(f.open_requests, 2);
    assert_int_equal(f.open_failed, 1);
    assert_int_equal(f.renewals, 0);
    assert_int_equal(f.converge_state, DEMO_CONVERGE_NONE);
    /* A dropped open session is down until its reconnect succeeds. */
    assert_true(f.downtime_total > 0.5 - 1e-9 && f.downtime_total < 0.5 + 1e-9);
}

static void
test_empty(void **state)
{
    struct demo_figures f;

    (void)state;
    assert_int_equal(demo_figures_compute(NULL, 0, NULL, 0, 0, 0, &f), 0);
    assert_int_equal(f.sessions, 0);
    assert_int_equal(f.converge_state, DEMO_CONVERGE_NONE);
    assert_true(f.step_ok[0] == -1);
}

static void
test_alert_names(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(demo_alert_name(48, buf, sizeof(buf)), "unknown_ca");
    assert_string_equal(demo_alert_name(45, buf, sizeof(buf)), "certificate_expired");
    assert_string_equal(demo_alert_name(42, buf, sizeof(buf)), "bad_certificate");
    assert_string_equal(demo_alert_name(200, buf, sizeof(buf)), "alert_200");
}

static void
test_log_bounds(void **state)
{
    struct demo_log l;
    struct demo_session s = rec(0, 0, 0, A);

    (void)state;
    assert_int_equal(demo_log_init(&l), 0);
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(demo_log_session(&l, &s), 0);
    }
    assert_int_equal(demo_log_hold(&l, 1.0, A, 0), 0);
    assert_int_equal((int)l.n, 3000);
    assert_int_equal(l.failed, 3000);
    assert_int_equal((int)l.nh, 1);
    /* Full: refused, not grown without end. */
    l.n = l.cap = DEMO_SESSIONS_MAX;
    assert_int_equal(demo_log_session(&l, &s), -1);
    l.n = l.cap = 3000;
    demo_log_free(&l);
}

/* tshark's field lines: srcport,dstport,syn,ack,fin,reset,alerts. */
/* The groups: TLS 1.2 clients, late approvals; a client counts in each group it matches only. */
static void
test_group_sum(void **state)
{
    struct demo_session s[] = {
        rec(0, 0.0, 1, A), rec(0, 1.0, 1, A),                    /* TLS 1.3, early: fine */
        rec(1, 0.1, 1, A), rec(1, 1.1, 0, B), rec(1, 2.1, 1, B), /* TLS 1.2, early: 1 s down */
        rec(2, 0.2, 0, B), rec(2, 3.2, 1, B),                    /* TLS 1.3, late: 3 s down */
        rec(3, 0.3, 0, B), rec(3, 1.3, 0, B), rec(3, 2.3, 1, B), /* TLS 1.2, late: 2 s down */
    };
    struct demo_agent_figures kind[4];
    struct demo_figures f;
    struct demo_group g;

    (void)state;
    memset(kind, 0, sizeof(kind));
    kind[1].tls12 = kind[3].tls12 = 1;
    kind[2].late = kind[3].late = 1;
    assert_int_equal(demo_figures_compute(s, sizeof(s) / sizeof(s[0]), NULL, 0, 4, 4.0, &f), 0);
    demo_group_sum(&f, kind, 4, 1, -1, &g);
    assert_int_equal(g.clients, 2);
    assert_int_equal(g.tries, 6);
    assert_int_equal(g.failed, 3);
    assert_true(g.down_total > 2.99 && g.down_total < 3.01);
    assert_true(g.down_worst > 1.99 && g.down_worst < 2.01);
    demo_group_sum(&f, kind, 4, -1, 0, &g);
    assert_int_equal(g.clients, 2);
    assert_int_equal(g.failed, 1);
    demo_group_sum(&f, kind, 4, -1, 1, &g);
    assert_int_equal(g.failed, 3);
    assert_true(g.down_worst > 2.99 && g.down_worst < 3.01);
    demo_group_sum(&f, kind, 4, 0, 0, &g);
    assert_int_equal(g.clients, 1);
    assert_int_equal(g.failed, 0);
    assert_true(g.down_total == 0);
    /* Only the clients asked for: none. */
    demo_group_sum(&f, kind, 0, -1, -1, &g);
    assert_int_equal(g.clients, 0);
    assert_int_equal(g.tries, 0);
}

static void
test_wire_parse(void **state)
{
    static const char text[] =
        "51000,4433,1,0,0,0,\n"                          /* existing: SYN */
        "4433,51000,1,1,0,0,\n"                          /* SYN-ACK: not a new connection */
        "51000,4433,0,1,0,0,48\n"                        /* the client's unknown_ca */
        "51000,4433,0,1,1,0,\n"                          /* FIN */
        "4433,51000,0,1,0,1,\n"                          /* RST */
        "52000,5544,True,False,False,False,\n"           /* evercert: SYN, as tshark 4 spells it */
        "5544,52000,False,True,False,False,48,45\n"      /* two alerts in one packet */
        "6000,7000,1,0,0,0,\n"                           /* another port: not counted */
        "Running as user \"root\" and group \"root\".\n" /* tshark's chatter */
        "51000,4433\n"                                   /* too few fields */
        "51000,4433,0,1,0,0,999";                        /* an alert out of range, no newline */
    static const int ports[] = {4433, 5544};
    struct demo_wire w[2];

    (void)state;
    assert_int_equal(demo_wire_parse(text, sizeof(text) - 1, ports, 2, w), 0);
    assert_int_equal(w[0].packets, 6);
    assert_int_equal(w[0].syn, 1);
    assert_int_equal(w[0].fin, 1);
    assert_int_equal(w[0].rst, 1);
    assert_int_equal(w[0].alerts[48], 1);
    assert_int_equal(w[1].packets, 2);
    assert_int_equal(w[1].syn, 1);
    assert_int_equal(w[1].alerts[48], 1);
    assert_int_equal(w[1].alerts[45], 1);
    assert_int_equal(demo_wire_parse("", 0, ports, 2, w), 0);
    assert_int_equal(w[0].packets + w[1].packets, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_downtime),
        cmocka_unit_test(test_converge_before),
        cmocka_unit_test(test_no_renewal_open_sessions),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_alert_names),
        cmocka_unit_test(test_log_bounds),
        cmocka_unit_test(test_wire_parse),
        cmocka_unit_test(test_group_sum),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
