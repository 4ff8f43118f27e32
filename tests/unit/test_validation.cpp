// Job body validation: every error names the field at fault.
#include <catch2/catch.hpp>

#include "http/job_request.h"

using namespace lsh;
using nlohmann::json;

namespace {
Error Fails(const json& body) {
  auto r = http::JobSpecFromJson(body);
  INFO(body.dump());
  REQUIRE(!r.ok());
  CHECK(r.error().kind == ErrorKind::kInvalid);
  return r.error();
}
}  // namespace

TEST_CASE("A full create body reads into a JobSpec", "[validation]") {
  json body = json::parse(R"({"name":"nightly-etl","command":"python etl.py",
    "schedule":{"cron":"0 3 * * *","timezone":"Europe/Berlin"},"type":"shell",
    "description":"d","tags":["etl","etl","x"],"priority":7,"timeout":300000,"maxRetries":3,
    "retryDelay":60000,"env":{"K":"V","N":1},"cwd":"/data/work","databaseSync":false,
    "id":"ignored","status":"ignored"})");
  auto r = http::JobSpecFromJson(body);
  REQUIRE(r.ok());
  CHECK(r->name == "nightly-etl");
  CHECK(r->schedule.kind == ScheduleKind::kCron);
  CHECK(r->schedule.cron == "0 3 * * *");
  CHECK(r->schedule.timezone == "Europe/Berlin");
  CHECK(r->tags == std::vector<std::string>{"etl", "x"});
  CHECK(r->priority == 7);
  CHECK(r->timeout_ms == 300000);
  CHECK(r->max_retries == 3);
  CHECK(r->retry_delay_ms == 60000);
  CHECK(r->env.at("K") == "V");
  CHECK(r->env.at("N") == "1");
  CHECK(r->cwd == "/data/work");
  CHECK(!r->database_sync);
}

TEST_CASE("Schedules: interval, at, cron shorthand", "[validation]") {
  auto i =
      http::JobSpecFromJson({{"name", "a"}, {"command", "x"}, {"schedule", {{"interval", 5000}}}});
  REQUIRE(i.ok());
  CHECK(i->schedule.kind == ScheduleKind::kInterval);
  CHECK(i->schedule.interval_ms == 5000);
  auto a = http::JobSpecFromJson(
      {{"name", "a"}, {"command", "x"}, {"schedule", {{"at", "2026-12-01T10:00:00+01:00"}}}});
  REQUIRE(a.ok());
  CHECK(a->schedule.kind == ScheduleKind::kAt);
  REQUIRE(a->schedule.at.has_value());
  auto s = http::JobSpecFromJson({{"name", "a"}, {"command", "x"}, {"schedule", "@hourly"}});
  REQUIRE(s.ok());
  CHECK(s->schedule.kind == ScheduleKind::kCron);
}

TEST_CASE("Missing or wrong fields are named", "[validation]") {
  CHECK(Fails(json::object()).message == "Job name is required");
  CHECK(Fails({{"name", "a"}}).field == "command");
  CHECK(Fails({{"name", ""}, {"command", "x"}}).field == "name");
  CHECK(Fails({{"name", "a/b"}, {"command", "x"}}).field == "name");
  CHECK(Fails({{"name", 5}, {"command", "x"}}).message == "name must be a string, not a number");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"priority", "high"}}).field == "priority");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"priority", 101}}).field == "priority");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"timeout", 0}}).field == "timeout");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"timeout", 1.5}}).field == "timeout");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"maxRetries", -1}}).field == "maxRetries");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"tags", "etl"}}).field == "tags");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"tags", {"ok", 3}}}).field == "tags[1]");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"env", {{"K", {1}}}}}).field == "env.K");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"env", {{"A=B", "v"}}}}).field == "env.A=B");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"cwd", "relative"}}).field == "cwd");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"type", "lambda"}}).field == "type");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"databaseSync", "yes"}}).field == "databaseSync");
  CHECK(Fails({{"name", "a"}, {"command", "x"}, {"shedule", "@daily"}}).field == "shedule");
  CHECK(Fails(json::array()).message == "the request body must be a JSON object");
}

TEST_CASE("Bad schedules are named", "[validation]") {
  auto base = [](json sched) { return json{{"name", "a"}, {"command", "x"}, {"schedule", sched}}; };
  CHECK(Fails(base({{"interval", 0}})).field == "schedule.interval");
  CHECK(Fails(base({{"interval", "5s"}})).field == "schedule.interval");
  CHECK(Fails(base({{"at", "tomorrow"}})).field == "schedule.at");
  CHECK(Fails(base({{"at", "2026-02-30T00:00:00Z"}})).field == "schedule.at");
  CHECK(Fails(base({{"cron", "* * * * *"}, {"interval", 5}})).field == "schedule");
  CHECK(Fails(base(json::object())).field == "schedule");
  CHECK(Fails(base({{"cron", "0 3 * * *"}, {"timezone", "Mars/Olympus"}})).field ==
        "schedule.timezone");
  CHECK(Fails(base({{"cron", "0 3 * * *"}, {"misfirePolicy", "sometimes"}})).field ==
        "schedule.misfirePolicy");
  CHECK(Fails(base({{"cron", "0 3 * * *"}, {"overlapPolicy", "x"}})).field ==
        "schedule.overlapPolicy");
  CHECK(Fails(base({{"cron", "0 3 * * *"}, {"color", "red"}})).field == "schedule.color");
  CHECK(Fails(base(5)).field == "schedule");
}

TEST_CASE("PATCH applies only the given fields", "[validation]") {
  auto base = http::JobSpecFromJson(
      {{"name", "a"}, {"command", "x"}, {"tags", {"t"}}, {"schedule", {{"interval", 1000}}}});
  REQUIRE(base.ok());
  auto p = http::JobSpecPatch(*base, {{"command", "y"}});
  REQUIRE(p.ok());
  CHECK(p->command == "y");
  CHECK(p->name == "a");
  CHECK(p->tags == std::vector<std::string>{"t"});
  CHECK(p->schedule.kind == ScheduleKind::kInterval);
  auto cleared = http::JobSpecPatch(*base, {{"schedule", nullptr}});
  REQUIRE(cleared.ok());
  CHECK(cleared->schedule.kind == ScheduleKind::kNone);
  auto bad = http::JobSpecPatch(*base, {{"name", ""}});
  REQUIRE(!bad.ok());
  CHECK(bad.error().field == "name");
}

// Found by fuzz_job_json: a float outside int64 was cast to int64 (undefined
// behaviour) before its range was checked.
TEST_CASE("A huge float number is a 400 and not undefined behaviour", "[validation]") {
  for (const char* body : {R"({"name":"a","command":"c","priority":1e300})",
                           R"({"name":"a","command":"c","timeout":-1e19})",
                           R"({"name":"a","command":"c","retryDelay":1.7e308})",
                           R"({"name":"a","command":"c","schedule":{"interval":9.3e18}})"}) {
    Error e = Fails(json::parse(body));
    CHECK(e.message.find("must be between") != std::string::npos);
  }
  CHECK(Fails(json::parse(R"({"name":"a","command":"c","priority":2.5})")).field == "priority");
  auto ok = http::JobSpecFromJson(json::parse(R"({"name":"a","command":"c","priority":7.0})"));
  REQUIRE(ok.ok());
  CHECK(ok->priority == 7);
}
