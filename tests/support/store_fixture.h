// Test support: a real Store on a temp database (migrated, writer running),
// for unit tests of the store layer.
#pragma once

#include <memory>

#include "core/clock.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/store.h"
#include "store/writer.h"
#include "support/daemon.h"

namespace lsh::test {

struct StoreFixture {
  TempDir dir;
  SystemClock clock;
  store::DbOptions options;
  std::unique_ptr<store::Writer> writer;
  std::unique_ptr<store::ReaderPool> readers;
  std::unique_ptr<store::Store> store;

  explicit StoreFixture(size_t max_batch = 1024) {
    options.path = dir.path() + "/lsh.db";
    auto conn = store::OpenConnection(options, false);
    REQUIRE(conn.ok());
    auto m = store::Migrate(**conn);
    REQUIRE(m.ok());
    writer = std::make_unique<store::Writer>(std::move(conn.value()), clock, max_batch);
    readers = std::make_unique<store::ReaderPool>(options);
    store = std::make_unique<store::Store>(*writer, *readers, clock);
    writer->Start();
  }
  ~StoreFixture() { writer->Stop(); }

  // A read-only connection for checking rows directly.
  std::unique_ptr<SQLite::Database> Inspect() {
    auto c = store::OpenConnection(options, true);
    REQUIRE(c.ok());
    return std::move(c.value());
  }
  int64_t Count(const std::string& sql) {
    auto db = Inspect();
    SQLite::Statement q(*db, sql);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  }
};

inline JobSpec MakeSpec(const std::string& name, const std::string& command = "true") {
  JobSpec s;
  s.name = name;
  s.command = command;
  return s;
}

}  // namespace lsh::test
