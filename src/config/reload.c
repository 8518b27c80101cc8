/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A reload: what the table marks as needing a restart keeps its old value
 * in the new configuration, and is told, so a changed state never goes
 * unnoticed and never half-applies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/config.h"
#include "evercert/limits.h"
#include "config/config_int.h"

/* Two values of one key, by its type: only the types of keys a reload cannot apply. */
static int
same_value(const struct evc_key_def *k, const void *a, const void *b)
{
    const char *x, *y;

    switch (k->type) {
    case EVC_KT_PATH:
    case EVC_KT_TEXT:
    case EVC_KT_HOSTPORT:
        x = *(char *const *)((const char *)a + k->offset);
        y = *(char *const *)((const char *)b + k->offset);
        return (x == NULL && y == NULL) || (x != NULL && y != NULL && strcmp(x, y) == 0);
    default:
        return memcmp((const char *)a + k->offset, (const char *)b + k->offset, sizeof(int)) == 0;
    }
}

static void *
plain_base(const struct evc_config *c, enum evc_section s)
{
    struct evc_config *m = (struct evc_config *)(uintptr_t)c;

    switch (s) {
    case EVC_SEC_POLICY:
        return &m->policy;
    case EVC_SEC_MONITOR:
        return &m->monitor;
    case EVC_SEC_NOTIFY:
        return &m->notify;
    case EVC_SEC_AGENT:
        return &m->agent;
    case EVC_SEC_FLEET:
        return &m->fleet;
    default:
        return NULL;
    }
}

/*
 * The deleted store implied by delete_old lives beside the state: while
 * the old state stays, so does it.
 */
static void
keep_implicit_deleted(const struct evc_config *old, struct evc_config *new)
{
    const char *was = NULL;
    char *copy;

    for (size_t i = 0; i < old->nstores; i++) {
        if (old->stores[i].implicit) {
            was = old->stores[i].path;
        }
    }
    for (size_t i = 0; was != NULL && i < new->nstores; i++) {
        if (new->stores[i].implicit && (copy = strdup(was)) != NULL) {
            free(new->stores[i].path);
            new->stores[i].path = copy;
        }
    }
}

size_t
evc_config_keep_fixed(const struct evc_config *old, struct evc_config *new, evc_config_say_fn say,
                      void *arg)
{
    size_t kept = 0;

    for (size_t i = 0; i < EVC_CONFIG_NKEYS; i++) {
        const struct evc_key_def *k = &evc_config_keys[i];
        void *a = plain_base(old, k->section), *b = plain_base(new, k->section);
        char msg[EVC_PATH_MAX + 200];
        char **bs, *copy = NULL;
        const char *was;

        if (k->reloadable || a == NULL || same_value(k, a, b)) {
            continue;
        }
        /* The keys that need a restart are paths (the states); others would need a case here. */
        if (k->type != EVC_KT_PATH) {
            continue;
        }
        bs = (char **)((char *)b + k->offset);
        was = *(char *const *)((char *)a + k->offset);
        if (was != NULL && (copy = strdup(was)) == NULL) {
            continue;
        }
        snprintf(msg, sizeof(msg),
                 "[%s] %s changed in %s:%lu; takes effect after a restart (%s stays %s)",
                 evc_config_key_get0(i)->section, k->name, new->file,
                 new->key_lines[i] != 0 ? new->key_lines[i] : old->key_lines[i], k->name,
                 was != NULL ? was : "the default");
        free(*bs);
        *bs = copy;
        new->key_lines[i] = old->key_lines[i];
        say(arg, msg);
        kept++;
        if (i == EVC_KEY_MONITOR_state) {
            keep_implicit_deleted(old, new);
        }
    }
    /* The database of a postgresql:// state, likewise (the local file is the state key's). */
    for (int i = 0; i < 2; i++) {
        const char *a = i == 0 ? old->monitor.fleet_url : old->agent.fleet_url;
        char **b = i == 0 ? &new->monitor.fleet_url : &new->agent.fleet_url;
        int key = i == 0 ? EVC_KEY_MONITOR_state : EVC_KEY_AGENT_state;
        char msg[600], *copy = NULL;

        if ((a == NULL && *b == NULL) || (a != NULL && *b != NULL && strcmp(a, *b) == 0) ||
            (a != NULL && (copy = strdup(a)) == NULL)) {
            continue;
        }
        snprintf(msg, sizeof(msg),
                 "[%s] state changed in %s:%lu; takes effect after a restart (the fleet's "
                 "database stays as it was)",
                 i == 0 ? "monitor" : "agent", new->file, new->key_lines[key]);
        free(*b);
        *b = copy;
        say(arg, msg);
        kept++;
    }
    return kept;
}
