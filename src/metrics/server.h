// MetricsServer: the Prometheus listener (API.md "Metrics"): GET /metrics on
// its own port (LSH_METRICS_PORT, default 9091, fly.lsh.toml's [metrics]),
// apart from the API so a scrape never queues behind API traffic and the API
// key does not apply to it.
//
// Each scrape calls the sampler (state from the store and the process) and
// renders Metrics. Anything else on the port is a 404.
//
// Thread-safety: Bind and Start from one thread; Stop from any thread, safe
// twice.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include <httplib.h>

#include "core/error.h"
#include "metrics/metrics.h"

namespace lsh::metrics {

class MetricsServer {
 public:
  MetricsServer(Metrics& metrics, std::function<Result<Sample>()> sampler);
  ~MetricsServer();

  Result<int> Bind(const std::string& host, int port);  // port 0: any; returns the port
  void Start();
  void Stop();

 private:
  // Constant after construction.
  Metrics& metrics_;
  const std::function<Result<Sample>()> sampler_;

  httplib::Server server_;
  std::thread thread_;
};

}  // namespace lsh::metrics
