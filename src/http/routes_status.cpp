// Routes of API.md "Health and status": /health, /, /status.
#include <unistd.h>

#include "core/json.h"
#include "core/process_stats.h"
#include "core/time.h"
#include "http/server.h"

namespace lsh::http {

using nlohmann::json;

void HttpServer::AddStatusRoutes() {
  router_.Add("GET", "/health", [this](Ctx& c) {
    double uptime = std::chrono::duration<double>(clock_.Steady() - started_).count();
    bool healthy = store_.healthy() && !stopping_;
    json body = {{"status", healthy ? "healthy" : "unhealthy"},
                 {"service", "LSH Daemon"},
                 {"timestamp", FormatTime(clock_.Now())},
                 {"uptime", uptime},
                 {"version", LSH_VERSION},
                 {"active_commands", dispatcher_.active_count()}};
    // Why writes fail (README "Health"): "failing" (disk full, busy; each
    // new write tries again) or "stopped" (an I/O error; until a restart).
    auto state = store_.write_state();
    if (state != store::Writer::State::kOk) {
      body["database"] = {
          {"writable", false},
          {"state", state == store::Writer::State::kStopped ? "stopped" : "failing"},
          {"code", store_.last_write_code()}};
      body["code"] = store_.last_write_code();
      body["error"] = "database writes failing: " + store_.last_write_error();
    }
    if (stopping_) {
      body["code"] = "shutting_down";
      body["error"] = "shutting down";
    }
    SendJson(c.res, healthy ? 200 : 503, body);
  });

  router_.Add("GET", "/", [](Ctx& c) {
    SendJson(
        c.res, 200,
        {{"service", "LSH Daemon API"},
         {"version", LSH_VERSION},
         {"endpoints", {"GET /health",          "GET /status",         "GET /jobs",
                        "POST /jobs",           "GET /jobs/:id",       "PATCH /jobs/:id",
                        "DELETE /jobs/:id",     "POST /jobs/bulk",     "POST /jobs/:id/trigger",
                        "POST /jobs/:id/start", "POST /jobs/:id/stop", "GET /jobs/:id/runs",
                        "GET /runs/:id",        "GET /runs/:id/log",   "GET /events",
                        "GET /events.json",     "GET /export/jobs",    "GET /webhooks",
                        "POST /webhooks",       "DELETE /webhooks",    "GET /outbox",
                        "POST /outbox/retry"}}});
  });

  router_.Add("GET", "/status", [this](Ctx& c) {
    auto counts = store_.Counts();
    if (!counts) return SendError(c.res, counts.error());
    MemoryUsage mem = ProcessMemory();
    json by_status = {{"total", counts->jobs_total}};
    for (const char* s : kJobStatuses) by_status[s] = 0;
    for (const auto& [s, n] : counts->jobs_by_status) by_status[s] = n;
    double oldest_age = 0;
    if (counts->outbox_oldest_pending)
      oldest_age =
          std::chrono::duration<double>(clock_.Now() - *counts->outbox_oldest_pending).count();
    json body = {
        {"running", true},
        {"pid", static_cast<int64_t>(getpid())},
        {"uptime", std::chrono::duration<double>(clock_.Steady() - started_).count()},
        {"version", LSH_VERSION},
        {"memoryUsage", {{"rss", mem.resident_bytes}, {"heapUsed", mem.heap_bytes}}},
        {"jobCount", counts->jobs_total},
        {"jobs", by_status},
        {"runs", {{"queued", counts->runs_queued}, {"running", counts->runs_running}}},
        {"events", {{"newestId", hub_.newest()}, {"sseClients", hub_.clients.load()}}},
        {"outbox",
         {{"pending", counts->outbox_pending},
          {"parked", counts->outbox_parked},
          {"oldestPendingAgeSeconds", oldest_age},
          {"lastSuccessAt", nullptr},
          {"lastError", nullptr},
          {"sink", nullptr}}},
        {"db",
         {{"path", options_.db_path},
          {"sizeBytes", DatabaseSizeBytes(options_.db_path)},
          {"schemaVersion", counts->schema_version},
          {"writable", store_.healthy()}}},
    };
    if (relay_) {
      outbox::RelayStats rs = relay_->Stats();
      json& ob = body["outbox"];
      ob["sink"] = rs.sink;
      ob["lastSuccessAt"] = TimeOrNull(rs.last_success_at);
      if (!rs.last_error.empty()) ob["lastError"] = rs.last_error;
      ob["stalled"] = rs.stalled;
    }
    SendJson(c.res, 200, body);
  });
}

}  // namespace lsh::http
