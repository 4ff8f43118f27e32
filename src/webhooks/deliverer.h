// Deliverer: sends job events to webhook endpoints, durably and in order.
//
// Deliveries are queued in the database with their event (WebhookStore,
// src/store/webhooks.h). The deliverer runs one worker thread per endpoint:
// it reads the endpoint's pending deliveries in id (= event) order and POSTs
// each, the next only after the previous got a 2xx, so every endpoint sees
// its events in order and a slow or dead endpoint holds up only itself. A
// delivery is marked delivered only after a 2xx; a failure (no answer, a
// timeout, a non-2xx) is retried with exponential backoff and ±20% jitter up
// to `backoff_max`, or after the Retry-After the endpoint asked for. Retries
// go on until the endpoint answers or is removed (DELETE /webhooks drops its
// queue). After a crash the first pending delivery may be sent again: every
// request carries X-LSH-Delivery (the delivery id) so receivers can dedupe.
//
// Request: POST, Content-Type: application/json, X-LSH-Event: <type>,
// X-LSH-Delivery: <id>, X-LSH-Signature: sha256=<hex HMAC-SHA256 of the
// exact body with the secret> (only when a secret is set), body
// {"event","data","timestamp","source":"lsh-daemon"} (webhook.h).
//
// Thread-safety: every public method may be called from any thread;
// Start/Stop from the owner, Stop safe twice.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Client;
}

#include "core/clock.h"
#include "core/error.h"
#include "store/webhooks.h"

namespace lsh::webhooks {

struct DelivererOptions {
  std::string secret;  // LSH_WEBHOOK_SECRET; empty: requests are not signed
  // LSH_WEBHOOK_TIMEOUT_MS (10000): connect and read timeout of one attempt.
  std::chrono::milliseconds timeout{10000};
  // LSH_WEBHOOK_BACKOFF_MS (1000) and LSH_WEBHOOK_BACKOFF_MAX_MS (300000):
  // the first retry delay, doubled per failed attempt up to the cap. A
  // longer cap is gentler on a struggling receiver, a shorter one delivers
  // sooner after it recovers.
  std::chrono::milliseconds backoff{1000};
  std::chrono::milliseconds backoff_max{300000};
  int batch = 100;  // deliveries read at once per endpoint
};

struct EndpointStatus {
  std::string url;
  int64_t pending = 0;
  int attempts = 0;  // failed attempts of the oldest pending delivery
  std::string last_error;
};

class Deliverer {
 public:
  Deliverer(store::WebhookStore& store, const Clock& clock, DelivererOptions options);
  ~Deliverer();

  // Starts a worker for every stored endpoint.
  Status Start();
  void Stop();
  // Events committed: workers look for new deliveries.
  void Wake();

  // Validates and stores an endpoint (idempotent: created=false when it was
  // there) and starts its worker.
  Result<std::pair<store::WebhookEndpoint, bool>> AddEndpoint(const std::string& url);
  // Removes an endpoint with its queue (kNotFound when unknown).
  Status RemoveEndpoint(const std::string& url);
  Result<std::vector<store::WebhookEndpoint>> Endpoints();
  Result<std::vector<EndpointStatus>> Statuses();

  uint64_t delivered() const;  // 2xx answers since start
  uint64_t failures() const;   // failed attempts since start
  bool signing() const { return !options_.secret.empty(); }

 private:
  struct Worker {
    store::WebhookEndpoint endpoint;
    bool stop = false;  // guarded by mu_
    // The worker's HTTP client while it exists (Stop interrupts a request in
    // flight through it); guarded by mu_.
    httplib::Client* client = nullptr;
    std::thread thread;
  };
  void StartWorker(const store::WebhookEndpoint& e);  // mu_ held
  void Run(Worker* w);
  // Waits until `until` (Clock time), a wake, or stop; true when stopping.
  bool WaitUntil(Worker* w, SysTime until);
  bool Stopping(Worker* w);
  std::chrono::milliseconds Backoff(int failed_attempts) const;

  // Constant after construction.
  store::WebhookStore& store_;
  const Clock& clock_;
  const DelivererOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::unique_ptr<Worker>> workers_;  // by endpoint id; guarded by mu_
  std::vector<std::unique_ptr<Worker>> retired_;        // removed, joined at Stop; mu_
  uint64_t wake_seq_ = 0;                               // guarded by mu_
  bool started_ = false;                                // guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
  uint64_t delivered_ = 0;                              // guarded by mu_
  uint64_t failures_ = 0;                               // guarded by mu_
};

}  // namespace lsh::webhooks
