#include "webhooks/deliverer.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <random>

#include "webhooks/webhook.h"

namespace lsh::webhooks {

namespace {

// Retry-After: delay seconds or an HTTP date; nullopt when absent or bad.
std::optional<std::chrono::milliseconds> RetryAfter(const httplib::Response& res, SysTime now) {
  if (!res.has_header("Retry-After")) return std::nullopt;
  std::string v = res.get_header_value("Retry-After");
  if (!v.empty() && std::all_of(v.begin(), v.end(), ::isdigit) && v.size() < 9)
    return std::chrono::milliseconds(std::stoll(v) * 1000);
  std::tm tm{};
  if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  return std::max(d, std::chrono::milliseconds(0));
}

}  // namespace

Deliverer::Deliverer(store::WebhookStore& store, const Clock& clock, DelivererOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Deliverer::~Deliverer() {
  Stop();
}

Status Deliverer::Start() {
  auto endpoints = store_.EndpointList();
  if (!endpoints) return endpoints.error();
  if (!endpoints->empty() && options_.secret.empty())
    spdlog::warn(
        "webhooks: LSH_WEBHOOK_SECRET is not set; requests to {} endpoint(s) are not "
        "signed",
        endpoints->size());
  std::lock_guard<std::mutex> lock(mu_);
  started_ = true;
  for (const auto& e : *endpoints) StartWorker(e);
  return Status::Ok();
}

void Deliverer::Stop() {
  std::vector<std::unique_ptr<Worker>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, w] : workers_) all.push_back(std::move(w));
    workers_.clear();
    for (auto& w : retired_) all.push_back(std::move(w));
    retired_.clear();
    for (auto& w : all)
      if (w->client) w->client->stop();  // a request in flight ends now
  }
  cv_.notify_all();
  for (auto& w : all)
    if (w->thread.joinable()) w->thread.join();
}

void Deliverer::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_seq_++;
  }
  cv_.notify_all();
}

void Deliverer::StartWorker(const store::WebhookEndpoint& e) {
  if (!started_ || stopping_ || workers_.count(e.id)) return;
  auto w = std::make_unique<Worker>();
  w->endpoint = e;
  Worker* raw = w.get();
  w->thread = std::thread([this, raw] { Run(raw); });
  workers_[e.id] = std::move(w);
}

Result<std::pair<store::WebhookEndpoint, bool>> Deliverer::AddEndpoint(const std::string& url) {
  auto parsed = ParseUrl(url, "endpoint");
  if (!parsed) return parsed.error();
  auto added = store_.EndpointAdd(url);
  if (!added) return added.error();
  std::lock_guard<std::mutex> lock(mu_);
  StartWorker(added->first);
  return added;
}

Status Deliverer::RemoveEndpoint(const std::string& url) {
  auto removed = store_.EndpointRemove(url);
  if (!removed) return removed.error();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_.find(removed->id);
    if (it != workers_.end()) {
      it->second->stop = true;
      if (it->second->client) it->second->client->stop();
      retired_.push_back(std::move(it->second));
      workers_.erase(it);
    }
  }
  cv_.notify_all();
  return Status::Ok();
}

Result<std::vector<store::WebhookEndpoint>> Deliverer::Endpoints() {
  return store_.EndpointList();
}

Result<std::vector<EndpointStatus>> Deliverer::Statuses() {
  auto endpoints = store_.EndpointList();
  if (!endpoints) return endpoints.error();
  std::vector<EndpointStatus> out;
  for (const auto& e : *endpoints) {
    auto s = store_.EndpointStats(e.id);
    if (!s) return s.error();
    out.push_back({e.url, s->pending, s->attempts, s->last_error});
  }
  return out;
}

uint64_t Deliverer::delivered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_;
}

uint64_t Deliverer::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

bool Deliverer::Stopping(Worker* w) {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_ || w->stop;
}

bool Deliverer::WaitUntil(Worker* w, SysTime until) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ && !w->stop) {
    auto left = until - clock_.Now();
    if (left.count() <= 0) return false;
    // Re-reads the Clock at least every second (it may be moved by tests).
    cv_.wait_for(lock, std::min<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
  }
  return true;
}

std::chrono::milliseconds Deliverer::Backoff(int failed_attempts) const {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  double d = static_cast<double>(options_.backoff.count());
  double cap = static_cast<double>(options_.backoff_max.count());
  for (int i = 1; i < failed_attempts && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<int64_t>(d * jitter(rng)));
}

void Deliverer::Run(Worker* w) {
  auto url = ParseUrl(w->endpoint.url, "endpoint");
  if (!url) {  // stored endpoints were validated; an edited row is reported
    spdlog::error("webhook endpoint {} is not a valid URL; not delivering to it", w->endpoint.url);
    return;
  }
  httplib::Client cli(url->origin());
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(options_.timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout - secs);
  cli.set_connection_timeout(secs.count(), usecs.count());
  cli.set_read_timeout(secs.count(), usecs.count());
  cli.set_write_timeout(secs.count(), usecs.count());
  cli.set_keep_alive(true);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || w->stop) return;
    w->client = &cli;
  }
  struct Detach {
    Deliverer* d;
    Worker* w;
    ~Detach() {
      std::lock_guard<std::mutex> lock(d->mu_);
      w->client = nullptr;
    }
  } detach{this, w};
  const std::string ua = std::string("lshd/") + LSH_VERSION;

  int64_t after = 0;  // the last delivery handed over (delivered or dropped)
  while (!Stopping(w)) {
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = wake_seq_;
    }
    auto batch = store_.DeliveriesPending(w->endpoint.id, after, options_.batch);
    if (!batch) {
      spdlog::warn("webhooks: cannot read deliveries for {}: {}", w->endpoint.url,
                   batch.error().message);
      if (WaitUntil(w, clock_.Now() + options_.backoff)) return;
      continue;
    }
    if (batch->empty()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || w->stop || wake_seq_ != seen; });
      continue;
    }
    for (const auto& d : *batch) {
      if (d.event_missing) {
        store_.DeliveryDropped(d.id, "the event no longer exists");
        after = d.id;
        continue;
      }
      std::string body = Body(d.type, d.data, d.event_time);
      httplib::Headers headers = {{"X-LSH-Event", d.type},
                                  {"X-LSH-Delivery", std::to_string(d.id)},
                                  {"X-LSH-Event-Id", std::to_string(d.event_id)},
                                  {"User-Agent", ua}};
      if (!options_.secret.empty())
        headers.emplace("X-LSH-Signature", Signature(options_.secret, body));
      int failed = d.attempts;
      if (d.next_attempt_at && WaitUntil(w, *d.next_attempt_at)) return;
      while (true) {
        if (Stopping(w)) return;
        auto res = cli.Post(url->path, headers, body, "application/json");
        if (res && res->status >= 200 && res->status < 300) {
          store_.DeliveryDone(d.id, res->status);
          std::lock_guard<std::mutex> lock(mu_);
          delivered_++;
          break;
        }
        failed++;
        auto delay = Backoff(failed);
        int status = 0;
        std::string error;
        if (res) {
          status = res->status;
          error = "HTTP " + std::to_string(status) + " (a 2xx is needed)";
          if (auto ra = RetryAfter(*res, clock_.Now()))
            delay = std::min<std::chrono::milliseconds>(*ra, std::chrono::hours(1));
        } else {
          auto e = res.error();
          error = e == httplib::Error::SSLServerVerification
                      ? "TLS: the endpoint's certificate is not trusted (SSLServerVerification)"
                      : "no answer: " + httplib::to_string(e);
        }
        SysTime next = clock_.Now() + delay;
        store_.DeliveryFailed(d.id, status, error, next);
        {
          std::lock_guard<std::mutex> lock(mu_);
          failures_++;
        }
        spdlog::debug("webhook {} delivery {} failed ({}), retry in {} ms", w->endpoint.url, d.id,
                      error, delay.count());
        if (WaitUntil(w, next)) return;
      }
      after = d.id;
    }
  }
}

}  // namespace lsh::webhooks
