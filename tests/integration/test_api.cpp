// The REST API against the real lshd binary on port 0 with a temp database:
// every route's success and error paths, both prefixes, auth, CORS,
// Idempotency-Key, persistence across a clean restart.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TestDaemon;
using nlohmann::json;

namespace {
json Job(const std::string& name, json extra = json::object()) {
  json j = {{"name", name}, {"command", "echo " + name}};
  j.update(extra);
  return j;
}
void CheckError(const httplib::Result& r, int status, const std::string& code) {
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == status);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  json j = Json(r);
  CHECK(j["error"].is_string());
  CHECK(!j["error"].get<std::string>().empty());
  CHECK(j["code"] == code);
  CHECK(j["timestamp"].is_string());
}
}  // namespace

TEST_CASE("health, root and status answer with the documented shapes", "[api]") {
  TestDaemon d;
  d.Start();
  for (std::string prefix : {"", "/api"}) {
    auto h = d.Get(prefix + "/health");
    CHECK(h->status == 200);
    json hj = Json(h);
    CHECK(hj["status"] == "healthy");
    CHECK(hj["service"] == "LSH Daemon");
    CHECK(hj["uptime"].is_number());
    CHECK(hj["active_commands"].is_number());
    CHECK(hj["timestamp"].is_string());
    auto root = d.Get(prefix + "/");
    CHECK(root->status == 200);
    CHECK(Json(root)["endpoints"].is_array());
    auto s = d.Get(prefix + "/status");
    CHECK(s->status == 200);
    json sj = Json(s);
    CHECK(sj["running"] == true);
    CHECK(sj["pid"] == d.pid());
    CHECK(sj["uptime"].is_number());
    CHECK(sj["memoryUsage"]["heapUsed"].is_number());
    CHECK(sj["memoryUsage"]["rss"].get<int64_t>() > 0);
    CHECK(sj["jobs"]["total"] == 0);
    CHECK(sj["db"]["schemaVersion"].get<int>() >= 1);
    CHECK(sj["outbox"]["pending"] == 0);
  }
}

TEST_CASE("jobs: create, get by id and name, list, patch, delete", "[api]") {
  TestDaemon d;
  d.Start();
  auto created = d.Post(
      "/jobs",
      Job("nightly-etl", {{"schedule", {{"cron", "0 3 * * *"}, {"timezone", "Europe/Berlin"}}},
                          {"tags", {"etl"}},
                          {"timeout", 300000}}));
  REQUIRE(created->status == 201);
  json job = Json(created);
  std::string id = job["id"];
  CHECK(job["name"] == "nightly-etl");
  CHECK(job["job_name"] == "nightly-etl");
  CHECK(job["status"] == "scheduled");
  CHECK(job["type"] == "shell");
  CHECK(job["schedule"]["timezone"] == "Europe/Berlin");
  CHECK(job["schedule"]["nextRun"].is_string());
  CHECK(job["timeout"] == 300000);
  CHECK(created->get_header_value("Location") == "/jobs/" + id);

  CHECK(Json(d.Get("/jobs/" + id))["name"] == "nightly-etl");
  CHECK(Json(d.Get("/api/jobs/nightly-etl"))["id"] == id);

  auto plain = d.Post("/api/jobs", Job("plain"));
  REQUIRE(plain->status == 201);
  CHECK(Json(plain)["status"] == "created");

  auto list = d.Get("/jobs");
  REQUIRE(list->status == 200);
  json arr = Json(list);
  REQUIRE(arr.is_array());
  REQUIRE(arr.size() == 2);
  CHECK(arr[0]["name"] == "plain");  // newest first
  CHECK(list->get_header_value("X-Total-Count") == "2");
  CHECK(Json(d.Get("/jobs?status=scheduled")).size() == 1);
  CHECK(Json(d.Get("/jobs?tag=etl")).size() == 1);
  CHECK(Json(d.Get("/jobs?name=etl")).size() == 1);

  auto patched = d.Patch("/jobs/nightly-etl", {{"command", "echo new"}, {"priority", 9}});
  REQUIRE(patched->status == 200);
  json pj = Json(patched);
  CHECK(pj["command"] == "echo new");
  CHECK(pj["priority"] == 9);
  CHECK(pj["version"] == 2);
  CHECK(pj["schedule"]["cron"] == "0 3 * * *");

  auto del = d.Delete("/jobs/" + id);
  REQUIRE(del->status == 200);
  json dj = Json(del);
  CHECK(dj["success"] == true);
  CHECK(dj["id"] == id);
  CheckError(d.Get("/jobs/" + id), 404, "job_not_found");
  CHECK(Json(d.Get("/jobs/" + id))["error"] == "Job not found");
  CheckError(d.Delete("/jobs/" + id), 404, "job_not_found");
}

TEST_CASE("jobs: pagination with a cursor and Link header", "[api]") {
  TestDaemon d;
  d.Start();
  for (int i = 0; i < 7; ++i) REQUIRE(d.Post("/jobs", Job("p" + std::to_string(i)))->status == 201);
  std::string next = "/api/jobs?limit=3";
  std::vector<std::string> names;
  int pages = 0;
  while (!next.empty()) {
    auto r = d.Get(next);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("X-Total-Count") == "7");
    for (auto& j : Json(r)) names.push_back(j["name"]);
    ++pages;
    std::string link = r->get_header_value("Link");
    next.clear();
    if (!link.empty()) {
      CHECK(link.find("rel=\"next\"") != std::string::npos);
      next = link.substr(1, link.find('>') - 1);
      CHECK(next.rfind("/api/jobs?", 0) == 0);
    }
  }
  CHECK(pages == 3);
  CHECK(names == std::vector<std::string>{"p6", "p5", "p4", "p3", "p2", "p1", "p0"});
}

TEST_CASE("jobs: bad input is a 4xx naming the problem and changes nothing", "[api]") {
  TestDaemon d;
  d.Start();
  auto missing = d.Post("/jobs", {{"command", "x"}});
  CheckError(missing, 400, "validation_failed");
  CHECK(Json(missing)["error"] == "Job name is required");
  CHECK(Json(missing)["field"] == "name");

  auto cli = d.Client();
  auto malformed = cli->Post("/jobs", "{\"name\": ", "application/json");
  CheckError(malformed, 400, "malformed_json");

  auto cron = d.Post("/jobs", Job("c", {{"schedule", {{"cron", "bad"}}}}));
  CheckError(cron, 400, "validation_failed");
  CHECK(Json(cron)["field"] == "schedule.cron");
  auto tz = d.Post("/jobs",
                   Job("c", {{"schedule", {{"cron", "0 3 * * *"}, {"timezone", "Nowhere/City"}}}}));
  CHECK(Json(tz)["field"] == "schedule.timezone");
  CHECK(Json(d.Post("/jobs", Job("c", {{"schedule", {{"interval", -5}}}})))["field"] ==
        "schedule.interval");
  CHECK(Json(d.Post("/jobs", Job("c", {{"priority", "high"}})))["field"] == "priority");
  CHECK(Json(d.Get("/jobs?status=sleeping"))["field"] == "status");
  CHECK(d.Get("/jobs?limit=0")->status == 400);
  CHECK(d.Get("/jobs?limit=abc")->status == 400);
  CHECK(d.Get("/export/jobs?format=xml")->status == 400);

  REQUIRE(d.Post("/jobs", Job("dup"))->status == 201);
  CheckError(d.Post("/jobs", Job("dup")), 409, "duplicate_name");
  CHECK(Json(d.Patch("/jobs/dup", {{"timeout", "soon"}}))["field"] == "timeout");
  CheckError(d.Patch("/jobs/nope", {{"command", "x"}}), 404, "job_not_found");

  CheckError(d.Get("/no/such/route"), 404, "route_not_found");
  CheckError(d.Get("/api/nope"), 404, "route_not_found");
  auto m = cli->Put("/jobs", "{}", "application/json");
  CheckError(m, 405, "method_not_allowed");
  CHECK(m->get_header_value("Allow").find("POST") != std::string::npos);

  // Nothing above changed the one job there is.
  json all = Json(d.Get("/jobs"));
  REQUIRE(all.size() == 1);
  CHECK(all[0]["version"] == 1);
  CHECK(Json(d.Get("/status"))["jobs"]["total"] == 1);
}

TEST_CASE("an empty POST body reads as {}", "[api]") {
  TestDaemon d;
  d.Start();
  auto cli = d.Client();
  auto r = cli->Post("/jobs", "", "application/json");
  CheckError(r, 400, "validation_failed");
  CHECK(Json(r)["error"] == "Job name is required");
}

TEST_CASE("an oversize body is a 413 with a JSON error", "[api]") {
  TestDaemon::Options o;
  o.env["LSH_MAX_BODY_BYTES"] = "2048";
  TestDaemon d(o);
  d.Start();
  std::string big(10000, 'x');
  auto r = d.Post("/jobs", Job("big", {{"description", big}}));
  CheckError(r, 413, "body_too_large");
  CHECK(Json(d.Get("/status"))["jobs"]["total"] == 0);
}

TEST_CASE("bulk creates each item independently", "[api]") {
  TestDaemon d;
  d.Start();
  json body = {{"jobs", {Job("b1"), {{"name", "b2"}}, Job("b3"), Job("b1")}}};
  auto r = d.Post("/jobs/bulk", body);
  REQUIRE(r->status == 200);
  json res = Json(r)["results"];
  REQUIRE(res.size() == 4);
  CHECK(res[0]["success"] == true);
  CHECK(res[0]["job"]["name"] == "b1");
  CHECK(res[1]["success"] == false);
  CHECK(res[1]["error"] == "Job command is required");
  CHECK(res[1]["jobSpec"]["name"] == "b2");
  CHECK(res[2]["success"] == true);
  CHECK(res[3]["success"] == false);
  CHECK(res[3]["error"].get<std::string>().find("already exists") != std::string::npos);
  CHECK(Json(d.Get("/jobs")).size() == 2);
  CheckError(d.Post("/api/jobs/bulk", {{"jobs", 5}}), 400, "validation_failed");
}

TEST_CASE("export as JSON and CSV", "[api]") {
  TestDaemon d;
  d.Start();
  REQUIRE(d.Post("/jobs", Job("e1", {{"command", "echo \"a,b\""}}))->status == 201);
  REQUIRE(d.Post("/jobs", Job("e2", {{"schedule", {{"interval", 60000}}}}))->status == 201);
  auto j = d.Get("/export/jobs");
  REQUIRE(j->status == 200);
  CHECK(Json(j).size() == 2);
  auto c = d.Get("/api/export/jobs?format=csv");
  REQUIRE(c->status == 200);
  CHECK(c->get_header_value("Content-Type").rfind("text/csv", 0) == 0);
  CHECK(c->body.rfind("id,name,command,", 0) == 0);
  CHECK(c->body.find("\"echo \"\"a,b\"\"\"") != std::string::npos);
  CHECK(c->body.find("every 60000ms") != std::string::npos);
  CHECK(std::count(c->body.begin(), c->body.end(), '\n') == 3);
}

TEST_CASE("with LSH_API_KEY every route but /health needs the key", "[api][auth]") {
  TestDaemon::Options o;
  o.env["LSH_API_KEY"] = "s3cret-key";
  TestDaemon d(o);
  d.Start();
  CHECK(d.Get("/health")->status == 200);
  CHECK(d.Get("/api/health")->status == 200);
  auto denied = d.Get("/jobs");
  CheckError(denied, 401, "unauthorized");
  CHECK(Json(denied)["error"] == "Authentication required");
  CHECK(d.Get("/status")->status == 401);
  CHECK(d.Get("/nope")->status == 401);  // unknown routes do not leak past auth
  CHECK(d.Post("/jobs", Job("x"))->status == 401);
  CHECK(d.Get("/jobs", {{"X-API-Key", "wrong"}})->status == 401);
  CHECK(d.Get("/jobs", {{"X-API-Key", "s3cret-ke"}})->status == 401);
  CHECK(d.Get("/jobs", {{"X-API-Key", "s3cret-key2"}})->status == 401);
  CHECK(d.Get("/jobs", {{"X-API-Key", "s3cret-key"}})->status == 200);
  CHECK(d.Get("/api/status", {{"Authorization", "Bearer s3cret-key"}})->status == 200);
  CHECK(d.Post("/jobs", Job("x"), {{"Authorization", "Bearer s3cret-key"}})->status == 201);
  CHECK(Json(d.Get("/jobs", {{"X-API-Key", "s3cret-key"}})).size() == 1);
}

TEST_CASE("CORS: allowlisted origins get headers and preflight answers", "[api][cors]") {
  TestDaemon::Options o;
  o.env["LSH_CORS_ORIGINS"] = "https://dash.example,http://localhost:8501";
  o.env["LSH_API_KEY"] = "k";
  TestDaemon d(o);
  d.Start();
  auto cli = d.Client();
  httplib::Headers pre = {{"Origin", "https://dash.example"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "content-type,x-api-key"}};
  auto r = cli->Options("/api/jobs", pre);
  REQUIRE(r);
  CHECK(r->status == 204);  // preflight needs no key
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "https://dash.example");
  CHECK(r->get_header_value("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  std::string allow_headers = r->get_header_value("Access-Control-Allow-Headers");
  for (const char* h :
       {"Authorization", "Content-Type", "X-API-Key", "Last-Event-ID", "Idempotency-Key"})
    CHECK(allow_headers.find(h) != std::string::npos);
  auto get = d.Get("/jobs", {{"Origin", "http://localhost:8501"}, {"X-API-Key", "k"}});
  CHECK(get->get_header_value("Access-Control-Allow-Origin") == "http://localhost:8501");
  CHECK(get->get_header_value("Access-Control-Expose-Headers").find("X-Total-Count") !=
        std::string::npos);
  auto evil = d.Get("/jobs", {{"Origin", "https://evil.example"}, {"X-API-Key", "k"}});
  CHECK(!evil->has_header("Access-Control-Allow-Origin"));
  auto evil_pre = cli->Options(
      "/jobs", {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  REQUIRE(evil_pre);
  CHECK(!evil_pre->has_header("Access-Control-Allow-Origin"));
}

TEST_CASE("Idempotency-Key replays the first response and another body is a 409", "[api]") {
  TestDaemon d;
  d.Start();
  httplib::Headers key = {{"Idempotency-Key", "req-42"}};
  auto first = d.Post("/jobs", Job("idem"), key);
  REQUIRE(first->status == 201);
  auto again = d.Post("/api/jobs", Job("idem"), key);
  REQUIRE(again->status == 201);
  CHECK(again->body == first->body);
  CHECK(again->get_header_value("Idempotent-Replayed") == "true");
  CheckError(d.Post("/jobs", Job("other"), key), 409, "idempotency_key_reused");
  CHECK(Json(d.Get("/jobs")).size() == 1);
  // A different key for the same name is an ordinary duplicate.
  CHECK(d.Post("/jobs", Job("idem"), {{"Idempotency-Key", "req-43"}})->status == 409);
}

TEST_CASE("Idempotency-Key on a trigger queues one run and replays its first answer", "[api]") {
  TestDaemon d;
  d.Start();
  REQUIRE(d.Post("/jobs", Job("once"))->status == 201);
  REQUIRE(d.Post("/jobs", Job("twice"))->status == 201);
  httplib::Headers key = {{"Idempotency-Key", "trig-1"}};
  auto first = d.Post("/jobs/once/trigger", json::object(), key);
  REQUIRE(first->status == 200);
  auto again = d.Post("/api/jobs/once/trigger", json::object(), key);
  REQUIRE(again->status == 200);
  CHECK(again->get_header_value("Idempotent-Replayed") == "true");
  CHECK(Json(again)["run"]["id"] == Json(first)["run"]["id"]);
  CHECK(Json(again)["run"]["status"] == "queued");  // the first answer, as it was
  CHECK(Json(d.Get("/jobs/once/runs")).size() == 1);
  // The key names one request: another job, or a create, is a conflict.
  CheckError(d.Post("/jobs/twice/trigger", json::object(), key), 409, "idempotency_key_reused");
  CheckError(d.Post("/jobs", Job("three"), key), 409, "idempotency_key_reused");
  CHECK(Json(d.Get("/jobs/twice/runs")).empty());
  CheckError(
      d.Post("/jobs/once/trigger", json::object(), {{"Idempotency-Key", std::string(256, 'k')}}),
      400, "validation_failed");
}

TEST_CASE("jobs persist across a clean restart", "[api]") {
  TestDaemon d;
  d.Start();
  std::string id =
      Json(d.Post("/jobs", Job("keep", {{"schedule", {{"interval", 3600000}}}})))["id"];
  REQUIRE(d.Patch("/jobs/keep", {{"description", "still here"}})->status == 200);
  CHECK(d.Terminate() == 0);
  CHECK(d.stderr_text().find("stopped cleanly") != std::string::npos);
  d.Restart();
  json j = Json(d.Get("/jobs/" + id));
  CHECK(j["name"] == "keep");
  CHECK(j["description"] == "still here");
  CHECK(j["version"] == 2);
  CHECK(j["schedule"]["interval"] == 3600000);
  // A clean shutdown checkpoints: the WAL is empty afterwards.
  CHECK(d.Terminate() == 0);
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT count(*) FROM boots WHERE stopped_at IS NOT NULL");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getInt() == 2);
}

TEST_CASE("the daemon refuses a public address without a key", "[api]") {
  auto r = lsh::test::RunLshd({"serve", "--host", "0.0.0.0", "--port", "0"}, {{"LSH_API_KEY", ""}});
  CHECK(r.status == 2);
  CHECK(r.err.find("LSH_API_KEY") != std::string::npos);
  CHECK(r.err.find("--insecure") != std::string::npos);
}

TEST_CASE("lshd --help, --version and a bad command", "[api][cli]") {
  auto help = lsh::test::RunLshd({"--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("lshd serve") != std::string::npos);
  auto none = lsh::test::RunLshd({});
  CHECK(none.status == 0);
  CHECK(none.out.find("Usage") != std::string::npos);
  auto ver = lsh::test::RunLshd({"--version"});
  CHECK(ver.status == 0);
  CHECK(ver.out.rfind("lshd 0.", 0) == 0);
  auto bad = lsh::test::RunLshd({"frobnicate"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("unknown command") != std::string::npos);
}

TEST_CASE("lshd migrate applies and reports and a newer database is refused", "[api][cli]") {
  lsh::test::TempDir dir;
  std::string db = dir.path() + "/m.db";
  auto r = lsh::test::RunLshd({"migrate", "--db", db});
  CHECK(r.status == 0);
  CHECK(r.out.find("applied 0001_init") != std::string::npos);
  auto again = lsh::test::RunLshd({"migrate", "--db", db});
  CHECK(again.status == 0);
  CHECK(again.out.find("applied") == std::string::npos);
  {
    SQLite::Database w(db, SQLite::OPEN_READWRITE);
    w.exec("INSERT INTO schema_migrations VALUES (999, 'future', 'x', '2030-01-01T00:00:00Z')");
  }
  auto refused = lsh::test::RunLshd({"serve", "--port", "0", "--db", db, "--metrics-port", "0"});
  CHECK(refused.status == 1);
  CHECK(refused.err.find("newer than this lshd binary") != std::string::npos);
}
