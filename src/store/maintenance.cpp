#include "store/maintenance.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <sqlite3.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "store/migrations.h"

namespace lsh::store {

namespace fs = std::filesystem;

namespace {

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int64_t CountRows(SQLite::Database& db, const char* table) {
  if (!db.tableExists(table)) return 0;
  return db.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt64();
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::Unavailable("cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Error::Unavailable("cannot sync " + path + " to disk");
  return Status::Ok();
}

}  // namespace

Result<DbFacts> DatabaseFacts(const std::string& path) {
  if (!Exists(path)) return Error::NotFound("no database at " + path, "db_not_found");
  DbFacts f;
  f.size_bytes = FileSize(path) + FileSize(path + "-wal");
  std::unique_ptr<SQLite::Database> db;
  try {
    // Read-write without create: a WAL reader must be able to use the -shm
    // file; query_only keeps this connection from changing anything.
    db = std::make_unique<SQLite::Database>(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                                            5000);
    db->exec("PRAGMA query_only=ON");
  } catch (const std::exception& e) {
    return Error::Unavailable("cannot open the database at " + path + ": " + e.what(),
                              "db_open_failed");
  }
  try {
    // One read transaction: every number below comes from the same snapshot.
    db->exec("BEGIN");
    SQLite::Statement check(*db, "PRAGMA integrity_check");
    while (check.executeStep()) f.integrity.push_back(check.getColumn(0).getString());
  } catch (const std::exception& e) {
    // A file too damaged to check at all ("file is not a database", "database
    // disk image is malformed") is reported as the check's finding.
    f.integrity = {e.what()};
    return f;
  }
  try {
    auto version = SchemaVersion(*db);
    if (!version) return version.error();
    f.schema_version = *version;
    f.jobs = CountRows(*db, "jobs");
    f.runs = CountRows(*db, "runs");
    f.events = CountRows(*db, "events");
    if (db->tableExists("events"))
      f.newest_event_id = db->execAndGet("SELECT coalesce(max(id), 0) FROM events").getInt64();
    if (db->tableExists("outbox")) {
      for (const char* s : {"pending", "parked", "delivered"}) f.outbox[s] = 0;
      SQLite::Statement q(*db, "SELECT state, count(*) FROM outbox GROUP BY state");
      while (q.executeStep()) f.outbox[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
      SQLite::Statement oldest(*db, "SELECT min(created_at) FROM outbox WHERE state = 'pending'");
      if (oldest.executeStep() && !oldest.getColumn(0).isNull())
        f.outbox_oldest_pending = oldest.getColumn(0).getString();
      SQLite::Statement err(
          *db,
          "SELECT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT 1");
      if (err.executeStep()) f.outbox_last_error = err.getColumn(0).getString();
    }
    db->exec("COMMIT");
  } catch (const std::exception& e) {
    return Error::Unavailable("cannot read " + path + ": " + e.what(), "db_read_failed");
  }
  return f;
}

Result<DbFacts> BackupDatabase(const std::string& src, const std::string& dest) {
  if (!Exists(src)) return Error::NotFound("no database at " + src, "db_not_found");
  if (Exists(dest))
    return Error::Conflict(dest + " already exists; a backup never overwrites a file",
                           "backup_exists");
  std::string tmp = dest + ".tmp-" + std::to_string(::getpid());
  std::remove(tmp.c_str());
  try {
    SQLite::Database db(src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, 5000);
    // VACUUM INTO reads the whole database in one read transaction on this
    // connection and writes a compact copy; the daemon's writer goes on
    // committing meanwhile (WAL), and the copy holds exactly the snapshot.
    SQLite::Statement q(db, "VACUUM INTO ?");
    q.bind(1, tmp);
    q.exec();
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return Error::Unavailable("backup of " + src + " failed: " + e.what(), "backup_failed");
  }
  auto fail = [&](const Error& e) -> Result<DbFacts> {
    std::remove(tmp.c_str());
    return e;
  };
  if (auto s = SyncPath(tmp, false); !s) return fail(s.error());
  auto facts = DatabaseFacts(tmp);
  if (!facts) return fail(facts.error());
  if (!facts->integrity_ok())
    return fail(Error::Unavailable("the copy failed integrity_check: " + facts->integrity[0],
                                   "backup_corrupt"));
  std::error_code ec;
  fs::rename(tmp, dest, ec);
  if (ec)
    return fail(Error::Unavailable("cannot rename the copy to " + dest + ": " + ec.message()));
  fs::path parent = fs::absolute(dest).parent_path();
  if (auto s = SyncPath(parent.string(), true); !s) return s.error();
  facts->size_bytes = FileSize(dest);
  return facts;
}

}  // namespace lsh::store
