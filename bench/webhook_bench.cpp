// lsh_webhook_bench: what queueing webhook deliveries costs the write path.
//
//   lsh_webhook_bench [JOBS]
//
// Creates JOBS jobs (each one transaction: job row, job:created event,
// outbox row, and one webhook delivery row per endpoint) through the real
// Store and group-commit Writer on a temp database with synchronous=NORMAL
// (so the figure is the CPU cost, not the disk's fsync), with 0, 1 and 4
// endpoints registered, and prints jobs/s and µs per job for each. No
// deliverer runs: only the hot-path insert is measured.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "store/writer.h"

using namespace lsh;
namespace fs = std::filesystem;

namespace {

double Measure(int endpoints, int jobs) {
  std::string dir = (fs::temp_directory_path() / ("lsh-webhook-bench-" + std::to_string(getpid()) +
                                                  "-" + std::to_string(endpoints)))
                        .string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  store::DbOptions opts{dir + "/lsh.db", /*sync_full=*/false};
  auto conn = store::OpenConnection(opts, false);
  if (!conn || !store::Migrate(**conn)) {
    std::fprintf(stderr, "cannot open %s\n", opts.path.c_str());
    std::exit(1);
  }
  const Clock& clock = SystemClock::Get();
  store::Writer writer(std::move(conn.value()), clock);
  store::ReaderPool readers(opts);
  store::Store st(writer, readers, clock);
  store::WebhookStore hooks(writer, readers);
  writer.Start();
  for (int i = 0; i < endpoints; ++i)
    (void)hooks.EndpointAdd("http://127.0.0.1:9/hook" + std::to_string(i));
  constexpr int kBatch = 256;  // concurrent creates, as many clients would send
  auto t0 = std::chrono::steady_clock::now();
  for (int done = 0; done < jobs; done += kBatch) {
    std::vector<std::pair<JobSpec, std::optional<SysTime>>> specs;
    for (int i = done; i < std::min(jobs, done + kBatch); ++i) {
      JobSpec s;
      s.name = "job-" + std::to_string(i);
      s.command = "true";
      specs.emplace_back(s, std::nullopt);
    }
    for (auto& r : st.JobCreateMany(specs))
      if (!r) std::fprintf(stderr, "create failed: %s\n", r.error().message.c_str());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  writer.Stop();
  fs::remove_all(dir);
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::printf("%d job creates per setting (synchronous=NORMAL, batches of 256)\n", jobs);
  // Settings take turns, so a busy moment of the machine hits them alike.
  const int settings[] = {0, 1, 4};
  double best[3] = {1e9, 1e9, 1e9};
  for (int rep = 0; rep < 5; ++rep)
    for (int i = 0; i < 3; ++i) best[i] = std::min(best[i], Measure(settings[i], jobs));
  for (int i = 0; i < 3; ++i)
    std::printf("endpoints=%d  %8.0f jobs/s  %6.2f us/job  (best of 5)\n", settings[i],
                jobs / best[i], best[i] * 1e6 / jobs);
  return 0;
}
