/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A set of fixed-size identities (truncated digests), open addressing.
 * The identities are digests already, so their first bytes are the hash.
 */
#ifndef EVC_BASE_IDSET_H
#define EVC_BASE_IDSET_H

#include <stddef.h>
#include <stdint.h>

#define EVC_ID_LEN 16

struct evc_idset {
    uint8_t (*slots)[EVC_ID_LEN];
    uint8_t *used_map;
    size_t cap, used;
};

void evc_idset_init(struct evc_idset *s);
void evc_idset_free(struct evc_idset *s);
/* 0 or EVC_ERR_NOMEM. */
int evc_idset_add(struct evc_idset *s, const uint8_t id[EVC_ID_LEN]);
int evc_idset_has(const struct evc_idset *s, const uint8_t id[EVC_ID_LEN]);

#endif
