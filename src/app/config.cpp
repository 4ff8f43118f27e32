#include "app/config.h"

#include <cstdlib>
#include <sstream>

#include "webhooks/webhook.h"

namespace lsh::app {

namespace {

Status ParseInt(const std::string& text, const std::string& name, long lo, long hi, long& out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    return Error::Invalid(name + " must be a whole number from " + std::to_string(lo) + " to " +
                              std::to_string(hi) + ", not '" + text + "'",
                          name);
  out = v;
  return Status::Ok();
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

Status SetInt(const std::string& text, const std::string& name, long lo, long hi, int& field) {
  long v;
  if (auto s = ParseInt(text, name, lo, hi, v); !s) return s;
  field = static_cast<int>(v);
  return Status::Ok();
}

Status SetLogLevel(const std::string& v, const std::string& name, std::string& field) {
  if (v != "trace" && v != "debug" && v != "info" && v != "warn" && v != "error" && v != "off")
    return Error::Invalid(name + " must be one of debug, info, warn, error; not '" + v + "'", name);
  field = v;
  return Status::Ok();
}

Status SetDays(const std::string& text, const std::string& name, double& field) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(v >= 0) || v > 36500)
    return Error::Invalid(name + " must be a number of days from 0 to 36500 (fractions allowed, " +
                              "0 keeps forever), not '" + text + "'",
                          name);
  field = v;
  return Status::Ok();
}

std::vector<std::string> SplitList(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<Config> LoadConfig(const std::vector<std::string>& args) {
  Config c;
  if (auto v = Env("LSH_HOST")) c.host = v;
  if (auto v = Env("PORT"))
    if (auto s = SetInt(v, "PORT", 0, 65535, c.port); !s) return s.error();
  if (auto v = Env("LSH_DB_PATH")) c.db_path = v;
  if (auto v = Env("LSH_API_KEY")) c.api_key = v;
  if (auto v = Env("LSH_LOG_LEVEL"))
    if (auto s = SetLogLevel(v, "LSH_LOG_LEVEL", c.log_level); !s) return s.error();
  if (auto v = Env("LSH_SYNC")) {
    std::string s = v;
    if (s == "full" || s == "FULL")
      c.sync_full = true;
    else if (s == "normal" || s == "NORMAL")
      c.sync_full = false;
    else
      return Error::Invalid("LSH_SYNC must be full or normal, not '" + s + "'", "LSH_SYNC");
  }
  if (auto v = Env("LSH_CORS_ORIGINS")) {
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      auto b = item.find_first_not_of(" \t");
      auto e = item.find_last_not_of(" \t/");
      if (b != std::string::npos) c.cors_origins.push_back(item.substr(b, e - b + 1));
    }
  }
  if (auto v = Env("LSH_METRICS_PORT"))
    if (auto s = SetInt(v, "LSH_METRICS_PORT", 0, 65535, c.metrics_port); !s) return s.error();
  if (auto v = Env("LSH_MAX_BODY_BYTES")) {
    long n;
    if (auto s = ParseInt(v, "LSH_MAX_BODY_BYTES", 1024, 1L << 30, n); !s) return s.error();
    c.max_body_bytes = static_cast<size_t>(n);
  }
  if (auto v = Env("LSH_HTTP_THREADS"))
    if (auto s = SetInt(v, "LSH_HTTP_THREADS", 4, 20000, c.http_threads); !s) return s.error();
  if (auto v = Env("LSH_SSE_HEARTBEAT_MS"))
    if (auto s = SetInt(v, "LSH_SSE_HEARTBEAT_MS", 100, 15000, c.sse_heartbeat_ms); !s)
      return s.error();
  if (auto v = Env("LSH_HTTP_WRITE_TIMEOUT_MS"))
    if (auto s = SetInt(v, "LSH_HTTP_WRITE_TIMEOUT_MS", 100, 600000, c.http_write_timeout_ms); !s)
      return s.error();
  if (auto v = Env("LSH_MAX_CONCURRENT_JOBS"))
    if (auto s = SetInt(v, "LSH_MAX_CONCURRENT_JOBS", 1, 10000, c.max_concurrent_jobs); !s)
      return s.error();
  if (auto v = Env("LSH_JOB_TIMEOUT"))
    if (auto s = SetInt(v, "LSH_JOB_TIMEOUT", 1, 30 * 24 * 3600, c.job_timeout_s); !s)
      return s.error();
  if (auto v = Env("LSH_SHUTDOWN_GRACE"))
    if (auto s = SetInt(v, "LSH_SHUTDOWN_GRACE", 0, 3600, c.shutdown_grace_s); !s) return s.error();
  if (auto v = Env("LSH_WEBHOOK_URLS")) {
    for (const auto& url : SplitList(v)) {
      if (auto u = webhooks::ParseUrl(url, "LSH_WEBHOOK_URLS"); !u) return u.error();
      c.webhook_urls.push_back(url);
    }
  }
  if (auto v = Env("LSH_WEBHOOK_SECRET")) c.webhook_secret = v;
  if (auto v = Env("LSH_WEBHOOK_TIMEOUT_MS"))
    if (auto s = SetInt(v, "LSH_WEBHOOK_TIMEOUT_MS", 10, 600000, c.webhook_timeout_ms); !s)
      return s.error();
  if (auto v = Env("LSH_WEBHOOK_BACKOFF_MS"))
    if (auto s = SetInt(v, "LSH_WEBHOOK_BACKOFF_MS", 1, 3600000, c.webhook_backoff_ms); !s)
      return s.error();
  if (auto v = Env("LSH_WEBHOOK_BACKOFF_MAX_MS"))
    if (auto s = SetInt(v, "LSH_WEBHOOK_BACKOFF_MAX_MS", 1, 86400000, c.webhook_backoff_max_ms); !s)
      return s.error();
  if (c.webhook_backoff_max_ms < c.webhook_backoff_ms)
    c.webhook_backoff_max_ms = c.webhook_backoff_ms;
  if (auto v = Env("LSH_EVENT_RETENTION_DAYS"))
    if (auto s = SetDays(v, "LSH_EVENT_RETENTION_DAYS", c.event_retention_days); !s)
      return s.error();
  if (auto v = Env("LSH_RUN_RETENTION_DAYS"))
    if (auto s = SetDays(v, "LSH_RUN_RETENTION_DAYS", c.run_retention_days); !s) return s.error();
  if (auto v = Env("LSH_RUNS_PER_JOB"))
    if (auto s = SetInt(v, "LSH_RUNS_PER_JOB", 0, 10000000, c.runs_per_job); !s) return s.error();
  if (auto v = Env("LSH_PRUNE_INTERVAL_MS"))
    if (auto s = SetInt(v, "LSH_PRUNE_INTERVAL_MS", 10, 86400000, c.prune_interval_ms); !s)
      return s.error();
  if (auto v = Env("SUPABASE_URL")) c.supabase_url = v;
  if (auto v = Env("SUPABASE_KEY"))
    c.supabase_key = v;
  else if (auto w = Env("SUPABASE_SERVICE_ROLE_KEY"))
    c.supabase_key = w;
  if (auto v = Env("LSH_SYNC_DATABASE_URL")) c.sync_database_url = v;
  if (auto v = Env("LSH_RELAY_BATCH_SIZE"))
    if (auto s = SetInt(v, "LSH_RELAY_BATCH_SIZE", 1, 10000, c.relay_batch_size); !s)
      return s.error();
  if (auto v = Env("LSH_RELAY_TIMEOUT_MS"))
    if (auto s = SetInt(v, "LSH_RELAY_TIMEOUT_MS", 100, 600000, c.relay_timeout_ms); !s)
      return s.error();
  if (auto v = Env("LSH_RELAY_BACKOFF_MAX_MS"))
    if (auto s = SetInt(v, "LSH_RELAY_BACKOFF_MAX_MS", 10, 3600000, c.relay_backoff_max_ms); !s)
      return s.error();
  if (auto v = Env("LSH_RELAY_STALL_MS"))
    if (auto s = SetInt(v, "LSH_RELAY_STALL_MS", 0, 86400000, c.relay_stall_ms); !s)
      return s.error();

  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool has_value = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    auto next = [&](std::string& out) -> Status {
      if (has_value) {
        out = value;
        return Status::Ok();
      }
      if (i + 1 >= args.size()) return Error::Invalid(a + " needs a value", a);
      out = args[++i];
      return Status::Ok();
    };
    std::string v;
    if (a == "--insecure") {
      c.insecure = true;
      continue;
    }
    if (a == "--host") {
      if (auto s = next(c.host); !s) return s.error();
    } else if (a == "--port" || a == "-p") {
      if (auto s = next(v); !s) return s.error();
      if (auto s = SetInt(v, "--port", 0, 65535, c.port); !s) return s.error();
    } else if (a == "--db") {
      if (auto s = next(c.db_path); !s) return s.error();
    } else if (a == "--port-file") {
      if (auto s = next(c.port_file); !s) return s.error();
    } else if (a == "--metrics-port") {
      if (auto s = next(v); !s) return s.error();
      if (auto s = SetInt(v, "--metrics-port", 0, 65535, c.metrics_port); !s) return s.error();
    } else if (a == "--log-level") {
      if (auto s = next(v); !s) return s.error();
      if (auto s = SetLogLevel(v, "--log-level", c.log_level); !s) return s.error();
    } else if (a == "--threads") {
      if (auto s = next(v); !s) return s.error();
      if (auto s = SetInt(v, "--threads", 4, 20000, c.http_threads); !s) return s.error();
    } else if (a == "--relay-batch-size") {
      if (auto s = next(v); !s) return s.error();
      if (auto s = SetInt(v, "--relay-batch-size", 1, 10000, c.relay_batch_size); !s)
        return s.error();
    } else {
      return Error::Invalid("unknown option '" + a + "' (see lshd --help)", a);
    }
  }
  if (!c.supabase_url.empty() && c.supabase_key.empty() && c.sync_database_url.empty())
    return Error::Invalid(
        "SUPABASE_URL is set but no key: set SUPABASE_KEY (or SUPABASE_SERVICE_ROLE_KEY)",
        "SUPABASE_KEY");
  if (!IsLoopback(c.host) && c.api_key.empty() && !c.insecure)
    return Error::Invalid("refusing to listen on " + c.host +
                              " without an API key: jobs run arbitrary commands. Set "
                              "LSH_API_KEY (recommended), listen on 127.0.0.1, or pass "
                              "--insecure to accept the risk",
                          "--host");
  return c;
}

}  // namespace lsh::app
