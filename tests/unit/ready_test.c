/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Readiness: every rule of the tracker with explicit times (the address
 * group, the NAT rule, the window, the cap, the latest word), the status
 * text both ways, the metrics, the URL's query and access logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "evercert/announce.h"
#include "evercert/ready.h"
#include "base/text.h"

#define T0 ((evc_time)1796083200) /* 2026-12-01T00:00:00Z */

static struct evc_ready *
tracker(int64_t window, size_t max)
{
    struct evc_ready *r = NULL;
    struct evc_ready_opts o = {window, max, 0};
    struct evc_err err = {0};

    assert_int_equal(evc_ready_new(&r, &o, &err), 0);
    return r;
}

static void
obs(struct evc_ready *r, const char *addr, const char *id, uint64_t held, enum evc_ready_source src,
    evc_time at)
{
    assert_int_equal(evc_ready_observe_text(r, addr, strlen(addr), id, held, src, at), 0);
}

static struct evc_ready_summary s;

static void
test_groups(void **state)
{
    struct evc_ready *r = tracker(0, 0);
    struct sockaddr_in6 in6;
    struct sockaddr_in in;

    (void)state;
    /* Two addresses of one IPv6 /64 are one client; another /64 is another. */
    obs(r, "2001:db8:1:2::10", NULL, 4, EVC_READY_HELLO, T0);
    obs(r, "2001:db8:1:2:ffff::1", NULL, 5, EVC_READY_HELLO, T0 + 1);
    obs(r, "2001:db8:1:3::1", NULL, 5, EVC_READY_HELLO, T0 + 2);
    /* A v4-mapped address is its IPv4 one. */
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6.sin6_addr), 1);
    evc_ready_observe(r, (struct sockaddr *)&in6, NULL, 3, EVC_READY_HELLO, T0 + 3);
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &in.sin_addr), 1);
    evc_ready_observe(r, (struct sockaddr *)&in, NULL, 5, EVC_READY_HELLO, T0 + 4);
    /* Another family says nothing. */
    in.sin_family = AF_UNIX;
    evc_ready_observe(r, (struct sockaddr *)&in, NULL, 1, EVC_READY_HELLO, T0 + 4);
    evc_ready_count(r, 5, T0 + 10, &s);
    assert_int_equal(s.clients, 3);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.ready, 3); /* the latest word of each entry */
    /* An unready IPv6 group is named by its /64. */
    obs(r, "2001:db8:1:2::99", "a", 4, EVC_READY_ACK, T0 + 11);
    evc_ready_count(r, 5, T0 + 12, &s);
    assert_int_equal(s.ready, 2);
    assert_int_equal(s.nunready, 1);
    assert_string_equal(s.unready[0].addr, "2001:db8:1:2::/64");
    assert_string_equal(s.unready[0].id, "a");
    assert_int_equal(evc_ready_observe_text(r, "example.org", 11, NULL, 1, EVC_READY_URL, T0),
                     EVC_ERR_PARSE);
    assert_int_equal(evc_ready_observe_text(r, "192.0.2.1 ", 10, NULL, 1, EVC_READY_URL, T0),
                     EVC_ERR_PARSE);
    evc_ready_free(r);
}

static void
test_nat_rule(void **state)
{
    struct evc_ready *r = tracker(0, 0);

    (void)state;
    /* Behind one address, only unnamed reports: the latest one is the group's. */
    obs(r, "198.51.100.1", NULL, 4, EVC_READY_HELLO, T0);
    evc_ready_count(r, 5, T0 + 5, &s);
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.ready, 0);
    assert_int_equal(s.nunready, 1);
    assert_string_equal(s.unready[0].id, "");
    assert_int_equal(s.unready[0].held, 4);
    assert_int_equal(s.unready[0].src, EVC_READY_HELLO);
    /* A client there names itself: the names are the group's clients from then on. */
    obs(r, "198.51.100.1", "web-1", 5, EVC_READY_ACK, T0 + 10);
    evc_ready_count(r, 5, T0 + 20, &s);
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.ready, 1);
    /* Unnamed handshakes, whoever's, do not judge it, however recent or old. */
    obs(r, "198.51.100.1", NULL, 4, EVC_READY_HELLO, T0 + 30);
    evc_ready_count(r, 5, T0 + 40, &s);
    assert_int_equal(s.ready, 1);
    /* A second named client there that holds 4 holds the group back. */
    obs(r, "198.51.100.1", "web-9", 4, EVC_READY_ACK, T0 + 41);
    evc_ready_count(r, 5, T0 + 42, &s);
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.ready, 0);
    assert_string_equal(s.unready[0].id, "web-9");
    /* Its acknowledgement of 5: ready again. */
    obs(r, "198.51.100.1", "web-9", 5, EVC_READY_ACK, T0 + 43);
    evc_ready_count(r, 5, T0 + 44, &s);
    assert_int_equal(s.ready, 1);
    evc_ready_free(r);
    r = tracker(0, 0);
    obs(r, "198.51.100.1", NULL, 4, EVC_READY_HELLO, T0 + 30);
    /* Two named clients: the group holds the lower. */
    obs(r, "198.51.100.1", "web-1", 5, EVC_READY_ACK, T0 + 50);
    obs(r, "198.51.100.1", "web-2", 3, EVC_READY_URL, T0 + 51);
    evc_ready_count(r, 5, T0 + 60, &s);
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.ready, 0);
    assert_string_equal(s.unready[0].id, "web-2");
    assert_int_equal(s.unready[0].held, 3);
    assert_int_equal(s.nunready, 1); /* web-1 holds 5: not listed */
    /* Every client of the group that holds less is named, not one for all. */
    obs(r, "198.51.100.1", "web-3", 4, EVC_READY_ACK, T0 + 52);
    evc_ready_count(r, 5, T0 + 60, &s);
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.nunready, 2);
    assert_string_equal(s.unready[0].id, "web-2");
    assert_string_equal(s.unready[1].id, "web-3");
    assert_int_equal(s.unready[1].held, 4);
    /* A peer speaks for its own group only: a named 5 from elsewhere changes nothing here. */
    obs(r, "203.0.113.9", "web-2", 5, EVC_READY_ACK, T0 + 61);
    evc_ready_count(r, 5, T0 + 62, &s);
    assert_int_equal(s.clients, 2);
    assert_int_equal(s.ready, 1);
    assert_string_equal(s.unready[0].addr, "198.51.100.1");
    /* A bad id is taken as unnamed. */
    obs(r, "203.0.113.10", "bad id", 1, EVC_READY_ACK, T0 + 63);
    evc_ready_count(r, 5, T0 + 64, &s);
    assert_int_equal(s.clients, 3);
    assert_string_equal(s.unready[2].addr, "203.0.113.10");
    assert_string_equal(s.unready[2].id, "");
    evc_ready_free(r);
}

static void
test_window(void **state)
{
    struct evc_ready *r = tracker(100, 0);

    (void)state;
    obs(r, "192.0.2.1", NULL, 4, EVC_READY_HELLO, T0);
    obs(r, "192.0.2.2", NULL, 5, EVC_READY_HELLO, T0 + 50);
    evc_ready_count(r, 5, T0 + 100, &s); /* the first is just inside */
    assert_int_equal(s.clients, 2);
    assert_int_equal(s.window, 100);
    assert_int_equal(s.at, T0 + 100);
    evc_ready_count(r, 5, T0 + 101, &s); /* and now out */
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.ready, 1);
    assert_int_equal(s.entries, 2);
    assert_true(evc_ready_met(&s, 100));
    evc_ready_count(r, 5, T0 + 1000, &s);
    assert_int_equal(s.clients, 0);
    assert_true(evc_ready_met(&s, 100)); /* nobody seen: nobody to wait for */
    /* The NAT rule: an unnamed word older than a named one is left out, within the window. */
    obs(r, "192.0.2.3", NULL, 4, EVC_READY_HELLO, T0 + 900);
    obs(r, "192.0.2.3", "n", 5, EVC_READY_ACK, T0 + 950);
    evc_ready_count(r, 5, T0 + 990, &s);
    assert_int_equal(s.clients, 1);
    assert_int_equal(s.ready, 1);
    /* Past the named word's window nothing of the group is left. */
    evc_ready_count(r, 5, T0 + 1051, &s);
    assert_int_equal(s.clients, 0);
    evc_ready_free(r);
}

static void
test_latest_word(void **state)
{
    struct evc_ready *r = tracker(0, 0);

    (void)state;
    obs(r, "192.0.2.1", "a", 5, EVC_READY_ACK, T0 + 10);
    /* An older report (a log read out of order) does not undo a newer one. */
    obs(r, "192.0.2.1", "a", 4, EVC_READY_URL, T0 + 5);
    evc_ready_count(r, 5, T0 + 20, &s);
    assert_int_equal(s.ready, 1);
    /* A newer one is kept, even lower: the latest word counts. */
    obs(r, "192.0.2.1", "a", 4, EVC_READY_URL, T0 + 15);
    evc_ready_count(r, 5, T0 + 20, &s);
    assert_int_equal(s.ready, 0);
    assert_int_equal(s.unready[0].src, EVC_READY_URL);
    assert_int_equal(s.unready[0].seen, T0 + 15);
    evc_ready_free(r);
}

static void
test_cap(void **state)
{
    struct evc_ready *r = tracker(0, 3);
    char a[32];

    (void)state;
    obs(r, "192.0.2.1", NULL, 4, EVC_READY_HELLO, T0);
    obs(r, "192.0.2.2", NULL, 4, EVC_READY_HELLO, T0 + 1);
    obs(r, "192.0.2.3", NULL, 4, EVC_READY_HELLO, T0 + 2);
    /* Seen again: now the most recent. */
    obs(r, "192.0.2.1", NULL, 4, EVC_READY_HELLO, T0 + 3);
    obs(r, "192.0.2.4", NULL, 4, EVC_READY_HELLO, T0 + 4);
    evc_ready_count(r, 5, T0 + 5, &s);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.forgotten, 1);
    assert_int_equal(s.clients, 3);
    /* .2 was the least recently seen: gone. Unready are listed least recently seen first. */
    assert_string_equal(s.unready[0].addr, "192.0.2.3");
    assert_string_equal(s.unready[1].addr, "192.0.2.1");
    assert_string_equal(s.unready[2].addr, "192.0.2.4");
    evc_ready_free(r);
    /* Filling the table through its growths loses no entry: seen again, nothing is forgotten. */
    r = tracker(0, 1000);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(a, sizeof(a), "10.1.%d.%d", i >> 8, i & 255);
            obs(r, a, i % 3 == 0 ? "x" : NULL, 5, EVC_READY_HELLO, T0 + k);
        }
    }
    evc_ready_count(r, 5, T0 + 2, &s);
    assert_int_equal(s.entries, 1000);
    assert_int_equal(s.forgotten, 0);
    assert_int_equal(s.clients, 1000);
    evc_ready_free(r);
    /* Many: the table never holds more than its cap, and the list stops at its own. */
    r = tracker(0, 1000);
    for (int i = 0; i < 5000; i++) {
        snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        obs(r, a, NULL, (uint64_t)(i % 20), EVC_READY_HELLO, T0 + i);
    }
    evc_ready_count(r, 19, T0 + 5000, &s);
    assert_int_equal(s.entries, 1000);
    assert_int_equal(s.forgotten, 4000);
    assert_int_equal(s.clients, 1000);
    assert_int_equal(s.ready, 50);
    assert_int_equal(s.nunready, EVC_READY_LIST_MAX);
    assert_int_equal(s.unready_total, 950); /* all of them, not only those listed */
    assert_int_equal(s.complete, 0);        /* 4000 forgotten within the window */
    assert_false(evc_ready_met(&s, 1));
    assert_string_equal(s.unready[0].addr, "10.0.15.160"); /* 4000, the oldest kept */
    assert_int_equal(s.ngens, EVC_READY_GENS_MAX);
    assert_int_equal(s.gens[0].generation, 19);
    assert_int_equal(s.gens[15].generation, 4);
    assert_int_equal(s.gens_other, 200);
    evc_ready_free(r);
}

static void
test_bounds(void **state)
{
    struct evc_ready *r = NULL;
    struct evc_ready_opts o = {0, EVC_READY_ENTRIES_MAX + 1, 0};
    struct evc_err err = {0};

    (void)state;
    assert_int_equal(evc_ready_new(&r, &o, &err), EVC_ERR_USAGE);
    assert_null(r);
    o.max_entries = 0;
    o.window = -1;
    assert_int_equal(evc_ready_new(&r, &o, &err), EVC_ERR_USAGE);
    assert_int_equal(evc_ready_new(&r, NULL, &err), 0);
    evc_ready_count(r, 1, T0, &s);
    assert_int_equal(s.window, EVC_READY_WINDOW_DEFAULT);
    evc_ready_free(r);
    evc_ready_free(NULL);
}

static void
test_met(void **state)
{
    struct evc_ready_summary m;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.complete = 1;
    m.clients = 12;
    m.ready = 10;
    assert_true(evc_ready_met(&m, 83));
    assert_false(evc_ready_met(&m, 84));
    assert_false(evc_ready_met(&m, 100));
    m.ready = 12;
    assert_true(evc_ready_met(&m, 100));
    /* Nobody seen is met only in a complete count; a count that may miss one is never met. */
    m.clients = m.ready = 0;
    assert_true(evc_ready_met(&m, 100));
    m.complete = 0;
    assert_false(evc_ready_met(&m, 100));
    m.clients = m.ready = 12;
    assert_false(evc_ready_met(&m, 1));
}

static void
test_complete(void **state)
{
    struct evc_ready *r = NULL;
    struct evc_ready_opts o = {100, 2, T0};
    struct evc_err err = {0};

    (void)state;
    /* Just started: nobody heard yet is not nobody to wait for. */
    assert_int_equal(evc_ready_new(&r, &o, &err), 0);
    evc_ready_count(r, 5, T0 + 50, &s);
    assert_int_equal(s.clients, 0);
    assert_int_equal(s.since, T0);
    assert_int_equal(s.complete, 0);
    assert_false(evc_ready_met(&s, 100));
    evc_ready_count(r, 5, T0 + 100, &s);
    assert_int_equal(s.complete, 1);
    assert_true(evc_ready_met(&s, 100));
    /* An entry seen within the window forgotten at the cap: the count is not complete. */
    obs(r, "192.0.2.1", NULL, 4, EVC_READY_HELLO, T0 + 200);
    obs(r, "192.0.2.2", NULL, 5, EVC_READY_HELLO, T0 + 201);
    obs(r, "192.0.2.3", NULL, 5, EVC_READY_HELLO, T0 + 202);
    evc_ready_count(r, 5, T0 + 203, &s);
    assert_int_equal(s.clients, 2);
    assert_int_equal(s.ready, 2);
    assert_int_equal(s.forgotten, 1);
    assert_int_equal(s.complete, 0);
    assert_false(evc_ready_met(&s, 100));
    /* Once what was forgotten is out of the window, the count is whole again. */
    evc_ready_count(r, 5, T0 + 301, &s);
    assert_int_equal(s.complete, 1);
    evc_ready_free(r);
}

static void
test_names_cap(void **state)
{
    struct evc_ready *r = tracker(0, 100);
    char id[32];

    (void)state;
    /* A real client that is not ready, then one address inventing names by the thousand. */
    obs(r, "192.0.2.1", "real", 4, EVC_READY_ACK, T0);
    obs(r, "198.51.100.1", "victim", 4, EVC_READY_ACK, T0);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "fake-%d", i);
        obs(r, "192.0.2.1", id, 5, EVC_READY_URL, T0 + 1 + i);
    }
    evc_ready_count(r, 5, T0 + 6000, &s);
    /* Its own group filled, not the table: the other group is still there, nothing forgotten. */
    assert_int_equal(s.entries, 1 + EVC_READY_GROUP_NAMES_MAX);
    assert_int_equal(s.forgotten, 0);
    assert_int_equal(s.clients, 2);
    /* What the names it replaced held still holds its own group back: neither is ready. */
    assert_int_equal(s.ready, 0);
    assert_string_equal(s.unready[0].id, "victim");
    evc_ready_free(r);
}

static void
test_status_text(void **state)
{
    struct evc_ready *r = tracker(0, 0);
    struct evc_buf b, b2;
    struct evc_ready_summary back;
    struct evc_err err = {0};

    (void)state;
    obs(r, "192.0.2.7", "agent-7", 4, EVC_READY_ACK, T0);
    obs(r, "2001:db8::1", NULL, 3, EVC_READY_URL, T0 + 1);
    for (int i = 0; i < 10; i++) {
        char a[32];

        snprintf(a, sizeof(a), "198.51.100.%d", i);
        obs(r, a, NULL, 5, EVC_READY_HELLO, T0 + 2);
    }
    evc_ready_count(r, 5, T0 + 10, &s);
    evc_buf_init(&b, 1 << 20);
    evc_buf_init(&b2, 1 << 20);
    assert_int_equal(evc_ready_status_text(&s, &b), 0);
    assert_string_equal(evc_buf_str(&b), "evercert-status 1\n"
                                         "at 2026-12-01T00:00:10Z\n"
                                         "successor 5\n"
                                         "window 604800\n"
                                         "clients 12\n"
                                         "ready 10\n"
                                         "entries 12\n"
                                         "forgotten 0\n"
                                         "since 2026-12-01T00:00:00Z\n"
                                         "complete 0\n"
                                         "unready_total 2\n"
                                         "generation 5 10\n"
                                         "generation 4 1\n"
                                         "generation 3 1\n"
                                         "unready 192.0.2.7 agent-7 4 2026-12-01T00:00:00Z ack\n"
                                         "unready 2001:db8::/64 - 3 2026-12-01T00:00:01Z url\n");
    assert_int_equal(evc_ready_status_parse(b.data, b.len, &back, &err), 0);
    assert_int_equal(evc_ready_status_text(&back, &b2), 0);
    assert_string_equal(evc_buf_str(&b2), evc_buf_str(&b));
    assert_int_equal(back.clients, 12);
    assert_int_equal(back.nunready, 2);
    assert_int_equal(back.unready_total, 2);
    assert_int_equal(back.since, T0);
    assert_int_equal(back.complete, 0);
    /* since and complete are required: a reader never takes a missing one for complete. */
    {
        const char *no_complete = "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\n"
                                  "window 1\nclients 0\nready 0\nsince 2026-11-01T00:00:00Z\n";
        const char *bad_complete = "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\n"
                                   "window 1\nclients 0\nready 0\nsince 2026-11-01T00:00:00Z\n"
                                   "complete 2\n";

        assert_int_equal(
            evc_ready_status_parse((const uint8_t *)no_complete, strlen(no_complete), &back, &err),
            EVC_ERR_PARSE);
        assert_int_equal(evc_ready_status_parse((const uint8_t *)bad_complete, strlen(bad_complete),
                                                &back, &err),
                         EVC_ERR_PARSE);
    }
    evc_buf_free(&b);
    evc_buf_free(&b2);
    evc_ready_free(r);
}

static void
test_status_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "evercert-status 2\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 0\nready 0\n",
        "at 2026-12-01T00:00:00Z\n",
        "evercert-status 1\nsuccessor 5\nwindow 1\nclients 0\nready 0\n", /* no at */
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 2\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor -5\nwindow 1\nclients 0\nready 0\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 18446744073709551616\nwindow 1\n"
        "clients 0\nready 0\n",
        "evercert-status 1\nat yesterday\nsuccessor 5\nwindow 1\nclients 0\nready 0\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 0\n"
        "unready 192.0.2.7 bad/id 4 2026-12-01T00:00:00Z ack\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 0\n"
        "unready 192.0.2.7/64 - 4 2026-12-01T00:00:00Z ack\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 0\n"
        "unready 192.0.2.7 - 4 2026-12-01T00:00:00Z push\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 0\n"
        "unready 192.0.2.7 - 4 2026-12-01T00:00:00Z ack more\n",
        "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\nwindow 1\nclients 1\nready 0\n"
        "generation 5\n",
    };
    struct evc_ready_summary out;
    struct evc_err err = {0};
    const char *ok = "evercert-status 1\r\nat 2026-12-01T00:00:00Z\r\nsuccessor 5\nwindow 1\n"
                     "clients 0\nready 0\nsince 2026-11-01T00:00:00Z\ncomplete 1\n"
                     "something new 1 2 3\n";
    struct evc_buf big;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_not_equal(
            evc_ready_status_parse((const uint8_t *)bad[i], strlen(bad[i]), &out, &err), 0);
        assert_true(err.detail[0] != '\0');
        assert_int_equal(out.clients, 0);
    }
    assert_int_equal(evc_ready_status_parse((const uint8_t *)ok, strlen(ok), &out, &err), 0);
    assert_int_equal(out.successor, 5);
    assert_int_equal(out.complete, 1);
    /* 17 generation lines: over the list. */
    evc_buf_init(&big, 1 << 20);
    assert_int_equal(evc_buf_puts(&big, "evercert-status 1\nat 2026-12-01T00:00:00Z\nsuccessor 5\n"
                                        "window 1\nclients 0\nready 0\n"),
                     0);
    for (int i = 0; i < 17; i++) {
        assert_int_equal(evc_buf_printf(&big, "generation %d 0\n", i), 0);
    }
    assert_int_equal(evc_ready_status_parse(big.data, big.len, &out, &err), EVC_ERR_PARSE);
    assert_non_null(strstr(err.detail, "line 23"));
    evc_buf_reset(&big);
    assert_int_equal(evc_buf_reserve(&big, EVC_READY_STATUS_MAX + 1), 0);
    memset(big.data, '\n', EVC_READY_STATUS_MAX + 1);
    assert_int_equal(evc_ready_status_parse(big.data, EVC_READY_STATUS_MAX + 1, &out, &err),
                     EVC_ERR_LIMIT);
    evc_buf_free(&big);
}

static void
test_prometheus(void **state)
{
    struct evc_ready *r = tracker(0, 0);
    struct evc_buf b;

    (void)state;
    obs(r, "192.0.2.1", NULL, 5, EVC_READY_HELLO, T0);
    obs(r, "192.0.2.2", NULL, 5, EVC_READY_HELLO, T0);
    obs(r, "192.0.2.3", NULL, 5, EVC_READY_HELLO, T0);
    obs(r, "192.0.2.4", NULL, 4, EVC_READY_HELLO, T0);
    evc_ready_count(r, 5, T0, &s);
    evc_buf_init(&b, 1 << 20);
    assert_int_equal(evc_ready_prometheus(&s, &b), 0);
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_clients{generation=\"5\"} 3\n"));
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_clients{generation=\"4\"} 1\n"));
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_clients_seen 4\n"));
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_clients_ready 3\n"));
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_clients_ready_ratio 0.7500\n"));
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_successor_generation 5\n"));
    assert_non_null(strstr(evc_buf_str(&b), "\nevercert_clients_forgotten_total 0\n"));
    evc_buf_free(&b);
    evc_ready_free(r);
}

static void
test_query(void **state)
{
    static const struct {
        const char *q;
        int found;
        uint64_t held;
        const char *id;
    } cases[] = {
        {"held=5", 1, 5, ""},
        {"held=5&client=web-1", 1, 5, "web-1"},
        {"client=web-1&held=5", 1, 5, "web-1"},
        {"x=1&held=18446744073709551615&y", 1, UINT64_MAX, ""},
        {"&&held=0&&", 1, 0, ""},
        {"held=18446744073709551616", 0, 0, ""},
        {"held=000000000000000000001", 0, 0, ""}, /* 21 digits */
        {"held=+5", 0, 0, ""},
        {"held=-5", 0, 0, ""},
        {"held= 5", 0, 0, ""},
        {"held=5x", 0, 0, ""},
        {"held=", 0, 0, ""},
        {"held", 0, 0, ""},
        {"held=5&held=5", 0, 0, ""},
        {"held=5&client=a&client=a", 0, 0, ""},
        {"held=5&client=", 0, 0, ""},
        {"held=5&client=a%20b", 0, 0, ""},
        {"held=5&client=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, 0,
         ""}, /* 65 */
        {"client=web-1", 0, 0, ""},
        {"", 0, 0, ""},
    };
    char id[EVC_ACK_ID_MAX + 1];
    uint64_t held;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = evc_ready_query_parse(cases[i].q, strlen(cases[i].q), &held, id);

        if (got != cases[i].found || held != cases[i].held || strcmp(id, cases[i].id) != 0) {
            fail_msg("query \"%s\": got %d %llu \"%s\"", cases[i].q, got, (unsigned long long)held,
                     id);
        }
    }
    /* The length bounds the query, not a NUL. */
    assert_int_equal(evc_ready_query_parse("held=59", 6, &held, id), 1);
    assert_true(held == 5);
}

static void
test_log_feed(void **state)
{
    static const char log[] =
        /* nginx combined */
        "192.0.2.1 - - [01/Dec/2026:00:00:00 +0000] \"GET /.well-known/evercert/successor?held=5"
        "&client=a HTTP/1.1\" 200 1234 \"-\" \"evercert\"\n"
        /* Apache common, a time zone east of UTC */
        "192.0.2.2 - frank [01/Dec/2026:01:00:05 +0100] \"GET /.well-known/evercert/"
        "successor?held=4 HTTP/1.1\" 404 0\n"
        /* IPv6, absolute-form */
        "2001:db8::5 - - [01/Dec/2026:00:00:06 +0000] \"GET https://h.example/.well-known/"
        "evercert/successor?held=5 HTTP/1.1\" 200 10\n"
        /* other paths, a bad query, no query: nothing */
        "192.0.2.3 - - [01/Dec/2026:00:00:07 +0000] \"GET /index.html?held=9 HTTP/1.1\" 200 1\n"
        "192.0.2.3 - - [01/Dec/2026:00:00:07 +0000] \"GET /.well-known/evercert/successor?held=x"
        " HTTP/1.1\" 200 1\n"
        "192.0.2.3 - - [01/Dec/2026:00:00:07 +0000] \"GET /.well-known/evercert/successor "
        "HTTP/1.1\" 200 1\n"
        "192.0.2.3 - - [01/Dec/2026:00:00:07 +0000] \"GET /.well-known/evercert/successorx?"
        "held=1 HTTP/1.1\" 200 1\n"
        /* an escaped quote in the request */
        "192.0.2.4 - - [01/Dec/2026:00:00:08 +0000] \"GET /a\\\"b HTTP/1.1\" 400 1\n"
        /* no CLF at all: bad */
        "garbage\n"
        "192.0.2.5 - - [01/Dex/2026:00:00:08 +0000] \"GET / HTTP/1.1\" 200 1\n"
        "192.0.2.5 - - [01/Dec/2026:00:00:08 +0000] \"GET / HTTP/1.1\n"
        /* a host name (HostnameLookups on): no address, nothing */
        "host.example - - [01/Dec/2026:00:00:09 +0000] \"GET /.well-known/evercert/successor?"
        "held=5 HTTP/1.1\" 200 1\n"
        /* only a GET fetched the SA */
        "192.0.2.6 - - [01/Dec/2026:00:00:09 +0000] \"HEAD /.well-known/evercert/successor?"
        "held=5 HTTP/1.1\" 200 0\n"
        "192.0.2.6 - - [01/Dec/2026:00:00:09 +0000] \"POST /.well-known/evercert/successor?"
        "held=5 HTTP/1.1\" 405 0\n"
        /* an earlier line of another request: the log reaches back to it */
        "192.0.2.7 - - [30/Nov/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n"
        "\n"
        /* the last line without its newline is left */
        "192.0.2.9 - - [01/Dec/2026:00:00:10 +0000] \"GET /.well-known/evercert/successor?held=1 "
        "HTTP/1.1\" 200 1";
    struct evc_ready *r = tracker(0, 0);
    size_t bad = 99;

    (void)state;
    assert_int_equal(evc_ready_log_feed(r, (const uint8_t *)log, sizeof(log) - 1, &bad), 3);
    assert_int_equal(bad, 3);
    evc_ready_count(r, 5, T0 + 100, &s);
    assert_int_equal(s.clients, 3);
    assert_int_equal(s.ready, 2);
    assert_string_equal(s.unready[0].addr, "192.0.2.2");
    assert_int_equal(s.unready[0].seen, T0 + 5); /* 01:00:05 +0100 */
    assert_int_equal(s.unready[0].src, EVC_READY_URL);
    /* The lines reach back a day, not the 7 d window: not complete. */
    assert_int_equal(s.since, T0 - 86400);
    assert_int_equal(s.complete, 0);
    evc_ready_count(r, 5, T0 - 86400 + EVC_READY_WINDOW_DEFAULT, &s);
    assert_int_equal(s.complete, 1);
    evc_ready_free(r);
}

/* One charset: the acknowledgement's, the URL's and the tracker's ids agree byte for byte. */
static void
test_id_charset(void **state)
{
    char id[EVC_ACK_ID_MAX + 2], q[128];
    uint64_t held;

    (void)state;
    for (int c = 0; c < 256; c++) {
        int ok;

        id[0] = 'a';
        id[1] = (char)c;
        ok = evc_text_id_check(id, 2) == 0;
        assert_int_equal(ok, (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
                                 c == ':' || c == '@');
        assert_int_equal(evc_ack_id_check(id, 2) == 0, ok);
        if (c != '&' && c != 0) {
            char got[EVC_ACK_ID_MAX + 1];

            snprintf(q, sizeof(q), "held=1&client=a%c", c);
            assert_int_equal(evc_ready_query_parse(q, strlen(q), &held, got), ok);
        }
    }
    memset(id, 'x', sizeof(id));
    assert_int_equal(evc_text_id_check(id, EVC_ACK_ID_MAX), 0);
    assert_int_equal(evc_text_id_check(id, EVC_ACK_ID_MAX + 1), EVC_ERR_PARSE);
    assert_int_equal(evc_text_id_check(id, 0), EVC_ERR_PARSE);
}

static void
test_fetch_unreachable(void **state)
{
    struct evc_err err = {0};

    (void)state;
    assert_int_not_equal(evc_ready_status_fetch("unix:/nonexistent/evercert.sock", 1000, &s, &err),
                         0);
    assert_non_null(strstr(err.detail, "unix:/nonexistent/evercert.sock"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(evc_ready_status_fetch("nohostport", 1000, &s, &err), EVC_ERR_USAGE);
    /* A host name is not looked up (no deadline on a lookup): refused before any connection. */
    memset(&err, 0, sizeof(err));
    assert_int_not_equal(evc_ready_status_fetch("localhost:1", 1000, &s, &err), 0);
    assert_null(strstr(err.detail, "refused"));
    assert_non_null(strstr(err.detail, "localhost:1"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_nat_rule),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_latest_word),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_met),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_names_cap),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_status_parse_bad),
        cmocka_unit_test(test_prometheus),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_log_feed),
        cmocka_unit_test(test_id_charset),
        cmocka_unit_test(test_fetch_unreachable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
