// lsh_relay_bench: the outbox relay's drain rate into a local PostgreSQL 15.
//
//   lsh_relay_bench [ROWS] [BATCH] [--fsync-off]
//
// Builds a backlog of ROWS outbox rows (default 100000: a third job creates,
// the rest run enqueues, each of which changes a run and its job) in a temp
// SQLite database while no sink is configured, starts a PostgreSQL 15 of its
// own (tests/support/postgres.h; fsync on unless --fsync-off) with the remote
// schema, then starts the relay with the Postgres sink and times how long the
// backlog takes to drain: outbox rows/s (the target is >= 5000), and the time
// until the events followed the rows. The local database uses lshd's
// default synchronous=FULL for the drain, as the daemon would.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "outbox/postgres_sink.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/outbox_store.h"
#include "store/store.h"
#include "store/writer.h"
#include "support/postgres.h"

using namespace lsh;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Local {
  store::DbOptions options;
  std::unique_ptr<store::Writer> writer;
  std::unique_ptr<store::ReaderPool> readers;
  std::unique_ptr<store::Store> store;

  Local(const std::string& path, bool sync_full) {
    options.path = path;
    options.sync_full = sync_full;
    auto conn = store::OpenConnection(options, false);
    if (!conn) throw std::runtime_error(conn.error().message);
    if (auto m = store::Migrate(**conn); !m) throw std::runtime_error(m.error().message);
    writer = std::make_unique<store::Writer>(std::move(conn.value()), SystemClock::Get());
    readers = std::make_unique<store::ReaderPool>(options);
    store = std::make_unique<store::Store>(*writer, *readers, SystemClock::Get());
    writer->Start();
  }
  ~Local() { writer->Stop(); }
};

int64_t Pending(store::Store& st) {
  store::OutboxStore ob(st);
  auto c = ob.OutboxCount();
  if (!c) throw std::runtime_error(c.error().message);
  return c->pending;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 100000;
  int batch = 500;
  bool fsync = true;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--fsync-off")
      fsync = false;
    else
      pos.push_back(a);
  }
  if (pos.size() > 0) rows = std::atoll(pos[0].c_str());
  if (pos.size() > 1) batch = std::atoi(pos[1].c_str());
  if (rows < 3 || batch < 1) {
    std::fprintf(stderr, "usage: lsh_relay_bench [ROWS>=3] [BATCH>=1] [--fsync-off]\n");
    return 2;
  }

  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "lshbench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  std::string db = tmpl + "/lsh.db";

  // 1. The sink: a PostgreSQL of our own with the remote schema.
  test::PgServer::Options po;
  po.fsync = fsync;
  test::PgServer pg(po);
  std::string url = pg.CreateDatabase();
  {
    test::PgConn c(url);
    c.Exec(outbox::RemoteSchemaSql());
  }

  auto sink = std::make_unique<outbox::PostgresSink>(url, std::chrono::seconds(30));

  // 2. The backlog (synchronous=NORMAL: building it is not what we measure),
  // as an outage leaves it: the sink had its snapshot, then changes piled up.
  int64_t jobs_n = rows / 3;
  std::vector<std::string> job_ids;
  auto t0 = SteadyClock::now();
  {
    Local local(db, /*sync_full=*/false);
    for (int64_t done = 0; done < jobs_n;) {
      std::vector<std::pair<JobSpec, std::optional<SysTime>>> specs;
      for (int i = 0; i < 1000 && done < jobs_n; ++i, ++done) {
        JobSpec s;
        s.name = "bench-" + std::to_string(done);
        s.command = "echo bench";
        s.description = "a job of the drain benchmark";
        s.tags = {"bench"};
        s.env = {{"K", "V"}};
        specs.emplace_back(s, std::nullopt);
      }
      for (auto& r : local.store->JobCreateMany(specs)) {
        if (!r) throw std::runtime_error(r.error().message);
        job_ids.push_back(r->id);
      }
    }
    int64_t left = rows - Pending(*local.store);
    std::atomic<int64_t> next{0};
    int64_t enqueues = (left + 1) / 2;
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&] {
        for (int64_t i; (i = next.fetch_add(1)) < enqueues;) {
          auto r = local.store->RunEnqueue(job_ids[i % job_ids.size()], "manual");
          if (!r) throw std::runtime_error(r.error().message);
        }
      });
    }
    for (auto& t : threads) t.join();
    store::OutboxStore ob(*local.store);
    if (auto st = ob.SnapshotFinish(sink->id(), sink->label(), /*max_outbox_id=*/0); !st)
      throw std::runtime_error(st.error().message);
  }
  double build_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();

  // 3. The drain, with lshd's default synchronous=FULL.
  Local local(db, /*sync_full=*/true);
  int64_t backlog = Pending(*local.store);
  auto bounds = local.store->EventBounds();
  int64_t newest_event = bounds ? bounds->second : 0;
  outbox::RelayOptions ro;
  ro.batch_size = batch;
  ro.hostname = "bench";
  outbox::Relay relay(*local.store, std::move(sink), SystemClock::Get(), ro);
  auto start = SteadyClock::now();
  if (auto s = relay.Start(); !s) throw std::runtime_error(s.error().message);
  double outbox_s = 0, events_s = 0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    double t = std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (outbox_s == 0 && Pending(*local.store) == 0) outbox_s = t;
    if (outbox_s > 0 && relay.EventFloor() > newest_event) {
      events_s = t;
      break;
    }
    if (t > 600) throw std::runtime_error("no drain within 10 minutes");
  }
  outbox::RelayStats st = relay.Stats();
  relay.Stop();
  test::PgConn c(url);
  int64_t remote_jobs = c.Count("SELECT count(*) FROM lsh_jobs");
  int64_t remote_runs = c.Count("SELECT count(*) FROM lsh_job_executions");
  int64_t remote_events = c.Count("SELECT count(*) FROM lsh_events");

  std::printf("relay drain to local PostgreSQL 15 (fsync=%s), batch %d\n", fsync ? "on" : "off",
              batch);
  std::printf("  backlog: %lld outbox rows (%lld jobs, %lld runs), %lld events; built in %.1f s\n",
              static_cast<long long>(backlog), static_cast<long long>(remote_jobs),
              static_cast<long long>(remote_runs), static_cast<long long>(newest_event), build_s);
  std::printf("  outbox drained in %.2f s: %.0f rows/s (target >= 5000)\n", outbox_s,
              static_cast<double>(backlog) / outbox_s);
  std::printf("  events followed in %.2f s: %.0f events/s overall\n", events_s,
              static_cast<double>(newest_event) / events_s);
  std::printf("  remote: %lld jobs, %lld executions, %lld events; %llu sink calls, %llu failures\n",
              static_cast<long long>(remote_jobs), static_cast<long long>(remote_runs),
              static_cast<long long>(remote_events), static_cast<unsigned long long>(st.batches),
              static_cast<unsigned long long>(st.failures));
  fs::remove_all(tmpl);
  return remote_jobs == jobs_n ? 0 : 1;
}
