// Routes of API.md "Jobs": create, list, get, patch, delete, bulk, export.
#include <signal.h>

#include <algorithm>

#include "core/json.h"
#include "core/time.h"
#include "http/job_request.h"
#include "http/params.h"
#include "http/server.h"
#include "schedule/next.h"
#include "store/migrations.h"

namespace lsh::http {

using nlohmann::json;

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void HttpServer::AddJobRoutes() {
  router_.Add("POST", "/jobs", [this](Ctx& c) {
    auto body = ParseBody(c.body);
    if (!body) return SendError(c.res, body.error());
    auto spec = JobSpecFromJson(*body);
    if (!spec) return SendError(c.res, spec.error());
    auto next = schedule::FirstFire(spec->schedule, clock_.Now());
    std::optional<store::IdempotentCreate> idem;
    if (c.req.has_header("Idempotency-Key")) {
      std::string key = c.req.get_header_value("Idempotency-Key");
      if (key.empty() || key.size() > 255)
        return SendError(c.res, Error::Invalid("Idempotency-Key must be 1 to 255 characters",
                                               "Idempotency-Key"));
      idem = store::IdempotentCreate{key, "POST /jobs", store::Checksum(body->dump())};
    }
    auto out = store_.JobCreate(*spec, next, idem ? &*idem : nullptr);
    if (!out) return SendError(c.res, out.error());
    c.res.status = out->status_code;
    if (out->replayed) c.res.set_header("Idempotent-Replayed", "true");
    if (!out->replayed) c.res.set_header("Location", "/jobs/" + out->job.id);
    if (out->job.next_run_at) schedules_.Wake();
    c.res.set_content(out->body, "application/json");
  });

  router_.Add("GET", "/jobs", [this](Ctx& c) {
    store::JobFilter f;
    if (c.req.has_param("status")) {
      f.status = c.req.get_param_value("status");
      if (std::find_if(std::begin(kJobStatuses), std::end(kJobStatuses),
                       [&](const char* s) { return f.status == s; }) == std::end(kJobStatuses))
        return SendError(c.res, Error::Invalid("status must be one of created, scheduled, "
                                               "running, stopped, completed, failed; not '" +
                                                   f.status + "'",
                                               "status"));
    }
    f.name = c.req.get_param_value("name");
    f.tag = c.req.get_param_value("tag");
    auto limit = LimitParam(c.req, 100, 1000);
    if (!limit) return SendError(c.res, limit.error());
    f.limit = *limit;
    f.cursor = c.req.get_param_value("cursor");
    auto page = store_.JobList(f);
    if (!page) return SendError(c.res, page.error());
    json arr = json::array();
    for (const auto& j : page->jobs) arr.push_back(JobToJson(j));
    c.res.set_header("X-Total-Count", std::to_string(page->total));
    if (!page->next_cursor.empty()) {
      std::string prefix = c.req.path.rfind("/api", 0) == 0 ? "/api" : "";
      std::string link = prefix + "/jobs?limit=" + std::to_string(f.limit) +
                         "&cursor=" + UrlEncode(page->next_cursor);
      if (!f.status.empty()) link += "&status=" + UrlEncode(f.status);
      if (!f.name.empty()) link += "&name=" + UrlEncode(f.name);
      if (!f.tag.empty()) link += "&tag=" + UrlEncode(f.tag);
      c.res.set_header("Link", "<" + link + ">; rel=\"next\"");
    }
    SendJson(c.res, 200, arr);
  });

  router_.Add("GET", "/jobs/:id", [this](Ctx& c) {
    auto job = store_.JobGet(c.params.at("id"));
    if (!job) return SendError(c.res, job.error());
    SendJson(c.res, 200, JobToJson(*job));
  });

  auto patch = [this](Ctx& c) {
    auto body = ParseBody(c.body);
    if (!body) return SendError(c.res, body.error());
    if (!body->is_object())
      return SendError(c.res, Error::Invalid("the request body must be a JSON object", ""));
    SysTime now = clock_.Now();
    bool schedule_changed = body->contains("schedule");
    auto job =
        store_.JobUpdate(c.params.at("id"), [&](const Job& current) -> Result<store::JobUpdate> {
          auto spec = JobSpecPatch(current.spec, *body);
          if (!spec) return spec.error();
          store::JobUpdate u{*spec, current.next_run_at};
          if (schedule_changed) u.next_run_at = schedule::FirstFire(spec->schedule, now);
          return u;
        });
    if (!job) return SendError(c.res, job.error());
    if (schedule_changed) schedules_.Wake();
    SendJson(c.res, 200, JobToJson(*job));
  };
  router_.Add("PATCH", "/jobs/:id", patch);
  router_.Add("PUT", "/jobs/:id", patch);

  router_.Add("DELETE", "/jobs/:id", [this](Ctx& c) {
    bool force = TrueParam(c.req, "force");
    if (force) {
      // Stop first: queued runs are cancelled, running ones signalled.
      auto stopped = store_.JobStop(c.params.at("id"));
      if (!stopped) return SendError(c.res, stopped.error());
      dispatcher_.StopRuns(stopped->running_run_ids, SIGKILL);
    }
    auto job = store_.JobDelete(c.params.at("id"), force);
    if (!job) return SendError(c.res, job.error());
    schedules_.Wake();
    SendJson(c.res, 200, {{"success", true}, {"id", job->id}, {"name", job->spec.name}});
  });

  router_.Add("POST", "/jobs/bulk", [this](Ctx& c) {
    auto body = ParseBody(c.body);
    if (!body) return SendError(c.res, body.error());
    if (!body->is_object() || !body->contains("jobs") || !(*body)["jobs"].is_array())
      return SendError(
          c.res, Error::Invalid("the body must be {\"jobs\": [ … ]}, an array of jobs", "jobs"));
    const json& items = (*body)["jobs"];
    if (items.size() > 1000)
      return SendError(c.res, Error::Invalid("at most 1000 jobs per bulk request", "jobs"));
    SysTime now = clock_.Now();
    std::vector<json> results(items.size());
    std::vector<std::pair<JobSpec, std::optional<SysTime>>> valid;
    std::vector<size_t> valid_index;
    for (size_t i = 0; i < items.size(); ++i) {
      auto spec = JobSpecFromJson(items[i]);
      if (!spec) {
        const Error& e = spec.error();
        results[i] = {{"success", false}, {"error", e.message}, {"jobSpec", items[i]}};
        if (!e.field.empty()) results[i]["field"] = e.field;
        continue;
      }
      auto next = schedule::FirstFire(spec->schedule, now);
      valid.emplace_back(std::move(spec.value()), next);
      valid_index.push_back(i);
    }
    auto created = store_.JobCreateMany(valid);
    schedules_.Wake();
    for (size_t k = 0; k < created.size(); ++k) {
      size_t i = valid_index[k];
      if (created[k])
        results[i] = {{"success", true}, {"job", JobToJson(*created[k])}};
      else
        results[i] = {
            {"success", false}, {"error", created[k].error().message}, {"jobSpec", items[i]}};
    }
    SendJson(c.res, 200, {{"results", results}});
  });

  router_.Add("GET", "/export/jobs", [this](Ctx& c) {
    std::string format = c.req.has_param("format") ? c.req.get_param_value("format") : "json";
    if (format != "json" && format != "csv")
      return SendError(c.res, Error::Invalid("format must be json or csv", "format"));
    auto jobs = store_.JobListAll();
    if (!jobs) return SendError(c.res, jobs.error());
    if (format == "json") {
      json arr = json::array();
      for (const auto& j : *jobs) arr.push_back(JobToJson(j));
      c.res.set_header("Content-Disposition", "attachment; filename=\"lsh-jobs.json\"");
      return SendJson(c.res, 200, arr);
    }
    std::string csv =
        "id,name,command,type,status,schedule,timezone,next_run,priority,max_retries,"
        "timeout_ms,tags,created_at,updated_at\r\n";
    for (const auto& j : *jobs) {
      const auto& s = j.spec;
      std::string sched;
      if (s.schedule.kind == ScheduleKind::kCron) sched = s.schedule.cron;
      if (s.schedule.kind == ScheduleKind::kInterval)
        sched = "every " + std::to_string(s.schedule.interval_ms) + "ms";
      if (s.schedule.kind == ScheduleKind::kAt && s.schedule.at)
        sched = "at " + FormatTime(*s.schedule.at);
      std::string tags;
      for (const auto& t : s.tags) tags += (tags.empty() ? "" : ";") + t;
      csv += CsvField(j.id) + "," + CsvField(s.name) + "," + CsvField(s.command) + "," +
             CsvField(s.type) + "," + CsvField(j.status) + "," + CsvField(sched) + "," +
             CsvField(s.schedule.timezone) + "," +
             (j.next_run_at ? FormatTime(*j.next_run_at) : "") + "," + std::to_string(s.priority) +
             "," + std::to_string(s.max_retries) + "," +
             (s.timeout_ms ? std::to_string(*s.timeout_ms) : "") + "," + CsvField(tags) + "," +
             FormatTime(j.created_at) + "," + FormatTime(j.updated_at) + "\r\n";
    }
    c.res.status = 200;
    c.res.set_header("Content-Disposition", "attachment; filename=\"lsh-jobs.csv\"");
    c.res.set_content(csv, "text/csv; charset=utf-8");
  });
}

}  // namespace lsh::http
