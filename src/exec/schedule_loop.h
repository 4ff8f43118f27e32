// ScheduleLoop: fires cron, interval and one-off schedules (promise 5).
//
// The loop sleeps until the earliest next_run_at of an active job: a
// timerfd on CLOCK_REALTIME with TFD_TIMER_CANCEL_ON_SET, so a wall-clock
// jump wakes it at once and a suspend ends with the timer expired, plus an
// eventfd that Wake() pokes on every job change. No polling tick. For each
// due job, PlanFire (a pure function) decides the runs from the schedule
// and the misfire policy, and Store::ScheduleFire applies it in one
// transaction with the advance of next_run_at, so a crash neither loses nor
// duplicates a fire (promise 4). docs/lifecycle.md, "Schedules".
//
// Thread-safety: Wake may be called from any thread; Start/Stop from the
// owner, Stop safe twice.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "core/clock.h"
#include "core/types.h"
#include "store/store.h"

namespace lsh::exec {

class Dispatcher;

// Fires older than this when seen are "missed" (downtime, suspend, a clock
// jump) and follow the misfire policy; newer ones fire normally.
inline constexpr std::chrono::milliseconds kMisfireThreshold{5000};
// run_all creates at most this many catch-up runs for one misfire.
inline constexpr size_t kMaxCatchupRuns = 100;

// What firing `job` at `now` does. Pure: the schedule, the policy, the time.
store::FirePlan PlanFire(const Job& job, SysTime now);

class ScheduleLoop {
 public:
  ScheduleLoop(store::Store& store, const Clock& clock, Dispatcher& dispatcher);
  ~ScheduleLoop();

  Status Start();
  void Stop();
  void Wake();  // a job changed: look at the next fire again

  uint64_t fires() const { return fires_.load(); }  // schedule fires applied

 private:
  void Loop();
  std::optional<SysTime> FireDue();  // returns the next fire time

  // Constant after construction.
  store::Store& store_;
  const Clock& clock_;
  Dispatcher& dispatcher_;

  int timer_fd_ = -1;  // owned; used by the loop thread after Start
  int wake_fd_ = -1;   // eventfd; written by Wake from any thread
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> fires_{0};
  std::thread thread_;
};

}  // namespace lsh::exec
