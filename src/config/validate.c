/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What only the whole configuration can tell: keys a store or a server
 * needs, keys that go together, one file in two stores, and the deleted
 * store implied by delete_old. Pure, like the parser: an error about a
 * key names the key's own line, one about a missing key its section's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "evercert/config.h"
#include "evercert/endpoint.h"
#include "evercert/limits.h"
#include "base/file.h"
#include "base/text.h"
#include "config/config_int.h"

#define fail evc_config_fail

/* The room for a path in a unix socket's address, with its NUL. */
#define EVC_SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* The keys of a store's files, in the order validate lists them: path, cert, key, keystore. */
static const int files_key[4] = {EVC_KEY_STORE_path, EVC_KEY_STORE_cert, EVC_KEY_STORE_key,
                                 EVC_KEY_STORE_keystore};

static int
store_fail(struct evc_parser *ps, const struct evc_store_conf *s, const char *why)
{
    ps->line = s->line;
    return fail(ps, "store \"%s\": %s", s->name, why);
}

static int
server_fail(struct evc_parser *ps, const struct evc_server_conf *v, const char *why)
{
    ps->line = v->line;
    return fail(ps, "server \"%s\": %s", v->name, why);
}

/* An error about one key of a store, at the key's line (the header's if it has none). */
static int
store_key_fail(struct evc_parser *ps, const struct evc_store_conf *s, int key, const char *why)
{
    ps->line = s->key_lines != NULL && s->key_lines[key] != 0 ? s->key_lines[key] : s->line;
    return fail(ps, "store \"%s\": %s", s->name, why);
}

/* The same for a server's key. */
static int
server_key_fail(struct evc_parser *ps, const struct evc_server_conf *v, int key, const char *why)
{
    ps->line = v->key_lines != NULL && v->key_lines[key] != 0 ? v->key_lines[key] : v->line;
    return fail(ps, "server \"%s\": %s", v->name, why);
}

/* An error about one key of an endpoint, at the key's line (the header's if it has none). */
static int
endpoint_key_fail(struct evc_parser *ps, const struct evc_endpoint_conf *e, int key,
                  const char *why)
{
    ps->line = e->key_lines != NULL && e->key_lines[key] != 0 ? e->key_lines[key] : e->line;
    return fail(ps, "endpoint \"%s\": %s", e->name, why);
}

/* An endpoint's URL parses, and its store is a personal one with a certificate file. */
static int
validate_endpoint(struct evc_parser *ps, const struct evc_endpoint_conf *e)
{
    struct evc_ep_url u;
    struct evc_err err = {0};
    char why[EVC_ERR_DETAIL_MAX + 64];

    if (e->address == NULL) {
        return endpoint_key_fail(ps, e, EVC_KEY_ENDPOINT_address,
                                 "address is required (tls://HOST:PORT)");
    }
    if (evc_ep_url_parse(e->address, &u, &err) != 0) {
        snprintf(why, sizeof(why), "address: %s", evc_err_message(&err));
        return endpoint_key_fail(ps, e, EVC_KEY_ENDPOINT_address, why);
    }
    if (e->store != NULL) {
        const struct evc_store_conf *s = NULL;

        for (size_t i = 0; i < ps->c->nstores; i++) {
            if (strcmp(ps->c->stores[i].name, e->store) == 0) {
                s = &ps->c->stores[i];
            }
        }
        if (s == NULL || s->role != EVC_ROLE_PERSONAL || s->cert == NULL) {
            snprintf(why, sizeof(why), "store: \"%.64s\" is no personal store with cert = FILE",
                     e->store);
            return endpoint_key_fail(ps, e, EVC_KEY_ENDPOINT_store, why);
        }
    }
    return 1;
}

/*
 * [agent] client_id: none, or 1..64 of the Acknowledgement's clientId
 * characters (docs/PROTOCOL.md), the same set the server accepts.
 */
static int
client_id_ok(const char *id)
{
    return strcmp(id, "none") == 0 || evc_text_id_check(id, strlen(id)) == 0;
}

/*
 * [store] readiness: unix:PATH, or a numeric address and port (192.0.2.1:9443,
 * [2001:db8::1]:9443). A host name is refused: its lookup has no deadline
 * and would hold the monitor's pass.
 */
static int
readiness_addr_ok(const char *w)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *h = w, *port;
    size_t hn;
    uint8_t a[16];
    unsigned long v = 0;

    if (strncmp(w, "unix:", 5) == 0) {
        return w[5] != '\0';
    }
    if (w[0] == '[') {
        const char *rb = strchr(w, ']');

        if (rb == NULL || rb[1] != ':') {
            return 0;
        }
        h = w + 1;
        hn = (size_t)(rb - h);
        port = rb + 2;
    } else {
        if ((colon = strrchr(w, ':')) == NULL) {
            return 0;
        }
        hn = (size_t)(colon - w);
        port = colon + 1;
    }
    if (hn == 0 || hn >= sizeof(host)) {
        return 0;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    if (inet_pton(w[0] == '[' ? AF_INET6 : AF_INET, host, a) != 1) {
        return 0;
    }
    if (port[0] == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port)) {
        return 0;
    }
    for (const char *q = port; *q != '\0'; q++) {
        v = v * 10 + (unsigned long)(*q - '0');
    }
    return v >= 1 && v <= 65535;
}

/* A server's missing keys and defaults. */
static int
validate_server(struct evc_parser *ps, struct evc_server_conf *v)
{
    unsigned offered = EVC_SOURCE_HANDSHAKE;

    if (v->connect == NULL || v->trust == NULL) {
        return server_fail(ps, v, "connect and trust are needed");
    }
    if (v->url != NULL) {
        if (strncmp(v->url, "https://", 8) != 0 || v->url[8] == '\0') {
            return server_key_fail(ps, v, EVC_KEY_SERVER_url, "url: expected https://host/path");
        }
        offered |= EVC_SOURCE_URL;
    }
    if (v->announce != NULL) {
        offered |= EVC_SOURCE_PUSH;
    }
    if (v->sources == 0) {
        v->sources = offered;
    } else if ((v->sources & EVC_SOURCE_URL) && v->url == NULL) {
        return server_key_fail(ps, v, EVC_KEY_SERVER_sources,
                               "sources has url but there is no url");
    } else if ((v->sources & EVC_SOURCE_PUSH) && v->announce == NULL) {
        return server_key_fail(ps, v, EVC_KEY_SERVER_sources,
                               "sources has push but there is no announce = host:port");
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
    /* trust = nss:DIR selects the format; a trust_format that says otherwise is a mistake. */
    if (strncmp(v->trust, "nss:", 4) == 0) {
        if (v->trust_format != EVC_TRUST_AUTO && v->trust_format != EVC_TRUST_NSS) {
            char why[128];

            snprintf(why, sizeof(why), "trust = nss:DIR is an NSS database, not trust_format = %s",
                     evc_trust_format_name(v->trust_format));
            return server_key_fail(ps, v, EVC_KEY_SERVER_trust_format, why);
        }
        v->trust_format = EVC_TRUST_NSS;
        memmove(v->trust, v->trust + 4, strlen(v->trust + 4) + 1);
    }
    if (v->password_file != NULL && v->trust_format != EVC_TRUST_AUTO &&
        v->trust_format != EVC_TRUST_PKCS12 && v->trust_format != EVC_TRUST_NSS &&
        v->trust_format != EVC_TRUST_JKS) {
        return server_key_fail(
            ps, v, EVC_KEY_SERVER_password_file,
            "password_file is for a pkcs12 or jks trust store or an nss database");
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
add_default_deleted(struct evc_parser *ps)
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
    evc_config_state_path(cfg, c->monitor.state, state, sizeof(state));
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
        ps->line = c->monitor.state != NULL ? c->key_lines[EVC_KEY_MONITOR_state] : 1;
        return fail(ps, "the default deleted store's path (the state's, plus deleted) is too long");
    }
    for (size_t i = 0; i < c->nstores; i++) {
        const struct evc_store_conf *o = &c->stores[i];
        const char *files[4] = {o->path, o->cert, o->key, o->keystore};

        if (strcmp(o->name, name) == 0) {
            name = "default-deleted";
        }
        for (size_t k = 0; k < 4; k++) {
            if (files[k] != NULL && strcmp(files[k], path) == 0) {
                return store_key_fail(
                    ps, o, files_key[k],
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

/*
 * A state in PostgreSQL: the URL goes to fleet_url and state becomes the
 * local file the service works from (state_local, or the default), so
 * everything that opens the local state reads one field as before.
 */
static int
fleet_state(struct evc_parser *ps, char **state, char **state_local, char **fleet_url,
            int local_key, const char *section)
{
    if (*state != NULL &&
        (strncmp(*state, "postgresql://", 13) == 0 || strncmp(*state, "postgres://", 11) == 0)) {
        *fleet_url = *state;
        *state = *state_local;
        *state_local = NULL;
    } else if (*state_local != NULL) {
        ps->line = ps->c->key_lines[local_key];
        return fail(ps, "[%s] state_local: only with a postgresql:// state", section);
    }
    return 1;
}

/* What only the whole file can tell. */
int
evc_config_validate(struct evc_parser *ps)
{
    struct evc_config *c = ps->c;
    size_t ndeleted = 0, npersonal = 0;

    if (!fleet_state(ps, &c->monitor.state, &c->monitor.state_local, &c->monitor.fleet_url,
                     EVC_KEY_MONITOR_state_local, "monitor") ||
        !fleet_state(ps, &c->agent.state, &c->agent.state_local, &c->agent.fleet_url,
                     EVC_KEY_AGENT_state_local, "agent")) {
        return 0;
    }

    for (size_t i = 0; i < c->nstores; i++) {
        struct evc_store_conf *s = &c->stores[i];
        const char *files[4] = {s->path, s->cert, s->key, s->keystore};

        switch (s->role) {
        case EVC_ROLE_PERSONAL:
            npersonal++;
            /* A key too many is told at its line, a missing one at the header. */
            if (s->keystore != NULL && (s->cert != NULL || s->key != NULL)) {
                return store_key_fail(ps, s,
                                      s->cert != NULL ? EVC_KEY_STORE_cert : EVC_KEY_STORE_key,
                                      "keystore or cert and key: one or the other");
            }
            if (s->keystore == NULL && (s->cert == NULL || s->key == NULL)) {
                return store_fail(ps, s,
                                  "a personal store needs cert and key, or keystore (and no path)");
            }
            if (s->path != NULL) {
                return store_key_fail(
                    ps, s, EVC_KEY_STORE_path,
                    "a personal store needs cert and key, or keystore (and no path)");
            }
            break;
        case EVC_ROLE_ROOT:
        case EVC_ROLE_TRUST:
        case EVC_ROLE_DELETED:
            if (s->path == NULL) {
                return store_fail(ps, s, "this role needs path (and no cert or key)");
            }
            if (s->cert != NULL || s->key != NULL) {
                return store_key_fail(ps, s,
                                      s->cert != NULL ? EVC_KEY_STORE_cert : EVC_KEY_STORE_key,
                                      "this role needs path (and no cert or key)");
            }
            if (s->role == EVC_ROLE_DELETED && ndeleted++ > 0) {
                /* About the store as a whole: its header. */
                return store_fail(ps, s, "a second store with role = deleted (one is allowed)");
            }
            break;
        default:
            return store_fail(ps, s, "role is missing");
        }
        if (s->role != EVC_ROLE_PERSONAL &&
            (s->service != NULL || s->after_replace != NULL || s->verify != NULL)) {
            return store_key_fail(ps, s,
                                  s->service != NULL         ? EVC_KEY_STORE_service
                                  : s->after_replace != NULL ? EVC_KEY_STORE_after_replace
                                                             : EVC_KEY_STORE_verify,
                                  "service, after_replace and verify belong to personal stores");
        }
        if (s->role != EVC_ROLE_PERSONAL &&
            (s->keystore != NULL || s->alias != NULL || s->publish != NULL)) {
            return store_key_fail(ps, s,
                                  s->keystore != NULL ? EVC_KEY_STORE_keystore
                                  : s->alias != NULL  ? EVC_KEY_STORE_alias
                                                      : EVC_KEY_STORE_publish,
                                  "keystore, alias and publish belong to personal stores");
        }
        if (s->shared && s->role != EVC_ROLE_PERSONAL) {
            return store_key_fail(ps, s, EVC_KEY_STORE_shared, "shared belongs to personal stores");
        }
        if (s->shared && (c->monitor.fleet_url == NULL || c->fleet.key_file == NULL)) {
            return store_key_fail(ps, s, EVC_KEY_STORE_shared,
                                  "shared needs a postgresql:// state in [monitor] and [fleet] "
                                  "key_file");
        }
        if (s->alias != NULL && s->keystore == NULL) {
            return store_key_fail(ps, s, EVC_KEY_STORE_alias, "alias needs keystore");
        }
        s->alias_line = s->key_lines != NULL ? s->key_lines[EVC_KEY_STORE_alias] : 0;
        if (s->role != EVC_ROLE_PERSONAL && (s->readiness != NULL || s->access_log != NULL)) {
            return store_key_fail(
                ps, s, s->readiness != NULL ? EVC_KEY_STORE_readiness : EVC_KEY_STORE_access_log,
                "readiness and access_log belong to personal stores");
        }
        if (s->readiness != NULL && s->access_log != NULL) {
            /* The later of the two is the one too many. */
            int later = s->key_lines != NULL && s->key_lines[EVC_KEY_STORE_readiness] >
                                                    s->key_lines[EVC_KEY_STORE_access_log]
                            ? EVC_KEY_STORE_readiness
                            : EVC_KEY_STORE_access_log;

            return store_key_fail(ps, s, later, "readiness and access_log: one or the other");
        }
        if (s->readiness != NULL && !readiness_addr_ok(s->readiness)) {
            return store_key_fail(ps, s, EVC_KEY_STORE_readiness,
                                  "readiness: expected a numeric ADDRESS:PORT (127.0.0.1:9443, "
                                  "[::1]:9443) or unix:PATH; a host name is not looked up");
        }
        if (s->readiness != NULL && strncmp(s->readiness, "unix:", 5) == 0 &&
            strlen(s->readiness + 5) >= EVC_SUN_PATH_MAX) {
            return store_key_fail(ps, s, EVC_KEY_STORE_readiness,
                                  "readiness: the socket's path is too long for a unix socket");
        }
        /* Waiting for clients needs a way to count them, or every successor waits for its deadline.
         */
        if (s->role == EVC_ROLE_PERSONAL && c->policy.activate == EVC_ACTIVATE_READY &&
            s->readiness == NULL && s->access_log == NULL) {
            return store_fail(ps, s,
                              "activate = ready needs readiness = HOST:PORT|unix:PATH or "
                              "access_log = PATH in each personal store");
        }
        if (s->verify != NULL && strrchr(s->verify, ':') == NULL) {
            return store_key_fail(ps, s, EVC_KEY_STORE_verify, "verify: expected host:port");
        }
        /* Two stores writing one file would undo each other's work. */
        for (size_t j = 0; j <= i; j++) {
            const struct evc_store_conf *o = &c->stores[j];
            const char *ofiles[4] = {o->path, o->cert, o->key, o->keystore};

            for (size_t a = 0; a < 4; a++) {
                for (size_t b = 0; b < 4; b++) {
                    if (files[a] == NULL || ofiles[b] == NULL || (j == i && b <= a) ||
                        strcmp(files[a], ofiles[b]) != 0) {
                        continue;
                    }
                    char why[EVC_PATH_MAX + 64];

                    snprintf(why, sizeof(why), "%s is also used by store \"%s\"", files[a],
                             o->name);
                    /* Within one store, the later of the two keys is the one too many. */
                    return store_key_fail(ps, s, files_key[j == i ? b : a], why);
                }
            }
        }
    }
    for (size_t i = 0; i < c->nservers; i++) {
        if (!validate_server(ps, &c->servers[i])) {
            return 0;
        }
    }
    for (size_t i = 0; i < c->nendpoints; i++) {
        if (!validate_endpoint(ps, &c->endpoints[i])) {
            return 0;
        }
    }
    if (c->nstores == 0 && c->nservers == 0 && c->nendpoints == 0) {
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
        ps->line = c->key_lines[EVC_KEY_NOTIFY_log];
        return fail(ps, "log: expected stderr, syslog, journal or none, not '%s'", c->notify.log);
    }
#ifndef EVC_HAVE_SYSTEMD
    if (c->notify.log != NULL && strcmp(c->notify.log, "journal") == 0) {
        ps->line = c->key_lines[EVC_KEY_NOTIFY_log];
        return fail(ps, "log = journal needs evercert built with libsystemd");
    }
#endif
    if (c->agent.client_id != NULL && !client_id_ok(c->agent.client_id)) {
        ps->line = c->key_lines[EVC_KEY_AGENT_client_id];
        return fail(ps, "client_id: expected none or 1..64 letters, digits or . _ - : @, not '%s'",
                    c->agent.client_id);
    }
    if ((c->notify.email_to != NULL) != (c->notify.email_from != NULL)) {
        ps->line = c->key_lines[c->notify.email_to != NULL ? EVC_KEY_NOTIFY_email_to
                                                           : EVC_KEY_NOTIFY_email_from];
        return fail(ps, "email_to and email_from go together");
    }
    return 1;
}
