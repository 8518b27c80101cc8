/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint scanning: the chain a server presents on the network, which is
 * what its clients see, whatever the files on disk say (a server not
 * reloaded after a renewal still serves the old certificate).
 *
 * An endpoint is a URL: tls://HOST:PORT, or smtp://, imap:// and
 * postgres:// for a server that starts TLS inside its own protocol
 * (STARTTLS, PostgreSQL's SSLRequest). Many endpoints are scanned at once
 * on one event loop, at most `parallel` of them in flight, each within
 * its own deadline; whatever one peer does (drip, reset, garbage, a chain
 * that does not chain) ends as one error for that endpoint only.
 *
 * The readers of the peer's bytes before TLS and the URL parser are pure
 * functions, fuzzed in tests/fuzz.
 */
#ifndef EVERCERT_ENDPOINT_H
#define EVERCERT_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/cert.h"
#include "evercert/error.h"
#include "evercert/limits.h"
#include "evercert/report.h"
#include "evercert/time.h"

enum evc_ep_proto { EVC_EP_TLS = 0, EVC_EP_SMTP, EVC_EP_IMAP, EVC_EP_POSTGRES };

struct evc_ep_url {
    enum evc_ep_proto proto;
    char host[EVC_EP_HOST_MAX + 1]; /* a name, or an address without brackets */
    int numeric;                    /* host is an IPv4 or IPv6 address */
    uint16_t port;
    char sni[EVC_EP_HOST_MAX + 1]; /* the SNI name sent; "" for none */
};

/* Whether s looks like an endpoint URL (a scheme and "://") rather than a path. Pure. */
EVC_EXPORT int evc_ep_is_url(const char *s);

/*
 * Parse "tls://HOST:PORT[?sni=NAME]" (also smtp, imap, postgres; an IPv6
 * address in brackets). SNI is HOST when HOST is a name, none for an
 * address unless ?sni= names one. Pure, linear. 0, or EVC_ERR_PARSE with
 * what is wrong in err ("tls://h: missing port").
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_url_parse(const char *s, struct evc_ep_url *out,
                                             struct evc_err *err);

/* The URL back as text, "tls://[::1]:443?sni=x" (at most EVC_EP_URL_MAX bytes). */
EVC_EXPORT void evc_ep_url_format(const struct evc_ep_url *u, char *out, size_t outlen);

/*
 * Read one SMTP reply (RFC 5321 4.2: "250-..." lines then "250 ...") from
 * the first len bytes a peer sent. 0 with the code in *code and the bytes
 * it took in *used once the last line is in; 1 when more bytes are
 * needed; EVC_ERR_PARSE when the bytes are no reply (a line without a
 * code, codes that differ, a line over EVC_EP_LINE_MAX) with the reason
 * in err. Pure, linear.
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_smtp_reply(const uint8_t *p, size_t len, int *code, size_t *used,
                                              struct evc_err *err);

/*
 * Read IMAP lines up to the tagged response of tag (RFC 9051 7.1), untagged
 * lines ("* ...") skipped. 0 with *ok set (1 for "tag OK", 0 for NO or BAD)
 * and *used once the tagged line is in; 1 when more bytes are needed;
 * EVC_ERR_PARSE for a line over EVC_EP_LINE_MAX, a tagged line of another
 * tag, or a status that is not OK, NO or BAD. With tag NULL, the greeting:
 * one untagged "* OK" (ok 1) or "* PREAUTH" / "* BYE" (ok 0) line. Pure.
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_imap_reply(const uint8_t *p, size_t len, const char *tag,
                                              int *ok, size_t *used, struct evc_err *err);

struct evc_ep_opts {
    int parallel;       /* endpoints in flight at once, 1..EVC_EP_PARALLEL_MAX */
    int64_t timeout_ms; /* each endpoint's deadline: connect, STARTTLS, handshake */
    const char *ca;     /* anchors: a PEM file or a hashed directory; NULL for the system's */
    evc_time at;        /* the moment chains are verified at */
    /*
     * Per endpoint, by index, or NULL for the above for all: its anchors
     * (NULL entries: the system's; one that cannot be loaded is that
     * endpoint's error) and its deadline.
     */
    const char *const *cas;
    const int64_t *timeouts_ms;
};

/* 64 in flight, 10 s, the system's anchors, now. */
EVC_EXPORT void evc_ep_opts_default(struct evc_ep_opts *o, evc_time now);

/* What one endpoint presented, and what became of it. */
struct evc_ep_result {
    char *url;                      /* as formatted by evc_ep_url_format */
    char *error;                    /* NULL, or why there is no chain (connect, STARTTLS, TLS) */
    uint8_t *der[EVC_EP_CHAIN_MAX]; /* the chain as presented, leaf first */
    size_t der_len[EVC_EP_CHAIN_MAX];
    size_t ncerts;
    int verified;             /* the chain verified against the anchors at opts.at */
    char *verify_error;       /* NULL, or why it did not */
    evc_time chain_not_after; /* verified: the earliest notAfter of the chain OpenSSL built */
    size_t chain_len;         /* certificates in that chain, anchor included */
    /* verified: whether each presented certificate is on that chain (an unused cross-sign is not)
     */
    uint8_t on_chain[EVC_EP_CHAIN_MAX];
    /* Set by the caller before evc_ep_report: the on-disk certificate to compare with. */
    const char *compare_name; /* the store's name or the file given */
    uint8_t compare_sha256[32];
    int compare_set;
};

/*
 * Scan n endpoints (parsed URLs) concurrently. *out gets an array of n
 * results in the order given (free with evc_ep_results_free). Names are
 * resolved first, all at once (getaddrinfo_a), within one timeout; a
 * name not resolved by then is that endpoint's error. 0, EVC_ERR_NOMEM,
 * EVC_ERR_CRYPTO (the anchors cannot be loaded: err names them).
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_scan(const struct evc_ep_url *urls, size_t n,
                                        const struct evc_ep_opts *o, struct evc_ep_result **out,
                                        struct evc_err *err);
EVC_EXPORT void evc_ep_results_free(struct evc_ep_result *res, size_t n);

/*
 * The SHA-256 of the first certificate of a file (PEM or DER), for
 * served-vs-on-disk comparison. 0, or an error naming the file in err.
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_file_sha256(const char *path, uint8_t sha256[32],
                                               struct evc_err *err);

/* Whether the served leaf differs from the compared certificate (compare_set and a chain). */
EVC_EXPORT int evc_ep_mismatch(const struct evc_ep_result *r);

/*
 * Add results to a report that is between begin and finish: one row per
 * presented certificate at "URL#i", classified at now like a file's; one
 * error row per endpoint that failed, did not verify, or serves another
 * certificate than the one compared with. Counts into *sum.
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_report(const struct evc_ep_result *res, size_t n, evc_time now,
                                          const struct evc_thresholds *t, struct evc_report *rep,
                                          struct evc_summary *sum);

/*
 * The evercert_endpoint_* gauges of results in Prometheus text format,
 * appended to out: up, leaf not_after, earliest verified expiry, verified,
 * mismatch, each labelled endpoint="URL" (and name="NAME" when names is
 * not NULL).
 */
EVC_EXPORT EVC_MUST_USE int evc_ep_prom(const struct evc_ep_result *res, size_t n,
                                        const char *const *names, struct evc_buf *out);

#endif
