#include "core/types.h"

namespace lsh {

const char* ToString(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::kNone:
      return "none";
    case ScheduleKind::kCron:
      return "cron";
    case ScheduleKind::kInterval:
      return "interval";
    case ScheduleKind::kAt:
      return "at";
  }
  return "none";
}

}  // namespace lsh
