// Fault-test support: a write workload whose every request is classified
// (acknowledged, refused, in doubt), the checks that follow a crash, and the
// power cut that goes with the LD_PRELOAD shim (tests/fault/shim.c).
//
// Every request carries its own Idempotency-Key, so a request left in doubt
// by a crash can be sent again and must then be applied exactly once.
// docs/faults.md describes the tests built from these pieces.
//
// Thread-safety: a Workload runs its own client threads; its methods are
// called from the test thread. The free functions are plain.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.h"

namespace lsh::test::fault {

// The shim library built next to the tests.
std::string ShimPath();

// TestDaemon options that preload the shim for the files directly in
// `db_dir`; `state_dir` non-empty turns on the power-loss model.
TestDaemon::Options ShimOptions(const std::string& db_dir, const std::string& state_dir,
                                std::map<std::string, std::string> extra = {});

// After kill -9 of a daemon running under the shim: every file of the
// database (name starting with `prefix`) is rewritten to its last durable
// image, and the ones with none (never synced, the -shm index) are deleted.
// Returns how many bytes the cut took away, for the test's messages.
int64_t PowerCut(const std::string& db_dir, const std::string& state_dir,
                 const std::string& prefix = "lsh.db");

// PRAGMA integrity_check on a read-only connection: "ok" when sound.
std::string IntegrityCheck(const std::string& db_path);

enum class Outcome { kAcked, kRefused, kInDoubt };

struct Request {
  std::string key;       // its Idempotency-Key
  bool trigger = false;  // POST /jobs/:id/trigger (else POST /jobs)
  std::string path;
  std::string body;
  std::string job_name;  // the job it creates (create) or triggers
  Outcome outcome = Outcome::kInDoubt;
  int status = 0;
  std::string id;     // job id (create) or run id (trigger) of a 2xx
  std::string reply;  // the response body, for messages
};

// Sends one request with its key and classifies the answer.
void Send(httplib::Client& cli, Request& r);

struct WorkloadOptions {
  int clients = 4;
  double trigger_share = 0.3;    // of requests, once a client has a job of its own
  size_t description_bytes = 0;  // padding per job, to fill a disk faster
  std::string command = "true";  // what the jobs run when triggered
  int max_per_client = 1 << 30;
};

// Clients creating and triggering jobs at full speed until Stop, or until
// the daemon goes away under them (a client stops at its first transport
// error: that request is in doubt).
class Workload {
 public:
  Workload(int port, std::string prefix, WorkloadOptions options, uint64_t seed);
  ~Workload();
  void Start();
  // Waits for the clients; returns every request they sent.
  std::vector<Request> Stop();
  // Acknowledged writes so far (while running).
  int64_t acked() const { return acked_.load(); }

 private:
  void Client(int c);

  const int port_;
  const std::string prefix_;
  const WorkloadOptions options_;
  const uint64_t seed_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0};
  std::mutex mu_;
  std::vector<Request> done_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// Everything the clients sent across restarts, and the checks that follow
// each restart.
struct Ledger {
  std::vector<Request> requests;

  void Add(std::vector<Request> more);
  // Sends every in-doubt request again with its key; each must now be
  // acknowledged (a replay if the first attempt had committed).
  void RetryInDoubt(const TestDaemon& d);
  // The promises after a restart, checked in the database (read-only):
  // every acknowledged create and trigger is there, each exactly once;
  // refused creates left nothing; no run is left running by an earlier
  // boot; event ids have no gap; every job has its job:created event.
  // Returns the number of acknowledged writes missing (0 when all hold)
  // and CHECKs the other invariants. `expect_no_loss` false: only counts.
  int64_t Verify(const TestDaemon& d, bool expect_no_loss = true) const;
  int64_t acked() const;
};

}  // namespace lsh::test::fault
