// Next fires of a job's Schedule (cron, interval or one-off), on top of the
// cron math in cron.h. Pure functions of the schedule and a time.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>

#include "core/error.h"
#include "core/types.h"

namespace lsh::schedule {

// Checks a schedule's fields (cron syntax, IANA zone, interval > 0, policies).
Status Validate(const Schedule& s);

// The fire a newly created or changed schedule waits for: the next cron
// time after `now`, now + interval, or the `at` time itself (a one-off in the
// past fires at once). nullopt for no schedule.
std::optional<SysTime> FirstFire(const Schedule& s, SysTime now);

// The fire after the one at `fired` (now is when it is computed): the next
// cron time after `fired`, fired + interval, nothing for a one-off.
std::optional<SysTime> FireAfter(const Schedule& s, SysTime fired);

}  // namespace lsh::schedule
