#include "retention/pruner.h"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace lsh::retention {

namespace fs = std::filesystem;

Pruner::Pruner(store::RetentionStore& store, const Clock& clock, PrunerOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Pruner::~Pruner() {
  Stop();
}

void Pruner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Pruner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t Pruner::passes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return passes_;
}

void Pruner::Loop() {
  while (true) {
    auto report = PruneOnce();
    if (!report) {
      spdlog::warn("retention: {}", report.error().message);
    } else if (report->total() > 0) {
      spdlog::info(
          "retention pruned {} runs, {} log files, {} events, {} outbox rows, {} "
          "webhook deliveries, {} idempotency keys",
          report->runs, report->log_files, report->events, report->outbox, report->deliveries,
          report->idempotency_keys);
    }
    std::unique_lock<std::mutex> lock(mu_);
    passes_++;
    cv_.notify_all();
    if (cv_.wait_for(lock, options_.interval, [&] { return stopping_; })) return;
  }
}

int64_t Pruner::RemoveLogs(const std::string& run_id) {
  if (options_.logs_dir.empty()) return 0;
  int64_t n = 0;
  for (const char* stream : {"stdout", "stderr"}) {
    std::error_code ec;
    if (fs::remove(options_.logs_dir + "/" + run_id + "." + stream + ".log", ec)) ++n;
  }
  return n;
}

bool StopRequested(std::mutex& mu, const bool& stopping) {
  std::lock_guard<std::mutex> lock(mu);
  return stopping;
}

Status Pruner::PruneRuns(PruneReport& report) {
  using Finder = std::function<Result<std::vector<std::string>>()>;
  std::vector<Finder> finders;
  if (options_.run_retention.count() > 0) {
    SysTime cutoff = clock_.Now() - options_.run_retention;
    finders.emplace_back([this, cutoff] { return store_.RunsExpired(cutoff, options_.batch); });
  }
  if (options_.runs_per_job > 0)
    finders.emplace_back(
        [this] { return store_.RunsOverCap(options_.runs_per_job, options_.batch); });
  for (const auto& find : finders) {
    while (!StopRequested(mu_, stopping_)) {
      auto ids = find();
      if (!ids) return ids.error();
      if (ids->empty()) break;
      auto deleted = store_.RunsDelete(*ids);
      if (!deleted) return deleted.error();
      report.runs += static_cast<int64_t>(deleted->size());
      for (const auto& id : *deleted) report.log_files += RemoveLogs(id);
      // Candidates that may no longer go (a re-check failed): stop here
      // rather than find them again.
      if (deleted->size() < ids->size() || static_cast<int>(ids->size()) < options_.batch) break;
    }
  }
  return Status::Ok();
}

Status Pruner::PruneOrphanLogs(PruneReport& report) {
  if (options_.logs_dir.empty()) return Status::Ok();
  std::error_code ec;
  fs::directory_iterator it(options_.logs_dir, ec);
  if (ec) return Status::Ok();  // no logs yet
  std::vector<std::string> ids;
  auto flush = [&]() -> Status {
    if (ids.empty()) return Status::Ok();
    auto missing = store_.RunsMissing(ids);
    if (!missing) return missing.error();
    for (const auto& id : *missing) report.log_files += RemoveLogs(id);
    ids.clear();
    return Status::Ok();
  };
  std::string last;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    auto dot = name.find('.');
    if (dot == std::string::npos || name.size() < 4 ||
        name.compare(name.size() - 4, 4, ".log") != 0)
      continue;
    std::string id = name.substr(0, dot);
    if (id == last) continue;  // the other stream of the same run
    last = id;
    ids.push_back(id);
    if (ids.size() >= 500)
      if (auto s = flush(); !s) return s;
  }
  return flush();
}

Result<PruneReport> Pruner::PruneOnce() {
  PruneReport report;
  if (auto s = PruneRuns(report); !s) return s.error();
  if (auto s = PruneOrphanLogs(report); !s) return s.error();
  if (options_.event_retention.count() > 0) {
    SysTime cutoff = clock_.Now() - options_.event_retention;
    int64_t floor = std::numeric_limits<int64_t>::max();
    if (options_.event_floor) floor = options_.event_floor();
    while (!StopRequested(mu_, stopping_)) {
      auto step = store_.EventsPrune(cutoff, floor, options_.batch);
      if (!step) return step.error();
      report.events += step->deleted;
      if (step->done || step->deleted == 0) break;
    }
    for (bool outbox : {true, false}) {
      int64_t after = 0;
      while (!StopRequested(mu_, stopping_)) {
        auto step = outbox ? store_.OutboxPrune(cutoff, after, options_.batch)
                           : store_.DeliveriesPrune(cutoff, after, options_.batch);
        if (!step) return step.error();
        (outbox ? report.outbox : report.deliveries) += step->deleted;
        if (step->done) break;
        after = step->next_after;
      }
    }
    while (!StopRequested(mu_, stopping_)) {
      auto step = store_.IdempotencyKeysPrune(cutoff, options_.batch);
      if (!step) return step.error();
      report.idempotency_keys += step->deleted;
      if (step->done) break;
    }
  }
  return report;
}

}  // namespace lsh::retention
