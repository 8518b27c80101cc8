/* SPDX-License-Identifier: Apache-2.0 */
/* Rendering a renewal result for people (text) and programs (JSON). */
#ifndef EVERCERT_RENEW_REPORT_H
#define EVERCERT_RENEW_REPORT_H

#include <stdio.h>

#include "evercert/renew.h"

/* Text tables, untrusted text escaped; 0 or -1 on a write error. */
EVC_EXPORT int evc_renew_report_text(const struct evc_renew_result *r, int dry_run, evc_time now,
                                     FILE *out);
/*
 * The same for `evercert activate`: what was activated (or would be, in a
 * dry run), and when the next staged successor waits until, if one does.
 */
EVC_EXPORT int evc_activate_report_text(const struct evc_renew_result *r, int dry_run, evc_time now,
                                        FILE *out);
/*
 * One JSON object, every string valid UTF-8; error is the run's error
 * message or NULL. 0, or -1 when it cannot be built (nothing is written)
 * or written.
 */
EVC_EXPORT int evc_renew_report_json(const struct evc_renew_result *r, int dry_run, evc_time now,
                                     const char *error, FILE *out);

#endif
