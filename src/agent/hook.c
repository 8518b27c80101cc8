/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The after_change command of a server, run when its trust store changed
 * (a successor added, a pin moved, a predecessor retired), so the
 * applications that read the store load it again.
 */
#include <stdio.h>

#include "evercert/limits.h"
#include "base/spawn.h"
#include "agent/agent_int.h"

void
evc_agent_after_change(struct evc_agent *a, size_t i, const char *what)
{
    const struct evc_server_conf *v = &a->conf->servers[i];
    char e1[EVC_PATH_MAX + 32], e2[300], e3[64];
    char *env[] = {e1, e2, e3, NULL};
    struct evc_spawn_result res;
    struct evc_err err = {0};

    if (v->after_change == NULL) {
        return;
    }
    snprintf(e1, sizeof(e1), "EVERCERT_TRUST=%s", v->trust);
    snprintf(e2, sizeof(e2), "EVERCERT_SERVER=%s", v->name);
    snprintf(e3, sizeof(e3), "EVERCERT_CHANGE=%s", what);
    if (evc_spawn_run(v->after_change, v->after_change_shell, v->hook_timeout, env, &res, &err) !=
        0) {
        evc_logf(&a->log, LOG_ERR, "server=%s after_change not run: %s", v->name,
                 evc_err_message(&err));
        evc_agent_worse(a, 1);
    } else if (res.status != 0) {
        evc_logf(&a->log, LOG_ERR, "server=%s after_change failed (status %d%s): %.*s", v->name,
                 res.status, res.timed_out ? ", timed out" : "", (int)res.output_len, res.output);
        evc_agent_worse(a, 1);
    } else {
        evc_logf(&a->log, LOG_INFO, "server=%s after_change ran", v->name);
    }
}
