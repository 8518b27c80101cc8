/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The planned steps that change the stores, each written durably before
 * the next (nothing in a dry run):
 *   recreate root: old root to the deleted store, then the new pair in one
 *     switch (the root store's save: evc_pair_save or one PKCS#12 rename);
 *   renew: <key>.next, <cert>.next, then <cert>.sa; a successor counts as
 *     staged only when all three agree, so debris is simply made again;
 *   add a signer to a trust store, retire an old one, purge the deleted
 *   store; and the repairs no plan needs.
 * The swap itself is in swap.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/announce.h"
#include "base/file.h"
#include "ca/renew_int.h"

int
evc_renew_pem_chain(STACK_OF(X509) * chain, struct evc_buf *out, struct evc_err *err)
{
    int r = 0;

    for (int i = 0; r == 0 && i < sk_X509_num(chain); i++) {
        r = evc_x509_pem(sk_X509_value(chain, i), out, err);
    }
    return r;
}

int
evc_renew_keep_deleted(struct run *run, X509 *x, const char *store, const char *why,
                       struct evc_err *err)
{
    if (!run->policy->delete_old || run->deleted == NULL) {
        return 0;
    }
    return evc_deleted_put(run->deleted, x, store, why, run->o->now, err);
}

static int
new_key_like(EVP_PKEY *old, EVP_PKEY **out, struct evc_err *err)
{
    char spec[32];
    int r;

    if ((r = evc_key_spec(old, spec, sizeof(spec), err)) != 0) {
        return r;
    }
    return evc_key_generate(spec, out, err);
}

/* A new default root in an empty root store, as WebSphere's monitor makes one. */
int
evc_renew_create_root(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    struct root_st *rs = &run->roots[i];
    struct evc_cert_req req = {
        EVC_PROFILE_ROOT, "CN=" EVC_DEFAULT_ROOT_CN ",O=evercert", NULL, NULL, 0,
        run->o->now,      run->o->now + EVC_DEFAULT_ROOT_LIFETIME};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int r;

    if ((r = evc_key_generate(EVC_KEY_DEFAULT, &key, err)) != 0 ||
        (r = evc_ca_make(&req, key, NULL, NULL, &cert, err)) != 0) {
        goto out;
    }
    evc_renew_set_new(v, cert);
    if (!run->o->dry_run && (r = rs->ops->save(rs, cert, key, err)) != 0) {
        goto out;
    }
    rs->cert = cert;
    rs->key = key;
    rs->empty = 0;
    cert = NULL;
    key = NULL;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return r;
}

int
evc_renew_recreate(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    struct root_st *rs = &run->roots[i];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL, *link = NULL;
    struct evc_buf lb;
    int r;

    evc_buf_init(&lb, EVC_STORE_FILE_MAX);
    evc_renew_set_old(v, rs->cert);
    if ((r = new_key_like(rs->key, &key, err)) != 0 ||
        (r = evc_ca_renew(rs->cert, key, NULL, NULL, run->o->now, &cert, err)) != 0 ||
        (r = evc_ca_renew(cert, key, rs->cert, rs->key, run->o->now, &link, err)) != 0) {
        goto out;
    }
    evc_renew_set_new(v, cert);
    if (run->o->dry_run) {
        goto out;
    }
    /* The link first: a link without its root is ignored, a root without its link is not made. */
    if ((r = evc_x509_pem(link, &lb, err)) != 0 ||
        (r = evc_atomic_write(rs->link_path, lb.data, lb.len, 0644, err)) != 0 ||
        (r = evc_renew_keep_deleted(run, rs->cert, rs->conf->name, "root recreated", err)) != 0 ||
        (r = rs->ops->save(rs, cert, key, err)) != 0) {
        goto out;
    }
out:
    if (r == 0) {
        /* Later steps sign with the new root (a dry run's would-be root) and link to it. */
        X509_free(rs->cert);
        EVP_PKEY_free(rs->key);
        X509_free(rs->link);
        rs->cert = cert;
        rs->key = key;
        rs->link = link;
        cert = NULL;
        key = NULL;
        link = NULL;
    }
    evc_buf_free(&lb);
    X509_free(cert);
    X509_free(link);
    EVP_PKEY_free(key);
    return r;
}

/* The service name an SA speaks for: configured, else the first DNS SAN, else the CN. */
static void
service_of(const struct personal_st *p, char *out, size_t outlen)
{
    GENERAL_NAMES *gens;

    snprintf(out, outlen, "%s", p->conf->service != NULL ? p->conf->service : "");
    if (*out != '\0') {
        return;
    }
    gens = X509_get_ext_d2i(leaf(p), NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        /* A wildcard or a name with odd bytes cannot be a service name; the next may. */
        if (g->type == GEN_DNS &&
            evc_sa_service_check((const char *)ASN1_STRING_get0_data(g->d.dNSName),
                                 (size_t)ASN1_STRING_length(g->d.dNSName), NULL) == 0) {
            snprintf(out, outlen, "%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
            break;
        }
    }
    GENERAL_NAMES_free(gens);
    if (*out == '\0') {
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf(p)), NID_commonName, out, (int)outlen);
    }
}

/*
 * publish = DIR: where the SA goes for a web server that serves DIR as is,
 * the subdirectories made (0755) when the run writes. DIR itself must
 * exist: a web root that is not there is a mistake, not something to make.
 * DIR is followed as the operator named it, but nothing below it may be a
 * symbolic link: whoever may write in a web root (the web server's user)
 * must not be able to point the monitor's writes elsewhere.
 */
static int
publish_path(const struct run *run, const struct personal_st *p, char *out, size_t outlen,
             struct evc_err *err)
{
    static const char *const below[] = {"/.well-known", "/.well-known/evercert"};
    char dir[EVC_PATH_MAX];
    struct stat st;

    if (stat(p->conf->publish, &st) == -1 || !S_ISDIR(st.st_mode)) {
        return evc_err_set(err, EVC_ERR_NOENT, "store \"%s\": publish = %s is not a directory",
                           p->conf->name, p->conf->publish);
    }
    for (size_t i = 0; i < sizeof(below) / sizeof(below[0]); i++) {
        if (evc_path_fmt(dir, sizeof(dir), "%s%s", p->conf->publish, below[i]) != 0) {
            return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", p->conf->publish);
        }
        if (lstat(dir, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                return evc_err_set(err, EVC_ERR_POLICY,
                                   "store \"%s\": %s is %s, not a directory: nothing is published "
                                   "through it",
                                   p->conf->name, dir,
                                   S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
            }
        } else if (errno != ENOENT) {
            return evc_err_set(err, evc_errno_code(errno), "%s: %s", dir, strerror(errno));
        } else if (writes(run) && evc_mkdirs(dir, 0755, err) != 0) {
            return err->code != 0 ? err->code : EVC_ERR_IO;
        }
    }
    if (evc_path_fmt(out, outlen, "%s/successor", dir) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", p->conf->publish);
    }
    if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
        return evc_err_set(err, EVC_ERR_POLICY,
                           "store \"%s\": %s is %s, not a file: nothing is written through it",
                           p->conf->name, out,
                           S_ISLNK(st.st_mode) ? "a symbolic link" : "not a file");
    }
    return 0;
}

/*
 * Stage a successor: <key>.next, <cert>.next, then <cert>.sa, in the run's
 * group commit (renamed in this order after one sync). load_staged()
 * accepts the three only when they agree, so a crash anywhere in between
 * leaves debris that the next run simply stages again.
 */
int
evc_renew_write_staged(struct run *run, struct personal_st *p, STACK_OF(X509) * next,
                       EVP_PKEY *nkey, const struct evc_buf *sa, struct evc_err *err)
{
    struct evc_buf c, k;
    int r;

    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    if ((r = evc_renew_pem_chain(next, &c, err)) != 0 || (r = evc_key_pem(nkey, &k, err)) != 0) {
        goto out;
    }
    if (run->batch == NULL && (r = evc_batch_new(&run->batch, err)) != 0) {
        goto out;
    }
    if ((r = evc_batch_write(run->batch, p->next_key, k.data, k.len, 0600, err)) != 0 ||
        (r = evc_batch_write(run->batch, p->next_cert, c.data, c.len, 0644, err)) != 0 ||
        (r = evc_batch_write(run->batch, p->sa_path, sa->data, sa->len, 0644, err)) != 0) {
        goto out;
    }
    /* Renamed after the .sa: a crash between the two is repaired by the next run. */
    if (p->conf->publish != NULL) {
        char pub[EVC_PATH_MAX];

        if ((r = publish_path(run, p, pub, sizeof(pub), err)) != 0 ||
            (r = evc_batch_write(run->batch, pub, sa->data, sa->len, 0644, err)) != 0) {
            goto out;
        }
    }
out:
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

/* Make the staged successors durable before anything depends on them. */
int
evc_renew_commit_staged(struct run *run, struct evc_err *err)
{
    int r = 0;

    if (run->batch != NULL) {
        r = evc_batch_commit(run->batch, err);
        evc_batch_free(run->batch);
        run->batch = NULL;
    }
    return r;
}

/* "stale successor: expired" or "stale successor: web.key.next without web.crt.next". */
void
evc_renew_stale_note(const struct personal_st *p, enum evc_stale st, char *out, size_t outlen)
{
    snprintf(out, outlen, "stale successor: %.180s",
             st == EVC_STALE_DEBRIS ? p->debris : evc_stale_name(st));
}

void
evc_renew_detail_prepend(struct evc_renew_action *v, const char *note)
{
    char rest[sizeof(v->detail)];
    size_t n = strlen(note), m = strlen(v->detail), room = sizeof(v->detail) - 1;

    if (n == 0) {
        return;
    }
    memcpy(rest, v->detail, m + 1);
    n = n < room ? n : room;
    memcpy(v->detail, note, n);
    if (m > 0 && n + 2 < room) {
        memcpy(v->detail + n, "; ", 2);
        n += 2;
        m = m < room - n ? m : room - n;
        memcpy(v->detail + n, rest, m);
        n += m;
    }
    v->detail[n] = '\0';
}

/*
 * Make a new successor for personals[i]. A staged one it replaces (stale
 * says why) goes to the deleted store first, so the record of what was
 * announced stays; the new SA's generation is above the old one's, so
 * clients that saw the old take the new.
 */
int
evc_renew_stage(struct run *run, size_t i, enum evc_stale stale, struct evc_renew_action *v,
                struct evc_err *err)
{
    struct personal_st *p = &run->pers[i];
    struct root_st *rs = p->root >= 0 ? &run->roots[p->root] : NULL;
    EVP_PKEY *nkey = NULL;
    X509 *n = NULL;
    STACK_OF(X509) *next = NULL, *anchors = NULL;
    struct evc_buf sa;
    char service[EVC_SA_SERVICE_MAX + 1], note[200];
    struct evc_sa_params sp;
    struct evc_shared_offer offer;
    evc_time by;
    int r, shared = p->conf->shared && writes(run);

    evc_buf_init(&sa, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL after the bytes */
    evc_renew_offer_init(&offer);
    evc_renew_set_old(v, leaf(p));
    note[0] = '\0';
    if (stale != EVC_STALE_NONE) {
        evc_renew_stale_note(p, stale, note, sizeof(note));
    }
    /*
     * A shared store: only the lease holder makes a successor; every other
     * host uses the one published, or waits. Nothing is written before.
     */
    if (shared && rs != NULL) {
        /* Each host would recreate this root alone: their successors could never agree. */
        evc_renew_shared_wait(v, EVC_SHARED_REFUSED,
                              "shared store \"%.64s\" is issued by root store \"%.64s\" of this "
                              "configuration; roots are not shared, so it is not renewed",
                              p->conf->name, rs->conf->name);
        r = 0;
        goto out;
    }
    if (shared) {
        evc_renew_shared_turn(run, p, stale, &offer);
        if (offer.turn == EVC_SHARED_USE) {
            struct evc_renew_action before = *v;

            if ((r = evc_renew_shared_use(run, p, stale, &offer, note, v, err)) != 1) {
                goto out;
            }
            /* Refused here: the fleet is asked again, and may let the holder supersede the row. */
            offer.refused = offer.generation;
            snprintf(offer.detail, sizeof(offer.detail), "%s", v->detail);
            *v = before;
            evc_renew_shared_turn(run, p, stale, &offer);
            if (offer.turn == EVC_SHARED_USE) {
                r = evc_renew_shared_use(run, p, stale, &offer, note, v, err);
                r = r > 0 ? 0 : r;
                goto out;
            }
        }
        if (offer.turn != EVC_SHARED_MAKE) {
            evc_renew_shared_wait(v, offer.turn, "%s", offer.detail);
            r = 0;
            goto out;
        }
    }
    if (stale != EVC_STALE_NONE && p->next != NULL && !run->o->dry_run &&
        (r = evc_renew_keep_deleted(run, sk_X509_value(p->next, 0), p->conf->name, note, err)) !=
            0) {
        goto out;
    }
    if (run->policy->reuse_key) {
        EVP_PKEY_up_ref(p->key);
        nkey = p->key;
    } else if ((r = new_key_like(p->key, &nkey, err)) != 0) {
        goto out;
    }
    if ((r = evc_ca_renew(leaf(p), nkey, rs != NULL ? rs->cert : NULL, rs != NULL ? rs->key : NULL,
                          run->o->now, &n, err)) != 0) {
        goto out;
    }
    evc_renew_set_new(v, n);
    if ((next = sk_X509_new_null()) == NULL || !X509_add_cert(next, n, X509_ADD_FLAG_UP_REF) ||
        (rs != NULL && sk_X509_num(p->chain) > 1 &&
         !X509_add_cert(next, rs->cert, X509_ADD_FLAG_UP_REF))) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    /*
     * A new root travels in the SA with its link from the old root, so
     * clients under policy ca can trust it before the switch. A root
     * without a link (a default root for a lost one) is carried too, and
     * clients refuse it: the operator brings that root to them.
     */
    if (rs != NULL && !evc_x509_signed_by(leaf(p), rs->cert)) {
        if ((anchors = sk_X509_new_null()) == NULL ||
            !X509_add_cert(anchors, rs->cert, X509_ADD_FLAG_UP_REF) ||
            (rs->link != NULL && !X509_add_cert(anchors, rs->link, X509_ADD_FLAG_UP_REF))) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    service_of(p, service, sizeof(service));
    memset(&sp, 0, sizeof(sp));
    sp.service = service;
    sp.generation = shared ? offer.generation : p->generation + 1;
    sp.published_at = run->o->now;
    sp.activate_at = evc_policy_activate_at(run->policy, run->o->now, not_after(leaf(p)));
    sp.current = leaf(p);
    sp.current_key = p->key;
    sp.successor = n;
    sp.successor_key = nkey;
    sp.anchors = anchors;
    v->activate_at = sp.activate_at;
    /* Under activate = at the deadline is activate_at itself: no activateBy to announce. */
    by = evc_policy_activate_by(run->policy, sp.activate_at, not_before(leaf(p)),
                                not_after(leaf(p)));
    v->activate_by = run->policy->activate == EVC_ACTIVATE_READY ? by : 0;
    sp.activate_by = v->activate_by;
    if ((r = evc_sa_encode(&sp, &sa, err)) == EVC_ERR_BAD_KEY && shared) {
        /* Followers check what they take by its SA: a shared store cannot do without one. */
        evc_renew_shared_wait(v, EVC_SHARED_REFUSED, "%s",
                              "a shared store needs an SA, and none can be signed with this key");
        r = 0;
        goto out;
    }
    if (r == EVC_ERR_BAD_KEY) {
        /*
         * No SA can be signed with this key (Ed25519 in OpenSSL 3.0), so
         * there is nothing to publish first: swap at once, as WebSphere does.
         */
        sk_X509_pop_free(p->next, X509_free);
        EVP_PKEY_free(p->nkey);
        p->next = next;
        p->nkey = nkey;
        next = NULL;
        nkey = NULL;
        v->activate_at = run->o->now;
        if ((r = evc_renew_commit_staged(run, err)) != 0 ||
            (r = evc_renew_swap(run, p, v, err)) != 0) {
            goto out;
        }
        snprintf(v->detail, sizeof(v->detail), "no SA for %s keys; swapped at once",
                 EVP_PKEY_get0_type_name(p->nkey));
        evc_renew_detail_prepend(v, note);
        goto out;
    }
    if (r != 0) {
        goto out;
    }
    if (shared && (r = evc_renew_shared_publish(run, p, sp.generation, offer.token, next, nkey,
                                                sp.activate_at, &sa, v, err)) != 0) {
        r = r > 0 ? 0 : r; /* not published: a wait line, nothing staged */
        goto out;
    }
    if (!run->o->dry_run && (r = evc_renew_write_staged(run, p, next, nkey, &sa, err)) != 0) {
        goto out;
    }
    snprintf(v->detail, sizeof(v->detail), "generation %llu for %.100s%s%s",
             (unsigned long long)sp.generation, service,
             sa.len > EVC_SA_HANDSHAKE_MAX ? "; over the handshake's 16 KiB: push and URL only"
                                           : "",
             anchors != NULL && rs->link == NULL
                 ? "; the new root has no link: clients must be given it by hand"
                 : "");
    evc_renew_detail_prepend(v, note);
    sk_X509_pop_free(p->next, X509_free);
    EVP_PKEY_free(p->nkey);
    p->next = next;
    p->nkey = nkey;
    p->activate_at = sp.activate_at;
    p->activate_by = by;
    p->generation = sp.generation;
    p->made = 1;
    next = NULL;
    nkey = NULL;
    r = 0;
out:
    evc_renew_offer_clear(&offer);
    evc_buf_free(&sa);
    X509_free(n);
    sk_X509_pop_free(next, X509_free);
    sk_X509_pop_free(anchors, X509_free);
    EVP_PKEY_free(nkey);
    return r;
}

/*
 * Mend what needs no plan, each with a report line: a deleted store made
 * again, and <key>.next files an interrupted activation left behind. A
 * trust store a person emptied is left so, and said.
 */
int
evc_renew_repair(struct run *run, struct evc_err *err)
{
    struct evc_action a = {EVC_ACT_REPAIR, 0, EVC_REASON_NONE, EVC_STALE_NONE};
    struct evc_renew_action *v;
    int r;

    if (run->deleted_made) {
        if ((v = evc_renew_action_add(run, &a, run->deleted_conf->name)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        snprintf(v->detail, sizeof(v->detail), "%.200s was missing; made again",
                 run->deleted_conf->path);
        v->done = writes(run);
        run->repairs++;
    }
    for (size_t i = 0; i < run->npers; i++) {
        struct personal_st *p = &run->pers[i];

        if (!p->leftover) {
            continue;
        }
        if ((v = evc_renew_action_add(run, &a, p->conf->name)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        evc_renew_set_new(v, leaf(p));
        snprintf(v->detail, sizeof(v->detail),
                 "%.150s, the live key, left by an activation that stopped; removed", p->next_key);
        if (writes(run) && (r = evc_durable_unlink(p->next_key, err)) != 0) {
            snprintf(v->detail, sizeof(v->detail), "%s", evc_err_message(err));
            return r;
        }
        v->done = writes(run);
        run->repairs++;
    }
    /* publish = DIR: the web root holds the SA the store has (set later, or a run stopped). */
    for (size_t i = 0; i < run->npers; i++) {
        struct personal_st *p = &run->pers[i];
        struct evc_buf sa, cur;
        char pub[EVC_PATH_MAX];
        int same;

        if (p->conf->publish == NULL) {
            continue;
        }
        evc_buf_init(&sa, EVC_SA_MAX);
        evc_buf_init(&cur, EVC_SA_MAX);
        if (evc_file_read(p->sa_path, EVC_SA_MAX, &sa, NULL) != 0) {
            evc_buf_free(&sa);
            continue; /* no SA yet: nothing to publish */
        }
        if ((r = publish_path(run, p, pub, sizeof(pub), err)) != 0) {
            evc_buf_free(&sa);
            return r;
        }
        same = evc_file_read(pub, EVC_SA_MAX, &cur, NULL) == 0 && cur.len == sa.len &&
               memcmp(cur.data, sa.data, sa.len) == 0;
        evc_buf_free(&cur);
        if (same) {
            evc_buf_free(&sa);
            continue;
        }
        if ((v = evc_renew_action_add(run, &a, p->conf->name)) == NULL) {
            evc_buf_free(&sa);
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        snprintf(v->detail, sizeof(v->detail), "%.110s did not hold %.110s; published", pub,
                 p->sa_path);
        if (writes(run) && (r = evc_atomic_write(pub, sa.data, sa.len, 0644, err)) != 0) {
            evc_buf_free(&sa);
            snprintf(v->detail, sizeof(v->detail), "%s", evc_err_message(err));
            return r;
        }
        evc_buf_free(&sa);
        v->done = writes(run);
        run->repairs++;
    }
    a.type = EVC_ACT_NOTE;
    for (size_t i = 0; i < run->ntrusts; i++) {
        if (run->trusts[i].t->n > 0) {
            continue;
        }
        if ((v = evc_renew_action_add(run, &a, run->trusts[i].conf->name)) == NULL) {
            return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
        snprintf(v->detail, sizeof(v->detail),
                 "%.150s holds no certificate; left empty, nothing in it to keep current",
                 run->trusts[i].conf->path);
        /* Nothing written: a note must not read as work done (the monitor mails work done). */
    }
    return 0;
}

int
evc_renew_add_signer(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    const struct evc_fact_trust *f = &run->ftrusts[i];
    struct trust_st *ts = &run->trusts[f->trust];
    X509 *n = evc_renew_newest_signer(run, f);
    uint8_t fp[32];

    v->store = ts->conf->name;
    if (n == NULL) {
        return evc_err_set(err, EVC_ERR_INTERNAL, "no signer to add");
    }
    evc_renew_set_new(v, n);
    if (evc_x509_sha256(n, fp) != 0) {
        return evc_err_set(err, EVC_ERR_CRYPTO, "cannot hash a certificate");
    }
    if (evc_trust_find(ts->t, fp) >= 0) {
        snprintf(v->detail, sizeof(v->detail), "already there");
        return 0;
    }
    if (run->o->dry_run) {
        return 0;
    }
    return evc_trust_add(ts->t, n, err);
}

int
evc_renew_retire(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    const struct evc_fact_signer *s = &run->fsigners[i];
    struct trust_st *ts = &run->trusts[s->trust];
    long k = evc_trust_find(ts->t, s->sha256);
    int r;

    v->store = ts->conf->name;
    if (k < 0) {
        snprintf(v->detail, sizeof(v->detail), "already gone");
        return 0;
    }
    evc_renew_set_old(v, ts->t->certs[k].x);
    if (run->o->dry_run) {
        return 0;
    }
    if ((r = evc_renew_keep_deleted(run, ts->t->certs[k].x, ts->conf->name, "old signer retired",
                                    err)) != 0) {
        return r;
    }
    return evc_trust_remove(ts->t, (size_t)k, err);
}

int
evc_renew_purge(struct run *run, size_t i, struct evc_renew_action *v, struct evc_err *err)
{
    v->store = run->deleted_conf->name;
    evc_renew_set_old(v, run->deleted->entries[i].x);
    return run->o->dry_run ? 0 : evc_deleted_purge(run->deleted, i, err);
}
