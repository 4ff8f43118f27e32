// Benchmark support: starts a throwaway lshd (port 0, temp database, the
// given environment) and stops it with SIGTERM when done.
//
// Thread-safety: one Daemon per thread; the helpers are free functions.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lsh::bench {

using nlohmann::json;

struct Daemon {
  pid_t pid = -1;
  int port = 0;
  std::string dir;
  ~Daemon() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

inline bool StartDaemon(Daemon& d, const std::string& bin,
                        const std::vector<std::pair<std::string, std::string>>& env) {
  char tmpl[] = "/tmp/lshbench-XXXXXX";
  d.dir = mkdtemp(tmpl);
  std::string port_file = d.dir + "/port";
  d.pid = fork();
  if (d.pid == 0) {
    setenv("LSH_LOG_LEVEL", "warn", 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::string db = d.dir + "/lsh.db";
    execl(bin.c_str(), bin.c_str(), "serve", "--port", "0", "--metrics-port", "0", "--db",
          db.c_str(), "--port-file", port_file.c_str(), (char*)nullptr);
    _exit(127);
  }
  for (int i = 0; i < 400; ++i) {
    std::ifstream in(port_file);
    if (in >> d.port && d.port > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

inline json Status(httplib::Client& c) {
  auto r = c.Get("/status");
  return r ? json::parse(r->body) : json();
}

}  // namespace lsh::bench
