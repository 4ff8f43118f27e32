// Prometheus metrics (API.md "Metrics"): the exposition passes promtool's
// checks after real traffic, and the counters equal the traffic sent.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TempDir;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string Scrape(const TestDaemon& d) {
  httplib::Client cli("127.0.0.1", d.metrics_port());
  auto r = cli.Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  return r->body;
}

// The value of one series, given its name and exact label text
// ("" for none, or `{code="201",method="POST",route="/jobs"}`).
std::optional<double> Value(const std::string& text, const std::string& name,
                            const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    std::string series = line.substr(0, sp);
    std::string metric = series.substr(0, series.find('{'));
    if (metric != name) continue;
    bool all = true;
    for (const auto& [k, v] : labels)
      all = all && series.find(k + "=\"" + v + "\"") != std::string::npos;
    if (all) return std::stod(line.substr(sp + 1));
  }
  return std::nullopt;
}

// promtool check metrics reads the exposition on stdin; returns its output
// and sets ok when it found no problem.
std::string Promtool(const std::string& text, bool& ok) {
  TempDir dir;
  std::string in = dir.path() + "/scrape.txt";
  std::ofstream(in) << text;
  std::string cmd = "promtool check metrics < " + in + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  ok = st == 0;
  return out;
}

}  // namespace

TEST_CASE("metrics: promtool accepts a scrape after real traffic", "[metrics]") {
  TestDaemon d;
  d.Start();
  REQUIRE(d.metrics_port() > 0);
  for (int i = 0; i < 3; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "p" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  REQUIRE(d.Post("/jobs/p0/trigger?wait=20", nullptr)->status == 200);
  REQUIRE(d.Get("/jobs/nope")->status == 404);
  std::string text = Scrape(d);
  bool ok = false;
  std::string out = Promtool(text, ok);
  INFO(text);
  INFO(out);
  CHECK(ok);
  // Every metric API.md and issue 4 name is present.
  for (const char* m :
       {"lsh_http_requests_total", "lsh_http_request_duration_seconds_bucket", "lsh_jobs",
        "lsh_runs_total", "lsh_run_duration_seconds_count", "lsh_runs_queued", "lsh_runs_running",
        "lsh_events_total", "lsh_sse_clients", "lsh_outbox_pending",
        "lsh_outbox_oldest_pending_age_seconds", "lsh_db_size_bytes",
        "process_resident_memory_bytes", "process_start_time_seconds"})
    CHECK(Value(text, m).has_value());
  CHECK(*Value(text, "lsh_db_size_bytes") > 0);
  CHECK(*Value(text, "process_resident_memory_bytes") > 1e6);
}

TEST_CASE("metrics: counters equal the traffic sent", "[metrics]") {
  TestDaemon d;
  d.Start();
  constexpr int kCreates = 7, kLists = 5, kMissing = 3, kGets = 4, kOk = 3, kFail = 2;
  for (int i = 0; i < kCreates; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "c" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  REQUIRE(d.Post("/jobs", {{"name", "bad"}, {"command", "exit 3"}})->status == 201);
  for (int i = 0; i < kLists; ++i) REQUIRE(d.Get("/jobs")->status == 200);
  for (int i = 0; i < kMissing; ++i)
    REQUIRE(d.Get("/jobs/missing-" + std::to_string(i))->status == 404);
  // Raw paths differ; the label is the pattern, with or without /api.
  for (int i = 0; i < kGets; ++i)
    REQUIRE(d.Get((i % 2 ? "/api/jobs/c" : "/jobs/c") + std::to_string(i))->status == 200);
  for (int i = 0; i < kOk; ++i) REQUIRE(d.Post("/jobs/c0/trigger?wait=20", nullptr)->status == 200);
  for (int i = 0; i < kFail; ++i)
    REQUIRE(d.Post("/jobs/bad/trigger?wait=20", nullptr)->status == 200);
  REQUIRE(d.Get("/no/such/route")->status == 404);

  std::string text = Scrape(d);
  INFO(text);
  auto requests = [&](const std::string& route, const std::string& method,
                      const std::string& code) {
    return Value(text, "lsh_http_requests_total",
                 {{"route", route}, {"method", method}, {"code", code}})
        .value_or(-1);
  };
  CHECK(requests("/jobs", "POST", "201") == kCreates + 1);
  CHECK(requests("/jobs", "GET", "200") == kLists);
  CHECK(requests("/jobs/:id", "GET", "404") == kMissing);
  CHECK(requests("/jobs/:id", "GET", "200") == kGets);
  CHECK(requests("/jobs/:id/trigger", "POST", "200") == kOk + kFail);
  CHECK(requests("unmatched", "GET", "404") == 1);
  // No series is labelled with a raw path.
  CHECK(text.find("route=\"/jobs/c1\"") == std::string::npos);
  CHECK(text.find("route=\"/api/") == std::string::npos);
  CHECK(Value(text, "lsh_http_request_duration_seconds_count",
              {{"route", "/jobs"}, {"method", "POST"}})
            .value_or(-1) == kCreates + 1);

  CHECK(Value(text, "lsh_runs_total", {{"status", "completed"}}).value_or(-1) == kOk);
  CHECK(Value(text, "lsh_runs_total", {{"status", "failed"}}).value_or(-1) == kFail);
  CHECK(Value(text, "lsh_runs_total", {{"status", "timeout"}}).value_or(-1) == 0);
  CHECK(Value(text, "lsh_run_duration_seconds_count").value_or(-1) == kOk + kFail);

  // Gauges read the database as it is: they agree with /status.
  json status = Json(d.Get("/status"));
  CHECK(Value(text, "lsh_jobs", {{"status", "completed"}}).value_or(-1) ==
        status["jobs"]["completed"].get<double>());
  CHECK(Value(text, "lsh_jobs", {{"status", "failed"}}).value_or(-1) ==
        status["jobs"]["failed"].get<double>());
  double jobs_total = 0;
  for (const char* s : {"created", "scheduled", "running", "stopped", "completed", "failed"})
    jobs_total += Value(text, "lsh_jobs", {{"status", s}}).value_or(0);
  CHECK(jobs_total == kCreates + 1);
  CHECK(Value(text, "lsh_runs_queued").value_or(-1) == 0);
  CHECK(Value(text, "lsh_runs_running").value_or(-1) == 0);
  CHECK(Value(text, "lsh_events_total").value_or(-1) == status["events"]["newestId"].get<double>());
  CHECK(Value(text, "lsh_outbox_pending").value_or(-1) ==
        status["outbox"]["pending"].get<double>());
  CHECK(Value(text, "lsh_sse_clients").value_or(-1) == 0);

  // The metrics port is not the API: no key needed, anything else is a 404.
  httplib::Client cli("127.0.0.1", d.metrics_port());
  auto other = cli.Get("/jobs");
  REQUIRE(other);
  CHECK(other->status == 404);
}

TEST_CASE("metrics: the port is configurable and a taken port is a clear startup error",
          "[metrics]") {
  TestDaemon a;
  a.Start();
  TempDir dir;
  auto r = lsh::test::RunLshd({"serve", "--port", "0", "--db", dir.path() + "/lsh.db",
                               "--metrics-port", std::to_string(a.metrics_port())});
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot listen for metrics") != std::string::npos);
  CHECK(r.err.find("LSH_METRICS_PORT") != std::string::npos);
}

TEST_CASE("a taken API port is a clear startup error, not a shared port", "[metrics]") {
  TestDaemon a;
  a.Start();
  TempDir dir;
  auto r = lsh::test::RunLshd({"serve", "--port", std::to_string(a.port()), "--db",
                               dir.path() + "/lsh.db", "--metrics-port", "0"});
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot listen on") != std::string::npos);
}
