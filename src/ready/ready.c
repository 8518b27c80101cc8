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
 *
 * Named entries also hang on a list of their address group, at most
 * EVC_READY_GROUP_NAMES_MAX of them: a new name in a full group replaces
 * that group's least recently seen name, so one address inventing names
 * fills its own group, never the table, and cannot push other groups'
 * clients out. What a replaced name held still holds its group back for
 * a window. Entries forgotten at the cap leave their newest time behind:
 * a count that may miss a client seen in its window is not complete.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "evercert/ready.h"
#include "base/share.h"
#include "base/text.h"
#include "ready/ready_int.h"

struct grp;

struct entry {
    struct evc_ready_group g;
    char id[EVC_ACK_ID_MAX + 1];
    uint8_t src;
    uint64_t held;
    evc_time seen;
    struct entry *hnext;           /* the bucket's chain */
    struct entry *newer, *older;   /* the LRU list */
    struct grp *grp;               /* a named entry's group; NULL when unnamed */
    struct entry *gnewer, *golder; /* the group's names, most recently seen first */
};

/* An address group with names: its names' LRU list, and what replaced names held. */
struct grp {
    struct evc_ready_group g;
    size_t nnamed;
    struct entry *newest, *oldest;
    uint64_t lost_held; /* the lowest generation a replaced name held */
    evc_time lost_seen; /* the newest time a replaced name was seen; 0: none replaced */
    struct grp *hnext;
};

struct evc_ready {
    int64_t window;
    size_t max, n;
    uint64_t forgotten;
    evc_time since;       /* the start of what the tracker has heard */
    int since_set;        /* 0: the first report sets since */
    evc_time forgot_seen; /* the newest time an entry forgotten at the cap was seen */
    int forgot_any;
    uint64_t k0, k1; /* the hash key */
    struct entry **buckets;
    size_t nbuckets; /* a power of two, grown with n up to the cap */
    struct entry *newest, *oldest;
    struct grp **gbuckets;
    size_t ngbuckets, ngroups; /* as the entries' */
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
    return evc_text_id_check(id, len) == 0;
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
gbucket_of(const struct evc_ready *r, const struct evc_ready_group *g)
{
    return (size_t)siphash(r->k0, r->k1, (const uint8_t *)g, sizeof(*g)) & (r->ngbuckets - 1);
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
        (r->buckets = calloc(64, sizeof(*r->buckets))) == NULL ||
        (r->gbuckets = calloc(64, sizeof(*r->gbuckets))) == NULL) {
        if (r != NULL) {
            free(r->buckets);
        }
        free(r);
        return evc_err_set(err, EVC_ERR_NOMEM, "readiness: out of memory");
    }
    r->nbuckets = 64;
    r->ngbuckets = 64;
    if (o != NULL && o->since != 0) {
        r->since = o->since;
        r->since_set = 1;
    }
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
    for (size_t i = 0; i < r->ngbuckets; i++) {
        struct grp *gp, *gn;

        for (gp = r->gbuckets[i]; gp != NULL; gp = gn) {
            gn = gp->hnext;
            free(gp);
        }
    }
    free(r->gbuckets);
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

static struct grp *
grp_find(struct evc_ready *r, const struct evc_ready_group *g)
{
    struct grp *gp;

    for (gp = r->gbuckets[gbucket_of(r, g)]; gp != NULL; gp = gp->hnext) {
        if (memcmp(&gp->g, g, sizeof(*g)) == 0) {
            return gp;
        }
    }
    return NULL;
}

/* Double the group buckets as the entries' are; on no memory the chains grow longer. */
static void
grp_grow(struct evc_ready *r)
{
    struct grp **nb, **old = r->gbuckets, *gp, *gn;
    size_t want = r->ngbuckets * 2, oldn = r->ngbuckets;

    if (r->ngroups < r->ngbuckets || r->ngbuckets >= r->max) {
        return;
    }
    if ((nb = calloc(want, sizeof(*nb))) == NULL) {
        return;
    }
    r->gbuckets = nb;
    r->ngbuckets = want;
    for (size_t i = 0; i < oldn; i++) {
        for (gp = old[i]; gp != NULL; gp = gn) {
            size_t b = gbucket_of(r, &gp->g);

            gn = gp->hnext;
            gp->hnext = nb[b];
            nb[b] = gp;
        }
    }
    free(old);
}

static struct grp *
grp_get(struct evc_ready *r, const struct evc_ready_group *g)
{
    struct grp *gp = grp_find(r, g);
    size_t b;

    if (gp != NULL) {
        return gp;
    }
    if ((gp = calloc(1, sizeof(*gp))) == NULL) {
        return NULL;
    }
    gp->g = *g;
    b = gbucket_of(r, g);
    gp->hnext = r->gbuckets[b];
    r->gbuckets[b] = gp;
    r->ngroups++;
    grp_grow(r);
    return gp;
}

static void
grp_drop(struct evc_ready *r, struct grp *gp)
{
    struct grp **pp = &r->gbuckets[gbucket_of(r, &gp->g)];

    while (*pp != NULL && *pp != gp) {
        pp = &(*pp)->hnext;
    }
    if (*pp == gp) {
        *pp = gp->hnext;
    }
    r->ngroups--;
    free(gp);
}

static void
grp_unlink(struct entry *e)
{
    struct grp *gp = e->grp;

    if (e->gnewer != NULL) {
        e->gnewer->golder = e->golder;
    } else {
        gp->newest = e->golder;
    }
    if (e->golder != NULL) {
        e->golder->gnewer = e->gnewer;
    } else {
        gp->oldest = e->gnewer;
    }
    e->gnewer = e->golder = NULL;
}

static void
grp_push(struct grp *gp, struct entry *e)
{
    e->grp = gp;
    e->gnewer = NULL;
    e->golder = gp->newest;
    if (gp->newest != NULL) {
        gp->newest->gnewer = e;
    } else {
        gp->oldest = e;
    }
    gp->newest = e;
}

/* Take e out of the table, the LRU list and its group (freed with its last name). */
static void
detach(struct evc_ready *r, struct entry *e)
{
    lru_unlink(r, e);
    hash_unlink(r, e);
    if (e->grp != NULL) {
        struct grp *gp = e->grp;

        grp_unlink(e);
        e->grp = NULL;
        if (--gp->nnamed == 0) {
            grp_drop(r, gp);
        }
    }
    r->n--;
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
    if (!r->since_set) {
        r->since = at;
        r->since_set = 1;
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
        if (e->grp != NULL) {
            grp_unlink(e);
            grp_push(e->grp, e);
        }
    } else {
        struct grp *gp = idlen > 0 ? grp_find(r, g) : NULL;

        if (gp != NULL && gp->nnamed >= EVC_READY_GROUP_NAMES_MAX) {
            /* A full group makes room among its own names, never another group's. */
            e = gp->oldest;
            if (gp->lost_seen == 0 || e->held < gp->lost_held) {
                gp->lost_held = e->held;
            }
            if (e->seen > gp->lost_seen) {
                gp->lost_seen = e->seen;
            }
            detach(r, e);
            memset(e, 0, sizeof(*e));
        } else if (r->n >= r->max && r->oldest != NULL) {
            e = r->oldest;
            if (!r->forgot_any || e->seen > r->forgot_seen) {
                r->forgot_seen = e->seen;
            }
            r->forgot_any = 1;
            r->forgotten++;
            detach(r, e);
            memset(e, 0, sizeof(*e));
        } else if ((e = calloc(1, sizeof(*e))) == NULL) {
            return;
        }
        /* Found again: the cap may have dropped the group with its last name. */
        if (idlen > 0 && (gp = grp_get(r, g)) == NULL) {
            free(e);
            return;
        }
        if (gp != NULL) {
            grp_push(gp, e);
            gp->nnamed++;
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
    out->since = now;
    if (r == NULL) {
        return;
    }
    out->window = r->window;
    out->entries = r->n;
    out->forgotten = r->forgotten;
    if (r->since_set) {
        out->since = r->since;
    }
    /* Heard from the start of a whole window, and nobody seen in it forgotten since. */
    out->complete = r->since_set && now - r->window >= r->since &&
                    !(r->forgot_any && r->forgot_seen >= now - r->window);
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
        out->complete = 0;
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
            const struct grp *gp = v[m]->grp;

            /* Names its group replaced hold it back for a window: a flood of names is no word. */
            if (gp != NULL && gp->lost_seen >= now - r->window && k.held > gp->lost_held) {
                k.held = gp->lost_held;
                if (k.who == NULL) {
                    k.who = v[m];
                }
            }
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
    out->unready_total = nun;
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
    return evc_share_met(s->complete, s->clients, s->ready, share_percent);
}

void
evc_ready_heard(struct evc_ready *r, evc_time t)
{
    if (!r->since_set || t < r->since) {
        r->since = t;
        r->since_set = 1;
    }
}

size_t
evc_ready_entry_size(void)
{
    return sizeof(struct entry);
}
