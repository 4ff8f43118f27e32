// Retention (src/retention/pruner.h, src/store/retention.h) on a real
// database with a FakeClock: what is pruned and, above all, what is not —
// active runs, runs with undelivered outbox rows, a job's last run, events a
// webhook delivery or the relay floor still needs. Also the webhook delivery
// queue written with each job event (src/store/webhooks.h).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/time.h"
#include "retention/pruner.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/retention.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "store/writer.h"
#include "support/daemon.h"
#include "support/store_fixture.h"

using namespace lsh;
using namespace std::chrono_literals;
using lsh::test::MakeSpec;
using lsh::test::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr auto kDay = std::chrono::hours(24);

// A migrated database with its writer, driven by a FakeClock.
struct Fixture {
  TempDir dir;
  FakeClock clock{*ParseTime("2026-01-01T00:00:00.000Z")};
  store::DbOptions options;
  std::unique_ptr<store::Writer> writer;
  std::unique_ptr<store::ReaderPool> readers;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::RetentionStore> retention;
  std::unique_ptr<store::WebhookStore> webhooks;
  std::string logs;

  Fixture() {
    options.path = dir.path() + "/lsh.db";
    logs = dir.path() + "/logs";
    fs::create_directories(logs);
    auto conn = store::OpenConnection(options, false);
    REQUIRE(conn.ok());
    REQUIRE(store::Migrate(**conn).ok());
    writer = std::make_unique<store::Writer>(std::move(conn.value()), clock);
    readers = std::make_unique<store::ReaderPool>(options);
    store = std::make_unique<store::Store>(*writer, *readers, clock);
    retention = std::make_unique<store::RetentionStore>(*writer, *readers);
    webhooks = std::make_unique<store::WebhookStore>(*writer, *readers);
    writer->Start();
  }
  ~Fixture() { writer->Stop(); }

  int64_t Count(const std::string& sql) {
    SQLite::Database db(options.path, SQLite::OPEN_READONLY);
    SQLite::Statement q(db, sql);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  }
  // Plays the outbox relay or a receiver: changes rows behind the store's back.
  void Exec(const std::string& sql) {
    SQLite::Database db(options.path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA busy_timeout=5000");
    db.exec(sql);
  }

  Job MakeJob(const std::string& name, bool sync = true) {
    JobSpec s = MakeSpec(name);
    s.database_sync = sync;
    auto out = store->JobCreate(s, std::nullopt);
    REQUIRE(out.ok());
    return out->job;
  }
  // A run of `job` queued, claimed and (unless keep_running) completed now,
  // with both log files on disk.
  std::string MakeRun(const Job& job, bool keep_running = false) {
    auto queued = store->RunEnqueue(job.id, "manual");
    REQUIRE(queued.ok());
    auto claimed = store->RunClaim("boot", 100);
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 1);
    std::string id = (*claimed)[0].run.id;
    REQUIRE(id == queued->id);
    for (const char* s : {"stdout", "stderr"}) std::ofstream(LogPath(id, s)) << "output\n";
    if (!keep_running) {
      store::RunOutcome o;
      o.status = "completed";
      o.exit_code = 0;
      o.started_at = clock.Now();
      o.completed_at = clock.Now();
      REQUIRE(store->RunFinish(id, o).ok());
    }
    return id;
  }
  std::string LogPath(const std::string& run, const std::string& stream) const {
    return logs + "/" + run + "." + stream + ".log";
  }
  bool HasLogs(const std::string& run) const {
    return fs::exists(LogPath(run, "stdout")) && fs::exists(LogPath(run, "stderr"));
  }
  bool RunExists(const std::string& run) {
    return Count("SELECT count(*) FROM runs WHERE id = '" + run + "'") == 1;
  }

  retention::PrunerOptions Options() const {
    retention::PrunerOptions o;
    o.logs_dir = logs;
    o.runs_per_job = 0;
    return o;
  }
};

}  // namespace

TEST_CASE("Retention prunes old runs with their logs and keeps undelivered active and last runs",
          "[retention]") {
  Fixture f;
  Job job = f.MakeJob("old");
  std::string delivered1 = f.MakeRun(job);
  std::string delivered2 = f.MakeRun(job);
  std::string parked = f.MakeRun(job);
  std::string pending = f.MakeRun(job);
  std::string last = f.MakeRun(job);
  Job busy = f.MakeJob("busy", false);
  f.MakeRun(busy);
  std::string running = f.MakeRun(busy, /*keep_running=*/true);  // now its last run
  // The relay delivered everything but one parked row of `parked` and the
  // rows of `pending`.
  f.Exec("UPDATE outbox SET state = 'delivered' WHERE entity_id NOT IN ('" + pending + "')");
  f.Exec(
      "UPDATE outbox SET state = 'parked' WHERE id = (SELECT max(id) FROM outbox WHERE "
      "entity_id = '" +
      parked + "')");
  Job nosync = f.MakeJob("nosync", /*sync=*/false);
  std::string nosync_old = f.MakeRun(nosync);
  std::string nosync_last = f.MakeRun(nosync);

  f.clock.Advance(31 * kDay);
  Job fresh = f.MakeJob("fresh", false);
  std::string recent = f.MakeRun(fresh);
  std::string recent_last = f.MakeRun(fresh);

  retention::Pruner pruner(*f.retention, f.clock, f.Options());
  auto report = pruner.PruneOnce();
  REQUIRE(report.ok());
  CHECK(report->runs == 4);
  CHECK(report->log_files == 8);
  for (const auto& gone : {delivered1, delivered2, nosync_old}) {
    CHECK_FALSE(f.RunExists(gone));
    CHECK_FALSE(fs::exists(f.LogPath(gone, "stdout")));
    CHECK_FALSE(fs::exists(f.LogPath(gone, "stderr")));
  }
  // Undelivered (pending or parked), the job's last run, the running run,
  // and the recent ones stay, with their logs.
  for (const auto& kept : {parked, pending, last, running, nosync_last, recent, recent_last}) {
    CHECK(f.RunExists(kept));
    CHECK(f.HasLogs(kept));
  }
  // The job still shows its last run.
  auto j = f.store->JobGet("old");
  REQUIRE(j.ok());
  REQUIRE(j->last_run.has_value());
  CHECK(j->last_run->id == last);

  // Once the relay delivers, the rest of the old ones go too.
  f.Exec("UPDATE outbox SET state = 'delivered'");
  auto again = pruner.PruneOnce();
  REQUIRE(again.ok());
  CHECK(again->runs == 2);
  CHECK_FALSE(f.RunExists(parked));
  CHECK_FALSE(f.RunExists(pending));
  CHECK(f.RunExists(last));
  CHECK(f.RunExists(running));
}

TEST_CASE("Retention keeps the newest runs per job up to the cap in small batches", "[retention]") {
  Fixture f;
  Job job = f.MakeJob("capped", false);
  Job other = f.MakeJob("other", false);
  std::vector<std::string> runs;
  for (int i = 0; i < 12; ++i) runs.push_back(f.MakeRun(job));
  std::vector<std::string> others;
  for (int i = 0; i < 3; ++i) others.push_back(f.MakeRun(other));
  auto o = f.Options();
  o.runs_per_job = 4;
  o.batch = 3;  // several transactions
  retention::Pruner pruner(*f.retention, f.clock, o);
  auto report = pruner.PruneOnce();
  REQUIRE(report.ok());
  CHECK(report->runs == 8);
  CHECK(report->log_files == 16);
  CHECK(f.Count("SELECT count(*) FROM runs WHERE job_id = '" + job.id + "'") == 4);
  for (size_t i = 0; i < runs.size(); ++i) {
    INFO("run " << i);
    CHECK(f.RunExists(runs[i]) == (i >= 8));
    CHECK(f.HasLogs(runs[i]) == (i >= 8));
  }
  for (const auto& r : others) CHECK(f.RunExists(r));
  // Nothing more to do: a second pass removes nothing.
  auto again = pruner.PruneOnce();
  REQUIRE(again.ok());
  CHECK(again->total() == 0);
}

TEST_CASE("Retention removes the log files of deleted jobs' runs and no others", "[retention]") {
  Fixture f;
  Job doomed = f.MakeJob("doomed", false);
  Job kept = f.MakeJob("kept", false);
  std::string gone = f.MakeRun(doomed);
  std::string stays = f.MakeRun(kept);
  std::ofstream(f.logs + "/notes.txt") << "not a run log\n";
  // DELETE /jobs/:id removes the job's runs at once (ON DELETE CASCADE).
  REQUIRE(f.store->JobDelete("doomed", false).ok());
  CHECK_FALSE(f.RunExists(gone));
  CHECK(f.HasLogs(gone));
  retention::Pruner pruner(*f.retention, f.clock, f.Options());
  auto report = pruner.PruneOnce();
  REQUIRE(report.ok());
  CHECK(report->log_files == 2);
  CHECK_FALSE(fs::exists(f.LogPath(gone, "stdout")));
  CHECK(f.HasLogs(stays));
  CHECK(fs::exists(f.logs + "/notes.txt"));
}

TEST_CASE("Job events queue one webhook delivery per endpoint in the same transaction",
          "[retention][webhooks]") {
  Fixture f;
  f.MakeJob("before");  // no endpoint yet: nothing queued
  CHECK(f.Count("SELECT count(*) FROM webhook_deliveries") == 0);
  auto a = f.webhooks->EndpointAdd("http://127.0.0.1:9/a");
  REQUIRE(a.ok());
  CHECK(a->second);
  auto again = f.webhooks->EndpointAdd("http://127.0.0.1:9/a");
  REQUIRE(again.ok());
  CHECK_FALSE(again->second);
  CHECK(again->first.id == a->first.id);
  REQUIRE(f.webhooks->EndpointAdd("http://127.0.0.1:9/b").ok());
  Job job = f.MakeJob("after", false);
  f.MakeRun(job);  // run:queued (not a job event), job:started, job:completed
  int64_t job_events = f.Count(
      "SELECT count(*) FROM events WHERE type LIKE 'job:%' AND id > (SELECT min(id) FROM events)");
  CHECK(job_events == 3);
  CHECK(f.Count("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'") ==
        2 * job_events);
  CHECK(f.Count("SELECT count(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
                "WHERE e.type NOT LIKE 'job:%'") == 0);
  auto pending = f.webhooks->DeliveriesPending(a->first.id, 0, 100);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 3);
  CHECK((*pending)[0].type == "job:created");
  CHECK((*pending)[1].type == "job:started");
  CHECK((*pending)[2].type == "job:completed");
  CHECK((*pending)[0].event_id < (*pending)[1].event_id);
  // Removing an endpoint drops its queue; an unknown one is not found.
  REQUIRE(f.webhooks->EndpointRemove("http://127.0.0.1:9/b").ok());
  CHECK(f.Count("SELECT count(*) FROM webhook_deliveries") == 3);
  auto unknown = f.webhooks->EndpointRemove("http://127.0.0.1:9/b");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("Retention prunes events as a prefix and never past a pending delivery or the floor",
          "[retention][webhooks]") {
  Fixture f;
  for (int i = 1; i <= 3; ++i) f.MakeJob("plain" + std::to_string(i), false);  // events 1-3
  REQUIRE(f.webhooks->EndpointAdd("http://127.0.0.1:9/hook").ok());
  for (int i = 4; i <= 6; ++i) f.MakeJob("hooked" + std::to_string(i), false);  // events 4-6
  CHECK(f.Count("SELECT max(id) FROM events") == 6);
  // The receiver got event 4; 5 and 6 are pending.
  f.Exec(
      "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = created_at "
      "WHERE event_id = 4");
  f.clock.Advance(8 * kDay);
  f.MakeJob("recent", false);  // event 7

  std::atomic<int64_t> floor{100};
  auto o = f.Options();
  o.batch = 2;
  o.event_floor = [&] { return floor.load(); };
  retention::Pruner pruner(*f.retention, f.clock, o);
  auto r1 = pruner.PruneOnce();
  REQUIRE(r1.ok());
  CHECK(r1->events == 4);  // 1-4; 5 waits for its delivery
  auto bounds = f.store->EventBounds();
  REQUIRE(bounds.ok());
  CHECK(bounds->first == 5);
  CHECK(bounds->second == 7);
  CHECK(r1->deliveries == 1);  // event 4's delivered row, older than the retention
  CHECK(f.Count("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'") == 3);

  // Delivered now, but the relay's cursor holds event 6.
  f.Exec("UPDATE webhook_deliveries SET state = 'delivered', delivered_at = created_at");
  floor = 6;
  auto r2 = pruner.PruneOnce();
  REQUIRE(r2.ok());
  CHECK(r2->events == 1);
  bounds = f.store->EventBounds();
  REQUIRE(bounds.ok());
  CHECK(bounds->first == 6);
  CHECK(r2->deliveries == 2);  // events 5 and 6; event 7's is recent
  CHECK(f.Count("SELECT count(*) FROM webhook_deliveries") == 1);

  // The floor passes everything: event 6 goes, the recent event 7 stays.
  floor = 100;
  auto r3 = pruner.PruneOnce();
  REQUIRE(r3.ok());
  CHECK(r3->events == 1);
  CHECK(f.Count("SELECT count(*) FROM events") == 1);
  CHECK(f.Count("SELECT min(id) FROM events") == 7);
}

TEST_CASE("Retention prunes only delivered outbox rows", "[retention]") {
  Fixture f;
  for (int i = 0; i < 7; ++i) f.MakeJob("j" + std::to_string(i));  // outbox rows 1-7
  f.Exec("UPDATE outbox SET state = 'delivered' WHERE id IN (1, 2, 4, 6)");
  f.Exec("UPDATE outbox SET state = 'parked' WHERE id = 3");
  f.clock.Advance(8 * kDay);
  f.MakeJob("new");  // outbox row 8, recent
  f.Exec("UPDATE outbox SET state = 'delivered' WHERE id = 8");
  auto o = f.Options();
  o.batch = 2;
  retention::Pruner pruner(*f.retention, f.clock, o);
  auto r = pruner.PruneOnce();
  REQUIRE(r.ok());
  CHECK(r->outbox == 4);
  SQLite::Database db(f.options.path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT group_concat(id, ',') FROM (SELECT id FROM outbox ORDER BY id)");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "3,5,7,8");
}

TEST_CASE("Retention set to zero keeps everything", "[retention]") {
  Fixture f;
  Job job = f.MakeJob("forever", false);
  for (int i = 0; i < 3; ++i) f.MakeRun(job);
  f.clock.Advance(400 * kDay);
  auto o = f.Options();
  o.event_retention = 0ms;
  o.run_retention = 0ms;
  o.runs_per_job = 0;
  retention::Pruner pruner(*f.retention, f.clock, o);
  auto r = pruner.PruneOnce();
  REQUIRE(r.ok());
  CHECK(r->total() == 0);
  CHECK(f.Count("SELECT count(*) FROM runs") == 3);
}

TEST_CASE("The pruner loop runs at Start and stops", "[retention]") {
  Fixture f;
  Job job = f.MakeJob("loop", false);
  for (int i = 0; i < 5; ++i) f.MakeRun(job);
  auto o = f.Options();
  o.runs_per_job = 2;
  o.interval = 10ms;
  retention::Pruner pruner(*f.retention, f.clock, o);
  pruner.Start();
  CHECK(test::WaitFor([&] { return pruner.passes() >= 2; }));
  pruner.Stop();
  pruner.Stop();  // safe twice
  CHECK(f.Count("SELECT count(*) FROM runs") == 2);
}

TEST_CASE("Retention with replication off lets old outbox rows go and holds no run back",
          "[retention]") {
  Fixture f;
  // No sink reads this outbox (replication off).
  f.retention = std::make_unique<store::RetentionStore>(*f.writer, *f.readers, false);
  Job job = f.MakeJob("j");
  std::string old_run = f.MakeRun(job);  // its outbox rows stay pending
  std::string last = f.MakeRun(job);
  f.clock.Advance(31 * kDay);
  std::string recent = f.MakeRun(job);
  retention::Pruner pruner(*f.retention, f.clock, f.Options());
  auto r = pruner.PruneOnce();
  REQUIRE(r.ok());
  CHECK(r->runs == 2);  // old_run and the former last run: both over 30 days old
  SQLite::Database db(f.options.path, SQLite::OPEN_READONLY);
  SQLite::Statement runs(db, "SELECT group_concat(id) FROM runs");
  REQUIRE(runs.executeStep());
  CHECK(runs.getColumn(0).getString() == recent);
  // Only outbox rows newer than the event retention are left, pending or not.
  SQLite::Statement left(db, "SELECT count(*), count(DISTINCT entity_id) FROM outbox");
  REQUIRE(left.executeStep());
  CHECK(left.getColumn(0).getInt() > 0);
  SQLite::Statement stale(
      db, "SELECT count(*) FROM outbox WHERE entity_id IN ('" + old_run + "', '" + last + "')");
  REQUIRE(stale.executeStep());
  CHECK(stale.getColumn(0).getInt() == 0);
}

TEST_CASE("Retention forgets Idempotency-Key records older than the event retention",
          "[retention]") {
  Fixture f;
  auto create = [&](const std::string& name, const std::string& key) {
    store::IdempotentCreate idem{key, "POST /jobs", "hash-" + name};
    auto out = f.store->JobCreate(MakeSpec(name), std::nullopt, &idem);
    REQUIRE(out.ok());
    return *out;
  };
  for (int i = 0; i < 5; ++i) create("old" + std::to_string(i), "old-key-" + std::to_string(i));
  Job target = f.MakeJob("target", false);
  store::IdempotentCreate trigger_key{"old-trigger", "POST /jobs/:id/trigger", "t"};
  REQUIRE(f.store->RunTrigger(target.id, &trigger_key).ok());
  f.clock.Advance(8 * kDay);
  create("recent", "recent-key");

  auto o = f.Options();
  o.batch = 2;  // several batches
  retention::Pruner pruner(*f.retention, f.clock, o);
  auto r = pruner.PruneOnce();
  REQUIRE(r.ok());
  CHECK(r->idempotency_keys == 6);
  CHECK(f.Count("SELECT count(*) FROM idempotency_keys") == 1);
  CHECK(f.Count("SELECT count(*) FROM idempotency_keys WHERE key = 'recent-key'") == 1);
  // The kept key still replays; a pruned one is a new request again.
  store::CreateOutcome replay = create("recent", "recent-key");
  CHECK(replay.replayed);
  CHECK_FALSE(create("old-again", "old-key-0").replayed);
  CHECK(f.Count("SELECT count(*) FROM jobs") == 8);

  // With event retention 0 the records are kept forever.
  f.clock.Advance(400 * kDay);
  o.event_retention = 0ms;
  retention::Pruner keep(*f.retention, f.clock, o);
  auto kept = keep.PruneOnce();
  REQUIRE(kept.ok());
  CHECK(kept->idempotency_keys == 0);
  CHECK(f.Count("SELECT count(*) FROM idempotency_keys") == 2);
}
