/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a configuration's monitor keeps its state. The configuration
 * needs it for the deleted store it implies beside the state, so it lives
 * here, below the monitor that opens it.
 */
#include <stdio.h>
#include <string.h>

#include "evercert/config.h"

/*
 * The default follows the configuration, so two configurations never share
 * a state (or the trigger socket beside it): a system configuration (under
 * /etc/) keeps it where the system keeps state, named after the
 * configuration; any other keeps it beside itself. Pure: no clock, no uid.
 */
void
evc_config_state_path(const char *config_path, const char *configured, char *out, size_t len)
{
    const char *slash = strrchr(config_path, '/');
    const char *base = slash != NULL ? slash + 1 : config_path;
    const char *dot = strrchr(base, '.');
    int stem = dot != NULL && dot != base ? (int)(dot - base) : (int)strlen(base);

    if (configured != NULL) {
        snprintf(out, len, "%s", configured);
    } else if (strncmp(config_path, "/etc/", 5) == 0) {
        if (strcmp(config_path, "/etc/evercert/evercert.ini") == 0 ||
            strcmp(config_path, "/etc/evercert/evercert.conf") == 0) {
            snprintf(out, len, "/var/lib/evercert/state.db");
        } else {
            snprintf(out, len, "/var/lib/evercert/%.*s.db", stem, base);
        }
    } else if (slash == NULL) {
        snprintf(out, len, "%.*s-state.db", stem, base);
    } else {
        snprintf(out, len, "%.*s/%.*s-state.db", (int)(slash - config_path), config_path, stem,
                 base);
    }
}
