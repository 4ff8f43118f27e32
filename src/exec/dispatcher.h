// Dispatcher: starts queued runs as processes and records how they end.
//
// One loop thread claims queued runs from the store (Store::RunClaim: in
// priority then queue-time order, never more than max_concurrent running at
// once, one run at a time per job unless its overlap policy is "allow"),
// spawns each as a Process, and records its pid. Each Process's runner
// thread reports the outcome through Store::RunFinish (which queues a retry
// when the job's policy asks) before the slot is freed. The loop sleeps on a
// condition variable: woken by new queued runs (Wake), by a finished run, or
// at the time the next delayed retry becomes due; it never polls.
//
// Crash recovery (promise 4): Recover(), before Start, fails the runs an
// earlier boot left running (errorType "abandoned", retried per policy) and
// kills their process groups if still alive. Shutdown: Stop(grace) starts
// nothing new, lets active runs finish for `grace`, then signals their
// groups and records them failed ("shutdown") with a retry for the next
// start. docs/lifecycle.md draws the transitions.
//
// Thread-safety: every public method may be called from any thread.
// Start/Stop from the owner; Stop is safe twice.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "exec/process.h"
#include "store/store.h"

namespace lsh::exec {

struct DispatcherOptions {
  std::string boot_id;
  int max_concurrent = 10;  // LSH_MAX_CONCURRENT_JOBS
  // A run's timeout when its job sets none (LSH_JOB_TIMEOUT).
  std::chrono::milliseconds default_timeout{300000};
  // Between the polite signal and SIGKILL: longer lets jobs clean up,
  // shorter frees slots sooner.
  std::chrono::milliseconds kill_grace{5000};
  std::string logs_dir;     // <data>/logs: <run id>.stdout.log, <run id>.stderr.log
  std::string default_cwd;  // where jobs without a cwd run (the data directory)
  // Called (on a runner thread) after a run's end is recorded: its final
  // status and wall time. For metrics; must be quick and thread-safe.
  std::function<void(const std::string& status, double seconds)> on_run_finished;
};

class Dispatcher {
 public:
  Dispatcher(store::Store& store, const Clock& clock, DispatcherOptions options);
  ~Dispatcher();

  // Startup crash recovery; call before Start.
  Status Recover();
  void Start();
  // Shutdown: no new starts; active runs get `grace`, then are signalled.
  void Stop(std::chrono::milliseconds grace);

  void Wake();  // a run was queued
  // Shutdown has begun: WaitRun callers return at once (before the HTTP
  // server waits for its in-flight requests).
  void CancelWaits();
  // Signals the process groups of these runs (SIGKILL follows after the
  // kill grace); they end "killed".
  void StopRuns(const std::vector<std::string>& run_ids, int signal);
  // Waits until the run has ended (true) or the timeout passed (false).
  bool WaitRun(const std::string& run_id, std::chrono::milliseconds timeout);
  bool IsActive(const std::string& run_id) const;
  int active_count() const;

  std::string LogPath(const std::string& run_id, const std::string& stream) const;

 private:
  void Loop();
  void Launch(const store::ClaimedRun& c, std::vector<std::pair<std::string, int64_t>>& pids);
  void OnDone(const std::string& run_id, const ProcessOutcome& p);

  // Constant after construction.
  store::Store& store_;
  const Clock& clock_;
  const DispatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;                              // the loop waits here
  std::condition_variable done_cv_;                         // WaitRun and Stop wait here
  std::map<std::string, std::shared_ptr<Process>> active_;  // guarded by mu_
  std::set<std::string> shutdown_stopped_;                  // guarded by mu_
  std::set<std::string> user_stopped_;                      // guarded by mu_
  bool wake_ = true;                                        // guarded by mu_
  bool stopping_ = false;                                   // guarded by mu_
  bool waits_cancelled_ = false;                            // guarded by mu_
  std::thread thread_;
};

}  // namespace lsh::exec
