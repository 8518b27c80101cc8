/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A staged successor goes live: the old certificate to the deleted store,
 * the pair switch, the store's after_replace hook, the check that the
 * server serves the new certificate, then the .next files go; the .sa
 * stays for the well-known URL.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "evercert/tls.h"
#include "base/spawn.h"
#include "ca/renew_int.h"

/*
 * Run the store's after_replace command: split and exec'd (or sh -c with
 * after_replace_shell), killed at hook_timeout; status and output go in
 * the report. A failure is reported; the swap stands.
 */
static void
run_hook(const struct personal_st *p, struct evc_renew_action *v)
{
    char e1[EVC_PATH_MAX + 32], e2[EVC_PATH_MAX + 32], e3[EVC_PATH_MAX + 32];
    char *env[] = {e1, e2, e3, NULL};
    struct evc_spawn_result res;
    struct evc_err err = {0};
    size_t n;

    if (p->conf->after_replace == NULL) {
        return;
    }
    snprintf(e1, sizeof(e1), "EVERCERT_STORE=%s", p->conf->name);
    /* A keystore holds both. */
    snprintf(e2, sizeof(e2), "EVERCERT_CERT=%s", personal_file(p));
    snprintf(e3, sizeof(e3), "EVERCERT_KEY=%s",
             p->conf->keystore != NULL ? p->conf->keystore : p->conf->key);
    fflush(NULL);
    if (evc_spawn_run(p->conf->after_replace, p->conf->after_replace_shell, p->conf->hook_timeout,
                      env, &res, &err) != 0) {
        snprintf(v->detail, sizeof(v->detail), "after_replace: %s", evc_err_message(&err));
        v->hook_status = -1;
        return;
    }
    v->hook_status = res.status;
    v->hook_ran = 1;
    /* The last line of output, as a hint; the whole is in hook_output. */
    for (n = res.output_len; n > 0 && (res.output[n - 1] == '\n' || res.output[n - 1] == ' ');
         n--) {
    }
    res.output[n] = '\0';
    if (n >= sizeof(v->hook_output)) {
        n = sizeof(v->hook_output) - 1;
        /* Cut between characters, not inside one. */
        while (n > 0 && ((unsigned char)res.output[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    memcpy(v->hook_output, res.output, n);
    v->hook_output[n] = '\0';
    if (res.timed_out) {
        snprintf(v->detail, sizeof(v->detail), "after_replace killed after %llds",
                 (long long)p->conf->hook_timeout);
    } else if (res.status != 0) {
        snprintf(v->detail, sizeof(v->detail), "after_replace failed (exit %d): %.150s", res.status,
                 res.output);
    } else {
        snprintf(v->detail, sizeof(v->detail), "after_replace ran");
    }
}

/*
 * With verify = host:port: after the hook, the server must present the new
 * certificate within verify_timeout; a reload is not proof. The outcome
 * goes in the report, and a miss is a failure of the run.
 */
static void
verify_served(const struct personal_st *p, X509 *want, struct evc_renew_action *v)
{
    struct timespec start, t;
    struct evc_err err = {0};
    int64_t ms = 0, limit = p->conf->verify_timeout * 1000;

    if (p->conf->verify == NULL) {
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        X509 *got = NULL;
        int same = evc_tls_served_leaf(p->conf->verify, p->conf->verify_servername,
                                       (int)(limit > 2000 ? 2000 : limit + 1), &got, &err) == 0 &&
                   X509_cmp(got, want) == 0;

        X509_free(got);
        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = (t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000;
        if (same) {
            v->verified = 1;
            snprintf(v->verify_detail, sizeof(v->verify_detail), "%s serves it after %lld ms",
                     p->conf->verify, (long long)ms);
            return;
        }
        if (ms >= limit) {
            break;
        }
        usleep(50 * 1000);
    }
    v->verified = -1;
    snprintf(v->verify_detail, sizeof(v->verify_detail),
             "%s still does not serve the new certificate after %lld s%s%.150s", p->conf->verify,
             (long long)p->conf->verify_timeout, err.code != 0 ? ": " : "",
             err.code != 0 ? evc_err_message(&err) : "");
}

/*
 * Put the successor in p->next live: keep the old certificate in the
 * deleted store, switch the pair, run the hook, drop the .next files.
 * Afterwards p->chain is the successor, so a second call does nothing.
 */
int
evc_renew_swap(struct run *run, struct personal_st *p, struct evc_renew_action *v,
               struct evc_err *err)
{
    struct evc_buf c, k;
    X509 *n = sk_X509_value(p->next, 0);
    int r = 0, live = same_sha(n, leaf(p));

    evc_renew_set_old(v, leaf(p));
    evc_renew_set_new(v, n);
    if (run->o->dry_run) {
        return 0;
    }
    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    /* Never hand a server a broken pair. */
    if (!live && ((r = evc_key_check(n, p->nkey, err)) != 0 ||
                  not_before(n) > run->o->now + EVC_SWAP_SLACK || not_after(n) <= run->o->now)) {
        r = evc_err_set(err, r != 0 ? r : EVC_ERR_BAD_TIME,
                        "the successor of %s is not a valid pair now; not swapped",
                        personal_file(p));
        goto out;
    }
    if (!live && p->conf->keystore != NULL) {
        if ((r = evc_renew_keep_deleted(run, leaf(p), p->conf->name, "renewed", err)) != 0 ||
            (r = evc_renew_keystore_save(run, p, p->next, p->nkey, err)) != 0) {
            goto out;
        }
    } else if (!live) {
        if ((r = evc_renew_keep_deleted(run, leaf(p), p->conf->name, "renewed", err)) != 0 ||
            (r = evc_renew_pem_chain(p->next, &c, err)) != 0 ||
            (r = evc_key_pem(p->nkey, &k, err)) != 0 ||
            (r = evc_pair_save(p->conf->cert, c.data, c.len, p->conf->key, k.data, k.len, err)) !=
                0) {
            goto out;
        }
    }
    /*
     * The hook runs while the .next files are still there: a run that
     * ends between the switch and the hook leaves them, and the next run
     * finds the successor live and runs the hook then, so a server is
     * never left on the old certificate. A hook may run twice, never not.
     */
    if (!live || access(p->next_cert, F_OK) == 0) {
        run_hook(p, v);
        verify_served(p, n, v);
    }
    if (!live) {
        STACK_OF(X509) *now_live = X509_chain_up_ref(p->next);

        if (now_live != NULL) {
            sk_X509_pop_free(p->chain, X509_free);
            p->chain = now_live;
        }
    }
    if ((r = evc_durable_unlink(p->next_cert, err)) != 0 ||
        (r = evc_durable_unlink(p->next_key, err)) != 0) {
        goto out;
    }
out:
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

int
evc_renew_activate(struct run *run, const struct evc_action *a, struct evc_renew_action *v,
                   struct evc_err *err)
{
    struct personal_st *p = &run->pers[a->index];
    char note[200];

    if (a->reason == EVC_REASON_STALE) {
        /* `activate` only swaps: a stale successor waits for the renewal run that replaces it. */
        evc_renew_stale_note(p, a->stale, note, sizeof(note));
        snprintf(v->detail, sizeof(v->detail), "%s; not swapped, the next renewal replaces it",
                 note);
        evc_renew_set_old(v, leaf(p));
        if (p->next != NULL) {
            evc_renew_set_new(v, sk_X509_value(p->next, 0));
        }
        return 0;
    }
    return evc_renew_swap(run, p, v, err);
}
