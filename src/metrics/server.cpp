#include "metrics/server.h"

#include "http/listen.h"

namespace lsh::metrics {

MetricsServer::MetricsServer(Metrics& metrics, std::function<Result<Sample>()> sampler)
    : metrics_(metrics), sampler_(std::move(sampler)) {
  server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_.set_socket_options(http::ExclusiveListenSocket);
  server_.set_read_timeout(10);
  server_.set_write_timeout(10);
  server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto sample = sampler_();
    if (!sample) {
      res.status = 503;
      res.set_content("# metrics unavailable: " + sample.error().message + "\n", "text/plain");
      return;
    }
    res.status = 200;
    res.set_content(metrics_.Render(*sample), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404)
      res.set_content("no route for " + req.path + "; try /metrics\n", "text/plain");
  });
}

MetricsServer::~MetricsServer() {
  Stop();
}

Result<int> MetricsServer::Bind(const std::string& host, int port) {
  int bound =
      port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    return Error::Unavailable("cannot listen for metrics on " + host + ":" + std::to_string(port) +
                                  " (LSH_METRICS_PORT: address in use, or not an address of this "
                                  "machine)",
                              "bind_failed");
  return bound;
}

void MetricsServer::Start() {
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

void MetricsServer::Stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace lsh::metrics
