/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side (docs/DESIGN.md and docs/PROTOCOL.md): follow servers, learn their
 * successors by the handshake extension, the push channel and the
 * well-known URL, decide on each SA by policy, and write what was accepted
 * into the trust stores the applications use.
 */
#ifndef EVERCERT_AGENT_H
#define EVERCERT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "evercert/announce.h"
#include "evercert/buf.h"
#include "evercert/cert.h"
#include "evercert/error.h"
#include "evercert/time.h"

/* --- pure parts ------------------------------------------------------------- */

/*
 * The push channel is DER objects back to back. Given the bytes so far,
 * *total gets the length of the first object once its header is in:
 * 0 when it is known, 1 when more bytes are needed to know it (*total
 * then gets how many bytes it must see to say more, so a reader never
 * reads past the object), or EVC_ERR_PARSE (not a SEQUENCE, an
 * indefinite or overlong length) or EVC_ERR_LIMIT (over max) with err
 * saying so. An object of exactly max bytes is within the cap. The
 * header is read by evc_der_element_head, the framer under
 * evc_der_element_len; this adds only the SA's rules (a SEQUENCE, the cap).
 */
EVC_EXPORT EVC_MUST_USE int evc_der_frame(const uint8_t *p, size_t n, size_t max, size_t *total,
                                          struct evc_err *err);

/*
 * The wait before reconnect attempt n (0, 1, ...): 1 s doubling up to
 * cap_ms, then a random part (rnd) takes it anywhere between half and
 * all of that, so many agents do not come back in step.
 */
EVC_EXPORT uint32_t evc_agent_backoff(unsigned attempt, uint32_t cap_ms, uint32_t rnd);

/*
 * What an accepted SA adds to a trust store, so that clients verify the
 * successor for its service at when. Under pinned trust (mode auto or
 * manual; holddown is auto): nothing if the successor already chains to
 * trust, else the successor itself if it is self-signed; an SA with
 * anchors is refused. Under mode ca: nothing if it already chains to
 * trust, else the one root of the SA's anchors that evc_sa_anchor_check
 * accepts (a root trusted now vouches for it by a link certificate).
 * Otherwise EVC_ERR_POLICY with why. *add is a new stack, possibly empty,
 * never holding more than one certificate. Pure.
 */
EVC_EXPORT EVC_MUST_USE int evc_agent_trust_plan(const struct evc_sa *sa,
                                                 enum evc_sa_policy_mode mode, X509_STORE *trust,
                                                 evc_time when, STACK_OF(X509) * *add,
                                                 struct evc_err *err);

/*
 * When the freeze alarm is due for a leaf: its renewal moment as renew
 * computes it (notAfter less the threshold, the threshold at most half
 * the lifetime), plus grace (the time the server may take to publish,
 * at most a quarter of the time from that moment to notAfter). 0 when
 * leaf is NULL or its dates do not read. Pure.
 */
EVC_EXPORT evc_time evc_agent_freeze_at(X509 *leaf, const struct evc_thresholds *t, int64_t grace);

/*
 * The freeze alarm: the leaf a server presents is past evc_agent_freeze_at
 * (or expired) and no successor has come for it. Pure.
 */
EVC_EXPORT int evc_agent_frozen(X509 *leaf, int successor_known, const struct evc_thresholds *t,
                                int64_t grace, evc_time now);

/* What a freeze check does with what it told before. */
enum evc_agent_freeze_step {
    EVC_FREEZE_QUIET = 0, /* not frozen, nothing standing */
    EVC_FREEZE_RAISE,     /* frozen, not told for this leaf: one line (and mail) */
    EVC_FREEZE_STANDS,    /* frozen and told already: no line, still an alarm */
    EVC_FREEZE_CLEAR      /* told before, no longer frozen: one "cleared" line */
};

/*
 * told is what was recorded last: "" (nothing), "cleared", or the SHA-256
 * (hex) of the leaf an alarm was raised for; leaf_hex the leaf judged now.
 * Each leaf raises at most once, and a raised alarm is cleared once. Pure.
 */
EVC_EXPORT enum evc_agent_freeze_step evc_agent_freeze_step(const char *told, const char *leaf_hex,
                                                            int frozen);

/* How near an SA that waits for a person is to the server's switch. */
enum evc_agent_wait_level {
    EVC_WAIT_EARLY = 0,   /* told when it came; not an alarm */
    EVC_WAIT_WARNING = 1, /* inside the last quarter of publication .. activate_at */
    EVC_WAIT_CRITICAL = 2 /* activate_at has passed: connections fail until it is approved */
};

/*
 * The level at now of an SA published at published_at that the server
 * switches to at activate_at. The warning starts at activate_at less a
 * quarter of (activate_at - published_at); an SA with no time between
 * the two warns at once. *next gets when the level next rises (0: never).
 * Pure.
 */
EVC_EXPORT enum evc_agent_wait_level
evc_agent_wait_level(evc_time published_at, evc_time activate_at, evc_time now, evc_time *next);

/*
 * The name this client gives its servers (an Acknowledgement's clientId
 * and the URL's client=) from [agent] client_id: configured as it is
 * (checked: 1..64 of the clientId characters), "none" for none, NULL for
 * host with every other character left out, cut to EVC_ACK_ID_MAX bytes.
 * out gets the name, "" for none. Pure.
 */
EVC_EXPORT void evc_agent_client_id(const char *configured, const char *host,
                                    char out[EVC_ACK_ID_MAX + 1]);

/*
 * url with what the client holds as its query (docs/PROTOCOL.md, the
 * well-known URL): held=G, and client=ID when id is not "", after any
 * query url has (joined by &) and before a fragment. id must be of the
 * clientId characters, which need no escaping. 0, or EVC_ERR_LIMIT when
 * it does not fit in cap bytes with its NUL (out is then ""). Pure.
 */
EVC_EXPORT EVC_MUST_USE int evc_agent_url_held(const char *url, uint64_t held, const char *id,
                                               char *out, size_t cap);

/* --- the agent -------------------------------------------------------------- */

struct evc_agent_opts {
    const char *config_path;
    int once;             /* contact each server once, then return */
    int64_t clock_offset; /* seconds added to the wall clock (--at) */
    /* If set, also gets every log line (escaped) with its syslog priority. */
    void (*on_line)(void *arg, int prio, const char *line);
    void *line_arg;
};

/*
 * Run the agent until SIGTERM or SIGINT, or one round with once. *status
 * (with once): 0 all fine (an SA waiting for approval before its warning
 * included), 1 a person is needed (an SA to approve inside its warning, a
 * standing freeze alarm, a conflict or a rejected SA), 2 a server could
 * not be reached or verified, or an SA is unapproved past its
 * activate_at, 3 unknown. SIGHUP rereads the configuration; a bad one is
 * reported and the old one kept.
 */
EVC_EXPORT EVC_MUST_USE int evc_agent_run(const struct evc_agent_opts *o, int *status,
                                          struct evc_err *err);

/*
 * A person's decision on a pending SA: approve checks it again (the rules
 * of docs/PROTOCOL.md at now, without the manual hold) and writes it; reject
 * drops it. msg gets one line saying what was done.
 */
EVC_EXPORT EVC_MUST_USE int evc_agent_decide(const char *config_path, int64_t id, int approve,
                                             int64_t clock_offset, char *msg, size_t len,
                                             struct evc_err *err);

/* The state database of an agent configuration: [agent] state, or the default. */
EVC_EXPORT void evc_agent_state_path(const char *config_path, const char *configured, char *out,
                                     size_t len);

#endif
