// Metrics: lshd's Prometheus metrics (API.md "Metrics"), on prometheus-cpp's
// registry and text serializer (Debian prometheus-cpp-dev).
//
// Two kinds of numbers live here. Counters and histograms of things that
// happen in this process (HTTP requests by route pattern, runs that ended)
// are observed as they happen by the HTTP server and the dispatcher. Gauges
// of state (jobs by status, queue depth, outbox, database size, memory) are
// read from the store and the process at scrape time and passed to Render
// as a Sample, so a scrape always shows the database as it is.
//
// Routes are labelled by pattern ("/jobs/:id"), never by raw path, so the
// number of series is bounded by the route table.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace lsh::metrics {

// State read at scrape time.
struct Sample {
  std::map<std::string, int64_t> jobs_by_status;  // every job status, 0 when none
  int64_t runs_queued = 0;
  int64_t runs_running = 0;
  int64_t newest_event_id = 0;  // ids are gap-free from 1: the number of events ever written
  int64_t sse_clients = 0;
  int64_t outbox_pending = 0;
  double outbox_oldest_pending_age_s = 0;
  int64_t db_size_bytes = 0;  // the database file plus its WAL
  int64_t resident_bytes = 0;
};

class Metrics {
 public:
  explicit Metrics(double process_start_unix_s);

  // One answered HTTP request; `route` is the matched pattern or "unmatched".
  void ObserveHttp(const std::string& route, const std::string& method, int code, double seconds);
  // A run reached a final status (completed, failed, timeout, killed).
  void ObserveRunFinished(const std::string& status, double seconds);

  // The exposition text (text format 0.0.4).
  std::string Render(const Sample& s);

 private:
  struct HttpSeries {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
  };

  // Constant after construction (the registry owns the families).
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& runs_total_;
  prometheus::Histogram& run_duration_;
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Gauge& runs_queued_;
  prometheus::Gauge& runs_running_;
  prometheus::Counter& events_total_;
  prometheus::Gauge& sse_clients_;
  prometheus::Gauge& outbox_pending_;
  prometheus::Gauge& outbox_oldest_age_;
  prometheus::Gauge& db_size_;
  prometheus::Gauge& resident_;
  prometheus::Gauge& start_time_;

  std::mutex http_mu_;
  std::unordered_map<std::string, HttpSeries> http_series_;  // guarded by http_mu_

  std::mutex render_mu_;       // one scrape at a time sets the gauges
  double events_counted_ = 0;  // guarded by render_mu_
};

}  // namespace lsh::metrics
