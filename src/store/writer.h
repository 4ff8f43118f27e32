// Writer: the one write connection and its group commit.
//
// Every change to the database goes through Writer::Write. Concurrent
// writes are gathered into one SQLite transaction: the writer thread takes
// every waiting write (up to max_batch), opens BEGIN IMMEDIATE, runs each
// inside its own SAVEPOINT (so each write stays all-or-nothing: a write that
// returns an error or throws is rolled back alone), then COMMITs once. Each
// caller is released only after the COMMIT that holds its write returned
// (promise 1: acknowledged means durable); if the COMMIT fails every write of
// the batch fails with kUnavailable and nothing of it is kept.
//
// A failed commit leaves the writer in one of two states (docs/faults.md):
// - kFailing: the disk is full (SQLITE_FULL, ENOSPC) or the database was
//   busy. SQLite rolled the transaction back cleanly, so each new write
//   simply tries again; the first one that commits makes the writer kOk.
// - kStopped: an I/O error (a failed fsync, a failed write) or corruption.
//   Fail-stop: after a failed fsync the kernel may have dropped the dirty
//   pages and a retried fsync would report success for data that is gone
//   ("fsyncgate"), so the writer refuses every write until lshd restarts
//   and recovers from what is really on disk.
//
// After each commit the on_commit hook runs on the writer thread with the
// newest event id written, to wake the SSE hub, the dispatcher and the relay.
// Memory only carries wake-ups; the database is the truth.
//
// Thread-safety: Write may be called from any thread; Start/Stop from the
// owner. Stop is safe twice; writes submitted after Stop fail kUnavailable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "core/clock.h"
#include "core/error.h"
#include "store/stmt_cache.h"

namespace lsh::store {

// What one write sees: the connection inside the open transaction, the
// transaction's wall time, and where it records the events it appended.
struct WriteTx {
  SQLite::Database& db;
  StmtCache& stmts;  // prepared statements of the write connection
  SysTime now;
  int64_t last_event_id = 0;  // set by the store when it appends an event
};

class Writer {
 public:
  using Apply = std::function<Status(WriteTx&)>;
  using OnCommit = std::function<void(int64_t last_event_id)>;

  struct Stats {
    uint64_t writes = 0;
    uint64_t batches = 0;
    uint64_t failed_commits = 0;
  };

  // What the last commit said about the database (see the top of the file).
  enum class State { kOk, kFailing, kStopped };

  // max_batch bounds how many writes share one transaction (latency of the
  // first vs throughput of all).
  Writer(std::unique_ptr<SQLite::Database> db, const Clock& clock, size_t max_batch = 1024);
  ~Writer();

  void SetOnCommit(OnCommit hook);  // before Start
  void Start();
  void Stop();

  // Runs `apply` in the next group transaction; returns once it committed.
  Status Write(Apply apply);
  // The same, without waiting: the future is ready once the commit returned.
  std::future<Status> Submit(Apply apply);

  Stats stats() const;
  // The last commit failure (disk full, I/O error), cleared by a good commit.
  std::string last_commit_error() const;
  // Its stable code: disk_full, db_busy, db_io_error (empty when kOk).
  std::string last_commit_code() const;
  State state() const { return state_.load(); }
  bool healthy() const { return state_.load() == State::kOk; }

 private:
  struct Task {
    Apply apply;
    std::promise<Status> done;
  };
  void Loop();
  void RunBatch(std::deque<Task>& batch);
  // A SQLite failure inside the batch: the state it leaves and the error
  // each write of the batch gets. Runs on the writer thread.
  Error Fail(const std::exception& e, int system_errno);
  Error StoppedError() const;  // what writes get in kStopped

  // Constant after construction.
  const Clock& clock_;
  const size_t max_batch_;
  std::unique_ptr<SQLite::Database> db_;  // used only by the writer thread
  StmtCache stmts_;                       // used only by the writer thread
  OnCommit on_commit_;                    // set before Start

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  Stats stats_;             // guarded by mu_
  std::string last_error_;  // guarded by mu_
  std::string last_code_;   // guarded by mu_
  std::atomic<State> state_{State::kOk};
  std::thread thread_;
};

}  // namespace lsh::store
