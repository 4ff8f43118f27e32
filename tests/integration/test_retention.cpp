// Retention against the real daemon: under a steady stream of runs the
// rows and log files stay bounded, runs the outbox has not delivered are
// kept, and an SSE client whose cursor was pruned gets `event: reset`.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

int64_t Count(const TestDaemon& d, const std::string& sql) {
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  db.exec("PRAGMA busy_timeout=5000");
  SQLite::Statement q(db, sql);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getInt64();
}

size_t LogFiles(const TestDaemon& d) {
  std::error_code ec;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(d.dir() + "/logs", ec)) {
    (void)e;
    ++n;
  }
  return n;
}

void Trigger(TestDaemon& d, const std::string& job) {
  auto r = d.Post("/jobs/" + job + "/trigger?wait=20", nullptr);
  REQUIRE(r->status == 200);
  REQUIRE(Json(r)["run"]["status"] == "completed");
}

// Reads SSE frames until `n` frames arrived; returns (event, data) pairs.
std::vector<std::pair<std::string, std::string>> ReadFrames(int port, const std::string& last_id,
                                                            size_t n) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(20);
  std::vector<std::pair<std::string, std::string>> frames;
  std::string buf;
  cli.Get(
      "/events", {{"Last-Event-ID", last_id}},
      [&](const httplib::Response& r) { return r.status == 200; },
      [&](const char* data, size_t len) {
        buf.append(data, len);
        size_t end;
        while ((end = buf.find("\n\n")) != std::string::npos) {
          std::string block = buf.substr(0, end);
          buf.erase(0, end + 2);
          std::string event, payload;
          size_t i = 0;
          while (i < block.size()) {
            size_t j = block.find('\n', i);
            if (j == std::string::npos) j = block.size();
            std::string line = block.substr(i, j - i);
            if (line.rfind("event: ", 0) == 0) event = line.substr(7);
            if (line.rfind("data: ", 0) == 0) payload = line.substr(6);
            i = j + 1;
          }
          if (!payload.empty()) frames.emplace_back(event, payload);
          if (frames.size() >= n) return false;
        }
        return true;
      });
  return frames;
}

}  // namespace

TEST_CASE("Retention: rows and log files stay bounded under a steady stream of runs",
          "[retention]") {
  // With a sink that is down, undelivered outbox rows hold their runs; with
  // replication off nothing reads the outbox, so nothing is held.
  bool sink_down = GENERATE(true, false);
  INFO((sink_down ? "sink down" : "replication off"));
  TestDaemon::Options o;
  o.env = {{"LSH_RUNS_PER_JOB", "3"},
           {"LSH_PRUNE_INTERVAL_MS", "50"},
           {"LSH_EVENT_RETENTION_DAYS", "0.00002"}};  // 1.7 s
  if (sink_down) o.env["LSH_SYNC_DATABASE_URL"] = "postgresql://lsh@127.0.0.1:1/nowhere";
  const size_t synced_kept = sink_down ? 5 : 3;
  TestDaemon d(o);
  d.Start();
  // Not replicated: no outbox rows hold its runs.
  REQUIRE(
      d.Post("/jobs",
             {{"name", "steady"}, {"command", "echo out; echo err >&2"}, {"databaseSync", false}})
          ->status == 201);
  // Replicated: with the sink down its outbox rows stay pending, so its
  // runs are kept whole.
  REQUIRE(d.Post("/jobs", {{"name", "synced"}, {"command", "echo kept"}})->status == 201);
  for (int i = 0; i < 5; ++i) Trigger(d, "synced");

  int64_t newest_before = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 8; ++i) Trigger(d, "steady");
    // Bounded: at most 3 runs of the steady job (2 log files each) remain,
    // however many ran.
    INFO("round " << round);
    INFO("lshd stderr:\n" << d.stderr_text());
    CHECK(WaitFor([&] {
      return Count(d,
                   "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
                   "WHERE j.name = 'steady'") == 3;
    }));
    CHECK(WaitFor([&] { return LogFiles(d) == 3 * 2 + synced_kept * 1; }));
    // Events older than the retention go, oldest first.
    // With the sink down, the events it has not received are kept too.
    if (newest_before > 0 && !sink_down)
      CHECK(WaitFor([&] { return Count(d, "SELECT min(id) FROM events") > newest_before; }, 30s));
    if (sink_down) CHECK(Count(d, "SELECT min(id) FROM events") == 1);
    newest_before = Count(d, "SELECT max(id) FROM events");
  }
  CHECK(Count(d,
              "SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id "
              "WHERE j.name = 'synced'") == static_cast<int64_t>(synced_kept));
  // The newest steady runs are the ones kept, and the API still serves them.
  auto runs = Json(d.Get("/jobs/steady/runs"));
  REQUIRE(runs.size() == 3);
  auto log = d.Get("/runs/" + runs[0]["id"].get<std::string>() + "/log?stream=stdout");
  CHECK(log->status == 200);
  CHECK(log->body == "out\n");
}

TEST_CASE("Retention: an SSE cursor pruned by retention gets a reset, then the oldest kept event",
          "[retention][events]") {
  TestDaemon::Options o;
  o.env = {{"LSH_PRUNE_INTERVAL_MS", "50"}, {"LSH_EVENT_RETENTION_DAYS", "0.00001"}};  // 0.9 s
  TestDaemon d(o);
  d.Start();
  for (int i = 0; i < 5; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "e" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  // The pruner removes the old events.
  REQUIRE(WaitFor([&] { return Count(d, "SELECT count(*) FROM events") == 0; }, 10s));
  // New ones arrive and stay long enough to be read.
  o.env["LSH_EVENT_RETENTION_DAYS"] = "7";
  d.options() = o;
  REQUIRE(d.Terminate() == 0);
  d.Restart();
  REQUIRE(d.Post("/jobs", {{"name", "fresh"}, {"command", "true"}})->status == 201);
  auto frames = ReadFrames(d.port(), "2", 3);
  REQUIRE(frames.size() == 3);
  CHECK(json::parse(frames[0].second)["type"] == "connected");
  CHECK(frames[1].first == "reset");
  auto reset = json::parse(frames[1].second);
  CHECK(reset["requestedAfter"] == 2);
  CHECK(reset["oldestId"] == 6);  // ids are never reused
  CHECK(frames[2].first == "job:created");
  CHECK(json::parse(frames[2].second)["id"] == 6);
  CHECK(json::parse(frames[2].second)["data"]["name"] == "fresh");
}

TEST_CASE("Retention and webhook settings with bad values are refused at start", "[retention]") {
  lsh::test::TempDir dir;
  std::vector<std::string> args = {"serve", "--port", "0", "--db", dir.path() + "/x.db"};
  struct Case {
    const char* var;
    const char* value;
  };
  for (auto c : {Case{"LSH_EVENT_RETENTION_DAYS", "-1"}, Case{"LSH_RUN_RETENTION_DAYS", "week"},
                 Case{"LSH_RUNS_PER_JOB", "1.5"}, Case{"LSH_PRUNE_INTERVAL_MS", "0"},
                 Case{"LSH_WEBHOOK_URLS", "http://ok.example/,ftp://bad.example/"},
                 Case{"LSH_WEBHOOK_BACKOFF_MS", "0"}}) {
    INFO(c.var << "=" << c.value);
    auto r = lsh::test::RunLshd(args, {{c.var, c.value}});
    CHECK(r.status == 2);
    CHECK(r.err.find(c.var) != std::string::npos);
  }
}
