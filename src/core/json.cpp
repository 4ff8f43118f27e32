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
  json j = {
      {"id", job.id},
      {"name", s.name},
      {"command", s.command},
      {"type", s.type},
      {"description", s.description},
      {"tags", s.tags},
      {"priority", s.priority},
      {"timeout", OrNull(s.timeout_ms)},
      {"maxRetries", s.max_retries},
      {"retryDelay", s.retry_delay_ms},
      {"env", s.env},
      {"cwd", s.cwd.empty() ? json(nullptr) : json(s.cwd)},
      {"databaseSync", s.database_sync},
      {"status", job.status},
      {"paused", job.paused},
      {"schedule", schedule},
      {"createdAt", FormatTime(job.created_at)},
      {"updatedAt", FormatTime(job.updated_at)},
      {"lastRun", last_run},
      {"version", job.version},
      // Field names the existing dashboards read.
      {"job_name", s.name},
      {"timestamp", FormatTime(job.created_at)},
      {"last_run", job.last_run ? TimeOrNull(job.last_run->started_at) : json(nullptr)},
      {"duration_ms", job.last_run ? OrNull(job.last_run->duration_ms) : json(nullptr)},
  };
  return j;
}

json RunToJson(const Run& r) {
  return {
      {"id", r.id},
      {"jobId", r.job_id},
      {"jobName", r.job_name},
      {"attempt", r.attempt},
      {"firstRunId", r.first_run_id.empty() ? json(nullptr) : json(r.first_run_id)},
      {"status", r.status},
      {"trigger", r.trigger},
      {"priority", r.priority},
      {"scheduledFor", TimeOrNull(r.scheduled_for)},
      {"queuedAt", FormatTime(r.queued_at)},
      {"notBefore", TimeOrNull(r.not_before)},
      {"startedAt", TimeOrNull(r.started_at)},
      {"completedAt", TimeOrNull(r.completed_at)},
      {"durationMs", OrNull(r.duration_ms)},
      {"exitCode", OrNull(r.exit_code)},
      {"signal", r.signal.empty() ? json(nullptr) : json(r.signal)},
      {"pid", OrNull(r.pid)},
      {"stdoutTail", r.stdout_tail},
      {"stderrTail", r.stderr_tail},
      {"errorType", r.error_type.empty() ? json(nullptr) : json(r.error_type)},
      {"errorMessage", r.error_message.empty() ? json(nullptr) : json(r.error_message)},
      {"version", r.version},
      {"createdAt", FormatTime(r.created_at)},
      {"updatedAt", FormatTime(r.updated_at)},
  };
}

}  // namespace lsh
