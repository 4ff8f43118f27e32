#include "store/migrations.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <cstdio>

#include "core/clock.h"
#include "core/time.h"

namespace lsh::store {

std::string Checksum(const std::string& sql) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : sql) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {
void EnsureTable(SQLite::Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
      " applied_at TEXT NOT NULL)");
}
}  // namespace

Result<int> SchemaVersion(SQLite::Database& db) {
  try {
    if (!db.tableExists("schema_migrations")) return 0;
    SQLite::Statement q(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    q.executeStep();
    return q.getColumn(0).getInt();
  } catch (const std::exception& e) {
    return Error::Unavailable(std::string("cannot read the schema version: ") + e.what());
  }
}

Result<MigrationReport> Migrate(SQLite::Database& db) {
  return Migrate(db, EmbeddedMigrations());
}

Result<MigrationReport> Migrate(SQLite::Database& db, const std::vector<Migration>& migrations) {
  MigrationReport report;
  try {
    EnsureTable(db);
    auto current = SchemaVersion(db);
    if (!current) return current.error();
    report.from_version = report.to_version = *current;
    int newest_known = migrations.empty() ? 0 : migrations.back().version;
    if (*current > newest_known) {
      return Error::Unavailable("the database is at schema version " + std::to_string(*current) +
                                    ", newer than this lshd binary knows (" +
                                    std::to_string(newest_known) +
                                    "); run a newer lshd, or restore a backup made by this version",
                                "schema_too_new");
    }
    // Applied migrations must be the ones this binary carries.
    SQLite::Statement applied(db, "SELECT version, name, checksum FROM schema_migrations");
    while (applied.executeStep()) {
      int v = applied.getColumn(0).getInt();
      std::string sum = applied.getColumn(2).getString();
      for (const auto& m : migrations) {
        if (m.version == v && Checksum(m.sql) != sum) {
          return Error::Unavailable("migration " + std::to_string(v) + " (" + m.name +
                                        ") recorded in the database differs from the one in "
                                        "this binary (checksum mismatch)",
                                    "schema_checksum_mismatch");
        }
      }
    }
    for (const auto& m : migrations) {
      if (m.version <= *current) continue;
      SQLite::Transaction tx(db);
      db.exec(m.sql);
      SQLite::Statement ins(db,
                            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                            "VALUES (?, ?, ?, ?)");
      ins.bind(1, m.version);
      ins.bind(2, m.name);
      ins.bind(3, Checksum(m.sql));
      ins.bind(4, FormatTime(SystemClock::Get().Now()));
      ins.exec();
      tx.commit();
      char label[16];
      std::snprintf(label, sizeof label, "%04d_", m.version);
      report.applied.push_back(label + std::string(m.name));
      report.to_version = m.version;
    }
    return report;
  } catch (const std::exception& e) {
    return Error::Unavailable(std::string("migration failed: ") + e.what(), "migration_failed");
  }
}

}  // namespace lsh::store
