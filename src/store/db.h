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
#include "store/stmt_cache.h"

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

// Process-wide SQLite settings (no memory statistics); call first thing in
// main, before any connection is opened. Not thread-safe.
void ConfigureSqlite();

// Opens a connection with lshd's pragmas. read_only connections refuse writes.
Result<std::unique_ptr<SQLite::Database>> OpenConnection(const DbOptions& options, bool read_only);

class ReaderPool {
 public:
  explicit ReaderPool(DbOptions options) : options_(std::move(options)) {}

  // A read connection with its prepared statements.
  struct Conn {
    std::unique_ptr<SQLite::Database> db;
    std::unique_ptr<StmtCache> stmts;
  };

  class Lease {
   public:
    Lease(ReaderPool* pool, Conn conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_.db) {
        conn_.stmts->ResetAll();  // no read snapshot outlives the lease
        pool_->Release(std::move(conn_));
      }
    }
    SQLite::Database& db() { return *conn_.db; }
    StmtCache& stmts() { return *conn_.stmts; }

   private:
    ReaderPool* pool_;
    Conn conn_;
  };

  // A connection for this thread: an idle one, or a new one.
  Result<Lease> Acquire();

 private:
  void Release(Conn conn);

  const DbOptions options_;  // constant after construction
  std::mutex mu_;
  std::vector<Conn> idle_;  // guarded by mu_
};

}  // namespace lsh::store
