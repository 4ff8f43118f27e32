#include "app/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/config.h"
#include "core/ids.h"
#include "core/process_stats.h"
#include "events/hub.h"
#include "exec/dispatcher.h"
#include "exec/schedule_loop.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "metrics/server.h"
#include "outbox/postgres_sink.h"
#include "outbox/relay.h"
#include "outbox/rest_sink.h"
#include "retention/pruner.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/retention.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "store/writer.h"
#include "webhooks/deliverer.h"

namespace lsh::app {

namespace fs = std::filesystem;

namespace {

void SetupLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("lshd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

Status EnsureParentDir(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec)
    return Error::Unavailable("cannot create the data directory " + parent.string() + ": " +
                              ec.message());
  return Status::Ok();
}

// The API port, then the metrics port, one per line.
Status WritePortFile(const std::string& path, int port, int metrics_port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n" << metrics_port << "\n";
    if (!out) return Error::Unavailable("cannot write the port file " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::Unavailable("cannot write the port file " + path);
  return Status::Ok();
}

// The sink the configuration names, or null when replication is off.
Result<std::unique_ptr<outbox::Sink>> MakeSink(const Config& cfg) {
  auto timeout = std::chrono::milliseconds(cfg.relay_timeout_ms);
  if (!cfg.sync_database_url.empty()) {
    if (!cfg.supabase_url.empty())
      spdlog::warn(
          "both LSH_SYNC_DATABASE_URL and SUPABASE_URL are set; replicating through "
          "LSH_SYNC_DATABASE_URL");
    if (auto s = outbox::PostgresSink::Validate(cfg.sync_database_url); !s) return s.error();
    return std::unique_ptr<outbox::Sink>(
        std::make_unique<outbox::PostgresSink>(cfg.sync_database_url, timeout));
  }
  if (!cfg.supabase_url.empty()) {
    auto rest = outbox::RestSink::Create(cfg.supabase_url, cfg.supabase_key, timeout);
    if (!rest) return rest.error();
    return std::unique_ptr<outbox::Sink>(std::move(rest.value()));
  }
  return std::unique_ptr<outbox::Sink>();
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace

int Serve(const std::vector<std::string>& args) {
  auto cfg = LoadConfig(args);
  if (!cfg) {
    std::fprintf(stderr, "lshd: %s\n", cfg.error().message.c_str());
    return 2;
  }
  SetupLogging(cfg->log_level);
  auto sink = MakeSink(*cfg);
  if (!sink) {
    std::fprintf(stderr, "lshd: %s\n", sink.error().message.c_str());
    return 2;
  }

  // Signals are taken by sigwait on this thread; every thread started
  // below inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const Clock& clock = SystemClock::Get();
  metrics::Metrics metrics(std::chrono::duration<double>(clock.Now().time_since_epoch()).count());
  if (auto s = EnsureParentDir(cfg->db_path); !s) {
    spdlog::critical("{}", s.error().message);
    return 1;
  }
  store::DbOptions dbo{cfg->db_path, cfg->sync_full};
  auto conn = store::OpenConnection(dbo, /*read_only=*/false);
  if (!conn) {
    spdlog::critical("{}", conn.error().message);
    return 1;
  }
  auto report = store::Migrate(**conn);
  if (!report) {
    spdlog::critical("{}", report.error().message);
    return 1;
  }
  for (const auto& m : report->applied) spdlog::info("applied migration {}", m);
  if (!cfg->sync_full)
    spdlog::warn("LSH_SYNC=normal: a power loss may lose the last acknowledged writes");

  store::Writer writer(std::move(conn.value()), clock);
  store::ReaderPool readers(dbo);
  store::Store st(writer, readers, clock);
  events::EventHub hub;
  store::WebhookStore webhook_store(writer, readers);
  webhooks::DelivererOptions wopts;
  wopts.secret = cfg->webhook_secret;
  wopts.timeout = std::chrono::milliseconds(cfg->webhook_timeout_ms);
  wopts.backoff = std::chrono::milliseconds(cfg->webhook_backoff_ms);
  wopts.backoff_max = std::chrono::milliseconds(cfg->webhook_backoff_max_ms);
  webhooks::Deliverer deliverer(webhook_store, clock, wopts);
  // Every job or run change appends an event, so this hook also wakes the
  // relay (set once it runs).
  std::atomic<outbox::Relay*> relay_wake{nullptr};
  writer.SetOnCommit([&hub, &deliverer, &relay_wake](int64_t newest) {
    hub.Publish(newest);
    deliverer.Wake();
    if (outbox::Relay* r = relay_wake.load()) r->Wake();
  });
  if (auto bounds = st.EventBounds()) hub.Publish(bounds->second);
  writer.Start();

  std::string boot_id = NewUuidV7(clock.Now());
  if (auto s = st.BootRecord(boot_id, getpid(), LSH_VERSION); !s) {
    spdlog::critical("cannot write to the database: {}", s.error().message);
    writer.Stop();
    return 1;
  }

  // Webhooks: after the writer, stopped before it (below).
  for (const auto& url : cfg->webhook_urls) {
    if (auto added = webhook_store.EndpointAdd(url); !added) {
      spdlog::critical("cannot add webhook endpoint {}: {}", url, added.error().message);
      writer.Stop();
      return 1;
    }
  }
  if (auto s = deliverer.Start(); !s) {
    spdlog::critical("cannot start webhook delivery: {}", s.error().message);
    writer.Stop();
    return 1;
  }

  // Jobs run from the data directory; their output goes to <data>/logs.
  std::string data_dir = fs::absolute(fs::path(cfg->db_path)).parent_path().string();
  exec::DispatcherOptions dopts;
  dopts.boot_id = boot_id;
  dopts.max_concurrent = cfg->max_concurrent_jobs;
  dopts.default_timeout = std::chrono::seconds(cfg->job_timeout_s);
  dopts.logs_dir = data_dir + "/logs";
  dopts.default_cwd = data_dir;
  dopts.on_run_finished = [&metrics](const std::string& status, double seconds) {
    metrics.ObserveRunFinished(status, seconds);
  };
  exec::Dispatcher dispatcher(st, clock, dopts);
  if (auto s = dispatcher.Recover(); !s) {
    spdlog::critical("crash recovery failed: {}", s.error().message);
    writer.Stop();
    return 1;
  }
  dispatcher.Start();
  exec::ScheduleLoop schedules(st, clock, dispatcher);
  if (auto s = schedules.Start(); !s) {
    spdlog::critical("{}", s.error().message);
    dispatcher.Stop(std::chrono::seconds(0));
    writer.Stop();
    return 1;
  }

  // The relay: after the writer, never on the request path (promise 6).
  std::unique_ptr<outbox::Relay> relay;
  if (*sink) {
    outbox::RelayOptions ropts;
    ropts.batch_size = cfg->relay_batch_size;
    ropts.backoff_max = std::chrono::milliseconds(cfg->relay_backoff_max_ms);
    ropts.backoff_min = std::min(ropts.backoff_min, ropts.backoff_max);
    ropts.stall_after = std::chrono::milliseconds(cfg->relay_stall_ms);
    ropts.hostname = HostName();
    relay = std::make_unique<outbox::Relay>(st, std::move(sink.value()), clock, ropts);
    if (auto s = relay->Start(); !s) {
      spdlog::critical("cannot start the relay: {}", s.error().message);
      schedules.Stop();
      dispatcher.Stop(std::chrono::seconds(0));
      writer.Stop();
      return 1;
    }
    relay_wake = relay.get();
  }
  // Retention: with a relay, undelivered outbox rows and the events the sink
  // has not acknowledged are kept; without one nothing reads the outbox.
  store::RetentionStore retention_store(writer, readers, /*outbox_has_reader=*/relay != nullptr);
  retention::PrunerOptions popts;
  auto days = [](double d) {
    return std::chrono::milliseconds(static_cast<int64_t>(d * 86400000.0));
  };
  popts.event_retention = days(cfg->event_retention_days);
  popts.run_retention = days(cfg->run_retention_days);
  popts.runs_per_job = cfg->runs_per_job;
  popts.interval = std::chrono::milliseconds(cfg->prune_interval_ms);
  popts.logs_dir = dopts.logs_dir;
  if (relay) popts.event_floor = [r = relay.get()] { return r->EventFloor(); };
  retention::Pruner pruner(retention_store, clock, popts);
  pruner.Start();

  http::ServerOptions hopts;
  hopts.host = cfg->host;
  hopts.port = cfg->port;
  hopts.api_key = cfg->api_key;
  hopts.cors_origins = cfg->cors_origins;
  hopts.max_body_bytes = cfg->max_body_bytes;
  hopts.threads = cfg->http_threads;
  hopts.db_path = cfg->db_path;
  hopts.sse_heartbeat_ms = cfg->sse_heartbeat_ms;
  hopts.write_timeout_ms = cfg->http_write_timeout_ms;
  http::HttpServer server(hopts, st, clock, dispatcher, schedules, hub);
  server.SetMetrics(&metrics);
  metrics::MetricsServer metrics_server(metrics, [&]() -> Result<metrics::Sample> {
    auto counts = st.Counts();
    if (!counts) return counts.error();
    metrics::Sample s;
    for (const char* status : kJobStatuses) s.jobs_by_status[status] = 0;
    for (const auto& [status, n] : counts->jobs_by_status) s.jobs_by_status[status] = n;
    s.runs_queued = counts->runs_queued;
    s.runs_running = counts->runs_running;
    s.newest_event_id = hub.newest();
    s.sse_clients = hub.clients.load();
    s.outbox_pending = counts->outbox_pending;
    if (counts->outbox_oldest_pending)
      s.outbox_oldest_pending_age_s =
          std::chrono::duration<double>(clock.Now() - *counts->outbox_oldest_pending).count();
    s.db_size_bytes = DatabaseSizeBytes(cfg->db_path);
    s.resident_bytes = ProcessMemory().resident_bytes;
    return s;
  });
  server.SetWebhooks(&deliverer);
  server.SetRelay(relay.get());
  auto port = server.Bind();
  auto metrics_port = port ? metrics_server.Bind(cfg->host, cfg->metrics_port) : port;
  if (!port || !metrics_port) {
    spdlog::critical("{}", (!port ? port : metrics_port).error().message);
    pruner.Stop();
    deliverer.Stop();
    relay_wake = nullptr;
    if (relay) relay->Stop();
    schedules.Stop();
    dispatcher.Stop(std::chrono::seconds(0));
    writer.Stop();
    return 1;
  }
  server.Start();
  metrics_server.Start();
  if (!cfg->port_file.empty()) {
    if (auto s = WritePortFile(cfg->port_file, *port, *metrics_port); !s)
      spdlog::error("{}", s.error().message);
  }
  spdlog::warn("lshd {} listening on http://{}:{} (metrics :{}, db {}, boot {}{})", LSH_VERSION,
               cfg->host, *port, *metrics_port, cfg->db_path, boot_id,
               cfg->api_key.empty() ? ", no API key" : "");

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::warn("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  dispatcher.CancelWaits();  // ?wait= requests answer now
  server.Stop();             // no new requests; in-flight ones finish
  metrics_server.Stop();
  schedules.Stop();                                              // no new fires
  dispatcher.Stop(std::chrono::seconds(cfg->shutdown_grace_s));  // runs finish or are recorded
  pruner.Stop();
  deliverer.Stop();  // before the writer: its outcomes are writes
  relay_wake = nullptr;
  if (relay) relay->Stop();  // before the writer: it marks what the sink acknowledged
  (void)st.BootStop(boot_id);
  // After an I/O error nothing more goes to the database file (writer.h).
  if (writer.state() != store::Writer::State::kStopped) {
    if (auto s = st.Checkpoint(); !s) spdlog::warn("{}", s.error().message);
  }
  writer.Stop();
  spdlog::warn("stopped cleanly");
  return 0;
}

int MigrateCommand(const std::vector<std::string>& args) {
  std::string db = "volumes/data/lsh.db";
  if (const char* v = std::getenv("LSH_DB_PATH"); v && *v) db = v;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) {
      db = args[++i];
    } else if (args[i].rfind("--db=", 0) == 0) {
      db = args[i].substr(5);
    } else {
      std::fprintf(stderr, "lshd migrate: unknown option '%s'\n", args[i].c_str());
      return 2;
    }
  }
  if (auto s = EnsureParentDir(db); !s) {
    std::fprintf(stderr, "lshd migrate: %s\n", s.error().message.c_str());
    return 1;
  }
  auto conn = store::OpenConnection({db, true}, false);
  if (!conn) {
    std::fprintf(stderr, "lshd migrate: %s\n", conn.error().message.c_str());
    return 1;
  }
  auto report = store::Migrate(**conn);
  if (!report) {
    std::fprintf(stderr, "lshd migrate: %s\n", report.error().message.c_str());
    return 1;
  }
  for (const auto& m : report->applied) std::printf("applied %s\n", m.c_str());
  std::printf("%s: schema version %d (was %d)\n", db.c_str(), report->to_version,
              report->from_version);
  return 0;
}

}  // namespace lsh::app
