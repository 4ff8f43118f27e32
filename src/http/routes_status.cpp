// Routes of API.md "Health and status": /health, /, /status.
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/time.h"
#include "http/server.h"

namespace lsh::http {

using nlohmann::json;

namespace {

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

// Resident size of this process and bytes in use on the malloc heap.
std::pair<int64_t, int64_t> MemoryUsage() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  struct mallinfo2 mi = mallinfo2();
  return {resident * sysconf(_SC_PAGESIZE), static_cast<int64_t>(mi.uordblks + mi.hblkhd)};
}

}  // namespace

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
    if (!store_.healthy()) body["error"] = "database writes failing: " + store_.last_write_error();
    if (stopping_) body["error"] = "shutting down";
    SendJson(c.res, healthy ? 200 : 503, body);
  });

  router_.Add("GET", "/", [](Ctx& c) {
    SendJson(
        c.res, 200,
        {{"service", "LSH Daemon API"},
         {"version", LSH_VERSION},
         {"endpoints",
          {"GET /health", "GET /status", "GET /jobs", "POST /jobs", "GET /jobs/:id",
           "PATCH /jobs/:id", "DELETE /jobs/:id", "POST /jobs/bulk", "POST /jobs/:id/trigger",
           "POST /jobs/:id/start", "POST /jobs/:id/stop", "GET /jobs/:id/runs", "GET /runs/:id",
           "GET /runs/:id/log", "GET /events", "GET /events.json", "GET /export/jobs"}}});
  });

  router_.Add("GET", "/status", [this](Ctx& c) {
    auto counts = store_.Counts();
    if (!counts) return SendError(c.res, counts.error());
    auto [rss, heap] = MemoryUsage();
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
        {"memoryUsage", {{"rss", rss}, {"heapUsed", heap}}},
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
          {"sizeBytes", FileSize(options_.db_path) + FileSize(options_.db_path + "-wal")},
          {"schemaVersion", counts->schema_version},
          {"writable", store_.healthy()}}},
    };
    SendJson(c.res, 200, body);
  });
}

}  // namespace lsh::http
