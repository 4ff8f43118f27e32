// Migrations: a fresh database, an upgrade from the previous version, a
// newer database refused, a changed migration refused.
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>

#include "store/db.h"
#include "store/migrations.h"
#include "support/daemon.h"

using namespace lsh;
using lsh::test::TempDir;

namespace {
std::unique_ptr<SQLite::Database> Open(const TempDir& d) {
  auto c = store::OpenConnection({d.path() + "/m.db", true}, false);
  REQUIRE(c.ok());
  return std::move(c.value());
}
}  // namespace

TEST_CASE("A fresh database gets every embedded migration", "[migrations]") {
  TempDir d;
  auto db = Open(d);
  auto r = store::Migrate(*db);
  REQUIRE(r.ok());
  const auto& all = store::EmbeddedMigrations();
  REQUIRE(!all.empty());
  CHECK(r->from_version == 0);
  CHECK(r->to_version == all.back().version);
  CHECK(r->applied.size() == all.size());
  CHECK(r->applied.front() == "0001_init");
  for (const char* t : {"jobs", "runs", "events", "outbox", "idempotency_keys", "boots"})
    CHECK(db->tableExists(t));
  SQLite::Statement q(*db, "SELECT count(*) FROM schema_migrations WHERE checksum != ''");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getInt() == static_cast<int>(all.size()));
  // Applying again changes nothing.
  auto again = store::Migrate(*db);
  REQUIRE(again.ok());
  CHECK(again->applied.empty());
}

TEST_CASE("The operator views run on the schema", "[migrations]") {
  TempDir d;
  auto db = Open(d);
  REQUIRE(store::Migrate(*db).ok());
  for (const char* v : {"jobs_with_last_run", "failures_last_day", "outbox_status"}) {
    SQLite::Statement q(*db, std::string("SELECT count(*) FROM ") + v);
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getInt() == 0);
  }
}

TEST_CASE("Upgrade from the previous schema version keeps the data", "[migrations]") {
  TempDir d;
  auto db = Open(d);
  std::vector<store::Migration> v1 = {
      {1, "init", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"}};
  auto r1 = store::Migrate(*db, v1);
  REQUIRE(r1.ok());
  CHECK(r1->to_version == 1);
  db->exec("INSERT INTO t (name) VALUES ('kept')");
  std::vector<store::Migration> v2 = v1;
  v2.push_back({2, "add_col", "ALTER TABLE t ADD COLUMN note TEXT NOT NULL DEFAULT 'n';"});
  auto r2 = store::Migrate(*db, v2);
  REQUIRE(r2.ok());
  CHECK(r2->from_version == 1);
  CHECK(r2->to_version == 2);
  CHECK(r2->applied == std::vector<std::string>{"0002_add_col"});
  SQLite::Statement q(*db, "SELECT name, note FROM t");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "kept");
  CHECK(q.getColumn(1).getString() == "n");
}

TEST_CASE("Upgrade from the embedded schema minus its newest migration", "[migrations]") {
  const auto& all = store::EmbeddedMigrations();
  TempDir d;
  auto db = Open(d);
  std::vector<store::Migration> older(all.begin(), all.end() - 1);
  REQUIRE(store::Migrate(*db, older).ok());
  auto r = store::Migrate(*db);
  REQUIRE(r.ok());
  CHECK(r->to_version == all.back().version);
  CHECK(r->applied.size() == 1);
}

TEST_CASE("A database newer than the binary is refused", "[migrations]") {
  TempDir d;
  auto db = Open(d);
  REQUIRE(store::Migrate(*db).ok());
  db->exec(
      "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, "
      "'future', 'x', '2030-01-01T00:00:00.000Z')");
  auto r = store::Migrate(*db);
  REQUIRE(!r.ok());
  CHECK(r.error().code == "schema_too_new");
  CHECK(r.error().message.find("9999") != std::string::npos);
  CHECK(r.error().message.find("newer") != std::string::npos);
}

TEST_CASE("A migration changed after it was applied is refused", "[migrations]") {
  TempDir d;
  auto db = Open(d);
  std::vector<store::Migration> v1 = {{1, "init", "CREATE TABLE t (id INTEGER);"}};
  REQUIRE(store::Migrate(*db, v1).ok());
  std::vector<store::Migration> changed = {{1, "init", "CREATE TABLE t (id TEXT);"}};
  auto r = store::Migrate(*db, changed);
  REQUIRE(!r.ok());
  CHECK(r.error().code == "schema_checksum_mismatch");
}

TEST_CASE("A failing migration leaves the previous version intact", "[migrations]") {
  TempDir d;
  auto db = Open(d);
  std::vector<store::Migration> v = {{1, "init", "CREATE TABLE t (id INTEGER);"},
                                     {2, "broken", "CREATE TABLE u (id INTEGER); SELEKT 1;"}};
  auto r = store::Migrate(*db, v);
  REQUIRE(!r.ok());
  CHECK(r.error().message.find("migration failed") != std::string::npos);
  auto ver = store::SchemaVersion(*db);
  REQUIRE(ver.ok());
  CHECK(*ver == 1);
  CHECK(!db->tableExists("u"));
}

TEST_CASE("Version 4 holds an existing backlog of a one-at-a-time job behind its head",
          "[migrations]") {
  const auto& all = store::EmbeddedMigrations();
  REQUIRE(all.size() >= 4);
  TempDir d;
  auto db = Open(d);
  std::vector<store::Migration> v3(all.begin(), all.begin() + 3);
  REQUIRE(store::Migrate(*db, v3).ok());
  const char* t = "'2026-01-01T00:00:00.000Z'";
  for (const char* job : {"one", "many"}) {
    db->exec(std::string("INSERT INTO jobs (id, name, command, overlap_policy, created_at, "
                         "updated_at) VALUES ('") +
             job + "', '" + job + "', 'true', '" + (std::string(job) == "one" ? "queue" : "allow") +
             "', " + t + ", " + t + ")");
  }
  // "one": five queued runs, the third at a higher priority, and a retry
  // waiting for its time; "many" (allow): three queued runs.
  auto run = [&](const std::string& id, const std::string& job, int priority,
                 const std::string& not_before) {
    db->exec(
        "INSERT INTO runs (id, job_id, status, trigger, priority, queued_at, not_before, "
        "created_at, updated_at) VALUES ('" +
        id + "', '" + job + "', 'queued', 'manual', " + std::to_string(priority) + ", '" +
        "2026-01-01T00:00:0" + id.back() + ".000Z', " + not_before + ", " + t + ", " + t + ")");
  };
  run("o1", "one", 5, "NULL");
  run("o2", "one", 5, "NULL");
  run("o3", "one", 9, "NULL");
  run("o4", "one", 5, "NULL");
  run("o5", "one", 5, "'2026-01-01T01:00:00.000Z'");
  run("m1", "many", 5, "NULL");
  run("m2", "many", 5, "NULL");
  run("m3", "many", 5, "NULL");
  REQUIRE(store::Migrate(*db).ok());
  SQLite::Statement q(*db,
                      "SELECT group_concat(id, ',') FROM (SELECT id FROM runs WHERE held = 0 "
                      "ORDER BY id)");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "m1,m2,m3,o3,o5");
}
