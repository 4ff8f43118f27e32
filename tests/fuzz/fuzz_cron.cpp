// Fuzz target: cron parsing and next-fire math (src/schedule/cron.h,
// next.h). The input is a zone selector byte, 8 bytes of a start time and
// the expression.
// Invariants: never crashes, hangs or throws; a fire is strictly after the
// time it follows and fires come in strictly increasing order; the first of
// CronFiresBetween is NextCronFire; Validate agrees with ParseCron; a refusal
// names schedule.cron.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "core/time.h"
#include "core/types.h"
#include "schedule/cron.h"
#include "schedule/next.h"

namespace {

// Zones with the awkward transitions: DST both ways, half-hour DST, a
// skipped day, negative DST, large offsets.
constexpr const char* kZones[] = {"UTC",
                                  "Europe/Berlin",
                                  "America/New_York",
                                  "Australia/Lord_Howe",
                                  "Pacific/Apia",
                                  "Africa/Casablanca",
                                  "Europe/Dublin",
                                  "Asia/Kolkata",
                                  "Pacific/Kiritimati",
                                  "America/Santiago",
                                  "Pacific/Chatham",
                                  "Antarctica/Troll"};
constexpr size_t kZoneCount = sizeof(kZones) / sizeof(kZones[0]);

void Fail(const char* what, std::string_view expr, const char* zone, long long after) {
  std::fprintf(stderr, "%s: expr '%.*s' zone %s after %lld\n", what, int(expr.size()), expr.data(),
               zone, after);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  const char* zone_name = kZones[data[0] % kZoneCount];
  uint64_t raw = 0;
  std::memcpy(&raw, data + 1, sizeof raw);
  // Start times from year ~1200 to ~33000: inside and outside the supported
  // years 1900-8999, without overflowing the millisecond clock.
  constexpr long long kLo = -25'000'000'000'000LL;
  constexpr long long kSpan = 1'000'000'000'000'000LL;
  long long after_ms = kLo + static_cast<long long>(raw % kSpan);
  lsh::SysTime after = lsh::FromMillis(after_ms);
  std::string_view expr(reinterpret_cast<const char*>(data + 9), size - 9);

  static const date::time_zone* zones[kZoneCount] = {};
  if (!zones[data[0] % kZoneCount]) {
    auto z = lsh::schedule::FindZone(zone_name);
    if (!z) Fail("zone missing", expr, zone_name, after_ms);
    zones[data[0] % kZoneCount] = *z;
  }
  const date::time_zone* zone = zones[data[0] % kZoneCount];

  lsh::Schedule sched;
  sched.kind = lsh::ScheduleKind::kCron;
  sched.cron = std::string(expr);
  sched.timezone = zone_name;
  auto valid = lsh::schedule::Validate(sched);

  auto spec = lsh::schedule::ParseCron(expr);
  if (valid.ok() != spec.ok()) Fail("Validate and ParseCron disagree", expr, zone_name, after_ms);
  if (!spec) {
    if (spec.error().field != "schedule.cron" || spec.error().message.empty())
      Fail("a refusal must name schedule.cron", expr, zone_name, after_ms);
    return 0;
  }

  auto next = lsh::schedule::NextCronFire(*spec, zone, after);
  if (next && *next <= after) Fail("a fire not after its start", expr, zone_name, after_ms);
  if (next) {
    auto next2 = lsh::schedule::NextCronFire(*spec, zone, *next);
    if (next2 && *next2 <= *next) Fail("fires not increasing", expr, zone_name, after_ms);
  }

  auto to = after + std::chrono::hours(24 * 3);
  auto fires = lsh::schedule::CronFiresBetween(*spec, zone, after, to, 32);
  for (size_t i = 0; i < fires.size(); ++i) {
    if (fires[i] <= after || fires[i] > to)
      Fail("a fire outside (from, to]", expr, zone_name, after_ms);
    if (i > 0 && fires[i] <= fires[i - 1]) Fail("fires out of order", expr, zone_name, after_ms);
  }
  if (!fires.empty() && (!next || fires[0] != *next))
    Fail("CronFiresBetween disagrees with NextCronFire", expr, zone_name, after_ms);

  auto first = lsh::schedule::FirstFire(sched, after);
  if (first != next) Fail("FirstFire disagrees with NextCronFire", expr, zone_name, after_ms);
  if (next) {
    auto later = lsh::schedule::FireAfter(sched, *next);
    if (later && *later <= *next) Fail("FireAfter not after", expr, zone_name, after_ms);
  }
  return 0;
}
