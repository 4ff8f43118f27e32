#include "store/db.h"

#include <sqlite3.h>

namespace lsh::store {

void ConfigureSqlite() {
  // Memory statistics take a global mutex on every SQLite allocation; lshd
  // never reads them (SQLite recommends turning them off for speed). Only
  // possible before SQLite initialises: a no-op after that.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

Result<std::unique_ptr<SQLite::Database>> OpenConnection(const DbOptions& options, bool read_only) {
  try {
    // Multi-thread mode: a connection is only ever used by one thread at a
    // time (the writer's thread, or a reader's lease), so SQLite's per-call
    // connection mutex is pure cost.
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (!read_only) flags |= SQLITE_OPEN_CREATE;
    auto db = std::make_unique<SQLite::Database>(options.path, flags, options.busy_timeout_ms);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec(options.sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=ON");
    db->exec("PRAGMA temp_store=MEMORY");
    db->exec("PRAGMA cache_size=-16000");  // 16 MiB per connection
    if (read_only) db->exec("PRAGMA query_only=ON");
    return db;
  } catch (const std::exception& e) {
    return Error::Unavailable("cannot open the database at " + options.path + ": " + e.what(),
                              "db_open_failed");
  }
}

Result<ReaderPool::Lease> ReaderPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      Conn c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
  }
  auto db = OpenConnection(options_, /*read_only=*/true);
  if (!db) return db.error();
  Conn c;
  c.db = std::move(db.value());
  c.stmts = std::make_unique<StmtCache>(*c.db);
  return Lease(this, std::move(c));
}

void ReaderPool::Release(Conn conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < 64) idle_.push_back(std::move(conn));
}

}  // namespace lsh::store
