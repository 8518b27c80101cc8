/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing strings that came from outside (certificate names, file names)
 * into JSON, Prometheus labels and terminals without letting them break out.
 * Every function appends to a buffer and returns 0 or EVC_ERR_LIMIT/NOMEM.
 */
#ifndef EVC_BASE_TEXT_H
#define EVC_BASE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/buf.h"

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if s does not start
 * one (overlong forms, surrogates and values past U+10FFFF are invalid).
 * *cp receives the code point.
 */
size_t evc_utf8_seq(const uint8_t *s, size_t len, uint32_t *cp);

/* A JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD. */
int evc_text_json(struct evc_buf *b, const char *s);

/* A Prometheus label value (no quotes); invalid UTF-8 becomes U+FFFD. */
int evc_text_prom(struct evc_buf *b, const char *s);

/*
 * Text safe for a terminal: C0 and C1 controls, DEL and invalid UTF-8 are
 * written as \xNN (C1 as \u00NN); backslash is doubled. Tabs are escaped
 * too, so the result can sit in a tab-separated record.
 */
int evc_text_vis(struct evc_buf *b, const char *s);

/*
 * evc_text_vis in at most max bytes: a longer result is cut between two
 * characters (never inside a UTF-8 sequence or an escape) and ends with
 * "...", all within max.
 */
int evc_text_nvis(struct evc_buf *b, const char *s, size_t max);

/* Untrusted text printed for people is cut at this many bytes. */
#define EVC_TEXT_SHOW_MAX 1024

/* s as valid UTF-8: each byte that starts no valid sequence becomes U+FFFD. */
int evc_text_utf8(struct evc_buf *b, const char *s);

/*
 * A jansson string of s made valid UTF-8 as evc_text_utf8 does (jansson
 * refuses invalid UTF-8 outright); NULL only when out of memory. s may be
 * NULL (the empty string).
 */
struct json_t;
struct json_t *evc_text_jstring(const char *s);

/*
 * A client id (the acknowledgement's clientId, the URL's client=, [agent]
 * client_id): 1..EVC_ACK_ID_MAX letters, digits or . _ - : @. 0, or
 * EVC_ERR_PARSE. Pure. The one copy of the charset.
 */
int evc_text_id_check(const char *id, size_t len);

/* Lower-case hex of n bytes into out, which holds 2 * n + 1 bytes. */
void evc_text_hex(const uint8_t *p, size_t n, char *out);

/*
 * The n bytes spelled by s, which is exactly 2 * n hex digits (either
 * case) and then its end: 0, or EVC_ERR_PARSE for a shorter or longer
 * string, NULL, or any other character (sign, space, "0x"), out then
 * untouched. Pure.
 */
int evc_text_unhex(const char *s, uint8_t *out, size_t n);

#endif
