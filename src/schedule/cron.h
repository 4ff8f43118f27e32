// Cron: parsing cron expressions and computing when they fire, in an IANA
// time zone, plus the RFC 3339 timestamps schedules are written in.
//
// Everything here is a pure function of its arguments (time comes in as a
// parameter, never from a clock), so the scheduler and the tests share one
// implementation and a FakeClock can drive it. Time zones come from the
// system tz database (/usr/share/zoneinfo) through Howard Hinnant's date.
//
// Thread-safety: all functions may be called concurrently from any thread.
// CronSpec is a plain value. The `const date::time_zone*` from FindZone points
// into the process-wide tz database and stays valid for the life of the
// process.
//
// Semantics, deliberately (DESIGN.md promise 5):
//  * Fields: 5 (minute hour day-of-month month day-of-week) or 6 (second
//    first). A 5-field expression fires at second 0.
//  * Day-of-month and day-of-week follow crontab(5): if both are restricted
//    (the field does NOT start with '*'; so "*/2" counts as unrestricted, as
//    in Vixie cron and cronie) a day matches when EITHER matches; otherwise
//    both must match.
//  * Spring forward (a local time that does not exist): the job fires once,
//    at the instant the gap ends (02:30 in New York on 2026-03-08 fires at
//    03:00 EDT). Several matches inside one gap collapse into that one fire,
//    and if the pattern also matches the first valid local time it is still
//    one fire.
//  * Fall back (a local time that occurs twice): a job whose hour field is
//    fixed (numbers, lists or plain ranges: "30 1 * * *", "*/5 1 * * *",
//    "0 1-3 * * *") fires once, at the FIRST occurrence (the earlier UTC
//    instant); during the second pass through the repeated local times it
//    does not fire. A job whose hour field is periodic (it contains '*' or a
//    step '/': "0 * * * *", "*/15 * * * *", "0 */2 * * *", "0 1-5/2 * * *",
//    @hourly) keeps firing on its pattern through the repeated hour, at both
//    occurrences, so an "every 15 minutes" job never pauses for an hour. This
//    is the Vixie cron/cronie choice (fixed-time jobs once, wildcard jobs
//    keep running), keyed on the hour field. CronSpec::hour_periodic records
//    which case applies.
//  * Known limitation: the system tz files list transitions only up to 2037
//    and date's USE_OS_TZDB mode does not apply the POSIX rule in the file
//    footer, so after 2037 a DST zone stays on its last offset (standard
//    time). Pinned by a test in tests/unit/test_cron.cpp.
#pragma once

#include <bitset>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/tz.h>

#include "core/clock.h"
#include "core/error.h"

namespace lsh::schedule {

// A parsed cron expression. Each bitset holds the values the field allows.
struct CronSpec {
  std::bitset<60> seconds;        // 0-59; only bit 0 for a 5-field expression
  std::bitset<60> minutes;        // 0-59
  std::bitset<24> hours;          // 0-23
  std::bitset<32> days_of_month;  // bits 1-31 (bit 0 unused)
  std::bitset<13> months;         // bits 1-12 (bit 0 unused)
  std::bitset<7> days_of_week;    // 0-6, 0 = Sunday (7 on input is Sunday too)
  bool dom_star = false;          // day-of-month field started with '*'
  bool dow_star = false;          // day-of-week field started with '*'
  bool hour_periodic = false;     // hour field has '*' or a step: repeats in fall-back
  bool has_seconds = false;       // 6-field expression
  std::string source;             // the expression as given (trimmed)
};

// Parses 5 fields (min hour dom mon dow) or 6 fields (sec min hour dom mon
// dow). Supports '*', lists a,b, ranges a-b, steps */n, a-b/n and a/n (a to
// the field's maximum), month names JAN-DEC and weekday names SUN-SAT
// (case-insensitive, also inside ranges), and the macros @yearly @annually
// @monthly @weekly @daily @midnight @hourly. A step must be 1 to the size of
// the field's range; ranges must not be backwards ("5-3").
// Any error -> Error::Invalid naming the field and the problem, e.g.
// "cron field 'hour' value 24 is out of range 0-23", field "schedule.cron".
Result<CronSpec> ParseCron(std::string_view expr);

// Looks up an IANA zone ("UTC", "Europe/Berlin"); case-sensitive, as in the
// tz database. Unknown -> Error::Invalid(..., "schedule.timezone").
Result<const date::time_zone*> FindZone(std::string_view name);

// How far NextCronFire looks ahead before giving up: 8 years, so that a
// Feb 29 job still finds its next fire across a non-leap century year
// (2096 -> 2104).
inline constexpr int kCronHorizonDays = 8 * 366;

// The first fire strictly after `after`, evaluated in local time of `zone`
// (DST handling as described at the top of this file). Fires are whole
// seconds. std::nullopt if there is none within kCronHorizonDays (e.g.
// "0 0 30 2 *"), if `zone` is null, or if `after` lies outside the supported
// years 1900-8999. Cost is proportional to the number of months/days/hours
// skipped, never minute by minute; safe for any input.
std::optional<SysTime> NextCronFire(const CronSpec& spec, const date::time_zone* zone,
                                    SysTime after);

// Fires of the schedule in (from, to], in order, at most `limit` of them
// (used for misfire catch-up accounting).
std::vector<SysTime> CronFiresBetween(const CronSpec& spec, const date::time_zone* zone,
                                      SysTime from, SysTime to, size_t limit);

}  // namespace lsh::schedule
