/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration file, from text to struct evc_config: the INI reader
 * (ini.c) hands out sections and keys with their lines, the key table
 * (keys.h) says where each value goes and how it is read, and the
 * validator (validate.c) checks what only the whole file can tell.
 * Every error carries "file:line:".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evercert/buf.h"
#include "evercert/config.h"
#include "evercert/limits.h"
#include "base/file.h"
#include "config/config_int.h"
#include "config/ini.h"

#define OFF_POLICY(f) offsetof(struct evc_policy, f)
#define OFF_STORE(f) offsetof(struct evc_store_conf, f)
#define OFF_MONITOR(f) offsetof(struct evc_monitor_conf, f)
#define OFF_NOTIFY(f) offsetof(struct evc_notify_conf, f)
#define OFF_AGENT(f) offsetof(struct evc_agent_conf, f)
#define OFF_FLEET(f) offsetof(struct evc_fleet_conf, f)
#define OFF_SERVER(f) offsetof(struct evc_server_conf, f)
#define OFF_ENDPOINT(f) offsetof(struct evc_endpoint_conf, f)
#define EVC_K_DEF(sec, name, type, field, min, max, dflt, reload, doc)                             \
    {EVC_SEC_##sec, #name, EVC_KT_##type, OFF_##sec(field), min, max, dflt, reload, doc},
const struct evc_key_def evc_config_keys[EVC_CONFIG_NKEYS] = {EVC_CONFIG_KEYS(EVC_K_DEF)};
#undef EVC_K_DEF

#define EVC_S_NAME(s, name, what, doc) name,
static const char *const section_keys[] = {EVC_CONFIG_SECTIONS(EVC_S_NAME)};
#undef EVC_S_NAME
#define EVC_S_WHAT(s, name, what, doc) what,
static const char *const section_names[] = {EVC_CONFIG_SECTIONS(EVC_S_WHAT)};
#undef EVC_S_WHAT

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};
static const char *const role_names[] = {"root", "personal", "trust", "deleted"};
static const char *const format_names[] = {"auto", "bundle", "hashdir", "pkcs12",
                                           "pin",  "nss",    "system",  "jks"};
static const char *const policy_names[] = {"auto", "manual", "ca"};
static const char *const source_names[] = {"handshake", "push", "url"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
evc_trust_format_name(enum evc_trust_format f)
{
    return (unsigned)f < NELEM(format_names) ? format_names[f] : "?";
}

/* The table as the manual and `check-config --keys` show it, built by the compiler. */
#define SEC_NAME_POLICY "policy"
#define SEC_NAME_STORE "store"
#define SEC_NAME_MONITOR "monitor"
#define SEC_NAME_NOTIFY "notify"
#define SEC_NAME_AGENT "agent"
#define SEC_NAME_FLEET "fleet"
#define SEC_NAME_SERVER "server"
#define SEC_NAME_ENDPOINT "endpoint"
#define EVC_T_FORM_DEF(t, form, words) static const char form_##t[] = form, words_##t[] = words;
EVC_CONFIG_TYPES(EVC_T_FORM_DEF)
#undef EVC_T_FORM_DEF
#define EVC_K_PUB(sec, name, type, field, min, max, dflt, reload, doc)                             \
    {SEC_NAME_##sec, #name, form_##type, words_##type, min, max, dflt, reload, doc},
static const struct evc_config_key public_keys[EVC_CONFIG_NKEYS] = {EVC_CONFIG_KEYS(EVC_K_PUB)};
#undef EVC_K_PUB

const struct evc_config_key *
evc_config_key_get0(size_t i)
{
    return i < EVC_CONFIG_NKEYS ? &public_keys[i] : NULL;
}

static int
key_index(const char *section, const char *name)
{
    for (int i = 0; i < EVC_CONFIG_NKEYS; i++) {
        if (strcmp(section_keys[evc_config_keys[i].section], section) == 0 &&
            strcmp(evc_config_keys[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

unsigned long
evc_config_key_line(const struct evc_config *c, const char *section, const char *name)
{
    int i = key_index(section, name);

    return i < 0 || c->key_lines == NULL ? 0 : c->key_lines[i];
}

int
evc_config_fail(struct evc_parser *ps, const char *fmt, ...)
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

#define fail evc_config_fail

static int
set_path(struct evc_parser *ps, char **dst, const char *v)
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

/* "nss:" and the path as set_path makes it. */
static int
set_nss_path(struct evc_parser *ps, char **dst, const char *v)
{
    char *p;
    size_t n;

    if (*v == '\0') {
        return fail(ps, "trust: no directory after nss: or sql:");
    }
    if (set_path(ps, dst, v) != 1) {
        return 0;
    }
    n = strlen(*dst) + 5;
    if ((p = malloc(n)) == NULL) {
        return fail(ps, "out of memory");
    }
    snprintf(p, n, "nss:%s", *dst);
    free(*dst);
    *dst = p;
    return 1;
}

static int
set_policy(struct evc_parser *ps, const struct evc_key_def *k, void *base, const char *v)
{
    struct evc_span hold;

    for (int i = 0; i < (int)NELEM(policy_names); i++) {
        if (strcmp(v, policy_names[i]) == 0) {
            *(int *)((char *)base + k->offset) = i;
            return 1;
        }
    }
    if (strncmp(v, "holddown=", 9) == 0 && evc_span_parse(v + 9, &hold) == 0 &&
        hold.unit == EVC_SPAN_SECONDS && hold.value > 0) {
        *(int *)((char *)base + k->offset) = 0; /* auto, once the hold is over */
        ((struct evc_server_conf *)base)->holddown = hold.value;
        return 1;
    }
    return fail(ps, "%s: expected auto, manual, ca or holddown=DURATION (like 30d), not '%s'",
                k->name, v);
}

static int
set_sources(struct evc_parser *ps, const struct evc_key_def *k, unsigned *f, const char *v)
{
    unsigned got = 0;
    const char *p = v;

    while (*p != '\0') {
        size_t n, i;

        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n == 0) {
            break;
        }
        for (i = 0; i < NELEM(source_names); i++) {
            if (strlen(source_names[i]) == n && strncmp(p, source_names[i], n) == 0) {
                break;
            }
        }
        if (i == NELEM(source_names)) {
            return fail(ps, "%s: '%.*s' is not handshake, push or url", k->name, (int)n, p);
        }
        got |= 1u << i;
        p += n;
    }
    if (got == 0) {
        return fail(ps, "%s: expected one or more of handshake, push, url", k->name);
    }
    *f = got;
    return 1;
}

/* at, ready or ready:SHARE (1..100, with or without %): activate and ready_share. */
static int
set_activate(struct evc_parser *ps, const struct evc_key_def *k, void *base, const char *v)
{
    struct evc_policy *p = base;
    const char *q = v + 6;
    size_t n;
    long share = 0;

    if (strcmp(v, "at") == 0 || strcmp(v, "ready") == 0) {
        p->activate = v[0] == 'a' ? EVC_ACTIVATE_AT : EVC_ACTIVATE_READY;
        p->ready_share = 100;
        return 1;
    }
    /* Digits only, at most three: no sign, no blank, nothing strtol would also take. */
    n = strncmp(v, "ready:", 6) == 0 ? strspn(q, "0123456789") : 0;
    if (n >= 1 && n <= 3 && (q[n] == '\0' || (q[n] == '%' && q[n + 1] == '\0'))) {
        for (size_t i = 0; i < n; i++) {
            share = share * 10 + (q[i] - '0');
        }
    }
    if (share < 1 || share > 100) {
        return fail(ps,
                    "%s: expected at, ready or ready:SHARE with SHARE 1..100 (like ready:95%%), "
                    "not '%s'",
                    k->name, v);
    }
    p->activate = EVC_ACTIVATE_READY;
    p->ready_share = (unsigned)share;
    return 1;
}

/* HOST:PORT, or unix: and a socket path (relative to the file's directory). */
static int
set_endpoint(struct evc_parser *ps, const struct evc_key_def *k, char **f, const char *v)
{
    const char *colon = strrchr(v, ':');
    char *end = NULL;
    long port;

    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] == '\0') {
            return fail(ps, "%s: unix: needs a socket's path", k->name);
        }
        if (!set_path(ps, f, v + 5)) {
            return 0;
        }
        /* Kept with its prefix: the monitor tells a socket from a host by it. */
        size_t n = strlen(*f) + 6;
        char *u = malloc(n);

        if (u == NULL) {
            return fail(ps, "out of memory");
        }
        snprintf(u, n, "unix:%s", *f);
        free(*f);
        *f = u;
        return 1;
    }
    port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == v || colon[1] == '\0' || *end != '\0' || port < 1 ||
        port > 65535) {
        return fail(ps, "%s: expected host:port or unix:PATH, not '%s'", k->name, v);
    }
    free(*f);
    if ((*f = strdup(v)) == NULL) {
        return fail(ps, "out of memory");
    }
    return 1;
}

/* Only digits and the units d, h, m, s, a unit after each number: a duration's form. */
static int
duration_form(const char *v)
{
    size_t n;

    if (*v == '\0') {
        return 0;
    }
    while (*v != '\0') {
        n = strspn(v, "0123456789");
        if (n == 0 || v[n] == '\0' || strchr("dhms", v[n]) == NULL) {
            return 0;
        }
        v += n + 1;
    }
    return 1;
}

/* A duration within the key's bounds; too large to count is also "at most". */
static int
set_seconds(struct evc_parser *ps, const struct evc_key_def *k, int64_t *f, const char *v)
{
    struct evc_span s;
    char lo[32], hi[32];

    evc_config_seconds_text(k->min, lo, sizeof(lo));
    evc_config_seconds_text(k->max, hi, sizeof(hi));
    if (evc_span_parse(v, &s) != 0 || s.unit != EVC_SPAN_SECONDS) {
        if (duration_form(v)) {
            return fail(ps, "%s: '%s' is too long; at most %s", k->name, v, hi);
        }
        return fail(ps, "%s: expected a duration like %s, not '%s'", k->name,
                    k->dflt != NULL ? k->dflt : hi, v);
    }
    if (s.value < k->min) {
        return fail(ps, "%s: '%s' is too short; at least %s", k->name, v, lo);
    }
    if (s.value > k->max) {
        return fail(ps, "%s: '%s' is too long; at most %s", k->name, v, hi);
    }
    *f = s.value;
    return 1;
}

int
evc_config_set(struct evc_parser *ps, const struct evc_key_def *k, void *base, const char *v)
{
    void *f = (char *)base + k->offset;

    switch (k->type) {
    case EVC_KT_SPAN:
        if (evc_span_parse(v, f) != 0) {
            return fail(ps, "%s: expected a duration like 60d or 33%%, not '%s'", k->name, v);
        }
        return 1;
    case EVC_KT_SECONDS:
        return set_seconds(ps, k, f, v);
    case EVC_KT_WINDOW:
        if (strcmp(v, "0") == 0) {
            ((struct evc_span *)f)->unit = EVC_SPAN_SECONDS;
            ((struct evc_span *)f)->value = 0;
        } else if (evc_span_parse(v, f) != 0) {
            return fail(ps, "%s: expected 0, a duration like 7d or a share like 33%%, not '%s'",
                        k->name, v);
        }
        ps->c->policy.window_set = 1;
        return 1;
    case EVC_KT_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0) {
            *(int *)f = 1;
        } else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0) {
            *(int *)f = 0;
        } else {
            return fail(ps, "%s: expected true or false (or yes, on, no, off), not '%s'", k->name,
                        v);
        }
        return 1;
    case EVC_KT_ROLE:
        for (size_t i = 0; i < NELEM(role_names); i++) {
            if (strcmp(v, role_names[i]) == 0) {
                *(enum evc_role *)f = (enum evc_role)i;
                return 1;
            }
        }
        return fail(ps, "role: expected root, personal, trust or deleted, not '%s'", v);
    case EVC_KT_PATH:
        if (*v == '\0') {
            return fail(ps, "%s: empty path", k->name);
        }
        /* A state in PostgreSQL is a URL, not a path; validation moves it to fleet_url. */
        if ((k == &evc_config_keys[EVC_KEY_MONITOR_state] ||
             k == &evc_config_keys[EVC_KEY_AGENT_state]) &&
            (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0)) {
            free(*(char **)f);
            if ((*(char **)f = strdup(v)) == NULL) {
                return fail(ps, "out of memory");
            }
            return 1;
        }
        /* trust = nss:DIR or sql:DIR: the prefix stays until the server is validated. */
        if (k == &evc_config_keys[EVC_KEY_SERVER_trust] &&
            (strncmp(v, "nss:", 4) == 0 || strncmp(v, "sql:", 4) == 0)) {
            return set_nss_path(ps, (char **)f, v + 4);
        }
        return set_path(ps, (char **)f, v);
    case EVC_KT_INT: {
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
    case EVC_KT_WEEKDAY:
        if (strcasecmp(v, "any") == 0) {
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
    case EVC_KT_HOSTPORT: {
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
    case EVC_KT_FORMAT:
        for (size_t i = 0; i < NELEM(format_names); i++) {
            if (strcmp(v, format_names[i]) == 0) {
                *(enum evc_trust_format *)f = (enum evc_trust_format)i;
                return 1;
            }
        }
        return fail(ps,
                    "%s: expected auto, bundle, hashdir, pkcs12, pin, nss, system or jks, not '%s'",
                    k->name, v);
    case EVC_KT_POLICY:
        return set_policy(ps, k, base, v);
    case EVC_KT_SOURCES:
        return set_sources(ps, k, f, v);
    case EVC_KT_ACTIVATE:
        return set_activate(ps, k, base, v);
    case EVC_KT_ENDPOINT:
        return set_endpoint(ps, k, f, v);
    case EVC_KT_TEXT:
        free(*(char **)f);
        if ((*(char **)f = strdup(v)) == NULL) {
            return fail(ps, "out of memory");
        }
        return 1;
    default:
        return fail(ps, "internal error: key type");
    }
}

int
evc_config_defaults(struct evc_parser *ps, enum evc_section sec, void *base)
{
    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        const struct evc_key_def *k = &evc_config_keys[i];

        if (k->section == sec && k->dflt != NULL && !evc_config_set(ps, k, base, k->dflt)) {
            return 0;
        }
    }
    return 1;
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
begin_server(struct evc_parser *ps, char *name)
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
    if ((ps->curv->key_lines = calloc(EVC_CONFIG_NKEYS, sizeof(unsigned long))) == NULL) {
        return fail(ps, "out of memory");
    }
    ps->section = EVC_SEC_SERVER;
    return evc_config_defaults(ps, EVC_SEC_SERVER, ps->curv);
}

static int
begin_endpoint(struct evc_parser *ps, char *name)
{
    struct evc_endpoint_conf *e;

    for (size_t i = 0; i < ps->c->nendpoints; i++) {
        if (strcmp(ps->c->endpoints[i].name, name) == 0) {
            free(name);
            return fail(ps, "endpoint \"%s\" defined twice", ps->c->endpoints[i].name);
        }
    }
    if (ps->c->nendpoints >= EVC_CONFIG_ENDPOINTS_MAX) {
        free(name);
        return fail(ps, "more than %d endpoints", EVC_CONFIG_ENDPOINTS_MAX);
    }
    if ((e = realloc(ps->c->endpoints, (ps->c->nendpoints + 1) * sizeof(*e))) == NULL) {
        free(name);
        return fail(ps, "out of memory");
    }
    ps->c->endpoints = e;
    ps->cure = &e[ps->c->nendpoints++];
    memset(ps->cure, 0, sizeof(*ps->cure));
    ps->cure->name = name;
    ps->cure->line = ps->line;
    if ((ps->cure->key_lines = calloc(EVC_CONFIG_NKEYS, sizeof(unsigned long))) == NULL) {
        return fail(ps, "out of memory");
    }
    ps->section = EVC_SEC_ENDPOINT;
    return evc_config_defaults(ps, EVC_SEC_ENDPOINT, ps->cure);
}

static int
begin_store(struct evc_parser *ps, char *name)
{
    struct evc_store_conf *s;

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
    if ((s = realloc(ps->c->stores, (ps->c->nstores + 1) * sizeof(*s))) == NULL) {
        free(name);
        return fail(ps, "out of memory");
    }
    ps->c->stores = s;
    ps->cur = &s[ps->c->nstores++];
    memset(ps->cur, 0, sizeof(*ps->cur));
    ps->cur->name = name;
    ps->cur->role = (enum evc_role) - 1; /* required: the validator says when it is missing */
    ps->cur->line = ps->line;
    if ((ps->cur->key_lines = calloc(EVC_CONFIG_NKEYS, sizeof(unsigned long))) == NULL) {
        return fail(ps, "out of memory");
    }
    ps->section = EVC_SEC_STORE;
    return evc_config_defaults(ps, EVC_SEC_STORE, ps->cur);
}

static int
begin_section(struct evc_parser *ps, const char *section)
{
    static const enum evc_section plain[] = {EVC_SEC_POLICY, EVC_SEC_MONITOR, EVC_SEC_NOTIFY,
                                             EVC_SEC_AGENT, EVC_SEC_FLEET};
    char *name;

    memset(ps->seen, 0, sizeof(ps->seen));
    ps->in_section = 1;
    ps->cur = NULL;
    ps->curv = NULL;
    ps->cure = NULL;
    for (size_t i = 0; i < NELEM(plain); i++) {
        if (strcmp(section, section_keys[plain[i]]) == 0) {
            if (ps->seen_sections & (1u << plain[i])) {
                return fail(ps, "[%s] given twice", section);
            }
            ps->seen_sections |= 1u << plain[i];
            ps->section = plain[i];
            return 1;
        }
    }
    if ((name = quoted_name(section, "server")) != NULL) {
        return begin_server(ps, name);
    }
    if ((name = quoted_name(section, "store")) != NULL) {
        return begin_store(ps, name);
    }
    if ((name = quoted_name(section, "endpoint")) != NULL) {
        return begin_endpoint(ps, name);
    }
    return fail(ps,
                "unknown section [%s] (expected [policy], [monitor], [notify], [agent], [fleet], "
                "[store \"name\"], [server \"name\"] or [endpoint \"name\"])",
                section);
}

static void *
section_base(struct evc_parser *ps)
{
    switch (ps->section) {
    case EVC_SEC_STORE:
        return ps->cur;
    case EVC_SEC_MONITOR:
        return &ps->c->monitor;
    case EVC_SEC_NOTIFY:
        return &ps->c->notify;
    case EVC_SEC_AGENT:
        return &ps->c->agent;
    case EVC_SEC_FLEET:
        return &ps->c->fleet;
    case EVC_SEC_SERVER:
        return ps->curv;
    case EVC_SEC_ENDPOINT:
        return ps->cure;
    case EVC_SEC_POLICY:
        return &ps->c->policy;
    default:
        return NULL;
    }
}

static int
handle(void *arg, const struct evc_ini_item *it)
{
    struct evc_parser *ps = arg;

    ps->line = it->line;
    if (it->name == NULL) {
        return begin_section(ps, it->section) ? 0 : -1;
    }
    if (!ps->in_section) {
        fail(ps, "'%s' outside any section", it->name);
        return -1;
    }
    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        const struct evc_key_def *k = &evc_config_keys[i];

        if (k->section != ps->section || strcmp(k->name, it->name) != 0) {
            continue;
        }
        if (ps->seen[i]) {
            fail(ps, "'%s' given twice", it->name);
            return -1;
        }
        ps->seen[i] = 1;
        if (ps->section == EVC_SEC_STORE) {
            ps->cur->key_lines[i] = it->line;
        } else if (ps->section == EVC_SEC_SERVER) {
            ps->curv->key_lines[i] = it->line;
        } else if (ps->section == EVC_SEC_ENDPOINT) {
            ps->cure->key_lines[i] = it->line;
        } else {
            ps->c->key_lines[i] = it->line;
        }
        return evc_config_set(ps, k, section_base(ps), it->value) ? 0 : -1;
    }
    fail(ps, "unknown key '%s' in %s", it->name, section_names[ps->section]);
    return -1;
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
        free(s->keystore);
        free(s->alias);
        free(s->publish);
        free(s->service);
        free(s->after_replace);
        free(s->verify);
        free(s->verify_servername);
        free(s->readiness);
        free(s->access_log);
        free(s->key_lines);
    }
    free(c->monitor.state);
    free(c->monitor.state_local);
    free(c->monitor.fleet_url);
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
        free(v->key_lines);
    }
    free(c->servers);
    for (size_t i = 0; i < c->nendpoints; i++) {
        struct evc_endpoint_conf *e = &c->endpoints[i];

        free(e->name);
        free(e->address);
        free(e->store);
        free(e->ca);
        free(e->key_lines);
    }
    free(c->endpoints);
    free(c->agent.state);
    free(c->agent.state_local);
    free(c->agent.fleet_url);
    free(c->fleet.host);
    free(c->fleet.password_file);
    free(c->fleet.key_file);
    free(c->agent.deleted);
    free(c->agent.client_id);
    free(c->stores);
    free(c->key_lines);
    free(c->file);
    free(c);
}

int
evc_config_parse(const char *text, size_t len, const char *name, const char *dir,
                 struct evc_config **out, struct evc_err *err)
{
    struct evc_parser ps;
    char *copy = NULL;
    const char *why;
    unsigned long line;
    int r = EVC_ERR_INTERNAL;

    *out = NULL;
    memset(&ps, 0, sizeof(ps));
    ps.name = name;
    ps.dir = dir;
    ps.err = err;
    if (memchr(text, '\0', len) != NULL) {
        return evc_err_set(err, EVC_ERR_CONFIG, "%s: contains a NUL byte", name);
    }
    if ((ps.c = calloc(1, sizeof(*ps.c))) == NULL || (copy = strndup(text, len)) == NULL ||
        (ps.c->file = strdup(name)) == NULL ||
        (ps.c->key_lines = calloc(EVC_CONFIG_NKEYS, sizeof(*ps.c->key_lines))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The plain sections' defaults; a store's and a server's come with its header. */
    if (!evc_config_defaults(&ps, EVC_SEC_POLICY, &ps.c->policy) ||
        !evc_config_defaults(&ps, EVC_SEC_MONITOR, &ps.c->monitor) ||
        !evc_config_defaults(&ps, EVC_SEC_NOTIFY, &ps.c->notify) ||
        !evc_config_defaults(&ps, EVC_SEC_AGENT, &ps.c->agent) ||
        !evc_config_defaults(&ps, EVC_SEC_FLEET, &ps.c->fleet)) {
        r = EVC_ERR_INTERNAL;
        goto out;
    }
    if (evc_ini_parse(copy, len, handle, &ps, &line, &why) != 0 && !ps.failed) {
        ps.line = line;
        fail(&ps, "%s", why != NULL ? why : "cannot be read");
    }
    if (ps.failed || !evc_config_validate(&ps)) {
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
