// The raw SQLite ceiling for durable creates: what one process can commit
// when it does nothing but insert the rows a POST /jobs writes (the jobs row,
// its job:created event and its outbox row, with payloads of the same size)
// into lshd's schema, BATCH creates per transaction, journal_mode=WAL and
// synchronous=FULL like lshd. No HTTP, no JSON parsing, no validation: the
// figure lshd's group commit can approach, never pass, at a batch size equal
// to its number of concurrent clients.
//
//   lsh_sqlite_ceiling MIGRATIONS_DIR DB_DIR SECONDS BATCH...
//
// Prints one line per batch size: "<batch> <creates/s> <creates>". Each
// batch size gets a fresh database file in DB_DIR (so the fault shim's slow
// volume, LSH_SHIM_DIR=DB_DIR, applies to it).
//
// Thread-safety: single-threaded.
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/time.h"

namespace fs = std::filesystem;

namespace {

void Migrate(SQLite::Database& db, const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".sql") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    db.exec(ss.str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: lsh_sqlite_ceiling MIGRATIONS_DIR DB_DIR SECONDS BATCH...\n");
    return 2;
  }
  std::string migrations = argv[1], dir = argv[2];
  double secs = std::atof(argv[3]);
  const auto& clock = lsh::SystemClock::Get();
  for (int a = 4; a < argc; ++a) {
    int batch = std::atoi(argv[a]);
    std::string path = dir + "/ceiling-" + std::to_string(batch) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
    long creates = 0;
    double elapsed = 0;
    {
      SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("PRAGMA synchronous=FULL");
      db.exec("PRAGMA foreign_keys=ON");
      db.exec("PRAGMA cache_size=-16000");
      Migrate(db, migrations);
      SQLite::Statement job(db,
                            "INSERT INTO jobs (id, name, command, status, created_at, updated_at) "
                            "VALUES (?, ?, 'true', 'created', ?, ?)");
      SQLite::Statement event(db,
                              "INSERT INTO events (type, job_id, data, created_at) "
                              "VALUES ('job:created', ?, ?, ?)");
      SQLite::Statement outbox(db,
                               "INSERT INTO outbox (entity, entity_id, op, version, payload, "
                               "created_at) VALUES ('job', ?, 'upsert', 1, ?, ?)");
      auto t0 = std::chrono::steady_clock::now();
      auto end = t0 + std::chrono::duration<double>(secs);
      while (std::chrono::steady_clock::now() < end) {
        SQLite::Transaction tx(db);
        for (int i = 0; i < batch; ++i) {
          auto now = clock.Now();
          std::string id = lsh::NewUuidV7(now), ts = lsh::FormatTime(now);
          std::string name = "bench-" + std::to_string(creates);
          // The job object lshd renders for such a create is about 600 bytes.
          std::string payload = "{\"id\":\"" + id + "\",\"name\":\"" + name +
                                "\",\"command\":\"true\",\"type\":\"shell\",\"status\":\"created\","
                                "\"createdAt\":\"" +
                                ts + "\",\"updatedAt\":\"" + ts + "\",\"pad\":\"" +
                                std::string(420, 'x') + "\"}";
          job.bind(1, id);
          job.bind(2, name);
          job.bind(3, ts);
          job.bind(4, ts);
          job.exec();
          job.reset();
          event.bind(1, id);
          event.bind(2, payload);
          event.bind(3, ts);
          event.exec();
          event.reset();
          outbox.bind(1, id);
          outbox.bind(2, payload);
          outbox.bind(3, ts);
          outbox.exec();
          outbox.reset();
          ++creates;
        }
        tx.commit();
      }
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    std::printf("%d %.0f %ld\n", batch, creates / elapsed, creates);
    std::fflush(stdout);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
  }
  return 0;
}
