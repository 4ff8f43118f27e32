// Clock: the only source of time in lshd.
//
// Wall time (`Now`) is used at the database and JSON boundary and for cron
// math; steady time (`Steady`) for timeouts, intervals and waits. Production
// code uses SystemClock; tests use FakeClock to drive schedules without
// sleeping.
//
// Thread-safety: every method of both clocks may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>

namespace lsh {

using SysTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SysTime Now() const = 0;
  virtual SteadyTime Steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  SysTime Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
  // One process-wide instance; it has no state.
  static const SystemClock& Get() {
    static const SystemClock c;
    return c;
  }
};

// A clock that moves only when told to. Steady time advances with wall time.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SysTime start) : ms_(start.time_since_epoch().count()) {}
  SysTime Now() const override { return SysTime(std::chrono::milliseconds(ms_.load())); }
  SteadyTime Steady() const override {
    return SteadyTime(
        std::chrono::duration_cast<SteadyTime::duration>(std::chrono::milliseconds(ms_.load())));
  }
  void Set(SysTime t) { ms_.store(t.time_since_epoch().count()); }
  void Advance(std::chrono::milliseconds d) { ms_.fetch_add(d.count()); }

 private:
  std::atomic<long long> ms_;
};

}  // namespace lsh
