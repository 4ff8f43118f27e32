// Pruner: keeps the database and the run logs bounded (retention).
//
// Every `interval` (and once at Start) it prunes, in small batches through
// RetentionStore (src/store/retention.h, which says what is never pruned):
//   - runs that completed more than `run_retention` ago, and runs beyond the
//     newest `runs_per_job` of their job, with their log files
//     (<logs_dir>/<run>.stdout.log and .stderr.log);
//   - log files whose run no longer exists (a deleted job's runs are
//     removed by Store::JobDelete at once; their files go here);
//   - events older than `event_retention`, as a prefix of the log, never at
//     or above the floor the `event_floor` provider gives (the outbox
//     relay's cursor) nor while a webhook delivery of them is pending;
//   - delivered outbox rows, delivered webhook deliveries and Idempotency-Key
//     records older than `event_retention` (a request retried later than
//     that with the same key is a new request).
// Each batch is one writer transaction of at most `batch` rows, so writers
// are never held up long. Cutoffs come from the Clock.
//
// Thread-safety: PruneOnce may be called from any thread (tests call it
// directly) but not concurrently with itself; Start/Stop from the owner,
// Stop safe twice.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "store/retention.h"

namespace lsh::retention {

struct PrunerOptions {
  // LSH_EVENT_RETENTION_DAYS (7): events, delivered outbox rows, webhook
  // deliveries and Idempotency-Key records older than this go. Zero keeps them forever. Longer lets
  // SSE clients resume from further back; shorter keeps the database small.
  std::chrono::milliseconds event_retention{std::chrono::hours(24 * 7)};
  // LSH_RUN_RETENTION_DAYS (30): finished runs older than this go, with
  // their logs. Zero keeps them forever.
  std::chrono::milliseconds run_retention{std::chrono::hours(24 * 30)};
  // LSH_RUNS_PER_JOB (1000): at most this many runs (with logs) are kept per
  // job, newest first. Zero: no cap.
  int runs_per_job = 1000;
  // LSH_PRUNE_INTERVAL_MS (60000): how often the pruner looks.
  std::chrono::milliseconds interval{60000};
  int batch = 300;  // rows per writer transaction
  std::string logs_dir;
  // The lowest event id that must be kept (events with id >= floor stay);
  // unset: no floor. The outbox relay's cursor goes here.
  std::function<int64_t()> event_floor;
};

struct PruneReport {
  int64_t runs = 0;
  int64_t log_files = 0;
  int64_t events = 0;
  int64_t outbox = 0;
  int64_t deliveries = 0;
  int64_t idempotency_keys = 0;
  int64_t total() const {
    return runs + log_files + events + outbox + deliveries + idempotency_keys;
  }
};

class Pruner {
 public:
  Pruner(store::RetentionStore& store, const Clock& clock, PrunerOptions options);
  ~Pruner();

  void Start();
  void Stop();
  // One full pass; returns what it removed.
  Result<PruneReport> PruneOnce();

  uint64_t passes() const;  // completed passes (tests wait on it)

 private:
  void Loop();
  Status PruneRuns(PruneReport& report);
  Status PruneOrphanLogs(PruneReport& report);
  int64_t RemoveLogs(const std::string& run_id);

  // Constant after construction.
  store::RetentionStore& store_;
  const Clock& clock_;
  const PrunerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  uint64_t passes_ = 0;    // guarded by mu_
  std::thread thread_;
};

}  // namespace lsh::retention
