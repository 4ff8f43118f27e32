#include "store/outbox_store.h"

#include <SQLiteCpp/Statement.h>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "core/time.h"
#include "store/store_internal.h"

namespace lsh::store {

using nlohmann::json;
using namespace internal;

namespace {

constexpr const char* kOutboxColumns =
    "id, entity, entity_id, op, version, payload, created_at, state, attempts, "
    "coalesce(last_error, '')";

OutboxRow RowToOutbox(SQLite::Statement& q) {
  OutboxRow r;
  r.id = q.getColumn(0).getInt64();
  r.entity = q.getColumn(1).getString();
  r.entity_id = q.getColumn(2).getString();
  r.op = q.getColumn(3).getString();
  r.version = q.getColumn(4).getInt64();
  r.payload = q.getColumn(5).getString();
  r.created_at = Time(q.getColumn(6));
  r.state = q.getColumn(7).getString();
  r.attempts = q.getColumn(8).getInt64();
  r.last_error = q.getColumn(9).getString();
  return r;
}

std::string IdsJson(const std::vector<int64_t>& ids) {
  return json(ids).dump();
}

}  // namespace

Result<std::vector<OutboxRow>> OutboxStore::OutboxPending(int limit, SysTime now) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(
        std::string("SELECT ") + kOutboxColumns +
        " FROM outbox WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at "
        "<= ?) ORDER BY id LIMIT ?");
    q.bind(1, FormatTime(now));
    q.bind(2, limit);
    std::vector<OutboxRow> rows;
    while (q.executeStep()) rows.push_back(RowToOutbox(q));
    return rows;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::optional<SysTime>> OutboxStore::OutboxNextAttempt(SysTime now) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(
        "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' AND next_attempt_at > ?");
    q.bind(1, FormatTime(now));
    q.executeStep();
    return OptTime(q.getColumn(0));
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<OutboxRow>> OutboxStore::OutboxParked(int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(std::string("SELECT ") + kOutboxColumns +
                                              " FROM outbox WHERE state = 'parked' ORDER BY id "
                                              "LIMIT ?");
    q.bind(1, limit);
    std::vector<OutboxRow> rows;
    while (q.executeStep()) rows.push_back(RowToOutbox(q));
    return rows;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<OutboxCounts> OutboxStore::OutboxCount() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    // pending and parked come from their partial indexes; delivered is the rest.
    SQLite::Statement& q = lease->stmts().Get(
        "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), "
        "(SELECT count(*) FROM outbox WHERE state = 'parked'), "
        "(SELECT count(*) FROM outbox), "
        "(SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1)");
    q.executeStep();
    OutboxCounts c;
    c.pending = q.getColumn(0).getInt64();
    c.parked = q.getColumn(1).getInt64();
    c.delivered = q.getColumn(2).getInt64() - c.pending - c.parked;
    c.oldest_pending = OptTime(q.getColumn(3));
    return c;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Status OutboxStore::OutboxMarkDelivered(const std::vector<int64_t>& ids) {
  return OutboxMarkDeliveredAsync(ids).get();
}

std::future<Status> OutboxStore::OutboxMarkDeliveredAsync(const std::vector<int64_t>& ids) {
  if (ids.empty()) {
    std::promise<Status> done;
    done.set_value(Status::Ok());
    return done.get_future();
  }
  return writer_.Submit([list = IdsJson(ids)](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1, "
        "last_error = NULL, next_attempt_at = NULL "
        "WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending'");
    q.bind(1, FormatTime(tx.now));
    q.bindNoCopy(2, list);
    q.exec();
    return Status::Ok();
  });
}

Status OutboxStore::OutboxPark(const std::vector<std::pair<int64_t, std::string>>& rows) {
  if (rows.empty()) return Status::Ok();
  return writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE outbox SET state = 'parked', attempts = attempts + 1, last_error = ?, "
        "next_attempt_at = NULL WHERE id = ? AND state = 'pending'");
    for (const auto& [id, error] : rows) {
      q.reset();
      q.bind(1, error);
      q.bind(2, id);
      q.exec();
    }
    return Status::Ok();
  });
}

Status OutboxStore::OutboxDefer(const std::vector<std::pair<int64_t, std::string>>& rows,
                                SysTime until) {
  if (rows.empty()) return Status::Ok();
  return writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
        "WHERE id = ? AND state = 'pending'");
    for (const auto& [id, error] : rows) {
      q.reset();
      q.bind(1, error);
      q.bind(2, FormatTime(until));
      q.bind(3, id);
      q.exec();
    }
    return Status::Ok();
  });
}

Result<int64_t> OutboxStore::OutboxRetry(const std::vector<int64_t>& ids) {
  int64_t moved = 0;
  std::string list = IdsJson(ids);
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q =
        ids.empty() ? tx.stmts.Get(
                          "UPDATE outbox SET state = 'pending', next_attempt_at = NULL "
                          "WHERE state = 'parked'")
                    : tx.stmts.Get(
                          "UPDATE outbox SET state = 'pending', next_attempt_at = NULL "
                          "WHERE state = 'parked' AND id IN (SELECT value FROM json_each(?))");
    if (!ids.empty()) q.bindNoCopy(1, list);
    moved = q.exec();
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return moved;
}

Result<RelayState> OutboxStore::RelayStateGet(const std::string& sink) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get("SELECT snapshot_done, events_cursor FROM relay_state WHERE sink = ?");
    q.bind(1, sink);
    RelayState s;
    if (q.executeStep()) {
      s.snapshot_done = q.getColumn(0).getInt() != 0;
      s.events_cursor = q.getColumn(1).getInt64();
    }
    return s;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Status OutboxStore::RelaySetEventsCursor(const std::string& sink, const std::string& label,
                                         int64_t cursor) {
  return RelaySetEventsCursorAsync(sink, label, cursor).get();
}

std::future<Status> OutboxStore::RelaySetEventsCursorAsync(std::string sink, std::string label,
                                                           int64_t cursor) {
  return writer_.Submit([sink = std::move(sink), label = std::move(label),
                         cursor](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "INSERT INTO relay_state (sink, label, events_cursor, updated_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (sink) DO UPDATE SET events_cursor = max(events_cursor, "
        "excluded.events_cursor), label = excluded.label, updated_at = excluded.updated_at");
    q.bind(1, sink);
    q.bind(2, label);
    q.bind(3, cursor);
    q.bind(4, FormatTime(tx.now));
    q.exec();
    return Status::Ok();
  });
}

Result<int64_t> OutboxStore::OutboxMaxId() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get("SELECT coalesce(max(id), 0) FROM outbox");
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<SnapshotRow>> OutboxStore::SnapshotJobs(const std::string& after, int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get(std::string("SELECT ") + kJobColumns + kJobFrom +
                           "WHERE j.id > ? AND j.database_sync = 1 ORDER BY j.id LIMIT ?");
    q.bind(1, after);
    q.bind(2, limit);
    std::vector<SnapshotRow> rows;
    while (q.executeStep()) {
      Job j = RowToJob(q);
      rows.push_back({j.id, j.version, JobToJson(j).dump()});
    }
    return rows;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<SnapshotRow>> OutboxStore::SnapshotRuns(const std::string& after, int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get(std::string("SELECT ") + kRunColumns + kRunFrom +
                           "WHERE r.id > ? AND j.database_sync = 1 ORDER BY r.id LIMIT ?");
    q.bind(1, after);
    q.bind(2, limit);
    std::vector<SnapshotRow> rows;
    while (q.executeStep()) {
      Run r = RowToRun(q);
      rows.push_back({r.id, r.version, RunToJson(r).dump()});
    }
    return rows;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Status OutboxStore::SnapshotFinish(const std::string& sink, const std::string& label,
                                   int64_t max_outbox_id) {
  return writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE outbox SET state = 'delivered', delivered_at = ?, next_attempt_at = NULL "
        "WHERE state = 'pending' AND op = 'upsert' AND id <= ?");
    q.bind(1, FormatTime(tx.now));
    q.bind(2, max_outbox_id);
    q.exec();
    SQLite::Statement& s = tx.stmts.Get(
        "INSERT INTO relay_state (sink, label, snapshot_done, updated_at) VALUES (?1, ?2, 1, ?3) "
        "ON CONFLICT (sink) DO UPDATE SET snapshot_done = 1, label = excluded.label, "
        "updated_at = excluded.updated_at");
    s.bind(1, sink);
    s.bind(2, label);
    s.bind(3, FormatTime(tx.now));
    s.exec();
    return Status::Ok();
  });
}

Status OutboxStore::RelayEventAppend(const std::string& type, const std::string& data_json) {
  return writer_.Write([&](WriteTx& tx) -> Status {
    Store::EventAppend(tx, type, "", "", data_json);
    return Status::Ok();
  });
}

}  // namespace lsh::store
