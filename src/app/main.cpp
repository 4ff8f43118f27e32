// lshd: the LSH daemon and its command-line client, one binary.
//
//   lshd serve      the daemon (scripts/run starts it)
//   lshd migrate    applies the schema migrations and reports
//   lshd backup, check        the database file (app/db_commands.h)
//   lshd status, jobs, add, … the client (cli/cli.h)
//   lshd supabase-schema  prints the remote schema the relay writes into
//   lshd --version  the version
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app/daemon.h"
#include "app/db_commands.h"
#include "cli/cli.h"
#include "outbox/schema.h"
#include "store/db.h"

namespace {

const char* kUsage =
    "lshd " LSH_VERSION
    " - the LSH daemon: a durable job queue and scheduler\n"
    "\n"
    "Usage:\n"
    "  lshd serve [options]    run the daemon\n"
    "  lshd migrate [--db P]   apply database migrations and report\n"
    "  lshd backup PATH        online, verified copy of the database (lshd backup --help)\n"
    "  lshd check [--json]     integrity, schema version and outbox of the database\n"
    "  lshd supabase-schema    print the SQL for the replication target (Supabase's\n"
    "                          SQL editor or psql); safe on existing tables\n"
    "  lshd --version          print the version\n"
    "  lshd --help             this text\n"
    "\n"
    "Options for serve (flags override the environment):\n"
    "  --host H          listen address (LSH_HOST, default 127.0.0.1)\n"
    "  --port N          HTTP port, 0 for any free one (PORT, default 3030)\n"
    "  --db PATH         SQLite database (LSH_DB_PATH, default volumes/data/lsh.db)\n"
    "  --metrics-port N  Prometheus port (LSH_METRICS_PORT, default 9091)\n"
    "  --port-file PATH  write the bound port here once listening\n"
    "  --log-level L     debug, info, warn, error (LSH_LOG_LEVEL, default info)\n"
    "  --threads N       HTTP worker threads (LSH_HTTP_THREADS, default 1200)\n"
    "  --insecure        allow a non-loopback --host without LSH_API_KEY\n"
    "\n"
    "Environment: LSH_API_KEY, LSH_SYNC (full|normal), LSH_CORS_ORIGINS,\n"
    "LSH_MAX_BODY_BYTES, LSH_MAX_CONCURRENT_JOBS, LSH_JOB_TIMEOUT, LSH_SHUTDOWN_GRACE.\n"
    "Replication: SUPABASE_URL with SUPABASE_KEY (or SUPABASE_SERVICE_ROLE_KEY), or\n"
    "LSH_SYNC_DATABASE_URL; LSH_RELAY_BATCH_SIZE (--relay-batch-size, 500),\n"
    "LSH_RELAY_TIMEOUT_MS, LSH_RELAY_BACKOFF_MAX_MS, LSH_RELAY_STALL_MS.\n";

}  // namespace

int main(int argc, char** argv) {
  lsh::store::ConfigureSqlite();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, stdout);
    std::printf("\n%s", lsh::cli::UsageText());
    return 0;
  }
  if (args[0] == "--version" || args[0] == "-V" || args[0] == "version") {
    std::puts("lshd " LSH_VERSION);
    return 0;
  }
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  // Subcommands with their own --help: the client, backup and check.
  if (auto rc = lsh::cli::Dispatch(cmd, rest)) return *rc;
  if (cmd == "backup") return lsh::app::BackupCommand(rest);
  if (cmd == "check") return lsh::app::CheckCommand(rest);
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (cmd == "serve") return lsh::app::Serve(rest);
  if (cmd == "migrate") return lsh::app::MigrateCommand(rest);
  if (cmd == "supabase-schema") {
    if (!rest.empty()) {
      std::fprintf(stderr, "lshd supabase-schema: takes no arguments, not '%s'\n", rest[0].c_str());
      return 2;
    }
    std::fputs(lsh::outbox::RemoteSchemaSql(), stdout);
    return 0;
  }
  std::fprintf(stderr, "lshd: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
