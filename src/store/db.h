// Database connections: how lshd opens SQLite, and the pool of read
// connections.
//
// Every connection uses WAL, foreign keys and a busy timeout. The one write
// connection belongs to the Writer (store/writer.h); readers take a
// connection from ReaderPool, so reads never wait on the writer (WAL lets
// them see the last committed state while a write transaction is open).
//
// Thread-safety: ReaderPool may be used from any thread; a Lease is one
// thread's connection until it is destroyed.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "core/error.h"

namespace lsh::store {

struct DbOptions {
  std::string path;
  // synchronous=FULL (default): a committed transaction survives power loss.
  // NORMAL (LSH_SYNC=normal): faster; a power cut may lose the last
  // transactions, though never corrupts the database.
  bool sync_full = true;
  // How long a connection waits for a lock held by another process (the
  // sqlite3 shell, a backup) before a write fails with "busy".
  int busy_timeout_ms = 5000;
};

// Opens a connection with lshd's pragmas. read_only connections refuse writes.
Result<std::unique_ptr<SQLite::Database>> OpenConnection(const DbOptions& options, bool read_only);

class ReaderPool {
 public:
  explicit ReaderPool(DbOptions options) : options_(std::move(options)) {}

  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<SQLite::Database> db)
        : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (db_) pool_->Release(std::move(db_));
    }
    SQLite::Database& db() { return *db_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<SQLite::Database> db_;
  };

  // A connection for this thread: an idle one, or a new one.
  Result<Lease> Acquire();

 private:
  void Release(std::unique_ptr<SQLite::Database> db);

  const DbOptions options_;  // constant after construction
  std::mutex mu_;
  std::vector<std::unique_ptr<SQLite::Database>> idle_;  // guarded by mu_
};

}  // namespace lsh::store
