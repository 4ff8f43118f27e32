#include "http/server.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <chrono>

#include "core/time.h"
#include "http/listen.h"
#include "http/thread_pool.h"

namespace lsh::http {

using nlohmann::json;

int HttpStatus(ErrorKind k) {
  switch (k) {
    case ErrorKind::kInvalid:
      return 400;
    case ErrorKind::kUnauthorized:
      return 401;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kMethod:
      return 405;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(httplib::Response& res, const Error& e) {
  json body = {
      {"error", e.message}, {"code", e.code}, {"timestamp", FormatTime(SystemClock::Get().Now())}};
  if (!e.field.empty()) body["field"] = e.field;
  SendJson(res, HttpStatus(e.kind), body);
}

Result<json> ParseBody(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Find where it broke, for the message.
    try {
      json ignored = json::parse(body);
      (void)ignored;
    } catch (const json::parse_error& e) {
      return Error::Invalid(std::string("malformed JSON body: ") + e.what(), "", "malformed_json");
    }
    return Error::Invalid("malformed JSON body", "", "malformed_json");
  }
  return j;
}

HttpServer::HttpServer(ServerOptions options, store::Store& store, const Clock& clock,
                       exec::Dispatcher& dispatcher, exec::ScheduleLoop& schedules,
                       events::EventHub& hub)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      dispatcher_(dispatcher),
      schedules_(schedules),
      hub_(hub),
      started_(clock.Steady()) {
  int threads = options_.threads;
  server_.new_task_queue = [threads] { return new GrowingThreadPool(threads); };
  server_.set_payload_max_length(options_.max_body_bytes);
  server_.set_keep_alive_max_count(100000);
  server_.set_keep_alive_timeout(30);
  server_.set_read_timeout(30);
  server_.set_write_timeout(options_.write_timeout_ms / 1000,
                            (options_.write_timeout_ms % 1000) * 1000);
  server_.set_tcp_nodelay(true);
  server_.set_socket_options(ExclusiveListenSocket);
  // Bodies are read here, not by cpp-httplib: it refuses (400) a POST that
  // has neither Content-Length nor chunked encoding, which HTTP/1.1 reads as
  // an empty body and which `curl -X POST` sends.
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) {
    std::string method = m;
    auto h = [this, method](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
      std::string body;
      if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
        bool ok = reader([&](const char* data, size_t n) {
          body.append(data, n);
          return true;
        });
        if (!ok) {
          if (res.status < 400) res.status = 400;
          return;  // 413 (too large) or a broken body: the error handler answers
        }
      }
      Dispatch(method, req, res, body);
    };
    if (method == "POST") server_.Post(".*", h);
    if (method == "PUT") server_.Put(".*", h);
    if (method == "PATCH") server_.Patch(".*", h);
    if (method == "DELETE") server_.Delete(".*", h);
  }
  static const std::string kNoBody;
  server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch("GET", req, res, kNoBody);
  });
  server_.Options(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch("OPTIONS", req, res, kNoBody);
  });
  // Errors cpp-httplib answers itself (413 body too large, 400 bad request
  // line) get the same JSON error shape as ours.
  server_.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                        httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApplyCors(req, res);
    if (res.status == 413) {
      SendError(res,
                Error{ErrorKind::kTooLarge, "body_too_large",
                      "the request body is larger than " + std::to_string(options_.max_body_bytes) +
                          " bytes (LSH_MAX_BODY_BYTES)",
                      ""});
      res.status = 413;
    } else {
      int status = res.status;
      SendError(res,
                Error{status >= 500 ? ErrorKind::kInternal : ErrorKind::kInvalid,
                      status >= 500 ? "internal_error" : "bad_request",
                      "the request could not be read (HTTP " + std::to_string(status) + ")", ""});
      res.status = status;
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, const std::exception_ptr& ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("BUG: unhandled exception on {} {}: {}", req.method, req.path, what);
        SendError(res, Error::Internal("internal error: " + what));
      });
  AddRoutes();
}

HttpServer::~HttpServer() {
  Stop();
}

Result<int> HttpServer::Bind() {
  int port;
  if (options_.port == 0) {
    port = server_.bind_to_any_port(options_.host);
  } else {
    port = server_.bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port > 0) ::listen(server_.listen_fd(), 4096);  // the kernel caps it at somaxconn
  if (port <= 0)
    return Error::Unavailable("cannot listen on " + options_.host + ":" +
                                  std::to_string(options_.port) +
                                  " (address in use, or not an address of this machine)",
                              "bind_failed");
  return port;
}

void HttpServer::Start() {
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

void HttpServer::Stop() {
  stopping_ = true;
  hub_.Close();  // SSE streams end, so their workers are free to finish
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

bool HttpServer::Authorized(const httplib::Request& req) const {
  if (options_.api_key.empty()) return true;
  std::string given = req.get_header_value("X-API-Key");
  if (given.empty()) {
    std::string auth = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    if (auth.size() > bearer.size() && strncasecmp(auth.c_str(), "bearer ", 7) == 0)
      given = auth.substr(bearer.size());
  }
  const std::string& key = options_.api_key;
  // Constant time in the key's length: compare against a same-size buffer.
  std::string padded = given;
  padded.resize(key.size(), '\0');
  bool same = CRYPTO_memcmp(padded.data(), key.data(), key.size()) == 0;
  return same && given.size() == key.size();
}

void HttpServer::ApplyCors(const httplib::Request& req, httplib::Response& res) const {
  if (options_.cors_origins.empty() || !req.has_header("Origin")) return;
  std::string origin = req.get_header_value("Origin");
  for (const auto& o : options_.cors_origins) {
    if (o == origin || o == "*") {
      res.set_header("Access-Control-Allow-Origin", o == "*" ? "*" : origin);
      res.set_header("Vary", "Origin");
      res.set_header("Access-Control-Expose-Headers", "X-Total-Count, Link, Location");
      if (o != "*") res.set_header("Access-Control-Allow-Credentials", "true");
      return;
    }
  }
}

void HttpServer::Dispatch(const std::string& method, const httplib::Request& req,
                          httplib::Response& res, const std::string& body) {
  auto t0 = std::chrono::steady_clock::now();
  ApplyCors(req, res);
  auto match = router_.Find(method, req.path);
  std::string pattern = match.handler ? match.pattern : "unmatched";
  if (method == "OPTIONS") {
    // CORS preflight (or a plain OPTIONS): the methods this path answers.
    if (match.allowed.empty()) {
      SendError(res, Error::NotFound("no route for " + req.path, "route_not_found"));
    } else {
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      allow += ", OPTIONS";
      res.status = 204;
      res.set_header("Allow", allow);
      if (res.has_header("Access-Control-Allow-Origin")) {
        res.set_header("Access-Control-Allow-Methods", allow);
        res.set_header("Access-Control-Allow-Headers",
                       "Authorization, Content-Type, X-API-Key, Last-Event-ID, Idempotency-Key");
        res.set_header("Access-Control-Max-Age", "600");
      }
    }
  } else if (pattern != "/health" && pattern != "/" && !Authorized(req)) {
    SendError(res, Error{ErrorKind::kUnauthorized, "unauthorized", "Authentication required", ""});
  } else if (!match.handler && !match.method_mismatch) {
    SendError(res, Error::NotFound("no route for " + method + " " + req.path, "route_not_found"));
  } else if (match.method_mismatch) {
    std::string allow;
    for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
    res.set_header("Allow", allow);
    SendError(res,
              Error{ErrorKind::kMethod, "method_not_allowed",
                    method + " is not allowed on " + req.path + " (allowed: " + allow + ")", ""});
  } else {
    Ctx ctx{req, res, match.params, body};
    (*match.handler)(ctx);
  }
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0);
  if (metrics_) metrics_->ObserveHttp(pattern, method, res.status, elapsed.count());
  spdlog::info("{} {} {} {:.1f}ms", method, pattern, res.status, elapsed.count() * 1000);
}

void HttpServer::AddRoutes() {
  AddStatusRoutes();
  AddJobRoutes();
  AddRunRoutes();
  AddEventRoutes();
  AddWebhookRoutes();
  AddOutboxRoutes();
}

}  // namespace lsh::http
