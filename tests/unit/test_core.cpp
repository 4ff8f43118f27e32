// Core pieces: time text, UUIDv7 ids, the router, configuration.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>

#include "app/config.h"
#include "core/ids.h"
#include "core/time.h"
#include "http/router.h"

using namespace lsh;

TEST_CASE("Times format as RFC 3339 UTC with milliseconds and parse back", "[core]") {
  auto t = ParseTime("2026-11-28T12:00:00.123Z");
  REQUIRE(t.has_value());
  CHECK(FormatTime(*t) == "2026-11-28T12:00:00.123Z");
  auto off = ParseTime("2026-11-28T13:30:00+01:30");
  REQUIRE(off.has_value());
  CHECK(FormatTime(*off) == "2026-11-28T12:00:00.000Z");
  CHECK(FormatTime(*ParseTime("2028-02-29T23:59:59.5Z")) == "2028-02-29T23:59:59.500Z");
  CHECK(FormatTime(*ParseTime("1969-12-31T23:59:59.999Z")) == "1969-12-31T23:59:59.999Z");
  for (const char* bad : {"", "2026-11-28", "2026-11-28T12:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-29T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T12:00:00ZZ",
                          "2026-11-28T12:00:00+1:00", "2026-11-28T12:00:00.Z"}) {
    INFO(bad);
    CHECK(!ParseTime(bad).has_value());
  }
}

TEST_CASE("UUIDv7 ids are valid, unique and increasing", "[core]") {
  SysTime now = SystemClock::Get().Now();
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewUuidV7(now);  // same millisecond: the counter keeps order
    REQUIRE(IsUuid(id));
    CHECK(id[14] == '7');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    CHECK(id > prev);
    prev = id;
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
  std::string later = NewUuidV7(now + std::chrono::seconds(1));
  CHECK(later > prev);
  CHECK(!IsUuid("not-a-uuid"));
}

TEST_CASE("Router matches patterns with and without /api", "[core][router]") {
  http::Router<int> r;
  r.Add("GET", "/jobs", 1);
  r.Add("GET", "/jobs/:id", 2);
  r.Add("POST", "/jobs/:id/trigger", 3);
  r.Add("GET", "/", 4);
  auto m = r.Find("GET", "/api/jobs/abc");
  REQUIRE(m.handler);
  CHECK(*m.handler == 2);
  CHECK(m.params.at("id") == "abc");
  CHECK(m.pattern == "/jobs/:id");
  CHECK(*r.Find("GET", "/jobs/").handler == 1);
  CHECK(*r.Find("GET", "/api").handler == 4);
  CHECK(*r.Find("GET", "/").handler == 4);
  auto wrong = r.Find("DELETE", "/jobs/abc/trigger");
  CHECK(!wrong.handler);
  CHECK(wrong.method_mismatch);
  CHECK(wrong.allowed == std::vector<std::string>{"POST"});
  auto none = r.Find("GET", "/apix/jobs");
  CHECK(!none.handler);
  CHECK(!none.method_mismatch);
}

TEST_CASE("Config refuses a public address without a key", "[core][config]") {
  unsetenv("LSH_API_KEY");
  auto c = app::LoadConfig({"--host", "0.0.0.0"});
  REQUIRE(!c.ok());
  CHECK(c.error().message.find("LSH_API_KEY") != std::string::npos);
  CHECK(c.error().message.find("--insecure") != std::string::npos);
  CHECK(app::LoadConfig({"--host", "0.0.0.0", "--insecure"}).ok());
  setenv("LSH_API_KEY", "k", 1);
  CHECK(app::LoadConfig({"--host=0.0.0.0"}).ok());
  unsetenv("LSH_API_KEY");
}

TEST_CASE("Config names the bad value", "[core][config]") {
  auto p = app::LoadConfig({"--port", "70000"});
  REQUIRE(!p.ok());
  CHECK(p.error().field == "--port");
  auto u = app::LoadConfig({"--bogus"});
  REQUIRE(!u.ok());
  CHECK(u.error().message.find("--bogus") != std::string::npos);
  setenv("LSH_SYNC", "sometimes", 1);
  auto s = app::LoadConfig({});
  unsetenv("LSH_SYNC");
  REQUIRE(!s.ok());
  CHECK(s.error().field == "LSH_SYNC");
  setenv("LSH_CORS_ORIGINS", "https://a.example, http://localhost:8501/", 1);
  auto cors = app::LoadConfig({});
  unsetenv("LSH_CORS_ORIGINS");
  REQUIRE(cors.ok());
  CHECK(cors->cors_origins ==
        std::vector<std::string>{"https://a.example", "http://localhost:8501"});
}
