#include "store/retention.h"

#include <SQLiteCpp/Statement.h>

#include "core/time.h"
#include "store/store_internal.h"

namespace lsh::store {

using namespace internal;

namespace {

// A run may be pruned: it ended, the outbox delivered every row of it (when
// a sink reads the outbox), and it is not its job's last run. `r` is the
// runs row.
std::string RunMayGo(bool outbox_has_reader) {
  std::string sql = " r.status <> 'queued' AND r.status <> 'running'";
  if (outbox_has_reader)
    sql +=
        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = r.id AND o.state <> "
        "'delivered')";
  return sql + " AND r.id IS NOT (SELECT j.last_run_id FROM jobs j WHERE j.id = r.job_id) ";
}

constexpr const char* kWebhookFloor =
    "SELECT coalesce(min((SELECT d.event_id FROM webhook_deliveries d WHERE d.endpoint_id = e.id "
    "AND d.state = 'pending' ORDER BY d.id LIMIT 1)), 0) FROM webhook_endpoints e";

}  // namespace

RetentionStore::RetentionStore(Writer& writer, ReaderPool& readers, bool outbox_has_reader)
    : writer_(writer),
      readers_(readers),
      outbox_has_reader_(outbox_has_reader),
      run_may_go_(RunMayGo(outbox_has_reader)) {}

Result<std::vector<std::string>> RetentionStore::RunsExpired(SysTime cutoff, int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get(std::string("SELECT r.id FROM runs r WHERE r.completed_at < ? AND") +
                           run_may_go_ + "ORDER BY r.completed_at LIMIT ?");
    q.bind(1, FormatTime(cutoff));
    q.bind(2, limit);
    std::vector<std::string> ids;
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
    return ids;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<std::string>> RetentionStore::RunsOverCap(int keep, int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    std::vector<std::string> jobs;
    {
      SQLite::Statement& q = lease->stmts().Get(
          "SELECT job_id FROM runs GROUP BY job_id HAVING count(*) > ? LIMIT 1000");
      q.bind(1, keep);
      while (q.executeStep()) jobs.push_back(q.getColumn(0).getString());
    }
    std::vector<std::string> ids;
    for (const auto& job : jobs) {
      if (static_cast<int>(ids.size()) >= limit) break;
      SQLite::Statement& q = lease->stmts().Get(
          std::string("SELECT r.id FROM runs r WHERE r.job_id = ?1 AND r.id < "
                      "(SELECT id FROM runs WHERE job_id = ?1 ORDER BY id DESC LIMIT 1 "
                      "OFFSET ?2) AND") +
          run_may_go_ + "ORDER BY r.id LIMIT ?3");
      q.bind(1, job);
      q.bind(2, keep - 1);
      q.bind(3, limit - static_cast<int>(ids.size()));
      while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
    }
    return ids;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<std::string>> RetentionStore::RunsDelete(const std::vector<std::string>& ids) {
  std::vector<std::string> deleted;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    deleted.clear();
    SQLite::Statement& q =
        tx.stmts.Get(std::string("DELETE FROM runs AS r WHERE r.id = ? AND") + run_may_go_);
    for (const auto& id : ids) {
      q.reset();
      q.bind(1, id);
      if (q.exec() > 0) deleted.push_back(id);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return deleted;
}

Result<std::vector<std::string>> RetentionStore::RunsMissing(const std::vector<std::string>& ids) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get("SELECT 1 FROM runs WHERE id = ?");
    std::vector<std::string> missing;
    for (const auto& id : ids) {
      q.reset();
      q.bind(1, id);
      if (!q.executeStep()) missing.push_back(id);
    }
    return missing;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<int64_t> RetentionStore::WebhookFloor() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(kWebhookFloor);
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<PruneStep> RetentionStore::EventsPrune(SysTime cutoff, int64_t floor, int limit) {
  PruneStep step;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    step = PruneStep{};
    int64_t limit_id = floor;  // events below this may go
    {
      SQLite::Statement& f = tx.stmts.Get(kWebhookFloor);
      f.executeStep();
      int64_t held = f.getColumn(0).getInt64();
      if (held > 0 && held < limit_id) limit_id = held;
      f.reset();
    }
    // The oldest events, in id order; the prefix created before the cutoff goes.
    SQLite::Statement& q =
        tx.stmts.Get("SELECT id, created_at FROM events WHERE id < ? ORDER BY id LIMIT ?");
    q.bind(1, static_cast<int64_t>(limit_id));
    q.bind(2, limit);
    std::string cut = FormatTime(cutoff);
    int64_t last = 0;
    int seen = 0;
    bool stopped = false;
    while (q.executeStep()) {
      ++seen;
      if (q.getColumn(1).getString() >= cut) {
        stopped = true;
        break;
      }
      last = q.getColumn(0).getInt64();
    }
    q.reset();
    if (last > 0) {
      SQLite::Statement& d = tx.stmts.Get("DELETE FROM events WHERE id <= ?");
      d.bind(1, static_cast<int64_t>(last));
      step.deleted = d.exec();
    }
    step.next_after = last;
    step.done = stopped || seen < limit;
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return step;
}

namespace {

// Deletes rows of `table` (in id order after `after`) whose state is one of
// the delivered states and that were created before the cutoff; stops at the
// first row created at or after it. Reads at most `limit` rows.
Status PruneDelivered(Writer& writer, const std::string& table, const std::string& delivered,
                      SysTime cutoff, int64_t after, int limit, PruneStep& step) {
  return writer.Write([&](WriteTx& tx) -> Status {
    step = PruneStep{};
    step.next_after = after;
    SQLite::Statement& q = tx.stmts.Get("SELECT id, created_at, " + delivered + " FROM " + table +
                                        " WHERE id > ? ORDER BY id LIMIT ?");
    q.bind(1, static_cast<int64_t>(after));
    q.bind(2, limit);
    std::string cut = FormatTime(cutoff);
    std::vector<int64_t> ids;
    int seen = 0;
    bool stopped = false;
    while (q.executeStep()) {
      ++seen;
      if (q.getColumn(1).getString() >= cut) {
        stopped = true;
        break;
      }
      step.next_after = q.getColumn(0).getInt64();
      if (q.getColumn(2).getInt() != 0) ids.push_back(step.next_after);
    }
    q.reset();
    SQLite::Statement& d = tx.stmts.Get("DELETE FROM " + table + " WHERE id = ? AND " + delivered);
    for (int64_t id : ids) {
      d.reset();
      d.bind(1, static_cast<int64_t>(id));
      step.deleted += d.exec();
    }
    step.done = stopped || seen < limit;
    return Status::Ok();
  });
}

}  // namespace

Result<PruneStep> RetentionStore::OutboxPrune(SysTime cutoff, int64_t after, int limit) {
  PruneStep step;
  // With no sink, nothing reads the outbox: every old row may go (a sink
  // configured later starts from a snapshot of the current state).
  Status st = PruneDelivered(writer_, "outbox", outbox_has_reader_ ? "state = 'delivered'" : "1",
                             cutoff, after, limit, step);
  if (!st.ok()) return st.error();
  return step;
}

Result<PruneStep> RetentionStore::DeliveriesPrune(SysTime cutoff, int64_t after, int limit) {
  PruneStep step;
  Status st =
      PruneDelivered(writer_, "webhook_deliveries", "(state = 'delivered' OR state = 'dropped')",
                     cutoff, after, limit, step);
  if (!st.ok()) return st.error();
  return step;
}

Result<PruneStep> RetentionStore::IdempotencyKeysPrune(SysTime cutoff, int limit) {
  PruneStep step;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    step = PruneStep{};
    SQLite::Statement& d = tx.stmts.Get(
        "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys "
        "WHERE created_at < ? ORDER BY created_at LIMIT ?)");
    d.bind(1, FormatTime(cutoff));
    d.bind(2, limit);
    step.deleted = d.exec();
    step.done = step.deleted < limit;
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return step;
}

}  // namespace lsh::store
