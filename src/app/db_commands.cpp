#include "app/db_commands.h"

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "store/maintenance.h"
#include "store/migrations.h"

namespace lsh::app {

using nlohmann::json;

namespace {

const char* kBackupHelp =
    "Usage: lshd backup PATH [--db DB] [--json]\n"
    "\n"
    "Writes a consistent copy of the database to PATH while the daemon keeps running\n"
    "(VACUUM INTO on a connection of its own: every write committed before the backup\n"
    "began, none after), syncs it, checks it with integrity_check, and only then puts it\n"
    "at PATH. PATH must not exist. --db: the database (LSH_DB_PATH, default\n"
    "volumes/data/lsh.db).\n"
    "\n"
    "Exit status: 0 written and verified, 1 failed (nothing left at PATH), 2 usage error.\n";

const char* kCheckHelp =
    "Usage: lshd check [--db DB] [--json]\n"
    "\n"
    "Checks the database file: PRAGMA integrity_check, the schema version against the\n"
    "migrations this binary knows, row counts, and the outbox (pending, parked, oldest\n"
    "pending, last error). Safe beside a running daemon (read-only snapshot).\n"
    "--json prints {\"ok\":…, \"problems\":[…], \"warnings\":[…], …} for scripts.\n"
    "\n"
    "Exit status: 0 sound (warnings allowed), 1 problems found, 2 usage error or the\n"
    "database cannot be opened.\n";

struct DbArgs {
  std::string db = "volumes/data/lsh.db";
  bool json = false;
  bool help = false;
  std::vector<std::string> positional;
};

bool ParseDbArgs(const char* cmd, const std::vector<std::string>& args, DbArgs& a) {
  if (const char* v = std::getenv("LSH_DB_PATH"); v && *v) a.db = v;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--db" && i + 1 < args.size()) {
      a.db = args[++i];
    } else if (s.rfind("--db=", 0) == 0) {
      a.db = s.substr(5);
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "--help" || s == "-h") {
      a.help = true;
    } else if (!s.empty() && s[0] == '-') {
      std::fprintf(stderr, "lshd %s: unknown option '%s' (lshd %s --help)\n", cmd, s.c_str(), cmd);
      return false;
    } else {
      a.positional.push_back(s);
    }
  }
  return true;
}

json FactsJson(const store::DbFacts& f) {
  json outbox = json::object();
  for (const auto& [state, n] : f.outbox) outbox[state] = n;
  outbox["oldestPendingAt"] =
      f.outbox_oldest_pending ? json(*f.outbox_oldest_pending) : json(nullptr);
  outbox["lastError"] = f.outbox_last_error ? json(*f.outbox_last_error) : json(nullptr);
  return {{"integrity", f.integrity},
          {"integrityOk", f.integrity_ok()},
          {"schemaVersion", f.schema_version},
          {"jobs", f.jobs},
          {"runs", f.runs},
          {"events", f.events},
          {"newestEventId", f.newest_event_id},
          {"outbox", outbox},
          {"sizeBytes", f.size_bytes}};
}

int KnownSchemaVersion() {
  const auto& m = store::EmbeddedMigrations();
  return m.empty() ? 0 : m.back().version;
}

}  // namespace

int BackupCommand(const std::vector<std::string>& args) {
  DbArgs a;
  if (!ParseDbArgs("backup", args, a)) return 2;
  if (a.help) {
    std::fputs(kBackupHelp, stdout);
    return 0;
  }
  if (a.positional.size() != 1) {
    std::fprintf(stderr, "lshd backup: give one PATH to write the copy to\n%s", kBackupHelp);
    return 2;
  }
  const std::string& dest = a.positional[0];
  auto facts = store::BackupDatabase(a.db, dest);
  if (!facts) {
    if (a.json)
      std::printf("%s\n", json({{"ok", false}, {"error", facts.error().message}}).dump(2).c_str());
    std::fprintf(stderr, "lshd backup: %s\n", facts.error().message.c_str());
    return 1;
  }
  if (a.json) {
    json j = FactsJson(*facts);
    j["ok"] = true;
    j["source"] = a.db;
    j["path"] = dest;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf(
        "backup of %s written to %s: %lld bytes, integrity ok, schema version %d, %lld jobs, "
        "%lld runs, %lld events (newest id %lld)\n",
        a.db.c_str(), dest.c_str(), static_cast<long long>(facts->size_bytes),
        facts->schema_version, static_cast<long long>(facts->jobs),
        static_cast<long long>(facts->runs), static_cast<long long>(facts->events),
        static_cast<long long>(facts->newest_event_id));
  }
  return 0;
}

int CheckCommand(const std::vector<std::string>& args) {
  DbArgs a;
  if (!ParseDbArgs("check", args, a)) return 2;
  if (a.help) {
    std::fputs(kCheckHelp, stdout);
    return 0;
  }
  if (!a.positional.empty()) {
    std::fprintf(stderr, "lshd check: unexpected argument '%s' (use --db PATH)\n",
                 a.positional[0].c_str());
    return 2;
  }
  auto facts = store::DatabaseFacts(a.db);
  if (!facts) {
    if (a.json)
      std::printf(
          "%s\n",
          json({{"ok", false}, {"path", a.db}, {"error", facts.error().message}}).dump(2).c_str());
    std::fprintf(stderr, "lshd check: %s\n", facts.error().message.c_str());
    return 2;
  }
  const store::DbFacts& f = *facts;
  int known = KnownSchemaVersion();
  std::vector<std::string> problems, warnings;
  if (!f.integrity_ok()) {
    std::string first = f.integrity.empty() ? "no answer" : f.integrity[0];
    problems.push_back("integrity_check failed: " + first +
                       (f.integrity.size() > 1
                            ? " (and " + std::to_string(f.integrity.size() - 1) + " more)"
                            : ""));
  } else if (f.schema_version == 0) {
    problems.emplace_back("no lshd schema in this file (never migrated, or not an lshd database)");
  } else if (f.schema_version > known) {
    problems.push_back("schema version " + std::to_string(f.schema_version) +
                       " is newer than this binary knows (" + std::to_string(known) +
                       "); use the newer lshd");
  } else if (f.schema_version < known) {
    warnings.push_back("schema version " + std::to_string(f.schema_version) + " is behind " +
                       std::to_string(known) + "; lshd serve or lshd migrate applies the rest");
  }
  auto count = [&](const char* s) {
    auto it = f.outbox.find(s);
    return it == f.outbox.end() ? int64_t{0} : it->second;
  };
  if (count("parked") > 0)
    warnings.push_back(std::to_string(count("parked")) +
                       " outbox rows are parked (the sink refused them); lshd outbox shows "
                       "them, lshd outbox retry requeues them");
  bool ok = problems.empty();
  if (a.json) {
    json j = FactsJson(f);
    j["ok"] = ok;
    j["path"] = a.db;
    j["knownSchemaVersion"] = known;
    j["problems"] = problems;
    j["warnings"] = warnings;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::string outbox = std::to_string(count("pending")) + " pending";
    if (f.outbox_oldest_pending) outbox += " (oldest " + *f.outbox_oldest_pending + ")";
    outbox += ", " + std::to_string(count("parked")) + " parked, " +
              std::to_string(count("delivered")) + " delivered";
    std::printf("database    %s (%lld bytes)\n", a.db.c_str(),
                static_cast<long long>(f.size_bytes));
    std::printf("integrity   %s\n", f.integrity_ok() ? "ok" : "FAILED");
    for (size_t i = 0; !f.integrity_ok() && i < f.integrity.size() && i < 10; ++i)
      std::printf("            %s\n", f.integrity[i].c_str());
    std::printf("schema      version %d (this binary knows %d)\n", f.schema_version, known);
    std::printf("rows        %lld jobs, %lld runs, %lld events (newest id %lld)\n",
                static_cast<long long>(f.jobs), static_cast<long long>(f.runs),
                static_cast<long long>(f.events), static_cast<long long>(f.newest_event_id));
    std::printf("outbox      %s\n", outbox.c_str());
    if (f.outbox_last_error) std::printf("last error  %s\n", f.outbox_last_error->c_str());
    for (const auto& p : problems) std::printf("PROBLEM     %s\n", p.c_str());
    for (const auto& w : warnings) std::printf("warning     %s\n", w.c_str());
    std::printf("result      %s\n", ok ? "ok" : "problems found");
  }
  return ok ? 0 : 1;
}

}  // namespace lsh::app
