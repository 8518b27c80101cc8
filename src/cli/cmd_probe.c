/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert probe: one handshake with the extension, as an operator's
 * first look (like openssl s_client): what the server presents, whether
 * it verifies, and the SA it hands out.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/tls.h"
#include "base/atomic.h"
#include "base/text.h"
#include "cli.h"

/* What one probe found, for the text and the JSON output alike. */
struct probe_view {
    const char *target;
    const char *servername;
    unsigned long long have;
    char sha256[65];
    char subject[1024];
    char not_after[EVC_TIME_TEXT_MAX];
    int has_leaf;
    const struct evc_sa *sa; /* NULL: none, or malformed (sa_error) */
    char successor[65];
    const char *sa_error;
};

static int
print_json(const struct evc_probe *p, const struct probe_view *v, const char *out)
{
    json_t *root, *cert = json_null(), *sa = json_null();
    int r = -1;

    if (v->has_leaf) {
        cert = json_pack("{s:s, s:o, s:s}", "sha256", v->sha256, "subject",
                         evc_text_jstring(v->subject), "not_after", v->not_after);
    }
    if (p->verified && p->sa.len > 0 && v->sa != NULL) {
        sa = json_pack("{s:I, s:o, s:I, s:s, s:o}", "bytes", (json_int_t)p->sa.len, "service",
                       evc_text_jstring(v->sa->service), "generation",
                       (json_int_t)v->sa->generation, "successor_sha256", v->successor, "out",
                       out != NULL ? evc_text_jstring(out) : json_null());
    } else if (p->verified && p->sa.len > 0) {
        sa = json_pack("{s:I, s:o}", "bytes", (json_int_t)p->sa.len, "malformed",
                       evc_text_jstring(v->sa_error));
    }
    root = json_pack(
        "{s:o, s:o, s:o, s:o, s:b, s:o, s:I, s:o}", "target", evc_text_jstring(v->target),
        "servername", v->servername != NULL ? evc_text_jstring(v->servername) : json_null(),
        "protocol", evc_text_jstring(p->protocol), "certificate", cert, "verified", p->verified,
        "verify_error", p->verified ? json_null() : evc_text_jstring(p->reason), "have_generation",
        (json_int_t)v->have, "sa", sa);
    if (root != NULL && cert != NULL && sa != NULL &&
        json_dumpf(root, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF &&
        fflush(stdout) == 0) {
        r = 0;
    }
    json_decref(root);
    return r;
}

static void
print_text(const struct evc_probe *p, const struct probe_view *v)
{
    if (v->has_leaf) {
        printf("protocol    %s\ncertificate %s\nsubject     %s\nnot after   %s\n", p->protocol,
               v->sha256, v->subject, v->not_after);
    }
    if (!p->verified) {
        printf("verify      FAILED: %s\n", p->reason);
        return;
    }
    printf("verify      ok\n");
    if (p->sa.len == 0) {
        printf("SA          none (the server has no newer generation than %llu, or no "
               "extension)\n",
               v->have);
    } else if (v->sa == NULL) {
        printf("SA          %zu bytes, malformed: %s\n", p->sa.len, v->sa_error);
    } else {
        printf("SA          %zu bytes, service %s, generation %llu\nsuccessor   %s\n", p->sa.len,
               v->sa->service, (unsigned long long)v->sa->generation, v->successor);
    }
}

int
evc_cmd_probe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"servername", required_argument, NULL, 'n'},
        {"trust", required_argument, NULL, 't'},
        {"have-generation", required_argument, NULL, 'g'},
        {"out", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *trust = NULL, *out = NULL;
    unsigned long long have = 0;
    struct evc_probe p;
    struct evc_err err = {0}, serr = {0};
    struct evc_sa *sa = NULL;
    struct probe_view v;
    char *subj;
    uint8_t fp[32];
    evc_time na = 0;
    char *end;
    int c, json = 0, ret = EVC_EXIT_FAILURE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 't':
            trust = optarg;
            break;
        case 'g':
            errno = 0;
            have = strtoull(optarg, &end, 10);
            if (errno != 0 || *optarg == '\0' || *optarg == '-' || *end != '\0') {
                evc_cli_error("--have-generation", "'%s': expected a whole number", optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                evc_cli_error("--format", "'%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'h':
            evc_cli_help("probe", 0);
            return 0;
        default:
            evc_cli_help("probe", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (optind + 1 != argc) {
        evc_cli_error("probe", "usage: evercert probe HOST:PORT [--servername NAME] [--trust FILE] "
                               "[--have-generation N] [--out SA.der] [--format text|json]");
        return EVC_EXIT_FAILURE;
    }
    if (evc_tls_probe(argv[optind], name, trust, have, 10000, &p, &err) != 0) {
        evc_cli_error("probe", "%s", evc_err_message(&err));
        evc_probe_clear(&p);
        return EVC_EXIT_FAILURE;
    }
    memset(&v, 0, sizeof(v));
    v.target = argv[optind];
    v.servername = name;
    v.have = have;
    if (p.leaf != NULL) {
        v.has_leaf = 1;
        subj = X509_NAME_oneline(X509_get_subject_name(p.leaf), NULL, 0);
        snprintf(v.subject, sizeof(v.subject), "%s", subj != NULL ? subj : "?");
        OPENSSL_free(subj);
        if (evc_x509_sha256(p.leaf, fp) != 0 ||
            evc_asn1_time(X509_get0_notAfter(p.leaf), &na) != 0) {
            memset(fp, 0, sizeof(fp));
        }
        evc_text_hex(fp, 32, v.sha256);
        evc_time_format(na, v.not_after);
    }
    /* An SA is read only from a handshake that verified. */
    if (p.verified && p.sa.len > 0) {
        if (evc_sa_decode(p.sa.data, p.sa.len, &sa, &serr) != 0) {
            v.sa_error = evc_err_message(&serr);
        } else {
            v.sa = sa;
            if (evc_x509_sha256(sk_X509_value(sa->successor, 0), fp) != 0) {
                memset(fp, 0, sizeof(fp));
            }
            evc_text_hex(fp, 32, v.successor);
        }
    }
    if (p.verified && p.sa.len > 0 && out != NULL &&
        evc_atomic_write(out, p.sa.data, p.sa.len, 0644, &err) != 0) {
        evc_cli_error(out, "%s", evc_err_message(&err));
        goto out;
    }
    if (json) {
        if (print_json(&p, &v, out) != 0) {
            evc_cli_error("probe", "the JSON output could not be built");
            goto out;
        }
    } else {
        print_text(&p, &v);
    }
    if (!p.verified) {
        evc_cli_error(argv[optind], "does not verify: %s", p.reason);
        ret = 2;
        goto out;
    }
    ret = 0;
out:
    evc_sa_free(sa);
    evc_probe_clear(&p);
    return ret;
}
