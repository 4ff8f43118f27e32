// OutboxStore: the SQL the outbox relay and the /outbox routes run against
// the outbox table, the relay_state table (migrations/0003_relay.sql) and the
// snapshot a new sink receives. Named like the methods that run them.
//
// The relay reads pending rows in id order, delivers them, then marks them
// delivered, parked (the sink rejected the row itself) or deferred (the sink
// said "not yet", e.g. the parent row is missing). Writes go through the
// Writer; reads take a reader connection. Expected failures are Error
// values; SQLite exceptions never leave this class.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"

namespace lsh::store {

struct OutboxRow {
  int64_t id = 0;
  std::string entity;     // job | run
  std::string entity_id;  // the job's or run's id
  std::string op;         // upsert | delete
  int64_t version = 0;
  std::string payload;  // the API JSON of the job or run (core/json.h)
  SysTime created_at{};
  std::string state;  // pending | delivered | parked
  int64_t attempts = 0;
  std::string last_error;
};

struct OutboxCounts {
  int64_t pending = 0;
  int64_t parked = 0;
  int64_t delivered = 0;
  std::optional<SysTime> oldest_pending;
};

// One sink's progress (relay_state).
struct RelayState {
  bool snapshot_done = false;
  int64_t events_cursor = 0;  // the newest event id the sink acknowledged
};

// A row of the snapshot: the entity as its outbox payload would carry it.
struct SnapshotRow {
  std::string id;
  int64_t version = 0;
  std::string payload;
};

class OutboxStore {
 public:
  OutboxStore(Writer& writer, ReaderPool& readers) : writer_(writer), readers_(readers) {}
  explicit OutboxStore(Store& store) : OutboxStore(store.writer(), store.readers()) {}

  // Pending rows due at `now` (next_attempt_at unset or passed), oldest first.
  Result<std::vector<OutboxRow>> OutboxPending(int limit, SysTime now);
  // The earliest next_attempt_at among pending rows that are not yet due.
  Result<std::optional<SysTime>> OutboxNextAttempt(SysTime now);
  // Parked rows, oldest first.
  Result<std::vector<OutboxRow>> OutboxParked(int limit);
  Result<OutboxCounts> OutboxCount();

  // pending -> delivered (rows in another state are left alone).
  Status OutboxMarkDelivered(const std::vector<int64_t>& ids);
  // The same without waiting: ready once committed (the relay overlaps the
  // commit with its next round trip to the sink).
  std::future<Status> OutboxMarkDeliveredAsync(const std::vector<int64_t>& ids);
  // pending -> parked, with the sink's error. Each row its own error.
  Status OutboxPark(const std::vector<std::pair<int64_t, std::string>>& rows);
  // Stays pending until `until`, with the sink's error and one more attempt.
  Status OutboxDefer(const std::vector<std::pair<int64_t, std::string>>& rows, SysTime until);
  // parked -> pending (ids empty: every parked row). Returns how many moved.
  Result<int64_t> OutboxRetry(const std::vector<int64_t>& ids);

  // ---- relay_state ----
  Result<RelayState> RelayStateGet(const std::string& sink);
  Status RelaySetEventsCursor(const std::string& sink, const std::string& label, int64_t cursor);
  std::future<Status> RelaySetEventsCursorAsync(std::string sink, std::string label,
                                                int64_t cursor);

  // ---- snapshot of existing state for a new sink ----
  // The newest outbox id: rows up to it are covered by a snapshot read after.
  Result<int64_t> OutboxMaxId();
  // Replicated jobs (database_sync) with id > after, in id order.
  Result<std::vector<SnapshotRow>> SnapshotJobs(const std::string& after, int limit);
  // Runs of replicated jobs with id > after, in id order.
  Result<std::vector<SnapshotRow>> SnapshotRuns(const std::string& after, int limit);
  // The snapshot reached the sink: pending upserts up to `max_outbox_id` are
  // covered by it (delivered); deletes stay pending (the snapshot cannot show
  // what is gone). Records snapshot_done.
  Status SnapshotFinish(const std::string& sink, const std::string& label, int64_t max_outbox_id);

  // Appends an outbox:stalled / outbox:recovered event (SSE clients see it).
  Status RelayEventAppend(const std::string& type, const std::string& data_json);

 private:
  Writer& writer_;
  ReaderPool& readers_;
};

}  // namespace lsh::store
