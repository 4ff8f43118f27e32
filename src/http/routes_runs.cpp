// Routes of API.md "Running": trigger, start, stop, runs, run, run log.
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "core/json.h"
#include "http/params.h"
#include "http/server.h"
#include "schedule/next.h"
#include "store/migrations.h"

namespace lsh::http {

using nlohmann::json;

namespace {

bool IsActiveStatus(const std::string& s) {
  return s == "queued" || s == "running";
}

// Reads the bytes of `path` from `offset` on (at most `max`).
std::string ReadFrom(const std::string& path, uint64_t offset, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  std::string buf(max, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(max));
  buf.resize(static_cast<size_t>(in.gcount()));
  return buf;
}

}  // namespace

void HttpServer::AddRunRoutes() {
  router_.Add("POST", "/jobs/:id/trigger", [this](Ctx& c) {
    int wait_s = 0;
    if (c.req.has_param("wait")) {
      std::string v = c.req.get_param_value("wait");
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0 || n > 3600)
        return SendError(
            c.res, Error::Invalid("wait must be a whole number of seconds from 0 to 3600", "wait"));
      wait_s = static_cast<int>(n);
    }
    std::optional<store::IdempotentCreate> idem;
    if (c.req.has_header("Idempotency-Key")) {
      std::string key = c.req.get_header_value("Idempotency-Key");
      if (key.empty() || key.size() > 255)
        return SendError(c.res, Error::Invalid("Idempotency-Key must be 1 to 255 characters",
                                               "Idempotency-Key"));
      idem = store::IdempotentCreate{key, "POST /jobs/:id/trigger",
                                     store::Checksum(c.params.at("id"))};
    }
    auto out = store_.RunTrigger(c.params.at("id"), idem ? &*idem : nullptr);
    if (!out) return SendError(c.res, out.error());
    dispatcher_.Wake();
    if (out->replayed) c.res.set_header("Idempotent-Replayed", "true");
    json body = {{"status", "triggered"}, {"success", true}, {"jobId", out->run.job_id}};
    Run r = out->run;
    if (out->replayed && wait_s == 0) {
      // The first answer, as it was (its run as it was queued).
      body["run"] = json::parse(out->run_json, nullptr, false);
      return SendJson(c.res, 200, body);
    }
    if (wait_s > 0) {
      bool ended = dispatcher_.WaitRun(r.id, std::chrono::seconds(wait_s));
      if (auto again = store_.RunGet(r.id)) r = *again;
      body["completed"] = ended && !IsActiveStatus(r.status);
      body["exitCode"] = r.exit_code ? json(*r.exit_code) : json(nullptr);
      body["stdout"] = r.stdout_tail;
      body["stderr"] = r.stderr_tail;
    }
    body["run"] = RunToJson(r);
    SendJson(c.res, 200, body);
  });

  router_.Add("POST", "/jobs/:id/start", [this](Ctx& c) {
    SysTime now = clock_.Now();
    auto started = store_.JobStart(c.params.at("id"), [now](const Job& j) {
      return schedule::FirstFire(j.spec.schedule, now);
    });
    if (!started) return SendError(c.res, started.error());
    schedules_.Wake();
    dispatcher_.Wake();
    json body = {{"status", "started"}, {"success", true}, {"job", JobToJson(started->first)}};
    if (started->second) body["run"] = RunToJson(*started->second);
    SendJson(c.res, 200, body);
  });

  router_.Add("POST", "/jobs/:id/stop", [this](Ctx& c) {
    auto body = ParseBody(c.body);
    if (!body) return SendError(c.res, body.error());
    int sig = SIGTERM;
    if (body->is_object() && body->contains("signal")) {
      const json& s = (*body)["signal"];
      std::string name = s.is_string() ? s.get<std::string>() : s.is_number() ? s.dump() : "";
      auto parsed = exec::ParseSignalName(name);
      if (!parsed) return SendError(c.res, parsed.error());
      sig = *parsed;
    } else if (c.req.has_param("signal")) {
      auto parsed = exec::ParseSignalName(c.req.get_param_value("signal"));
      if (!parsed) return SendError(c.res, parsed.error());
      sig = *parsed;
    }
    auto stopped = store_.JobStop(c.params.at("id"));
    if (!stopped) return SendError(c.res, stopped.error());
    dispatcher_.StopRuns(stopped->running_run_ids, sig);
    schedules_.Wake();
    SendJson(c.res, 200,
             {{"status", "stopped"},
              {"success", true},
              {"signal", exec::SignalName(sig)},
              {"stoppedRuns", stopped->running_run_ids},
              {"job", JobToJson(stopped->job)}});
  });

  router_.Add("GET", "/jobs/:id/runs", [this](Ctx& c) {
    auto job = store_.JobGet(c.params.at("id"));
    if (!job) return SendError(c.res, job.error());
    store::RunFilter f;
    f.job_id = job->id;
    if (c.req.has_param("status")) {
      f.status = c.req.get_param_value("status");
      if (std::find_if(std::begin(kRunStatuses), std::end(kRunStatuses),
                       [&](const char* s) { return f.status == s; }) == std::end(kRunStatuses))
        return SendError(c.res, Error::Invalid("status must be one of queued, running, "
                                               "completed, failed, killed, timeout; not '" +
                                                   f.status + "'",
                                               "status"));
    }
    auto limit = LimitParam(c.req, 50, 1000);
    if (!limit) return SendError(c.res, limit.error());
    f.limit = *limit;
    f.cursor = c.req.get_param_value("cursor");
    auto page = store_.RunList(f);
    if (!page) return SendError(c.res, page.error());
    json arr = json::array();
    for (const auto& r : page->runs) arr.push_back(RunToJson(r));
    if (!page->next_cursor.empty()) {
      std::string prefix = c.req.path.rfind("/api", 0) == 0 ? "/api" : "";
      std::string link = prefix + "/jobs/" + UrlEncode(job->id) +
                         "/runs?limit=" + std::to_string(f.limit) +
                         "&cursor=" + UrlEncode(page->next_cursor);
      if (!f.status.empty()) link += "&status=" + UrlEncode(f.status);
      c.res.set_header("Link", "<" + link + ">; rel=\"next\"");
    }
    SendJson(c.res, 200, arr);
  });

  router_.Add("GET", "/runs/:id", [this](Ctx& c) {
    auto run = store_.RunGet(c.params.at("id"));
    if (!run) return SendError(c.res, run.error());
    SendJson(c.res, 200, RunToJson(*run));
  });

  router_.Add("GET", "/runs/:id/log", [this](Ctx& c) {
    std::string stream = c.req.has_param("stream") ? c.req.get_param_value("stream") : "stdout";
    if (stream != "stdout" && stream != "stderr")
      return SendError(c.res, Error::Invalid("stream must be stdout or stderr", "stream"));
    auto run = store_.RunGet(c.params.at("id"));
    if (!run) return SendError(c.res, run.error());
    std::string path = dispatcher_.LogPath(run->id, stream);
    if (!TrueParam(c.req, "follow") || !IsActiveStatus(run->status)) {
      std::ifstream in(path, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in && text.empty()) text = stream == "stdout" ? run->stdout_tail : run->stderr_tail;
      c.res.status = 200;
      c.res.set_content(text, "text/plain; charset=utf-8");
      return;
    }
    // follow=1: stream what the run writes until it ends. The log file is
    // the source; the run's state says when to stop.
    std::string run_id = run->id;
    auto offset = std::make_shared<uint64_t>(0);
    c.res.set_header("Cache-Control", "no-cache");
    c.res.set_header("X-Accel-Buffering", "no");
    c.res.set_chunked_content_provider(
        "text/plain; charset=utf-8", [this, path, run_id, offset](size_t, httplib::DataSink& sink) {
          while (true) {
            std::string chunk = ReadFrom(path, *offset, 64 * 1024);
            if (!chunk.empty()) {
              *offset += chunk.size();
              return sink.write(chunk.data(), chunk.size());
            }
            bool active = dispatcher_.IsActive(run_id);
            if (!active) {
              auto r = store_.RunGet(run_id);
              if (!r || !IsActiveStatus(r->status)) {
                std::string rest = ReadFrom(path, *offset, 64 * 1024 * 1024);
                if (!rest.empty()) {
                  *offset += rest.size();
                  if (!sink.write(rest.data(), rest.size())) return false;
                }
                sink.done();
                return true;
              }
            }
            if (shutting_down() || !sink.is_writable()) return false;
            // Output arrives in the file; look again shortly (like tail -f).
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        });
  });
}

}  // namespace lsh::http
