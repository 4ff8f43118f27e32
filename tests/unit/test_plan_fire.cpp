// PlanFire: what a schedule fire does at a given time, driven by explicit
// times (a test clock), never by waiting. docs/lifecycle.md "Schedules".
#include <catch2/catch.hpp>

#include "core/time.h"
#include "exec/schedule_loop.h"
#include "schedule/next.h"

using namespace lsh;
using namespace std::chrono_literals;

namespace {
SysTime T(const char* s) {
  return *ParseTime(s);
}
Job CronJob(const char* cron, const char* tz, const char* policy, SysTime next) {
  Job j;
  j.id = "j";
  j.spec.name = "j";
  j.spec.schedule.kind = ScheduleKind::kCron;
  j.spec.schedule.cron = cron;
  j.spec.schedule.timezone = tz;
  j.spec.schedule.misfire = policy;
  j.next_run_at = next;
  return j;
}
Job IntervalJob(int64_t ms, const char* policy, SysTime next) {
  Job j;
  j.id = "j";
  j.spec.schedule.kind = ScheduleKind::kInterval;
  j.spec.schedule.interval_ms = ms;
  j.spec.schedule.misfire = policy;
  j.next_run_at = next;
  return j;
}
}  // namespace

TEST_CASE("PlanFire: an on-time cron fire advances to the next one", "[plan]") {
  Job j = CronJob("0 3 * * *", "Europe/Berlin", "run_once", T("2026-11-28T02:00:00Z"));
  auto p = exec::PlanFire(j, T("2026-11-28T02:00:00.010Z"));
  REQUIRE(p.on_time_fire.has_value());
  CHECK(FormatTime(*p.on_time_fire) == "2026-11-28T02:00:00.000Z");
  CHECK(p.catchup_fires.empty());
  CHECK(!p.missed.has_value());
  REQUIRE(p.new_next_run.has_value());
  CHECK(FormatTime(*p.new_next_run) == "2026-11-29T02:00:00.000Z");
  CHECK(p.expected_next_run == j.next_run_at);
}

TEST_CASE("PlanFire: missed cron fires under each policy", "[plan]") {
  // Down from Nov 25 01:00Z to Nov 28 10:00Z: 03:00 Berlin fired on the 25th,
  // 26th, 27th and 28th (02:00Z), all missed.
  SysTime now = T("2026-11-28T10:00:00Z");
  SysTime next = T("2026-11-25T02:00:00Z");
  auto once = exec::PlanFire(CronJob("0 3 * * *", "Europe/Berlin", "run_once", next), now);
  CHECK(!once.on_time_fire);
  REQUIRE(once.catchup_fires.size() == 1);
  CHECK(FormatTime(once.catchup_fires[0]) == "2026-11-28T02:00:00.000Z");
  REQUIRE(once.missed.has_value());
  CHECK((*once.missed)["missed"] == 4);
  CHECK((*once.missed)["fires"].size() == 4);
  CHECK((*once.missed)["policy"] == "run_once");
  CHECK(FormatTime(*once.new_next_run) == "2026-11-29T02:00:00.000Z");

  auto skip = exec::PlanFire(CronJob("0 3 * * *", "Europe/Berlin", "skip", next), now);
  CHECK(skip.catchup_fires.empty());
  CHECK((*skip.missed)["missed"] == 4);

  auto all = exec::PlanFire(CronJob("0 3 * * *", "Europe/Berlin", "run_all", next), now);
  REQUIRE(all.catchup_fires.size() == 4);
  CHECK(FormatTime(all.catchup_fires.front()) == "2026-11-25T02:00:00.000Z");
}

TEST_CASE("PlanFire: run_all is bounded", "[plan]") {
  auto p = exec::PlanFire(IntervalJob(1000, "run_all", T("2026-01-01T00:00:00Z")),
                          T("2026-01-02T00:00:00Z"));
  CHECK(p.catchup_fires.size() == exec::kMaxCatchupRuns);
  // 86401 fires were due; the 6 within the threshold collapse into one on-time fire.
  CHECK((*p.missed)["missed"] == 86395);
  CHECK(p.on_time_fire == T("2026-01-02T00:00:00Z"));
}

TEST_CASE("PlanFire: interval keeps its phase across downtime", "[plan]") {
  SysTime next = T("2026-11-28T00:00:00Z");
  auto p = exec::PlanFire(IntervalJob(3600000, "run_once", next), T("2026-11-28T03:30:00Z"));
  CHECK((*p.missed)["missed"] == 4);  // 00:00, 01:00, 02:00, 03:00
  REQUIRE(p.catchup_fires.size() == 1);
  CHECK(FormatTime(p.catchup_fires[0]) == "2026-11-28T03:00:00.000Z");
  CHECK(FormatTime(*p.new_next_run) == "2026-11-28T04:00:00.000Z");
}

TEST_CASE("PlanFire: a fire seen a little late is on time, not missed", "[plan]") {
  SysTime next = T("2026-11-28T00:00:00Z");
  auto p = exec::PlanFire(IntervalJob(60000, "run_once", next), next + 2s);
  CHECK(p.on_time_fire == next);
  CHECK(!p.missed);
  // Past the threshold it is missed, and run_once catches it up once.
  auto late =
      exec::PlanFire(IntervalJob(60000, "run_once", next), next + exec::kMisfireThreshold + 1ms);
  CHECK(!late.on_time_fire);
  CHECK(late.catchup_fires.size() == 1);
}

TEST_CASE("PlanFire: a one-off fires once and is done", "[plan]") {
  Job j;
  j.spec.schedule.kind = ScheduleKind::kAt;
  j.spec.schedule.at = T("2026-11-28T12:00:00Z");
  j.next_run_at = j.spec.schedule.at;
  auto p = exec::PlanFire(j, T("2026-11-28T12:00:00.100Z"));
  CHECK(p.on_time_fire == j.spec.schedule.at);
  CHECK(!p.new_next_run);
}

TEST_CASE("PlanFire through a DST change fires each real instant once", "[plan]") {
  // New York, fall back on 2026-11-01: 01:30 local happens twice; a fixed
  // 01:30 job fires once (the first), then next day.
  Job j = CronJob("30 1 * * *", "America/New_York", "run_once", T("2026-11-01T05:30:00Z"));
  auto p = exec::PlanFire(j, T("2026-11-01T05:30:00.050Z"));
  CHECK(p.on_time_fire == T("2026-11-01T05:30:00Z"));
  CHECK(FormatTime(*p.new_next_run) == "2026-11-02T06:30:00.000Z");
  // Spring forward on 2026-03-08: 02:30 does not exist; it fires at 03:00 EDT.
  Job k = CronJob("30 2 * * *", "America/New_York", "run_once", T("2026-03-07T07:30:00Z"));
  auto q = exec::PlanFire(k, T("2026-03-07T07:30:00.010Z"));
  CHECK(FormatTime(*q.new_next_run) == "2026-03-08T07:00:00.000Z");
}

TEST_CASE("FirstFire: the wait of a new schedule", "[plan]") {
  SysTime now = T("2026-11-28T12:00:00.500Z");
  Schedule s;
  s.kind = ScheduleKind::kInterval;
  s.interval_ms = 5000;
  CHECK(schedule::FirstFire(s, now) == now + 5s);
  s.kind = ScheduleKind::kCron;
  s.cron = "*/15 * * * *";
  CHECK(FormatTime(*schedule::FirstFire(s, now)) == "2026-11-28T12:15:00.000Z");
  s.kind = ScheduleKind::kNone;
  CHECK(!schedule::FirstFire(s, now));
}
