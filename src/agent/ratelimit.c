/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The log rate limit of the agent's rejections: a peer that sends a
 * stream of bad SAs must not fill the log. The first lines of each window
 * go out, the others are counted and told in one line when the window is
 * over. Pure: the caller passes the time.
 */
#include <limits.h>

#include "agent/agent_int.h"

int
evc_ratelimit_flush(struct evc_ratelimit *rl, int64_t now_ms, int64_t window_ms, int force,
                    unsigned *held, unsigned *repeats, int64_t *due_ms)
{
    *held = 0;
    *repeats = 0;
    *due_ms = 0;
    if (rl->start == 0) {
        return 0;
    }
    if (!force && now_ms - rl->start < window_ms) {
        if (rl->held > 0 || rl->repeats > 0) {
            *due_ms = rl->start + window_ms;
        }
        return 0;
    }
    *held = rl->held;
    *repeats = rl->repeats;
    rl->start = 0;
    rl->logged = 0;
    rl->held = 0;
    rl->repeats = 0;
    return *held > 0 || *repeats > 0;
}

int
evc_ratelimit_take(struct evc_ratelimit *rl, int64_t now_ms, unsigned burst, int64_t window_ms,
                   unsigned *held, unsigned *repeats)
{
    int64_t due;

    (void)evc_ratelimit_flush(rl, now_ms, window_ms, 0, held, repeats, &due);
    if (rl->start == 0) {
        rl->start = now_ms > 0 ? now_ms : 1;
    }
    if (rl->logged < burst) {
        rl->logged++;
        return 1;
    }
    if (rl->held < UINT_MAX) {
        rl->held++;
    }
    return 0;
}

void
evc_ratelimit_note(struct evc_ratelimit *rl, int64_t now_ms)
{
    if (rl->start == 0) {
        rl->start = now_ms > 0 ? now_ms : 1;
    }
    if (rl->repeats < UINT_MAX) {
        rl->repeats++;
    }
}
