// Store operations on a real SQLite database: jobs CRUD, promise 2 (event and
// outbox rows in the same transaction), group commit and savepoint isolation.
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <thread>

#include "core/ids.h"
#include "core/json.h"
#include "support/store_fixture.h"

using namespace lsh;
using lsh::test::MakeSpec;
using lsh::test::StoreFixture;

TEST_CASE("JobCreate stores the job with its event and outbox rows", "[store]") {
  StoreFixture f;
  auto out = f.store->JobCreate(MakeSpec("etl", "echo hi"), std::nullopt);
  REQUIRE(out.ok());
  const Job& job = out->job;
  CHECK(IsUuid(job.id));
  CHECK(job.status == "created");
  CHECK(f.Count("SELECT count(*) FROM jobs WHERE name = 'etl'") == 1);
  CHECK(f.Count("SELECT count(*) FROM events WHERE type = 'job:created' AND job_id = '" + job.id +
                "'") == 1);
  CHECK(f.Count("SELECT count(*) FROM outbox WHERE entity = 'job' AND entity_id = '" + job.id +
                "' AND state = 'pending'") == 1);
  CHECK(f.Count("SELECT count(*) FROM outbox") == 1);  // events are followed by id, not copied

  auto got = f.store->JobGet("etl");
  REQUIRE(got.ok());
  CHECK(got->id == job.id);
  CHECK(got->spec.command == "echo hi");
  auto by_id = f.store->JobGet(job.id);
  REQUIRE(by_id.ok());
  CHECK(by_id->spec.name == "etl");
}

TEST_CASE("JobCreate with a schedule rests in scheduled with its next fire", "[store]") {
  StoreFixture f;
  JobSpec s = MakeSpec("tick");
  s.schedule.kind = ScheduleKind::kInterval;
  s.schedule.interval_ms = 60000;
  SysTime next = f.clock.Now() + std::chrono::minutes(1);
  auto out = f.store->JobCreate(s, next);
  REQUIRE(out.ok());
  CHECK(out->job.status == "scheduled");
  auto got = f.store->JobGet("tick");
  REQUIRE(got.ok());
  REQUIRE(got->next_run_at.has_value());
  CHECK(*got->next_run_at == next);
  CHECK(got->spec.schedule.interval_ms == 60000);
}

TEST_CASE("A duplicate name is a conflict and writes nothing", "[store]") {
  StoreFixture f;
  REQUIRE(f.store->JobCreate(MakeSpec("dup"), std::nullopt).ok());
  auto again = f.store->JobCreate(MakeSpec("dup"), std::nullopt);
  REQUIRE(!again.ok());
  CHECK(again.error().kind == ErrorKind::kConflict);
  CHECK(again.error().code == "duplicate_name");
  CHECK(f.Count("SELECT count(*) FROM jobs") == 1);
  CHECK(f.Count("SELECT count(*) FROM events") == 1);
  CHECK(f.Count("SELECT count(*) FROM outbox") == 1);
}

TEST_CASE("JobUpdate bumps the version and writes job:updated", "[store]") {
  StoreFixture f;
  auto created = f.store->JobCreate(MakeSpec("u"), std::nullopt);
  REQUIRE(created.ok());
  auto upd = f.store->JobUpdate("u", [](const Job& cur) -> Result<store::JobUpdate> {
    JobSpec s = cur.spec;
    s.command = "echo changed";
    s.tags = {"a", "b"};
    return store::JobUpdate{s, std::nullopt};
  });
  REQUIRE(upd.ok());
  CHECK(upd->version == 2);
  CHECK(upd->spec.command == "echo changed");
  auto got = f.store->JobGet(created->job.id);
  REQUIRE(got.ok());
  CHECK(got->spec.tags == std::vector<std::string>{"a", "b"});
  CHECK(f.Count("SELECT count(*) FROM events WHERE type = 'job:updated'") == 1);
  CHECK(f.Count("SELECT max(version) FROM outbox WHERE entity = 'job'") == 2);

  auto missing = f.store->JobUpdate("nope", [](const Job& cur) -> Result<store::JobUpdate> {
    return store::JobUpdate{cur.spec, std::nullopt};
  });
  REQUIRE(!missing.ok());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("JobUpdate renaming onto an existing name is a conflict", "[store]") {
  StoreFixture f;
  REQUIRE(f.store->JobCreate(MakeSpec("a"), std::nullopt).ok());
  REQUIRE(f.store->JobCreate(MakeSpec("b"), std::nullopt).ok());
  auto upd = f.store->JobUpdate("b", [](const Job& cur) -> Result<store::JobUpdate> {
    JobSpec s = cur.spec;
    s.name = "a";
    return store::JobUpdate{s, std::nullopt};
  });
  REQUIRE(!upd.ok());
  CHECK(upd.error().kind == ErrorKind::kConflict);
  CHECK(f.Count("SELECT count(*) FROM events WHERE type = 'job:updated'") == 0);
}

TEST_CASE("JobDelete removes the job and records a delete in the outbox", "[store]") {
  StoreFixture f;
  auto created = f.store->JobCreate(MakeSpec("gone"), std::nullopt);
  REQUIRE(created.ok());
  auto del = f.store->JobDelete("gone", false);
  REQUIRE(del.ok());
  CHECK(f.Count("SELECT count(*) FROM jobs") == 0);
  CHECK(f.Count("SELECT count(*) FROM events WHERE type = 'job:deleted'") == 1);
  CHECK(f.Count("SELECT count(*) FROM outbox WHERE entity = 'job' AND op = 'delete'") == 1);
  auto again = f.store->JobDelete("gone", false);
  REQUIRE(!again.ok());
  CHECK(again.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("JobDelete refuses a job with an active run unless forced", "[store]") {
  StoreFixture f;
  auto created = f.store->JobCreate(MakeSpec("busy"), std::nullopt);
  REQUIRE(created.ok());
  std::string job_id = created->job.id;
  REQUIRE(f.writer
              ->Write([&](store::WriteTx& tx) -> Status {
                SQLite::Statement q(tx.db,
                                    "INSERT INTO runs (id, job_id, status, trigger, queued_at, "
                                    "created_at, updated_at) VALUES ('r1', ?, 'queued', 'manual', "
                                    "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', "
                                    "'2026-01-01T00:00:00.000Z')");
                q.bind(1, job_id);
                q.exec();
                return Status::Ok();
              })
              .ok());
  auto refused = f.store->JobDelete("busy", false);
  REQUIRE(!refused.ok());
  CHECK(refused.error().kind == ErrorKind::kConflict);
  CHECK(f.Count("SELECT count(*) FROM jobs") == 1);
  REQUIRE(f.store->JobDelete("busy", true).ok());
  CHECK(f.Count("SELECT count(*) FROM jobs") == 0);
  CHECK(f.Count("SELECT count(*) FROM runs") == 0);
}

TEST_CASE("JobList filters, counts and pages newest first", "[store]") {
  StoreFixture f;
  for (int i = 0; i < 25; ++i) {
    JobSpec s = MakeSpec("job-" + std::to_string(i));
    if (i % 5 == 0) s.tags = {"five"};
    REQUIRE(f.store->JobCreate(s, std::nullopt).ok());
  }
  store::JobFilter filter;
  filter.limit = 10;
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    auto page = f.store->JobList(filter);
    REQUIRE(page.ok());
    CHECK(page->total == 25);
    for (const auto& j : page->jobs) seen.push_back(j.spec.name);
    ++pages;
    if (page->next_cursor.empty()) break;
    filter.cursor = page->next_cursor;
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 25);
  CHECK(seen.front() == "job-24");
  CHECK(seen.back() == "job-0");

  store::JobFilter tagged;
  tagged.tag = "five";
  auto t = f.store->JobList(tagged);
  REQUIRE(t.ok());
  CHECK(t->total == 5);

  store::JobFilter named;
  named.name = "job-1";  // job-1, job-10 … job-19
  auto n = f.store->JobList(named);
  REQUIRE(n.ok());
  CHECK(n->total == 11);

  store::JobFilter underscore;
  underscore.name = "_";  // a LIKE wildcard, matched literally
  auto u = f.store->JobList(underscore);
  REQUIRE(u.ok());
  CHECK(u->total == 0);
}

TEST_CASE("Idempotent create replays the first response and rejects another body", "[store]") {
  StoreFixture f;
  store::IdempotentCreate idem{"key-1", "POST /jobs", "hash-a"};
  auto first = f.store->JobCreate(MakeSpec("idem"), std::nullopt, &idem);
  REQUIRE(first.ok());
  CHECK(!first->replayed);
  auto second = f.store->JobCreate(MakeSpec("idem"), std::nullopt, &idem);
  REQUIRE(second.ok());
  CHECK(second->replayed);
  CHECK(second->body == first->body);
  CHECK(f.Count("SELECT count(*) FROM jobs") == 1);
  store::IdempotentCreate other = idem;
  other.request_hash = "hash-b";
  auto third = f.store->JobCreate(MakeSpec("idem2"), std::nullopt, &other);
  REQUIRE(!third.ok());
  CHECK(third.error().code == "idempotency_key_reused");
  CHECK(f.Count("SELECT count(*) FROM jobs") == 1);
}

TEST_CASE("Group commit gathers concurrent writes into few transactions", "[store][writer]") {
  StoreFixture f;
  constexpr int kThreads = 16, kPer = 20;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        if (f.store
                ->JobCreate(MakeSpec("g-" + std::to_string(t) + "-" + std::to_string(i)),
                            std::nullopt)
                .ok())
          ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kPer);
  CHECK(f.Count("SELECT count(*) FROM jobs") == kThreads * kPer);
  auto stats = f.writer->stats();
  CHECK(stats.writes == kThreads * kPer);
  CHECK(stats.batches < stats.writes);  // some writes shared a commit
}

TEST_CASE("A failing write in a batch is rolled back alone", "[store][writer]") {
  StoreFixture f;
  std::vector<std::future<Status>> futs;
  for (int i = 0; i < 50; ++i) {
    futs.push_back(f.writer->Submit([i](store::WriteTx& tx) -> Status {
      SQLite::Statement q(tx.db,
                          "INSERT INTO boots (id, pid, version, started_at) VALUES (?, 1, 'x', "
                          "'2026-01-01T00:00:00.000Z')");
      q.bind(1, "b" + std::to_string(i));
      q.exec();
      if (i % 2) return Error::Invalid("odd writes fail after writing");
      return Status::Ok();
    }));
  }
  int good = 0;
  for (auto& fut : futs) good += fut.get().ok();
  CHECK(good == 25);
  CHECK(f.Count("SELECT count(*) FROM boots") == 25);
}

TEST_CASE("A write that throws becomes an error value, others commit", "[store][writer]") {
  StoreFixture f;
  auto bad = f.writer->Submit([](store::WriteTx& tx) -> Status {
    tx.db.exec("INSERT INTO no_such_table VALUES (1)");
    return Status::Ok();
  });
  auto good = f.writer->Submit([](store::WriteTx& tx) -> Status {
    tx.db.exec(
        "INSERT INTO boots (id, pid, version, started_at) VALUES ('ok', 1, 'x', "
        "'2026-01-01T00:00:00.000Z')");
    return Status::Ok();
  });
  Status b = bad.get();
  REQUIRE(!b.ok());
  CHECK(b.error().message.find("no_such_table") != std::string::npos);
  CHECK(good.get().ok());
  CHECK(f.Count("SELECT count(*) FROM boots") == 1);
}

TEST_CASE("Event ids stay gap-free when writes that appended events roll back", "[store][writer]") {
  StoreFixture f;
  std::vector<std::future<Status>> futs;
  for (int i = 0; i < 40; ++i) {
    futs.push_back(f.writer->Submit([i](store::WriteTx& tx) -> Status {
      store::Store::EventAppend(tx, "job:updated", "", "", "{}");
      if (i % 3 == 0) return Error::Invalid("every third write fails after its event");
      return Status::Ok();
    }));
  }
  int good = 0;
  for (auto& fut : futs) good += fut.get().ok();
  // AUTOINCREMENT keeps its counter in sqlite_sequence, inside the same
  // transaction: a rolled-back savepoint takes its id back with it.
  CHECK(f.Count("SELECT count(*) FROM events") == good);
  CHECK(f.Count("SELECT max(id) - min(id) + 1 FROM events") == good);
}

TEST_CASE("A batch whose transaction SQLite ended fails whole and keeps nothing",
          "[store][writer]") {
  StoreFixture f;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> holding;
  // Holds the writer so the next three writes share one batch.
  auto hold = f.writer->Submit([gate, &holding](store::WriteTx&) -> Status {
    holding.set_value();
    gate.wait();
    return Status::Ok();
  });
  holding.get_future().wait();
  auto insert = [](const char* id) {
    return [id](store::WriteTx& tx) -> Status {
      SQLite::Statement q(tx.db,
                          "INSERT INTO boots (id, pid, version, started_at) VALUES (?, 1, 'x', "
                          "'2026-01-01T00:00:00.000Z')");
      q.bind(1, id);
      q.exec();
      return Status::Ok();
    };
  };
  auto a = f.writer->Submit(insert("a"));
  auto ended = f.writer->Submit([](store::WriteTx& tx) -> Status {
    tx.db.exec("ROLLBACK");  // what SQLite itself does after some I/O errors
    return Status::Ok();
  });
  auto c = f.writer->Submit(insert("c"));
  release.set_value();
  CHECK(hold.get().ok());
  CHECK(!a.get().ok());
  CHECK(!ended.get().ok());
  CHECK(!c.get().ok());  // not committed alone in a transaction of its own
  CHECK(f.Count("SELECT count(*) FROM boots") == 0);
  CHECK(!f.writer->healthy());
  CHECK(f.writer->Write(insert("d")).ok());  // not fail-stop: the next write commits
  CHECK(f.writer->healthy());
  CHECK(f.Count("SELECT count(*) FROM boots") == 1);
}

TEST_CASE("Writes after Stop fail as unavailable", "[store][writer]") {
  StoreFixture f;
  f.writer->Stop();
  f.writer->Stop();  // safe twice
  Status s = f.writer->Write([](store::WriteTx&) -> Status { return Status::Ok(); });
  REQUIRE(!s.ok());
  CHECK(s.error().kind == ErrorKind::kUnavailable);
}

TEST_CASE("Counts reports jobs by status and the outbox", "[store]") {
  StoreFixture f;
  REQUIRE(f.store->JobCreate(MakeSpec("c1"), std::nullopt).ok());
  REQUIRE(f.store->JobCreate(MakeSpec("c2"), f.clock.Now() + std::chrono::hours(1)).ok());
  auto c = f.store->Counts();
  REQUIRE(c.ok());
  CHECK(c->jobs_total == 2);
  CHECK(c->outbox_pending == 2);
  CHECK(c->schema_version >= 1);
  CHECK(c->outbox_oldest_pending.has_value());
}

namespace {

// Claim-test steps on a StoreFixture: queue a manual run, claim (returning
// the claimed run ids in claim order), end a run with a status.
std::string Enqueue(StoreFixture& f, const std::string& job) {
  auto r = f.store->RunEnqueue(job, "manual");
  REQUIRE(r.ok());
  return r->id;
}

std::vector<std::string> Claim(StoreFixture& f, int limit) {
  auto c = f.store->RunClaim("boot", limit);
  REQUIRE(c.ok());
  std::vector<std::string> ids;
  for (const auto& cr : *c) {
    CHECK(cr.run.status == "running");
    ids.push_back(cr.run.id);
  }
  return ids;
}

void End(StoreFixture& f, const std::string& run, const std::string& status) {
  store::RunOutcome o;
  o.status = status;
  o.exit_code = status == "completed" ? 0 : 1;
  o.started_at = f.clock.Now();
  o.completed_at = f.clock.Now();
  REQUIRE(f.store->RunFinish(run, o).ok());
}

}  // namespace

// The claim's rules (store.h RunClaim): priority first, then queue order;
// a run waiting for its retry time is not due; a job whose overlap policy is
// not "allow" runs one at a time, so its queued runs wait while one runs, and
// a claim takes at most one of them. A long backlog of such a job does not
// hide the runs behind it.
TEST_CASE("RunClaim takes due runs by priority then queue order, one at a time per job",
          "[store][claim]") {
  StoreFixture f;
  auto make = [&](const std::string& name, int priority, const std::string& overlap,
                  int max_retries = 0) {
    JobSpec s = MakeSpec(name);
    s.priority = priority;
    s.schedule.overlap = overlap;
    s.max_retries = max_retries;
    s.retry_delay_ms = 600000;  // a retry is due in ten minutes
    auto out = f.store->JobCreate(s, std::nullopt);
    REQUIRE(out.ok());
    return out->job.id;
  };
  auto enqueue = [&](const std::string& job) { return Enqueue(f, job); };
  auto claim = [&](int limit) { return Claim(f, limit); };
  auto fail = [&](const std::string& run) { End(f, run, "failed"); };

  // A retry that is not due yet, at the highest priority.
  std::string flaky = make("flaky", 99, "queue", 1);
  std::string first_try = enqueue(flaky);
  CHECK(claim(1) == std::vector<std::string>{first_try});
  fail(first_try);
  CHECK(f.Count("SELECT count(*) FROM runs WHERE status = 'queued' AND not_before IS NOT NULL") ==
        1);

  // A one-at-a-time job that is running, with a backlog queued before the rest.
  std::string busy = make("busy", 50, "queue");
  std::string busy_running = enqueue(busy);
  CHECK(claim(1) == std::vector<std::string>{busy_running});
  std::vector<std::string> backlog;
  for (int i = 0; i < 300; ++i) backlog.push_back(enqueue(busy));

  std::string high = make("high", 90, "skip");
  std::string high1 = enqueue(high), high2 = enqueue(high);
  std::string low = make("low", 1, "allow");
  std::string low1 = enqueue(low), low2 = enqueue(low);
  std::string mid = make("mid", 5, "queue");
  std::string mid1 = enqueue(mid);
  // Held behind their heads: all of busy's backlog but the first, high2.
  CHECK(f.Count("SELECT count(*) FROM runs WHERE status = 'queued' AND held = 1") == 299 + 1);

  // Priority order; one of "high", both of "low" (allow); nothing of "busy"
  // (running) nor of "flaky" (not due).
  CHECK(claim(10) == std::vector<std::string>{high1, mid1, low1, low2});
  CHECK(claim(10).empty());  // high2 waits for high1

  fail(high1);  // no retries: high2 may go now
  CHECK(claim(10) == std::vector<std::string>{high2});

  // The limit holds, and the backlog drains one run at a time, in order.
  fail(busy_running);
  CHECK(claim(0).empty());
  CHECK(claim(10) == std::vector<std::string>{backlog[0]});
  fail(backlog[0]);
  CHECK(claim(10) == std::vector<std::string>{backlog[1]});
  CHECK(f.Count("SELECT count(*) FROM runs WHERE status = 'queued'") == 298 + 1);
}

TEST_CASE("A one-at-a-time job's backlog is held behind its head and released for overlap",
          "[store][claim]") {
  StoreFixture f;
  JobSpec s = MakeSpec("q");
  s.schedule.overlap = "queue";
  auto created = f.store->JobCreate(s, std::nullopt);
  REQUIRE(created.ok());
  std::string job = created->job.id;
  auto enqueue = [&] { return Enqueue(f, job); };
  auto claim = [&] { return Claim(f, 10); };
  auto finish = [&](const std::string& run) { End(f, run, "completed"); };
  auto update = [&](auto&& edit) {
    auto u = f.store->JobUpdate(job, [&](const Job& cur) -> Result<store::JobUpdate> {
      store::JobUpdate up{cur.spec, cur.next_run_at};
      edit(up.spec);
      return up;
    });
    REQUIRE(u.ok());
  };
  auto held = [&] {
    return f.Count("SELECT count(*) FROM runs WHERE status = 'queued' AND held = 1");
  };
  auto heads = [&] {
    return f.Count("SELECT count(*) FROM runs WHERE status = 'queued' AND held = 0");
  };

  std::string a = enqueue(), b = enqueue(), c = enqueue();
  CHECK(held() == 2);
  CHECK(heads() == 1);

  // A run queued later at a higher priority outranks the head.
  update([](JobSpec& spec) { spec.priority = 50; });
  std::string d = enqueue();
  CHECK(held() == 3);
  CHECK(claim() == std::vector<std::string>{d});
  CHECK(held() == 2);  // a moved up
  CHECK(claim().empty());
  finish(d);
  CHECK(claim() == std::vector<std::string>{a});

  // "allow" releases the backlog: both start beside a.
  update([](JobSpec& spec) { spec.schedule.overlap = "allow"; });
  CHECK(held() == 0);
  CHECK(claim() == std::vector<std::string>{b, c});

  // Back to one at a time with runs queued meanwhile: all but the first held.
  std::string e = enqueue(), g = enqueue(), h = enqueue();
  CHECK(held() == 0);
  update([](JobSpec& spec) { spec.schedule.overlap = "skip"; });
  CHECK(held() == 2);
  CHECK(heads() == 1);
  for (const std::string& run : {a, b, c}) finish(run);
  CHECK(claim() == std::vector<std::string>{e});
  finish(e);
  CHECK(claim() == std::vector<std::string>{g});
  finish(g);
  CHECK(claim() == std::vector<std::string>{h});
  CHECK(held() == 0);
  CHECK(heads() == 0);
}
