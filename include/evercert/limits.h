/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every cap on input that comes from outside, in one place. Input over a
 * cap is rejected before memory is allocated for it.
 */
#ifndef EVERCERT_LIMITS_H
#define EVERCERT_LIMITS_H

/* One store file (a PEM bundle of 300,000 certificates fits). */
#define EVC_STORE_FILE_MAX ((size_t)256 * 1024 * 1024)

/* One DER certificate; real ones are under 16 KiB, huge SAN lists under 1 MiB. */
#define EVC_CERT_DER_MAX ((size_t)1024 * 1024)

/*
 * A DER header's length bytes (4: up to 4 GiB, past every cap here) and
 * tag bytes (a tag number up to 2^35, past any real one).
 */
#define EVC_DER_LENGTH_BYTES_MAX 4
#define EVC_DER_TAG_BYTES_MAX 6

/* subjectAltName entries read from one certificate. */
#define EVC_CERT_SANS_MAX 4096

/* One certificate's printed subject or issuer name. */
#define EVC_NAME_TEXT_MAX ((size_t)64 * 1024)

/* A password read from a file or the environment. */
#define EVC_PASSWORD_MAX 1024

/* Directory levels a scan descends. */
#define EVC_WALK_DEPTH_MAX 64

/* Directory levels and *.crt files read in a system trust directory (trust format system). */
#define EVC_SYSDIR_DEPTH_MAX 16
#define EVC_SYSDIR_FILES_MAX 10000

/* A path built while walking directories. */
#define EVC_PATH_MAX 4096

/* Symbolic links followed to the file a store write replaces. */
#define EVC_LINK_HOPS_MAX 16

/* Error rows one file may produce; the rest are counted in one last row. */
#define EVC_FILE_ERRORS_MAX 16

/* Safe bags read from one PKCS#12 file, and how deeply they may nest. */
#define EVC_PKCS12_BAGS_MAX 10000
#define EVC_PKCS12_NEST_MAX 4

/*
 * SAs a rule refused, kept per server in the agent's state (newest first,
 * by when last seen): at most this many and this many bytes; older ones
 * are dropped. The bytes cap holds at least one SA of the largest size.
 */
#define EVC_AGENT_REFUSED_MAX 32
#define EVC_AGENT_REFUSED_BYTES_MAX ((size_t)512 * 1024)

/* Rejection events kept per server in the agent's history (a person's are always kept). */
#define EVC_AGENT_REJECT_EVENTS_MAX 256

/*
 * The URL the agent fetches, with its held= and client= query: a
 * configuration line can hold the URL, the query adds at most 102 bytes.
 */
#define EVC_URL_HELD_MAX (EVC_CONFIG_LINE_MAX + 128)

/*
 * Rejection log lines per server: the first BURST of each window, then
 * one line for the window with the count of those held back.
 */
#define EVC_AGENT_REJECT_LOG_BURST 5
#define EVC_AGENT_REJECT_LOG_WINDOW_S 60

/*
 * Key derivation iterations a PKCS#12 file may ask for: the count of its
 * MAC and of each password-based encryption (PKCS#12 PBE, PBES2 with
 * PBKDF2; for scrypt, N * r * p). Real tools write 2,000 (Windows), 2,048
 * (OpenSSL 3), 10,000 (Java keytool) and up to 100,000 (the MAC of older
 * Java releases); OWASP's advice for PBKDF2-SHA256 is 600,000. The cap is
 * ten times the highest default and keeps the derivations of one file to
 * about a second, where a count of 2^31 costs minutes of CPU.
 */
#define EVC_PKCS12_ITER_MAX 1000000

/*
 * Java keystores (JKS, JCEKS): entries read from one file and certificates
 * in one key entry's chain. keytool's own stores hold a few hundred
 * entries (Java's cacerts about 150); a chain is rarely over 5.
 */
#define EVC_JKS_ENTRIES_MAX 100000
#define EVC_JKS_CHAIN_MAX 64

/*
 * A column of a text table (scan, renew, activate, history) is as wide as
 * its widest value up to this many characters; a longer value shifts its
 * own row only, so one long path cannot push every row off the screen.
 */
#define EVC_TABLE_WIDTH_MAX 48

/*
 * How far in the future a successor's notBefore may be when it goes live
 * (clock skew between the machine that issued it and this one); a staged
 * successor starting later is stale and made again.
 */
#define EVC_SWAP_SLACK 300

/*
 * activate = ready: a successor waiting for its clients is counted again
 * at least this often (seconds), and the monitor reads at most this much
 * of the end of an access log: the lines of the readiness window, not a
 * year of history, and a bounded cost per pass.
 */
#define EVC_READY_RECHECK_MAX 60
#define EVC_READY_LOG_TAIL_MAX (16 * 1024 * 1024)

/*
 * How far an SA's generation may move past the last accepted one (renew
 * adds 1): one SA with 2^64-1 would make every later one a rollback.
 */
#define EVC_SA_GENERATION_STEP_MAX 1000

/* At most this many stores, and as many servers, in one configuration (and one renew run). */
#define EVC_CONFIG_STORES_MAX 256

/*
 * One line of the configuration file. inih, which read it before, split
 * lines at 199 bytes; this holds any path up to EVC_PATH_MAX with its key.
 */
#define EVC_CONFIG_LINE_MAX 8192

/*
 * evercert serve: the HTTPS addresses one server listens on; the longest
 * request head (request line and headers; longer gets a 4xx status and a
 * close) and body (consumed, then ignored) it reads; and how much a push
 * listener may leave unread before it is dropped.
 */
#define EVC_SERVE_LISTEN_MAX 8
#define EVC_SERVE_HEAD_MAX 8192
#define EVC_SERVE_BODY_MAX 65536
#define EVC_SERVE_PUSH_BUFFER_MAX (256 * 1024)
/*
 * At a connection's close, what the client sent and nobody read is read
 * and dropped first, up to this much, so the close is not a reset.
 */
#define EVC_SERVE_DRAIN_MAX (64 * 1024)

/*
 * Readiness (ready.h): a client's id, in acknowledgements, URL queries and
 * [agent] client_id alike (its charset: base/text.h, evc_text_id_check); the
 * named entries one address group may hold in a tracker (a new name in a
 * full group replaces that group's least recently seen, so one address
 * cannot push other clients out); the most entries a tracker may be
 * given; the status text (GET /status) a reader takes; acknowledgements a
 * push connection may send in EVC_SERVE_ACK_WINDOW_S seconds before it is
 * dropped.
 */
#define EVC_ACK_ID_MAX 64
#define EVC_READY_GROUP_NAMES_MAX 16
#define EVC_READY_ENTRIES_MAX ((size_t)16 * 1024 * 1024)
#define EVC_READY_STATUS_MAX ((size_t)64 * 1024)
#define EVC_SERVE_ACK_BURST 10
#define EVC_SERVE_ACK_WINDOW_S 10
/*
 * Push connections: at most EVC_SERVE_PUSH_MAX at once, EVC_SERVE_PUSH_PER_PEER
 * of them from one address (an agent needs one per server), and part of an
 * acknowledgement is held at most EVC_SERVE_ACK_PARTIAL_S seconds.
 */
#define EVC_SERVE_PUSH_MAX 4096
#define EVC_SERVE_PUSH_PER_PEER 64
#define EVC_SERVE_ACK_PARTIAL_S 10

/*
 * Shared stores (shared.h): a host's name in a lease or successor row
 * (longer is refused); a sealed private key (PEM of an RSA 8192 key is
 * under 7 KB) and its record; a published chain (PEM) and its SA are read
 * from the database under EVC_SHARED_CHAIN_MAX and EVC_SA_MAX.
 */
#define EVC_SHARED_HOST_MAX 63
#define EVC_SEAL_PLAIN_MAX ((size_t)16 * 1024)
#define EVC_SEAL_RECORD_MAX (EVC_SEAL_PLAIN_MAX + 64)
#define EVC_SHARED_CHAIN_MAX ((size_t)256 * 1024)

/*
 * Endpoint scanning (endpoint.h): a URL's length and its host's; a line of
 * an SMTP or IMAP reply, and all of the bytes a peer may send before TLS
 * (a greeting, EHLO's reply, STARTTLS's); all bytes read from one peer,
 * handshake included (OpenSSL's own cap on the certificate message is
 * 100 KiB); certificates of a presented chain kept; endpoints in flight
 * at once; endpoints in one scan.
 */
#define EVC_EP_URL_MAX 1024
#define EVC_EP_HOST_MAX 253
#define EVC_EP_LINE_MAX 1024
#define EVC_EP_PRETLS_MAX (16 * 1024)
#define EVC_EP_READ_MAX (256 * 1024)
#define EVC_EP_CHAIN_MAX 16
#define EVC_EP_PARALLEL_MAX 4096
#define EVC_EP_MAX 1000000
/* [endpoint "NAME"] sections in one configuration. */
#define EVC_CONFIG_ENDPOINTS_MAX 100000

/*
 * The fleet inventory (fleet.h): a host name; the rows one snapshot of a
 * source may hold (more are cut and the host marked incomplete); the
 * outbox rows sent in one transaction; the outbox's rows in all (when full,
 * the oldest snapshots waiting are dropped first, events only when no
 * snapshot is left, and the host is marked incomplete); the events kept
 * per host in the inventory besides [fleet] keep (oldest pruned); the
 * hosts named behind a server's newest generation in a report.
 */
#define EVC_FLEET_HOST_MAX 255
#define EVC_FLEET_SNAPSHOT_MAX ((size_t)100000)
#define EVC_FLEET_BATCH ((size_t)1000)
#define EVC_FLEET_OUTBOX_MAX ((size_t)200000)
#define EVC_FLEET_EVENTS_PER_HOST_MAX ((int64_t)100000)
#define EVC_FLEET_BEHIND_MAX 100
/* Fleet writes an agent keeps in memory between two ticks (each under 700 bytes). */
#define EVC_AGENT_FLEET_PENDING_MAX 1024

#endif
