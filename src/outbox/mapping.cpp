#include "outbox/mapping.h"

#include "core/time.h"

namespace lsh::outbox {

using nlohmann::json;

const RemoteTable& JobsTable() {
  static const RemoteTable t{"lsh_jobs",
                             {{"id", "uuid"},
                              {"job_name", "text"},
                              {"command", "text"},
                              {"description", "text"},
                              {"type", "text"},
                              {"status", "text"},
                              {"cron_expression", "text"},
                              {"interval_seconds", "integer"},
                              {"next_run", "timestamptz"},
                              {"last_run", "timestamptz"},
                              {"environment", "jsonb"},
                              {"working_directory", "text"},
                              {"timeout_seconds", "integer"},
                              {"max_retries", "integer"},
                              {"retry_delay_seconds", "integer"},
                              {"tags", "text[]"},
                              {"priority", "integer"},
                              {"created_at", "timestamptz"},
                              {"updated_at", "timestamptz"},
                              {"version", "bigint"}}};
  return t;
}

const RemoteTable& ExecutionsTable() {
  static const RemoteTable t{"lsh_job_executions",
                             {{"id", "uuid"},
                              {"job_id", "uuid"},
                              {"execution_id", "text"},
                              {"status", "text"},
                              {"exit_code", "integer"},
                              {"signal", "text"},
                              {"pid", "integer"},
                              {"hostname", "text"},
                              {"queued_at", "timestamptz"},
                              {"started_at", "timestamptz"},
                              {"completed_at", "timestamptz"},
                              {"duration_ms", "bigint"},
                              {"stdout", "text"},
                              {"stderr", "text"},
                              {"triggered_by", "text"},
                              {"retry_count", "integer"},
                              {"error_type", "text"},
                              {"error_message", "text"},
                              {"metadata", "jsonb"},
                              {"created_at", "timestamptz"},
                              {"updated_at", "timestamptz"},
                              {"version", "bigint"}}};
  return t;
}

const RemoteTable& EventsTable() {
  static const RemoteTable t{"lsh_events",
                             {{"id", "bigint"},
                              {"type", "text"},
                              {"job_id", "uuid"},
                              {"run_id", "uuid"},
                              {"data", "jsonb"},
                              {"created_at", "timestamptz"}}};
  return t;
}

namespace {

const json& At(const json& j, const char* key) {
  static const json kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// Milliseconds -> whole seconds, rounded up (a 1500 ms timeout is 2 s, never 0).
json Seconds(const json& ms) {
  if (!ms.is_number()) return nullptr;
  int64_t v = ms.get<int64_t>();
  return v <= 0 ? 0 : (v + 999) / 1000;
}

json StrOrNull(const json& v) {
  return v.is_string() && !v.get_ref<const std::string&>().empty() ? v : json(nullptr);
}

}  // namespace

json RemoteJob(const json& p, bool deleted) {
  const json& schedule = At(p, "schedule");
  json cron = nullptr, interval = nullptr, next_run = nullptr;
  if (schedule.is_object()) {
    if (schedule.contains("cron")) cron = schedule["cron"];
    if (schedule.contains("interval")) interval = Seconds(schedule["interval"]);
    next_run = At(schedule, "nextRun");
  }
  std::string status = "active";
  if (deleted)
    status = "archived";
  else if (At(p, "status") == "stopped" || At(p, "paused") == true)
    status = "paused";
  std::string id = At(p, "id").get<std::string>();
  std::string name = At(p, "name").get<std::string>();
  if (deleted) name += " [deleted " + id + "]";
  const json& last = At(p, "lastRun");
  json last_run = last.is_object() ? At(last, "startedAt") : json(nullptr);
  json env = At(p, "env");
  if (!env.is_object()) env = json::object();
  json tags = At(p, "tags");
  if (!tags.is_array()) tags = json::array();
  json row = json::object();
  // Keys in JobsTable() order (nlohmann's json keeps them sorted; the sinks
  // build their column lists from the table, not from the object).
  row["id"] = id;
  row["job_name"] = name;
  row["command"] = At(p, "command");
  row["description"] = At(p, "description");
  row["type"] = At(p, "type");
  row["status"] = status;
  row["cron_expression"] = cron;
  row["interval_seconds"] = interval;
  row["next_run"] = next_run;
  row["last_run"] = last_run;
  row["environment"] = env;
  row["working_directory"] = At(p, "cwd");
  row["timeout_seconds"] = Seconds(At(p, "timeout"));
  row["max_retries"] = At(p, "maxRetries");
  row["retry_delay_seconds"] = Seconds(At(p, "retryDelay"));
  row["tags"] = tags;
  row["priority"] = At(p, "priority");
  row["created_at"] = At(p, "createdAt");
  row["updated_at"] = At(p, "updatedAt");
  row["version"] = At(p, "version");
  return row;
}

json RemoteRun(const json& p, const std::string& hostname) {
  int attempt = At(p, "attempt").is_number() ? At(p, "attempt").get<int>() : 1;
  json metadata = {{"attempt", attempt},
                   {"firstRunId", At(p, "firstRunId")},
                   {"jobName", At(p, "jobName")},
                   {"priority", At(p, "priority")},
                   {"scheduledFor", At(p, "scheduledFor")},
                   {"notBefore", At(p, "notBefore")}};
  json row = json::object();
  row["id"] = At(p, "id");
  row["job_id"] = At(p, "jobId");
  row["execution_id"] = At(p, "id");
  row["status"] = At(p, "status");  // the local states are the remote CHECK list
  row["exit_code"] = At(p, "exitCode");
  row["signal"] = At(p, "signal");
  row["pid"] = At(p, "pid");
  row["hostname"] = hostname;
  row["queued_at"] = At(p, "queuedAt");
  row["started_at"] = At(p, "startedAt");
  row["completed_at"] = At(p, "completedAt");
  row["duration_ms"] = At(p, "durationMs");
  row["stdout"] = At(p, "stdoutTail");
  row["stderr"] = At(p, "stderrTail");
  row["triggered_by"] = At(p, "trigger");
  row["retry_count"] = attempt - 1;
  row["error_type"] = StrOrNull(At(p, "errorType"));
  row["error_message"] = StrOrNull(At(p, "errorMessage"));
  row["metadata"] = metadata;
  row["created_at"] = At(p, "createdAt");
  row["updated_at"] = At(p, "updatedAt");
  row["version"] = At(p, "version");
  return row;
}

std::string Dump(const std::vector<json>& rows) {
  return json(rows).dump(-1, ' ', false, json::error_handler_t::replace);
}

json RemoteEvent(const Event& e) {
  json data = json::parse(e.data, nullptr, /*allow_exceptions=*/false);
  if (data.is_discarded()) data = json(e.data);
  return {{"id", e.id},
          {"type", e.type},
          {"job_id", e.job_id.empty() ? json(nullptr) : json(e.job_id)},
          {"run_id", e.run_id.empty() ? json(nullptr) : json(e.run_id)},
          {"data", std::move(data)},
          {"created_at", FormatTime(e.created_at)}};
}

std::string RemoteEventText(const Event& e) {
  auto str_or_null = [](const std::string& v) {
    return v.empty() ? std::string("null") : json(v).dump();
  };
  std::string out = "{\"id\":" + std::to_string(e.id) + ",\"type\":" + json(e.type).dump() +
                    ",\"job_id\":" + str_or_null(e.job_id) +
                    ",\"run_id\":" + str_or_null(e.run_id) + ",\"data\":";
  out += e.data.empty() ? std::string("{}") : e.data;
  out += ",\"created_at\":\"" + FormatTime(e.created_at) + "\"}";
  return out;
}

std::string JoinArray(const std::vector<std::string>& rows) {
  size_t n = 2;
  for (const auto& r : rows) n += r.size() + 1;
  std::string out;
  out.reserve(n);
  out += '[';
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    out += rows[i];
  }
  out += ']';
  return out;
}

bool EventReplicated(const Event& e) {
  // Every job event's data carries the job's fields (core/json.h), so the
  // flag is found without parsing the whole payload.
  return e.data.find("\"databaseSync\":false") == std::string::npos;
}

}  // namespace lsh::outbox
