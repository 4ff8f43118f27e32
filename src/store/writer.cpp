#include "store/writer.h"

#include <SQLiteCpp/Exception.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace lsh::store {

Writer::Writer(std::unique_ptr<SQLite::Database> db, const Clock& clock, size_t max_batch)
    : clock_(clock), max_batch_(max_batch), db_(std::move(db)), stmts_(*db_) {}

Writer::~Writer() {
  Stop();
}

void Writer::SetOnCommit(OnCommit hook) {
  on_commit_ = std::move(hook);
}

void Writer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Writer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::future<Status> Writer::Submit(Apply apply) {
  Task t{std::move(apply), {}};
  auto fut = t.done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      t.done.set_value(Error::Unavailable("the daemon is shutting down", "shutting_down"));
      return fut;
    }
    if (state_.load() == State::kStopped) {
      t.done.set_value(Error::Unavailable(
          "lshd takes no writes since a database I/O error: " + last_error_, "writes_stopped"));
      return fut;
    }
    queue_.push_back(std::move(t));
  }
  cv_.notify_one();
  return fut;
}

Status Writer::Write(Apply apply) {
  return Submit(std::move(apply)).get();
}

Writer::Stats Writer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::string Writer::last_commit_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::string Writer::last_commit_code() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_code_;
}

Error Writer::StoppedError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Error::Unavailable("lshd takes no writes since a database I/O error: " + last_error_,
                            "writes_stopped");
}

void Writer::Loop() {
  std::deque<Task> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every submitted write was served
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    batch.clear();
  }
}

Error Writer::Fail(const std::exception& e, int system_errno) {
  int code = SQLITE_ERROR;
  if (const auto* se = dynamic_cast<const SQLite::Exception*>(&e))
    code = se->getExtendedErrorCode();
  int primary = code & 0xff;
  std::string what = e.what();
  // The errno is the last failed system call's: only an I/O error's own.
  if (system_errno != 0 && (primary == SQLITE_IOERR || primary == SQLITE_FULL))
    what += ": " + std::string(std::strerror(system_errno));
  // No space is SQLITE_FULL, or an I/O error with ENOSPC (growing the
  // -shm, truncating); but a failed fsync is fail-stop whatever its errno.
  bool no_space = primary == SQLITE_FULL ||
                  (primary == SQLITE_IOERR && (system_errno == ENOSPC || system_errno == EDQUOT) &&
                   code != SQLITE_IOERR_FSYNC && code != SQLITE_IOERR_DIR_FSYNC);
  State next = State::kFailing;
  std::string c, message;
  if (no_space) {
    c = "disk_full";
    message = "the disk holding the database is full (" + what +
              "); nothing of this write was saved. Writes resume by themselves once space "
              "is freed";
  } else if (primary == SQLITE_IOERR || primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    next = State::kStopped;
    c = "db_io_error";
    message = "the database had an I/O error (" + what +
              "); nothing of this write was saved, and lshd takes no more writes until it is "
              "restarted (a failed fsync cannot safely be retried)";
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    c = "db_busy";
    message = "the database is locked by another process (" + what + "); nothing was saved";
  } else {
    c = "db_commit_failed";
    message = "the database could not commit this write (" + what + "); nothing was saved";
  }
  if (next == State::kStopped) {
    // Nothing of this connection's cache goes to the database file again:
    // not even SQLite's checkpoint when the connection closes.
    sqlite3_db_config(db_->getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    spdlog::critical("{}; writes are stopped", message);
  }
  if (state_.load() != State::kStopped) state_ = next;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.failed_commits++;
  last_error_ = message;
  last_code_ = c;
  return Error::Unavailable(std::move(message), std::move(c));
}

void Writer::RunBatch(std::deque<Task>& batch) {
  if (state_.load() == State::kStopped) {
    Error stopped = StoppedError();
    for (auto& task : batch) task.done.set_value(stopped);
    return;
  }
  std::vector<Status> results;
  results.reserve(batch.size());
  WriteTx tx{*db_, stmts_, clock_.Now()};
  sqlite3* handle = db_->getHandle();
  std::optional<Error> batch_error;  // set: no write of this batch is kept
  try {
    db_->exec("BEGIN IMMEDIATE");
  } catch (const std::exception& e) {
    batch_error = Fail(e, sqlite3_system_errno(handle));
  }
  if (!batch_error) {
    for (auto& task : batch) {
      Status s;
      int64_t events_before = tx.last_event_id;
      try {
        stmts_.Get("SAVEPOINT w").exec();
        try {
          s = task.apply(tx);
        } catch (const SQLite::Exception& e) {
          // The disk (full, failing) fails the whole batch; anything else
          // is this write's own failure.
          int primary = e.getExtendedErrorCode() & 0xff;
          if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CORRUPT ||
              primary == SQLITE_NOTADB) {
            batch_error = Fail(e, sqlite3_system_errno(handle));
            break;
          }
          s = Error::Internal(std::string("write failed: ") + e.what());
        } catch (const std::exception& e) {
          s = Error::Internal(std::string("write failed: ") + e.what());
        }
        if (!s.ok()) {
          stmts_.ResetAll();
          stmts_.Get("ROLLBACK TO w").exec();
          tx.last_event_id = events_before;
        }
        stmts_.Get("RELEASE w").exec();
      } catch (const std::exception& e) {
        batch_error = Fail(e, sqlite3_system_errno(handle));
        break;
      }
      if (sqlite3_get_autocommit(handle)) {
        // SQLite ended the transaction itself (it does after some I/O and
        // out-of-memory errors): the writes before this one are gone, and
        // a later SAVEPOINT would open a new transaction without them.
        batch_error = Fail(std::runtime_error("SQLite rolled the transaction back"), 0);
        break;
      }
      results.push_back(std::move(s));
    }
    if (!batch_error) {
      try {
        stmts_.ResetAll();
        db_->exec("COMMIT");
      } catch (const std::exception& e) {
        batch_error = Fail(e, sqlite3_system_errno(handle));
      }
    }
  }
  if (batch_error) {
    try {
      stmts_.ResetAll();
      if (!sqlite3_get_autocommit(handle)) db_->exec("ROLLBACK");
    } catch (...) {  // no transaction left open: nothing to roll back
    }
    spdlog::error("database commit failed, {} writes not acknowledged: {}", batch.size(),
                  batch_error->message);
    for (auto& task : batch) task.done.set_value(*batch_error);
    return;
  }
  state_ = State::kOk;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.writes += batch.size();
    stats_.batches++;
    last_error_.clear();
    last_code_.clear();
  }
  if (on_commit_ && tx.last_event_id > 0) on_commit_(tx.last_event_id);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
}

}  // namespace lsh::store
