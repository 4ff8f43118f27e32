#include "metrics/metrics.h"

#include <sstream>

#include <prometheus/text_serializer.h>

#include "core/types.h"

namespace lsh::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Request latencies: sub-millisecond API answers up to slow exports.
const prometheus::Histogram::BucketBoundaries kHttpBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// Run durations: from a no-op command to an hour-long batch job.
const prometheus::Histogram::BucketBoundaries kRunBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                             5,    10,   30,  60,   300, 900, 3600};

template <typename T>
T& Single(prometheus::Family<T>& family) {
  return family.Add({});
}

}  // namespace

Metrics::Metrics(double process_start_unix_s)
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(BuildCounter()
                         .Name("lsh_http_requests_total")
                         .Help("HTTP requests answered, by route pattern, method and status code")
                         .Register(*registry_)),
      http_duration_(BuildHistogram()
                         .Name("lsh_http_request_duration_seconds")
                         .Help("Time from routing an HTTP request to its answer")
                         .Register(*registry_)),
      runs_total_(BuildCounter()
                      .Name("lsh_runs_total")
                      .Help("Runs that reached a final status since the daemon started")
                      .Register(*registry_)),
      run_duration_(BuildHistogram()
                        .Name("lsh_run_duration_seconds")
                        .Help("Wall time of finished runs")
                        .Register(*registry_)
                        .Add({}, kRunBuckets)),
      jobs_(BuildGauge().Name("lsh_jobs").Help("Jobs by status").Register(*registry_)),
      runs_queued_(Single(BuildGauge()
                              .Name("lsh_runs_queued")
                              .Help("Runs waiting for a slot or their retry time")
                              .Register(*registry_))),
      runs_running_(Single(BuildGauge()
                               .Name("lsh_runs_running")
                               .Help("Runs whose process is running")
                               .Register(*registry_))),
      events_total_(Single(BuildCounter()
                               .Name("lsh_events_total")
                               .Help("Events written to the durable event log")
                               .Register(*registry_))),
      sse_clients_(Single(BuildGauge()
                              .Name("lsh_sse_clients")
                              .Help("Open Server-Sent Events streams")
                              .Register(*registry_))),
      outbox_pending_(Single(BuildGauge()
                                 .Name("lsh_outbox_pending")
                                 .Help("Outbox rows not yet delivered to the sink")
                                 .Register(*registry_))),
      outbox_oldest_age_(Single(BuildGauge()
                                    .Name("lsh_outbox_oldest_pending_age_seconds")
                                    .Help("Age of the oldest undelivered outbox row")
                                    .Register(*registry_))),
      db_size_(Single(BuildGauge()
                          .Name("lsh_db_size_bytes")
                          .Help("Size of the SQLite database file and its WAL")
                          .Register(*registry_))),
      resident_(Single(BuildGauge()
                           .Name("process_resident_memory_bytes")
                           .Help("Resident memory size in bytes")
                           .Register(*registry_))),
      start_time_(Single(BuildGauge()
                             .Name("process_start_time_seconds")
                             .Help("Start time of the process since the Unix epoch in seconds")
                             .Register(*registry_))) {
  start_time_.Set(process_start_unix_s);
  // Every final status shows from the first scrape, so rate() has a zero to
  // start from.
  for (const char* s : {"completed", "failed", "timeout", "killed"})
    runs_total_.Add({{"status", s}});
  for (const char* s : kJobStatuses) jobs_.Add({{"status", s}});
}

void Metrics::ObserveHttp(const std::string& route, const std::string& method, int code,
                          double seconds) {
  std::string key = method;
  key += ' ';
  key += route;
  key += ' ';
  key += std::to_string(code);
  HttpSeries series{};
  {
    std::lock_guard<std::mutex> lock(http_mu_);
    auto it = http_series_.find(key);
    if (it == http_series_.end()) {
      HttpSeries s{&http_requests_.Add(
                       {{"route", route}, {"method", method}, {"code", std::to_string(code)}}),
                   &http_duration_.Add({{"route", route}, {"method", method}}, kHttpBuckets)};
      it = http_series_.emplace(std::move(key), s).first;
    }
    series = it->second;
  }
  series.requests->Increment();
  series.duration->Observe(seconds);
}

void Metrics::ObserveRunFinished(const std::string& status, double seconds) {
  runs_total_.Add({{"status", status}}).Increment();
  run_duration_.Observe(seconds);
}

std::string Metrics::Render(const Sample& s) {
  std::lock_guard<std::mutex> lock(render_mu_);
  for (const auto& [status, n] : s.jobs_by_status)
    jobs_.Add({{"status", status}}).Set(static_cast<double>(n));
  runs_queued_.Set(static_cast<double>(s.runs_queued));
  runs_running_.Set(static_cast<double>(s.runs_running));
  double events = static_cast<double>(s.newest_event_id);
  if (events > events_counted_) {
    events_total_.Increment(events - events_counted_);
    events_counted_ = events;
  }
  sse_clients_.Set(static_cast<double>(s.sse_clients));
  outbox_pending_.Set(static_cast<double>(s.outbox_pending));
  outbox_oldest_age_.Set(s.outbox_oldest_pending_age_s);
  db_size_.Set(static_cast<double>(s.db_size_bytes));
  resident_.Set(static_cast<double>(s.resident_bytes));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace lsh::metrics
