// Test support: temp directories, waiting on conditions with a deadline, and
// TestDaemon, which runs the real lshd binary on port 0 with a temp database.
//
// TestDaemon starts `lshd serve --port 0 --port-file F`, waits (with a
// deadline, never a fixed sleep) until the daemon has written the port it
// bound, and talks HTTP to it. Restart keeps the same data directory, so
// durability tests can kill -9 and count.
//
// Thread-safety: a TestDaemon belongs to one test thread; Client() objects
// may be used from other threads, one per thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/wait.h"

namespace lsh::test {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TestDaemon {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // extra environment (LSH_API_KEY, …)
    std::vector<std::string> args;           // extra flags after `serve`
  };
  TestDaemon();
  explicit TestDaemon(Options options);
  ~TestDaemon();  // SIGTERM, then SIGKILL if it does not exit in time

  void Start();                // launches and waits until it listens; REQUIREs success
  void Kill9();                // kill -9 and reap
  int Terminate();             // SIGTERM; returns the exit status (or -signal)
  void Restart() { Start(); }  // same data directory
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }  // Prometheus /metrics
  pid_t pid() const { return pid_; }
  std::string db_path() const { return dir_.path() + "/lsh.db"; }
  const std::string& dir() const { return dir_.path(); }
  std::string stderr_text() const;  // what the daemon logged so far
  Options& options() { return options_; }

  std::unique_ptr<httplib::Client> Client() const;
  // Convenience: request with JSON body, returns the response (REQUIREs that one came back).
  httplib::Result Get(const std::string& path, const httplib::Headers& h = {}) const;
  httplib::Result Post(const std::string& path, const nlohmann::json& body,
                       const httplib::Headers& h = {}) const;
  httplib::Result Patch(const std::string& path, const nlohmann::json& body,
                        const httplib::Headers& h = {}) const;
  httplib::Result Delete(const std::string& path, const httplib::Headers& h = {}) const;

 private:
  Options options_;
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  int starts_ = 0;
};

// Runs lshd with the given arguments to completion; returns exit status and output.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult RunLshd(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {});

nlohmann::json Json(const httplib::Result& r);

}  // namespace lsh::test
