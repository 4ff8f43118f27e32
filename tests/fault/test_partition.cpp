// A partition between lshd and its PostgreSQL sink (docs/faults.md): the
// relay reaches a real PostgreSQL 15 through a loopback proxy
// (support/tcp_proxy.h) that passes, blackholes, resets or delays the
// traffic. Through every mode the outbox invariants of the replication issue
// hold: writes are acknowledged without waiting for the sink, the outbox
// only grows while the sink is unreachable, a stall is announced and its
// end too, and once traffic flows the remote copy equals the local one.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "support/daemon.h"
#include "support/postgres.h"
#include "support/replica.h"
#include "support/tcp_proxy.h"
#include "support/wait.h"

using namespace lsh::test;
using namespace lsh::test::replica;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// postgresql://postgres@127.0.0.1:<port>/<db>, with the proxy's port.
std::string ThroughProxy(const std::string& url, int proxy_port) {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(proxy_port) +
         url.substr(url.rfind('/'));
}

int64_t Count(const std::vector<std::string>& types, const std::string& type) {
  return std::count(types.begin(), types.end(), type);
}

}  // namespace

TEST_CASE(
    "A partition to the Postgres sink: pass, blackhole, reset and delay keep the outbox "
    "invariants",
    "[partition]") {
  PgServer& server = PgServer::Shared();
  std::string url = server.CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  TcpProxy proxy(server.port());
  proxy.Start();
  // A 1 s statement deadline: a blackholed connection is given up after it.
  TestDaemon d({RelayEnv({{"LSH_SYNC_DATABASE_URL", ThroughProxy(url, proxy.port())},
                          {"LSH_RELAY_TIMEOUT_MS", "1000"}}),
                {}});
  d.Start();

  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(CreateJob(d, {{"name", "p-" + std::to_string(i)}, {"command", "true"}})["id"]);

  // A round of writes in the current mode: each must be acknowledged while
  // the mode holds (a write that waited on the sink would hang here, under a
  // blackhole, until the client's timeout). Returns the description written.
  int round = 0;
  auto writes = [&](const std::string& phase) {
    std::string text = phase + "-" + std::to_string(++round);
    auto cli = d.Client();
    for (int k = 0; k < 3; ++k)
      for (const auto& id : ids) {
        json body = {{"description", text + "." + std::to_string(k)}};
        auto r = cli->Patch("/jobs/" + id, body.dump(), "application/json");
        REQUIRE(r);
        REQUIRE(r->status == 200);
      }
    auto t = cli->Post("/jobs/" + ids[round % ids.size()] + "/trigger", "null", "application/json");
    REQUIRE(t);
    REQUIRE(t->status == 200);
    CreateJob(d, {{"name", text}, {"command", "true"}});
    return text + ".2";
  };
  auto remote_description = [&](const std::string& id) {
    auto r = pg.Query("SELECT description FROM lsh_jobs WHERE id = $1", {id});
    return r.empty() || !r[0][0] ? std::string() : *r[0][0];
  };
  auto runs_settled = [&] {
    return LocalCount(d, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')") == 0;
  };
  // Traffic flows: everything drains and the remote copy is exact, events included.
  auto converged = [&](const char* after) {
    INFO("after " << after);
    REQUIRE(WaitFor(runs_settled, 30s));
    REQUIRE(WaitFor([&] { return Drained(d); }, 30s));
    CheckRemoteEqualsLocal(d, pg);
    int64_t newest = LocalCount(d, "SELECT max(id) FROM events");
    REQUIRE(WaitFor(
        [&] { return pg.Count("SELECT coalesce(max(id), 0) FROM lsh_events") >= newest; }, 30s));
    CHECK(pg.Count("SELECT count(*) FROM lsh_events") ==
          pg.Count("SELECT count(DISTINCT id) FROM lsh_events"));
  };

  writes("pass");
  converged("the first pass");

  // An outage mode: writes are acknowledged, the outbox only grows, nothing
  // of the outage reaches the sink, a stall is announced; on kPass again the
  // copy converges and the recovery is announced.
  auto outage = [&](TcpProxy::Mode mode, const char* name) {
    INFO("mode " << name);
    auto before = EventTypes(d);
    proxy.SetMode(mode);
    std::string last = writes(name);
    REQUIRE(WaitFor([&] { return Outbox(d)["stalled"] == true; }, 20s));
    json o = Outbox(d);
    INFO(o.dump());
    CHECK(o["pending"].get<int64_t>() > 0);
    CHECK(o["lastError"].is_string());
    CHECK(remote_description(ids[0]) != last);
    int64_t pending = o["pending"];
    std::string extra = writes(name);  // still acknowledged well into the outage
    CHECK(Outbox(d)["pending"].get<int64_t>() > pending);
    CHECK(remote_description(ids[0]) != extra);
    auto during = EventTypes(d);
    CHECK(Count(during, "outbox:stalled") == Count(before, "outbox:stalled") + 1);

    proxy.SetMode(TcpProxy::Mode::kPass);
    converged(name);
    CHECK(remote_description(ids[0]) == extra);
    REQUIRE(WaitFor(
        [&] {
          return Count(EventTypes(d), "outbox:recovered") == Count(before, "outbox:recovered") + 1;
        },
        10s));
    CHECK(Outbox(d)["stalled"] == false);
  };

  outage(TcpProxy::Mode::kBlackhole, "blackhole");
  outage(TcpProxy::Mode::kReset, "reset");
  int accepted = proxy.accepted();
  CHECK(accepted >= 2);  // the relay reconnected after the reset

  // Latency, not loss: 150 ms each way is slow but within the relay's
  // deadline, so changes keep arriving and nothing stalls.
  {
    auto before = EventTypes(d);
    proxy.SetMode(TcpProxy::Mode::kDelay, 150ms);
    std::string last = writes("delay");
    REQUIRE(WaitFor([&] { return remote_description(ids[0]) == last; }, 30s));
    converged("delay");
    CHECK(Count(EventTypes(d), "outbox:stalled") == Count(before, "outbox:stalled"));
    proxy.SetMode(TcpProxy::Mode::kPass);
  }

  writes("final");
  converged("the final pass");
  CHECK(Outbox(d)["parked"] == 0);
}

TEST_CASE("A partition in the middle of a large batch is noticed and does not hold up shutdown",
          "[partition]") {
  PgServer& server = PgServer::Shared();
  std::string url = server.CreateDatabase();
  PgConn pg(url);
  ApplySchema(pg);
  TcpProxy proxy(server.port());
  proxy.Start();
  TestDaemon d({RelayEnv({{"LSH_SYNC_DATABASE_URL", ThroughProxy(url, proxy.port())},
                          {"LSH_RELAY_TIMEOUT_MS", "1000"},
                          {"LSH_RELAY_BATCH_SIZE", "5000"}}),
                {}});
  d.Start();
  CreateJob(d, {{"name", "first"}, {"command", "true"}});
  REQUIRE(WaitFor([&] { return Drained(d); }, 20s));

  // About 20 MB of rows pile up while the sink refuses connections; then
  // the partition begins 1 MB into the relay's first large request: more
  // than the socket buffers hold is left, so the relay's send itself meets
  // the partition, not only its wait for the answer.
  proxy.SetMode(TcpProxy::Mode::kReset);
  std::string pad(4000, 'x');
  for (int b = 0; b < 50; ++b) {
    json jobs = json::array();
    for (int i = 0; i < 100; ++i)
      jobs.push_back({{"name", "big-" + std::to_string(b * 100 + i)},
                      {"command", "true"},
                      {"description", pad}});
    auto r = d.Post("/jobs/bulk", {{"jobs", jobs}});
    REQUIRE(r->status == 200);
  }
  REQUIRE(WaitFor([&] { return Outbox(d)["stalled"] == true; }, 20s));
  int64_t pending = Outbox(d)["pending"];
  CHECK(pending >= 5000);
  int accepted = proxy.accepted();
  proxy.BlackholeAfter(1 << 20);
  REQUIRE(WaitFor([&] { return proxy.mode() == TcpProxy::Mode::kBlackhole; }, 20s));
  // The relay gives the request up at its deadline and says so.
  REQUIRE(WaitFor([&] { return proxy.accepted() > accepted + 1; }, 20s));
  json o = Outbox(d);
  INFO(o.dump());
  CHECK(o["stalled"] == true);
  CHECK(o["pending"] == pending);

  // SIGTERM during the partition: the daemon exits within its grace period.
  auto t0 = std::chrono::steady_clock::now();
  int status = d.Terminate();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(status == 0);
  CHECK(secs < 10);

  // Healed and restarted: everything arrives.
  proxy.SetMode(TcpProxy::Mode::kPass);
  d.Start();
  REQUIRE(WaitFor([&] { return Drained(d); }, 60s));
  CheckRemoteEqualsLocal(d, pg);
}
