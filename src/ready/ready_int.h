/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/ready: address groups and the id charset. */
#ifndef EVC_READY_INT_H
#define EVC_READY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "evercert/ready.h"

/* An address group: an IPv4 address (family 4) or an IPv6 /64 (family 6, 8 bytes). */
struct evc_ready_group {
    uint8_t family;
    uint8_t a[8];
};

/* 1 when id (len bytes) is a client id (base/text.h's evc_text_id_check). */
int evc_ready_id_ok(const char *id, size_t len);
/* The group of an AF_INET or AF_INET6 address; -1 for another family. */
int evc_ready_group_of(const struct sockaddr *sa, struct evc_ready_group *g);
/* A numeric address in text into its group; 0 or EVC_ERR_PARSE. */
int evc_ready_addr_parse(const char *addr, size_t len, struct evc_ready_group *g);
void evc_ready_group_text(const struct evc_ready_group *g, char out[48]);
void evc_ready_observe_group(struct evc_ready *r, const struct evc_ready_group *g, const char *id,
                             uint64_t held, enum evc_ready_source src, evc_time at);

/* The tracker heard what was said at t (a log's line): since goes back to t if it is earlier. */
void evc_ready_heard(struct evc_ready *r, evc_time t);

/* Bytes one entry takes (the benchmark prints it). */
size_t evc_ready_entry_size(void);

#endif
