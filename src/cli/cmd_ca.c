/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evercert ca init, evercert issue, evercert selfsign: making a root, a
 * chained certificate and a self-signed server certificate. A key file is
 * created 0600 with O_EXCL and never overwritten; the certificate is
 * written after its key, so a certificate on disk always has its key.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evercert/ca.h"
#include "evercert/limits.h"
#include "evercert/shared.h"
#include "base/atomic.h"
#include "base/file.h"
#include "cli.h"

#define SANS_MAX 64

struct ca_args {
    const char *out, *subject, *cn, *key_type, *ca, *out_cert, *out_key;
    const char *sans[SANS_MAX];
    size_t nsans;
    int64_t lifetime; /* seconds; 0 = the command's default */
    enum evc_profile profile;
    evc_time now;
};

/* "DNS:a,IP:b" (repeatable) into a->sans. */
static int
add_sans(struct ca_args *a, char *list)
{
    for (char *s = list, *next; s != NULL; s = next) {
        if ((next = strchr(s, ',')) != NULL) {
            *next++ = '\0';
        }
        if (*s == '\0') {
            continue;
        }
        if (a->nsans >= SANS_MAX) {
            evc_cli_error("--san", "at most %d names", SANS_MAX);
            return -1;
        }
        a->sans[a->nsans++] = s;
    }
    return 0;
}

static int
set_lifetime(struct ca_args *a, const char *opt, const char *v, int64_t unit)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n <= 0 || n > (int64_t)100 * 366 * 86400 / unit) {
        evc_cli_error(opt, "'%s': expected a positive whole number", v);
        return -1;
    }
    if (a->lifetime != 0) {
        evc_cli_error(opt, "give one of --days, --hours and --minutes");
        return -1;
    }
    a->lifetime = n * unit;
    return 0;
}

static int
parse_args(const char *cmd, int argc, char **argv, struct ca_args *a)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},     {"subject", required_argument, NULL, 's'},
        {"cn", required_argument, NULL, 'n'},      {"san", required_argument, NULL, 'S'},
        {"key", required_argument, NULL, 'k'},     {"days", required_argument, NULL, 'd'},
        {"hours", required_argument, NULL, 'H'},   {"minutes", required_argument, NULL, 'M'},
        {"ca", required_argument, NULL, 'c'},      {"out-cert", required_argument, NULL, 'C'},
        {"out-key", required_argument, NULL, 'K'}, {"server", no_argument, NULL, 'v'},
        {"client", no_argument, NULL, 'l'},        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a->out = optarg;
            break;
        case 's':
            a->subject = optarg;
            break;
        case 'n':
            a->cn = optarg;
            break;
        case 'S':
            if (add_sans(a, optarg) != 0) {
                return -1;
            }
            break;
        case 'k':
            a->key_type = optarg;
            break;
        case 'd':
        case 'H':
        case 'M':
            if (set_lifetime(a,
                             c == 'd'   ? "--days"
                             : c == 'H' ? "--hours"
                                        : "--minutes",
                             optarg,
                             c == 'd'   ? 86400
                             : c == 'H' ? 3600
                                        : 60) != 0) {
                return -1;
            }
            break;
        case 'c':
            a->ca = optarg;
            break;
        case 'C':
            a->out_cert = optarg;
            break;
        case 'K':
            a->out_key = optarg;
            break;
        case 'v':
            a->profile = EVC_PROFILE_SERVER;
            break;
        case 'l':
            a->profile = EVC_PROFILE_CLIENT;
            break;
        case 'a':
            if (evc_time_parse(optarg, &a->now) != 0) {
                evc_cli_error("--at", "'%s': expected an RFC 3339 time like 2027-01-31T00:00:00Z",
                              optarg);
                return -1;
            }
            break;
        case 'h':
            evc_cli_help(cmd, 0);
            return 1;
        default:
            evc_cli_help(cmd, 1);
            return -1;
        }
    }
    if (optind != argc) {
        evc_cli_error(cmd, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

/* Refuse, before anything is created, a path whose directory is a file. */
static int
parent_is_dir(const char *cmd, const char *path)
{
    char dir[EVC_PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;

    if (slash == NULL || slash == path) {
        return 0;
    }
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if ((stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) ||
        (stat(dir, &st) == -1 && errno == ENOTDIR)) {
        evc_cli_error(cmd, "%s: not a directory", dir);
        return -1;
    }
    return 0;
}

/*
 * Create the directory that will hold path, if missing: the directories
 * above it 0755, itself mode. Messages from the library name the path
 * already, so it is not repeated.
 */
static int
make_parent(const char *cmd, const char *path, mode_t mode)
{
    char dir[EVC_PATH_MAX];
    const char *slash = strrchr(path, '/'), *up;
    struct evc_err err = {0};
    struct stat st;
    int r = 0;

    if (slash == NULL || slash == path) {
        return 0;
    }
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) == 0) {
        return 0;
    }
    if ((up = strrchr(dir, '/')) != NULL && up != dir) {
        char above[EVC_PATH_MAX];

        snprintf(above, sizeof(above), "%.*s", (int)(up - dir), dir);
        r = evc_mkdirs(above, 0755, &err);
    }
    if (r == 0) {
        r = evc_mkdirs(dir, mode, &err);
    }
    if (r != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        return -1;
    }
    return 0;
}

/*
 * Write the key (0600, new file only) then the certificate, creating
 * missing directories: the key's own 0700, the rest 0755 (one directory
 * made for both is the key's, so 0700). Both paths are checked first, so
 * a refusal writes nothing.
 */
static int
write_pair(const char *cmd, const char *cert_path, X509 *cert, const char *key_path, EVP_PKEY *key)
{
    struct evc_buf c, k;
    struct evc_err err = {0};
    struct stat st;
    int r = -1;

    evc_buf_init(&c, EVC_STORE_FILE_MAX);
    evc_buf_init(&k, EVC_STORE_FILE_MAX);
    if (lstat(key_path, &st) == 0) {
        evc_cli_error(key_path, "already exists; a key is never overwritten");
        goto out;
    }
    if (lstat(cert_path, &st) == 0) {
        evc_cli_error(cert_path, "already exists");
        goto out;
    }
    if (evc_x509_pem(cert, &c, &err) != 0 || evc_key_pem(key, &k, &err) != 0) {
        evc_cli_error("encode", "%s", evc_err_message(&err));
        goto out;
    }
    if (parent_is_dir(cmd, key_path) != 0 || parent_is_dir(cmd, cert_path) != 0 ||
        make_parent(cmd, key_path, 0700) != 0 || make_parent(cmd, cert_path, 0755) != 0) {
        goto out;
    }
    if (evc_key_file_create(key_path, k.data, k.len, &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        goto out;
    }
    if (evc_atomic_write(cert_path, c.data, c.len, 0644, &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        unlink(key_path);
        goto out;
    }
    r = 0;
out:
    evc_buf_free(&c);
    evc_buf_free(&k);
    return r;
}

static int
read_ca(const char *dir, X509 **cert, EVP_PKEY **key)
{
    char p[EVC_PATH_MAX];
    struct evc_buf b;
    struct evc_err err = {0};
    int r = -1;

    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    snprintf(p, sizeof(p), "%s/ca.crt", dir);
    if (evc_file_read(p, EVC_STORE_FILE_MAX, &b, &err) != 0 ||
        evc_x509_parse(b.data, b.len, cert, &err) != 0) {
        evc_cli_error(p, "%s", evc_err_message(&err));
        goto out;
    }
    snprintf(p, sizeof(p), "%s/ca.key", dir);
    if (evc_file_read(p, EVC_STORE_FILE_MAX, &b, &err) != 0 ||
        evc_key_parse(b.data, b.len, key, &err) != 0) {
        evc_cli_error(p, "%s", evc_err_message(&err));
        goto out;
    }
    if (evc_key_check(*cert, *key, &err) != 0) {
        evc_cli_error(dir, "ca.key does not match ca.crt");
        goto out;
    }
    r = 0;
out:
    evc_buf_free(&b);
    return r;
}

static int
make(const char *cmd, struct ca_args *a)
{
    struct evc_cert_req req;
    struct evc_err err = {0};
    EVP_PKEY *key = NULL, *ca_key = NULL;
    X509 *cert = NULL, *ca = NULL;
    char cp[EVC_PATH_MAX], kp[EVC_PATH_MAX];
    int ret = EVC_EXIT_FAILURE;

    memset(&req, 0, sizeof(req));
    req.profile = a->profile;
    req.subject = a->subject;
    req.cn = a->cn;
    req.sans = a->sans;
    req.nsans = a->nsans;
    req.not_before = a->now;
    req.not_after = a->now + a->lifetime;
    if (a->profile == EVC_PROFILE_ROOT) {
        if (a->out == NULL) {
            evc_cli_error(cmd, "--out DIR is required");
            goto out;
        }
        if (evc_mkdirs(a->out, 0755, &err) != 0) {
            evc_cli_error(cmd, "%s", evc_err_message(&err));
            goto out;
        }
        snprintf(cp, sizeof(cp), "%s/ca.crt", a->out);
        snprintf(kp, sizeof(kp), "%s/ca.key", a->out);
        if (req.subject == NULL && req.cn == NULL) {
            req.cn = "evercert root CA";
        }
    } else {
        if (a->out_cert == NULL || a->out_key == NULL || (a->cn == NULL && a->subject == NULL)) {
            evc_cli_error(cmd, "--cn, --out-cert and --out-key are required");
            goto out;
        }
        snprintf(cp, sizeof(cp), "%s", a->out_cert);
        snprintf(kp, sizeof(kp), "%s", a->out_key);
        if (a->ca != NULL && read_ca(a->ca, &ca, &ca_key) != 0) {
            goto out;
        }
    }
    if (evc_key_generate(a->key_type != NULL ? a->key_type : EVC_KEY_DEFAULT, &key, &err) != 0 ||
        evc_ca_make(&req, key, ca, ca_key, &cert, &err) != 0) {
        evc_cli_error(cmd, "%s", evc_err_message(&err));
        goto out;
    }
    if (write_pair(cmd, cp, cert, kp, key) != 0) {
        goto out;
    }
    printf("%s\n%s\n", cp, kp);
    ret = 0;
out:
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return ret;
}

/*
 * evercert ca fleet-key FILE: a new fleet key for shared stores, 0600,
 * created only where nothing is (a key in use is never replaced by mistake).
 */
static int
fleet_key(int argc, char **argv)
{
    struct evc_err err = {0};

    if (argc != 3 || argv[2][0] == '-') {
        evc_cli_error("ca fleet-key", "expected 'evercert ca fleet-key FILE'");
        return EVC_EXIT_FAILURE;
    }
    if (evc_fleet_key_new(argv[2], &err) != 0) {
        evc_cli_error("ca fleet-key", "%s", evc_err_message(&err));
        return EVC_EXIT_FAILURE;
    }
    printf("fleet key written to %s (0600); give the same file to every host of the shared "
           "stores ([fleet] key_file)\n",
           argv[2]);
    return 0;
}

int
evc_cmd_ca(int argc, char **argv)
{
    struct ca_args a;
    int r;

    if (argc >= 2 && strcmp(argv[1], "fleet-key") == 0) {
        return fleet_key(argc, argv);
    }
    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            evc_cli_help("ca", 0);
            return 0;
        }
        evc_cli_error("ca",
                      "expected 'evercert ca init --out DIR' or 'evercert ca fleet-key FILE'");
        return EVC_EXIT_FAILURE;
    }
    memset(&a, 0, sizeof(a));
    a.profile = EVC_PROFILE_ROOT;
    a.now = evc_time_now();
    /* getopt's complaints name argv[0]: "evercert: ca init: why". */
    static char name[] = "evercert: ca init";

    argv[1] = name;
    if ((r = parse_args("ca", argc - 1, argv + 1, &a)) != 0) {
        return r > 0 ? 0 : EVC_EXIT_FAILURE;
    }
    if (a.ca != NULL || a.out_cert != NULL || a.out_key != NULL || a.nsans > 0 ||
        a.profile != EVC_PROFILE_ROOT) {
        evc_cli_error("ca init", "takes --out, --subject, --key and --days only");
        return EVC_EXIT_FAILURE;
    }
    if (a.lifetime == 0) {
        a.lifetime = EVC_DEFAULT_ROOT_LIFETIME; /* 15 years with their leap days */
    }
    return make("ca init", &a);
}

int
evc_cmd_issue(int argc, char **argv)
{
    struct ca_args a;
    int r;

    memset(&a, 0, sizeof(a));
    a.profile = EVC_PROFILE_SERVER;
    a.now = evc_time_now();
    if ((r = parse_args("issue", argc, argv, &a)) != 0) {
        return r > 0 ? 0 : EVC_EXIT_FAILURE;
    }
    if (a.ca == NULL || a.out != NULL) {
        evc_cli_error("issue", "--ca DIR is required (and --out is for ca init)");
        return EVC_EXIT_FAILURE;
    }
    if (a.lifetime == 0) {
        a.lifetime = (int64_t)365 * 86400;
    }
    return make("issue", &a);
}

int
evc_cmd_selfsign(int argc, char **argv)
{
    struct ca_args a;
    int r;

    memset(&a, 0, sizeof(a));
    a.profile = EVC_PROFILE_SELFSIGNED;
    a.now = evc_time_now();
    if ((r = parse_args("selfsign", argc, argv, &a)) != 0) {
        return r > 0 ? 0 : EVC_EXIT_FAILURE;
    }
    if (a.ca != NULL || a.out != NULL || a.profile != EVC_PROFILE_SELFSIGNED) {
        evc_cli_error("selfsign", "--ca, --out, --server and --client do not apply");
        return EVC_EXIT_FAILURE;
    }
    if (a.lifetime == 0) {
        a.lifetime = (int64_t)365 * 86400;
    }
    return make("selfsign", &a);
}
