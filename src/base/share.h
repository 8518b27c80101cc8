/* SPDX-License-Identifier: Apache-2.0 */
/*
 * activate = ready: whether a count of clients lets a switch go. The one
 * rule, for the tracker's summary (ready.h) and the renewal run's (ca).
 */
#ifndef EVC_BASE_SHARE_H
#define EVC_BASE_SHARE_H

#include <stddef.h>

/*
 * 1 when the count is complete (it covers a whole window, nobody in it
 * forgotten) and ready * 100 >= share_percent * clients; nobody seen is
 * met only when complete. A count that may miss a client is never met.
 */
int evc_share_met(int complete, size_t clients, size_t ready, unsigned share_percent);

#endif
