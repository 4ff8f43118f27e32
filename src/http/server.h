// HttpServer: the REST API of API.md on cpp-httplib.
//
// One catch-all handler per method hands every request to Dispatch, which
// applies CORS, the API key (constant-time compare), routes by pattern with
// and without the /api prefix, maps Error values to JSON errors, and logs
// one line per request (method, route pattern, status, ms). A client's
// mistake is always a 4xx; an exception that escapes a handler is a bug and
// becomes a logged 500.
//
// The worker pool has a fixed size from the options (cpp-httplib holds one
// worker per open keep-alive connection or stream; its default of 8 would
// stall with 8 of them open).
//
// Thread-safety: construct, Bind and Start from one thread; Stop may be
// called from any thread and is safe twice. Handlers run on the pool.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "events/cache.h"
#include "events/hub.h"
#include "exec/dispatcher.h"
#include "exec/schedule_loop.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "outbox/relay.h"
#include "store/store.h"
#include "webhooks/deliverer.h"

namespace lsh::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 3030;
  std::string api_key;                    // empty: open (loopback only unless insecure)
  std::vector<std::string> cors_origins;  // exact origins allowed; empty: no CORS headers
  // Bodies above this are refused with 413 before they are read in full.
  size_t max_body_bytes = 1 << 20;
  // Worker threads, started on demand up to this many: bounds concurrent
  // connections. Each keep-alive connection or SSE stream holds one while
  // open; SSE streams may use all but 64 of them.
  int threads = 1200;
  // A ": ping" comment this often on an idle SSE stream (proxies and
  // browsers drop silent connections; API.md asks for at most 15 s).
  int sse_heartbeat_ms = 15000;
  // A client that stops reading is disconnected after this long (its SSE
  // backlog is bounded by the socket buffers; see EventHub).
  int write_timeout_ms = 10000;
  std::string db_path;  // shown in /status
};

struct Ctx {
  const httplib::Request& req;
  httplib::Response& res;
  const Params& params;
  const std::string& body;  // the request body ("" when the request has none)
};
using Handler = std::function<void(Ctx&)>;

void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
void SendError(httplib::Response& res, const Error& e);
int HttpStatus(ErrorKind k);
// The body as JSON; an empty body reads as {}. Malformed JSON is a 400.
Result<nlohmann::json> ParseBody(const std::string& body);

// cpp-httplib's server with access to its listening socket, so the listen
// backlog can be raised above the 5 the Debian library was compiled with (a
// burst of new connections would otherwise see resets).
class ListeningServer : public httplib::Server {
 public:
  int listen_fd() const { return static_cast<int>(svr_sock_); }
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, store::Store& store, const Clock& clock,
             exec::Dispatcher& dispatcher, exec::ScheduleLoop& schedules, events::EventHub& hub);
  ~HttpServer();

  Result<int> Bind();  // binds host:port (port 0: any); returns the port
  void Start();        // serves on a background thread
  void Stop();         // stops accepting; in-flight requests finish
  // Requests are counted here when set (before Start).
  void SetMetrics(metrics::Metrics* m) { metrics_ = m; }
  // The webhook deliverer behind /webhooks; set before Start (unset: 503).
  void SetWebhooks(webhooks::Deliverer* deliverer) { webhooks_ = deliverer; }

  bool shutting_down() const { return stopping_.load(); }
  // The running relay, or null without a sink (/status, /outbox). Before Start.
  void SetRelay(outbox::Relay* relay) { relay_ = relay; }

 private:
  void Dispatch(const std::string& method, const httplib::Request& req, httplib::Response& res,
                const std::string& body);
  bool Authorized(const httplib::Request& req) const;
  void ApplyCors(const httplib::Request& req, httplib::Response& res) const;
  void AddRoutes();
  void AddJobRoutes();
  void AddStatusRoutes();
  void AddRunRoutes();
  void AddEventRoutes();
  void AddWebhookRoutes();
  void AddOutboxRoutes();

  // Constant after construction.
  const ServerOptions options_;
  store::Store& store_;
  const Clock& clock_;
  exec::Dispatcher& dispatcher_;
  exec::ScheduleLoop& schedules_;
  events::EventHub& hub_;
  const SteadyTime started_;
  Router<Handler> router_;
  ListeningServer server_;
  webhooks::Deliverer* webhooks_ = nullptr;  // set before Start

  events::EventCache sse_cache_;         // the newest events, shared by streams
  metrics::Metrics* metrics_ = nullptr;  // set before Start, then constant

  outbox::Relay* relay_ = nullptr;  // set before Start
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace lsh::http
