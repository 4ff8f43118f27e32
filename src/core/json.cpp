#include "core/json.h"

#include "core/time.h"

namespace lsh {

using nlohmann::json;

json TimeOrNull(const std::optional<SysTime>& t) {
  return t ? json(FormatTime(*t)) : json(nullptr);
}

namespace {
template <typename T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
}  // namespace

json JobToJson(const Job& job) {
  const JobSpec& s = job.spec;
  json schedule = nullptr;
  switch (s.schedule.kind) {
    case ScheduleKind::kNone:
      break;
    case ScheduleKind::kCron:
      schedule = {{"cron", s.schedule.cron}, {"timezone", s.schedule.timezone}};
      break;
    case ScheduleKind::kInterval:
      schedule = {{"interval", s.schedule.interval_ms}};
      break;
    case ScheduleKind::kAt:
      schedule = {{"at", TimeOrNull(s.schedule.at)}};
      break;
  }
  if (!schedule.is_null()) {
    schedule["nextRun"] = TimeOrNull(job.next_run_at);
    schedule["misfirePolicy"] = s.schedule.misfire;
    schedule["overlapPolicy"] = s.schedule.overlap;
  }
  json last_run = nullptr;
  if (job.last_run) {
    const RunSummary& r = *job.last_run;
    last_run = {{"id", r.id},
                {"status", r.status},
                {"exitCode", OrNull(r.exit_code)},
                {"startedAt", TimeOrNull(r.started_at)},
                {"completedAt", TimeOrNull(r.completed_at)},
                {"durationMs", OrNull(r.duration_ms)}};
  }
  // Assigned key by key: a braced initializer list copies every value (and
  // checks each element is a pair), which made this the costliest step of
  // rendering a job. The keys are sorted either way (json objects are maps).
  json j(json::value_t::object);
  j["id"] = job.id;
  j["name"] = s.name;
  j["command"] = s.command;
  j["type"] = s.type;
  j["description"] = s.description;
  j["tags"] = s.tags;
  j["priority"] = s.priority;
  j["timeout"] = OrNull(s.timeout_ms);
  j["maxRetries"] = s.max_retries;
  j["retryDelay"] = s.retry_delay_ms;
  j["env"] = s.env;
  j["cwd"] = s.cwd.empty() ? json(nullptr) : json(s.cwd);
  j["databaseSync"] = s.database_sync;
  j["status"] = job.status;
  j["paused"] = job.paused;
  j["schedule"] = std::move(schedule);
  std::string created = FormatTime(job.created_at);
  j["createdAt"] = created;
  j["updatedAt"] = FormatTime(job.updated_at);
  j["lastRun"] = std::move(last_run);
  j["version"] = job.version;
  // Field names the existing dashboards read.
  j["job_name"] = s.name;
  j["timestamp"] = std::move(created);
  j["last_run"] = job.last_run ? TimeOrNull(job.last_run->started_at) : json(nullptr);
  j["duration_ms"] = job.last_run ? OrNull(job.last_run->duration_ms) : json(nullptr);
  return j;
}

json RunToJson(const Run& r) {
  json j(json::value_t::object);  // key by key: see JobToJson
  j["id"] = r.id;
  j["jobId"] = r.job_id;
  j["jobName"] = r.job_name;
  j["attempt"] = r.attempt;
  j["firstRunId"] = r.first_run_id.empty() ? json(nullptr) : json(r.first_run_id);
  j["status"] = r.status;
  j["trigger"] = r.trigger;
  j["priority"] = r.priority;
  j["scheduledFor"] = TimeOrNull(r.scheduled_for);
  j["queuedAt"] = FormatTime(r.queued_at);
  j["notBefore"] = TimeOrNull(r.not_before);
  j["startedAt"] = TimeOrNull(r.started_at);
  j["completedAt"] = TimeOrNull(r.completed_at);
  j["durationMs"] = OrNull(r.duration_ms);
  j["exitCode"] = OrNull(r.exit_code);
  j["signal"] = r.signal.empty() ? json(nullptr) : json(r.signal);
  j["pid"] = OrNull(r.pid);
  j["stdoutTail"] = r.stdout_tail;
  j["stderrTail"] = r.stderr_tail;
  j["errorType"] = r.error_type.empty() ? json(nullptr) : json(r.error_type);
  j["errorMessage"] = r.error_message.empty() ? json(nullptr) : json(r.error_message);
  j["version"] = r.version;
  j["createdAt"] = FormatTime(r.created_at);
  j["updatedAt"] = FormatTime(r.updated_at);
  return j;
}

}  // namespace lsh
