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
  bool healthy() const { return healthy_.load(); }

 private:
  struct Task {
    Apply apply;
    std::promise<Status> done;
  };
  void Loop();
  void RunBatch(std::deque<Task>& batch);

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
  std::atomic<bool> healthy_{true};
  std::thread thread_;
};

}  // namespace lsh::store
