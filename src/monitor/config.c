/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration file. inih splits lines; everything else is here: one
 * table of keys, a handler that fills a struct, then a validation pass for
 * what only the whole file can tell (missing keys, one file in two stores).
 * Errors carry "file:line:"; for store-level errors the line is the
 * store's header, found by the parser while it reads.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evercert/buf.h"
#include "evercert/config.h"
#include "evercert/limits.h"
#include "evercert/monitor.h"
#include "base/file.h"

enum key_type {
    K_SPAN,
    K_SECONDS,
    K_WINDOW,
    K_BOOL,
    K_ROLE,
    K_PATH,
    K_TEXT,
    K_INT,
    K_WEEKDAY,
    K_HOSTPORT,
    K_FORMAT,
    K_POLICY,
    K_SOURCES
};

enum section { SEC_POLICY = 0, SEC_STORE, SEC_MONITOR, SEC_NOTIFY, SEC_AGENT, SEC_SERVER };
static const char *const section_names[] = {"[policy]", "a store", "[monitor]",
                                            "[notify]", "[agent]", "a server"};

struct key_def {
    enum section section;
    const char *name;
    enum key_type type;
    size_t offset; /* into the section's struct */
    int min, max;  /* K_INT bounds */
};

#define P(f) offsetof(struct evc_policy, f)
#define S(f) offsetof(struct evc_store_conf, f)
#define M(f) offsetof(struct evc_monitor_conf, f)
#define N(f) offsetof(struct evc_notify_conf, f)
#define A(f) offsetof(struct evc_agent_conf, f)
#define V(f) offsetof(struct evc_server_conf, f)
static const struct key_def keys[] = {
    {SEC_POLICY, "expiration_threshold", K_SPAN, P(thresholds.threshold), 0, 0},
    {SEC_POLICY, "prenotification", K_SPAN, P(thresholds.prenotify), 0, 0},
    {SEC_POLICY, "auto_replace", K_BOOL, P(auto_replace), 0, 0},
    {SEC_POLICY, "delete_old", K_BOOL, P(delete_old), 0, 0},
    {SEC_POLICY, "reuse_key", K_BOOL, P(reuse_key), 0, 0},
    {SEC_POLICY, "deleted_retention", K_SECONDS, P(deleted_retention), 0, 0},
    {SEC_POLICY, "distribution_window", K_WINDOW, P(window), 0, 0},
    {SEC_STORE, "role", K_ROLE, S(role), 0, 0},
    {SEC_STORE, "path", K_PATH, S(path), 0, 0},
    {SEC_STORE, "cert", K_PATH, S(cert), 0, 0},
    {SEC_STORE, "key", K_PATH, S(key), 0, 0},
    {SEC_STORE, "password_file", K_PATH, S(password_file), 0, 0},
    {SEC_STORE, "service", K_TEXT, S(service), 0, 0},
    {SEC_STORE, "after_replace", K_TEXT, S(after_replace), 0, 0},
    {SEC_STORE, "after_replace_shell", K_BOOL, S(after_replace_shell), 0, 0},
    {SEC_STORE, "hook_timeout", K_SECONDS, S(hook_timeout), 0, 0},
    {SEC_STORE, "verify", K_TEXT, S(verify), 0, 0},
    {SEC_STORE, "verify_servername", K_TEXT, S(verify_servername), 0, 0},
    {SEC_STORE, "verify_timeout", K_SECONDS, S(verify_timeout), 0, 0},
    {SEC_MONITOR, "enabled", K_BOOL, M(enabled), 0, 0},
    {SEC_MONITOR, "frequency", K_INT, M(schedule.frequency), 1, 366},
    {SEC_MONITOR, "day_of_week", K_WEEKDAY, M(schedule.day_of_week), 0, 0},
    {SEC_MONITOR, "hour", K_INT, M(schedule.hour), 0, 23},
    {SEC_MONITOR, "minute", K_INT, M(schedule.minute), 0, 59},
    {SEC_MONITOR, "state", K_PATH, M(state), 0, 0},
    {SEC_MONITOR, "metrics_file", K_PATH, M(metrics_file), 0, 0},
    {SEC_NOTIFY, "log", K_TEXT, N(log), 0, 0},
    {SEC_NOTIFY, "report_file", K_PATH, N(report_file), 0, 0},
    {SEC_NOTIFY, "email_to", K_TEXT, N(email_to), 0, 0},
    {SEC_NOTIFY, "email_from", K_TEXT, N(email_from), 0, 0},
    {SEC_NOTIFY, "smtp_url", K_TEXT, N(smtp_url), 0, 0},
    {SEC_NOTIFY, "smtp_user", K_TEXT, N(smtp_user), 0, 0},
    {SEC_NOTIFY, "smtp_password_file", K_PATH, N(smtp_password_file), 0, 0},
    {SEC_AGENT, "state", K_PATH, A(state), 0, 0},
    {SEC_AGENT, "deleted", K_PATH, A(deleted), 0, 0},
    {SEC_SERVER, "connect", K_HOSTPORT, V(connect), 0, 0},
    {SEC_SERVER, "service", K_TEXT, V(service), 0, 0},
    {SEC_SERVER, "trust", K_PATH, V(trust), 0, 0},
    {SEC_SERVER, "trust_format", K_FORMAT, V(trust_format), 0, 0},
    {SEC_SERVER, "password_file", K_PATH, V(password_file), 0, 0},
    {SEC_SERVER, "policy", K_POLICY, V(policy), 0, 0},
    {SEC_SERVER, "sources", K_SOURCES, V(sources), 0, 0},
    {SEC_SERVER, "url", K_TEXT, V(url), 0, 0},
    {SEC_SERVER, "announce", K_HOSTPORT, V(announce), 0, 0},
    {SEC_SERVER, "interval", K_SECONDS, V(interval), 0, 0},
    {SEC_SERVER, "after_change", K_TEXT, V(after_change), 0, 0},
    {SEC_SERVER, "after_change_shell", K_BOOL, V(after_change_shell), 0, 0},
    {SEC_SERVER, "hook_timeout", K_SECONDS, V(hook_timeout), 0, 0},
};
#undef A
#undef V
#undef P
#undef S
#undef M
#undef N

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};

static const char *const role_names[] = {"root", "personal", "trust", "deleted"};
static const char *const format_names[] = {"auto", "bundle", "hashdir", "pkcs12", "pin"};
static const char *const policy_names[] = {"auto", "manual", "ca"};
static const char *const source_names[] = {"handshake", "push", "url"};

const char *
evc_trust_format_name(enum evc_trust_format f)
{
    return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

const char *
evc_role_name(enum evc_role r)
{
    return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "?";
}

struct parser {
    struct evc_config *c;
    const char *name;
    const char *dir;
    const char *text;
    size_t len;
    struct evc_err *err;
    unsigned long line;           /* of the key being handled */
    struct evc_store_conf *cur;   /* the store being read, when section is SEC_STORE */
    struct evc_server_conf *curv; /* the server being read, when section is SEC_SERVER */
    enum section section;
    unsigned seen_sections; /* bit per non-store section, to refuse one given twice */
    uint64_t seen;          /* keys set in the current section, by table index */
    char last_section[256]; /* inih's section string of the last key */
    int failed;
    /*
     * Where line mark_line starts (0: not yet known). Line searches look
     * after ps->line only, and it grows key by key, so they start here
     * rather than at the top: parsing stays linear in the text's length.
     */
    unsigned long mark_line;
    size_t mark_off;
};

/* The first line a search for lines after `after` may start at: the mark, or the top. */
static const char *
search_start(const struct parser *ps, unsigned long after, unsigned long *line)
{
    if (ps->mark_line != 0 && ps->mark_line <= after + 1) {
        *line = ps->mark_line;
        return ps->text + ps->mark_off;
    }
    *line = 1;
    return ps->text;
}

/*
 * The line inih is on: the first line after the last one handled that
 * starts (after blanks) with needle, a key or a "[section]" header.
 */
static unsigned long
find_line(struct parser *ps, const char *needle)
{
    const char *p, *end = ps->text + ps->len;
    unsigned long line;
    size_t n = strlen(needle);
    int bol = 1;

    for (p = search_start(ps, ps->line, &line); p < end; p++) {
        if (bol && *p != ' ' && *p != '\t') {
            if (line > ps->line && (size_t)(end - p) >= n && memcmp(p, needle, n) == 0) {
                return line;
            }
            bol = 0;
        }
        if (*p == '\n') {
            line++;
            bol = 1;
            if (line == ps->line + 1) {
                ps->mark_line = line;
                ps->mark_off = (size_t)(p + 1 - ps->text);
            }
        }
    }
    return ps->line;
}

/* The first line that starts with needle, from the top. */
static unsigned long
find_line_from(struct parser *ps, const char *needle)
{
    ps->line = 0;
    return find_line(ps, needle);
}

/* Is there a "[section]" line after line from and before line to? */
static int
header_between(const struct parser *ps, unsigned long from, unsigned long to)
{
    const char *p, *end = ps->text + ps->len;
    unsigned long line;
    int bol = 1;

    for (p = search_start(ps, from, &line); p < end && line < to; p++) {
        if (bol && line > from && *p == '[') {
            return 1;
        }
        if (*p == '\n') {
            line++;
            bol = 1;
        } else if (*p != ' ' && *p != '\t') {
            bol = 0;
        }
    }
    return 0;
}

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct parser *ps, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    if (!ps->failed) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        evc_err_set(ps->err, EVC_ERR_CONFIG, "%s:%lu: %s", ps->name, ps->line, msg);
        ps->failed = 1;
    }
    return 0;
}

static int
set_path(struct parser *ps, char **dst, const char *v)
{
    size_t n;

    free(*dst);
    if (*v == '/' || ps->dir == NULL || *ps->dir == '\0') {
        *dst = strdup(v);
    } else {
        n = strlen(ps->dir) + strlen(v) + 2;
        if ((*dst = malloc(n)) != NULL) {
            snprintf(*dst, n, "%s/%s", ps->dir, v);
        }
    }
    if (*dst == NULL) {
        return fail(ps, "out of memory");
    }
    if (strlen(*dst) >= EVC_PATH_MAX) {
        return fail(ps, "path too long");
    }
    return 1;
}

static int
set_value(struct parser *ps, const struct key_def *k, void *base, const char *v)
{
    void *f = (char *)base + k->offset;

    switch (k->type) {
    case K_SPAN:
        if (evc_span_parse(v, f) != 0) {
            return fail(ps, "%s: expected a duration like 60d or 33%%, not '%s'", k->name, v);
        }
        return 1;
    case K_SECONDS: {
        struct evc_span s;

        if (evc_span_parse(v, &s) != 0 || s.unit != EVC_SPAN_SECONDS) {
            return fail(ps, "%s: expected a duration like 90d, not '%s'", k->name, v);
        }
        *(int64_t *)f = s.value;
        return 1;
    }
    case K_WINDOW:
        if (strcmp(v, "0") == 0) {
            ((struct evc_span *)f)->unit = EVC_SPAN_SECONDS;
            ((struct evc_span *)f)->value = 0;
        } else if (evc_span_parse(v, f) != 0) {
            return fail(ps, "%s: expected 0, a duration like 7d or a share like 33%%, not '%s'",
                        k->name, v);
        }
        ps->c->policy.window_set = 1;
        return 1;
    case K_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0) {
            *(int *)f = 1;
        } else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0) {
            *(int *)f = 0;
        } else {
            return fail(ps, "%s: expected true or false, not '%s'", k->name, v);
        }
        return 1;
    case K_ROLE:
        for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++) {
            if (strcmp(v, role_names[i]) == 0) {
                *(enum evc_role *)f = (enum evc_role)i;
                return 1;
            }
        }
        return fail(ps, "role: expected root, personal, trust or deleted, not '%s'", v);
    case K_PATH:
        if (*v == '\0') {
            return fail(ps, "%s: empty path", k->name);
        }
        return set_path(ps, (char **)f, v);
    case K_INT: {
        char *end;
        long n;

        errno = 0;
        n = strtol(v, &end, 10);
        if (errno != 0 || *v == '\0' || *end != '\0' || n < k->min || n > k->max) {
            return fail(ps, "%s: expected a whole number from %d to %d, not '%s'", k->name, k->min,
                        k->max, v);
        }
        *(int *)f = (int)n;
        return 1;
    }
    case K_WEEKDAY:
        if (strcmp(v, "any") == 0) {
            *(int *)f = -1;
            return 1;
        }
        for (int d = 0; d < 7; d++) {
            if (strcasecmp(v, weekday_names[d]) == 0) {
                *(int *)f = d;
                return 1;
            }
        }
        return fail(ps, "%s: expected a day like sunday, or any, not '%s'", k->name, v);
    case K_HOSTPORT: {
        const char *colon = strrchr(v, ':');
        char *end;
        long port;

        port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
        if (colon == NULL || colon == v || colon[1] == '\0' || *end != '\0' || port < 1 ||
            port > 65535) {
            return fail(ps, "%s: expected host:port, not '%s'", k->name, v);
        }
        free(*(char **)f);
        if ((*(char **)f = strdup(v)) == NULL) {
            return fail(ps, "out of memory");
        }
        return 1;
    }
    case K_FORMAT:
        for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
            if (strcmp(v, format_names[i]) == 0) {
                *(enum evc_trust_format *)f = (enum evc_trust_format)i;
                return 1;
            }
        }
        return fail(ps, "%s: expected auto, bundle, hashdir, pkcs12 or pin, not '%s'", k->name, v);
    case K_POLICY: {
        struct evc_span hold;

        for (int i = 0; i < (int)(sizeof(policy_names) / sizeof(policy_names[0])); i++) {
            if (strcmp(v, policy_names[i]) == 0) {
                *(int *)f = i;
                return 1;
            }
        }
        if (strncmp(v, "holddown=", 9) == 0 && evc_span_parse(v + 9, &hold) == 0 &&
            hold.unit == EVC_SPAN_SECONDS && hold.value > 0) {
            *(int *)f = 0; /* auto, once the hold is over */
            ((struct evc_server_conf *)base)->holddown = hold.value;
            return 1;
        }
        return fail(ps, "%s: expected auto, manual, ca or holddown=DURATION (like 30d), not '%s'",
                    k->name, v);
    }
    case K_SOURCES: {
        unsigned got = 0;
        const char *p = v;

        while (*p != '\0') {
            size_t n, i;

            p += strspn(p, " \t,");
            n = strcspn(p, " \t,");
            if (n == 0) {
                break;
            }
            for (i = 0; i < sizeof(source_names) / sizeof(source_names[0]); i++) {
                if (strlen(source_names[i]) == n && strncmp(p, source_names[i], n) == 0) {
                    break;
                }
            }
            if (i == sizeof(source_names) / sizeof(source_names[0])) {
                return fail(ps, "%s: '%.*s' is not handshake, push or url", k->name, (int)n, p);
            }
            got |= 1u << i;
            p += n;
        }
        if (got == 0) {
            return fail(ps, "%s: expected one or more of handshake, push, url", k->name);
        }
        *(unsigned *)f = got;
        return 1;
    }
    case K_TEXT:
        free(*(char **)f);
        if ((*(char **)f = strdup(v)) == NULL) {
            return fail(ps, "out of memory");
        }
        return 1;
    default:
        return fail(ps, "internal error: key type");
    }
}

/* `KIND "name"` → name, or NULL if the section is not of that form. */
static char *
quoted_name(const char *section, const char *kind)
{
    size_t n = strlen(section), k = strlen(kind);

    if (strncmp(section, kind, k) != 0 || strncmp(section + k, " \"", 2) != 0 || n < k + 4 ||
        section[n - 1] != '"') {
        return NULL;
    }
    for (size_t i = k + 2; i < n - 1; i++) {
        if (section[i] == '"' || (unsigned char)section[i] < 0x20) {
            return NULL;
        }
    }
    return strndup(section + k + 2, n - k - 3);
}

static int
begin_server(struct parser *ps, char *name)
{
    struct evc_server_conf *v;

    for (size_t i = 0; i < ps->c->nservers; i++) {
        if (strcmp(ps->c->servers[i].name, name) == 0) {
            free(name);
            return fail(ps, "server \"%s\" defined twice", ps->c->servers[i].name);
        }
    }
    if (ps->c->nservers >= EVC_CONFIG_STORES_MAX) {
        free(name);
        return fail(ps, "more than %d servers", EVC_CONFIG_STORES_MAX);
    }
    if ((v = realloc(ps->c->servers, (ps->c->nservers + 1) * sizeof(*v))) == NULL) {
        free(name);
        return fail(ps, "out of memory");
    }
    ps->c->servers = v;
    ps->curv = &v[ps->c->nservers++];
    memset(ps->curv, 0, sizeof(*ps->curv));
    ps->curv->name = name;
    ps->curv->line = ps->line;
    ps->curv->interval = 3600;
    ps->curv->hook_timeout = 30;
    ps->section = SEC_SERVER;
    return 1;
}

static int
begin_section(struct parser *ps, const char *section)
{
    char *name;
    struct evc_store_conf *s;
    char header[300];

    ps->seen = 0;
    snprintf(header, sizeof(header), "[%s]", section);
    ps->line = find_line(ps, header);
    static const struct {
        const char *name;
        enum section section;
    } plain[] = {{"policy", SEC_POLICY},
                 {"monitor", SEC_MONITOR},
                 {"notify", SEC_NOTIFY},
                 {"agent", SEC_AGENT}};

    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (strcmp(section, plain[i].name) == 0) {
            if (ps->seen_sections & (1u << plain[i].section)) {
                return fail(ps, "[%s] given twice", section);
            }
            ps->seen_sections |= 1u << plain[i].section;
            ps->section = plain[i].section;
            ps->cur = NULL;
            return 1;
        }
    }
    if ((name = quoted_name(section, "server")) != NULL) {
        return begin_server(ps, name);
    }
    if ((name = quoted_name(section, "store")) == NULL) {
        return fail(ps,
                    "unknown section [%s] (expected [policy], [monitor], [notify], [agent], "
                    "[store \"name\"] or [server \"name\"])",
                    section);
    }
    for (size_t i = 0; i < ps->c->nstores; i++) {
        if (strcmp(ps->c->stores[i].name, name) == 0) {
            free(name);
            return fail(ps, "store \"%s\" defined twice", ps->c->stores[i].name);
        }
    }
    if (ps->c->nstores >= EVC_CONFIG_STORES_MAX) {
        free(name);
        return fail(ps, "more than %d stores", EVC_CONFIG_STORES_MAX);
    }
    s = realloc(ps->c->stores, (ps->c->nstores + 1) * sizeof(*s));
    if (s == NULL) {
        free(name);
        return fail(ps, "out of memory");
    }
    ps->c->stores = s;
    ps->cur = &s[ps->c->nstores++];
    memset(ps->cur, 0, sizeof(*ps->cur));
    ps->cur->name = name;
    ps->cur->role = (enum evc_role) - 1;
    ps->cur->line = ps->line;
    ps->cur->hook_timeout = 30;
    ps->cur->verify_timeout = 10;
    ps->section = SEC_STORE;
    return 1;
}

static int
handle(void *arg, const char *section, const char *name, const char *value)
{
    struct parser *ps = arg;

    if (ps->failed) {
        return 0;
    }
    /*
     * inih calls us per key, never per section: a section begins where the
     * section string changes or a header line lies since the last key
     * (the same name twice).
     */
    if (ps->line == 0 || strcmp(section, ps->last_section) != 0 ||
        header_between(ps, ps->line, find_line(ps, name))) {
        snprintf(ps->last_section, sizeof(ps->last_section), "%s", section);
        if (*section == '\0') {
            ps->line = find_line(ps, name);
            return fail(ps, "'%s' outside any section", name);
        }
        if (!begin_section(ps, section)) {
            return 0;
        }
    }
    ps->line = find_line(ps, name);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        void *base;

        if (keys[i].section != ps->section || strcmp(keys[i].name, name) != 0) {
            continue;
        }
        if (ps->seen & (1ull << i)) {
            return fail(ps, "'%s' given twice", name);
        }
        ps->seen |= 1ull << i;
        switch (ps->section) {
        case SEC_STORE:
            base = ps->cur;
            break;
        case SEC_MONITOR:
            base = &ps->c->monitor;
            break;
        case SEC_NOTIFY:
            base = &ps->c->notify;
            break;
        case SEC_AGENT:
            base = &ps->c->agent;
            break;
        case SEC_SERVER:
            base = ps->curv;
            break;
        default:
            base = &ps->c->policy;
            break;
        }
        return set_value(ps, &keys[i], base, value);
    }
    return fail(ps, "unknown key '%s' in %s", name, section_names[ps->section]);
}

void
evc_config_free(struct evc_config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nstores; i++) {
        struct evc_store_conf *s = &c->stores[i];

        free(s->name);
        free(s->path);
        free(s->cert);
        free(s->key);
        free(s->password_file);
        free(s->service);
        free(s->after_replace);
        free(s->verify);
        free(s->verify_servername);
    }
    free(c->monitor.state);
    free(c->monitor.metrics_file);
    free(c->notify.log);
    free(c->notify.report_file);
    free(c->notify.email_to);
    free(c->notify.email_from);
    free(c->notify.smtp_url);
    free(c->notify.smtp_user);
    free(c->notify.smtp_password_file);
    for (size_t i = 0; i < c->nservers; i++) {
        struct evc_server_conf *v = &c->servers[i];

        free(v->name);
        free(v->connect);
        free(v->service);
        free(v->trust);
        free(v->password_file);
        free(v->url);
        free(v->announce);
        free(v->after_change);
    }
    free(c->servers);
    free(c->agent.state);
    free(c->agent.deleted);
    free(c->stores);
    free(c->file);
    free(c);
}

static int
store_fail(struct parser *ps, const struct evc_store_conf *s, const char *why)
{
    ps->line = s->line;
    return fail(ps, "store \"%s\": %s", s->name, why);
}

static int
server_fail(struct parser *ps, const struct evc_server_conf *v, const char *why)
{
    ps->line = v->line;
    return fail(ps, "server \"%s\": %s", v->name, why);
}

/* A server's missing keys and defaults. */
static int
validate_server(struct parser *ps, struct evc_server_conf *v)
{
    unsigned offered = EVC_SOURCE_HANDSHAKE;

    if (v->connect == NULL || v->trust == NULL) {
        return server_fail(ps, v, "connect and trust are needed");
    }
    if (v->url != NULL) {
        if (strncmp(v->url, "https://", 8) != 0 || v->url[8] == '\0') {
            return server_fail(ps, v, "url: expected https://host/path");
        }
        offered |= EVC_SOURCE_URL;
    }
    if (v->announce != NULL) {
        offered |= EVC_SOURCE_PUSH;
    }
    if (v->sources == 0) {
        v->sources = offered;
    } else if ((v->sources & EVC_SOURCE_URL) && v->url == NULL) {
        return server_fail(ps, v, "sources has url but there is no url");
    } else if ((v->sources & EVC_SOURCE_PUSH) && v->announce == NULL) {
        return server_fail(ps, v, "sources has push but there is no announce = host:port");
    }
    if (v->interval <= 0) {
        return server_fail(ps, v, "interval must be more than 0");
    }
    if (v->service == NULL) {
        /* The host of connect, without [] around an IPv6 address. */
        const char *h = v->connect, *colon = strrchr(v->connect, ':');
        size_t n = (size_t)(colon - h);

        if (*h == '[' && n >= 2 && h[n - 1] == ']') {
            h++;
            n -= 2;
        }
        if ((v->service = strndup(h, n)) == NULL) {
            return fail(ps, "out of memory");
        }
    }
    if (v->password_file != NULL && v->trust_format != EVC_TRUST_AUTO &&
        v->trust_format != EVC_TRUST_PKCS12) {
        return server_fail(ps, v, "password_file is for a pkcs12 trust store");
    }
    return 1;
}

/*
 * delete_old without a deleted store: replaced certificates go to a
 * directory beside the state database, as WebSphere keeps its deleted
 * keystore without being asked. The name is the configuration's path as
 * the command line gave it, so this agrees with the monitor's state.
 */
static int
add_default_deleted(struct parser *ps)
{
    struct evc_config *c = ps->c;
    struct evc_store_conf *s;
    char cfg[EVC_PATH_MAX], state[EVC_PATH_MAX], path[EVC_PATH_MAX];
    const char *name = "deleted", *sep;
    size_t n;

    if (strchr(ps->name, '/') != NULL || ps->dir == NULL || *ps->dir == '\0') {
        snprintf(cfg, sizeof(cfg), "%s", ps->name);
    } else {
        snprintf(cfg, sizeof(cfg), "%s/%s", ps->dir, ps->name);
    }
    evc_monitor_state_path(cfg, c->monitor.state, state, sizeof(state));
    /* Named after the state: state.db -> deleted, X-state.db and X.db -> X-deleted. */
    n = strlen(state);
    if (n > 3 && strcmp(state + n - 3, ".db") == 0) {
        n -= 3;
    }
    if (n >= 5 && memcmp(state + n - 5, "state", 5) == 0 &&
        (n == 5 || state[n - 6] == '/' || state[n - 6] == '-')) {
        n -= 5;
    }
    sep = n == 0 || state[n - 1] == '/' || state[n - 1] == '-' ? "" : "-";
    if (evc_path_fmt(path, sizeof(path), "%.*s%sdeleted", (int)n, state, sep) != 0) {
        ps->line = c->monitor.state != NULL ? find_line_from(ps, "state") : 1;
        return fail(ps, "the default deleted store's path (the state's, plus deleted) is too long");
    }
    for (size_t i = 0; i < c->nstores; i++) {
        const struct evc_store_conf *o = &c->stores[i];
        const char *files[3] = {o->path, o->cert, o->key};

        if (strcmp(o->name, name) == 0) {
            name = "default-deleted";
        }
        for (size_t k = 0; k < 3; k++) {
            if (files[k] != NULL && strcmp(files[k], path) == 0) {
                return store_fail(ps, o,
                                  "its path is where replaced certificates go when no store has "
                                  "role = deleted; add one or set delete_old = false");
            }
        }
    }
    if (c->nstores >= EVC_CONFIG_STORES_MAX) {
        ps->line = c->stores[c->nstores - 1].line;
        return fail(ps, "more than %d stores with the default deleted store",
                    EVC_CONFIG_STORES_MAX - 1);
    }
    if ((s = realloc(c->stores, (c->nstores + 1) * sizeof(*s))) == NULL) {
        return fail(ps, "out of memory");
    }
    c->stores = s;
    s = &s[c->nstores];
    memset(s, 0, sizeof(*s));
    if ((s->name = strdup(name)) == NULL || (s->path = strdup(path)) == NULL) {
        free(s->name);
        return fail(ps, "out of memory");
    }
    s->role = EVC_ROLE_DELETED;
    s->implicit = 1;
    c->nstores++;
    return 1;
}

/* What only the whole file can tell. */
static int
validate(struct parser *ps)
{
    struct evc_config *c = ps->c;
    size_t ndeleted = 0, npersonal = 0;

    for (size_t i = 0; i < c->nstores; i++) {
        struct evc_store_conf *s = &c->stores[i];
        const char *files[3] = {s->path, s->cert, s->key};

        switch (s->role) {
        case EVC_ROLE_PERSONAL:
            npersonal++;
            if (s->path != NULL || s->cert == NULL || s->key == NULL) {
                return store_fail(ps, s, "a personal store needs cert and key (and no path)");
            }
            break;
        case EVC_ROLE_ROOT:
        case EVC_ROLE_TRUST:
        case EVC_ROLE_DELETED:
            if (s->path == NULL || s->cert != NULL || s->key != NULL) {
                return store_fail(ps, s, "this role needs path (and no cert or key)");
            }
            if (s->role == EVC_ROLE_DELETED && ndeleted++ > 0) {
                return store_fail(ps, s, "a second store with role = deleted (one is allowed)");
            }
            break;
        default:
            return store_fail(ps, s, "role is missing");
        }
        if (s->role != EVC_ROLE_PERSONAL &&
            (s->service != NULL || s->after_replace != NULL || s->verify != NULL)) {
            return store_fail(ps, s, "service, after_replace and verify belong to personal stores");
        }
        if (s->verify != NULL && strrchr(s->verify, ':') == NULL) {
            return store_fail(ps, s, "verify: expected host:port");
        }
        /* Two stores writing one file would undo each other's work. */
        for (size_t j = 0; j <= i; j++) {
            const struct evc_store_conf *o = &c->stores[j];
            const char *ofiles[3] = {o->path, o->cert, o->key};

            for (size_t a = 0; a < 3; a++) {
                for (size_t b = 0; b < 3; b++) {
                    if (files[a] == NULL || ofiles[b] == NULL || (j == i && b <= a) ||
                        strcmp(files[a], ofiles[b]) != 0) {
                        continue;
                    }
                    char why[EVC_PATH_MAX + 64];

                    snprintf(why, sizeof(why), "%s is also used by store \"%s\"", files[a],
                             o->name);
                    return store_fail(ps, s, why);
                }
            }
        }
    }
    for (size_t i = 0; i < c->nservers; i++) {
        if (!validate_server(ps, &c->servers[i])) {
            return 0;
        }
    }
    if (c->nstores == 0 && c->nservers == 0) {
        ps->line = 1;
        return fail(ps, "no [store \"name\"] or [server \"name\"] sections");
    }
    if (c->nstores > 0 && c->policy.delete_old && ndeleted == 0 && !add_default_deleted(ps)) {
        return 0;
    }
    (void)npersonal;
    if (c->notify.log != NULL && strcmp(c->notify.log, "stderr") != 0 &&
        strcmp(c->notify.log, "syslog") != 0 && strcmp(c->notify.log, "journal") != 0 &&
        strcmp(c->notify.log, "none") != 0) {
        ps->line = find_line_from(ps, "log");
        return fail(ps, "log: expected stderr, syslog, journal or none, not '%s'", c->notify.log);
    }
#ifndef EVC_HAVE_SYSTEMD
    if (c->notify.log != NULL && strcmp(c->notify.log, "journal") == 0) {
        ps->line = find_line_from(ps, "log");
        return fail(ps, "log = journal needs evercert built with libsystemd");
    }
#endif
    if ((c->notify.email_to != NULL) != (c->notify.email_from != NULL)) {
        ps->line = find_line_from(ps, c->notify.email_to != NULL ? "email_to" : "email_from");
        return fail(ps, "email_to and email_from go together");
    }
    return 1;
}

int
evc_config_parse(const char *text, size_t len, const char *name, const char *dir,
                 struct evc_config **out, struct evc_err *err)
{
    struct parser ps;
    char *copy = NULL;
    int rc, r = EVC_ERR_INTERNAL;

    *out = NULL;
    memset(&ps, 0, sizeof(ps));
    ps.name = name;
    ps.dir = dir;
    ps.text = text;
    ps.len = len;
    ps.err = err;
    if (memchr(text, '\0', len) != NULL) {
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: contains a NUL byte", name);
    }
    if ((ps.c = calloc(1, sizeof(*ps.c))) == NULL || (copy = strndup(text, len)) == NULL ||
        (ps.c->file = strdup(name)) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    evc_thresholds_default(&ps.c->policy.thresholds);
    ps.c->policy.auto_replace = 1;
    ps.c->policy.delete_old = 1;
    ps.c->policy.reuse_key = 0;
    ps.c->policy.deleted_retention = (int64_t)90 * 86400;
    /* WebSphere's expiration monitor: every 14 days, on Sunday, at 21:30. */
    ps.c->monitor.enabled = 1;
    ps.c->monitor.schedule.frequency = 14;
    ps.c->monitor.schedule.day_of_week = 0;
    ps.c->monitor.schedule.hour = 21;
    ps.c->monitor.schedule.minute = 30;
    rc = ini_parse_string(copy, handle, &ps);
    if (!ps.failed && rc != 0) {
        ps.line = rc > 0 ? (unsigned long)rc : 0;
        fail(&ps, "%s",
             rc > 0 ? "not a section, a key = value or a comment (or too long)" : "cannot be read");
    }
    if (ps.failed || !validate(&ps)) {
        r = EVC_ERR_CONFIG;
        goto out;
    }
    *out = ps.c;
    ps.c = NULL;
    r = 0;
out:
    free(copy);
    evc_config_free(ps.c);
    return r;
}

int
evc_config_load(const char *path, struct evc_config **out, struct evc_err *err)
{
    struct evc_buf b;
    char dir[EVC_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int r;

    *out = NULL;
    evc_buf_init(&b, EVC_CONFIG_FILE_MAX);
    if ((r = evc_file_read(path, EVC_CONFIG_FILE_MAX, &b, err)) != 0) {
        evc_err_set(err, r, "%s: %s", path, evc_err_message(err));
        goto out;
    }
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
        if (dir[0] == '\0') {
            snprintf(dir, sizeof(dir), "/");
        }
    }
    r = evc_config_parse((const char *)b.data, b.len, path, dir, out, err);
out:
    evc_buf_free(&b);
    return r;
}

evc_time
evc_policy_activate_at(const struct evc_policy *p, evc_time now, evc_time not_after)
{
    int64_t left = not_after - now, window;

    if (left <= 0) {
        return now;
    }
    if (p->window_set) {
        /* A share is of the time left, not of the lifetime. */
        window = evc_span_seconds(&p->window, left);
    } else {
        window = left / 3;
        if (window > (int64_t)7 * 86400) {
            window = (int64_t)7 * 86400;
        }
    }
    /* Activation always falls before the old certificate ends. */
    /* (left * 9 / 10, not left / 10 * 9: a few seconds left must not round to no window.) */
    if (window > left * 9 / 10) {
        window = left * 9 / 10;
    }
    return now + window;
}
