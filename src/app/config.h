// Config: lshd's settings from the environment (API.md "Configuration"),
// overridden by command-line flags. Each option documents its default and
// the trade-off at the declaration.
//
// Thread-safety: built once in main, then read-only.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace lsh::app {

struct Config {
  std::string host = "127.0.0.1";               // LSH_HOST / --host; 0.0.0.0 in the container
  int port = 3030;                              // PORT / --port; 0 picks a free port
  std::string db_path = "volumes/data/lsh.db";  // LSH_DB_PATH / --db
  std::string port_file;           // --port-file: written once listening (tests, scripts)
  std::string api_key;             // LSH_API_KEY: every route but /health needs it
  bool insecure = false;           // --insecure: allow a non-loopback host without a key
  std::string log_level = "info";  // LSH_LOG_LEVEL: debug, info, warn, error
  // LSH_SYNC: full (default) survives power loss; normal is faster and may
  // lose the last commits on power loss (never on a process crash).
  bool sync_full = true;
  std::vector<std::string> cors_origins;  // LSH_CORS_ORIGINS, comma-separated exact origins
  int metrics_port = 9091;                // LSH_METRICS_PORT / --metrics-port
  // LSH_MAX_BODY_BYTES: bodies above are refused (413) before being read.
  size_t max_body_bytes = 1 << 20;
  // LSH_HTTP_THREADS: worker threads, started on demand up to this many; each
  // open keep-alive connection or SSE stream holds one.
  int http_threads = 1200;
  int sse_heartbeat_ms = 15000;  // LSH_SSE_HEARTBEAT_MS: ": ping" on idle streams
  // LSH_HTTP_WRITE_TIMEOUT_MS: a client that stops reading (an answer or an
  // event stream whose socket buffers are full) is disconnected after this
  // long. Shorter frees workers sooner from stuck clients; longer tolerates
  // slow links. An SSE client resumes with Last-Event-ID.
  int http_write_timeout_ms = 10000;
  // LSH_MAX_CONCURRENT_JOBS: processes running at once; more wait queued.
  int max_concurrent_jobs = 10;
  int job_timeout_s = 300;    // LSH_JOB_TIMEOUT: default per-run timeout, seconds
  int shutdown_grace_s = 20;  // LSH_SHUTDOWN_GRACE: runs get this long at SIGTERM

  // ---- webhooks (src/webhooks/deliverer.h) ----
  // LSH_WEBHOOK_URLS: comma-separated endpoints added at start (kept in the
  // database like those added by POST /webhooks; removing one from the list
  // does not remove it from the database).
  std::vector<std::string> webhook_urls;
  // LSH_WEBHOOK_SECRET: signs each request (X-LSH-Signature); unset: unsigned.
  std::string webhook_secret;
  int webhook_timeout_ms = 10000;  // LSH_WEBHOOK_TIMEOUT_MS: connect and read timeout
  // LSH_WEBHOOK_BACKOFF_MS / LSH_WEBHOOK_BACKOFF_MAX_MS: the first retry
  // delay, doubled per failure up to the cap (a Retry-After answer wins).
  int webhook_backoff_ms = 1000;
  int webhook_backoff_max_ms = 300000;

  // ---- retention (src/retention/pruner.h) ----
  // Days may be fractional (0.5 = 12 hours; tests use tiny values); 0 keeps
  // forever.
  double event_retention_days = 7;  // LSH_EVENT_RETENTION_DAYS: events, delivered outbox rows,
                                    // webhook deliveries, Idempotency-Key records
  double run_retention_days = 30;   // LSH_RUN_RETENTION_DAYS: finished runs and their logs
  // LSH_RUNS_PER_JOB: runs kept per job, newest first (with their logs); 0: no cap.
  int runs_per_job = 1000;
  int prune_interval_ms = 60000;  // LSH_PRUNE_INTERVAL_MS: how often the pruner runs
  // Replication (src/outbox/relay.h). SUPABASE_URL with SUPABASE_KEY (else
  // SUPABASE_SERVICE_ROLE_KEY) replicates through Supabase's REST API;
  // LSH_SYNC_DATABASE_URL (a Postgres connection string) straight into the
  // database instead, and wins when both are set. Neither: no relay, the
  // outbox keeps every change until a sink is configured.
  std::string supabase_url;
  std::string supabase_key;
  std::string sync_database_url;
  // LSH_RELAY_BATCH_SIZE / --relay-batch-size: outbox rows per round trip
  // (larger drains a backlog faster; smaller keeps requests small).
  int relay_batch_size = 500;
  // LSH_RELAY_TIMEOUT_MS: connecting and each reply of the sink.
  int relay_timeout_ms = 10000;
  // LSH_RELAY_BACKOFF_MAX_MS: the longest wait between retries after
  // failures (shorter notices the sink's return sooner, longer is gentler).
  int relay_backoff_max_ms = 30000;
  // LSH_RELAY_STALL_MS: failing this long raises an outbox:stalled event.
  int relay_stall_ms = 60000;
};

// Reads the environment, then `args` (the flags after the subcommand).
// Unknown flags and bad values are errors naming the flag or variable.
Result<Config> LoadConfig(const std::vector<std::string>& args);

bool IsLoopback(const std::string& host);

}  // namespace lsh::app
