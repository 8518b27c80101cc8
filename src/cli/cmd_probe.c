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

#include "evercert/announce.h"
#include "evercert/ca.h"
#include "evercert/tls.h"
#include "base/atomic.h"
#include "base/text.h"
#include "cli.h"

int
evc_cmd_probe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"servername", required_argument, NULL, 'n'},
        {"trust", required_argument, NULL, 't'},
        {"have-generation", required_argument, NULL, 'g'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *trust = NULL, *out = NULL;
    unsigned long long have = 0;
    struct evc_probe p;
    struct evc_err err = {0};
    struct evc_sa *sa = NULL;
    char hex[65], *subj;
    uint8_t fp[32];
    evc_time na = 0;
    char *end;
    int c, ret = EVC_EXIT_FAILURE;

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
                               "[--have-generation N] [--out SA.der]");
        return EVC_EXIT_FAILURE;
    }
    if (evc_tls_probe(argv[optind], name, trust, have, 10000, &p, &err) != 0) {
        evc_cli_error("probe", "%s", evc_err_message(&err));
        evc_probe_clear(&p);
        return EVC_EXIT_FAILURE;
    }
    if (p.leaf != NULL) {
        subj = X509_NAME_oneline(X509_get_subject_name(p.leaf), NULL, 0);
        if (evc_x509_sha256(p.leaf, fp) != 0 ||
            evc_asn1_time(X509_get0_notAfter(p.leaf), &na) != 0) {
            memset(fp, 0, sizeof(fp));
        }
        evc_text_hex(fp, 32, hex);
        {
            char when[EVC_TIME_TEXT_MAX];

            evc_time_format(na, when);
            printf("protocol    %s\ncertificate %s\nsubject     %s\nnot after   %s\n", p.protocol,
                   hex, subj != NULL ? subj : "?", when);
        }
        OPENSSL_free(subj);
    }
    if (!p.verified) {
        printf("verify      FAILED: %s\n", p.reason);
        evc_cli_error(argv[optind], "does not verify: %s", p.reason);
        ret = 2;
        goto out;
    }
    printf("verify      ok\n");
    if (p.sa.len == 0) {
        printf("SA          none (the server has no newer generation than %llu, or no "
               "extension)\n",
               have);
        ret = 0;
        goto out;
    }
    if (evc_sa_decode(p.sa.data, p.sa.len, &sa, &err) != 0) {
        printf("SA          %zu bytes, malformed: %s\n", p.sa.len, evc_err_message(&err));
    } else {
        if (evc_x509_sha256(sk_X509_value(sa->successor, 0), fp) != 0) {
            memset(fp, 0, sizeof(fp));
        }
        evc_text_hex(fp, 32, hex);
        printf("SA          %zu bytes, service %s, generation %llu\nsuccessor   %s\n", p.sa.len,
               sa->service, (unsigned long long)sa->generation, hex);
    }
    if (out != NULL && evc_atomic_write(out, p.sa.data, p.sa.len, 0644, &err) != 0) {
        evc_cli_error(out, "%s", evc_err_message(&err));
        goto out;
    }
    ret = 0;
out:
    evc_sa_free(sa);
    evc_probe_clear(&p);
    return ret;
}
