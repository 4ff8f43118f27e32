// Crash loop and power loss (docs/faults.md): kill -9 at a random moment
// under load, again and again, and count what survived.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "fault/fault_support.h"

using namespace lsh::test;
using namespace lsh::test::fault;

namespace {

uint64_t Seed() {
  if (const char* s = std::getenv("LSH_FAULT_SEED"); s && *s) return std::strtoull(s, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

// One cycle: clients at full speed, kill -9 after `kill_after`, join them.
std::vector<Request> LoadThenKill(TestDaemon& d, const std::string& prefix,
                                  std::chrono::milliseconds kill_after, uint64_t seed,
                                  WorkloadOptions options = {}) {
  Workload w(d.port(), prefix, options, seed);
  w.Start();
  // Some writes acknowledged first, so the kill lands in the middle of work.
  WaitFor([&] { return w.acked() >= 5; }, std::chrono::seconds(10), std::chrono::milliseconds(1));
  std::this_thread::sleep_for(
      kill_after);  // the random moment of the crash, not a wait for an outcome
  d.Kill9();
  return w.Stop();
}

}  // namespace

TEST_CASE(
    "crash loop: 20 kill -9 under load lose nothing acknowledged and apply in-doubt retries "
    "once",
    "[fault][crash]") {
  uint64_t seed = Seed();
  INFO("LSH_FAULT_SEED=" << seed);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> moment(0, 300);
  TestDaemon d;
  d.Start();
  Ledger ledger;
  int64_t in_doubt = 0;
  for (int cycle = 0; cycle < 20; ++cycle) {
    INFO("cycle " << cycle);
    // Runs that take a moment, so kills find some of them running.
    WorkloadOptions load;
    load.command = "sleep 0.05";
    auto sent = LoadThenKill(d, "k" + std::to_string(cycle), std::chrono::milliseconds(moment(rng)),
                             seed + cycle, load);
    for (const auto& r : sent) in_doubt += r.outcome == Outcome::kInDoubt;
    ledger.Add(std::move(sent));
    // After the kill, before the restart: the file is sound as the crash left it.
    CHECK(IntegrityCheck(d.db_path()) == "ok");
    d.Restart();
    ledger.RetryInDoubt(d);
    CHECK(ledger.Verify(d) == 0);
  }
  INFO(ledger.acked() << " acknowledged, " << in_doubt << " in doubt at a kill");
  CHECK(ledger.acked() > 20 * 5);
  CHECK(in_doubt > 0);  // the kills did land while requests were in flight
  // ... and while runs were running: recovery found them (promise 4).
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT count(*) FROM runs WHERE error_type = 'abandoned'");
  REQUIRE(q.executeStep());
  int64_t abandoned = q.getColumn(0).getInt64();
  WARN(ledger.acked() << " acknowledged, " << in_doubt << " in doubt at a kill, " << abandoned
                      << " runs abandoned");
  CHECK(abandoned > 0);
}

TEST_CASE("power loss with LSH_SYNC=full loses no acknowledged write", "[fault][power]") {
  uint64_t seed = Seed();
  INFO("LSH_FAULT_SEED=" << seed);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> moment(0, 300);
  TempDir state;
  TestDaemon d;
  d.options() = ShimOptions(d.dir(), state.path(), {{"LSH_SYNC", "full"}});
  d.Start();
  Ledger ledger;
  for (int cycle = 0; cycle < 10; ++cycle) {
    INFO("cut " << cycle);
    ledger.Add(LoadThenKill(d, "p" + std::to_string(cycle), std::chrono::milliseconds(moment(rng)),
                            seed + cycle));
    PowerCut(d.dir(), state.path());
    CHECK(IntegrityCheck(d.db_path()) == "ok");
    d.Restart();
    ledger.RetryInDoubt(d);
    CHECK(ledger.Verify(d) == 0);
  }
  WARN(ledger.acked() << " acknowledged");
  CHECK(ledger.acked() > 10 * 5);
}

TEST_CASE("power loss with LSH_SYNC=normal does lose acknowledged writes (the test can fail)",
          "[fault][power]") {
  uint64_t seed = Seed();
  INFO("LSH_FAULT_SEED=" << seed);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> moment(0, 300);
  TempDir state;
  TestDaemon d;
  d.options() = ShimOptions(d.dir(), state.path(), {{"LSH_SYNC", "normal"}});
  d.Start();
  int64_t lost = 0, acked = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    INFO("cut " << cycle);
    Ledger this_cycle;
    this_cycle.Add(LoadThenKill(d, "n" + std::to_string(cycle),
                                std::chrono::milliseconds(moment(rng)), seed + cycle));
    PowerCut(d.dir(), state.path());
    // Never corrupt, even when not durable.
    CHECK(IntegrityCheck(d.db_path()) == "ok");
    d.Restart();
    lost += this_cycle.Verify(d, /*expect_no_loss=*/false);
    acked += this_cycle.acked();
  }
  INFO(lost << " of " << acked << " acknowledged writes lost");
  WARN(lost << " of " << acked << " acknowledged writes lost");
  CHECK(lost > 0);
}
