// Replication (issue 5, DESIGN promise 6): the real lshd relays to a real
// PostgreSQL 15 started by the test (support/postgres.h), directly through
// libpq or through the PostgREST gateway (support/postgrest_gateway.h) with
// injected faults. Every wait is WaitFor with a deadline.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/daemon.h"
#include "support/postgres.h"
#include "support/postgrest_gateway.h"
#include "support/replica.h"

using lsh::test::Json;
using namespace lsh::test::replica;
using lsh::test::PgConn;
using lsh::test::PgServer;
using lsh::test::PostgrestGateway;
using lsh::test::RunLshd;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("Postgres sink replicates jobs runs retries and deletes with the right columns",
          "[replication][relay]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  TestDaemon d({RelayEnv({{"LSH_SYNC_DATABASE_URL", url}}), {}});
  d.Start();

  json ok = CreateJob(d, {{"name", "ok-job"},
                          {"command", "echo hello"},
                          {"schedule", {{"cron", "0 3 * * *"}, {"timezone", "Europe/Berlin"}}},
                          {"tags", {"a", "b"}},
                          {"env", {{"K", "V"}}},
                          {"timeout", 1500},
                          {"retryDelay", 2000},
                          {"priority", 7}});
  json flaky = CreateJob(
      d, {{"name", "flaky"}, {"command", "exit 3"}, {"maxRetries", 1}, {"retryDelay", 10}});
  json every = CreateJob(
      d, {{"name", "every-minute"}, {"command", "true"}, {"schedule", {{"interval", 60000}}}});
  json doomed = CreateJob(d, {{"name", "doomed"}, {"command", "true"}});
  json priv = CreateJob(d, {{"name", "private"}, {"command", "true"}, {"databaseSync", false}});

  REQUIRE(d.Post("/jobs/ok-job/trigger?wait=20", json(nullptr))->status == 200);
  REQUIRE(d.Post("/jobs/flaky/trigger", json(nullptr))->status == 200);
  REQUIRE(d.Post("/jobs/private/trigger?wait=20", json(nullptr))->status == 200);
  REQUIRE(WaitFor(
      [&] {
        json runs = Json(d.Get("/jobs/flaky/runs"));
        return runs.size() == 2 && runs[0]["status"] == "failed" && runs[1]["status"] == "failed";
      },
      20s));
  REQUIRE(d.Post("/jobs/every-minute/stop", json(nullptr))->status == 200);
  REQUIRE(d.Delete("/jobs/doomed")->status == 200);

  REQUIRE(WaitFor([&] { return Drained(d); }, 20s));
  // Events follow the events table; wait until the newest has arrived.
  int64_t newest = LocalCount(d, "SELECT max(id) FROM events");
  REQUIRE(WaitFor([&] { return pg.Count("SELECT coalesce(max(id), 0) FROM lsh_events") == newest; },
                  20s));
  CheckRemoteEqualsLocal(d, pg);

  auto row = pg.Query(
      "SELECT job_name, command, type, status, cron_expression, interval_seconds, "
      "environment->>'K', array_to_string(tags, ','), timeout_seconds, retry_delay_seconds, "
      "priority, next_run IS NOT NULL, max_retries FROM lsh_jobs WHERE id = $1",
      {ok["id"].get<std::string>()});
  REQUIRE(row.size() == 1);
  CHECK(*row[0][0] == "ok-job");
  CHECK(*row[0][1] == "echo hello");
  CHECK(*row[0][2] == "shell");
  CHECK(*row[0][3] == "active");
  CHECK(*row[0][4] == "0 3 * * *");
  CHECK(!row[0][5]);
  CHECK(*row[0][6] == "V");
  CHECK(*row[0][7] == "a,b");
  CHECK(*row[0][8] == "2");  // 1500 ms, rounded up
  CHECK(*row[0][9] == "2");
  CHECK(*row[0][10] == "7");
  CHECK(*row[0][11] == "t");
  CHECK(*row[0][12] == "0");
  // Its run, with the output.
  auto run = pg.Query(
      "SELECT status, exit_code, stdout, triggered_by, retry_count, hostname <> '', "
      "started_at IS NOT NULL, completed_at IS NOT NULL FROM lsh_job_executions WHERE job_id = $1",
      {ok["id"].get<std::string>()});
  REQUIRE(run.size() == 1);
  CHECK(*run[0][0] == "completed");
  CHECK(*run[0][1] == "0");
  CHECK(*run[0][2] == "hello\n");
  CHECK(*run[0][3] == "manual");
  CHECK(*run[0][4] == "0");
  CHECK(*run[0][5] == "t");
  CHECK(*run[0][6] == "t");
  CHECK(*run[0][7] == "t");
  // The retried job: two executions, the second a retry.
  auto retried = pg.Query(
      "SELECT status, exit_code, triggered_by, retry_count, error_type FROM lsh_job_executions "
      "WHERE job_id = $1 ORDER BY retry_count",
      {flaky["id"].get<std::string>()});
  REQUIRE(retried.size() == 2);
  CHECK(*retried[0][0] == "failed");
  CHECK(*retried[0][1] == "3");
  CHECK(*retried[0][2] == "manual");
  CHECK(*retried[1][2] == "retry");
  CHECK(*retried[1][3] == "1");
  // Interval in seconds; stopped is paused.
  auto ev = pg.Query("SELECT interval_seconds, cron_expression, status FROM lsh_jobs WHERE id = $1",
                     {every["id"].get<std::string>()});
  REQUIRE(ev.size() == 1);
  CHECK(*ev[0][0] == "60");
  CHECK(!ev[0][1]);
  CHECK(*ev[0][2] == "paused");
  // Deleted: archived, its name freed.
  auto gone = pg.Query("SELECT status, job_name FROM lsh_jobs WHERE id = $1",
                       {doomed["id"].get<std::string>()});
  REQUIRE(gone.size() == 1);
  CHECK(*gone[0][0] == "archived");
  CHECK(*gone[0][1] == "doomed [deleted " + doomed["id"].get<std::string>() + "]");
  // A job kept out of replication leaves no trace remotely.
  CHECK(pg.Count("SELECT count(*) FROM lsh_jobs WHERE id = $1", {priv["id"].get<std::string>()}) ==
        0);
  CHECK(pg.Count("SELECT count(*) FROM lsh_events WHERE job_id = $1",
                 {priv["id"].get<std::string>()}) == 0);
  CHECK(pg.Count("SELECT count(*) FROM lsh_events WHERE type = 'job:created' AND job_id = $1",
                 {ok["id"].get<std::string>()}) == 1);
  // A new job may take the deleted one's name; it replicates too.
  json again = CreateJob(d, {{"name", "doomed"}, {"command", "true"}});
  REQUIRE(WaitFor([&] {
    return pg.Count("SELECT count(*) FROM lsh_jobs WHERE id = $1 AND job_name = 'doomed'",
                    {again["id"].get<std::string>()}) == 1;
  }));

  // The sink has the rows; the relay marks them delivered locally just
  // after (its marks commit while it goes on), so wait for that.
  json status;
  CHECK(WaitFor([&] {
    status = Json(d.Get("/status"));
    return status["outbox"]["pending"] == 0;
  }));
  CHECK(status["outbox"]["sink"] == "postgres");
  CHECK(status["outbox"]["parked"] == 0);
  CHECK(status["outbox"]["lastSuccessAt"].is_string());
  CHECK(status["outbox"]["lastError"].is_null());
  json o = Json(d.Get("/api/outbox"));
  CHECK(o["sink"] == "postgres");
  CHECK(o["delivered"].get<int64_t>() > 10);
  CHECK(o["stalled"] == false);
}

TEST_CASE("The remote schema applies on pre-existing tables with rows and twice changes nothing",
          "[replication]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  // What an older deployment may have: fewer columns, rows, no version.
  pg.Exec(
      "CREATE TABLE lsh_jobs (id uuid PRIMARY KEY, job_name text UNIQUE NOT NULL, command text "
      "NOT NULL, status text NOT NULL DEFAULT 'active', created_at timestamptz DEFAULT now());"
      "CREATE TABLE lsh_job_executions (id uuid PRIMARY KEY, job_id uuid REFERENCES lsh_jobs(id), "
      "execution_id text, status text);"
      "INSERT INTO lsh_jobs (id, job_name, command) VALUES "
      "('00000000-0000-4000-8000-000000000001', 'legacy', 'echo old');"
      "INSERT INTO lsh_job_executions VALUES ('00000000-0000-4000-8000-0000000000e1', "
      "'00000000-0000-4000-8000-000000000001', 'x1', 'completed');");
  ApplySchema(pg);
  auto shape = [&] {
    std::string s;
    for (auto& r :
         pg.Query("SELECT table_name || '.' || column_name || ':' || data_type FROM "
                  "information_schema.columns WHERE table_name LIKE 'lsh\\_%' ORDER BY 1"))
      s += *r[0] + "\n";
    for (auto& r : pg.Query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"))
      s += *r[0] + "\n";
    for (auto& r : pg.Query("SELECT conname FROM pg_constraint WHERE conrelid::regclass::text "
                            "LIKE 'lsh\\_%' ORDER BY 1"))
      s += *r[0] + "\n";
    return s;
  };
  std::string first = shape();
  ApplySchema(pg);
  CHECK(shape() == first);
  CHECK(first.find("lsh_jobs.version:bigint") != std::string::npos);
  CHECK(first.find("lsh_job_executions.version:bigint") != std::string::npos);
  CHECK(first.find("lsh_jobs_keep_newest") != std::string::npos);
  CHECK(first.find("lsh_events.id:bigint") != std::string::npos);
  CHECK(pg.Scalar("SELECT command FROM lsh_jobs WHERE job_name = 'legacy'") == "echo old");
  CHECK(pg.Count("SELECT count(*) FROM lsh_job_executions") == 1);

  // The relay writes into them; the old rows stay as they were.
  TestDaemon d({RelayEnv({{"LSH_SYNC_DATABASE_URL", url}}), {}});
  d.Start();
  json j = CreateJob(d, {{"name", "newcomer"}, {"command", "true"}});
  REQUIRE(d.Post("/jobs/newcomer/trigger?wait=20", json(nullptr))->status == 200);
  REQUIRE(WaitFor([&] { return Drained(d); }, 20s));
  REQUIRE(WaitFor([&] {
    return pg.Count(
               "SELECT count(*) FROM lsh_job_executions WHERE job_id = $1 AND status = "
               "'completed'",
               {j["id"].get<std::string>()}) == 1;
  }));
  CHECK(pg.Scalar("SELECT command FROM lsh_jobs WHERE job_name = 'legacy'") == "echo old");
  CHECK(pg.Count("SELECT count(*) FROM lsh_jobs") == 2);

  // The guard: an older version never overwrites a newer one; rows without a
  // version (other writers) are not blocked.
  std::string id = j["id"];
  int64_t v = pg.Count("SELECT version FROM lsh_jobs WHERE id = $1", {id});
  pg.Query("UPDATE lsh_jobs SET command = 'stale', version = version - 1 WHERE id = $1", {id});
  CHECK(pg.Scalar("SELECT command FROM lsh_jobs WHERE id = $1", {id}) == "true");
  CHECK(pg.Count("SELECT version FROM lsh_jobs WHERE id = $1", {id}) == v);
  pg.Query("UPDATE lsh_jobs SET command = 'edited' WHERE job_name = 'legacy'");
  CHECK(pg.Scalar("SELECT command FROM lsh_jobs WHERE job_name = 'legacy'") == "edited");
}

TEST_CASE("Supabase REST sink keeps the PostgREST contract and rides out injected faults",
          "[replication][relay]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  PostgrestGateway gw(url, "sb_secret_test_key");
  gw.Start();
  TestDaemon d(
      {RelayEnv({{"SUPABASE_URL", gw.url()}, {"SUPABASE_KEY", "sb_secret_test_key"}}), {}});
  d.Start();
  json job = CreateJob(d, {{"name", "rest-job"}, {"command", "true"}, {"description", "v0"}});
  std::string id = job["id"];
  auto remote_description = [&] {
    auto r = pg.Query("SELECT description FROM lsh_jobs WHERE id = $1", {id});
    return r.empty() || !r[0][0] ? std::string() : *r[0][0];
  };
  REQUIRE(WaitFor([&] {
    return remote_description() == "v0" &&
           pg.Count("SELECT count(*) FROM lsh_events WHERE job_id = $1", {id}) == 1;
  }));

  // The contract, as the gateway saw it.
  bool saw_jobs = false, saw_events = false;
  for (const auto& r : gw.log()) {
    if (r.status != 201) continue;
    CHECK(r.params.at("on_conflict") == "id");
    CHECK(!r.params.at("columns").empty());
    CHECK(r.headers.at("apikey") == "sb_secret_test_key");
    CHECK(r.headers.count("authorization") == 0);  // new secret keys never go in Bearer
    CHECK(r.headers.at("prefer").find("return=minimal") != std::string::npos);
    if (r.path == "/rest/v1/lsh_jobs") {
      saw_jobs = true;
      CHECK(r.headers.at("prefer").find("resolution=merge-duplicates") != std::string::npos);
    }
    if (r.path == "/rest/v1/lsh_events") {
      saw_events = true;
      CHECK(r.headers.at("prefer").find("resolution=ignore-duplicates") != std::string::npos);
    }
  }
  CHECK(saw_jobs);
  CHECK(saw_events);

  // Each fault: the change still arrives, once the fault has been served.
  struct Case {
    PostgrestGateway::Fault fault;
    int count;
    const char* name;
  };
  for (const Case& c : {Case{PostgrestGateway::Fault::kUnavailable503, 2, "503"},
                        Case{PostgrestGateway::Fault::kError500, 2, "500"},
                        Case{PostgrestGateway::Fault::kError520, 2, "520"},
                        Case{PostgrestGateway::Fault::kSlow, 1, "slow"},
                        Case{PostgrestGateway::Fault::kDrop, 1, "drop"}}) {
    INFO("fault " << c.name);
    int served = gw.faults_served();
    gw.SetFault(c.fault, c.count, /*slow_ms=*/1500, /*retry_after_s=*/1);
    REQUIRE(d.Patch("/jobs/" + id, {{"description", c.name}})->status == 200);
    REQUIRE(WaitFor([&] { return remote_description() == c.name; }, 20s));
    CHECK(gw.faults_served() == served + c.count);
    REQUIRE(WaitFor([&] { return Drained(d); }, 10s));
  }

  // Refused connections: the outbox grows, the error shows, a stall is
  // announced; when the port opens again everything arrives.
  auto count = [&](const char* type) {
    auto t = EventTypes(d);
    return std::count(t.begin(), t.end(), type);
  };
  // Any stall during the faults above has ended (its recovery event is
  // written just after the delivery that ended it).
  std::ptrdiff_t stalls = 0, recoveries = 0;
  CHECK(WaitFor([&] {
    stalls = count("outbox:stalled");
    recoveries = count("outbox:recovered");
    return stalls == recoveries;
  }));
  gw.Stop();
  REQUIRE(d.Patch("/jobs/" + id, {{"description", "while-down"}})->status == 200);
  CreateJob(d, {{"name", "born-offline"}, {"command", "true"}});
  REQUIRE(WaitFor([&] { return Outbox(d)["stalled"] == true; }, 10s));
  json o = Outbox(d);
  CHECK(o["pending"].get<int64_t>() >= 2);
  CHECK(o["lastError"].is_string());
  CHECK(o["oldestPendingAgeSeconds"].get<double>() >= 0);
  // The relay shows the stall in /outbox first and then writes its event
  // (a durable write of its own): wait for the event, a moment later.
  CHECK(WaitFor([&] { return count("outbox:stalled") == stalls + 1; }));
  gw.Start();
  REQUIRE(WaitFor([&] { return Drained(d) && remote_description() == "while-down"; }, 20s));
  REQUIRE(WaitFor([&] { return count("outbox:recovered") == recoveries + 1; }));
  CHECK(Outbox(d)["stalled"] == false);
  CHECK(Json(d.Get("/status"))["outbox"]["lastError"].is_null());
  CheckRemoteEqualsLocal(d, pg);
  // The stall and recovery reach lsh_events too.
  REQUIRE(WaitFor([&] {
    return pg.Count("SELECT count(*) FROM lsh_events WHERE type = 'outbox:recovered'") ==
           recoveries + 1;
  }));
}

TEST_CASE("An outage of 10000 changes only grows the outbox and drains to an exact copy",
          "[replication]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  PostgrestGateway gw(url, "sb_secret_outage");
  gw.Start();
  TestDaemon d({RelayEnv({{"SUPABASE_URL", gw.url()},
                          {"SUPABASE_KEY", "sb_secret_outage"},
                          {"LSH_MAX_CONCURRENT_JOBS", "4"}}),
                {}});
  d.Start();
  constexpr int kJobs = 1000, kPatches = 8800, kThreads = 8, kTriggers = 100;

  // Latency of a write with the sink up, then with it down.
  auto patch_latencies = [&](const std::vector<std::string>& ids, int n) {
    std::vector<double> ms(n);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto cli = d.Client();
        for (int i = t; i < n; i += kThreads) {
          json body = {{"description", "rev-" + std::to_string(i)}};
          auto t0 = std::chrono::steady_clock::now();
          auto r = cli->Patch("/jobs/" + ids[i % ids.size()], body.dump(), "application/json");
          ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                      .count();
          if (!r || r->status != 200) failures++;
        }
      });
    }
    for (auto& th : threads) th.join();
    REQUIRE(failures == 0);
    std::sort(ms.begin(), ms.end());
    return ms;
  };
  std::vector<std::string> warm;
  for (int i = 0; i < 20; ++i)
    warm.push_back(
        CreateJob(d, {{"name", "warm-" + std::to_string(i)}, {"command", "true"}})["id"]);
  auto up = patch_latencies(warm, 400);
  REQUIRE(WaitFor([&] { return Drained(d); }, 20s));

  gw.Stop();  // the outage: connections refused
  int64_t before = Outbox(d)["pending"];
  std::vector<std::string> ids;
  for (int b = 0; b < kJobs / 100; ++b) {
    json jobs = json::array();
    for (int i = 0; i < 100; ++i)
      jobs.push_back({{"name", "o-" + std::to_string(b * 100 + i)}, {"command", "true"}});
    auto r = d.Post("/jobs/bulk", {{"jobs", jobs}});
    REQUIRE(r->status == 200);
    json results = Json(r)["results"];
    for (auto& res : results) {
      REQUIRE(res["success"] == true);
      ids.push_back(res["job"]["id"]);
    }
  }
  auto down = patch_latencies(ids, kPatches);
  for (int i = 0; i < kTriggers; ++i)
    REQUIRE(d.Post("/jobs/" + ids[i] + "/trigger", json(nullptr))->status == 200);
  REQUIRE(WaitFor(
      [&] {
        return LocalCount(d,
                          "SELECT count(*) FROM runs WHERE status = 'queued' OR status = "
                          "'running'") == 0;
      },
      60s));
  json o = Outbox(d);
  int64_t changes = o["pending"].get<int64_t>() - before;
  INFO("pending during the outage: " << o["pending"] << ", latency p50 up " << up[up.size() / 2]
                                     << " ms, down " << down[down.size() / 2] << " ms, max down "
                                     << down.back() << " ms");
  CHECK(changes >= 10000);
  CHECK(o["lastError"].is_string());
  // The request path never waits on the sink: the median write is no slower
  // than with the sink up (generous slack for a shared 2-core machine).
  CHECK(down[down.size() / 2] <= up[up.size() / 2] * 3 + 10);
  CHECK(pg.Count("SELECT count(*) FROM lsh_jobs WHERE job_name LIKE 'o-%'") == 0);

  gw.Start();  // the sink returns
  REQUIRE(WaitFor([&] { return Drained(d); }, 120s));
  CheckRemoteEqualsLocal(d, pg);
  CHECK(pg.Count("SELECT count(*) FROM lsh_jobs WHERE job_name LIKE 'o-%'") == kJobs);
  CHECK(pg.Count("SELECT count(*) FROM lsh_job_executions") ==
        LocalCount(d, "SELECT count(*) FROM runs"));
  int64_t newest = LocalCount(d, "SELECT max(id) FROM events");
  REQUIRE(WaitFor([&] { return pg.Count("SELECT coalesce(max(id), 0) FROM lsh_events") == newest; },
                  60s));

  // A late replay of an old version (a retried request arriving last) keeps
  // the newer row.
  std::string victim = ids[0];
  json stale_row =
      json::parse(pg.Scalar("SELECT row_to_json(j)::text FROM lsh_jobs j WHERE id = $1", {victim}));
  stale_row["description"] = "stale";
  stale_row["version"] = 1;
  std::string columns;
  for (auto& [k, v] : stale_row.items()) columns += (columns.empty() ? "" : ",") + k;
  json stale = json::array();
  stale.push_back(stale_row);
  httplib::Client raw("127.0.0.1", gw.port());
  auto r = raw.Post(
      "/rest/v1/lsh_jobs?on_conflict=id&columns=" + columns,
      {{"apikey", "sb_secret_outage"}, {"Prefer", "resolution=merge-duplicates, return=minimal"}},
      stale.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(pg.Scalar("SELECT description FROM lsh_jobs WHERE id = $1", {victim}) != "stale");
  CHECK(pg.Count("SELECT version FROM lsh_jobs WHERE id = $1", {victim}) ==
        LocalJobs(d)[victim].version);
}

TEST_CASE("kill -9 in the middle of delivery loses nothing and delivery resumes",
          "[replication][durability]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  PostgrestGateway gw(url, "sb_secret_kill");
  gw.Start();
  TestDaemon d({RelayEnv({{"SUPABASE_URL", gw.url()},
                          {"SUPABASE_KEY", "sb_secret_kill"},
                          {"LSH_RELAY_BATCH_SIZE", "50"},
                          {"LSH_RELAY_TIMEOUT_MS", "5000"}}),
                {}});
  d.Start();
  gw.Stop();
  for (int b = 0; b < 10; ++b) {
    json jobs = json::array();
    for (int i = 0; i < 100; ++i)
      jobs.push_back({{"name", "k-" + std::to_string(b * 100 + i)}, {"command", "true"}});
    REQUIRE(d.Post("/jobs/bulk", {{"jobs", jobs}})->status == 200);
  }
  REQUIRE(Outbox(d)["pending"].get<int64_t>() >= 1000);
  // Slow but successful replies: the daemon dies while batches are in flight.
  gw.SetFault(PostgrestGateway::Fault::kSlow, -1, /*slow_ms=*/150);
  gw.Start();
  REQUIRE(WaitFor([&] { return gw.successes() >= 4; }, 30s));
  d.Kill9();
  int64_t remote_before = pg.Count("SELECT count(*) FROM lsh_jobs");
  CHECK(remote_before > 0);
  CHECK(remote_before < 1000);
  gw.SetFault(PostgrestGateway::Fault::kNone);
  d.Restart();
  REQUIRE(WaitFor([&] { return Drained(d); }, 60s));
  CheckRemoteEqualsLocal(d, pg);
  CHECK(pg.Count("SELECT count(*) FROM lsh_jobs WHERE job_name LIKE 'k-%'") == 1000);
  int64_t newest = LocalCount(d, "SELECT max(id) FROM events");
  REQUIRE(WaitFor([&] { return pg.Count("SELECT coalesce(max(id), 0) FROM lsh_events") == newest; },
                  30s));
  CHECK(pg.Count("SELECT count(*) FROM lsh_events") ==
        LocalCount(d, "SELECT count(*) FROM events"));
}

TEST_CASE("A rejected row is parked while the rest flows and a retry delivers it",
          "[replication][relay]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  pg.Exec("ALTER TABLE lsh_jobs ADD CONSTRAINT no_poison CHECK (job_name NOT LIKE 'poison%')");
  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig";
  PostgrestGateway gw(url, jwt);
  gw.Start();
  // The legacy JWT service-role key, from the fallback variable.
  TestDaemon d(
      {RelayEnv({{"SUPABASE_URL", gw.url() + "/"}, {"SUPABASE_SERVICE_ROLE_KEY", jwt}}), {}});
  d.Start();
  json jobs = json::array();
  for (int i = 0; i < 20; ++i)
    jobs.push_back({{"name", "good-" + std::to_string(i)}, {"command", "true"}});
  jobs.insert(jobs.begin() + 7, json{{"name", "poison-1"}, {"command", "true"}});
  auto bulk = d.Post("/jobs/bulk", {{"jobs", jobs}});
  REQUIRE(bulk->status == 200);
  std::string poison_id;
  json results = Json(bulk)["results"];
  for (auto& r : results)
    if (r["job"]["name"] == "poison-1") poison_id = r["job"]["id"];
  REQUIRE(!poison_id.empty());
  // Its run cannot arrive before it: a foreign-key refusal, retried later.
  REQUIRE(d.Post("/jobs/poison-1/trigger?wait=20", json(nullptr))->status == 200);
  REQUIRE(d.Post("/jobs/good-3/trigger?wait=20", json(nullptr))->status == 200);

  // Every row of the poison job is parked (one per version); nothing else is.
  std::string poison_rows =
      "SELECT count(*) FROM outbox WHERE entity = 'job' AND entity_id = '" + poison_id + "'";
  REQUIRE(WaitFor(
      [&] {
        return pg.Count("SELECT count(*) FROM lsh_jobs WHERE job_name LIKE 'good-%'") == 20 &&
               pg.Count("SELECT count(*) FROM lsh_job_executions") == 1 &&
               Outbox(d)["parked"].get<int64_t>() == LocalCount(d, poison_rows);
      },
      20s));
  json o = Outbox(d);
  INFO("outbox " << o.dump() << " local rows of the poison job " << LocalCount(d, poison_rows)
                 << " states " << LocalCount(d, poison_rows + " AND state = 'parked'"));
  REQUIRE(o["parkedRows"].size() >= 1);
  for (auto& p : o["parkedRows"]) {
    CHECK(p["entity"] == "job");
    CHECK(p["entityId"] == poison_id);
    CHECK(p["op"] == "upsert");
    CHECK(p["attempts"].get<int64_t>() >= 1);
    CHECK(p["lastError"].get<std::string>().find("no_poison") != std::string::npos);
    CHECK(p["id"].is_number_integer());
    CHECK(p["version"].is_number_integer());
    CHECK(p["createdAt"].is_string());
  }
  CHECK(Json(d.Get("/status"))["outbox"]["parked"] == o["parked"]);
  CHECK(Json(d.Get("/outbox?limit=1"))["parkedRows"].size() == 1);
  // The poison job's run waits (pending) for its parent.
  CHECK(pg.Count("SELECT count(*) FROM lsh_job_executions e JOIN lsh_jobs j ON j.id = e.job_id "
                 "WHERE j.job_name = 'poison-1'") == 0);
  // Every header carried the JWT both ways.
  for (const auto& r : gw.log()) {
    CHECK(r.headers.at("apikey") == jwt);
    CHECK(r.headers.at("authorization") == "Bearer " + jwt);
  }

  // Bad retry bodies change nothing.
  for (json bad : {json{{"ids", "all"}}, json{{"ids", {0}}}, json{{"ids", json::array()}},
                   json{{"idz", {1}}}, json::array()}) {
    INFO(bad.dump());
    auto r = d.Post("/outbox/retry", bad);
    CHECK(r->status == 400);
    CHECK(Json(r)["error"].is_string());
  }
  CHECK(Json(d.Post("/outbox/retry", {{"ids", {999999}}}))["retried"] == 0);
  CHECK(Outbox(d)["parked"] == o["parked"]);

  // Fix the cause, retry one by id, then all.
  pg.Exec("ALTER TABLE lsh_jobs DROP CONSTRAINT no_poison");
  int64_t first = o["parkedRows"][0]["id"];
  CHECK(Json(d.Post("/api/outbox/retry", {{"ids", {first}}}))["retried"] == 1);
  auto rest = d.Post("/outbox/retry", json(nullptr));
  CHECK(Json(rest)["retried"].get<int64_t>() == o["parked"].get<int64_t>() - 1);
  REQUIRE(WaitFor(
      [&] {
        json now = Outbox(d);
        return now["parked"] == 0 && now["pending"] == 0 &&
               pg.Count("SELECT count(*) FROM lsh_job_executions") == 2;
      },
      20s));
  CheckRemoteEqualsLocal(d, pg);
}

TEST_CASE("A sink configured on a daemon with data first receives a snapshot",
          "[replication][relay]") {
  std::string url = PgServer::Shared().CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  TestDaemon d;  // no sink yet
  d.Start();
  json o = Outbox(d);
  CHECK(o["sink"].is_null());
  CHECK(o["lastSuccessAt"].is_null());
  for (int i = 0; i < 30; ++i)
    CreateJob(d, {{"name", "pre-" + std::to_string(i)}, {"command", "true"}});
  REQUIRE(d.Post("/jobs/pre-1/trigger?wait=20", json(nullptr))->status == 200);
  REQUIRE(d.Delete("/jobs/pre-2")->status == 200);
  CHECK(Outbox(d)["pending"].get<int64_t>() >= 33);
  CHECK(d.Terminate() == 0);

  d.options().env = RelayEnv({{"LSH_SYNC_DATABASE_URL", url}, {"LSH_RELAY_BATCH_SIZE", "7"}});
  d.Restart();
  REQUIRE(WaitFor([&] { return Drained(d); }, 20s));
  CheckRemoteEqualsLocal(d, pg);
  CHECK(pg.Count("SELECT count(*) FROM lsh_jobs WHERE status = 'archived'") == 1);
  int64_t newest = LocalCount(d, "SELECT max(id) FROM events");
  REQUIRE(WaitFor([&] { return pg.Count("SELECT coalesce(max(id), 0) FROM lsh_events") == newest; },
                  20s));
  // Later changes follow the outbox.
  CreateJob(d, {{"name", "post"}, {"command", "true"}});
  REQUIRE(WaitFor(
      [&] { return pg.Count("SELECT count(*) FROM lsh_jobs WHERE job_name = 'post'") == 1; }));
}

TEST_CASE("Bad replication settings are refused at startup naming the variable", "[replication]") {
  lsh::test::TempDir dir;
  std::vector<std::string> args = {"serve",          "--port", "0", "--db", dir.path() + "/lsh.db",
                                   "--metrics-port", "0"};
  auto no_key = RunLshd(args, {{"SUPABASE_URL", "https://example.supabase.co"}});
  CHECK(no_key.status == 2);
  CHECK(no_key.err.find("SUPABASE_KEY") != std::string::npos);
  auto bad_url = RunLshd(args, {{"SUPABASE_URL", "ftp://nowhere"}, {"SUPABASE_KEY", "k"}});
  CHECK(bad_url.status == 2);
  CHECK(bad_url.err.find("SUPABASE_URL") != std::string::npos);
  auto bad_pg =
      RunLshd(args, {{"LSH_SYNC_DATABASE_URL", "postgresql://u:secret@h/db?no_such_option=1"}});
  CHECK(bad_pg.status == 2);
  CHECK(bad_pg.err.find("LSH_SYNC_DATABASE_URL") != std::string::npos);
  CHECK(bad_pg.err.find("secret") == std::string::npos);  // never the password
  auto batch = RunLshd(args, {{"LSH_RELAY_BATCH_SIZE", "0"}});
  CHECK(batch.status == 2);
  CHECK(batch.err.find("LSH_RELAY_BATCH_SIZE") != std::string::npos);
  auto schema_args = RunLshd({"supabase-schema", "extra"});
  CHECK(schema_args.status == 2);
}

TEST_CASE("The REST sink verifies the server certificate over HTTPS", "[replication]") {
  lsh::test::TempDir certs;
  std::string cert = certs.path() + "/cert.pem", key = certs.path() + "/key.pem";
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
                    " -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                    ">/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  httplib::SSLServer tls(cert.c_str(), key.c_str());
  REQUIRE(tls.is_valid());
  std::atomic<int> posts{0};
  tls.Post(R"(/rest/v1/.*)", [&](const httplib::Request&, httplib::Response& res) {
    posts++;
    res.status = 201;
  });
  int port = tls.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serving([&] { tls.listen_after_bind(); });
  std::string url = "https://127.0.0.1:" + std::to_string(port);

  // A certificate no CA vouches for: nothing is sent, the error says why.
  {
    TestDaemon d({RelayEnv({{"SUPABASE_URL", url}, {"SUPABASE_KEY", "sb_secret_tls"}}), {}});
    d.Start();
    CreateJob(d, {{"name", "over-tls"}, {"command", "true"}});
    REQUIRE(WaitFor([&] { return Outbox(d)["lastError"].is_string(); }, 10s));
    json o = Outbox(d);
    INFO(o.dump());
    CHECK(o["lastError"].get<std::string>().find("SSL") != std::string::npos);
    CHECK(o["pending"].get<int64_t>() >= 1);
    CHECK(posts == 0);
  }
  // Trusted (SSL_CERT_FILE names it): delivered.
  {
    TestDaemon d(
        {RelayEnv(
             {{"SUPABASE_URL", url}, {"SUPABASE_KEY", "sb_secret_tls"}, {"SSL_CERT_FILE", cert}}),
         {}});
    d.Start();
    CreateJob(d, {{"name", "over-tls"}, {"command", "true"}});
    REQUIRE(WaitFor([&] { return Drained(d); }, 10s));
    CHECK(posts >= 1);
  }
  tls.stop();
  serving.join();
}
