/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When the expiration monitor runs by itself: WebSphere's schedule (every
 * `frequency` days, on `day_of_week`, at `hour`:`minute` local time).
 */
#ifndef EVERCERT_SCHEDULE_H
#define EVERCERT_SCHEDULE_H

#include "evercert/config.h"
#include "evercert/time.h"

/*
 * The next start after a run at `from`: the first day_of_week on or after
 * from's local date plus frequency days, at hour:minute local time. With
 * first set (no run yet), the first such moment after from, counting from
 * from's own date. A run therefore lands on its weekday whether the
 * frequency is 30 or 31 days. Local time follows TZ: a time that a DST
 * change skips moves forward with it. Depends only on its arguments and
 * the time zone rules.
 */
EVC_EXPORT evc_time evc_schedule_next(const struct evc_schedule *s, evc_time from, int first);

#endif
