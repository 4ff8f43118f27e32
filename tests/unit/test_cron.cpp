// Unit tests for src/schedule/cron.h: parsing, next-fire math across the
// 2026/2027 DST transitions of three zones, RFC 3339, and a FakeClock walk.
//
// Expected instants were reasoned by hand from `zdump -v <zone>` and checked
// against an independent brute-force oracle (Python zoneinfo, stepping UTC
// minute by minute and applying the DST rules documented in cron.h).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time.h"
#include "schedule/cron.h"

namespace {

using lsh::ParseRfc3339;
using lsh::SysTime;
using lsh::schedule::CronFiresBetween;
using lsh::schedule::CronSpec;
using lsh::schedule::FindZone;
const auto& FormatRfc3339 = lsh::FormatTime;
using lsh::schedule::NextCronFire;
using lsh::schedule::ParseCron;

SysTime T(const char* text) {
  auto t = ParseRfc3339(text, "test");
  REQUIRE(t.ok());
  return *t;
}

CronSpec Spec(const char* expr) {
  auto s = ParseCron(expr);
  INFO(expr << ": " << (s.ok() ? "" : s.error().message));
  REQUIRE(s.ok());
  return *s;
}

const date::time_zone* Zone(const char* name) {
  auto z = FindZone(name);
  REQUIRE(z.ok());
  return *z;
}

std::string Next(const char* expr, const char* zone, const char* after) {
  auto fire = NextCronFire(Spec(expr), Zone(zone), T(after));
  return fire ? FormatRfc3339(*fire) : "none";
}

struct NextCase {
  const char* expr;
  const char* zone;
  const char* after;     // UTC
  const char* expected;  // UTC, or "none"
};

// Zone transitions used below (from zdump -v):
//   America/New_York  2026-03-08 07:00Z  01:59:59 EST -> 03:00 EDT  (gap 02:00-03:00)
//                     2026-11-01 06:00Z  01:59:59 EDT -> 01:00 EST  (01:00-02:00 twice)
//                     2027-03-14 07:00Z, 2027-11-07 06:00Z (same shape)
//   Europe/London     2026-03-29 01:00Z  00:59:59 GMT -> 02:00 BST  (gap 01:00-02:00)
//                     2026-10-25 01:00Z  01:59:59 BST -> 01:00 GMT  (01:00-02:00 twice)
//                     2027-03-28 01:00Z, 2027-10-31 01:00Z (same shape)
//   Australia/Lord_Howe 2026-04-04 15:00Z 01:59:59 +11 -> 01:30 +1030 (01:30-02:00 twice)
//                     2026-10-03 15:30Z  01:59:59 +1030 -> 02:30 +11 (gap 02:00-02:30)
//                     2027-04-03 15:00Z, 2027-10-02 15:30Z (same shape)
const NextCase kNextCases[] = {
    // --- UTC: fields, lists, ranges, steps, names --------------------------------------
    {"* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00.000Z"},
    {"* * * * *", "UTC", "2026-01-01T00:00:30.500Z", "2026-01-01T00:01:00.000Z"},
    {"* * * * *", "UTC", "2026-01-01T00:00:59.999Z", "2026-01-01T00:01:00.000Z"},
    {"0 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00.000Z"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:14:59.999Z", "2026-01-01T00:15:00.000Z"},
    {"5,35 * * * *", "UTC", "2026-01-01T00:35:00Z", "2026-01-01T01:05:00.000Z"},
    {"10-12 3 * * *", "UTC", "2026-01-01T03:12:00Z", "2026-01-02T03:10:00.000Z"},
    {"0 9-17/4 * * *", "UTC", "2026-01-01T09:00:00Z", "2026-01-01T13:00:00.000Z"},
    {"0 9-17/4 * * *", "UTC", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00.000Z"},
    {"0 20/2 * * *", "UTC", "2026-01-01T20:00:00Z", "2026-01-01T22:00:00.000Z"},
    {"0 20/2 * * *", "UTC", "2026-01-01T22:00:00Z", "2026-01-02T20:00:00.000Z"},
    {"0 0 * * MON-FRI", "UTC", "2026-01-02T12:00:00Z", "2026-01-05T00:00:00.000Z"},
    {"0 0 * * sat,Sun", "UTC", "2026-01-02T12:00:00Z", "2026-01-03T00:00:00.000Z"},
    {"0 0 1 jan-MAR/2 *", "UTC", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00.000Z"},
    {"0 0 1 jan-MAR/2 *", "UTC", "2026-03-01T00:00:00Z", "2027-01-01T00:00:00.000Z"},
    {"0 12 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00.000Z"},
    {"0 12 * * 5-7", "UTC", "2026-01-04T12:00:00Z", "2026-01-09T12:00:00.000Z"},
    {"0 12 * * 5-7", "UTC", "2026-01-09T12:00:00Z", "2026-01-10T12:00:00.000Z"},
    {"0 0 1 DEC *", "UTC", "2026-12-01T00:00:00Z", "2027-12-01T00:00:00.000Z"},
    // --- Last days of months, Feb 29, impossible dates -------------------------------
    {"0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00.000Z"},
    {"0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00.000Z"},
    {"0 0 31 * *", "UTC", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00.000Z"},
    {"0 0 31 * *", "UTC", "2026-08-31T00:00:00Z", "2026-10-31T00:00:00.000Z"},
    {"0 0 30 * *", "UTC", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00.000Z"},
    {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00.000Z"},
    {"0 0 29 2 *", "UTC", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00.000Z"},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00.000Z"},
    {"0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", "none"},
    {"0 0 31 4 *", "UTC", "2026-01-01T00:00:00Z", "none"},
    {"0 0 31 2,4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z", "none"},
    // --- Day-of-month / day-of-week: OR when both restricted, AND otherwise ----------
    {"0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00.000Z"},
    {"0 0 13 * 5", "UTC", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00.000Z"},
    {"0 0 1 * MON", "UTC", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00.000Z"},
    {"0 0 31 2 MON", "UTC", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00.000Z"},
    {"0 0 */2 * 1", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00.000Z"},
    {"0 0 */2 * 1", "UTC", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00.000Z"},
    {"0 0 15 * *", "UTC", "2026-01-15T00:00:00Z", "2026-02-15T00:00:00.000Z"},
    {"0 0 * * 0", "UTC", "2026-01-04T00:00:00Z", "2026-01-11T00:00:00.000Z"},
    // --- Seconds field ---------------------------------------------------------------
    {"*/10 * * * * *", "UTC", "2026-01-01T00:00:05Z", "2026-01-01T00:00:10.000Z"},
    {"*/10 * * * * *", "UTC", "2026-01-01T00:00:50Z", "2026-01-01T00:01:00.000Z"},
    {"30 0 12 * * *", "UTC", "2026-01-01T12:00:30Z", "2026-01-02T12:00:30.000Z"},
    {"30 0 12 * * *", "UTC", "2026-01-01T12:00:29.999Z", "2026-01-01T12:00:30.000Z"},
    {"0-5 0 0 1 1 *", "UTC", "2026-01-01T00:00:05Z", "2027-01-01T00:00:00.000Z"},
    {"59 59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z", "2026-12-31T23:59:59.000Z"},
    {"15,45 * * * * *", "UTC", "2026-01-01T00:00:45Z", "2026-01-01T00:01:15.000Z"},
    // --- Macros ----------------------------------------------------------------------
    {"@yearly", "UTC", "2026-06-15T00:00:00Z", "2027-01-01T00:00:00.000Z"},
    {"@annually", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00.000Z"},
    {"@monthly", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00.000Z"},
    {"@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00.000Z"},
    {"@daily", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00.000Z"},
    {"@midnight", "UTC", "2026-01-01T00:00:00.001Z", "2026-01-02T00:00:00.000Z"},
    {"@hourly", "UTC", "2026-01-01T00:59:59.999Z", "2026-01-01T01:00:00.000Z"},
    {"@DAILY", "Europe/Berlin", "2026-01-01T00:00:00Z", "2026-01-01T23:00:00.000Z"},
    // --- Plain zones -----------------------------------------------------------------
    {"0 3 * * *", "Europe/Berlin", "2026-11-28T00:00:00Z", "2026-11-28T02:00:00.000Z"},
    {"0 3 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z", "2026-07-01T01:00:00.000Z"},
    {"0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T03:30:00.000Z"},
    // --- America/New_York, spring forward 2026-03-08 (02:00-03:00 does not exist) ----
    {"30 2 * * *", "America/New_York", "2026-03-06T12:00:00Z", "2026-03-07T07:30:00.000Z"},
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00.000Z"},
    {"30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00.000Z"},
    {"0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00.000Z"},
    {"0 3 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T07:00:00.000Z"},
    {"0 1 * * *", "America/New_York", "2026-03-08T00:00:00Z", "2026-03-08T06:00:00.000Z"},
    {"* * * * *", "America/New_York", "2026-03-08T06:59:00Z", "2026-03-08T07:00:00.000Z"},
    {"* * * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T07:01:00.000Z"},
    {"0 * * * *", "America/New_York", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00.000Z"},
    {"0 * * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00.000Z"},
    {"30 * * * *", "America/New_York", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00.000Z"},
    {"30 * * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00.000Z"},
    {"30 2 * * * ", "America/New_York", "2026-03-08T06:59:59.999Z", "2026-03-08T07:00:00.000Z"},
    // --- America/New_York, fall back 2026-11-01 (01:00-02:00 twice) ------------------
    {"30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-01T05:30:00.000Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00.000Z"},
    {"0 1 * * *", "America/New_York", "2026-11-01T04:59:59Z", "2026-11-01T05:00:00.000Z"},
    {"0 * * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00.000Z"},
    {"0 * * * *", "America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00.000Z"},
    {"*/30 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00.000Z"},
    {"*/5 1 * * *", "America/New_York", "2026-11-01T05:55:00Z", "2026-11-02T06:00:00.000Z"},
    {"0 2 * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00.000Z"},
    {"0 */2 * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-01T07:00:00.000Z"},
    {"0 1-3/1 * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00.000Z"},
    {"0 1,2 * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00.000Z"},
    // --- America/New_York 2027 -------------------------------------------------------
    {"30 2 * * *", "America/New_York", "2027-03-13T12:00:00Z", "2027-03-14T07:00:00.000Z"},
    {"15 3 * * *", "America/New_York", "2027-03-14T06:00:00Z", "2027-03-14T07:15:00.000Z"},
    {"30 1 * * *", "America/New_York", "2027-11-07T00:00:00Z", "2027-11-07T05:30:00.000Z"},
    {"*/15 * * * *", "America/New_York", "2027-11-07T05:45:00Z", "2027-11-07T06:00:00.000Z"},
    // --- Europe/London, spring forward 2026-03-29 (01:00-02:00 does not exist) -------
    {"30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00.000Z"},
    {"0 1 * * *", "Europe/London", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00.000Z"},
    {"0 2 * * *", "Europe/London", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00.000Z"},
    {"0 0 * * *", "Europe/London", "2026-03-28T12:00:00Z", "2026-03-29T00:00:00.000Z"},
    {"0 0 * * *", "Europe/London", "2026-03-29T00:00:00Z", "2026-03-29T23:00:00.000Z"},
    // --- Europe/London, fall back 2026-10-25 (01:00-02:00 twice) ---------------------
    {"30 1 * * *", "Europe/London", "2026-10-25T00:00:00Z", "2026-10-25T00:30:00.000Z"},
    {"30 1 * * *", "Europe/London", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00.000Z"},
    {"30 * * * *", "Europe/London", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00.000Z"},
    // --- Europe/London 2027 ----------------------------------------------------------
    {"15 1 * * *", "Europe/London", "2027-03-27T12:00:00Z", "2027-03-28T01:00:00.000Z"},
    {"0 1 * * *", "Europe/London", "2027-10-30T23:59:00Z", "2027-10-31T00:00:00.000Z"},
    {"0 1 * * *", "Europe/London", "2027-10-31T00:00:00Z", "2027-11-01T01:00:00.000Z"},
    {"0 * * * *", "Europe/London", "2027-10-31T00:00:00Z", "2027-10-31T01:00:00.000Z"},
    // --- Australia/Lord_Howe, fall back 2026-04-05 02:00 -> 01:30 (01:30-02:00 twice)
    {"45 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:00:00Z", "2026-04-04T14:45:00.000Z"},
    {"45 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00.000Z"},
    {"*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-04T15:00:00.000Z"},
    {"0 2 * * *", "Australia/Lord_Howe", "2026-04-04T14:00:00Z", "2026-04-04T15:30:00.000Z"},
    {"*/10 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:50:00Z", "2026-04-05T14:30:00.000Z"},
    // --- Australia/Lord_Howe, spring forward 2026-10-04 02:00 -> 02:30 (gap) ---------
    {"15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", "2026-10-03T15:30:00.000Z"},
    {"45 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", "2026-10-03T15:45:00.000Z"},
    {"0 * * * *", "Australia/Lord_Howe", "2026-10-03T14:30:00Z", "2026-10-03T15:30:00.000Z"},
    {"0 * * * *", "Australia/Lord_Howe", "2026-10-03T15:30:00Z", "2026-10-03T16:00:00.000Z"},
    {"*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T15:15:00Z", "2026-10-03T15:30:00.000Z"},
    {"*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T15:30:00Z", "2026-10-03T15:45:00.000Z"},
    // --- Australia/Lord_Howe 2027 ----------------------------------------------------
    {"30 1 * * *", "Australia/Lord_Howe", "2027-04-03T12:00:00Z", "2027-04-03T14:30:00.000Z"},
    {"0 2 * * *", "Australia/Lord_Howe", "2027-10-02T12:00:00Z", "2027-10-02T15:30:00.000Z"},
    // --- Pacific/Apia skipped the whole of 2011-12-30 (-10 -> +14) -----------------------
    {"0 12 * * *", "Pacific/Apia", "2011-12-29T22:00:00Z", "2011-12-30T10:00:00.000Z"},
    {"0 12 * * *", "Pacific/Apia", "2011-12-30T10:00:00Z", "2011-12-30T22:00:00.000Z"},
    {"0 0 30 12 *", "Pacific/Apia", "2011-12-01T00:00:00Z", "2011-12-30T10:00:00.000Z"},
    // --- 2037: the last year the system tz files list transitions for -----------------
    {"0 12 * * *", "America/New_York", "2037-07-01T00:00:00Z", "2037-07-01T16:00:00.000Z"},
    {"30 2 * * *", "America/New_York", "2037-03-08T00:00:00Z", "2037-03-08T07:00:00.000Z"},
};

}  // namespace

TEST_CASE("NextCronFire: table of expressions, zones and DST transitions", "[cron]") {
  STATIC_REQUIRE(sizeof(kNextCases) / sizeof(kNextCases[0]) >= 60);
  for (const NextCase& c : kNextCases) {
    INFO(c.expr << " in " << c.zone << " after " << c.after);
    CHECK(Next(c.expr, c.zone, c.after) == c.expected);
  }
}

TEST_CASE("ParseCron: fields become bitsets and flags", "[cron]") {
  CronSpec s = Spec("*/20 1-3,5 */10 JAN,jul MON-FRI");
  CHECK_FALSE(s.has_seconds);
  CHECK(s.seconds.count() == 1);
  CHECK(s.seconds[0]);
  CHECK(s.minutes.count() == 3);
  CHECK((s.minutes[0] && s.minutes[20] && s.minutes[40]));
  CHECK(s.hours.count() == 4);
  CHECK((s.hours[1] && s.hours[2] && s.hours[3] && s.hours[5]));
  CHECK(s.days_of_month.count() == 4);  // 1, 11, 21, 31
  CHECK((s.days_of_month[1] && s.days_of_month[11] && s.days_of_month[21] && s.days_of_month[31]));
  CHECK(s.dom_star);  // "*/10" starts with '*': crontab(5) treats it as unrestricted
  CHECK(s.months.count() == 2);
  CHECK((s.months[1] && s.months[7]));
  CHECK(s.days_of_week.count() == 5);
  CHECK_FALSE(s.days_of_week[0]);
  CHECK_FALSE(s.dow_star);
  CHECK_FALSE(s.hour_periodic);
  CHECK(s.source == "*/20 1-3,5 */10 JAN,jul MON-FRI");

  CronSpec six = Spec("  5/15 0 0 * * 5-7  ");
  CHECK(six.has_seconds);
  CHECK(six.source == "5/15 0 0 * * 5-7");
  CHECK(six.seconds.count() == 4);  // 5, 20, 35, 50
  CHECK((six.seconds[5] && six.seconds[20] && six.seconds[35] && six.seconds[50]));
  CHECK(six.days_of_week.count() == 3);  // Fri, Sat, Sun (7 -> 0)
  CHECK((six.days_of_week[5] && six.days_of_week[6] && six.days_of_week[0]));

  CHECK(Spec("0 * * * *").hour_periodic);
  CHECK(Spec("0 */2 * * *").hour_periodic);
  CHECK(Spec("0 1-5/2 * * *").hour_periodic);
  CHECK(Spec("@hourly").hour_periodic);
  CHECK_FALSE(Spec("0 1-5 * * *").hour_periodic);
  CHECK_FALSE(Spec("* 1 * * *").hour_periodic);
  CHECK_FALSE(Spec("@daily").hour_periodic);
  CHECK(Spec("0 0 * * 0-7").days_of_week.all());
  CHECK(Spec("0\t0\t1\t1\t*").months.count() == 1);
}

TEST_CASE("ParseCron: macros expand to their five-field meaning", "[cron]") {
  struct M {
    const char* macro;
    const char* fields;
  };
  const M macros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                      {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                      {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                      {"@hourly", "0 * * * *"},  {"@Weekly", "0 0 * * 0"}};
  for (const M& m : macros) {
    INFO(m.macro);
    CronSpec a = Spec(m.macro);
    CronSpec b = Spec(m.fields);
    CHECK(a.source == m.macro);
    CHECK(a.seconds == b.seconds);
    CHECK(a.minutes == b.minutes);
    CHECK(a.hours == b.hours);
    CHECK(a.days_of_month == b.days_of_month);
    CHECK(a.months == b.months);
    CHECK(a.days_of_week == b.days_of_week);
    CHECK(a.dom_star == b.dom_star);
    CHECK(a.dow_star == b.dow_star);
    CHECK(a.hour_periodic == b.hour_periodic);
  }
}

TEST_CASE("ParseCron: errors name the field and the problem", "[cron]") {
  struct E {
    const char* expr;
    const char* message;  // a substring the message must contain
  };
  const E errors[] = {
      {"", "cron expression is empty"},
      {"   ", "cron expression is empty"},
      {"* * * *", "has 4 fields; expected 5"},
      {"* * * * * * *", "has 7 fields; expected 5"},
      {"60 * * * *", "cron field 'minute' value 60 is out of range 0-59"},
      {"0 24 * * *", "cron field 'hour' value 24 is out of range 0-23"},
      {"0 0 0 * *", "cron field 'day-of-month' value 0 is out of range 1-31"},
      {"0 0 32 * *", "cron field 'day-of-month' value 32 is out of range 1-31"},
      {"0 0 * 13 *", "cron field 'month' value 13 is out of range 1-12"},
      {"0 0 * 0 *", "cron field 'month' value 0 is out of range 1-12"},
      {"0 0 * * 8", "cron field 'day-of-week' value 8 is out of range 0-7"},
      {"60 * * * * *", "cron field 'second' value 60 is out of range 0-59"},
      {"99999999999 * * * *", "cron field 'minute' value '99999999999' is out of range 0-59"},
      {"*/0 * * * *", "cron field 'minute' step 0 in '*/0' is out of range 1-60"},
      {"0 */25 * * *", "cron field 'hour' step 25 in '*/25' is out of range 1-24"},
      {"*/x * * * *", "cron field 'minute' has invalid step 'x'"},
      {"*/ * * * *", "cron field 'minute' has invalid step ''"},
      {"/5 * * * *", "cron field 'minute' step '/5' has nothing before '/'"},
      {"0 5-3 * * *", "cron field 'hour' range '5-3' is backwards"},
      {"0 0 * * FRI-MON", "cron field 'day-of-week' range 'FRI-MON' is backwards"},
      {"a * * * *", "cron field 'minute' has invalid value 'a'"},
      {"-1 * * * *", "cron field 'minute' is missing a value"},
      {"1-2-3 * * * *", "cron field 'minute' has invalid value '2-3'"},
      {"0 0 * FOO *", "cron field 'month' has unknown value 'FOO' (expected 1-12 or JAN-DEC)"},
      {"0 0 * MON *", "cron field 'month' has unknown value 'MON'"},
      {"0 0 * * MON-FOO",
       "cron field 'day-of-week' has unknown value 'FOO' (expected 0-7 or SUN-SAT)"},
      {"0 0 JAN * *", "cron field 'day-of-month' has invalid value 'JAN'"},
      {"1,,2 * * * *", "cron field 'minute' has an empty list item"},
      {"1, * * * *", "cron field 'minute' has an empty list item"},
      {"@reboot", "cron macro '@reboot' is not supported"},
      {"@often", "unknown cron macro '@often'"},
      {"@daily 0", "unknown cron macro '@daily 0'"},
  };
  for (const E& e : errors) {
    INFO("expr: '" << e.expr << "'");
    auto r = ParseCron(e.expr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == lsh::ErrorKind::kInvalid);
    CHECK(r.error().code == "validation_failed");
    CHECK(r.error().field == "schedule.cron");
    CHECK_THAT(r.error().message, Catch::Contains(e.message));
  }
  // A huge input gives a short message.
  std::string huge(5000, '1');
  auto r = ParseCron(huge);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.size() < 200);
}

TEST_CASE("FindZone: IANA names resolve, anything else is a 400 on schedule.timezone", "[cron]") {
  for (const char* ok : {"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                         "Asia/Kolkata", "Etc/GMT+5"}) {
    INFO(ok);
    auto z = FindZone(ok);
    REQUIRE(z.ok());
    CHECK((*z)->name() == ok);
  }
  for (const char* bad : {"", "Mars/Olympus_Mons", "Europe/Berlinn", "../../etc/passwd",
                          "/usr/share/zoneinfo/UTC", "Europe/Berlin ", "UTC\n"}) {
    INFO("zone: '" << bad << "'");
    auto z = FindZone(bad);
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().kind == lsh::ErrorKind::kInvalid);
    CHECK(z.error().field == "schedule.timezone");
  }
  CHECK_THAT(FindZone("Mars/Olympus_Mons").error().message,
             Catch::Contains("unknown time zone 'Mars/Olympus_Mons'"));
  CHECK_THAT(FindZone("").error().message, Catch::Contains("time zone is empty"));
}

TEST_CASE("RFC 3339: parse, format, round trip", "[cron]") {
  using std::chrono::milliseconds;
  CHECK(T("1970-01-01T00:00:00Z").time_since_epoch() == milliseconds{0});
  CHECK(T("2026-11-28T12:00:00Z").time_since_epoch() == milliseconds{1795867200000});
  CHECK(FormatRfc3339(T("2026-11-28T12:00:00Z")) == "2026-11-28T12:00:00.000Z");
  CHECK(FormatRfc3339(T("2026-11-28T12:00:00.123+01:00")) == "2026-11-28T11:00:00.123Z");
  CHECK(FormatRfc3339(T("2026-11-28T12:00:00.5-05:30")) == "2026-11-28T17:30:00.500Z");
  CHECK(FormatRfc3339(T("2026-11-28T12:00:00.123456789Z")) == "2026-11-28T12:00:00.123Z");
  CHECK(FormatRfc3339(T("2026-11-28t12:00:00z")) == "2026-11-28T12:00:00.000Z");
  CHECK(FormatRfc3339(T("2026-11-28 12:00:00Z")) == "2026-11-28T12:00:00.000Z");
  CHECK(FormatRfc3339(T("2028-02-29T23:59:59.999Z")) == "2028-02-29T23:59:59.999Z");
  CHECK(FormatRfc3339(T("2026-01-01T00:30:00+01:00")) == "2025-12-31T23:30:00.000Z");
  CHECK(FormatRfc3339(T("1969-12-31T23:59:59.999Z")) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339(SysTime{milliseconds{-1}}) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339(SysTime{milliseconds{1795867200123}}) == "2026-11-28T12:00:00.123Z");
  // Total for any value (fuzzing will pass extremes).
  CHECK_FALSE(FormatRfc3339(SysTime::max()).empty());
  CHECK_FALSE(FormatRfc3339(SysTime::min()).empty());

  // Round trip: format(parse(format(t))) for a spread of instants.
  for (long long ms = -86'400'000LL * 365 * 100; ms < 86'400'000LL * 365 * 400;
       ms += 86'400'000LL * 37 + 3'723'456) {
    SysTime t{milliseconds{ms}};
    std::string text = FormatRfc3339(t);
    auto back = ParseRfc3339(text, "x");
    INFO(text);
    REQUIRE(back.ok());
    CHECK(*back == t);
  }

  struct Bad {
    const char* text;
    const char* why;
  };
  const Bad bad[] = {
      {"", "it is empty"},
      {"2026-11-28", "expected 'T' between date and time"},
      {"2026-11-28T12:00Z", "the time must be HH:MM:SS"},
      {"2026-11-28T12:00:00", "a time zone offset (Z or +HH:MM) is required"},
      {"2026-11-28T12:00:00+0100", "the offset must be Z or +HH:MM"},
      {"2026-11-28T12:00:00+24:00", "the offset is out of range"},
      {"2026-11-28T12:00:00.Z", "the fraction after '.' has no digits"},
      {"2026-11-28T12:00:00.1234567891Z", "more than 9 digits"},
      {"2026-11-28T12:00:00Zjunk", "unexpected text after the offset"},
      {"26-11-28T12:00:00Z", "the date must be YYYY-MM-DD"},
      {"2026/11/28T12:00:00Z", "the date must be YYYY-MM-DD"},
      {"2026-13-01T00:00:00Z", "month must be 01-12"},
      {"2026-02-29T00:00:00Z", "no such day in that month"},
      {"2026-04-31T00:00:00Z", "no such day in that month"},
      {"2026-04-00T00:00:00Z", "no such day in that month"},
      {"2026-04-01T24:00:00Z", "hour must be 00-23"},
      {"2026-04-01T23:60:00Z", "minute must be 00-59"},
      {"2026-12-31T23:59:60Z", "leap second 60 is not supported"},
      {"2026-12-31T23:59:61Z", "second must be 00-59"},
      {"tomorrow", "the date must be YYYY-MM-DD"},
  };
  for (const Bad& b : bad) {
    INFO("text: '" << b.text << "'");
    auto r = ParseRfc3339(b.text, "schedule.at");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == lsh::ErrorKind::kInvalid);
    CHECK(r.error().field == "schedule.at");
    CHECK_THAT(r.error().message, Catch::Contains("'schedule.at' is not an RFC 3339 timestamp"));
    CHECK_THAT(r.error().message, Catch::Contains(b.why));
  }
}

TEST_CASE("CronFiresBetween counts fires after from up to and including to", "[cron]") {
  auto count = [](const char* expr, const char* zone, const char* from, const char* to,
                  size_t limit = 100000) {
    return CronFiresBetween(Spec(expr), Zone(zone), T(from), T(to), limit).size();
  };
  // A UTC day of quarter hours: the start is excluded, the end included.
  CHECK(count("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == 96);
  CHECK(count("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T23:59:59.999Z") == 95);
  CHECK(count("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 10) == 10);
  CHECK(count("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z") == 0);
  CHECK(count("*/15 * * * *", "UTC", "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z") == 0);
  CHECK(count("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 0) == 0);
  // The New York spring-forward day has 23 hourly fires, the fall-back day 25.
  CHECK(count("0 * * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z") ==
        23);
  CHECK(count("0 * * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z") ==
        25);
  // Every minute through the fall-back night: the repeated hour fires twice (60 extra).
  CHECK(count("* * * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-01T08:00:00Z") ==
        240);
  // Every minute through the spring-forward night: 02:00-02:59 collapse into one fire.
  CHECK(count("* * * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T08:00:00Z") ==
        180);
  // A fixed-time job fires once a day through both transitions.
  CHECK(count("30 1 * * *", "America/New_York", "2026-10-28T00:00:00Z", "2026-11-04T00:00:00Z") ==
        7);
  CHECK(count("30 2 * * *", "America/New_York", "2026-03-05T00:00:00Z", "2026-03-12T00:00:00Z") ==
        7);
  CHECK(count("30 1 * * *", "Australia/Lord_Howe", "2026-04-01T00:00:00Z",
              "2026-04-08T00:00:00Z") == 7);
  // Seconds: every second of a minute.
  CHECK(count("* * * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z") == 60);
  // Catch-up accounting over a year of a monthly job; an impossible job finds none.
  CHECK(count("@monthly", "Europe/Berlin", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z") == 12);
  CHECK(count("0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z") == 0);
  CHECK(count("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z") == 2);

  auto fires = CronFiresBetween(Spec("0 * * * *"), Zone("America/New_York"),
                                T("2026-11-01T04:00:00Z"), T("2026-11-01T08:00:00Z"), 10);
  std::vector<std::string> got;
  for (SysTime f : fires) got.push_back(FormatRfc3339(f));
  CHECK(got == std::vector<std::string>{"2026-11-01T05:00:00.000Z", "2026-11-01T06:00:00.000Z",
                                        "2026-11-01T07:00:00.000Z", "2026-11-01T08:00:00.000Z"});
}

// Walks a schedule fire by fire with a FakeClock, as the dispatcher will:
// wait until the next fire, "run", ask for the next one.
static std::vector<std::string> Walk(const char* expr, const char* zone, const char* start,
                                     int fires) {
  lsh::FakeClock clock(T(start));
  CronSpec spec = Spec(expr);
  const date::time_zone* z = Zone(zone);
  std::vector<std::string> out;
  for (int i = 0; i < fires; ++i) {
    auto next = NextCronFire(spec, z, clock.Now());
    REQUIRE(next.has_value());
    REQUIRE(*next > clock.Now());
    clock.Set(*next);
    out.push_back(FormatRfc3339(clock.Now()));
  }
  return out;
}

TEST_CASE("FakeClock walk: fire by fire through DST changes", "[cron]") {
  // Every 30 minutes through the New York fall-back: steady 30-minute spacing in UTC,
  // the repeated 01:00-01:59 local hour included.
  CHECK(Walk("*/30 * * * *", "America/New_York", "2026-11-01T04:00:00Z", 8) ==
        std::vector<std::string>{"2026-11-01T04:30:00.000Z", "2026-11-01T05:00:00.000Z",
                                 "2026-11-01T05:30:00.000Z", "2026-11-01T06:00:00.000Z",
                                 "2026-11-01T06:30:00.000Z", "2026-11-01T07:00:00.000Z",
                                 "2026-11-01T07:30:00.000Z", "2026-11-01T08:00:00.000Z"});
  // Every 30 minutes through the spring-forward: 01:30 EST, then 02:00 and 02:30 collapse
  // into 03:00 EDT, then 03:30 EDT.
  CHECK(Walk("*/30 * * * *", "America/New_York", "2026-03-08T06:00:00Z", 4) ==
        std::vector<std::string>{"2026-03-08T06:30:00.000Z", "2026-03-08T07:00:00.000Z",
                                 "2026-03-08T07:30:00.000Z", "2026-03-08T08:00:00.000Z"});
  // A daily 02:30 job across the spring-forward week: 07:30Z (EST), 07:00Z on the day
  // (gap end, 03:00 EDT), then 06:30Z (EDT).
  CHECK(Walk("30 2 * * *", "America/New_York", "2026-03-06T12:00:00Z", 4) ==
        std::vector<std::string>{"2026-03-07T07:30:00.000Z", "2026-03-08T07:00:00.000Z",
                                 "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"});
  // A daily 01:30 job across the fall-back: once on the day, at the first occurrence.
  CHECK(Walk("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", 3) ==
        std::vector<std::string>{"2026-10-31T05:30:00.000Z", "2026-11-01T05:30:00.000Z",
                                 "2026-11-02T06:30:00.000Z"});
  // Lord Howe's half-hour shift, quarter-hourly through the fall-back.
  CHECK(Walk("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:15:00Z", 7) ==
        std::vector<std::string>{"2026-04-04T14:30:00.000Z", "2026-04-04T14:45:00.000Z",
                                 "2026-04-04T15:00:00.000Z", "2026-04-04T15:15:00.000Z",
                                 "2026-04-04T15:30:00.000Z", "2026-04-04T15:45:00.000Z",
                                 "2026-04-04T16:00:00.000Z"});
  // London, hourly through the spring-forward: 00:00 GMT, then 01:00 (gap) and 02:00 BST
  // are the same instant.
  CHECK(Walk("0 * * * *", "Europe/London", "2026-03-28T23:30:00Z", 3) ==
        std::vector<std::string>{"2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z",
                                 "2026-03-29T02:00:00.000Z"});
}

TEST_CASE("NextCronFire: robust and fast on hostile input", "[cron]") {
  const date::time_zone* utc = Zone("UTC");
  const date::time_zone* ny = Zone("America/New_York");
  // Out-of-range instants and a null zone give no fire instead of UB.
  CHECK_FALSE(NextCronFire(Spec("* * * * *"), utc, SysTime::max()).has_value());
  CHECK_FALSE(NextCronFire(Spec("* * * * *"), utc, SysTime::min()).has_value());
  CHECK_FALSE(NextCronFire(Spec("* * * * *"), nullptr, T("2026-01-01T00:00:00Z")).has_value());
  CHECK(CronFiresBetween(Spec("* * * * *"), utc, SysTime::min(), SysTime::max(), 5).empty());
  CHECK(CronFiresBetween(Spec("* * * * *"), utc, T("2026-01-01T00:00:00Z"), SysTime::max(), 5)
            .size() == 5);
  // A default-constructed spec matches nothing.
  CHECK_FALSE(NextCronFire(CronSpec{}, utc, T("2026-01-01T00:00:00Z")).has_value());
  // Late in the supported range: the horizon is clamped, no overflow.
  CHECK(Next("0 0 1 1 *", "UTC", "8998-06-01T00:00:00Z") == "8999-01-01T00:00:00.000Z");

  // Impossible schedules scan 8 years by skipping months/days, not minutes; thousands of
  // calls stay fast (a minute-by-minute scan would take ~4M steps per call).
  CronSpec never = Spec("59 59 23 30 2 *");
  for (int i = 0; i < 200; ++i) {
    CHECK_FALSE(NextCronFire(never, ny, T("2026-01-01T00:00:00Z")).has_value());
  }

  // Monotonic and consistent for many expressions in many zones: each fire is after
  // the previous, and asking just before a fire finds that fire.
  const char* exprs[] = {"* * * * *",    "*/7 * * * *",   "0 */3 * * *",  "30 1 * * *",
                         "15 2 * * *",   "0 0 13 * 5",    "*/20 1 * * *", "0 1-3/2 * * *",
                         "45 1,2 * * 0", "*/13 * * * * *"};
  const char* zones[] = {
      "UTC",          "America/New_York", "Europe/London",   "Australia/Lord_Howe",
      "Pacific/Apia", "Asia/Kathmandu",   "America/St_Johns"};
  for (const char* e : exprs) {
    CronSpec s = Spec(e);
    for (const char* zn : zones) {
      const date::time_zone* z = Zone(zn);
      SysTime t = T("2026-03-01T00:00:00Z");
      for (int i = 0; i < 300; ++i) {
        auto next = NextCronFire(s, z, t);
        INFO(e << " in " << zn << " after " << FormatRfc3339(t));
        REQUIRE(next.has_value());
        REQUIRE(*next > t);
        REQUIRE(NextCronFire(s, z, *next - std::chrono::milliseconds{1}) == next);
        t = *next + std::chrono::hours{7};  // hop forward to sample many days
      }
    }
  }
}

// Known limitation, pinned so that a fix shows up here: the system tz files list
// transitions only up to 2037, and date built with USE_OS_TZDB does not apply the POSIX
// rule in the file footer, so after 2037-11 a DST zone stays on its last offset
// (New York stays on EST all year). Fires are still produced, one hour off in summer.
TEST_CASE("NextCronFire after 2037: DST is not extended (date USE_OS_TZDB limitation)", "[cron]") {
  CHECK(Next("0 12 * * *", "America/New_York", "2045-12-01T00:00:00Z") ==
        "2045-12-01T17:00:00.000Z");  // correct (EST)
  CHECK(Next("0 12 * * *", "America/New_York", "2045-07-01T00:00:00Z") ==
        "2045-07-01T17:00:00.000Z");  // would be 16:00Z with EDT
}
