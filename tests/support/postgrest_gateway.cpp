#include "support/postgrest_gateway.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <stdexcept>

#include "support/postgres.h"
#include "support/wait.h"

namespace lsh::test {

using nlohmann::json;

namespace {

json ErrorBody(const std::string& code, const std::string& message, const std::string& details = "",
               const std::string& hint = "") {
  return {{"code", code},
          {"message", message},
          {"details", details.empty() ? json(nullptr) : json(details)},
          {"hint", hint.empty() ? json(nullptr) : json(hint)}};
}

// PostgREST's mapping of SQLSTATE to HTTP status (the cases the relay meets).
int StatusFor(const std::string& sqlstate) {
  if (sqlstate == "23503" || sqlstate == "23505") return 409;
  if (sqlstate == "42P01") return 404;
  if (sqlstate == "42501") return 403;
  if (sqlstate.rfind("23", 0) == 0 || sqlstate.rfind("22", 0) == 0 || sqlstate == "42703")
    return 400;
  return 500;
}

}  // namespace

PostgrestGateway::PostgrestGateway(std::string pg_url, std::string api_key)
    : pg_url_(std::move(pg_url)), key_(std::move(api_key)) {
  pg_ = std::make_unique<PgConn>(pg_url_);
}

PostgrestGateway::~PostgrestGateway() {
  Stop();
}

void PostgrestGateway::Start() {
  Stop();
  server_ = std::make_unique<httplib::Server>();
  server_->Post(
      R"(/rest/v1/([a-z_]+))", [this](const httplib::Request& req, httplib::Response& res) {
        std::map<std::string, std::string> headers;
        for (const char* h : {"apikey", "Authorization", "Prefer", "Content-Type"}) {
          if (req.has_header(h)) {
            std::string k = h;
            for (auto& ch : k) ch = static_cast<char>(std::tolower(ch));
            headers[k] = req.get_header_value(h);
          }
        }
        std::string query;
        for (const auto& [k, v] : req.params) query += (query.empty() ? "" : "&") + k + "=" + v;
        int status = 500, sleep_ms = 0, retry_after = 0;
        bool drop = false;
        std::string reply;
        Serve(req.matches[1], query, headers, req.body, status, reply, drop, sleep_ms, retry_after);
        // The injected "slow reply" fault: the delay is the fault itself.
        if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        if (retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
        res.status = status;
        if (drop) {
          // Headers promise 100 bytes; 9 arrive, then the connection is closed.
          res.set_content_provider(100, "application/json",
                                   [](size_t, size_t, httplib::DataSink& sink) {
                                     sink.write("{\"partial", 9);
                                     return false;
                                   });
          return;
        }
        if (!reply.empty()) res.set_content(reply, "application/json");
      });
  if (port_ == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    // The old socket may linger a moment.
    bool bound = WaitFor([&] { return server_->bind_to_port("127.0.0.1", port_); },
                         std::chrono::seconds(2), std::chrono::milliseconds(10));
    if (!bound) throw std::runtime_error("gateway cannot bind its port again");
  }
  if (port_ <= 0) throw std::runtime_error("gateway cannot bind");
  httplib::Server* s = server_.get();
  thread_ = std::thread([s] { s->listen_after_bind(); });
}

void PostgrestGateway::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void PostgrestGateway::SetFault(Fault fault, int count, int slow_ms, int retry_after_s) {
  std::lock_guard<std::mutex> lock(mu_);
  fault_ = fault;
  fault_count_ = count;
  slow_ms_ = slow_ms;
  retry_after_s_ = retry_after_s;
}

std::vector<PostgrestGateway::Request> PostgrestGateway::log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void PostgrestGateway::Serve(const std::string& table, const std::string& query_string,
                             std::map<std::string, std::string> headers, const std::string& body,
                             int& status, std::string& reply, bool& drop, int& sleep_ms,
                             int& retry_after) {
  requests_++;
  std::lock_guard<std::mutex> lock(mu_);
  Request logged;
  logged.path = "/rest/v1/" + table;
  logged.headers = headers;
  {
    std::string q = query_string;
    size_t i = 0;
    while (i < q.size()) {
      size_t amp = q.find('&', i);
      if (amp == std::string::npos) amp = q.size();
      std::string kv = q.substr(i, amp - i);
      size_t eq = kv.find('=');
      logged.params[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
      i = amp + 1;
    }
  }
  auto finish = [&](int st, const json& b) {
    status = st;
    reply = b.is_null() ? "" : b.dump();
    logged.status = st;
    log_.push_back(logged);
  };

  // Injected faults that answer before anything is applied.
  Fault fault = Fault::kNone;
  if (fault_ != Fault::kNone && fault_count_ != 0) {
    fault = fault_;
    if (fault_count_ > 0 && --fault_count_ == 0) fault_ = Fault::kNone;
    faults_served_++;
  }
  if (fault == Fault::kUnavailable503) {
    retry_after = retry_after_s_;
    return finish(503, ErrorBody("PGRST000", "Could not connect with the database"));
  }
  if (fault == Fault::kError500) return finish(500, ErrorBody("XX000", "internal error"));
  if (fault == Fault::kError520)
    return finish(520, json(nullptr));  // Cloudflare's "unknown error", no PostgREST body

  // The contract the sink must keep.
  static const std::set<std::string> kTables = {"lsh_jobs", "lsh_job_executions", "lsh_events"};
  if (!kTables.count(table))
    return finish(404, ErrorBody("42P01", "relation \"public." + table + "\" does not exist"));
  std::string apikey = headers.count("apikey") ? headers["apikey"] : "";
  if (apikey != key_) return finish(401, ErrorBody("PGRST301", "Invalid API key"));
  bool jwt = key_.rfind("eyJ", 0) == 0;
  std::string auth = headers.count("authorization") ? headers["authorization"] : "";
  if (jwt ? auth != "Bearer " + key_ : !auth.empty())
    return finish(401, ErrorBody("PGRST301", jwt ? "JWT missing from Authorization"
                                                 : "a secret key must not be sent as a Bearer "
                                                   "token"));
  if (headers["content-type"].rfind("application/json", 0) != 0)
    return finish(415, ErrorBody("PGRST107", "Content-Type must be application/json"));
  std::string prefer = headers["prefer"];
  bool merge = prefer.find("resolution=merge-duplicates") != std::string::npos;
  bool ignore = prefer.find("resolution=ignore-duplicates") != std::string::npos;
  if (merge == ignore || prefer.find("return=minimal") == std::string::npos)
    return finish(400, ErrorBody("PGRST122", "Prefer needs one resolution and return=minimal"));
  if (logged.params["on_conflict"] != "id")
    return finish(400, ErrorBody("PGRST100", "on_conflict must name the primary key here"));
  std::vector<std::string> cols;
  {
    std::string c = logged.params["columns"];
    size_t i = 0;
    while (i < c.size()) {
      size_t comma = c.find(',', i);
      if (comma == std::string::npos) comma = c.size();
      cols.push_back(c.substr(i, comma - i));
      i = comma + 1;
    }
  }
  static const std::regex ident("^[a-z_]+$");
  if (cols.empty()) return finish(400, ErrorBody("PGRST100", "columns= is required"));
  for (const auto& c : cols)
    if (!std::regex_match(c, ident))
      return finish(400, ErrorBody("PGRST100", "bad column name '" + c + "'"));
  json rows = json::parse(body, nullptr, false);
  if (!rows.is_array()) return finish(400, ErrorBody("PGRST102", "Empty or invalid json"));
  std::set<std::string> want(cols.begin(), cols.end());
  for (const auto& r : rows) {
    std::set<std::string> keys;
    if (r.is_object())
      for (auto& [k, v] : r.items()) keys.insert(k);
    if (keys != want) return finish(400, ErrorBody("PGRST102", "All object keys must match"));
  }
  logged.rows = rows.size();

  std::string list, set;
  for (const auto& c : cols) {
    list += (list.empty() ? "" : ", ") + c;
    if (c != "id") set += (set.empty() ? "" : ", ") + c + " = EXCLUDED." + c;
  }
  std::string sql = "INSERT INTO " + table + " (" + list + ") SELECT " + list +
                    " FROM json_populate_recordset(NULL::" + table +
                    ", $1::json) ON CONFLICT (id) " +
                    (merge ? "DO UPDATE SET " + set : std::string("DO NOTHING"));
  if (auto err = pg_->TryExec(sql, {body}))
    return finish(StatusFor(err->sqlstate),
                  ErrorBody(err->sqlstate, err->message, err->detail, err->hint));
  successes_++;
  if (fault == Fault::kSlow) sleep_ms = slow_ms_;
  if (fault == Fault::kDrop) drop = true;
  finish(201, json(nullptr));
}

}  // namespace lsh::test
