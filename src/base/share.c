/* SPDX-License-Identifier: Apache-2.0 */
/* The readiness rule (base/share.h). */
#include <stdint.h>

#include "base/share.h"

int
evc_share_met(int complete, size_t clients, size_t ready, unsigned share_percent)
{
    if (!complete) {
        return 0;
    }
    return clients == 0 || (uint64_t)ready * 100 >= (uint64_t)share_percent * clients;
}
