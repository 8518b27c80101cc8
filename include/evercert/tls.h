/* SPDX-License-Identifier: Apache-2.0 */
/* TLS client helpers: what does a server present right now? */
#ifndef EVERCERT_TLS_H
#define EVERCERT_TLS_H

#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "evercert/buf.h"
#include "evercert/error.h"
#include "evercert/time.h"

/*
 * Connect to hostport ("host:port", "[v6]:port"), handshake with SNI
 * servername (or the host when NULL), and hand over the leaf the server
 * presented. The peer is not verified: this asks which certificate is
 * served, not whether to trust it. The connect and the handshake together
 * give up after timeout_ms.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_served_leaf(const char *hostport, const char *servername,
                                                int timeout_ms, X509 **out, struct evc_err *err);

/*
 * The handshake extension (docs/PROTOCOL.md): a private-use code
 * point. The ClientHello carries the generation the client has (uint64,
 * big-endian, exactly 8 bytes); the server answers in TLS 1.3
 * EncryptedExtensions with its SA, only when it has a newer generation.
 */
#define EVC_TLS_EXT_TYPE 0xFF5E

/* What one probing handshake learned. */
struct evc_probe {
    int verified;      /* the server verified against the trust given, for the name */
    char reason[160];  /* why not, in OpenSSL's words */
    char protocol[16]; /* "TLSv1.3" */
    X509 *leaf;        /* presented; freed by evc_probe_clear */
    struct evc_buf sa; /* the SA the server sent (empty: none, or not verified) */
};

/*
 * One handshake with the extension, sending have as the client's
 * generation: verify the server against trust_file (PEM anchors; NULL:
 * the system's) and servername (default the host), and keep the SA only
 * if it verified. Returns 0 when a handshake completed (verified or not,
 * see p->verified), else an error naming the peer.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_probe(const char *hostport, const char *servername,
                                          const char *trust_file, uint64_t have, int timeout_ms,
                                          struct evc_probe *p, struct evc_err *err);
EVC_EXPORT void evc_probe_clear(struct evc_probe *p);

/* An open client connection (the push channel keeps one). */
struct evc_tls_conn {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
};

/*
 * As evc_tls_probe, with the anchors in trust (a reference is taken; NULL:
 * the system's), leaving the connection open in c for reading. On error c
 * holds nothing; on success close it with evc_tls_conn_close, whether the
 * peer verified or not. timeout_ms bounds the connect and the handshake as
 * a whole, however slowly the peer sends; afterwards the socket blocks,
 * each read or write waiting at most timeout_ms.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_open(const char *hostport, const char *servername,
                                         X509_STORE *trust, uint64_t have, int timeout_ms,
                                         struct evc_probe *p, struct evc_tls_conn *c,
                                         struct evc_err *err);
/*
 * As evc_tls_open, and abandoned (EVC_ERR_IO, "asked to stop") as soon as
 * cancel_fd is readable: a service passes a signalfd of its stop signals
 * so that no peer can hold it in a handshake. cancel_fd -1: none.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_open_cancel(const char *hostport, const char *servername,
                                                X509_STORE *trust, uint64_t have, int timeout_ms,
                                                int cancel_fd, struct evc_probe *p,
                                                struct evc_tls_conn *c, struct evc_err *err);
EVC_EXPORT void evc_tls_conn_close(struct evc_tls_conn *c);

/*
 * When each step of a client handshake happened, in milliseconds from
 * the start of the TCP connect (-1: not reached), and the fatal TLS alert
 * of the handshake (its AlertDescription, -1: none).
 */
struct evc_tls_timing {
    double tcp_ms;          /* TCP connected */
    double client_hello_ms; /* ClientHello written */
    double server_hello_ms; /* ServerHello read */
    double certificate_ms;  /* the server's Certificate read and checked */
    double alert_ms;        /* the fatal alert sent or read */
    double finished_ms;     /* handshake complete */
    int alert;
    int alert_sent; /* 1: this client sent it; 0: the server did */
};

/*
 * As evc_tls_open, but as an application connects: a server that does
 * not verify against trust for servername fails the handshake with the
 * alert OpenSSL sends (unknown_ca, certificate_expired, ...), which t
 * records with the time of every step (t may be NULL). On failure the
 * error names the peer and OpenSSL's reason, c holds nothing, and
 * p->leaf holds what the server presented if it got that far: clear p
 * with evc_probe_clear whether this succeeds or not.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_session(const char *hostport, const char *servername,
                                            X509_STORE *trust, uint64_t have, int timeout_ms,
                                            struct evc_tls_timing *t, struct evc_probe *p,
                                            struct evc_tls_conn *c, struct evc_err *err);
/*
 * As evc_tls_session, offering no protocol above max_version
 * (TLS1_2_VERSION: a client of before TLS 1.3, which gets no SA in the
 * handshake; 0: the highest OpenSSL knows).
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_session_max(const char *hostport, const char *servername,
                                                X509_STORE *trust, uint64_t have, int max_version,
                                                int timeout_ms, struct evc_tls_timing *t,
                                                struct evc_probe *p, struct evc_tls_conn *c,
                                                struct evc_err *err);

/* --- the server: one published context, swapped whole -------------------- */

struct evc_tls_server;

/* A server with no context yet. Session-ticket keys are made here and kept for its life. */
EVC_EXPORT EVC_MUST_USE int evc_tls_server_new(struct evc_tls_server **out, struct evc_err *err);

/*
 * Build a context from cert (PEM; a chain may follow the leaf), key, an
 * optional chain file and an optional SA file, check it (the key matches,
 * the certificate is within its validity at now), and publish it: new
 * handshakes use it, handshakes under way keep theirs. On any error the
 * published context stays as it was. A missing SA file means no SA; an SA
 * over EVC_SA_HANDSHAKE_MAX is kept for evc_tls_server_sa (push, URL) but
 * never put in the handshake.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_server_load(struct evc_tls_server *s, const char *cert,
                                                const char *key, const char *chain, const char *sa,
                                                evc_time now, struct evc_err *err);

/* A new SSL on the published context (NULL if none). The caller frees it. */
EVC_EXPORT SSL *evc_tls_server_ssl(struct evc_tls_server *s);

/* What is published: the leaf's SHA-256 and the SA's generation (0: none). */
EVC_EXPORT void evc_tls_server_current(struct evc_tls_server *s, uint8_t sha256[32],
                                       uint64_t *sa_generation);

/*
 * Call cb(arg, ssl, have) once per connection whose client sent the
 * extension, when its handshake completes, with the generation it holds
 * (on every context the holder builds, before and after swaps). It runs
 * in the thread doing the handshake; NULL: none.
 */
EVC_EXPORT void evc_tls_server_on_hello(struct evc_tls_server *s,
                                        void (*cb)(void *arg, SSL *ssl, uint64_t have), void *arg);

/* The published SA's bytes, copied into out (empty if none). */
EVC_EXPORT EVC_MUST_USE int evc_tls_server_sa(struct evc_tls_server *s, struct evc_buf *out);

EVC_EXPORT void evc_tls_server_free(struct evc_tls_server *s);

/* --- the client ------------------------------------------------------------ */

/* Add the extension to a client context. */
EVC_EXPORT EVC_MUST_USE int evc_tls_client_enable(SSL_CTX *ctx, struct evc_err *err);

/* The generation this connection has (sent in its ClientHello); default 0. */
EVC_EXPORT EVC_MUST_USE int evc_tls_client_set_generation(SSL *ssl, uint64_t have);

/*
 * After the handshake: the SA the server sent, into out (empty if none).
 * Only from a handshake whose peer verified (SSL_get_verify_result is OK
 * with a peer certificate): EVC_ERR_POLICY otherwise.
 */
EVC_EXPORT EVC_MUST_USE int evc_tls_client_sa(SSL *ssl, struct evc_buf *out, struct evc_err *err);

#endif
