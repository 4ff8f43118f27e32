// Tests of the process runner (src/exec/process.h) with real processes.
// Nothing sleeps and hopes: every wait is on a condition with a deadline.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "exec/process.h"
#include "support/daemon.h"

namespace {

using lsh::SystemClock;
using lsh::exec::Process;
using lsh::exec::ProcessOutcome;
using lsh::exec::ProcessSpec;
using End = ProcessOutcome::End;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lsh_process_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = fs::canonical(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `cond` until it holds or `deadline` passes (the shared test helper).
bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  return lsh::test::WaitFor(cond, deadline, std::chrono::milliseconds(2));
}

// Collects outcomes delivered to on_done.
struct Recorder {
  std::mutex mu;
  std::vector<ProcessOutcome> outcomes;
  Process::OnDone Callback() {
    return [this](const ProcessOutcome& o) {
      std::lock_guard<std::mutex> lock(mu);
      outcomes.push_back(o);
    };
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return outcomes.size();
  }
};

// Starts `spec` and waits (deadline 10 s) for the outcome.
ProcessOutcome RunToEnd(ProcessSpec spec, std::shared_ptr<Process>* keep = nullptr) {
  Recorder rec;
  auto p = Process::Start(std::move(spec), SystemClock::Get(), rec.Callback());
  REQUIRE(p.ok());
  REQUIRE((*p)->Wait(10s));
  REQUIRE((*p)->done());
  REQUIRE(rec.count() == 1);
  if (keep) *keep = *p;
  return rec.outcomes[0];
}

ProcessSpec Cmd(std::string command) {
  ProcessSpec s;
  s.command = std::move(command);
  return s;
}

}  // namespace

TEST_CASE("a process that exits reports its exit code", "[process]") {
  auto before = SystemClock::Get().Now();
  auto ok = RunToEnd(Cmd("exit 0"));
  CHECK(ok.end == End::kExited);
  CHECK(ok.exit_code == 0);
  CHECK(ok.signal == 0);
  CHECK(ok.pid > 0);
  CHECK(ok.error.empty());
  CHECK(ok.started_at >= before);
  CHECK(ok.ended_at >= ok.started_at);
  CHECK(ok.duration >= 0ms);

  auto three = RunToEnd(Cmd("echo bye; exit 3"));
  CHECK(three.end == End::kExited);
  CHECK(three.exit_code == 3);
  CHECK(three.stdout_tail == "bye\n");
  CHECK(std::string(lsh::exec::EndName(three.end)) == "exited");
}

TEST_CASE("a process killed by a signal reports the signal", "[process]") {
  auto o = RunToEnd(Cmd("kill -9 $$"));
  CHECK(o.end == End::kSignaled);
  CHECK(o.signal == SIGKILL);
  CHECK(o.exit_code == -1);
}

TEST_CASE("10 MB of stdout is drained to the log and the tail is 64 KiB", "[process]") {
  TempDir dir;
  ProcessSpec s = Cmd("head -c 10485760 /dev/zero; echo done >&2");
  s.stdout_path = (dir.path / "logs" / "run1" / "stdout.log").string();  // parents created
  s.stderr_path = (dir.path / "logs" / "run1" / "stderr.log").string();
  auto o = RunToEnd(s);
  CHECK(o.end == End::kExited);
  CHECK(o.exit_code == 0);
  CHECK(fs::file_size(s.stdout_path) == 10485760u);
  CHECK(o.stdout_tail.size() == 64u * 1024u);
  CHECK(o.stdout_tail == std::string(64 * 1024, '\0'));
  CHECK(o.stderr_tail == "done\n");
  CHECK(ReadFile(s.stderr_path) == "done\n");
}

TEST_CASE("stdout and stderr are kept apart and logs are appended to", "[process]") {
  TempDir dir;
  ProcessSpec s = Cmd("echo out; echo err >&2; echo out2");
  s.stdout_path = (dir.path / "out.log").string();
  s.stderr_path = (dir.path / "err.log").string();
  s.tail_bytes = 5;
  auto o = RunToEnd(s);
  CHECK(o.end == End::kExited);
  CHECK(o.stdout_tail == "out2\n");  // only the last 5 bytes are kept
  CHECK(o.stderr_tail == "err\n");
  CHECK(ReadFile(s.stdout_path) == "out\nout2\n");
  CHECK(ReadFile(s.stderr_path) == "err\n");
  RunToEnd(s);
  CHECK(ReadFile(s.stdout_path) == "out\nout2\nout\nout2\n");
}

TEST_CASE("the job's env is merged over the daemon's and cwd is honoured", "[process]") {
  TempDir dir;
  ::setenv("LSH_TEST_INHERITED", "from-daemon", 1);
  ::setenv("LSH_TEST_OVERRIDDEN", "from-daemon", 1);
  ProcessSpec s = Cmd(
      R"(printf '%s|%s|%s|' "$LSH_TEST_INHERITED" "$LSH_TEST_OVERRIDDEN" "$LSH_TEST_NEW"; pwd)");
  s.env = {{"LSH_TEST_OVERRIDDEN", "from-job"}, {"LSH_TEST_NEW", "new value"}};
  s.cwd = dir.path.string();
  auto o = RunToEnd(s);
  CHECK(o.end == End::kExited);
  CHECK(o.stdout_tail == "from-daemon|from-job|new value|" + dir.path.string() + "\n");
  ::unsetenv("LSH_TEST_INHERITED");
  ::unsetenv("LSH_TEST_OVERRIDDEN");
}

TEST_CASE("stdin is /dev/null", "[process]") {
  auto o = RunToEnd(Cmd("readlink /proc/$$/fd/0; cat"));
  CHECK(o.end == End::kExited);
  CHECK(o.exit_code == 0);
  CHECK(o.stdout_tail == "/dev/null\n");
}

TEST_CASE("a bad cwd is a spawn failure with a clear message", "[process]") {
  TempDir dir;
  std::string missing = (dir.path / "no" / "such" / "dir").string();
  ProcessSpec s = Cmd("true");
  s.cwd = missing;
  Recorder rec;
  auto p = Process::Start(s, SystemClock::Get(), rec.Callback());
  REQUIRE(p.ok());
  CHECK((*p)->pid() == 0);
  REQUIRE((*p)->Wait(5s));
  REQUIRE(rec.count() == 1);
  const auto& o = rec.outcomes[0];
  CHECK(o.end == End::kSpawnFailed);
  CHECK(o.pid == 0);
  CHECK(o.exit_code == -1);
  CHECK(o.error.find(missing) != std::string::npos);
  CHECK(o.error.find("working directory") != std::string::npos);
  (*p)->Stop(SIGTERM);  // harmless after the end

  // A file is not a directory either.
  std::ofstream(dir.path / "file") << "x";
  s.cwd = (dir.path / "file").string();
  auto f = RunToEnd(s);
  CHECK(f.end == End::kSpawnFailed);
  CHECK(f.error.find("not a directory") != std::string::npos);
}

TEST_CASE("an unopenable log file is a spawn failure", "[process]") {
  TempDir dir;
  std::ofstream(dir.path / "file") << "x";
  ProcessSpec s = Cmd("true");
  s.stdout_path = (dir.path / "file" / "stdout.log").string();  // parent is a file
  auto o = RunToEnd(s);
  CHECK(o.end == End::kSpawnFailed);
  CHECK(o.error.find("log") != std::string::npos);
}

TEST_CASE("invalid specs are rejected and on_done is not called", "[process]") {
  Recorder rec;
  auto empty = Process::Start(Cmd(""), SystemClock::Get(), rec.Callback());
  REQUIRE(!empty.ok());
  CHECK(empty.error().kind == lsh::ErrorKind::kInvalid);
  CHECK(empty.error().field == "command");
  ProcessSpec s = Cmd("true");
  s.env = {{"A=B", "x"}};
  auto bad_env = Process::Start(s, SystemClock::Get(), rec.Callback());
  REQUIRE(!bad_env.ok());
  CHECK(bad_env.error().field == "env");
  CHECK(rec.count() == 0);
}

TEST_CASE("a timeout kills the whole group, grandchildren included", "[process]") {
  ProcessSpec s = Cmd("sleep 1000 & echo $!; sleep 1000");
  s.timeout = 200ms;
  s.kill_grace = 5s;
  auto o = RunToEnd(s);
  CHECK(o.end == End::kTimedOut);
  CHECK(o.signal == SIGTERM);  // the polite signal sufficed
  CHECK(o.duration >= 200ms);
  CHECK(o.duration < 4s);
  CHECK(std::string(lsh::exec::EndName(o.end)) == "timed_out");
  pid_t grandchild = std::stoi(o.stdout_tail);
  CHECK(grandchild != o.pid);
  // No live process of the group remains. (kill(-pgid, 0) alone also counts
  // zombies, which an init that does not reap orphans keeps forever.)
  CHECK(Eventually([&] { return !lsh::exec::ProcessGroupAlive(o.pid); }, 5s));
  CHECK(Eventually(
      [&] {
        errno = 0;
        if (::kill(-o.pid, 0) == -1 && errno == ESRCH) return true;
        // Still answering: every member must be a zombie awaiting init.
        std::ifstream st("/proc/" + std::to_string(grandchild) + "/stat");
        std::string line;
        std::getline(st, line);
        auto rp = line.rfind(')');
        return !st || (rp != std::string::npos && line.substr(rp + 2, 1) == "Z");
      },
      5s));
}

TEST_CASE("a process that ignores SIGTERM is killed after the grace period", "[process]") {
  ProcessSpec s = Cmd("trap '' TERM; sleep 1000");
  s.timeout = 100ms;
  s.kill_grace = 200ms;
  auto o = RunToEnd(s);
  CHECK(o.end == End::kTimedOut);
  CHECK(o.signal == SIGKILL);
  CHECK(o.duration >= 300ms);
  CHECK(o.duration < 5s);
  // The leader is reaped; its SIGKILLed child may take a moment to die.
  CHECK(Eventually([&] { return !lsh::exec::ProcessGroupAlive(o.pid); }, 5s));
}

TEST_CASE("the run ends when the shell exits even if a grandchild holds the pipes", "[process]") {
  auto start = std::chrono::steady_clock::now();
  auto o = RunToEnd(Cmd("sleep 1000 & echo started; exit 4"));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(o.end == End::kExited);
  CHECK(o.exit_code == 4);
  CHECK(o.stdout_tail == "started\n");
  CHECK(Eventually([&] { return !lsh::exec::ProcessGroupAlive(o.pid); }, 5s));
}

TEST_CASE("Stop sends the requested signal to the group", "[process]") {
  Recorder rec;
  ProcessSpec s = Cmd("exec sleep 1000");
  s.kill_grace = 30s;  // SIGINT alone must end it
  auto p = Process::Start(s, SystemClock::Get(), rec.Callback());
  REQUIRE(p.ok());
  pid_t pid = (*p)->pid();
  CHECK(pid > 0);
  // A signal that lands while the shell is still setting up can be swallowed
  // by its handler (that is what the grace period's SIGKILL is for); wait
  // until sleep runs so SIGINT alone is what ends it.
  REQUIRE(Eventually(
      [&] {
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        std::getline(comm, name);
        return name == "sleep";
      },
      5s));
  CHECK(lsh::exec::ProcessGroupAlive(pid));
  CHECK(!(*p)->Wait(0ms));
  std::thread other([&] { (*p)->Stop(SIGINT); });
  other.join();
  (*p)->Stop(SIGINT);  // twice is fine
  REQUIRE((*p)->Wait(5s));
  (*p)->Stop(SIGINT);  // and after the end
  REQUIRE(rec.count() == 1);
  const auto& o = rec.outcomes[0];
  CHECK(o.end == End::kStopped);
  CHECK(o.signal == SIGINT);
  CHECK(o.pid == pid);
  CHECK(Eventually([&] { return !lsh::exec::ProcessGroupAlive(pid); }, 5s));
}

TEST_CASE("Stop right after Start ends the run even if the shell swallows the signal",
          "[process]") {
  // A signal landing while sh is between fork and exec of its child can be
  // eaten by sh's handler; the grace period's SIGKILL must still end the run.
  for (int i = 0; i < 20; ++i) {
    Recorder rec;
    ProcessSpec s = Cmd("sleep 1000; echo never");
    s.kill_grace = 100ms;
    auto p = Process::Start(s, SystemClock::Get(), rec.Callback());
    REQUIRE(p.ok());
    (*p)->Stop(SIGTERM);
    REQUIRE((*p)->Wait(5s));
    CHECK(rec.outcomes[0].end == End::kStopped);
    CHECK(rec.outcomes[0].stdout_tail.empty());
    CHECK(Eventually([&] { return !lsh::exec::ProcessGroupAlive((*p)->pid()); }, 5s));
  }
}

TEST_CASE("a process killed from outside is signaled, not stopped", "[process]") {
  Recorder rec;
  auto p = Process::Start(Cmd("sleep 1000"), SystemClock::Get(), rec.Callback());
  REQUIRE(p.ok());
  lsh::exec::KillProcessGroup((*p)->pid(), SIGKILL);
  REQUIRE((*p)->Wait(5s));
  CHECK(rec.outcomes[0].end == End::kSignaled);
  CHECK(rec.outcomes[0].signal == SIGKILL);
}

TEST_CASE("the daemon's file descriptors are not inherited", "[process]") {
  TempDir dir;
  std::ofstream(dir.path / "f") << "x";
  int fd = ::open((dir.path / "f").c_str(), O_RDONLY);  // deliberately no O_CLOEXEC
  REQUIRE(fd > 2);
  auto o = RunToEnd(Cmd("if [ -e /proc/$$/fd/" + std::to_string(fd) +
                        " ]; then echo leaked; else echo clean; fi; ls /proc/$$/fd"));
  ::close(fd);
  CHECK(o.end == End::kExited);
  CHECK(o.stdout_tail.rfind("clean\n", 0) == 0);
  // The shell holds stdin, stdout, stderr and nothing else of ours.
  std::string fds = o.stdout_tail.substr(6);
  CHECK(fds == "0\n1\n2\n");
}

TEST_CASE("on_done is called exactly once and the child is reaped", "[process]") {
  std::atomic<int> calls{0};
  std::atomic<bool> on_runner{false};
  std::thread::id caller = std::this_thread::get_id();
  auto p = Process::Start(Cmd("echo hi"), SystemClock::Get(), [&](const ProcessOutcome& o) {
    calls.fetch_add(1);
    on_runner = std::this_thread::get_id() != caller;
    CHECK(o.stdout_tail == "hi\n");
  });
  REQUIRE(p.ok());
  pid_t pid = (*p)->pid();
  REQUIRE((*p)->Wait(5s));
  CHECK(calls.load() == 1);
  CHECK(on_runner.load());
  errno = 0;
  int status;
  CHECK(::waitpid(pid, &status, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  p = lsh::Error::Internal("drop");  // destroys the Process (joins the runner)
  CHECK(calls.load() == 1);
}

TEST_CASE("dropping the handle while the child runs neither blocks nor loses on_done",
          "[process]") {
  std::mutex mu;
  std::condition_variable cv;
  bool called = false;
  {
    ProcessSpec s = Cmd("sleep 1000");
    s.timeout = 50ms;
    auto p = Process::Start(s, SystemClock::Get(), [&](const ProcessOutcome&) {
      std::lock_guard<std::mutex> lock(mu);
      called = true;
      cv.notify_all();
    });
    REQUIRE(p.ok());
  }  // the last outside reference goes here; the runner keeps the object
  std::unique_lock<std::mutex> lock(mu);
  CHECK(cv.wait_for(lock, 5s, [&] { return called; }));
}

TEST_CASE("200 concurrent short processes all complete", "[process]") {
  constexpr int kN = 200;
  Recorder rec;
  std::vector<std::shared_ptr<Process>> procs;
  for (int i = 0; i < kN; ++i) {
    auto p = Process::Start(Cmd("echo " + std::to_string(i)), SystemClock::Get(), rec.Callback());
    REQUIRE(p.ok());
    procs.push_back(*p);
  }
  for (auto& p : procs) REQUIRE(p->Wait(10s));
  REQUIRE(rec.count() == kN);
  std::vector<bool> seen(kN, false);
  for (const auto& o : rec.outcomes) {
    CHECK(o.end == End::kExited);
    CHECK(o.exit_code == 0);
    int i = std::stoi(o.stdout_tail);
    REQUIRE(i >= 0);
    REQUIRE(i < kN);
    seen[i] = true;
  }
  CHECK(std::count(seen.begin(), seen.end(), true) == kN);
}

TEST_CASE("ParseSignalName and SignalName", "[process]") {
  using lsh::exec::ParseSignalName;
  using lsh::exec::SignalName;
  CHECK(*ParseSignalName("SIGTERM") == SIGTERM);
  CHECK(*ParseSignalName("TERM") == SIGTERM);
  CHECK(*ParseSignalName("15") == 15);
  CHECK(*ParseSignalName("sigint") == SIGINT);
  CHECK(*ParseSignalName("KILL") == SIGKILL);
  CHECK(*ParseSignalName("SIGHUP") == SIGHUP);
  CHECK(*ParseSignalName("USR1") == SIGUSR1);
  CHECK(*ParseSignalName("9") == 9);
  for (const char* bad : {"", "SIG", "FOO", "SIGFOO", "0", "-1", "65", "99999", "15x", " TERM"}) {
    INFO(bad);
    auto r = ParseSignalName(bad);
    REQUIRE(!r.ok());
    CHECK(r.error().kind == lsh::ErrorKind::kInvalid);
    CHECK(r.error().field == "signal");
  }
  CHECK(SignalName(SIGTERM) == "SIGTERM");
  CHECK(SignalName(SIGKILL) == "SIGKILL");
  CHECK(SignalName(SIGRTMIN + 1) == "SIGRTMIN+1");
  for (int sig = 1; sig < 32; ++sig) {
    if (SignalName(sig).rfind("SIG", 0) == 0 && !std::isdigit(SignalName(sig)[3])) {
      CHECK(*ParseSignalName(SignalName(sig)) == sig);
    }
  }
}

TEST_CASE("ProcessGroupAlive and KillProcessGroup refuse pgid 0 and 1", "[process]") {
  CHECK(!lsh::exec::ProcessGroupAlive(0));
  CHECK(!lsh::exec::ProcessGroupAlive(1));
  CHECK(!lsh::exec::ProcessGroupAlive(-5));
  lsh::exec::KillProcessGroup(0, 0);  // no-ops, must not signal our own group
  lsh::exec::KillProcessGroup(1, 0);
  CHECK(!lsh::exec::ProcessGroupAlive(999999999));
}
