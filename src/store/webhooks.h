// WebhookStore: the SQL of webhooks — the endpoints table and the durable
// delivery queue (migrations/0002_webhooks_retention.sql).
//
// Deliveries are queued by QueueForEvent inside the writer transaction that
// appends a job event (Store::EventAppend), so an event and its deliveries
// commit together and a restart loses none. The deliverer
// (src/webhooks/deliverer.h) reads each endpoint's pending deliveries in id
// (= event) order and records outcomes without waiting for their commit: a
// crash before that commit only means the delivery is sent again, with the
// same delivery id.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "store/db.h"
#include "store/writer.h"

namespace lsh::store {

struct WebhookEndpoint {
  int64_t id = 0;
  std::string url;
  SysTime created_at{};
};

struct WebhookEndpointStats {
  int64_t pending = 0;
  int attempts = 0;        // of the oldest pending delivery
  std::string last_error;  // of the oldest pending delivery, if it failed
};

// A pending delivery with the event it carries.
struct WebhookDelivery {
  int64_t id = 0;
  int64_t endpoint_id = 0;
  int64_t event_id = 0;
  int attempts = 0;
  std::optional<SysTime> next_attempt_at;
  bool event_missing = false;  // the event row is gone (removed by hand)
  std::string type;
  std::string data;  // the event's data, JSON text
  SysTime event_time{};
};

class WebhookStore {
 public:
  WebhookStore(Writer& writer, ReaderPool& readers);

  // Adds an endpoint; adding an existing URL returns it (created = false).
  Result<std::pair<WebhookEndpoint, bool>> EndpointAdd(const std::string& url);
  // Removes an endpoint and its queued deliveries; kNotFound if unknown.
  Result<WebhookEndpoint> EndpointRemove(const std::string& url);
  Result<std::vector<WebhookEndpoint>> EndpointList();
  Result<WebhookEndpointStats> EndpointStats(int64_t endpoint_id);

  // Pending deliveries of an endpoint with id > after, in id order.
  Result<std::vector<WebhookDelivery>> DeliveriesPending(int64_t endpoint_id, int64_t after,
                                                         int limit);
  // Outcomes; asynchronous (the writer keeps their order).
  void DeliveryDone(int64_t delivery_id, int http_status);
  void DeliveryFailed(int64_t delivery_id, int http_status, const std::string& error,
                      SysTime next_attempt_at);
  void DeliveryDropped(int64_t delivery_id, const std::string& reason);

  // On the writer thread, inside the transaction that appended event_id (a
  // job:* event): one pending delivery per endpoint. One cached
  // INSERT … SELECT; nothing is written when there are no endpoints.
  static void QueueForEvent(WriteTx& tx, int64_t event_id);

 private:
  Writer& writer_;
  ReaderPool& readers_;
};

}  // namespace lsh::store
