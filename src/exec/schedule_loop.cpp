#include "exec/schedule_loop.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/time.h"
#include "exec/dispatcher.h"
#include "schedule/cron.h"
#include "schedule/next.h"

namespace lsh::exec {

using nlohmann::json;

store::FirePlan PlanFire(const Job& job, SysTime now) {
  store::FirePlan plan;
  plan.expected_next_run = job.next_run_at;
  if (!job.next_run_at) return plan;
  const Schedule& s = job.spec.schedule;
  SysTime first = *job.next_run_at;
  // Every fire due in [first, now], counted exactly, listed up to a bound.
  constexpr size_t kListed = 10000;
  std::vector<SysTime> due;
  uint64_t due_count = 0;
  switch (s.kind) {
    case ScheduleKind::kNone:
      return plan;
    case ScheduleKind::kAt:
      due = {first};
      due_count = 1;
      plan.new_next_run = std::nullopt;
      break;
    case ScheduleKind::kInterval: {
      auto step = std::chrono::milliseconds(std::max<int64_t>(1, s.interval_ms));
      due_count = static_cast<uint64_t>((now - first) / step) + 1;
      for (uint64_t i = 0; i < due_count && due.size() < kListed; ++i)
        due.emplace_back(first + step * i);
      // Keep the phase: the next fire is the first one after now.
      plan.new_next_run = first + step * static_cast<int64_t>(due_count);
      if (due_count > kListed) {
        // Keep the newest fires listed (the ones an on-time check needs).
        due.clear();
        for (uint64_t i = due_count - kListed; i < due_count; ++i)
          due.emplace_back(first + step * i);
      }
      break;
    }
    case ScheduleKind::kCron: {
      auto spec = schedule::ParseCron(s.cron);
      auto zone = schedule::FindZone(s.timezone);
      if (!spec || !zone) return plan;  // validated at write time; a tz update may break it
      due.push_back(first);
      auto more = schedule::CronFiresBetween(*spec, *zone, first, now, kListed);
      due.insert(due.end(), more.begin(), more.end());
      due_count = due.size();
      plan.new_next_run = schedule::NextCronFire(*spec, *zone, std::max(now, due.back()));
      break;
    }
  }
  std::vector<SysTime> missed, on_time;
  for (SysTime t : due) (t < now - kMisfireThreshold ? missed : on_time).push_back(t);
  uint64_t missed_count = due_count - on_time.size();
  if (!on_time.empty()) plan.on_time_fire = on_time.back();  // on-time fires collapse into one
  if (missed_count > 0) {
    const std::string& policy = s.misfire;
    if (policy == "run_once") {
      if (on_time.empty()) plan.catchup_fires = {missed.back()};
    } else if (policy == "run_all") {
      size_t from = missed.size() > kMaxCatchupRuns ? missed.size() - kMaxCatchupRuns : 0;
      plan.catchup_fires.assign(missed.begin() + static_cast<long>(from), missed.end());
    }
    json fires = json::array();
    for (size_t i = 0; i < missed.size() && i < 100; ++i) fires.push_back(FormatTime(missed[i]));
    plan.missed = json{{"reason", "downtime"},
                       {"policy", policy},
                       {"missed", missed_count},
                       {"firstMissed", FormatTime(missed.front())},
                       {"lastMissed", FormatTime(missed.back())},
                       {"fires", fires},
                       {"catchupRuns", plan.catchup_fires.size()},
                       {"coveredByOnTimeFire", policy == "run_once" && !on_time.empty()},
                       {"seenAt", FormatTime(now)}};
  }
  return plan;
}

ScheduleLoop::ScheduleLoop(store::Store& store, const Clock& clock, Dispatcher& dispatcher)
    : store_(store), clock_(clock), dispatcher_(dispatcher) {}

ScheduleLoop::~ScheduleLoop() {
  Stop();
  if (timer_fd_ >= 0) close(timer_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status ScheduleLoop::Start() {
  timer_fd_ = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (timer_fd_ < 0 || wake_fd_ < 0)
    return Error::Internal(std::string("cannot create the schedule timer: ") + strerror(errno));
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ScheduleLoop::Stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
}

void ScheduleLoop::Wake() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;  // the counter saturating still leaves it readable
}

std::optional<SysTime> ScheduleLoop::FireDue() {
  while (!stopping_) {
    SysTime now = clock_.Now();
    auto due = store_.ScheduleDue(now, 256);
    if (!due) {
      spdlog::error("cannot read due schedules: {}", due.error().message);
      return now + std::chrono::seconds(1);
    }
    bool queued = false;
    for (const Job& job : *due) {
      auto plan = PlanFire(job, now);
      auto r = store_.ScheduleFire(job.id, plan);
      if (!r) {
        spdlog::error("cannot fire the schedule of job {}: {}", job.spec.name, r.error().message);
        continue;
      }
      if (r->applied) fires_++;
      if (!r->runs.empty()) queued = true;
      if (plan.missed)
        spdlog::warn("job {} missed {} fire(s); policy {}", job.spec.name,
                     (*plan.missed)["missed"].get<uint64_t>(), job.spec.schedule.misfire);
    }
    if (queued) dispatcher_.Wake();
    if (due->size() < 256) break;
  }
  auto next = store_.ScheduleNextFire();
  if (!next) return clock_.Now() + std::chrono::seconds(1);
  return *next;
}

void ScheduleLoop::Loop() {
  while (!stopping_) {
    std::optional<SysTime> next = FireDue();
    itimerspec its{};
    if (next) {
      long long ms = next->time_since_epoch().count();
      its.it_value.tv_sec = ms / 1000;
      its.it_value.tv_nsec = (ms % 1000) * 1000000;
      if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    }
    // Absolute on the wall clock, cancelled when the clock is set: a jump
    // wakes the loop, which then treats what became due like downtime.
    if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, nullptr) != 0)
      spdlog::error("cannot arm the schedule timer: {}", strerror(errno));
    pollfd fds[2] = {{timer_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int rc = poll(fds, 2, -1);
    if (rc < 0 && errno != EINTR) spdlog::error("schedule poll failed: {}", strerror(errno));
    uint64_t buf;
    if (fds[0].revents) {
      ssize_t n = read(timer_fd_, &buf, sizeof buf);  // ECANCELED after a clock jump
      if (n < 0 && errno == ECANCELED) spdlog::warn("the wall clock was set; checking schedules");
    }
    if (fds[1].revents) {
      ssize_t n = read(wake_fd_, &buf, sizeof buf);
      (void)n;
    }
  }
}

}  // namespace lsh::exec
