#include "outbox/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/time.h"
#include "outbox/mapping.h"

namespace lsh::outbox {

using nlohmann::json;

// The implicit move constructor is noexcept; clang-tidy 14 follows json's
// move into its invariant assertions and reports a possible throw there.
struct Relay::Item {  // NOLINT(bugprone-exception-escape)
  bool is_job = true;
  json row;                  // the remote row
  std::vector<int64_t> ids;  // outbox rows it stands for (empty in a snapshot)
  int64_t attempts = 0;      // of its newest outbox row
  std::string what;          // "job 0194…" for logs
};

struct Relay::Outcomes {
  std::vector<int64_t> delivered;
  std::vector<std::pair<int64_t, std::string>> parked;
  std::vector<std::pair<int64_t, std::string>> deferred;
  int64_t defer_attempts = 0;  // the most attempts among deferred rows
  size_t rejected_items = 0;   // items parked or skipped
  size_t ok_items = 0;
  std::optional<Delivery> transient;  // stopped the pass
};

Relay::Relay(store::Store& store, std::unique_ptr<Sink> sink, const Clock& clock,
             RelayOptions options)
    : store_(store),
      outbox_(store),
      sink_(std::move(sink)),
      clock_(clock),
      options_(std::move(options)) {
  stats_.sink = sink_->kind();
}

Relay::~Relay() {
  Stop();
}

Status Relay::Start() {
  auto st = outbox_.RelayStateGet(sink_->id());
  if (!st) return st.error();
  snapshot_done_ = st->snapshot_done;
  events_cursor_ = st->events_cursor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.snapshot_done = snapshot_done_;
    stats_.events_cursor = st->events_cursor;
  }
  spdlog::info("relay to {} starting ({}; events after {})", sink_->label(),
               snapshot_done_ ? "following the outbox" : "snapshot first", st->events_cursor);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Relay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Relay::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

RelayStats Relay::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  RelayStats s = stats_;
  s.events_cursor = events_cursor_.load();
  return s;
}

void Relay::Sleep(SteadyTime deadline, bool ignore_wake) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return stopping_ || (!ignore_wake && woken_); });
  if (!ignore_wake) woken_ = false;
}

std::optional<Delivery> Relay::Settle(std::future<Status>& pending) {
  if (!pending.valid()) return std::nullopt;
  Status s = pending.get();
  if (s.ok()) return std::nullopt;
  return Delivery{Outcome::kTransient, s.error().message, std::nullopt};
}

void Relay::Loop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        (void)Settle(marks_in_flight_);
        (void)Settle(cursor_in_flight_);
        return;
      }
      woken_ = false;  // this pass reads everything committed so far
    }
    bool progress = false;
    std::optional<Delivery> failed;
    try {
      failed = RunOnce(progress);
    } catch (const std::exception& e) {  // a bug: keep the daemon up, say so, retry later
      spdlog::error("BUG: relay pass failed: {}", e.what());
      failed = Delivery{Outcome::kTransient, std::string("relay error: ") + e.what(), std::nullopt};
    }
    if (failed) {
      OnFailure(*failed);
      backoff_ = backoff_.count() == 0 ? options_.backoff_min
                                       : std::min(backoff_ * 2, options_.backoff_max);
      std::uniform_real_distribution<double> jitter(0.75, 1.25);
      auto wait = std::chrono::milliseconds(
          static_cast<int64_t>(static_cast<double>(backoff_.count()) * jitter(rng_)));
      if (failed->retry_after && *failed->retry_after > wait) wait = *failed->retry_after;
      Sleep(std::chrono::steady_clock::now() + wait, /*ignore_wake=*/true);
      continue;
    }
    backoff_ = std::chrono::milliseconds(0);
    if (progress) continue;
    // Idle: until a commit wakes us, a deferred row falls due, or the poll.
    auto wait = options_.idle_poll;
    SysTime now = clock_.Now();
    if (auto next = outbox_.OutboxNextAttempt(now); next && *next) {
      auto due = std::chrono::duration_cast<std::chrono::milliseconds>(**next - now);
      wait = std::clamp(due, std::chrono::milliseconds(1), wait);
    }
    Sleep(std::chrono::steady_clock::now() + wait, /*ignore_wake=*/false);
  }
}

std::optional<Delivery> Relay::RunOnce(bool& progress) {
  if (!snapshot_done_) {
    if (auto f = Snapshot(progress)) return f;
    if (!snapshot_done_) return std::nullopt;
  }
  if (auto f = OutboxBatch(progress)) return f;
  return EventsBatch(progress);
}

void Relay::OnSuccess() {
  failing_since_.reset();
  bool recovered = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.batches++;
    stats_.last_success_at = clock_.Now();
    stats_.last_error.clear();
    if (stats_.stalled) {
      stats_.stalled = false;
      recovered = true;
    }
  }
  if (recovered) {
    spdlog::warn("relay to {} recovered", sink_->label());
    AppendEvent("outbox:recovered", "");
  }
}

void Relay::OnFailure(const Delivery& d) {
  SteadyTime now = clock_.Steady();
  if (!failing_since_) failing_since_ = now;
  bool stalled_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.failures++;
    stats_.last_error = d.error;
    if (!stats_.stalled && now - *failing_since_ >= options_.stall_after) {
      stats_.stalled = true;
      stalled_now = true;
    }
  }
  spdlog::debug("relay: {}", d.error);
  if (stalled_now) {
    spdlog::warn("relay to {} stalled: {}", sink_->label(), d.error);
    AppendEvent("outbox:stalled", d.error);
  }
}

void Relay::AppendEvent(const std::string& type, const std::string& error) {
  json data = {
      {"sink", sink_->kind()}, {"target", sink_->label()}, {"timestamp", FormatTime(clock_.Now())}};
  if (!error.empty()) data["error"] = error;
  if (auto c = outbox_.OutboxCount()) {
    data["pending"] = c->pending;
    data["parked"] = c->parked;
  }
  if (auto s = outbox_.RelayEventAppend(type, data.dump()); !s)
    spdlog::warn("relay: cannot record {}: {}", type, s.error().message);
}

// Delivers items[begin, end) in one sink call; when the sink rejects the
// call, splits it until the rejected items are alone, so the rest flows.
void Relay::Deliver(std::vector<Item>& items, size_t begin, size_t end, Outcomes& out) {
  if (begin >= end || out.transient) return;
  std::vector<json> jobs, runs;
  for (size_t i = begin; i < end; ++i) (items[i].is_job ? jobs : runs).push_back(items[i].row);
  Delivery d = sink_->Upsert(jobs, runs);
  if (d.ok()) {
    OnSuccess();
    out.ok_items += end - begin;
    for (size_t i = begin; i < end; ++i)
      out.delivered.insert(out.delivered.end(), items[i].ids.begin(), items[i].ids.end());
    return;
  }
  if (d.outcome == Outcome::kTransient) {
    out.transient = d;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.failures++;
  }
  if (end - begin > 1) {
    size_t mid = begin + (end - begin) / 2;
    Deliver(items, begin, mid, out);
    Deliver(items, mid, end, out);
    return;
  }
  Item& it = items[begin];
  if (d.outcome == Outcome::kForeignKey) {
    for (int64_t id : it.ids) out.deferred.emplace_back(id, d.error);
    out.defer_attempts = std::max(out.defer_attempts, it.attempts);
    spdlog::info("relay: {} waits for its parent: {}", it.what, d.error);
  } else {
    for (int64_t id : it.ids) out.parked.emplace_back(id, d.error);
    out.rejected_items++;
    spdlog::warn("relay: {} rejected by {}{}: {}", it.what, sink_->label(),
                 it.ids.empty() ? " (snapshot row skipped)" : ", parked", d.error);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.last_error = d.error;
}

std::optional<Delivery> Relay::Snapshot(bool& progress) {
  if (snapshot_max_outbox_ < 0) {
    auto m = outbox_.OutboxMaxId();
    if (!m) return Delivery{Outcome::kTransient, m.error().message, std::nullopt};
    snapshot_max_outbox_ = *m;
    spdlog::info("relay: sending a snapshot of the current state to {}", sink_->label());
  }
  // Jobs first (parents), then runs, one page per pass.
  auto page = snapshot_jobs_done_ ? outbox_.SnapshotRuns(snapshot_after_run_, options_.batch_size)
                                  : outbox_.SnapshotJobs(snapshot_after_job_, options_.batch_size);
  if (!page) return Delivery{Outcome::kTransient, page.error().message, std::nullopt};
  if (page->empty()) {
    if (!snapshot_jobs_done_) {
      snapshot_jobs_done_ = true;
      progress = true;
      return std::nullopt;
    }
    if (auto s = outbox_.SnapshotFinish(sink_->id(), sink_->label(), snapshot_max_outbox_); !s)
      return Delivery{Outcome::kTransient, s.error().message, std::nullopt};
    snapshot_done_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.snapshot_done = true;
    }
    spdlog::info("relay: snapshot delivered to {}", sink_->label());
    progress = true;
    return std::nullopt;
  }
  std::vector<Item> items;
  for (const auto& r : *page) {
    json p = json::parse(r.payload);
    Item it;
    it.is_job = !snapshot_jobs_done_;
    it.row = it.is_job ? RemoteJob(p, false) : RemoteRun(p, options_.hostname);
    it.what = std::string(it.is_job ? "job " : "run ") + r.id;
    items.push_back(std::move(it));
  }
  Outcomes out;
  Deliver(items, 0, items.size(), out);
  if (out.transient) return out.transient;
  (snapshot_jobs_done_ ? snapshot_after_run_ : snapshot_after_job_) = page->back().id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.snapshot_rows += out.ok_items;
  }
  progress = true;
  return std::nullopt;
}

std::optional<Delivery> Relay::OutboxBatch(bool& progress) {
  // A failed mark leaves its rows pending: they are sent again (harmless).
  if (auto f = Settle(marks_in_flight_)) return f;
  auto rows = outbox_.OutboxPending(options_.batch_size, clock_.Now());

  if (!rows) return Delivery{Outcome::kTransient, rows.error().message, std::nullopt};
  if (rows->empty()) return std::nullopt;
  // Coalesce: each entity once, at its newest version; jobs before runs.
  std::map<std::pair<std::string, std::string>, size_t> index;
  std::vector<const store::OutboxRow*> newest;
  std::vector<std::vector<int64_t>> ids;
  for (const auto& r : *rows) {
    auto key = std::make_pair(r.entity, r.entity_id);
    auto [it, inserted] = index.emplace(key, newest.size());
    if (inserted) {
      newest.push_back(&r);
      ids.emplace_back();
    } else if (r.version >= newest[it->second]->version) {
      newest[it->second] = &r;
    }
    ids[it->second].push_back(r.id);
  }
  std::vector<Item> items;
  Outcomes out;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < newest.size(); ++i) {
      const store::OutboxRow& r = *newest[i];
      bool is_job = r.entity == "job";
      if (is_job != (pass == 0)) continue;
      Item it;
      it.is_job = is_job;
      it.ids = ids[i];
      it.attempts = r.attempts;
      it.what = r.entity + " " + r.entity_id + " v" + std::to_string(r.version);
      try {
        json p = json::parse(r.payload);
        it.row = is_job ? RemoteJob(p, r.op == "delete") : RemoteRun(p, options_.hostname);
      } catch (const std::exception& e) {  // lshd wrote it; unreadable means a bug
        for (int64_t id : it.ids)
          out.parked.emplace_back(id, std::string("unreadable outbox payload: ") + e.what());
        continue;
      }
      items.push_back(std::move(it));
    }
  }
  Deliver(items, 0, items.size(), out);
  // Record what the sink decided, even when a transient failure cut the
  // pass. The marks commit while the events go out; parks and defers (rare)
  // are queued behind them and waited for.
  marks_in_flight_ = outbox_.OutboxMarkDeliveredAsync(out.delivered);
  if (auto s = outbox_.OutboxPark(out.parked); !s)
    return Delivery{Outcome::kTransient, s.error().message, std::nullopt};
  if (!out.deferred.empty()) {
    // The parent may take a while (or be parked): back off per row.
    int64_t shift = std::min<int64_t>(out.defer_attempts, 10);
    auto delay = std::min(options_.backoff_min * (int64_t{1} << shift), options_.backoff_max);
    if (auto s = outbox_.OutboxDefer(out.deferred, clock_.Now() + delay); !s)
      return Delivery{Outcome::kTransient, s.error().message, std::nullopt};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.delivered_rows += out.delivered.size();
    stats_.parked_rows += out.parked.size();
  }
  if (!out.delivered.empty() || !out.parked.empty() || !out.deferred.empty()) progress = true;
  return out.transient;
}

std::optional<Delivery> Relay::EventsBatch(bool& progress) {
  if (auto f = Settle(cursor_in_flight_)) return f;
  int64_t cursor = events_cursor_.load();
  auto events = store_.EventsAfter(cursor, options_.batch_size, {});
  if (!events) return Delivery{Outcome::kTransient, events.error().message, std::nullopt};
  if (events->empty()) return std::nullopt;
  std::vector<std::string> rows;
  for (const auto& e : *events)
    if (EventReplicated(e)) rows.push_back(RemoteEventText(e));
  int64_t newest = events->back().id;
  if (!rows.empty()) {
    Delivery d = sink_->InsertEvents(rows);
    if (d.outcome == Outcome::kTransient) return d;
    if (!d.ok()) {
      // One by one: a rejected event cannot be parked (it has no outbox
      // row); it is logged and skipped so the log keeps flowing.
      for (const auto& r : rows) {
        Delivery one = sink_->InsertEvents({r});
        if (one.outcome == Outcome::kTransient) return one;
        if (!one.ok()) {
          spdlog::warn("relay: event {} rejected by {}, skipped: {}", r.substr(0, 40),
                       sink_->label(), one.error);
          std::lock_guard<std::mutex> lock(mu_);
          stats_.last_error = one.error;
        }
      }
    }
    OnSuccess();
  }
  // Commits while the next outbox batch goes out; a crash before it only
  // sends these events again (ignored as duplicates).
  cursor_in_flight_ = outbox_.RelaySetEventsCursorAsync(sink_->id(), sink_->label(), newest);
  events_cursor_ = newest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.delivered_events += rows.size();
  }
  progress = true;
  return std::nullopt;
}

}  // namespace lsh::outbox
