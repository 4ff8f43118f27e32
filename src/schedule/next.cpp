#include "schedule/next.h"

#include <algorithm>
#include <cstring>

#include "schedule/cron.h"

namespace lsh::schedule {

namespace {
template <size_t N>
bool OneOf(const std::string& v, const char* const (&list)[N]) {
  return std::any_of(std::begin(list), std::end(list), [&](const char* s) { return v == s; });
}

std::optional<SysTime> CronAfter(const Schedule& s, SysTime t) {
  auto spec = ParseCron(s.cron);
  auto zone = FindZone(s.timezone);
  if (!spec || !zone) return std::nullopt;
  return NextCronFire(*spec, *zone, t);
}
}  // namespace

Status Validate(const Schedule& s) {
  switch (s.kind) {
    case ScheduleKind::kNone:
      break;
    case ScheduleKind::kCron: {
      auto spec = ParseCron(s.cron);
      if (!spec) return spec.error();
      auto zone = FindZone(s.timezone);
      if (!zone) return zone.error();
      break;
    }
    case ScheduleKind::kInterval:
      if (s.interval_ms <= 0)
        return Error::Invalid("schedule.interval must be a positive number of milliseconds",
                              "schedule.interval");
      break;
    case ScheduleKind::kAt:
      if (!s.at) return Error::Invalid("schedule.at must be an RFC 3339 time", "schedule.at");
      break;
  }
  if (!OneOf(s.misfire, kMisfirePolicies))
    return Error::Invalid("schedule.misfirePolicy must be one of run_once, skip, run_all",
                          "schedule.misfirePolicy");
  if (!OneOf(s.overlap, kOverlapPolicies))
    return Error::Invalid("schedule.overlapPolicy must be one of skip, queue, allow",
                          "schedule.overlapPolicy");
  return Status::Ok();
}

std::optional<SysTime> FirstFire(const Schedule& s, SysTime now) {
  switch (s.kind) {
    case ScheduleKind::kNone:
      return std::nullopt;
    case ScheduleKind::kCron:
      return CronAfter(s, now);
    case ScheduleKind::kInterval:
      return now + std::chrono::milliseconds(s.interval_ms);
    case ScheduleKind::kAt:
      return s.at;
  }
  return std::nullopt;
}

std::optional<SysTime> FireAfter(const Schedule& s, SysTime fired) {
  switch (s.kind) {
    case ScheduleKind::kNone:
      return std::nullopt;
    case ScheduleKind::kCron:
      return CronAfter(s, fired);
    case ScheduleKind::kInterval:
      return fired + std::chrono::milliseconds(s.interval_ms);
    case ScheduleKind::kAt:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace lsh::schedule
