#include "store/webhooks.h"

#include <SQLiteCpp/Statement.h>

#include "core/time.h"
#include "store/store_internal.h"

namespace lsh::store {

using namespace internal;

WebhookStore::WebhookStore(Writer& writer, ReaderPool& readers)
    : writer_(writer), readers_(readers) {}

void WebhookStore::QueueForEvent(WriteTx& tx, int64_t event_id) {
  SQLite::Statement& q = tx.stmts.Get(
      "INSERT INTO webhook_deliveries (endpoint_id, event_id, created_at) "
      "SELECT id, ?1, ?2 FROM webhook_endpoints");
  q.bind(1, static_cast<int64_t>(event_id));
  q.bind(2, FormatTime(tx.now));
  q.exec();
}

namespace {

std::optional<WebhookEndpoint> LoadEndpoint(StmtCache& stmts, const std::string& url) {
  SQLite::Statement& q =
      stmts.Get("SELECT id, url, created_at FROM webhook_endpoints WHERE url = ?");
  q.bind(1, url);
  if (!q.executeStep()) return std::nullopt;
  WebhookEndpoint e{q.getColumn(0).getInt64(), q.getColumn(1).getString(), Time(q.getColumn(2))};
  q.reset();
  return e;
}

}  // namespace

Result<std::pair<WebhookEndpoint, bool>> WebhookStore::EndpointAdd(const std::string& url) {
  std::pair<WebhookEndpoint, bool> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    if (auto e = LoadEndpoint(tx.stmts, url)) {
      out = {*e, false};
      return Status::Ok();
    }
    SQLite::Statement& q =
        tx.stmts.Get("INSERT INTO webhook_endpoints (url, created_at) VALUES (?, ?)");
    q.bind(1, url);
    q.bind(2, FormatTime(tx.now));
    q.exec();
    out = {WebhookEndpoint{tx.db.getLastInsertRowid(), url, tx.now}, true};
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<WebhookEndpoint> WebhookStore::EndpointRemove(const std::string& url) {
  std::optional<WebhookEndpoint> found;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    found = LoadEndpoint(tx.stmts, url);
    if (!found) return Status::Ok();
    // Its queued deliveries go with it (ON DELETE CASCADE).
    SQLite::Statement& q = tx.stmts.Get("DELETE FROM webhook_endpoints WHERE id = ?");
    q.bind(1, static_cast<int64_t>(found->id));
    q.exec();
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  if (!found)
    return Error::NotFound("no webhook endpoint '" + url + "' is registered", "webhook_not_found");
  return *found;
}

Result<std::vector<WebhookEndpoint>> WebhookStore::EndpointList() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get("SELECT id, url, created_at FROM webhook_endpoints ORDER BY id");
    std::vector<WebhookEndpoint> out;
    while (q.executeStep())
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), Time(q.getColumn(2))});
    return out;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<WebhookEndpointStats> WebhookStore::EndpointStats(int64_t endpoint_id) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    WebhookEndpointStats s;
    SQLite::Statement& c = lease->stmts().Get(
        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ? AND state = 'pending'");
    c.bind(1, static_cast<int64_t>(endpoint_id));
    c.executeStep();
    s.pending = c.getColumn(0).getInt64();
    c.reset();
    SQLite::Statement& h = lease->stmts().Get(
        "SELECT attempts, coalesce(last_error, '') FROM webhook_deliveries "
        "WHERE endpoint_id = ? AND state = 'pending' ORDER BY id LIMIT 1");
    h.bind(1, static_cast<int64_t>(endpoint_id));
    if (h.executeStep()) {
      s.attempts = h.getColumn(0).getInt();
      s.last_error = h.getColumn(1).getString();
    }
    return s;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<WebhookDelivery>> WebhookStore::DeliveriesPending(int64_t endpoint_id,
                                                                     int64_t after, int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(
        "SELECT d.id, d.event_id, d.attempts, d.next_attempt_at, e.id IS NULL, "
        "coalesce(e.type, ''), coalesce(e.data, ''), e.created_at "
        "FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id "
        "WHERE d.endpoint_id = ? AND d.state = 'pending' AND d.id > ? ORDER BY d.id LIMIT ?");
    q.bind(1, static_cast<int64_t>(endpoint_id));
    q.bind(2, static_cast<int64_t>(after));
    q.bind(3, limit);
    std::vector<WebhookDelivery> out;
    while (q.executeStep()) {
      WebhookDelivery d;
      d.id = q.getColumn(0).getInt64();
      d.endpoint_id = endpoint_id;
      d.event_id = q.getColumn(1).getInt64();
      d.attempts = q.getColumn(2).getInt();
      d.next_attempt_at = OptTime(q.getColumn(3));
      d.event_missing = q.getColumn(4).getInt() != 0;
      d.type = q.getColumn(5).getString();
      d.data = q.getColumn(6).getString();
      d.event_time = Time(q.getColumn(7));
      out.push_back(std::move(d));
    }
    return out;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

void WebhookStore::DeliveryDone(int64_t delivery_id, int http_status) {
  (void)writer_.Submit([delivery_id, http_status](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
        "last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ? AND state = 'pending'");
    q.bind(1, http_status);
    q.bind(2, FormatTime(tx.now));
    q.bind(3, static_cast<int64_t>(delivery_id));
    q.exec();
    return Status::Ok();
  });
}

void WebhookStore::DeliveryFailed(int64_t delivery_id, int http_status, const std::string& error,
                                  SysTime next_attempt_at) {
  (void)writer_.Submit([=](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?, "
        "next_attempt_at = ? WHERE id = ? AND state = 'pending'");
    if (http_status > 0)
      q.bind(1, http_status);
    else
      q.bind(1);
    q.bind(2, error.substr(0, 500));
    q.bind(3, FormatTime(next_attempt_at));
    q.bind(4, static_cast<int64_t>(delivery_id));
    q.exec();
    return Status::Ok();
  });
}

void WebhookStore::DeliveryDropped(int64_t delivery_id, const std::string& reason) {
  (void)writer_.Submit([=](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get(
        "UPDATE webhook_deliveries SET state = 'dropped', last_error = ? WHERE id = ? AND "
        "state = 'pending'");
    q.bind(1, reason);
    q.bind(2, static_cast<int64_t>(delivery_id));
    q.exec();
    return Status::Ok();
  });
}

}  // namespace lsh::store
