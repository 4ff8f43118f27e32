// Store: every SQL statement lshd runs against its own database, named like
// the method that runs it (River's driver). Handlers and loops call these
// methods; they never see SQL.
//
// Writes go through the Writer's group commit and each one writes, in the
// same transaction, the state row, its events row and its outbox rows
// (promise 2). Reads take a connection from the ReaderPool and never wait on
// the writer. Expected failures (not found, conflict, store unavailable)
// come back as Error values; SQLite exceptions are caught here and never
// cross into callers.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/types.h"
#include "store/db.h"
#include "store/writer.h"

namespace lsh::store {

struct JobFilter {
  std::string status;  // exact job status, empty: any
  std::string name;    // substring of the name, empty: any
  std::string tag;     // jobs carrying this tag, empty: any
  int limit = 100;
  std::string cursor;  // the id of the last job of the previous page
};

struct JobPage {
  std::vector<Job> jobs;
  int64_t total = 0;        // all jobs matching the filter, across pages
  std::string next_cursor;  // empty when this is the last page
};

// What a PATCH computes from the current job: the new spec and next fire.
struct JobUpdate {
  JobSpec spec;
  std::optional<SysTime> next_run_at;
};

// A create with an Idempotency-Key: the first response (the job's JSON) is
// stored with the key in the same transaction; a replay returns it.
struct IdempotentCreate {
  std::string key;
  std::string route;
  std::string request_hash;
};
struct CreateOutcome {
  Job job;                // the created job (empty on a replay)
  bool replayed = false;  // true: body is the stored first response
  int status_code = 201;
  std::string body;  // the job as JSON text: the response body
};

struct StatusCounts {
  int64_t jobs_total = 0;
  std::vector<std::pair<std::string, int64_t>> jobs_by_status;
  int64_t runs_queued = 0;
  int64_t runs_running = 0;
  int64_t outbox_pending = 0;
  int64_t outbox_parked = 0;
  std::optional<SysTime> outbox_oldest_pending;
  int schema_version = 0;
};

class Store {
 public:
  Store(Writer& writer, ReaderPool& readers, const Clock& clock);

  // ---- jobs ----
  Result<CreateOutcome> JobCreate(const JobSpec& spec, std::optional<SysTime> next_run_at,
                                  const IdempotentCreate* idem = nullptr);
  // Submits every create at once so they share group commits; one result each.
  std::vector<Result<Job>> JobCreateMany(
      const std::vector<std::pair<JobSpec, std::optional<SysTime>>>& specs);
  Result<Job> JobGet(std::string_view id_or_name);
  Result<JobPage> JobList(const JobFilter& filter);
  Result<std::vector<Job>> JobListAll();
  Result<Job> JobUpdate(std::string_view id_or_name,
                        const std::function<Result<store::JobUpdate>(const Job&)>& change);
  // Deletes a job and its runs. With active runs: kConflict unless force.
  Result<Job> JobDelete(std::string_view id_or_name, bool force);

  // ---- daemon boots ----
  Status BootRecord(const std::string& boot_id, int64_t pid, const std::string& version);
  Status BootStop(const std::string& boot_id);
  // Folds the WAL into the database file (clean shutdown, backups).
  Status Checkpoint();

  // ---- status ----
  Result<StatusCounts> Counts();
  bool healthy() const { return writer_.healthy(); }
  std::string last_write_error() const { return writer_.last_commit_error(); }

  // ---- building blocks for writes (run on the writer thread, inside tx) ----
  // Appends an event (data is JSON text); records its id in tx.last_event_id.
  static int64_t EventAppend(WriteTx& tx, const std::string& type, const std::string& job_id,
                             const std::string& run_id, const std::string& data_json);
  // Appends an outbox row for a changed job or run (payload is JSON text).
  static void OutboxAppend(WriteTx& tx, const std::string& entity, const std::string& entity_id,
                           const std::string& op, int64_t version, const std::string& payload);
  static std::optional<Job> JobLoad(StmtCache& stmts, std::string_view id_or_name);

  Writer& writer() { return writer_; }
  ReaderPool& readers() { return readers_; }

 private:
  Writer& writer_;
  ReaderPool& readers_;
  const Clock& clock_;
};

}  // namespace lsh::store
