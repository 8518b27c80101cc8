/* SPDX-License-Identifier: Apache-2.0 */
/* The manual texts of the command, generated from docs/cmd/. */
#ifndef EVC_CLI_HELP_H
#define EVC_CLI_HELP_H

struct evc_help {
    const char *name;
    const char *text;
};

extern const struct evc_help evc_help_pages[];

#endif
