// Promise 1 and 2 by killing the process: a burst of concurrent creates,
// kill -9 right after the last acknowledgement, restart, and count.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TestDaemon;
using nlohmann::json;

TEST_CASE("every acknowledged create survives kill -9 with its event and outbox row",
          "[durability]") {
  TestDaemon d;
  d.Start();
  constexpr int kClients = 16, kPer = 40;
  std::mutex mu;
  std::set<std::string> acked;  // ids the daemon answered 201 for
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto cli = d.Client();
      for (int i = 0; i < kPer; ++i) {
        json body = {{"name", "burst-" + std::to_string(c) + "-" + std::to_string(i)},
                     {"command", "true"}};
        auto r = cli->Post("/jobs", body.dump(), "application/json");
        std::lock_guard<std::mutex> lock(mu);
        if (r && r->status == 201) {
          acked.insert(json::parse(r->body)["id"].get<std::string>());
        } else {
          failures.push_back(r ? std::to_string(r->status) + " " + r->body
                               : "transport error " + httplib::to_string(r.error()));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  d.Kill9();  // right after the last acknowledgement, no clean shutdown
  INFO((failures.empty() ? std::string("no failures") : failures.front()));
  REQUIRE(acked.size() == kClients * kPer);

  d.Restart();
  // Over HTTP: every acknowledged job is there.
  auto list = d.Get("/jobs?limit=1000");
  CHECK(list->get_header_value("X-Total-Count") == std::to_string(acked.size()));
  std::set<std::string> listed;
  for (auto& j : Json(list)) listed.insert(j["id"].get<std::string>());
  CHECK(listed == acked);

  // In the database: each has its job:created event and its job outbox row.
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT j.id, (SELECT count(*) FROM events e WHERE e.job_id = j.id AND "
                      "e.type = 'job:created'), (SELECT count(*) FROM outbox o WHERE o.entity = "
                      "'job' AND o.entity_id = j.id) FROM jobs j");
  size_t rows = 0;
  while (q.executeStep()) {
    ++rows;
    INFO(q.getColumn(0).getString());
    CHECK(q.getColumn(1).getInt() == 1);
    CHECK(q.getColumn(2).getInt() == 1);
  }
  CHECK(rows == acked.size());
  SQLite::Statement ic(db, "PRAGMA integrity_check");
  REQUIRE(ic.executeStep());
  CHECK(ic.getColumn(0).getString() == "ok");
  // Event ids have no gap.
  SQLite::Statement ev(db, "SELECT count(*), min(id), max(id) FROM events");
  REQUIRE(ev.executeStep());
  CHECK(ev.getColumn(0).getInt64() == ev.getColumn(2).getInt64() - ev.getColumn(1).getInt64() + 1);
}
