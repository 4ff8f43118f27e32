#include "support/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace lsh::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "lshtest-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  REQUIRE(p != nullptr);
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork/exec lshd with args; stdout/stderr to files; returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path, bool append) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
    int out = open(out_path.c_str(), flags, 0644);
    int err = open(err_path.c_str(), flags, 0644);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    setpgid(0, 0);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = LSHD_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int StatusOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return -WTERMSIG(wstatus);
  return -1000;
}

}  // namespace

TestDaemon::TestDaemon() : TestDaemon(Options{}) {}
TestDaemon::TestDaemon(Options options) : options_(std::move(options)) {}

TestDaemon::~TestDaemon() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    bool exited =
        WaitFor([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; }, std::chrono::seconds(30));
    if (!exited) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    kill(-pid_, SIGKILL);  // anything the daemon's jobs left in its group
  }
}

void TestDaemon::Start() {
  REQUIRE(pid_ <= 0);
  std::string port_file = dir_.path() + "/port";
  fs::remove(port_file);
  std::vector<std::string> args = {"serve",   "--host",         "127.0.0.1", "--port",
                                   "0",       "--db",           db_path(),   "--port-file",
                                   port_file, "--metrics-port", "0"};
  for (const auto& a : options_.args) args.push_back(a);
  std::map<std::string, std::string> env = {{"LSH_LOG_LEVEL", "warn"}};
  for (const auto& [k, v] : options_.env) env[k] = v;
  pid_ = Spawn(args, env, dir_.path() + "/stdout.log", dir_.path() + "/stderr.log", starts_ > 0);
  ++starts_;
  bool up = WaitFor(
      [&] {
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
          pid_ = -1;
          return true;
        }
        std::string s = ReadFile(port_file);
        if (s.empty() || s.back() != '\n') return false;
        std::istringstream lines(s);
        lines >> port_ >> metrics_port_;  // the API port, then the metrics port
        return true;
      },
      std::chrono::seconds(20));
  INFO("lshd stderr:\n" << stderr_text());
  REQUIRE(up);
  REQUIRE(pid_ > 0);
  REQUIRE(port_ > 0);
}

void TestDaemon::Kill9() {
  REQUIRE(pid_ > 0);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int TestDaemon::Terminate() {
  REQUIRE(pid_ > 0);
  kill(pid_, SIGTERM);
  int st = 0;
  bool exited =
      WaitFor([&] { return waitpid(pid_, &st, WNOHANG) == pid_; }, std::chrono::seconds(30));
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &st, 0);
  }
  pid_ = -1;
  return StatusOf(st);
}

std::string TestDaemon::stderr_text() const {
  return ReadFile(dir_.path() + "/stderr.log");
}

std::unique_ptr<httplib::Client> TestDaemon::Client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_connection_timeout(5);
  c->set_read_timeout(30);
  c->set_write_timeout(10);
  return c;
}

httplib::Result TestDaemon::Get(const std::string& path, const httplib::Headers& h) const {
  auto r = Client()->Get(path, h);
  REQUIRE(r);
  return r;
}
httplib::Result TestDaemon::Post(const std::string& path, const nlohmann::json& body,
                                 const httplib::Headers& h) const {
  auto r =
      Client()->Post(path, h, body.is_null() ? std::string() : body.dump(), "application/json");
  REQUIRE(r);
  return r;
}
httplib::Result TestDaemon::Patch(const std::string& path, const nlohmann::json& body,
                                  const httplib::Headers& h) const {
  auto r = Client()->Patch(path, h, body.dump(), "application/json");
  REQUIRE(r);
  return r;
}
httplib::Result TestDaemon::Delete(const std::string& path, const httplib::Headers& h) const {
  auto r = Client()->Delete(path, h);
  REQUIRE(r);
  return r;
}

CommandResult RunLshd(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env) {
  TempDir d;
  std::string out = d.path() + "/out", err = d.path() + "/err";
  pid_t pid = Spawn(args, env, out, err, false);
  int st = 0;
  waitpid(pid, &st, 0);
  return {StatusOf(st), ReadFile(out), ReadFile(err)};
}

nlohmann::json Json(const httplib::Result& r) {
  REQUIRE(r);
  INFO("body: " << r->body);
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

}  // namespace lsh::test
