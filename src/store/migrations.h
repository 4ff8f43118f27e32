// Migrations: numbered SQL files in migrations/, compiled into the binary
// (cmake/embed_migrations.cmake), applied in order, each inside its own
// transaction, and recorded in schema_migrations (version, name, checksum,
// applied_at). A database whose newest applied version is above what this
// binary knows is refused, with a message saying so.
//
// Thread-safety: Migrate runs on one connection before any other thread uses
// the database.
#pragma once

#include <string>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "core/error.h"

namespace lsh::store {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every migration compiled into this binary, in version order.
const std::vector<Migration>& EmbeddedMigrations();

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // "0001_init" for each one applied now
};

// Applies `migrations` (default: the embedded ones) that are not yet recorded.
// Refuses a database that is newer than the newest known migration, or whose
// recorded checksum of an applied migration differs from this binary's.
Result<MigrationReport> Migrate(SQLite::Database& db, const std::vector<Migration>& migrations);
Result<MigrationReport> Migrate(SQLite::Database& db);

// The newest version recorded in schema_migrations (0 for a fresh database).
Result<int> SchemaVersion(SQLite::Database& db);

std::string Checksum(const std::string& sql);  // FNV-1a 64, hex

}  // namespace lsh::store
