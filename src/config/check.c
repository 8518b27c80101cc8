/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `check-config`: what can be told about a parsed configuration without
 * writing anything. Files a run reads must be there and readable (an
 * error, as the run would stop on it); places a run writes to that are
 * missing are warnings, since the run makes some of them and a person
 * may be about to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/certfile.h"
#include "evercert/config.h"
#include "evercert/jks.h"
#include "evercert/limits.h"
#include "evercert/keys.h"
#include "base/file.h"
#include "base/text.h"
#include "config/config_int.h"

struct check {
    const struct evc_config *c;
    evc_config_say_fn say;
    void *arg;
    struct evc_err *err;
};

static void warn(struct check *ck, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warn(struct check *ck, unsigned long line, const char *fmt, ...)
{
    char msg[EVC_PATH_MAX + 256], what[EVC_PATH_MAX + 128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (line != 0) {
        snprintf(msg, sizeof(msg), "%s:%lu: warning: %s", ck->c->file, line, what);
    } else {
        snprintf(msg, sizeof(msg), "%s: warning: %s", ck->c->file, what);
    }
    if (ck->say != NULL) {
        ck->say(ck->arg, msg);
    }
}

/* The line that set a key of a store or server, else its header's. */
static unsigned long
key_line(const unsigned long *key_lines, int key, unsigned long header)
{
    return key_lines != NULL && key_lines[key] != 0 ? key_lines[key] : header;
}

/* A file that is read: it is there, of the right kind, and this user can read it. */
static int
readable(struct check *ck, unsigned long line, const char *who, const char *key, const char *path,
         int dir_ok)
{
    struct stat st;
    int fd;

    if (path == NULL) {
        return 0;
    }
    if (stat(path, &st) == -1) {
        return evc_err_set(ck->err, EVC_ERR_CONFIG, "%s:%lu: %s%s %s: %s", ck->c->file, line, who,
                           key, path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        if (!dir_ok) {
            return evc_err_set(ck->err, EVC_ERR_CONFIG, "%s:%lu: %s%s %s: a directory, not a file",
                               ck->c->file, line, who, key, path);
        }
        if (access(path, R_OK | X_OK) == -1) {
            return evc_err_set(ck->err, EVC_ERR_CONFIG, "%s:%lu: %s%s %s: %s", ck->c->file, line,
                               who, key, path, strerror(errno));
        }
        return 0;
    }
    /* Opening is the test that counts (access() answers for the real uid only). */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
        return evc_err_set(ck->err, EVC_ERR_CONFIG, "%s:%lu: %s%s %s: %s", ck->c->file, line, who,
                           key, path, strerror(errno));
    }
    close(fd);
    return 0;
}

/* A place that is written: its directory should be there. */
static void
writable_dir(struct check *ck, unsigned long line, const char *what, const char *path)
{
    char dir[EVC_PATH_MAX];
    const char *slash;
    struct stat st;

    if (path == NULL || (slash = strrchr(path, '/')) == NULL) {
        return;
    }
    snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
        warn(ck, line, "%s %s: its directory %s is missing", what, path, dir);
    }
}

/*
 * A keystore as renew will read it: with a password_file, a JKS or PKCS#12 file, and (a JKS,
 * whose entries can be listed without the password) one key entry or the one alias names.
 */
static int
check_keystore(struct check *ck, const struct evc_store_conf *s, const char *who)
{
    unsigned long line = key_line(s->key_lines, EVC_KEY_STORE_keystore, s->line);
    struct evc_buf b, names;
    struct evc_jks *ks = NULL;
    struct evc_err e = {0};
    size_t nkeys = 0;
    long found = -1;
    enum evc_format f;
    int r = 0;

    if (s->password_file == NULL) {
        return evc_err_set(ck->err, EVC_ERR_CONFIG,
                           "%s:%lu: %skeystore %s: its key needs the keystore's password "
                           "(password_file)",
                           ck->c->file, line, who, s->keystore);
    }
    evc_buf_init(&b, EVC_STORE_FILE_MAX);
    evc_buf_init(&names, 512);
    if (evc_file_read(s->keystore, EVC_STORE_FILE_MAX, &b, &e) != 0) {
        goto out; /* readable() has told why */
    }
    f = evc_format_detect(b.data, b.len);
    if (f == EVC_FORMAT_JCEKS || (f != EVC_FORMAT_JKS && f != EVC_FORMAT_PKCS12)) {
        r = evc_err_set(ck->err, EVC_ERR_CONFIG, "%s:%lu: %skeystore %s: %s", ck->c->file, line,
                        who, s->keystore,
                        f == EVC_FORMAT_JCEKS ? "a JCEKS keystore, which renew cannot write"
                                              : "not a JKS or PKCS#12 keystore");
        goto out;
    }
    if (f != EVC_FORMAT_JKS || evc_jks_parse(b.data, b.len, NULL, &ks, &e) != 0) {
        goto out; /* PKCS#12 needs the password to list its entries; renew tells */
    }
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->entries[i].tag == EVC_JKS_KEY) {
            nkeys++;
            if (s->alias != NULL && strcmp(ks->entries[i].alias, s->alias) == 0) {
                found = (long)i;
            }
            (void)evc_text_nvis(&names, nkeys > 1 ? ", " : "", 2);
            (void)evc_text_nvis(&names, ks->entries[i].alias, 60);
        }
    }
    if (s->alias != NULL && found < 0) {
        r = evc_err_set(ck->err, EVC_ERR_CONFIG,
                        "%s:%lu: %salias: %s has no key entry with that alias (its key entries: "
                        "%s)",
                        ck->c->file, key_line(s->key_lines, EVC_KEY_STORE_alias, line), who,
                        s->keystore, nkeys > 0 ? evc_buf_str(&names) : "none");
    } else if (s->alias == NULL && nkeys != 1) {
        r = evc_err_set(
            ck->err, EVC_ERR_CONFIG, "%s:%lu: %skeystore %s holds %zu key entries%s%s%s",
            ck->c->file, line, who, s->keystore, nkeys, nkeys > 1 ? " (" : "",
            nkeys > 1 ? evc_buf_str(&names) : "", nkeys > 1 ? "); name one with alias" : "");
    }
out:
    evc_jks_free(ks);
    evc_buf_free(&names);
    evc_buf_free(&b);
    return r;
}

static int
check_stores(struct check *ck)
{
    const struct evc_config *c = ck->c;
    char who[300];
    int r;

    for (size_t i = 0; i < c->nstores; i++) {
        const struct evc_store_conf *s = &c->stores[i];
        struct stat st;

        snprintf(who, sizeof(who), "store \"%s\": ", s->name);
        switch (s->role) {
        case EVC_ROLE_PERSONAL:
            if (s->keystore != NULL) {
                if ((r = readable(ck, key_line(s->key_lines, EVC_KEY_STORE_keystore, s->line), who,
                                  "keystore", s->keystore, 0)) != 0 ||
                    (r = check_keystore(ck, s, who)) != 0) {
                    return r;
                }
            } else if ((r = readable(ck, key_line(s->key_lines, EVC_KEY_STORE_cert, s->line), who,
                                     "cert", s->cert, 0)) != 0 ||
                       (r = readable(ck, key_line(s->key_lines, EVC_KEY_STORE_key, s->line), who,
                                     "key", s->key, 0)) != 0) {
                return r;
            }
            /* A log nobody can read leaves every successor waiting for its deadline. */
            if (s->access_log != NULL && access(s->access_log, F_OK) == -1) {
                warn(ck, key_line(s->key_lines, EVC_KEY_STORE_access_log, s->line),
                     "%saccess_log %s: %s; until it can be read, successors go live at their "
                     "deadline",
                     who, s->access_log, strerror(errno));
            } else if ((r = readable(ck, key_line(s->key_lines, EVC_KEY_STORE_access_log, s->line),
                                     who, "access_log", s->access_log, 0)) != 0) {
                return r;
            }
            break;
        case EVC_ROLE_ROOT:
        case EVC_ROLE_TRUST:
            if ((r = readable(ck, key_line(s->key_lines, EVC_KEY_STORE_path, s->line), who, "path",
                              s->path, 1)) != 0) {
                return r;
            }
            break;
        case EVC_ROLE_DELETED:
            if (stat(s->path, &st) == -1) {
                warn(ck, key_line(s->key_lines, EVC_KEY_STORE_path, s->line),
                     "%spath %s is missing; it is made when something is first kept",
                     s->implicit ? "the default deleted store's " : who, s->path);
            }
            break;
        default:
            break;
        }
        if ((r = readable(ck, key_line(s->key_lines, EVC_KEY_STORE_password_file, s->line), who,
                          "password_file", s->password_file, 0)) != 0) {
            return r;
        }
    }
    return 0;
}

static int
check_servers(struct check *ck)
{
    const struct evc_config *c = ck->c;
    char who[300];
    int r;

    for (size_t i = 0; i < c->nservers; i++) {
        const struct evc_server_conf *v = &c->servers[i];
        struct stat st;

        snprintf(who, sizeof(who), "server \"%s\": ", v->name);
        if ((r = readable(ck, key_line(v->key_lines, EVC_KEY_SERVER_password_file, v->line), who,
                          "password_file", v->password_file, 0)) != 0) {
            return r;
        }
        /* The agent writes a Java keystore only with its password, and never makes an NSS database.
         */
        if (v->trust_format == EVC_TRUST_JKS && v->password_file == NULL) {
            warn(ck, key_line(v->key_lines, EVC_KEY_SERVER_trust_format, v->line),
                 "%strust %s: a Java keystore is written only with its password (password_file); "
                 "without it every successor fails",
                 who, v->trust);
        }
        if (v->trust_format == EVC_TRUST_NSS) {
            char db[EVC_PATH_MAX];

            if (evc_path_fmt(db, sizeof(db), "%s/cert9.db", v->trust) != 0 || stat(db, &st) == -1) {
                return evc_err_set(ck->err, EVC_ERR_CONFIG,
                                   "%s:%lu: %strust %s: no NSS database (cert9.db) there; the "
                                   "agent never makes one (certutil -N, or start the browser once)",
                                   ck->c->file,
                                   key_line(v->key_lines, EVC_KEY_SERVER_trust, v->line), who,
                                   v->trust);
            }
        }
        if (stat(v->trust, &st) == -1) {
            unsigned long line = key_line(v->key_lines, EVC_KEY_SERVER_trust, v->line);

            warn(ck, line, "%strust %s is missing; the agent writes it when a successor comes", who,
                 v->trust);
            writable_dir(ck, line, "trust", v->trust);
        }
    }
    return 0;
}

/*
 * A password in a URL is in every copy of the configuration and in any
 * message that quotes it; a password file is 0600. As libpq reads a URL:
 * user:password before the last @ of the authority, or password=,
 * sslpassword= or a percent-escaped key in the query.
 */
static int
url_password(const char *url)
{
    const char *auth = url != NULL ? strstr(url, "://") : NULL;
    const char *q, *at = NULL;
    size_t end;

    if (auth == NULL) {
        return 0;
    }
    auth += 3;
    end = strcspn(auth, "/");
    for (const char *p = auth; p < auth + end; p++) {
        at = *p == '@' ? p : at;
    }
    if (at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL) {
        return 1;
    }
    if ((q = strchr(auth + end, '?')) == NULL) {
        return 0;
    }
    for (; *q != '\0'; q++) {
        if (*q == '%' || strncasecmp(q, "password", 8) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A database off this host without verify-full: a man in the middle reads and writes its rows. */
static int
url_loopback_or_verified(const char *url)
{
    const char *auth = strstr(url, "://") + 3, *host;
    size_t end = strcspn(auth, "/?");
    const char *at = NULL;

    for (const char *p = auth; p < auth + end; p++) {
        at = *p == '@' ? p : at;
    }
    host = at != NULL ? at + 1 : auth;
    return strstr(url, "sslmode=verify-full") != NULL || strncmp(host, "127.", 4) == 0 ||
           strncmp(host, "localhost", 9) == 0 || strncmp(host, "[::1]", 5) == 0 ||
           host == auth + end || *host == '/' || *host == '%';
}

/* [fleet]: its files are read at start, and a state in PostgreSQL keeps no password inline. */
static int
check_fleet(struct check *ck, enum evc_config_use use)
{
    const struct evc_config *c = ck->c;
    const char *url = use == EVC_CONFIG_USE_AGENT ? c->agent.fleet_url : c->monitor.fleet_url;
    const char *section = use == EVC_CONFIG_USE_AGENT ? "agent" : "monitor";
    struct stat st;
    int r;

    if (url == NULL && use == EVC_CONFIG_USE_ANY) {
        url = c->agent.fleet_url;
        section = "agent";
    }
    if (url == NULL) {
        if (c->fleet.host != NULL || c->fleet.password_file != NULL || c->fleet.key_file != NULL) {
            warn(ck, evc_config_key_line(c, "fleet", "host"),
                 "[fleet] is used only with a postgresql:// state");
        }
        return 0;
    }
    if (url_password(url)) {
        /* Not quoted: the URL is what holds the password. */
        return evc_err_set(ck->err, EVC_ERR_CONFIG,
                           "%s:%lu: [%s] state: the URL holds a password; put it in [fleet] "
                           "password_file (0600)",
                           c->file, evc_config_key_line(c, section, "state"), section);
    }
    if (!url_loopback_or_verified(url)) {
        warn(ck, evc_config_key_line(c, section, "state"),
             "[%s] state: a database on another host without sslmode=verify-full: whoever is "
             "between can read and change the fleet's rows (sealed keys stay sealed)",
             section);
    }
    if ((r = readable(ck, evc_config_key_line(c, "fleet", "password_file"), "[fleet] ",
                      "password_file", c->fleet.password_file, 0)) != 0 ||
        (r = readable(ck, evc_config_key_line(c, "fleet", "key_file"), "[fleet] ", "key_file",
                      c->fleet.key_file, 0)) != 0) {
        return r;
    }
    if (c->fleet.key_file != NULL && stat(c->fleet.key_file, &st) == 0 && (st.st_mode & 077) != 0) {
        return evc_err_set(ck->err, EVC_ERR_CONFIG,
                           "%s:%lu: [fleet] key_file %s: readable by others (mode %03o); it must "
                           "be 0600",
                           c->file, evc_config_key_line(c, "fleet", "key_file"), c->fleet.key_file,
                           (unsigned)(st.st_mode & 0777));
    }
    return 0;
}

/*
 * What a shared store can never do, told at its shared line before the
 * first pass: a successor without an SA (a key CMS cannot sign with) is
 * one the other hosts cannot check, and a certificate issued by a CA of
 * this configuration would be renewed under a root each host recreates
 * on its own (roots are not shared).
 */
static int
check_shared(struct check *ck)
{
    const struct evc_config *c = ck->c;
    int has_root = 0, r = 0;

    for (size_t i = 0; i < c->nstores; i++) {
        has_root |= c->stores[i].role == EVC_ROLE_ROOT;
    }
    for (size_t i = 0; r == 0 && i < c->nstores; i++) {
        const struct evc_store_conf *s = &c->stores[i];
        unsigned long line = key_line(s->key_lines, EVC_KEY_STORE_shared, s->line);
        struct evc_buf b;
        X509 *leaf = NULL;
        int id;

        if (!s->shared || s->role != EVC_ROLE_PERSONAL || s->cert == NULL) {
            continue;
        }
        evc_buf_init(&b, EVC_STORE_FILE_MAX + 1);
        if (evc_file_read(s->cert, EVC_STORE_FILE_MAX, &b, NULL) != 0 ||
            evc_x509_parse(b.data, b.len, &leaf, NULL) != 0) {
            r = evc_err_set(ck->err, EVC_ERR_CONFIG,
                            "%s:%lu: store \"%s\": cert %s: no certificate", c->file, line, s->name,
                            s->cert);
        } else {
            id = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
            if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
                r = evc_err_set(ck->err, EVC_ERR_CONFIG,
                                "%s:%lu: store \"%s\": shared needs an RSA or ECDSA key (its "
                                "successor reaches the other hosts with an SA, and none can be "
                                "signed with %s): it would never be renewed",
                                c->file, line, s->name,
                                OBJ_nid2sn(id) != NULL ? OBJ_nid2sn(id) : "this key");
            } else if (has_root && X509_check_issued(leaf, leaf) != X509_V_OK) {
                r = evc_err_set(ck->err, EVC_ERR_CONFIG,
                                "%s:%lu: store \"%s\": shared, but issued by a CA while this "
                                "configuration has a root store; roots are not shared (each host "
                                "would recreate its own), so a shared store is self-signed or "
                                "from an outside CA",
                                c->file, line, s->name);
            }
        }
        ERR_clear_error();
        X509_free(leaf);
        evc_buf_free(&b);
    }
    return r;
}

/* An endpoint's anchors must be readable: without them its chain could never verify. */
static int
check_endpoints(struct check *ck)
{
    const struct evc_config *c = ck->c;
    char who[300];
    int r;

    for (size_t i = 0; i < c->nendpoints; i++) {
        const struct evc_endpoint_conf *e = &c->endpoints[i];

        snprintf(who, sizeof(who), "endpoint \"%s\": ", e->name);
        if ((r = readable(ck, key_line(e->key_lines, EVC_KEY_ENDPOINT_ca, e->line), who, "ca",
                          e->ca, 1)) != 0) {
            return r;
        }
    }
    return 0;
}

int
evc_config_check(const struct evc_config *c, enum evc_config_use use, evc_config_say_fn say,
                 void *arg, struct evc_err *err)
{
    struct check ck = {c, say, arg, err};
    char state[EVC_PATH_MAX];
    int r;

    if (use == EVC_CONFIG_USE_AGENT && c->nservers == 0) {
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: no [server \"name\"] sections to follow",
                           c->file);
    }
    if (use != EVC_CONFIG_USE_AGENT && (r = check_stores(&ck)) != 0) {
        return r;
    }
    if (use != EVC_CONFIG_USE_MONITOR && (r = check_servers(&ck)) != 0) {
        return r;
    }
    if ((r = check_fleet(&ck, use)) != 0) {
        return r;
    }
    if (use != EVC_CONFIG_USE_AGENT && (r = check_shared(&ck)) != 0) {
        return r;
    }
    if (use != EVC_CONFIG_USE_AGENT && (r = check_endpoints(&ck)) != 0) {
        return r;
    }
    if ((r = readable(&ck, evc_config_key_line(c, "notify", "smtp_password_file"), "",
                      "smtp_password_file", c->notify.smtp_password_file, 0)) != 0) {
        return r;
    }
    if (use != EVC_CONFIG_USE_AGENT && c->nstores > 0) {
        evc_config_state_path(c->file, c->monitor.state, state, sizeof(state));
        /* The system's state directory is made by the monitor itself. */
        if (strncmp(state, "/var/lib/evercert/", 18) != 0) {
            writable_dir(&ck, evc_config_key_line(c, "monitor", "state"), "state", state);
        }
        writable_dir(&ck, evc_config_key_line(c, "monitor", "metrics_file"), "metrics_file",
                     c->monitor.metrics_file);
        writable_dir(&ck, evc_config_key_line(c, "notify", "report_file"), "report_file",
                     c->notify.report_file);
    }
    if (use != EVC_CONFIG_USE_MONITOR && c->nservers > 0) {
        writable_dir(&ck, evc_config_key_line(c, "agent", "state"), "state", c->agent.state);
    }
    return 0;
}
