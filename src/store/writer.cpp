#include "store/writer.h"

#include <spdlog/spdlog.h>

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

void Writer::RunBatch(std::deque<Task>& batch) {
  std::vector<Status> results;
  results.reserve(batch.size());
  WriteTx tx{*db_, stmts_, clock_.Now()};
  std::string commit_error;
  try {
    db_->exec("BEGIN IMMEDIATE");
  } catch (const std::exception& e) {
    commit_error = e.what();
  }
  if (commit_error.empty()) {
    for (auto& task : batch) {
      Status s;
      int64_t events_before = tx.last_event_id;
      try {
        stmts_.Get("SAVEPOINT w").exec();
        try {
          s = task.apply(tx);
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
        s = Error::Unavailable(std::string("write failed: ") + e.what(), "db_write_failed");
      }
      results.push_back(std::move(s));
    }
    try {
      stmts_.ResetAll();
      db_->exec("COMMIT");
    } catch (const std::exception& e) {
      commit_error = e.what();
    }
  }
  if (!commit_error.empty()) {
    try {
      stmts_.ResetAll();
      db_->exec("ROLLBACK");
    } catch (...) {  // no transaction left open: nothing to roll back
    }
    spdlog::error("database commit failed, {} writes not acknowledged: {}", batch.size(),
                  commit_error);
    healthy_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.failed_commits++;
      last_error_ = commit_error;
    }
    for (auto& task : batch) {
      task.done.set_value(Error::Unavailable(
          "the database could not commit this write (" + commit_error + "); nothing was saved",
          "db_commit_failed"));
    }
    return;
  }
  healthy_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.writes += batch.size();
    stats_.batches++;
    last_error_.clear();
  }
  if (on_commit_ && tx.last_event_id > 0) on_commit_(tx.last_event_id);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
}

}  // namespace lsh::store
