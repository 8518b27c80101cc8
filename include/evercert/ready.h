/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Readiness: which generation of a server's certificate its clients hold,
 * so that a switch can wait for them (docs/PROTOCOL.md, "Readiness").
 * Clients say it in the ClientHello, in an acknowledgement on the push
 * channel, and in the query of the well-known URL; the tracker keeps each
 * client's latest word, bounded in time (a window) and in memory (a cap
 * on entries, the least recently seen forgotten first).
 *
 * A client, the unit counted, is an address group: an IPv4 address, or
 * the /64 of an IPv6 address (a v4-mapped one is its IPv4). Within a
 * group each self-named client (ack, URL with client=) has an entry of
 * its own, and one more entry holds what the unnamed reports said last.
 * The group holds the lowest generation of its named entries, or, where
 * nobody named itself, the unnamed entry's (whoever spoke last, so it
 * never judges a group that has names). So a peer speaks for its own
 * group only: it can make it look not ready, never make another ready.
 */
#ifndef EVERCERT_READY_H
#define EVERCERT_READY_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/limits.h"
#include "evercert/time.h"

struct sockaddr;
struct evc_ready;

/* The well-known path whose query carries held= and client= (serve.h's EVC_SERVE_WELL_KNOWN). */
#define EVC_READY_PATH "/.well-known/evercert/successor"

enum evc_ready_source { EVC_READY_HELLO, EVC_READY_ACK, EVC_READY_URL };

struct evc_ready_opts {
    int64_t window;     /* seconds a report counts; 0: EVC_READY_WINDOW_DEFAULT */
    size_t max_entries; /* 0: EVC_READY_ENTRIES_DEFAULT; at most EVC_READY_ENTRIES_MAX */
    evc_time since;     /* when listening began (a server's start); 0: the first report's time */
};
#define EVC_READY_WINDOW_DEFAULT ((int64_t)7 * 86400)
#define EVC_READY_ENTRIES_DEFAULT 65536

/* Generations listed one by one in a summary (newest first), and unready clients listed. */
#define EVC_READY_GENS_MAX 16
#define EVC_READY_LIST_MAX 32

struct evc_ready_client {
    char addr[48];               /* "192.0.2.7", or an IPv6 group "2001:db8:1:2::/64" */
    char id[EVC_ACK_ID_MAX + 1]; /* "" when unnamed */
    uint64_t held;
    evc_time seen;
    enum evc_ready_source src;
};

struct evc_ready_summary {
    uint64_t successor; /* counted against; 0: the server has no SA */
    evc_time at;
    int64_t window;
    size_t clients, ready; /* address groups seen in the window; of them holding >= successor */
    size_t entries;        /* in the table now */
    uint64_t forgotten;    /* entries dropped for the cap since the start */
    evc_time since;        /* the start of what the tracker heard (at when it heard nothing) */
    /*
     * 1 only when at - since >= window and no entry seen within the
     * window was forgotten at the cap: every client of the window could
     * have been heard. A count that is not complete is never met.
     */
    int complete;
    struct {
        uint64_t generation;
        size_t clients;
    } gens[EVC_READY_GENS_MAX]; /* by generation held, newest first */
    size_t ngens, gens_other;   /* gens used; clients of older generations not listed */
    struct evc_ready_client unready[EVC_READY_LIST_MAX]; /* least recently seen first */
    /*
     * Listed: each entry that holds less than the successor in a group
     * that is not ready (every named client there, or the address's
     * unnamed reports), up to EVC_READY_LIST_MAX; there may be more.
     */
    size_t nunready;
    size_t unready_total; /* such entries in all, listed or not */
};

/* A tracker; o may be NULL (defaults). 0, EVC_ERR_USAGE (a bound out of range) or EVC_ERR_NOMEM. */
EVC_EXPORT EVC_MUST_USE int evc_ready_new(struct evc_ready **out, const struct evc_ready_opts *o,
                                          struct evc_err *err);
/* NULL: nothing. */
EVC_EXPORT void evc_ready_free(struct evc_ready *r);

/*
 * One report: the client at peer (AF_INET or AF_INET6; others are
 * ignored), named id (NULL or "": unnamed; an id outside the charset of
 * evc_ack_id_check is taken as unnamed), holds held at time at. An entry
 * keeps its latest report; one older than what it has is ignored. At the
 * cap the least recently seen entry is forgotten (and a count within a
 * window of its last report is not complete); a new name in a group
 * that has EVC_READY_GROUP_NAMES_MAX replaces the group's least recently
 * seen name, whose generation still holds the group back for a window.
 * O(1). Out of memory loses this report only.
 */
EVC_EXPORT void evc_ready_observe(struct evc_ready *r, const struct sockaddr *peer, const char *id,
                                  uint64_t held, enum evc_ready_source src, evc_time at);

/* As evc_ready_observe for a numeric address in text (len bytes). 0 or EVC_ERR_PARSE. */
EVC_EXPORT EVC_MUST_USE int evc_ready_observe_text(struct evc_ready *r, const char *addr,
                                                   size_t len, const char *id, uint64_t held,
                                                   enum evc_ready_source src, evc_time at);

/*
 * Count the clients seen in [now - window, ...] against successor into
 * out. O(n log n). Out of memory, it counts every entry a client and none
 * ready: unknown is never ready.
 */
EVC_EXPORT void evc_ready_count(struct evc_ready *r, uint64_t successor, evc_time now,
                                struct evc_ready_summary *out);

/*
 * 1 when the count is complete and ready * 100 >= share_percent * clients
 * (no client seen: met only when complete); else 0.
 */
EVC_EXPORT int evc_ready_met(const struct evc_ready_summary *s, unsigned share_percent);

/* The status text of GET /status (docs/PROTOCOL.md), appended to out. 0, EVC_ERR_LIMIT or NOMEM. */
EVC_EXPORT EVC_MUST_USE int evc_ready_status_text(const struct evc_ready_summary *s,
                                                  struct evc_buf *out);

/*
 * Read a status text (n bytes, at most EVC_READY_STATUS_MAX) back into
 * out: the first line "evercert-status 1", then one item per line;
 * unknown items are skipped. 0, or EVC_ERR_PARSE / EVC_ERR_LIMIT with
 * the line and the reason in err (out is zeroed then). Pure, linear.
 */
EVC_EXPORT EVC_MUST_USE int evc_ready_status_parse(const uint8_t *p, size_t n,
                                                   struct evc_ready_summary *out,
                                                   struct evc_err *err);

/* The summary as Prometheus text exposition (GET /metrics), appended to out. */
EVC_EXPORT EVC_MUST_USE int evc_ready_prometheus(const struct evc_ready_summary *s,
                                                 struct evc_buf *out);

/*
 * The query of a well-known request (n bytes, without the '?'):
 * '&'-separated name=value; held is 1..20 decimal digits up to
 * UINT64_MAX, client is 1..64 characters of the id charset; other names
 * are ignored. A repeated held or client, or a bad value of either, makes
 * the whole query carry nothing. 1 when held was found (*held set, id the
 * client or ""), 0 otherwise (*held 0, id ""). Pure, linear.
 */
EVC_EXPORT int evc_ready_query_parse(const char *q, size_t n, uint64_t *held,
                                     char id[EVC_ACK_ID_MAX + 1]);

/*
 * Feed n bytes of an access log in Common or Combined Log Format (nginx,
 * Apache, Tomcat): every complete line whose request is a GET of
 * EVC_READY_PATH with a query that carries held= is a report
 * (EVC_READY_URL) from the line's host at the line's time. A last line
 * without its newline is left (its writer may be mid-line). Only the GET
 * method counts. Every line read moves the tracker's since back to its
 * time: the count is complete once the lines reach back a window. Lines that
 * are no CLF at all are counted in *bad_lines (may be NULL). Returns the
 * number of reports taken. Pure but for r; linear.
 */
EVC_EXPORT int evc_ready_log_feed(struct evc_ready *r, const uint8_t *p, size_t n,
                                  size_t *bad_lines);

/*
 * GET /status from the status listener of an `evercert serve` at where
 * (HOST:PORT, [V6]:PORT or unix:PATH), all within timeout_ms, and parse
 * it into out. 0, EVC_ERR_IO (naming where and why: refused, timed out,
 * an HTTP status other than 200) or the parse's error.
 */
EVC_EXPORT EVC_MUST_USE int evc_ready_status_fetch(const char *where, long timeout_ms,
                                                   struct evc_ready_summary *out,
                                                   struct evc_err *err);

/* The name of a source in texts ("hello", "ack", "url"). */
EVC_EXPORT const char *evc_ready_source_name(enum evc_ready_source src);

#endif
