#include "exec/dispatcher.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include "core/time.h"

namespace lsh::exec {

Dispatcher::Dispatcher(store::Store& store, const Clock& clock, DispatcherOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Dispatcher::~Dispatcher() {
  Stop(std::chrono::milliseconds(0));
}

Status Dispatcher::Recover() {
  auto abandoned = store_.RunRecoverAbandoned(options_.boot_id);
  if (!abandoned) return abandoned.error();
  for (const auto& a : *abandoned) {
    bool alive = a.pid && ProcessGroupAlive(static_cast<pid_t>(*a.pid));
    if (alive) KillProcessGroup(static_cast<pid_t>(*a.pid), SIGKILL);
    spdlog::warn("run {} was left running by an earlier boot: marked failed (abandoned){}",
                 a.run_id, alive ? ", its process group killed" : "");
  }
  return Status::Ok();
}

void Dispatcher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Dispatcher::Stop(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ && !thread_.joinable()) return;
  stopping_ = true;
  cv_.notify_all();
  // Active runs get `grace` to finish on their own…
  done_cv_.wait_for(lock, grace, [&] { return active_.empty(); });
  // …then their groups are signalled; they are recorded failed ("shutdown")
  // and retried at the next start.
  for (auto& [id, proc] : active_) {
    shutdown_stopped_.insert(id);
    proc->Stop(SIGTERM);
  }
  done_cv_.wait_for(lock, options_.kill_grace + std::chrono::seconds(2),
                    [&] { return active_.empty(); });
  lock.unlock();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Dispatcher::CancelWaits() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waits_cancelled_ = true;
  }
  done_cv_.notify_all();
}

void Dispatcher::StopRuns(const std::vector<std::string>& run_ids, int signal) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : run_ids) {
    auto it = active_.find(id);
    if (it == active_.end()) continue;
    user_stopped_.insert(id);
    it->second->Stop(signal);
  }
}

bool Dispatcher::WaitRun(const std::string& run_id, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    lock.unlock();
    auto run = store_.RunGet(run_id);
    lock.lock();
    if (!run) return true;  // gone (its job was deleted)
    if (run->status != "queued" && run->status != "running") return true;
    if (waits_cancelled_ || std::chrono::steady_clock::now() >= deadline) return false;
    // Woken by every finished run; the bound covers a run that finished
    // between the read above and this wait.
    done_cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                     std::chrono::milliseconds(200)));
  }
}

bool Dispatcher::IsActive(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_.count(run_id) > 0;
}

int Dispatcher::active_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(active_.size());
}

std::string Dispatcher::LogPath(const std::string& run_id, const std::string& stream) const {
  return options_.logs_dir + "/" + run_id + "." + stream + ".log";
}

void Dispatcher::Loop() {
  std::optional<SysTime> next_retry;
  while (true) {
    int free_slots;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] {
        return stopping_ || (wake_ && static_cast<int>(active_.size()) < options_.max_concurrent);
      };
      if (next_retry) {
        auto wait = *next_retry - clock_.Now();
        if (!cv_.wait_for(
                lock, std::max(wait, decltype(wait)::zero()) + std::chrono::milliseconds(1), ready))
          wake_ = true;  // a delayed retry is due
      } else {
        cv_.wait(lock, ready);
      }
      if (stopping_) return;
      if (static_cast<int>(active_.size()) >= options_.max_concurrent) continue;
      wake_ = false;
      free_slots = options_.max_concurrent - static_cast<int>(active_.size());
    }
    auto claimed = store_.RunClaim(options_.boot_id, free_slots);
    if (!claimed) {
      spdlog::error("cannot claim queued runs: {}", claimed.error().message);
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
      wake_ = true;
      continue;
    }
    std::vector<std::pair<std::string, int64_t>> pids;
    for (const auto& c : *claimed) Launch(c, pids);
    if (!pids.empty()) store_.RunSetPids(std::move(pids));
    if (static_cast<int>(claimed->size()) == free_slots) {
      std::lock_guard<std::mutex> lock(mu_);
      wake_ = true;  // there may be more waiting
    } else {
      auto nr = store_.RunNextRetryTime();
      next_retry = nr ? *nr : std::nullopt;
    }
  }
}

void Dispatcher::Launch(const store::ClaimedRun& c,
                        std::vector<std::pair<std::string, int64_t>>& pids) {
  ProcessSpec spec;
  spec.command = c.spec.command;
  for (const auto& [k, v] : c.spec.env) spec.env.emplace_back(k, v);
  spec.env.emplace_back("LSH_JOB_ID", c.run.job_id);
  spec.env.emplace_back("LSH_JOB_NAME", c.spec.name);
  spec.env.emplace_back("LSH_RUN_ID", c.run.id);
  spec.env.emplace_back("LSH_RUN_ATTEMPT", std::to_string(c.run.attempt));
  spec.cwd = c.spec.cwd.empty() ? options_.default_cwd : c.spec.cwd;
  spec.stdout_path = LogPath(c.run.id, "stdout");
  spec.stderr_path = LogPath(c.run.id, "stderr");
  spec.timeout =
      c.spec.timeout_ms ? std::chrono::milliseconds(*c.spec.timeout_ms) : options_.default_timeout;
  spec.kill_grace = options_.kill_grace;
  std::string run_id = c.run.id;
  std::unique_lock<std::mutex> lock(mu_);  // OnDone waits for the insert below
  auto proc = Process::Start(std::move(spec), clock_,
                             [this, run_id](const ProcessOutcome& o) { OnDone(run_id, o); });
  if (!proc) {
    lock.unlock();
    store::RunOutcome o;
    o.status = "failed";
    o.completed_at = clock_.Now();
    o.error_type = "spawn";
    o.error_message = "could not start: " + proc.error().message;
    if (auto r = store_.RunFinish(run_id, o); !r)
      spdlog::error("cannot record run {}: {}", run_id, r.error().message);
    else if (options_.on_run_finished)
      options_.on_run_finished(o.status, 0);
    return;
  }
  active_[run_id] = *proc;
  if ((*proc)->pid() > 0) pids.emplace_back(run_id, (*proc)->pid());
}

void Dispatcher::OnDone(const std::string& run_id, const ProcessOutcome& p) {
  bool by_user, by_shutdown;
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_user = user_stopped_.erase(run_id) > 0;
    by_shutdown = shutdown_stopped_.erase(run_id) > 0;
  }
  store::RunOutcome o;
  o.completed_at = p.ended_at;
  if (p.pid > 0) {
    o.pid = p.pid;
    o.started_at = p.started_at;
  }
  o.duration_ms = p.duration.count();
  o.stdout_tail = p.stdout_tail;
  o.stderr_tail = p.stderr_tail;
  switch (p.end) {
    case ProcessOutcome::End::kExited:
      o.exit_code = p.exit_code;
      if (p.exit_code == 0) {
        o.status = "completed";
      } else {
        o.status = "failed";
        o.error_type = "exit";
        o.error_message = "exited with code " + std::to_string(p.exit_code);
      }
      break;
    case ProcessOutcome::End::kSignaled:
      o.status = "failed";
      o.signal = SignalName(p.signal);
      o.error_type = "signal";
      o.error_message = "killed by " + o.signal;
      break;
    case ProcessOutcome::End::kTimedOut:
      o.status = "timeout";
      o.error_type = "timeout";
      o.error_message = "timed out after " + std::to_string(p.duration.count()) +
                        " ms; the process group was terminated";
      break;
    case ProcessOutcome::End::kStopped:
      if (by_shutdown && !by_user) {
        o.status = "failed";
        o.error_type = "shutdown";
        o.error_message = "the daemon shut down while this run was running";
      } else {
        o.status = "killed";
        o.error_type = "killed";
        o.error_message = "stopped on request";
        o.retryable = false;
      }
      break;
    case ProcessOutcome::End::kSpawnFailed:
      o.status = "failed";
      o.error_type = "spawn";
      o.error_message = p.error;
      break;
  }
  if (p.exit_code < 0 && p.signal) o.signal = SignalName(p.signal);
  auto r = store_.RunFinish(run_id, o);
  if (!r && r.error().kind != ErrorKind::kNotFound)
    spdlog::error("cannot record the end of run {}: {}", run_id, r.error().message);
  if (r && options_.on_run_finished)
    options_.on_run_finished(o.status, std::chrono::duration<double>(p.duration).count());
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(run_id);  // may destroy the Process; it detaches its own runner
    wake_ = true;
    // Notify under the lock: once Stop sees active_ empty the Dispatcher
    // may be destroyed, so the condition variables must not be touched
    // after mu_ is released.
    cv_.notify_all();
    done_cv_.notify_all();
  }
}

}  // namespace lsh::exec
