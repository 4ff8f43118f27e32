#include "support/replica.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>

#include "support/wait.h"

namespace lsh::test::replica {

using nlohmann::json;

void ApplySchema(PgConn& pg) {
  auto r = RunLshd({"supabase-schema"});
  REQUIRE(r.status == 0);
  REQUIRE(r.out.find("CREATE TABLE IF NOT EXISTS lsh_jobs") != std::string::npos);
  pg.Exec(r.out);
}

std::map<std::string, std::string> RelayEnv(std::map<std::string, std::string> env) {
  env["LSH_RELAY_BACKOFF_MAX_MS"] = "200";
  env["LSH_RELAY_STALL_MS"] = "300";
  if (!env.count("LSH_RELAY_TIMEOUT_MS")) env["LSH_RELAY_TIMEOUT_MS"] = "1000";
  return env;
}

json Outbox(const TestDaemon& d) {
  return Json(d.Get("/outbox"));
}

bool Drained(const TestDaemon& d) {
  json o = Outbox(d);
  return o["pending"] == 0;
}

std::map<std::string, LocalRow> LocalJobs(const TestDaemon& d) {
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT id, version, name, description FROM jobs WHERE database_sync = 1");
  std::map<std::string, LocalRow> out;
  while (q.executeStep())
    out[q.getColumn(0).getString()] = {q.getColumn(1).getInt64(), q.getColumn(2).getString(),
                                       q.getColumn(3).getString()};
  return out;
}
std::map<std::string, LocalRow> LocalRuns(const TestDaemon& d) {
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT r.id, r.version, r.status, r.job_id FROM runs r JOIN jobs j ON "
                      "j.id = r.job_id WHERE j.database_sync = 1");
  std::map<std::string, LocalRow> out;
  while (q.executeStep())
    out[q.getColumn(0).getString()] = {q.getColumn(1).getInt64(), q.getColumn(2).getString(),
                                       q.getColumn(3).getString()};
  return out;
}
int64_t LocalCount(const TestDaemon& d, const std::string& sql) {
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db, sql);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

void CheckRemoteEqualsLocal(const TestDaemon& d, PgConn& pg) {
  auto jobs = LocalJobs(d);
  auto runs = LocalRuns(d);
  auto rj = pg.Query(
      "SELECT id::text, version, job_name, coalesce(description, '') FROM lsh_jobs WHERE status "
      "<> 'archived'");
  CHECK(rj.size() == jobs.size());
  size_t same = 0;
  for (const auto& r : rj) {
    auto it = jobs.find(*r[0]);
    if (it == jobs.end()) {
      FAIL_CHECK("remote job not local: " << *r[0]);
      continue;
    }
    INFO("job " << *r[0]);
    CHECK(std::stoll(*r[1]) == it->second.version);
    CHECK(*r[2] == it->second.a);
    CHECK(*r[3] == it->second.b);
    same += std::stoll(*r[1]) == it->second.version;
  }
  CHECK(same == jobs.size());
  auto rr = pg.Query("SELECT id::text, version, status, job_id::text FROM lsh_job_executions");
  CHECK(rr.size() == runs.size());
  for (const auto& r : rr) {
    auto it = runs.find(*r[0]);
    if (it == runs.end()) {
      FAIL_CHECK("remote run not local: " << *r[0]);
      continue;
    }
    INFO("run " << *r[0]);
    CHECK(std::stoll(*r[1]) == it->second.version);
    CHECK(*r[2] == it->second.a);
    CHECK(*r[3] == it->second.b);
  }
  CHECK(pg.Count("SELECT count(*) - count(DISTINCT (job_id, execution_id)) FROM "
                 "lsh_job_executions") == 0);
}

json CreateJob(const TestDaemon& d, const json& body) {
  auto r = d.Post("/jobs", body);
  INFO(r->body);
  REQUIRE(r->status == 201);
  return Json(r);
}

std::vector<std::string> EventTypes(const TestDaemon& d) {
  std::vector<std::string> out;
  for (auto& e : Json(d.Get("/events.json?limit=1000"))) out.push_back(e["type"]);
  return out;
}

}  // namespace lsh::test::replica
