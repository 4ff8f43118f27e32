// `lshd backup` and `lshd check` (app/db_commands.h) on a live daemon's
// database: the copy is consistent and complete while clients keep writing.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "support/daemon.h"

using lsh::test::RunLshd;
using lsh::test::TempDir;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;

namespace {

std::set<std::string> JobNames(const std::string& db_path) {
  SQLite::Database db(db_path, SQLITE_OPEN_READONLY);
  std::set<std::string> names;
  SQLite::Statement q(db, "SELECT name FROM jobs");
  while (q.executeStep()) names.insert(q.getColumn(0).getString());
  return names;
}

std::string IntegrityCheck(const std::string& db_path) {
  SQLite::Database db(db_path, SQLITE_OPEN_READONLY);
  return db.execAndGet("PRAGMA integrity_check").getString();
}

}  // namespace

TEST_CASE("backup while 16 clients write holds every job acknowledged before it began",
          "[backup]") {
  TestDaemon d;
  d.Start();
  TempDir out;
  std::string copy = out.path() + "/lsh-backup.db";

  std::mutex mu;
  std::vector<std::pair<std::string, int64_t>> acked;  // name, ack sequence number
  std::atomic<int64_t> ack_seq{0};
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      auto cli = d.Client();
      // Bounded: at most 400 jobs per client, and stopped by the test.
      for (int i = 0; i < 400 && !stop; ++i) {
        std::string name = "c" + std::to_string(c) + "-" + std::to_string(i);
        json body = {{"name", name}, {"command", "true"}};
        auto r = cli->Post("/jobs", body.dump(), "application/json");
        if (!r || r->status != 201) {
          errors++;
          continue;
        }
        int64_t seq = ++ack_seq;  // after the 201 arrived
        std::lock_guard<std::mutex> lock(mu);
        acked.emplace_back(name, seq);
      }
    });
  }
  // Let the writers get going, then back up while they write.
  REQUIRE(WaitFor([&] { return ack_seq.load() >= 300; }, std::chrono::seconds(30)));
  int64_t before_backup = ack_seq.load();  // every ack up to here precedes the backup
  auto r = RunLshd({"backup", copy, "--db", d.db_path(), "--json"});
  int64_t after_backup = ack_seq.load();
  stop = true;
  for (auto& t : clients) t.join();
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(errors == 0);
  json report = json::parse(r.out);
  CHECK(report["ok"] == true);
  CHECK(report["integrity"] == json::array({"ok"}));

  CHECK(IntegrityCheck(copy) == "ok");
  auto names = JobNames(copy);
  int64_t required = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [name, seq] : acked) {
      if (seq > before_backup) continue;
      ++required;
      if (!names.count(name)) FAIL("acknowledged before the backup but missing: " << name);
    }
  }
  CHECK(required >= 300);
  CHECK(report["jobs"] == static_cast<int64_t>(names.size()));
  // The daemon kept acknowledging writes while the copy was made (online).
  INFO("acks before " << before_backup << ", after " << after_backup << ", in copy "
                      << names.size());
  CHECK(static_cast<int64_t>(names.size()) >= before_backup);
  CHECK(after_backup > before_backup);
  // The live database went on: everything acknowledged is there too.
  auto live = JobNames(d.db_path());
  CHECK(static_cast<int64_t>(live.size()) == ack_seq.load());

  // The copy is a working database: a daemon starts on it and serves the jobs.
  TestDaemon restored;
  std::string restored_db = restored.db_path();
  {
    std::ifstream in(copy, std::ios::binary);
    std::ofstream o(restored_db, std::ios::binary);
    o << in.rdbuf();
  }
  restored.Start();
  auto jobs = restored.Get("/jobs?limit=1");
  REQUIRE(jobs);
  CHECK(jobs->get_header_value("X-Total-Count") == std::to_string(names.size()));
}

TEST_CASE("backup refuses an existing target and check reports sound and damaged files",
          "[backup]") {
  TestDaemon d;
  d.Start();
  for (int i = 0; i < 50; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "j" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  TempDir out;

  auto ok = RunLshd({"check", "--json"}, {{"LSH_DB_PATH", d.db_path()}});
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  json facts = json::parse(ok.out);
  CHECK(facts["ok"] == true);
  CHECK(facts["integrity"] == json::array({"ok"}));
  CHECK(facts["schemaVersion"] == facts["knownSchemaVersion"]);
  CHECK(facts["jobs"] == 50);
  CHECK(facts["outbox"]["pending"] == 50);
  CHECK(facts["problems"].empty());
  auto human = RunLshd({"check", "--db", d.db_path()});
  CHECK(human.status == 0);
  CHECK(human.out.find("integrity   ok") != std::string::npos);
  CHECK(human.out.find("result      ok") != std::string::npos);

  std::string existing = out.path() + "/existing.db";
  { std::ofstream(existing) << "keep me"; }
  auto refused = RunLshd({"backup", existing, "--db", d.db_path()});
  CHECK(refused.status == 1);
  CHECK(refused.err.find("already exists") != std::string::npos);
  std::ifstream kept(existing);
  std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  CHECK(text == "keep me");
  CHECK(RunLshd({"backup"}).status == 2);
  CHECK(RunLshd({"backup", out.path() + "/x.db", "--db", out.path() + "/none.db"}).status == 1);

  // Damage a copy: overwrite pages in the middle of the file.
  std::string copy = out.path() + "/copy.db";
  REQUIRE(RunLshd({"backup", copy, "--db", d.db_path()}).status == 0);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0, std::ios::end);
    auto size = static_cast<long>(f.tellp());
    REQUIRE(size > 4 * 4096);
    f.seekp(2 * 4096);
    std::string junk(2 * 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto bad = RunLshd({"check", "--db", copy, "--json"});
  INFO(bad.out << bad.err);
  CHECK(bad.status == 1);
  json bad_facts = json::parse(bad.out);
  CHECK(bad_facts["ok"] == false);
  CHECK(bad_facts["problems"].size() >= 1);
  CHECK(bad_facts["problems"][0].get<std::string>().find("integrity_check failed") == 0);

  auto missing = RunLshd({"check", "--db", out.path() + "/none.db"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("no database at") != std::string::npos);
}
