// StmtCache: prepared statements kept per connection, keyed by their SQL.
//
// Preparing a statement costs far more than running it (the jobs insert,
// with its CHECK constraints, is ~300k instructions to prepare), so every
// statement the store runs is prepared once per connection and reused:
// Get resets it and clears its bindings. ResetAll releases any statement
// left mid-result, so no read snapshot or lock outlives its use.
//
// Thread-safety: none; a cache belongs to its connection's one user at a
// time (the writer thread, or the thread holding a reader lease).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

namespace lsh::store {

class StmtCache {
 public:
  explicit StmtCache(SQLite::Database& db) : db_(db) {}

  SQLite::Statement& Get(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      it = cache_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
    } else {
      it->second->reset();
      it->second->clearBindings();
    }
    return *it->second;
  }

  void ResetAll() {
    for (auto& [sql, st] : cache_) {
      try {
        st->reset();
      } catch (...) {  // a statement that failed reports its error again on reset
      }
    }
  }

 private:
  SQLite::Database& db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
};

}  // namespace lsh::store
