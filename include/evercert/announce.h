/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Successor Announcement (docs/PROTOCOL.md): a CMS SignedData whose content
 * is a SuccessorInfo, signed by the current certificate's key and by the
 * successor's. This header builds one and reads its content back; the
 * client's checks (signers, names, generation) come with the agent.
 */
#ifndef EVERCERT_ANNOUNCE_H
#define EVERCERT_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/limits.h"
#include "evercert/time.h"

/* An SA is at most this long (65,536 bytes is one); longer input is rejected before parsing. */
#define EVC_SA_MAX ((size_t)64 * 1024)
/*
 * The largest SA a server puts in the handshake. OpenSSL's client refuses
 * an EncryptedExtensions message over 20,000 bytes ("excessive message
 * size": ENCRYPTED_EXTENSIONS_MAX_LENGTH in ssl/statem/statem_local.h),
 * and that message also carries the extension's 6 bytes of framing and
 * the server's other extensions (server_name, ALPN, early_data: tens of
 * bytes). 16 KiB leaves 3.6 KB of that room unused; tls_test measures the
 * limit. A larger SA goes by the push channel and the URL only.
 */
#define EVC_SA_HANDSHAKE_MAX ((size_t)16 * 1024)
/* successor and anchors hold 1..8 certificates each. */
#define EVC_SA_CERTS_MAX 8
/*
 * activateBy, a signed attribute (of the current key's signer when evercert
 * writes it; read from any signer): the latest moment the server switches (it may wait for its
 * clients until then). A UUID OID (X.667), so no registry is needed; clients that do not know it
 * ignore it.
 */
#define EVC_SA_ACTIVATE_BY_OID "2.25.164594110015757007141534605945301123798"
/* serviceName: a host name (RFC 1035 LDH labels) or an IP address literal. */
#define EVC_SA_SERVICE_MAX 253

struct evc_sa {
    char service[EVC_SA_SERVICE_MAX + 1];
    uint64_t generation;
    evc_time published_at;
    evc_time activate_at;
    evc_time activate_by;       /* the server's deadline (signed attribute); 0: not said */
    STACK_OF(X509) * successor; /* leaf first */
    STACK_OF(X509) * anchors;   /* new roots and their links; NULL when absent */
};

struct evc_sa_params {
    const char *service;
    uint64_t generation;
    evc_time published_at;
    evc_time activate_at;
    X509 *current; /* signs first: continuity */
    EVP_PKEY *current_key;
    X509 *successor; /* signs second: proof of possession */
    EVP_PKEY *successor_key;
    STACK_OF(X509) * chain;   /* issuers of the successor, or NULL */
    STACK_OF(X509) * anchors; /* a new root and its link certificates, or NULL */
    evc_time activate_by;     /* the latest the server switches; 0: not said */
};

/*
 * Build the DER of an SA into out. EVC_ERR_BAD_KEY for a key CMS cannot
 * sign with (Ed25519 in OpenSSL 3.0), EVC_ERR_USAGE for bad parameters.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_encode(const struct evc_sa_params *p, struct evc_buf *out,
                                          struct evc_err *err);

/*
 * Read an SA's content without checking its signatures (that is the
 * agent's policy): the CMS structure, then the SuccessorInfo, each
 * consuming its whole input. *out is freed with evc_sa_free.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_decode(const uint8_t *der, size_t len, struct evc_sa **out,
                                          struct evc_err *err);
EVC_EXPORT void evc_sa_free(struct evc_sa *sa);

/*
 * Is name (len bytes, no NUL needed) a serviceName: 1 to 253 bytes, an
 * IPv4 or IPv6 address literal or dot-separated labels of 1 to 63 letters,
 * digits and hyphens (no hyphen first or last; so no "*.", no "_", no
 * control or non-ASCII byte)? 0, or EVC_ERR_PARSE with the reason in why
 * (a static string; why may be NULL). Pure.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_service_check(const char *name, size_t len, const char **why);

/*
 * The SHA-256 of each signer's certificate, as carried in the SA (up to
 * max; *n gets the number of signers). A signer whose certificate is not
 * carried gets all zeros.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_signers(const uint8_t *der, size_t len, uint8_t (*fps)[32],
                                           size_t max, size_t *n, struct evc_err *err);

/* --- the acknowledgement (client to server, on the push channel) ---------- */

/*
 * A client's word that it has written a successor (docs/PROTOCOL.md):
 *   Acknowledgement ::= SEQUENCE { version INTEGER (1), generation INTEGER (0..MAX),
 *                                  clientId UTF8String (SIZE (1..64)) OPTIONAL }
 * The server only counts it; it can make a switch wait, never come sooner.
 */
#define EVC_ACK_MAX 128

struct evc_ack {
    uint64_t generation;                /* the newest the client has installed */
    char client_id[EVC_ACK_ID_MAX + 1]; /* "" when absent */
};

/* 0 when id (len bytes) is 1..64 letters, digits or . _ - : @; else EVC_ERR_PARSE. Pure. */
EVC_EXPORT EVC_MUST_USE int evc_ack_id_check(const char *id, size_t len);
/* DER into out (cap bytes; EVC_ACK_MAX always suffices). EVC_ERR_USAGE for a bad id. */
EVC_EXPORT EVC_MUST_USE int evc_ack_encode(const struct evc_ack *a, uint8_t *out, size_t cap,
                                           size_t *len);
/*
 * Read exactly one acknowledgement of len bytes: strict DER (minimal
 * lengths and integers), nothing after it. EVC_ERR_PARSE or EVC_ERR_LIMIT
 * with the reason in *why (static; why may be NULL); out is zeroed on
 * error. Pure, linear.
 */
EVC_EXPORT EVC_MUST_USE int evc_ack_parse(const uint8_t *der, size_t len, struct evc_ack *out,
                                          const char **why);

/* --- the client's decision ------------------------------------------------ */

enum evc_sa_decision { EVC_SA_ACCEPT = 0, EVC_SA_QUEUE = 1, EVC_SA_REJECT = 2 };

/* Why, one per rule of docs/PROTOCOL.md; stable names for logs and tests. */
#define EVC_SA_REASONS(X)                                                                          \
    X(OK, "ok")                                                                                    \
    X(MALFORMED, "malformed")                                                                      \
    X(SIGNER_COUNT, "signer-count")                                                                \
    X(UNKNOWN_SIGNER, "unknown-signer")                                                            \
    X(NO_CURRENT_SIGNER, "no-current-signer")                                                      \
    X(NO_SUCCESSOR_SIGNER, "no-successor-signer")                                                  \
    X(BAD_SIGNATURE, "bad-signature")                                                              \
    X(SERVICE, "service-mismatch")                                                                 \
    X(WIDENS, "widens")                                                                            \
    X(WEAK_KEY, "weak-key")                                                                        \
    X(ROLLBACK, "rollback")                                                                        \
    X(REPLAY, "replay")                                                                            \
    X(CONFLICT, "conflict")                                                                        \
    X(VALIDITY, "validity")                                                                        \
    X(NO_ANCHOR, "no-anchor")                                                                      \
    X(ANCHORS_UNDER_PIN, "anchors-under-pin")                                                      \
    X(ANCHOR_NOT_CA, "anchor-not-ca")                                                              \
    X(ANCHOR_UNNEEDED, "anchor-unneeded")                                                          \
    X(ANCHOR_NO_LINK, "anchor-no-link")                                                            \
    X(ANCHOR_LINK_KEY, "anchor-link-key")                                                          \
    X(ANCHOR_LINK_UNTRUSTED, "anchor-link-untrusted")                                              \
    X(EKU_WIDER, "eku-wider")                                                                      \
    X(GENERATION_JUMP, "generation-jump")                                                          \
    X(LIFETIME_LONGER, "lifetime-longer")

enum evc_sa_reason {
#define EVC_SA_REASON_ENUM(name, text) EVC_SA_R_##name,
    EVC_SA_REASONS(EVC_SA_REASON_ENUM)
#undef EVC_SA_REASON_ENUM
};

enum evc_sa_policy_mode { EVC_SA_POLICY_AUTO = 0, EVC_SA_POLICY_MANUAL, EVC_SA_POLICY_CA };

struct evc_sa_policy {
    enum evc_sa_policy_mode mode;
    /*
     * The client's trust store. Policy ca: the anchors the successor must
     * chain to. Pinned trust: when given, a successor that does not sign
     * itself must chain to it (the store takes no other certificate); NULL
     * for a pin file, which takes the successor leaf itself.
     */
    X509_STORE *trust;
    int64_t skew; /* seconds of clock skew allowed at activateAt (default 300) */
};

/* What the client knows about the service before this SA. */
struct evc_sa_known {
    X509 *trusted;              /* the certificate trusted now for the service */
    const char *service;        /* the name the client connects to; NULL: the SA's */
    uint64_t last_generation;   /* last accepted, 0 if none */
    const uint8_t *last_sha256; /* SHA-256 of the last accepted SA, or NULL */
};

struct evc_sa_verdict {
    enum evc_sa_decision decision;
    enum evc_sa_reason reason;
    char message[256];
    struct evc_sa *sa;  /* decoded, when it parsed; freed by evc_sa_verdict_clear */
    uint8_t sha256[32]; /* of the SA's DER */
};

/*
 * Decide on an SA, as docs/PROTOCOL.md's rules say, all of them: the SA parses
 * under the cap with exactly two signers, one the trusted certificate and
 * one the successor leaf, both signatures verify; the service name matches
 * both (DNS names and IP addresses never confused); the successor never
 * widens (SANs a subset, no CA, key usage no wider, extended key usage a
 * subset of the current's, serverAuth kept, key no weaker: RSA >= 2048, EC
 * on P-256/P-384/P-521, not smaller than the current and no fewer security
 * bits); the generation is newer than the last (equal with other content:
 * conflict) and at most EVC_SA_GENERATION_STEP_MAX past it; the successor
 * is valid at activateAt and lives at most a tenth longer than the
 * current; under policy ca it chains to the
 * trust store or to the one root of its anchors that evc_sa_anchor_check
 * accepts; under pinned trust (auto, manual, and holddown, which is auto)
 * it carries no anchors at all. Pure: no I/O, no clock but now. The
 * verdict is always filled; the return value is 0, or an error for an
 * internal failure.
 */
EVC_EXPORT EVC_MUST_USE int evc_sa_verify(const uint8_t *der, size_t len,
                                          const struct evc_sa_known *known,
                                          const struct evc_sa_policy *policy, evc_time now,
                                          struct evc_sa_verdict *out);
EVC_EXPORT void evc_sa_verdict_clear(struct evc_sa_verdict *v);

/*
 * What an SA's anchors may add to a trust store under policy ca (rules 6
 * and 7), with every certificate checked at when. If the successor and
 * its chain already verify against trust for TLS server use, the anchors
 * are not looked at and *anchor is NULL. Otherwise every anchor must be a
 * CA certificate, and they must be exactly one self-signed root, the one
 * the successor's verified chain ends in, and one or more link
 * certificates for it: its subject and public key, issued by a CA in
 * trust, verifying against trust. Then *anchor is that root, borrowed
 * from sa: the only certificate to add. Returns EVC_SA_R_OK, or the
 * reason (no-anchor, anchor-not-ca, anchor-unneeded, anchor-no-link,
 * anchor-link-key, anchor-link-untrusted) with why. Pure; an internal
 * failure is a refusal.
 */
EVC_EXPORT EVC_MUST_USE enum evc_sa_reason evc_sa_anchor_check(const struct evc_sa *sa,
                                                               X509_STORE *trust, evc_time when,
                                                               X509 **anchor, char *why,
                                                               size_t len);
EVC_EXPORT const char *evc_sa_reason_name(enum evc_sa_reason r);
EVC_EXPORT const char *evc_sa_decision_name(enum evc_sa_decision d);

#endif
