/* SPDX-License-Identifier: Apache-2.0 */
/* Open-addressing set of 16-byte identities, kept at most half full. */
#include <stdlib.h>
#include <string.h>

#include "base/idset.h"
#include "evercert/error.h"

void
evc_idset_init(struct evc_idset *s)
{
    memset(s, 0, sizeof(*s));
}

void
evc_idset_free(struct evc_idset *s)
{
    free(s->slots);
    free(s->used_map);
    memset(s, 0, sizeof(*s));
}

static size_t
slot_of(const uint8_t id[EVC_ID_LEN], size_t cap)
{
    uint64_t h;

    memcpy(&h, id, sizeof(h));
    return (size_t)h & (cap - 1);
}

static void
insert(struct evc_idset *s, const uint8_t id[EVC_ID_LEN])
{
    size_t i = slot_of(id, s->cap);

    while (s->used_map[i]) {
        if (memcmp(s->slots[i], id, EVC_ID_LEN) == 0) {
            return;
        }
        i = (i + 1) & (s->cap - 1);
    }
    memcpy(s->slots[i], id, EVC_ID_LEN);
    s->used_map[i] = 1;
    s->used++;
}

int
evc_idset_add(struct evc_idset *s, const uint8_t id[EVC_ID_LEN])
{
    if ((s->used + 1) * 2 > s->cap) {
        struct evc_idset n;
        size_t cap = s->cap ? s->cap * 2 : 256;

        n.cap = cap;
        n.used = 0;
        n.slots = calloc(cap, EVC_ID_LEN);
        n.used_map = calloc(cap, 1);
        if (n.slots == NULL || n.used_map == NULL) {
            free(n.slots);
            free(n.used_map);
            return EVC_ERR_NOMEM;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->used_map[i]) {
                insert(&n, s->slots[i]);
            }
        }
        evc_idset_free(s);
        *s = n;
    }
    insert(s, id);
    return 0;
}

int
evc_idset_has(const struct evc_idset *s, const uint8_t id[EVC_ID_LEN])
{
    if (s->cap == 0) {
        return 0;
    }
    for (size_t i = slot_of(id, s->cap); s->used_map[i]; i = (i + 1) & (s->cap - 1)) {
        if (memcmp(s->slots[i], id, EVC_ID_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}
