/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert announce: write a Successor Announcement by hand (renew calls
 * the same library code). evercert inspect: show an SA, and with
 * --trusted run the client's decision and say why.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/limits.h"
#include "evercert/stores.h"
#include "base/atomic.h"
#include "base/file.h"
#include "base/text.h"
#include "cli.h"
#include "x509/x509_int.h"

#define ANCHORS_MAX EVC_SA_CERTS_MAX

static int
read_all(const char *path, size_t max, struct evc_buf *b)
{
    struct evc_err err = {0};

    evc_buf_init(b, max + 2);
    if (evc_file_read(path, max, b, &err) != 0) {
        evc_cli_error(path, "%s", evc_err_message(&err));
        return -1;
    }
    return 0;
}

static int
read_certs(const char *path, STACK_OF(X509) * *out)
{
    struct evc_buf b;
    struct evc_err err = {0};
    int r = -1;

    if (read_all(path, EVC_STORE_FILE_MAX, &b) == 0) {
        if (evc_certs_parse(b.data, b.len, NULL, out, &err) != 0) {
            evc_cli_error(path, "%s", evc_err_message(&err));
        } else {
            r = 0;
        }
    }
    evc_buf_free(&b);
    return r;
}

static int
read_key(const char *path, EVP_PKEY **out)
{
    struct evc_buf b;
    struct evc_err err = {0};
    int r = -1;

    if (read_all(path, EVC_STORE_FILE_MAX, &b) == 0) {
        if (evc_key_parse(b.data, b.len, out, &err) != 0) {
            evc_cli_error(path, "%s", evc_err_message(&err));
        } else {
            r = 0;
        }
    }
    evc_buf_free(&b);
    return r;
}

static int
parse_u64(const char *opt, const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || *v == '\0' || *v == '-' || *end != '\0') {
        evc_cli_error(opt, "'%s': expected a whole number", v);
        return -1;
    }
    *out = n;
    return 0;
}

/*
 * A link certificate is a new root's subject and public key certified by
 * a root clients trust now; clients under policy ca take the new root
 * only with one. Each certificate of path must be one for a root in
 * anchors (read from --anchor), and is added beside it.
 */
static int
read_links(const char *path, STACK_OF(X509) * anchors)
{
    STACK_OF(X509) *l = NULL;
    int r = -1, n;

    if (read_certs(path, &l) != 0) {
        return -1;
    }
    n = sk_X509_num(anchors);
    while (sk_X509_num(l) > 0) {
        X509 *x = sk_X509_shift(l);
        int found = 0;

        for (int i = 0; !found && i < n; i++) {
            X509 *a = sk_X509_value(anchors, i);

            found = X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(a)) == 0 &&
                    EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(a)) == 1 &&
                    evc_x509_signed_by(a, a) && !evc_x509_signed_by(x, x);
        }
        if (!found) {
            X509_free(x);
            evc_cli_error(path, "not a link certificate for an --anchor (the subject and key of "
                                "a new root, issued by another root)");
            goto out;
        }
        if (!sk_X509_push(anchors, x)) {
            X509_free(x);
            goto out;
        }
    }
    r = 0;
out:
    sk_X509_pop_free(l, X509_free);
    return r;
}

int
evc_cmd_announce(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"current", required_argument, NULL, 'c'},
        {"current-key", required_argument, NULL, 'C'},
        {"successor", required_argument, NULL, 's'},
        {"successor-key", required_argument, NULL, 'S'},
        {"service", required_argument, NULL, 'n'},
        {"generation", required_argument, NULL, 'g'},
        {"activate-at", required_argument, NULL, 'A'},
        {"anchor", required_argument, NULL, 'a'},
        {"link", required_argument, NULL, 'l'},
        {"out", required_argument, NULL, 'o'},
        {"at", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cur = NULL, *curk = NULL, *succ = NULL, *succk = NULL, *out = NULL;
    const char *anchor_paths[ANCHORS_MAX], *link_paths[ANCHORS_MAX];
    size_t nanchors = 0, nlinks = 0;
    struct evc_sa_params p;
    STACK_OF(X509) *cc = NULL, *sc = NULL, *anchors = NULL, *chain = NULL;
    EVP_PKEY *ck = NULL, *sk = NULL;
    struct evc_buf sa;
    struct evc_err err = {0};
    int c, ret = EVC_EXIT_FAILURE, have_gen = 0, have_act = 0;

    memset(&p, 0, sizeof(p));
    p.published_at = evc_time_now();
    /* An SA of exactly EVC_SA_MAX bytes is allowed; the buffer keeps a byte for its NUL. */
    evc_buf_init(&sa, EVC_SA_MAX + 1);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cur = optarg;
            break;
        case 'C':
            curk = optarg;
            break;
        case 's':
            succ = optarg;
            break;
        case 'S':
            succk = optarg;
            break;
        case 'n':
            p.service = optarg;
            break;
        case 'g':
            if (parse_u64("--generation", optarg, &p.generation) != 0) {
                goto out;
            }
            have_gen = 1;
            break;
        case 'A':
        case 't':
            if (evc_time_parse(optarg, c == 'A' ? &p.activate_at : &p.published_at) != 0) {
                evc_cli_error(c == 'A' ? "--activate-at" : "--at",
                              "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z", optarg);
                goto out;
            }
            have_act |= c == 'A';
            break;
        case 'a':
            if (nanchors >= ANCHORS_MAX) {
                evc_cli_error("--anchor", "at most %d", ANCHORS_MAX);
                goto out;
            }
            anchor_paths[nanchors++] = optarg;
            break;
        case 'l':
            if (nlinks >= ANCHORS_MAX) {
                evc_cli_error("--link", "at most %d", ANCHORS_MAX);
                goto out;
            }
            link_paths[nlinks++] = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            evc_cli_help("announce", 0);
            ret = 0;
            goto out;
        default:
            evc_cli_help("announce", 1);
            goto out;
        }
    }
    if (cur == NULL || curk == NULL || succ == NULL || succk == NULL || p.service == NULL ||
        !have_gen || !have_act || out == NULL || optind != argc) {
        evc_cli_error("announce", "--current, --current-key, --successor, --successor-key, "
                                  "--service, --generation, --activate-at and --out are required");
        goto out;
    }
    if (read_certs(cur, &cc) != 0 || read_key(curk, &ck) != 0 || read_certs(succ, &sc) != 0 ||
        read_key(succk, &sk) != 0) {
        goto out;
    }
    if (evc_key_check(sk_X509_value(cc, 0), ck, &err) != 0) {
        evc_cli_error(curk, "does not match %s", cur);
        goto out;
    }
    if (evc_key_check(sk_X509_value(sc, 0), sk, &err) != 0) {
        evc_cli_error(succk, "does not match %s", succ);
        goto out;
    }
    if ((anchors = sk_X509_new_null()) == NULL || (chain = sk_X509_new_null()) == NULL) {
        goto out;
    }
    for (int i = 1; i < sk_X509_num(sc); i++) {
        (void)sk_X509_push(chain, sk_X509_value(sc, i));
    }
    for (size_t i = 0; i < nanchors; i++) {
        STACK_OF(X509) *a = NULL;

        if (read_certs(anchor_paths[i], &a) != 0) {
            goto out;
        }
        while (sk_X509_num(a) > 0) {
            (void)sk_X509_push(anchors, sk_X509_shift(a));
        }
        sk_X509_free(a);
    }
    if (nlinks > 0 && nanchors == 0) {
        evc_cli_error("--link", "a link certificate vouches for an --anchor; none is given");
        goto out;
    }
    for (size_t i = 0; i < nlinks; i++) {
        if (read_links(link_paths[i], anchors) != 0) {
            goto out;
        }
    }
    p.current = sk_X509_value(cc, 0);
    p.current_key = ck;
    p.successor = sk_X509_value(sc, 0);
    p.successor_key = sk;
    p.chain = chain;
    p.anchors = anchors;
    if (evc_sa_encode(&p, &sa, &err) != 0) {
        evc_cli_error("announce", "%s", evc_err_message(&err));
        goto out;
    }
    if (evc_atomic_write(out, sa.data, sa.len, 0644, &err) != 0) {
        evc_cli_error(out, "%s", evc_err_message(&err));
        goto out;
    }
    if (nanchors > 0 && nlinks == 0) {
        evc_cli_error(out, "warning: anchors without a --link: every client refuses this SA "
                           "(pinned trust takes no root; policy ca takes one only with a link "
                           "from a root it trusts)");
    }
    if (sa.len > EVC_SA_HANDSHAKE_MAX) {
        evc_cli_error(out,
                      "warning: the SA is %zu bytes, over the %zu the TLS handshake carries; "
                      "it goes by the push channel and URL only",
                      sa.len, EVC_SA_HANDSHAKE_MAX);
    }
    ret = 0;
out:
    sk_X509_free(chain);
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_pop_free(cc, X509_free);
    sk_X509_pop_free(sc, X509_free);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(sk);
    evc_buf_free(&sa);
    return ret;
}

/* Set key to v; v NULL (a value that could not be made) is a failure, never a gap. */
static int
jset(json_t *o, const char *key, json_t *v)
{
    return o != NULL && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

static json_t *
cert_json(X509 *x)
{
    uint8_t fp[32];
    char hex[65], *subj = NULL;
    char nb[EVC_TIME_TEXT_MAX], na[EVC_TIME_TEXT_MAX];
    evc_time t;
    BIO *bio = BIO_new(BIO_s_mem());
    json_t *o = json_object();

    if (evc_x509_sha256(x, fp) != 0) {
        memset(fp, 0, sizeof(fp));
    }
    evc_text_hex(fp, 32, hex);
    if (evc_asn1_time(X509_get0_notBefore(x), &t) != 0) {
        t = 0;
    }
    evc_time_format(t, nb);
    if (evc_asn1_time(X509_get0_notAfter(x), &t) != 0) {
        t = 0;
    }
    evc_time_format(t, na);
    /* The subject as scan prints it; the bytes are the certificate maker's, so made valid UTF-8. */
    if (bio != NULL && evc_x509_name_text(bio, X509_get_subject_name(x), &subj, NULL) != 0) {
        subj = NULL;
    }
    if (bio == NULL ||
        jset(o, "subject",
             evc_text_jstring(subj != NULL ? subj : "(a subject that cannot be printed)")) != 0 ||
        jset(o, "sha256", json_string(hex)) != 0 || jset(o, "not_before", json_string(nb)) != 0 ||
        jset(o, "not_after", json_string(na)) != 0) {
        json_decref(o);
        o = NULL;
    }
    free(subj);
    BIO_free(bio);
    return o;
}

static json_t *
certs_json(STACK_OF(X509) * s)
{
    json_t *a = json_array();

    for (int i = 0; a != NULL && s != NULL && i < sk_X509_num(s); i++) {
        if (json_array_append_new(a, cert_json(sk_X509_value(s, i))) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

/* One line of inspect's text: a label, then untrusted text escaped and cut. */
static int
show(const char *label, json_t *v, const char *rest)
{
    struct evc_buf b;
    int r;

    evc_buf_init(&b, EVC_TEXT_SHOW_MAX + 1);
    r = evc_text_nvis(&b, json_string_value(v) != NULL ? json_string_value(v) : "",
                      EVC_TEXT_SHOW_MAX);
    if (r == 0 && printf("%-13s %s%s\n", label, evc_buf_str(&b), rest) < 0) {
        r = EVC_ERR_IO;
    }
    evc_buf_free(&b);
    return r;
}

int
evc_cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"trusted", required_argument, NULL, 'T'},
        {"last-generation", required_argument, NULL, 'g'},
        {"policy", required_argument, NULL, 'p'},
        {"trust-store", required_argument, NULL, 's'},
        {"service", required_argument, NULL, 'n'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *trusted = NULL, *store = NULL;
    struct evc_sa_known known = {NULL, NULL, 0, NULL};
    struct evc_sa_policy pol = {EVC_SA_POLICY_AUTO, NULL, 0};
    struct evc_sa_verdict v;
    struct evc_sa *sa = NULL;
    struct evc_buf b;
    struct evc_err err = {0};
    STACK_OF(X509) *tc = NULL;
    uint8_t fps[4][32];
    size_t nsig = 0;
    evc_time now = evc_time_now();
    json_t *root = NULL, *sigs = NULL;
    char hex[65], t1[EVC_TIME_TEXT_MAX], t2[EVC_TIME_TEXT_MAX], t3[EVC_TIME_TEXT_MAX];
    int c, json = 0, ret = EVC_EXIT_FAILURE;

    memset(&v, 0, sizeof(v));
    evc_buf_init(&b, EVC_SA_MAX + 2);
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                goto out;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'T':
            trusted = optarg;
            break;
        case 'g':
            if (parse_u64("--last-generation", optarg, &known.last_generation) != 0) {
                goto out;
            }
            break;
        case 'p':
            if (strcmp(optarg, "auto") == 0) {
                pol.mode = EVC_SA_POLICY_AUTO;
            } else if (strcmp(optarg, "manual") == 0) {
                pol.mode = EVC_SA_POLICY_MANUAL;
            } else if (strcmp(optarg, "ca") == 0) {
                pol.mode = EVC_SA_POLICY_CA;
            } else {
                evc_cli_error("--policy", "'%s': expected auto, manual or ca", optarg);
                goto out;
            }
            break;
        case 's':
            store = optarg;
            break;
        case 'n':
            known.service = optarg;
            break;
        case 'a':
            if (evc_time_parse(optarg, &now) != 0) {
                evc_cli_error("--at", "'%s': expected an RFC 3339 time", optarg);
                goto out;
            }
            break;
        case 'h':
            evc_cli_help("inspect", 0);
            ret = 0;
            goto out;
        default:
            evc_cli_help("inspect", 1);
            goto out;
        }
    }
    if (optind + 1 != argc) {
        evc_cli_error("inspect",
                      "usage: evercert inspect SA.der [--format json] [--trusted CERT ...]");
        goto out;
    }
    /* One byte past the cap is read, so an oversize SA is named as such. */
    evc_buf_init(&b, EVC_SA_MAX + 4);
    if (evc_file_read(argv[optind], EVC_SA_MAX + 1, &b, &err) != 0) {
        evc_cli_error(argv[optind], "%s", evc_err_message(&err));
        /* Too large is the SA's fault, a rejection; unreadable is ours. */
        ret = err.code == EVC_ERR_TOO_LARGE && trusted != NULL ? 2 : EVC_EXIT_FAILURE;
        goto out;
    }
    if (evc_sa_decode(b.data, b.len, &sa, &err) != 0) {
        evc_cli_error(argv[optind], "not a Successor Announcement: %s", evc_err_message(&err));
        ret = trusted != NULL ? 2 : EVC_EXIT_FAILURE;
        goto out;
    }
    if (evc_sa_signers(b.data, b.len, fps, 4, &nsig, &err) != 0) {
        nsig = 0;
    }
    evc_time_format(sa->published_at, t1);
    evc_time_format(sa->activate_at, t2);
    if ((root = json_object()) == NULL ||
        jset(root, "service", evc_text_jstring(sa->service)) != 0 ||
        jset(root, "generation", json_integer((json_int_t)sa->generation)) != 0 ||
        jset(root, "published_at", json_string(t1)) != 0 ||
        jset(root, "activate_at", json_string(t2)) != 0 ||
        jset(root, "successor", certs_json(sa->successor)) != 0 ||
        jset(root, "anchors", certs_json(sa->anchors)) != 0 ||
        jset(root, "signers", sigs = json_array()) != 0) {
        goto nomem;
    }
    if (sa->activate_by != 0) {
        evc_time_format(sa->activate_by, t3);
        if (jset(root, "activate_by", json_string(t3)) != 0) {
            goto nomem;
        }
    }
    for (size_t i = 0; i < nsig && i < 4; i++) {
        evc_text_hex(fps[i], 32, hex);
        if (json_array_append_new(sigs, json_string(hex)) != 0) {
            goto nomem;
        }
    }
    if (trusted != NULL) {
        if (read_certs(trusted, &tc) != 0) {
            goto out;
        }
        known.trusted = sk_X509_value(tc, 0);
        if (store != NULL) {
            pol.trust = X509_STORE_new();
            if (pol.trust == NULL || X509_STORE_load_locations(pol.trust, store, NULL) != 1) {
                evc_cli_error(store, "cannot be read as a trust store");
                goto out;
            }
        }
        if (evc_sa_verify(b.data, b.len, &known, &pol, now, &v) != 0) {
            evc_cli_error("inspect", "internal error");
            goto out;
        }
        if (jset(root, "decision", json_string(evc_sa_decision_name(v.decision))) != 0 ||
            jset(root, "reason", json_string(evc_sa_reason_name(v.reason))) != 0 ||
            jset(root, "message", evc_text_jstring(v.message)) != 0) {
            goto nomem;
        }
    }
    if (json) {
        if (json_dumpf(root, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF) {
            evc_cli_error("inspect", "cannot write the output");
            goto out;
        }
    } else {
        json_t *succ = json_object_get(root, "successor"), *anc = json_object_get(root, "anchors");
        int r = show("service", json_object_get(root, "service"), "");

        if (r == 0 && printf("generation    %llu\npublished at  %s\nactivate at   %s\n",
                             (unsigned long long)sa->generation, t1, t2) < 0) {
            r = EVC_ERR_IO;
        }
        if (r == 0 && sa->activate_by != 0 && printf("activate by   %s\n", t3) < 0) {
            r = EVC_ERR_IO;
        }
        for (size_t i = 0; r == 0 && i < json_array_size(succ); i++) {
            json_t *x = json_array_get(succ, i);
            char head[96], rest[EVC_TIME_TEXT_MAX * 2 + 8];

            snprintf(head, sizeof(head), "%-13s %s ", i == 0 ? "successor" : "  chain",
                     json_string_value(json_object_get(x, "sha256")));
            snprintf(rest, sizeof(rest), "  %s .. %s",
                     json_string_value(json_object_get(x, "not_before")),
                     json_string_value(json_object_get(x, "not_after")));
            r = show(head, json_object_get(x, "subject"), rest);
        }
        for (size_t i = 0; r == 0 && i < json_array_size(anc); i++) {
            json_t *x = json_array_get(anc, i);
            char head[96];

            snprintf(head, sizeof(head), "%-13s %s ", "anchor",
                     json_string_value(json_object_get(x, "sha256")));
            r = show(head, json_object_get(x, "subject"), "");
        }
        for (size_t i = 0; r == 0 && i < json_array_size(sigs); i++) {
            r = show("signer", json_array_get(sigs, i), "");
        }
        if (r == 0 && trusted != NULL) {
            char head[96];

            snprintf(head, sizeof(head), "decision      %s (%s):", evc_sa_decision_name(v.decision),
                     evc_sa_reason_name(v.reason));
            r = show(head, json_object_get(root, "message"), "");
        }
        if (r != 0) {
            evc_cli_error("inspect", "cannot write the output");
            goto out;
        }
    }
    ret = trusted != NULL ? (int)v.decision : 0;
    goto out;
nomem:
    evc_cli_error("inspect", "out of memory building the output");
    ret = EVC_EXIT_FAILURE;
out:
    json_decref(root);
    evc_sa_verdict_clear(&v);
    evc_sa_free(sa);
    sk_X509_pop_free(tc, X509_free);
    X509_STORE_free(pol.trust);
    evc_buf_free(&b);
    return ret;
}
