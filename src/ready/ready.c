/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The readiness tracker (include/evercert/ready.h): fixed-size entries,
 * one per (address group, client id), in a hash table with an LRU list.
 * Entries are allocated as they are made and never number more than the
 * cap, so a flood of addresses costs bounded memory and forgets the
 * least recently seen first. The hash is keyed with a secret made at
 * evc_ready_new, so peers that choose their addresses and ids (an IPv6
 * /48 holds 65536 groups) cannot pile them into one chain and make an
 * observation cost more than O(1).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "evercert/ready.h"
#include "ready/ready_int.h"

struct entry {
    struct evc_ready_group g;
    char id[EVC_ACK_ID_MAX + 1];
    uint8_t src;
    uint64_t held;
    evc_time seen;
    struct entry *hnext;         /* the bucket's chain */
    struct entry *newer, *older; /* the LRU list */
};

struct evc_ready {
    int64_t window;
    size_t max, n;
    uint64_t forgotten;
    uint64_t k0, k1; /* the hash key */
    struct entry **buckets;
    size_t nbuckets; /* a power of two, grown with n up to the cap */
    struct entry *newest, *oldest;
};

const char *
evc_ready_source_name(enum evc_ready_source src)
{
    switch (src) {
    case EVC_READY_HELLO:
        return "hello";
    case EVC_READY_ACK:
        return "ack";
    case EVC_READY_URL:
        return "url";
    default:
        return "?";
    }
}

int
evc_ready_id_ok(const char *id, size_t len)
{
    if (len == 0 || len > EVC_ACK_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':' || c == '@')) {
            return 0;
        }
    }
    return 1;
}

/* From 16 bytes of an IPv6 address. */
static void
group_v6(const uint8_t a[16], struct evc_ready_group *g)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(g, 0, sizeof(*g));
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        g->family = 4;
        memcpy(g->a, a + 12, 4);
    } else {
        /* A host picks its own interface id: its /64 is the client. */
        g->family = 6;
        memcpy(g->a, a, 8);
    }
}

int
evc_ready_group_of(const struct sockaddr *sa, struct evc_ready_group *g)
{
    sa_family_t fam;

    memset(g, 0, sizeof(*g));
    if (sa == NULL) {
        return -1;
    }
    /* Bytes, not members: the caller's object may be any of the sockaddr types. */
    memcpy(&fam, (const uint8_t *)sa + offsetof(struct sockaddr, sa_family), sizeof(fam));
    if (fam == AF_INET) {
        g->family = 4;
        memcpy(g->a, (const uint8_t *)sa + offsetof(struct sockaddr_in, sin_addr), 4);
        return 0;
    }
    if (fam == AF_INET6) {
        uint8_t a[16];

        memcpy(a, (const uint8_t *)sa + offsetof(struct sockaddr_in6, sin6_addr), 16);
        group_v6(a, g);
        return 0;
    }
    return -1;
}

void
evc_ready_group_text(const struct evc_ready_group *g, char out[48])
{
    if (g->family == 4) {
        (void)inet_ntop(AF_INET, g->a, out, 48);
    } else {
        uint8_t a[16] = {0};
        size_t n;

        memcpy(a, g->a, 8);
        (void)inet_ntop(AF_INET6, a, out, 44);
        n = strlen(out);
        memcpy(out + n, "/64", 4);
    }
}

/* SipHash-1-3 over the group and the id, keyed per tracker. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t m, b = (uint64_t)n << 56;
    size_t i = 0;

    for (; n - i >= 8; i += 8) {
        m = 0;
        for (int j = 0; j < 8; j++) {
            m |= (uint64_t)p[i + (size_t)j] << (8 * j);
        }
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (int j = 0; i + (size_t)j < n; j++) {
        b |= (uint64_t)p[i + (size_t)j] << (8 * j);
    }
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static size_t
bucket_of(const struct evc_ready *r, const struct evc_ready_group *g, const char *id, size_t idlen)
{
    uint8_t key[sizeof(*g) + EVC_ACK_ID_MAX];

    memcpy(key, g, sizeof(*g));
    memcpy(key + sizeof(*g), id, idlen);
    return (size_t)siphash(r->k0, r->k1, key, sizeof(*g) + idlen) & (r->nbuckets - 1);
}

int
evc_ready_new(struct evc_ready **out, const struct evc_ready_opts *o, struct evc_err *err)
{
    struct evc_ready *r = NULL;
    int64_t window = o != NULL && o->window != 0 ? o->window : EVC_READY_WINDOW_DEFAULT;
    size_t max = o != NULL && o->max_entries != 0 ? o->max_entries : EVC_READY_ENTRIES_DEFAULT;
    uint64_t k[2];

    *out = NULL;
    if (window < 1 || window > (int64_t)3650 * 86400) {
        return evc_err_set(err, EVC_ERR_USAGE, "readiness window %lld s: expected 1 s to 3650 d",
                           (long long)window);
    }
    if (max > EVC_READY_ENTRIES_MAX) {
        return evc_err_set(err, EVC_ERR_USAGE, "readiness entries %zu: at most %zu", max,
                           (size_t)EVC_READY_ENTRIES_MAX);
    }
    if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
        return evc_err_set(err, EVC_ERR_IO, "readiness: no random bytes for the hash key");
    }
    if ((r = calloc(1, sizeof(*r))) == NULL ||
        (r->buckets = calloc(64, sizeof(*r->buckets))) == NULL) {
        free(r);
        return evc_err_set(err, EVC_ERR_NOMEM, "readiness: out of memory");
    }
    r->nbuckets = 64;
    r->window = window;
    r->max = max;
    r->k0 = k[0];
    r->k1 = k[1];
    *out = r;
    return 0;
}

void
evc_ready_free(struct evc_ready *r)
{
    struct entry *e, *next;

    if (r == NULL) {
        return;
    }
    for (e = r->newest; e != NULL; e = next) {
        next = e->older;
        free(e);
    }
    free(r->buckets);
    free(r);
}

static void
lru_unlink(struct evc_ready *r, struct entry *e)
{
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        r->newest = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        r->oldest = e->newer;
    }
    e->newer = e->older = NULL;
}

static void
lru_push(struct evc_ready *r, struct entry *e)
{
    e->newer = NULL;
    e->older = r->newest;
    if (r->newest != NULL) {
        r->newest->newer = e;
    } else {
        r->oldest = e;
    }
    r->newest = e;
}

static void
hash_unlink(struct evc_ready *r, struct entry *e)
{
    struct entry **pp = &r->buckets[bucket_of(r, &e->g, e->id, strlen(e->id))];

    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->hnext;
    }
    if (*pp == e) {
        *pp = e->hnext;
    }
    e->hnext = NULL;
}

/* Double the buckets while entries outnumber them; on no memory the chains just grow longer. */
static void
maybe_grow(struct evc_ready *r)
{
    struct entry **nb, *e;
    size_t want = r->nbuckets * 2;

    if (r->n < r->nbuckets || r->nbuckets >= r->max) {
        return;
    }
    if ((nb = calloc(want, sizeof(*nb))) == NULL) {
        return;
    }
    free(r->buckets);
    r->buckets = nb;
    r->nbuckets = want;
    for (e = r->newest; e != NULL; e = e->older) {
        size_t b = bucket_of(r, &e->g, e->id, strlen(e->id));

        e->hnext = nb[b];
        nb[b] = e;
    }
}

void
evc_ready_observe_group(struct evc_ready *r, const struct evc_ready_group *g, const char *id,
                        uint64_t held, enum evc_ready_source src, evc_time at)
{
    size_t idlen = id != NULL ? strnlen(id, EVC_ACK_ID_MAX + 1) : 0, b;
    struct entry *e;

    if (idlen > 0 && !evc_ready_id_ok(id, idlen)) {
        idlen = 0;
    }
    if (idlen == 0) {
        id = "";
    }
    b = bucket_of(r, g, id, idlen);
    for (e = r->buckets[b]; e != NULL; e = e->hnext) {
        if (memcmp(&e->g, g, sizeof(*g)) == 0 && strlen(e->id) == idlen &&
            memcmp(e->id, id, idlen) == 0) {
            break;
        }
    }
    if (e != NULL) {
        if (at < e->seen) {
            return; /* an older word than the one kept (a log read out of order) */
        }
        lru_unlink(r, e);
    } else {
        if (r->n >= r->max && r->oldest != NULL) {
            e = r->oldest;
            lru_unlink(r, e);
            hash_unlink(r, e);
            r->n--;
            r->forgotten++;
            memset(e, 0, sizeof(*e));
        } else if ((e = calloc(1, sizeof(*e))) == NULL) {
            return;
        }
        e->g = *g;
        memcpy(e->id, id, idlen);
        e->id[idlen] = '\0';
        b = bucket_of(r, g, id, idlen);
        e->hnext = r->buckets[b];
        r->buckets[b] = e;
        r->n++;
    }
    e->held = held;
    e->seen = at;
    e->src = (uint8_t)src;
    lru_push(r, e);
    /* After the push: the rehash walks the LRU list, which must hold every entry. */
    maybe_grow(r);
}

void
evc_ready_observe(struct evc_ready *r, const struct sockaddr *peer, const char *id, uint64_t held,
                  enum evc_ready_source src, evc_time at)
{
    struct evc_ready_group g;

    if (r == NULL || evc_ready_group_of(peer, &g) != 0) {
        return;
    }
    evc_ready_observe_group(r, &g, id, held, src, at);
}

int
evc_ready_addr_parse(const char *addr, size_t len, struct evc_ready_group *g)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    uint8_t a[16];

    memset(g, 0, sizeof(*g));
    if (len == 0 || len >= sizeof(tmp) || memchr(addr, '\0', len) != NULL) {
        return EVC_ERR_PARSE;
    }
    memcpy(tmp, addr, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, a) == 1) {
        g->family = 4;
        memcpy(g->a, a, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, a) == 1) {
        group_v6(a, g);
        return 0;
    }
    return EVC_ERR_PARSE;
}

int
evc_ready_observe_text(struct evc_ready *r, const char *addr, size_t len, const char *id,
                       uint64_t held, enum evc_ready_source src, evc_time at)
{
    struct evc_ready_group g;

    if (evc_ready_addr_parse(addr, len, &g) != 0) {
        return EVC_ERR_PARSE;
    }
    evc_ready_observe_group(r, &g, id, held, src, at);
    return 0;
}

/* --- counting ------------------------------------------------------------- */

static int
by_group(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

    return memcmp(&x->g, &y->g, sizeof(x->g));
}

struct client {
    uint64_t held;
    const struct entry *who; /* the entry that holds the group back */
};

static int
by_seen(const void *a, const void *b)
{
    const struct client *x = a, *y = b;

    if (x->who->seen != y->who->seen) {
        return x->who->seen < y->who->seen ? -1 : 1;
    }
    return by_group(&x->who, &y->who);
}

static int
by_gen_desc(const void *a, const void *b)
{
    const struct client *x = a, *y = b;

    return x->held == y->held ? 0 : (x->held > y->held ? -1 : 1);
}

void
evc_ready_count(struct evc_ready *r, uint64_t successor, evc_time now,
                struct evc_ready_summary *out)
{
    struct entry **v = NULL, *e;
    struct client *c = NULL, *w = NULL;
    size_t n = 0, nc = 0, nun = 0;

    memset(out, 0, sizeof(*out));
    out->successor = successor;
    out->at = now;
    if (r == NULL) {
        return;
    }
    out->window = r->window;
    out->entries = r->n;
    out->forgotten = r->forgotten;
    if (r->n == 0) {
        return;
    }
    if ((v = calloc(r->n, sizeof(*v))) == NULL || (c = calloc(r->n, sizeof(*c))) == NULL ||
        (w = calloc(r->n, sizeof(*w))) == NULL) {
        /* A count that cannot be made says not ready (the deadline bounds the wait), never ready.
         */
        free(v);
        free(c);
        out->clients = r->n;
        return;
    }
    for (e = r->newest; e != NULL; e = e->older) {
        if (e->seen >= now - r->window) {
            v[n++] = e;
        }
    }
    qsort(v, n, sizeof(*v), by_group);
    for (size_t i = 0, j; i < n; i = j) {
        int named = 0;
        struct client k = {UINT64_MAX, NULL};
        size_t first = nun;

        for (j = i; j < n && by_group(&v[i], &v[j]) == 0; j++) {
            named |= v[j]->id[0] != '\0';
        }
        for (size_t m = i; m < j; m++) {
            /*
             * Where clients name themselves, the names are the clients: the
             * unnamed entry holds the latest of every unnamed report from
             * the address (their own handshakes among them), which flips
             * between clients and would judge the group by whoever spoke last.
             */
            if (v[m]->id[0] == '\0' && named) {
                continue;
            }
            if (k.who == NULL || v[m]->held < k.held ||
                (v[m]->held == k.held && v[m]->seen < k.who->seen)) {
                k.held = v[m]->held;
                k.who = v[m];
            }
            /* Every client of the group that holds less is named, not one for all. */
            if (v[m]->held < successor) {
                w[nun].held = v[m]->held;
                w[nun++].who = v[m];
            }
        }
        if (k.held >= successor) {
            nun = first; /* a group that is ready lists nobody */
        }
        c[nc++] = k;
    }
    out->clients = nc;
    /* The generations, newest first. */
    qsort(c, nc, sizeof(*c), by_gen_desc);
    for (size_t i = 0; i < nc; i++) {
        if (c[i].held >= successor) {
            out->ready++;
        }
        if (out->ngens > 0 && out->gens[out->ngens - 1].generation == c[i].held) {
            out->gens[out->ngens - 1].clients++;
        } else if (out->ngens < EVC_READY_GENS_MAX) {
            out->gens[out->ngens].generation = c[i].held;
            out->gens[out->ngens].clients = 1;
            out->ngens++;
        } else {
            out->gens_other++;
        }
    }
    /* The unready, least recently seen first. */
    qsort(w, nun, sizeof(*w), by_seen);
    for (size_t i = 0; i < nun && i < EVC_READY_LIST_MAX; i++) {
        struct evc_ready_client *u = &out->unready[i];

        evc_ready_group_text(&w[i].who->g, u->addr);
        memcpy(u->id, w[i].who->id, sizeof(u->id));
        u->held = w[i].held;
        u->seen = w[i].who->seen;
        u->src = (enum evc_ready_source)w[i].who->src;
        out->nunready++;
    }
    free(w);
    free(c);
    free(v);
}

int
evc_ready_met(const struct evc_ready_summary *s, unsigned share_percent)
{
    if (s->clients == 0) {
        return 1;
    }
    return (uint64_t)s->ready * 100 >= (uint64_t)share_percent * s->clients;
}

size_t
evc_ready_entry_size(void)
{
    return sizeof(struct entry);
}
