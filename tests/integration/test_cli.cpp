// The command-line client (src/cli/cli.h) against the real daemon: each
// subcommand's output and exit status (0 done, 1 the daemon answered with an
// error, 2 usage error or unreachable), --json parseable, --help everywhere.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "support/daemon.h"

using lsh::test::CommandResult;
using lsh::test::RunLshd;
using lsh::test::TestDaemon;
using nlohmann::json;

namespace {

std::map<std::string, std::string> UrlEnv(const TestDaemon& d, const std::string& key = "") {
  std::map<std::string, std::string> env = {
      {"LSH_API_URL", "http://127.0.0.1:" + std::to_string(d.port())}};
  env["LSH_API_KEY"] = key;  // never inherit one from the caller's environment
  return env;
}

json ParseOut(const CommandResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  auto j = json::parse(r.out, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

// A port nothing listens on: bound once by us, then released.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("cli add jobs trigger runs logs and status against a real daemon", "[cli]") {
  TestDaemon d;
  d.Start();
  auto env = UrlEnv(d);

  auto add = RunLshd({"add", "greet", "--", "echo", "hello-cli"}, env);
  INFO(add.err);
  REQUIRE(add.status == 0);
  CHECK(add.out.find("greet") != std::string::npos);
  CHECK(add.out.find("NAME") != std::string::npos);

  auto add2 = RunLshd(
      {"add", "nightly", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--json", "--", "true"},
      env);
  REQUIRE(add2.status == 0);
  json nightly = ParseOut(add2);
  CHECK(nightly["name"] == "nightly");
  CHECK(nightly["schedule"]["cron"] == "0 3 * * *");
  CHECK(nightly["schedule"]["timezone"] == "Europe/Berlin");
  CHECK(nightly["status"] == "scheduled");

  auto at = RunLshd({"add", "once", "--at", "2030-01-01T00:00:00Z", "--timeout", "90s", "--retries",
                     "2", "--description", "one shot", "--json", "--", "true"},
                    env);
  REQUIRE(at.status == 0);
  json once = ParseOut(at);
  CHECK(once["schedule"]["at"] == "2030-01-01T00:00:00.000Z");
  CHECK(once["timeout"] == 90000);
  CHECK(once["maxRetries"] == 2);
  CHECK(once["description"] == "one shot");
  REQUIRE(RunLshd({"rm", "once"}, env).status == 0);

  auto every = RunLshd({"add", "tick", "--every", "1h30m", "--json", "--", "true"}, env);
  REQUIRE(every.status == 0);
  CHECK(ParseOut(every)["schedule"]["interval"] == 5400000);

  // The table: a header and one aligned row per job.
  auto jobs = RunLshd({"jobs"}, env);
  REQUIRE(jobs.status == 0);
  auto lines = Lines(jobs.out);
  REQUIRE(lines.size() == 4);
  size_t status_col = lines[0].find("STATUS");
  REQUIRE(status_col != std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK(lines[i].size() > status_col);
    CHECK(lines[i][status_col - 1] == ' ');
    CHECK(lines[i][status_col] != ' ');
  }
  CHECK(jobs.out.find("0 3 * * * Europe/Berlin") != std::string::npos);
  CHECK(jobs.out.find("every 1h30m") != std::string::npos);

  auto two = RunLshd({"jobs", "--limit", "2"}, env);
  REQUIRE(two.status == 0);
  CHECK(Lines(two.out).size() == 3);
  CHECK(two.err.find("2 of 3 jobs shown") != std::string::npos);

  auto jobs_json = RunLshd({"jobs", "--json"}, env);
  REQUIRE(jobs_json.status == 0);
  CHECK(ParseOut(jobs_json).size() == 3);
  auto scheduled = RunLshd({"jobs", "--status", "scheduled", "--json"}, env);
  REQUIRE(scheduled.status == 0);
  CHECK(ParseOut(scheduled).size() == 2);
  auto bad_status = RunLshd({"jobs", "--status", "bogus"}, env);
  CHECK(bad_status.status == 1);
  CHECK(bad_status.err.find("status") != std::string::npos);
  CHECK(bad_status.err.find("HTTP 400") != std::string::npos);

  auto trig = RunLshd({"trigger", "greet", "--wait", "10s", "--json"}, env);
  REQUIRE(trig.status == 0);
  json run = ParseOut(trig)["run"];
  CHECK(run["status"] == "completed");
  CHECK(run["exitCode"] == 0);
  std::string run_id = run["id"];

  auto trig_table = RunLshd({"trigger", "greet"}, env);
  REQUIRE(trig_table.status == 0);
  CHECK(trig_table.out.find("RUN") == 0);
  CHECK(trig_table.out.find("manual") != std::string::npos);
  REQUIRE(lsh::test::WaitFor([&] {
    auto r = RunLshd({"runs", "greet", "--status", "completed", "--json"}, env);
    return r.status == 0 && ParseOut(r).size() == 2;
  }));

  auto runs = RunLshd({"runs", "greet"}, env);
  REQUIRE(runs.status == 0);
  CHECK(runs.out.find(run_id) != std::string::npos);
  CHECK(runs.out.find("completed") != std::string::npos);
  auto runs_json = RunLshd({"runs", "greet", "--json"}, env);
  REQUIRE(runs_json.status == 0);
  CHECK(ParseOut(runs_json).size() == 2);
  CHECK(ParseOut(runs_json)[1]["id"] == run_id);  // newest first

  auto logs = RunLshd({"logs", run_id}, env);
  REQUIRE(logs.status == 0);
  CHECK(logs.out == "hello-cli\n");
  auto no_run = RunLshd({"logs", "no-such-run"}, env);
  CHECK(no_run.status == 1);
  CHECK(no_run.err.find("HTTP 404") != std::string::npos);

  auto status = RunLshd({"status"}, env);
  REQUIRE(status.status == 0);
  CHECK(status.out.find("pid       " + std::to_string(d.pid())) != std::string::npos);
  CHECK(status.out.find("3 (") != std::string::npos);
  auto status_json = RunLshd({"status", "--json"}, env);
  REQUIRE(status_json.status == 0);
  json s = ParseOut(status_json);
  CHECK(s["pid"] == d.pid());
  CHECK(s["jobCount"] == 3);
}

TEST_CASE("cli start stop rm and usage errors exit with their statuses", "[cli]") {
  TestDaemon d;
  d.Start();
  auto env = UrlEnv(d);
  REQUIRE(RunLshd({"add", "hourly", "--every", "1h", "--", "true"}, env).status == 0);

  auto stop = RunLshd({"stop", "hourly", "--json"}, env);
  REQUIRE(stop.status == 0);
  CHECK(ParseOut(stop)["job"]["status"] == "stopped");
  auto start = RunLshd({"start", "hourly"}, env);
  REQUIRE(start.status == 0);
  CHECK(start.out.find("scheduled") != std::string::npos);

  auto rm = RunLshd({"rm", "hourly"}, env);
  REQUIRE(rm.status == 0);
  CHECK(rm.out.find("deleted hourly") != std::string::npos);
  auto again = RunLshd({"rm", "hourly"}, env);
  CHECK(again.status == 1);
  CHECK(again.err.find("Job not found") != std::string::npos);
  CHECK(RunLshd({"trigger", "hourly"}, env).status == 1);
  CHECK(RunLshd({"start", "hourly"}, env).status == 1);

  // A duplicate name is the daemon's 409: exit 1, nothing else changed.
  REQUIRE(RunLshd({"add", "dup", "--", "true"}, env).status == 0);
  auto dup = RunLshd({"add", "dup", "--json", "--", "true"}, env);
  CHECK(dup.status == 1);
  CHECK(ParseOut(dup).contains("error"));
  auto bad_cron = RunLshd({"add", "badcron", "--cron", "61 * * * *", "--", "true"}, env);
  CHECK(bad_cron.status == 1);
  CHECK(bad_cron.err.find("cron") != std::string::npos);

  // Usage errors: exit 2 and no request changes anything.
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> usage = {
      {{"add", "nocmd"}, "'--'"},
      {{"add", "x", "--every", "soon", "--", "true"}, "--every"},
      {{"add", "x", "--every", "1m", "--cron", "* * * * *", "--", "true"}, "at most one"},
      {{"add", "x", "--tz", "UTC", "--", "true"}, "--tz"},
      {{"jobs", "--frobnicate"}, "unknown option"},
      {{"trigger"}, "missing argument"},
      {{"rm", "a", "b"}, "unexpected argument"},
      {{"jobs", "--status"}, "needs a value"},
      {{"outbox", "frob"}, "unknown action"},
  };
  for (const auto& c : usage) {
    auto r = RunLshd(c.args, env);
    INFO(c.args[0] << " " << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(r.err.find("Usage: lshd " + c.args[0]) != std::string::npos);
  }
  auto jobs = RunLshd({"jobs", "--json"}, env);
  REQUIRE(jobs.status == 0);
  CHECK(ParseOut(jobs).size() == 1);  // only "dup"
}

TEST_CASE("cli reports an unreachable daemon with the troubleshooting hint", "[cli]") {
  std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"status"}, {"jobs", "--json"}, {"events", "-f"}, {"logs", "r1", "-f"}}) {
    auto args = cmd;
    args.push_back("--url");
    args.push_back(url);
    auto r = RunLshd(args, {{"LSH_API_URL", ""}, {"LSH_API_KEY", ""}});
    INFO(cmd[0] << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("cannot reach the LSH daemon at " + url) != std::string::npos);
    CHECK(r.err.find("LSH_API_URL") != std::string::npos);
    CHECK(r.err.find("curl " + url + "/health") != std::string::npos);
    CHECK(Lines(r.err).size() <= 3);  // one short message, not a stack of errors
  }
}

TEST_CASE("cli sends the API key from the environment or --api-key", "[cli]") {
  TestDaemon::Options o;
  o.env["LSH_API_KEY"] = "cli-key";
  TestDaemon d(o);
  d.Start();
  auto none = RunLshd({"jobs"}, UrlEnv(d));
  CHECK(none.status == 1);
  CHECK(none.err.find("HTTP 401") != std::string::npos);
  CHECK(none.err.find("LSH_API_KEY") != std::string::npos);
  CHECK(RunLshd({"jobs"}, UrlEnv(d, "cli-key")).status == 0);
  CHECK(RunLshd({"jobs", "--api-key", "cli-key"}, UrlEnv(d)).status == 0);
  CHECK(RunLshd({"jobs", "--api-key=wrong"}, UrlEnv(d)).status == 1);
  // LSH_API_URL may carry the /api prefix (the guide's Option 2).
  auto env = UrlEnv(d, "cli-key");
  env["LSH_API_URL"] += "/api";
  CHECK(RunLshd({"add", "viaapi", "--", "true"}, env).status == 0);
  auto flag = RunLshd({"jobs", "--json", "--url", env["LSH_API_URL"] + "/"}, env);
  REQUIRE(flag.status == 0);
  CHECK(ParseOut(flag)[0]["name"] == "viaapi");
}

TEST_CASE("cli events lists the log and follows it from --since", "[cli]") {
  TestDaemon d;
  d.Start();
  auto env = UrlEnv(d);
  REQUIRE(RunLshd({"add", "e1", "--", "true"}, env).status == 0);
  REQUIRE(RunLshd({"add", "e2", "--", "true"}, env).status == 0);

  auto all = RunLshd({"events", "--json"}, env);
  REQUIRE(all.status == 0);
  json events = ParseOut(all);
  REQUIRE(events.size() == 2);
  CHECK(events[0]["type"] == "job:created");
  int64_t first = events[0]["id"];
  auto after = RunLshd({"events", "--since", std::to_string(first), "--json"}, env);
  REQUIRE(after.status == 0);
  REQUIRE(ParseOut(after).size() == 1);
  CHECK(ParseOut(after)[0]["data"]["name"] == "e2");
  auto table = RunLshd({"events"}, env);
  REQUIRE(table.status == 0);
  CHECK(table.out.find("job:created  e1") != std::string::npos);
  CHECK(RunLshd({"events", "--since", "abc"}, env).status == 1);  // the daemon's 400

  // -f resumes after --since: the stored events first, then live ones.
  auto replay = RunLshd({"events", "-f", "--since", "0", "--limit", "2", "--json"}, env);
  REQUIRE(replay.status == 0);
  auto replay_lines = Lines(replay.out);
  REQUIRE(replay_lines.size() == 2);
  CHECK(json::parse(replay_lines[0])["id"] == first);
  CHECK(json::parse(replay_lines[1])["data"]["name"] == "e2");

  int64_t newest = events[1]["id"];
  CommandResult live;
  std::thread follower([&] {
    live = RunLshd({"events", "--follow", "--since", std::to_string(newest), "--limit", "1",
                    "--types", "job:created"},
                   env);
  });
  REQUIRE(RunLshd({"add", "e3", "--", "true"}, env).status == 0);
  follower.join();
  INFO(live.err);
  CHECK(live.status == 0);
  auto live_lines = Lines(live.out);
  REQUIRE(live_lines.size() == 2);                                         // header + the event
  CHECK(live_lines[0].find("TYPE") == live_lines[1].find("job:created"));  // aligned
  CHECK(live_lines[1].find("job:created       e3") != std::string::npos);
}

TEST_CASE("cli logs -f follows a running job to its end", "[cli]") {
  TestDaemon d;
  d.Start();
  auto env = UrlEnv(d);
  REQUIRE(RunLshd({"add", "slow", "--", "echo first; sleep 0.5; echo second"}, env).status == 0);
  auto trig = RunLshd({"trigger", "slow", "--json"}, env);
  REQUIRE(trig.status == 0);
  std::string run_id = ParseOut(trig)["run"]["id"];
  auto logs = RunLshd({"logs", run_id, "-f"}, env);
  INFO(logs.err);
  CHECK(logs.status == 0);
  CHECK(logs.out == "first\nsecond\n");
  auto err = RunLshd({"logs", run_id, "--stderr"}, env);
  CHECK(err.status == 0);
  CHECK(err.out.empty());
}

TEST_CASE("cli --help works on every subcommand", "[cli]") {
  for (std::string cmd : {"status", "jobs", "add", "trigger", "start", "stop", "rm", "runs", "logs",
                          "events", "outbox", "backup", "check"}) {
    auto r = RunLshd({cmd, "--help"}, {{"LSH_API_URL", "http://127.0.0.1:1"}});
    INFO(cmd << ": " << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("Usage: lshd " + cmd) != std::string::npos);
    CHECK(r.out.find("Exit status") != std::string::npos);
  }
  auto top = RunLshd({"--help"});
  CHECK(top.status == 0);
  for (std::string cmd : {"status", "jobs", "add", "logs", "events", "outbox", "backup", "check"})
    CHECK(top.out.find(" " + cmd + " ") != std::string::npos);
}

// GET /outbox and POST /outbox/retry belong to the relay (issue 5); this
// test holds the client to that contract and passes once both are merged.
TEST_CASE("cli outbox shows replication state and retries parked rows", "[cli]") {
  TestDaemon d;
  d.Start();
  auto env = UrlEnv(d);
  REQUIRE(RunLshd({"add", "o1", "--", "true"}, env).status == 0);
  auto js = RunLshd({"outbox", "--json"}, env);
  INFO(js.err);
  REQUIRE(js.status == 0);
  json o = ParseOut(js);
  for (const char* k : {"sink", "pending", "parked", "delivered", "oldestPendingAgeSeconds",
                        "lastSuccessAt", "lastError", "stalled", "parkedRows"})
    CHECK(o.contains(k));
  CHECK(o["sink"].is_null());  // no sink configured
  CHECK(o["parked"] == 0);
  auto table = RunLshd({"outbox"}, env);
  REQUIRE(table.status == 0);
  CHECK(table.out.find("none (replication off)") != std::string::npos);
  CHECK(table.out.find("pending") != std::string::npos);
  auto retry = RunLshd({"outbox", "retry", "--json"}, env);
  REQUIRE(retry.status == 0);
  CHECK(ParseOut(retry)["retried"] == 0);
  auto some = RunLshd({"outbox", "retry", "12345"}, env);
  CHECK(some.status == 0);
  CHECK(some.out.find("retried 0") != std::string::npos);
  CHECK(RunLshd({"outbox", "retry", "x1"}, env).status == 2);
}
