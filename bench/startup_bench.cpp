// Startup time and resident memory of lshd on a given database: exec, then
// the time until the port file appears and until GET /health answers 200;
// then, after SETTLE_MS idle, the resident set (VmRSS) idle, and again after
// a few ordinary reads (/status, a page of /jobs, one job's runs, /metrics is
// on another port and left alone), and the peak (VmHWM).
//
//   lsh_startup_bench LSHD_BINARY DB_PATH [SETTLE_MS]
//
// Prints "<port_ms> <health_ms> <rss_idle_kib> <rss_after_reads_kib> <hwm_kib>
// <reads_ms>" (reads_ms: the four reads together). lshd's log goes to
// startup.log next to the database.
//
// Thread-safety: single-threaded.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

long StatusKib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: lsh_startup_bench LSHD_BINARY DB_PATH [SETTLE_MS]\n");
    return 2;
  }
  std::string bin = argv[1], db = argv[2];
  int settle_ms = argc > 3 ? std::atoi(argv[3]) : 2000;
  std::string port_file = std::filesystem::path(db).parent_path().string() + "/startup.port";
  std::filesystem::remove(port_file);
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    setenv("LSH_LOG_LEVEL", "warn", 1);
    std::string log = std::filesystem::path(db).parent_path().string() + "/startup.log";
    if (!freopen(log.c_str(), "a", stderr)) _exit(126);
    execl(bin.c_str(), bin.c_str(), "serve", "--port", "0", "--metrics-port", "0", "--db",
          db.c_str(), "--port-file", port_file.c_str(), (char*)nullptr);
    _exit(127);
  }
  int port = 0;
  double port_ms = -1, health_ms = -1;
  while (ms(Clock::now() - t0) < 60000) {
    std::ifstream in(port_file);
    if (in >> port && port > 0) break;
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      std::fprintf(stderr, "lsh_startup_bench: lshd exited during startup\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  if (port <= 0) {
    std::fprintf(stderr, "lsh_startup_bench: no port file after 60 s\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 1;
  }
  port_ms = ms(Clock::now() - t0);
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  while (ms(Clock::now() - t0) < 60000) {
    auto r = c.Get("/health");
    if (r && r->status == 200) {
      health_ms = ms(Clock::now() - t0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  long rss_idle = StatusKib(pid, "VmRSS");
  auto r0 = Clock::now();
  for (const char* path : {"/status", "/jobs?limit=100", "/jobs/gen-00000001/runs", "/status"})
    c.Get(path);
  double reads_ms = ms(Clock::now() - r0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long rss_after = StatusKib(pid, "VmRSS");
  long hwm = StatusKib(pid, "VmHWM");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::printf("%.0f %.0f %ld %ld %ld %.0f\n", port_ms, health_ms, rss_idle, rss_after, hwm,
              reads_ms);
  return health_ms < 0 ? 1 : 0;
}
