// A failing fsync, a full disk and SIGTERM under load (docs/faults.md).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "fault/fault_support.h"

using namespace lsh::test;
using namespace lsh::test::fault;
using nlohmann::json;

namespace {

// Sequential creates until one is refused (at most `max`).
Request CreateUntilRefused(const TestDaemon& d, Ledger& ledger, const std::string& prefix, int max,
                           size_t pad = 0) {
  auto cli = d.Client();
  for (int i = 0; i < max; ++i) {
    Request r;
    r.key = prefix + std::to_string(i);
    r.job_name = r.key;
    r.path = "/jobs";
    json body = {{"name", r.job_name}, {"command", "true"}};
    if (pad) body["description"] = std::string(pad, 'x');
    r.body = body.dump();
    Send(*cli, r);
    ledger.requests.push_back(r);
    if (r.outcome != Outcome::kAcked) return r;
  }
  return {};
}

Request Create(const TestDaemon& d, Ledger& ledger, const std::string& key) {
  Request r;
  r.key = key;
  r.job_name = key;
  r.path = "/jobs";
  r.body = json({{"name", key}, {"command", "true"}}).dump();
  Send(*d.Client(), r);
  ledger.requests.push_back(r);
  return r;
}

bool WriteProc(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// Without root: become root of a new user and mount namespace (Debian
// allows unprivileged ones), which may mount a tmpfs. The daemon started
// afterwards inherits both. Needs a single-threaded process.
bool EnterUserNamespace() {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
  WriteProc("/proc/self/setgroups", "deny");
  return WriteProc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         WriteProc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

// A tmpfs of `bytes` mounted over `dir` for the life of this object.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, size_t bytes) : dir_(std::move(dir)) {
    std::string opts = "size=" + std::to_string(bytes) + ",mode=0755";
    int rc = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str());
    if (rc != 0 && errno == EPERM && EnterUserNamespace())
      rc = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str());
    if (rc != 0) error_ = errno;
  }
  ~TmpfsMount() {
    if (!error_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  int error() const { return error_; }

 private:
  std::string dir_;
  int error_ = 0;
};

// Fills the filesystem holding `path` until it has no room left.
void FillDisk(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  std::string chunk(64 * 1024, 'f');
  size_t n = chunk.size();
  while (true) {
    ssize_t w = ::write(fd, chunk.data(), n);
    if (w > 0) continue;
    if (w < 0 && errno == ENOSPC && n > 1) {
      n /= 2;  // the last pages, smaller and smaller
      continue;
    }
    break;
  }
  ::close(fd);
}

bool ConnectRefused(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool refused = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  ::close(s);
  return refused;
}

}  // namespace

TEST_CASE("a failed fsync is not acknowledged and stops writes until a restart", "[fault][fsync]") {
  TempDir state;
  TestDaemon d;
  // A fresh daemon syncs about ten times to start; each create once more.
  d.options() = ShimOptions(d.dir(), state.path(), {{"LSH_SHIM_FAIL_FSYNC", "30"}});
  d.Start();
  Ledger ledger;
  Request failed = CreateUntilRefused(d, ledger, "fs", 200);
  INFO("the refused create: " << failed.status << " " << failed.reply);
  REQUIRE(failed.outcome == Outcome::kRefused);
  CHECK(ledger.acked() >= 5);
  CHECK(d.stderr_text().find("lsh-shim: failing fsync #30") != std::string::npos);
  CHECK(failed.status == 503);
  json err = json::parse(failed.reply);
  CHECK(err["code"] == "db_io_error");
  CHECK(err["error"].get<std::string>().find("I/O error") != std::string::npos);

  // Fail-stop: no write is tried again, and the daemon says why.
  Request after = Create(d, ledger, "fs-after");
  CHECK(after.status == 503);
  CHECK(json::parse(after.reply)["code"] == "writes_stopped");
  auto trig = d.Client()->Post("/jobs/fs0/trigger");
  REQUIRE(trig);
  CHECK(trig->status == 503);
  auto health = d.Get("/health");
  CHECK(health->status == 503);
  json h = Json(health);
  CHECK(h["status"] == "unhealthy");
  CHECK(h["code"] == "db_io_error");
  CHECK(h["database"]["state"] == "stopped");
  CHECK(h["error"].get<std::string>().find("I/O error") != std::string::npos);
  CHECK(d.Get("/jobs/fs0")->status == 200);  // reads go on

  // Power cut, restart without the fault: everything acknowledged is there.
  d.Kill9();
  PowerCut(d.dir(), state.path());
  CHECK(IntegrityCheck(d.db_path()) == "ok");
  d.options() = {};
  d.Restart();
  CHECK(ledger.Verify(d) == 0);
  CHECK(d.Get("/health")->status == 200);
  CHECK(Create(d, ledger, "fs-restarted").status == 201);
}

TEST_CASE("a full disk refuses writes with 503 and they resume once space is freed",
          "[fault][diskfull]") {
  TestDaemon d;
  TmpfsMount disk(d.dir(), 4 << 20);
  INFO("mounting a tmpfs needs root or an unprivileged user namespace: "
       << std::strerror(disk.error()));
  REQUIRE(disk.error() == 0);
  d.Start();
  Ledger ledger;
  CreateUntilRefused(d, ledger, "before", 20);
  REQUIRE(ledger.acked() == 20);
  FillDisk(d.dir() + "/filler");

  Request full = CreateUntilRefused(d, ledger, "full", 500, 4096);
  INFO("the refused create: " << full.status << " " << full.reply);
  REQUIRE(full.outcome == Outcome::kRefused);
  CHECK(full.status == 503);
  CHECK(json::parse(full.reply)["code"] == "disk_full");
  auto health = d.Get("/health");
  CHECK(health->status == 503);
  json h = Json(health);
  CHECK(h["code"] == "disk_full");
  CHECK(h["database"]["state"] == "failing");
  // Still full: still refused, nothing half-written.
  CHECK(Create(d, ledger, "still-full").status == 503);
  CHECK(IntegrityCheck(d.db_path()) == "ok");

  // Space comes back: the next write goes through by itself.
  std::filesystem::remove(d.dir() + "/filler");
  int attempt = 0;
  bool resumed =
      WaitFor([&] { return Create(d, ledger, "resume" + std::to_string(attempt++)).status == 201; },
              std::chrono::seconds(10), std::chrono::milliseconds(50));
  CHECK(resumed);
  CHECK(d.Get("/health")->status == 200);
  CHECK(ledger.Verify(d) == 0);

  // And it all stayed durable.
  d.Kill9();
  CHECK(IntegrityCheck(d.db_path()) == "ok");
  d.Restart();
  CHECK(ledger.Verify(d) == 0);
  d.Terminate();
}

TEST_CASE("SIGTERM under load refuses new requests and finishes in-flight ones within the grace",
          "[fault][sigterm]") {
  constexpr int kGraceS = 2;
  TestDaemon d({{{"LSH_SHUTDOWN_GRACE", std::to_string(kGraceS)}}, {}});
  d.Start();
  // A run that outlives the grace (recorded failed "shutdown", retried at
  // the next start) and one that ends within it (completed).
  REQUIRE(d.Post("/jobs", {{"name", "long"}, {"command", "sleep 30"}, {"maxRetries", 1}})->status ==
          201);
  REQUIRE(d.Post("/jobs", {{"name", "short"}, {"command", "sleep 1"}})->status == 201);
  auto long_run =
      Json(d.Post("/jobs/long/trigger", json::object()))["run"]["id"].get<std::string>();
  REQUIRE(WaitFor([&] { return Json(d.Get("/runs/" + long_run))["status"] == "running"; }));

  Workload load(d.port(), "t", {}, 7);
  load.Start();
  REQUIRE(WaitFor([&] { return load.acked() >= 20; }));
  // In flight at the signal: a trigger holding its answer until the run ends.
  std::string short_run;
  int waited_status = 0;
  std::thread waiter([&] {
    auto cli = d.Client();
    auto r = cli->Post("/jobs/short/trigger?wait=20", httplib::Headers{}, "", "application/json");
    if (!r) return;
    waited_status = r->status;
    short_run = json::parse(r->body)["run"]["id"].get<std::string>();
  });
  REQUIRE(WaitFor([&] { return Json(d.Get("/jobs/short"))["status"] == "running"; }));

  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(::kill(d.pid(), SIGTERM) == 0);
  // New connections are refused while the daemon still waits for its runs.
  CHECK(WaitFor([&] { return ConnectRefused(d.port()); }, std::chrono::seconds(kGraceS)));
  CHECK(::waitpid(d.pid(), nullptr, WNOHANG) == 0);
  waiter.join();
  CHECK(waited_status == 200);  // the in-flight request was answered
  int status = d.Terminate();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(status == 0);
  INFO("exit took " << std::chrono::duration<double>(took).count() << " s");
  // The long run got its grace, and no more: the daemon was gone well
  // before the run would have been SIGKILLed (the kill grace is 5 s).
  CHECK(took >= std::chrono::seconds(kGraceS));
  CHECK(took < std::chrono::seconds(kGraceS + 3));
  Ledger ledger;
  ledger.Add(load.Stop());

  d.Restart();
  ledger.RetryInDoubt(d);
  CHECK(ledger.Verify(d) == 0);
  json lr = Json(d.Get("/runs/" + long_run));
  CHECK(lr["status"] == "failed");
  CHECK(lr["errorType"] == "shutdown");
  auto retries = Json(d.Get("/jobs/long/runs"));
  CHECK(retries.size() == 2);  // its retry, queued for this boot
  REQUIRE(!short_run.empty());
  CHECK(Json(d.Get("/runs/" + short_run))["status"] == "completed");
}
