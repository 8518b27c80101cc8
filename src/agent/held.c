/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent tells a server it holds, by the two ways a client
 * speaks (docs/PROTOCOL.md): the name it gives, and the query of its URL
 * fetch. The generation told is always the one installed (written
 * durably), never one that waits for a person or a hold-down; the
 * callers read it from the state. Pure.
 */
#include <stdio.h>
#include <string.h>

#include "evercert/agent.h"

void
evc_agent_client_id(const char *configured, const char *host, char out[EVC_ACK_ID_MAX + 1])
{
    size_t n = 0;

    out[0] = '\0';
    if (configured != NULL) {
        /* The configuration's check is the same; a bad name gives none rather than a bad ack. */
        if (strcmp(configured, "none") != 0 &&
            evc_ack_id_check(configured, strlen(configured)) == 0) {
            snprintf(out, EVC_ACK_ID_MAX + 1, "%s", configured);
        }
        return;
    }
    for (const char *p = host; p != NULL && *p != '\0' && n < EVC_ACK_ID_MAX; p++) {
        if (evc_ack_id_check(p, 1) == 0) {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

int
evc_agent_url_held(const char *url, uint64_t held, const char *id, char *out, size_t cap)
{
    const char *hash = strchr(url, '#'), *q;
    size_t base = hash != NULL ? (size_t)(hash - url) : strlen(url);
    const char *sep = "?";
    int n;

    /* A query the configured URL has stays; ours follows it. */
    q = memchr(url, '?', base);
    if (q != NULL) {
        sep = base > 0 && (url[base - 1] == '?' || url[base - 1] == '&') ? "" : "&";
    }
    n = snprintf(out, cap, "%.*s%sheld=%llu%s%s%s", (int)base, url, sep, (unsigned long long)held,
                 id[0] != '\0' ? "&client=" : "", id, hash != NULL ? hash : "");
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return EVC_ERR_LIMIT;
    }
    return 0;
}
