// Maintenance of the database file by an operator: an online, consistent
// backup (`lshd backup`) and a health check (`lshd check`). Both open their
// own connections to the file, so they run beside a live daemon: WAL lets
// them read a committed snapshot while the daemon keeps writing, and they
// never hold the write lock.
//
// Thread-safety: each call opens and closes its own connections; call from
// any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace lsh::store {

// What a file holds, read in one snapshot.
struct DbFacts {
  std::vector<std::string> integrity;  // PRAGMA integrity_check: {"ok"} when sound
  int schema_version = 0;
  int64_t jobs = 0;
  int64_t runs = 0;
  int64_t events = 0;
  int64_t newest_event_id = 0;
  std::map<std::string, int64_t> outbox;             // state -> rows (pending, parked, delivered)
  std::optional<std::string> outbox_oldest_pending;  // created_at of the oldest pending row
  std::optional<std::string> outbox_last_error;      // of the newest row that has one
  int64_t size_bytes = 0;                            // the file plus its -wal
  bool integrity_ok() const { return integrity.size() == 1 && integrity[0] == "ok"; }
};

// Reads DbFacts of the database at `path` (which must exist; never created).
Result<DbFacts> DatabaseFacts(const std::string& path);

// Writes a consistent copy of the live database at `src` to `dest` with
// VACUUM INTO on a connection of its own (one read snapshot: every
// transaction committed before it began, none after), fsyncs it, checks it
// with integrity_check and only then renames it into place. `dest` must not
// exist. Returns the copy's facts.
Result<DbFacts> BackupDatabase(const std::string& src, const std::string& dest);

}  // namespace lsh::store
