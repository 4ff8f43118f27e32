// Relay: the outbox relay (DESIGN promise 6). A background loop, never on
// the request path, that replicates lshd's state to one sink (Supabase REST
// or Postgres, src/outbox/sink.h):
//
//   1. a sink it has not served before first gets a snapshot of the current
//      jobs and runs (relay_state.snapshot_done, migrations/0003_relay.sql);
//   2. then it follows the outbox: pending rows in id order, up to
//      batch_size at a time, coalesced to each entity's newest version, jobs
//      before runs (lsh_job_executions.job_id references lsh_jobs), and marks
//      them delivered only after the sink acknowledged them;
//   3. and it follows the events table by id into lsh_events from its cursor
//      (relay_state.events_cursor), so events need no outbox rows.
//
// Failures: a transient one (network, timeout, 408, 429, 5xx) leaves every
// row pending and backs the whole relay off exponentially with jitter up to
// backoff_max, honouring Retry-After. A batch the sink rejects is split in
// halves until the rejected rows are found: a foreign-key refusal defers
// that row (its parent has not arrived), any other rejection parks it with
// the sink's error; the rest flows. Parked rows wait for POST /outbox/retry.
// After stall_after of continuous failure the relay appends an
// `outbox:stalled` event, and `outbox:recovered` at the next success.
//
// Wake-ups come from the writer's commit hook (Wake); a timer covers
// deferred rows. Delivery is at-least-once: a crash between the sink's
// acknowledgement and the delivered mark replays rows, which the remote
// version guard makes harmless.
//
// Thread-safety: Start/Stop from the owner (Stop is safe twice); Wake,
// Stats, EventFloor and sink_kind from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "outbox/sink.h"
#include "store/outbox_store.h"
#include "store/store.h"

namespace lsh::outbox {

struct RelayOptions {
  // Outbox rows (and events) per round trip: larger drains a backlog faster,
  // smaller keeps each request small (PostgREST bodies, pooler limits).
  int batch_size = 500;
  // Backoff after a transient failure: from backoff_min, doubling, at most
  // backoff_max, with ±25% jitter. Longer is gentler on a struggling remote;
  // shorter notices its return sooner.
  std::chrono::milliseconds backoff_min{250};
  std::chrono::milliseconds backoff_max{30000};
  // Continuous failure this long raises outbox:stalled.
  std::chrono::milliseconds stall_after{60000};
  // Without a wake-up, look again this often (deferred rows, missed wakes).
  std::chrono::milliseconds idle_poll{1000};
  std::string hostname;  // lsh_job_executions.hostname
};

// A snapshot of the relay's counters, for /status, /outbox and /metrics.
struct RelayStats {
  std::string sink;               // "postgres" | "supabase"
  uint64_t delivered_rows = 0;    // outbox rows marked delivered
  uint64_t delivered_events = 0;  // events acknowledged by the sink
  uint64_t snapshot_rows = 0;     // rows sent by snapshots
  uint64_t batches = 0;           // successful sink calls
  uint64_t failures = 0;          // failed sink calls (any outcome but ok)
  uint64_t parked_rows = 0;       // rows parked by this process
  std::optional<SysTime> last_success_at;
  std::string last_error;  // empty after a success
  bool stalled = false;
  bool snapshot_done = false;
  int64_t events_cursor = 0;  // newest event id the sink acknowledged
};

class Relay {
 public:
  Relay(store::Store& store, std::unique_ptr<Sink> sink, const Clock& clock, RelayOptions options);
  ~Relay();

  // Reads the sink's relay_state and starts the loop.
  Status Start();
  void Stop();
  // A commit happened: look for work now (cheap; callable from any thread).
  void Wake();

  RelayStats Stats() const;
  // The lowest event id not yet delivered to the sink: retention must keep
  // events from here on.
  int64_t EventFloor() const { return events_cursor_.load() + 1; }
  const char* sink_kind() const { return sink_->kind(); }

 private:
  struct Item;      // one coalesced entity (or snapshot row) to deliver
  struct Outcomes;  // what a delivery pass decided for its items
  void Loop();
  // One pass: snapshot, outbox batch, events batch. Returns the transient
  // failure that stopped it, if any; sets `progress` when rows moved.
  std::optional<Delivery> RunOnce(bool& progress);
  std::optional<Delivery> Snapshot(bool& progress);
  std::optional<Delivery> OutboxBatch(bool& progress);
  std::optional<Delivery> EventsBatch(bool& progress);
  void Deliver(std::vector<Item>& items, size_t begin, size_t end, Outcomes& out);
  // Waits for a commit left in flight by the previous pass.
  std::optional<Delivery> Settle(std::future<Status>& pending);
  void OnSuccess();
  void OnFailure(const Delivery& d);
  void AppendEvent(const std::string& type, const std::string& error);
  // Sleeps until `deadline` or Stop (wakes are ignored when `ignore_wake`).
  void Sleep(SteadyTime deadline, bool ignore_wake);

  // Constant after construction.
  store::Store& store_;
  store::OutboxStore outbox_;
  const std::unique_ptr<Sink> sink_;
  const Clock& clock_;
  const RelayOptions options_;

  // Used only by the loop thread.
  bool snapshot_done_ = false;
  int64_t snapshot_max_outbox_ = -1;  // -1: snapshot not started
  std::string snapshot_after_job_;
  std::string snapshot_after_run_;
  bool snapshot_jobs_done_ = false;
  std::optional<SteadyTime> failing_since_;
  std::chrono::milliseconds backoff_{0};
  std::mt19937 rng_{std::random_device{}()};
  // The previous pass's delivered marks and events cursor, committing while
  // the next round trip to the sink runs; settled before rows are read again.
  std::future<Status> marks_in_flight_;
  std::future<Status> cursor_in_flight_;

  std::atomic<int64_t> events_cursor_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool woken_ = false;     // guarded by mu_
  RelayStats stats_;       // guarded by mu_
  std::thread thread_;
};

}  // namespace lsh::outbox
