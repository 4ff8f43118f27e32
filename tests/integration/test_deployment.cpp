// The seed's deployment check (scripts/test_lsh_deployment.sh) against a
// running daemon, with and without an API key: the three endpoints, then a
// job created, triggered, seen completing in the event log, and deleted.
#include <catch2/catch.hpp>
#include <cstdio>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TestDaemon;

namespace {
int RunScript(const std::string& env, std::string& out) {
  std::string cmd = env + " bash " LSH_SOURCE_DIR "/scripts/test_lsh_deployment.sh 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return pclose(p);
}
}  // namespace

TEST_CASE("the seed's deployment check passes against the daemon", "[deployment]") {
  TestDaemon d;
  d.Start();
  std::string out;
  int rc = RunScript("LSH_API_URL=http://127.0.0.1:" + std::to_string(d.port()), out);
  INFO(out);
  CHECK(rc == 0);
  for (const char* step : {"Health check passed", "Job created", "Job triggered",
                           "Completion event received", "Job deleted", "All tests passed"})
    CHECK(out.find(step) != std::string::npos);
  // It cleaned up: no job is left, and its events tell the whole story.
  CHECK(Json(d.Get("/jobs")).empty());
  auto events = Json(d.Get("/events.json"));
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e["type"]);
  CHECK(types == std::vector<std::string>{"job:created", "run:queued", "job:started",
                                          "job:completed", "job:deleted"});
}

TEST_CASE("the deployment check fails and cleans up when the job never completes", "[deployment]") {
  TestDaemon::Options o;
  o.env["LSH_MAX_CONCURRENT_JOBS"] = "1";
  TestDaemon d(o);
  d.Start();
  // Occupy the only slot, so the script's job stays queued.
  REQUIRE(d.Post("/jobs", {{"name", "hog"}, {"command", "sleep 30"}})->status == 201);
  REQUIRE(d.Post("/jobs/hog/trigger", nlohmann::json::object())->status == 200);
  REQUIRE(lsh::test::WaitFor([&] { return Json(d.Get("/jobs/hog"))["status"] == "running"; }));
  std::string out;
  int rc = RunScript(
      "LSH_API_URL=http://127.0.0.1:" + std::to_string(d.port()) + " LSH_DEPLOY_CHECK_TIMEOUT=1",
      out);
  INFO(out);
  CHECK(rc != 0);
  CHECK(out.find("No completion event within 1s") != std::string::npos);
  CHECK(out.find("All tests passed") == std::string::npos);
  auto jobs = Json(d.Get("/jobs"));
  REQUIRE(jobs.size() == 1);  // the script deleted its job on the way out
  CHECK(jobs[0]["name"] == "hog");
  d.Post("/jobs/hog/stop", nlohmann::json::object());
}

TEST_CASE("the deployment check sends the key and fails without it", "[deployment]") {
  TestDaemon::Options o;
  o.env["LSH_API_KEY"] = "deploy-key";
  TestDaemon d(o);
  d.Start();
  std::string url = "LSH_API_URL=http://127.0.0.1:" + std::to_string(d.port()) + "/api";
  std::string ok_out, bad_out;
  CHECK(RunScript(url + " LSH_API_KEY=deploy-key", ok_out) == 0);
  CHECK(ok_out.find("All tests passed") != std::string::npos);
  CHECK(RunScript(url + " LSH_API_KEY=", bad_out) != 0);
  CHECK(bad_out.find("Status check failed") != std::string::npos);
}
