// lsh_bench: measurements that need more than wrk.
//
//   lsh_bench runs LSHD_BINARY [RUNS] [WORKERS]
//     runs/s of `true` through the daemon vs the machine's raw fork+exec rate
//     of /bin/true (posix_spawn + waitpid, the same number of workers as the
//     daemon's LSH_MAX_CONCURRENT_JOBS), measured in one run; then the
//     trigger -> process-start latency (p50/p99) of single triggers on an
//     idle daemon.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "core/time.h"

extern char** environ;
using lsh::bench::Daemon;
using lsh::bench::StartDaemon;
using lsh::bench::Status;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double RawSpawnRate(int total, int workers) {
  std::atomic<int> left{total};
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; ++w) {
    ts.emplace_back([&] {
      char arg0[] = "/bin/true";
      char* argv[] = {arg0, nullptr};
      while (left.fetch_sub(1) > 0) {
        pid_t pid;
        if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) == 0)
          waitpid(pid, nullptr, 0);
      }
    });
  }
  for (auto& t : ts) t.join();
  return total / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::string(argv[1]) != "runs") {
    std::fprintf(stderr, "usage: lsh_bench runs LSHD_BINARY [RUNS] [WORKERS]\n");
    return 2;
  }
  std::string bin = argv[2];
  int total = argc > 3 ? std::atoi(argv[3]) : 3000;
  int workers = argc > 4 ? std::atoi(argv[4]) : 10;

  double raw = RawSpawnRate(total, workers);

  Daemon d;
  if (!StartDaemon(d, bin, {{"LSH_MAX_CONCURRENT_JOBS", std::to_string(workers)}})) {
    std::fprintf(stderr, "lsh_bench: the daemon did not start\n");
    return 1;
  }
  httplib::Client c("127.0.0.1", d.port);
  c.set_keep_alive(true);
  json job = {{"name", "t"}, {"command", "true"}, {"overlapPolicy", "allow"}};
  auto created = c.Post("/jobs", job.dump(), "application/json");
  if (!created || created->status != 201) {
    std::fprintf(stderr, "lsh_bench: cannot create the job\n");
    return 1;
  }
  // Throughput: trigger `total` runs from 32 keep-alive clients (each
  // trigger is a durable write, so few clients would measure their commit
  // latency instead of the daemon), until all have ended.
  auto t0 = Clock::now();
  std::vector<std::thread> clients;
  std::atomic<int> left{total};
  for (int i = 0; i < 32; ++i) {
    clients.emplace_back([&] {
      httplib::Client cl("127.0.0.1", d.port);
      cl.set_keep_alive(true);
      while (left.fetch_sub(1) > 0) cl.Post("/jobs/t/trigger", "", "application/json");
    });
  }
  for (auto& t : clients) t.join();
  while (true) {
    json s = Status(c);
    if (s.is_object() && s["runs"]["queued"] == 0 && s["runs"]["running"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double through = total / std::chrono::duration<double>(Clock::now() - t0).count();

  // Latency on an idle daemon: trigger, wait for the end, read startedAt.
  std::vector<double> lat;
  for (int i = 0; i < 200; ++i) {
    auto sent = std::chrono::system_clock::now();
    auto r = c.Post("/jobs/t/trigger?wait=5", "", "application/json");
    if (!r || r->status != 200) continue;
    json run = json::parse(r->body)["run"];
    if (!run["startedAt"].is_string()) continue;
    auto started = lsh::ParseTime(run["startedAt"].get<std::string>());
    double ms = std::chrono::duration<double, std::milli>(*started - sent).count();
    lat.push_back(std::max(0.0, ms));
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, size_t(p * lat.size()))];
  };

  std::printf("runs of `true`, %d runs, %d workers, %u cores\n", total, workers,
              std::thread::hardware_concurrency());
  std::printf("raw fork+exec of /bin/true   %8.0f /s\n", raw);
  std::printf("through lshd (trigger->end)  %8.0f /s\n", through);
  std::printf("lshd/raw ratio               %8.2f   (target >= 0.70)\n", through / raw);
  std::printf(
      "trigger->start latency, idle: p50 %.1f ms, p99 %.1f ms over %zu triggers "
      "(ms resolution; target p99 < 10 ms)\n",
      pct(0.50), pct(0.99), lat.size());
  return 0;
}
