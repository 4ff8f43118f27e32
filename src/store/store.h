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
// A trigger with an Idempotency-Key: the run it queued is kept with the key
// (as the run's JSON when first queued); a replay returns that, queuing
// nothing.
struct TriggerOutcome {
  Run run;                // the queued run (its id only, on a replay)
  bool replayed = false;  // true: run_json is the stored first answer
  std::string run_json;   // the run as JSON text when it was queued
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

// ---- runs (src/store/runs.cpp; docs/lifecycle.md) ----

struct RunFilter {
  std::string job_id;  // required for RunList
  std::string status;  // empty: any
  int limit = 50;
  std::string cursor;  // the id of the last run of the previous page
};

struct RunPage {
  std::vector<Run> runs;
  std::string next_cursor;
};

// A run the dispatcher claimed, with what it needs to spawn it.
struct ClaimedRun {
  Run run;
  JobSpec spec;
};

// How a process ended, as the dispatcher reports it to RunFinish.
struct RunOutcome {
  std::string status;  // completed, failed, timeout, killed
  std::optional<int> exit_code;
  std::string signal;  // "SIGKILL" when a signal ended it
  std::optional<int64_t> pid;
  std::optional<SysTime> started_at;  // when spawning failed, the claim time stays
  SysTime completed_at{};
  int64_t duration_ms = 0;
  std::string stdout_tail;
  std::string stderr_tail;
  std::string error_type;  // exit, signal, timeout, killed, spawn, abandoned, shutdown
  std::string error_message;
  bool retryable = true;  // false: never retry (killed by a user)
};

struct FinishResult {
  Run run;
  std::optional<Run> retry;  // the next attempt, when one was queued
};

// A run an earlier boot left running, for crash recovery.
struct AbandonedRun {
  std::string run_id;
  std::string job_id;
  std::optional<int64_t> pid;  // its process group, when it was recorded
};

// What a schedule fire does, computed by the schedule loop from the job's
// schedule and applied by ScheduleFire in one transaction.
struct FirePlan {
  std::optional<SysTime> expected_next_run;  // compare-and-set: skip if it moved
  std::optional<SysTime> new_next_run;       // nullopt: nothing further
  std::optional<SysTime> on_time_fire;       // a normal fire (trigger "schedule")
  std::vector<SysTime> catchup_fires;        // runs with trigger "catchup"
  std::optional<nlohmann::json> missed;      // schedule:missed event data, if any
};

struct FireResult {
  bool applied = false;  // false: the job changed meanwhile (or is gone)
  std::vector<Run> runs;
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

  // ---- runs (docs/lifecycle.md) ----
  Result<Run> RunEnqueue(std::string_view job_id_or_name, const std::string& trigger);
  // POST /jobs/:id/trigger: RunEnqueue("manual"), once per Idempotency-Key.
  Result<TriggerOutcome> RunTrigger(std::string_view job_id_or_name, const IdempotentCreate* idem);
  // Claims up to `limit` queued runs that may start now (priority, then
  // queue time; one per job unless its overlap policy is "allow"). Held runs
  // (docs/lifecycle.md, "Held runs") are not read, so the cost does not grow
  // with a one-at-a-time job's backlog.
  Result<std::vector<ClaimedRun>> RunClaim(const std::string& boot_id, int limit);
  // Records pids without waiting for the commit (the dispatcher's loop must
  // not stall on it). The writer keeps submission order, so a run's pid is
  // written before its RunFinish.
  void RunSetPids(std::vector<std::pair<std::string, int64_t>> pids);
  // Ends a run; queues its retry when the job's policy asks (backoff from
  // retryDelay, doubled per attempt, with jitter).
  Result<FinishResult> RunFinish(const std::string& run_id, const RunOutcome& outcome);
  // Runs left running by another boot: marked failed/abandoned (retried per
  // policy). Returns them so their process groups can be killed.
  Result<std::vector<AbandonedRun>> RunRecoverAbandoned(const std::string& boot_id);
  Result<Run> RunGet(std::string_view run_id);
  Result<RunPage> RunList(const RunFilter& filter);
  // The earliest not_before of a queued retry that is not yet due.
  Result<std::optional<SysTime>> RunNextRetryTime();

  // ---- job control ----
  struct StopResult {
    Job job;
    std::vector<std::string> running_run_ids;  // for the dispatcher to signal
  };
  Result<StopResult> JobStop(std::string_view id_or_name);
  // Clears the pause; `next_run` from the job's schedule; queues a run for a
  // job without a schedule.
  Result<std::pair<Job, std::optional<Run>>> JobStart(
      std::string_view id_or_name,
      const std::function<std::optional<SysTime>(const Job&)>& next_run);

  // ---- schedules ----
  // Active jobs whose next fire is at or before `now`.
  Result<std::vector<Job>> ScheduleDue(SysTime now, int limit);
  Result<std::optional<SysTime>> ScheduleNextFire();
  Result<FireResult> ScheduleFire(const std::string& job_id, const FirePlan& plan);

  // ---- events (the durable log, promise 3) ----
  struct EventFilter {
    std::string job_id;              // empty: every job
    std::vector<std::string> types;  // empty: every type
  };
  // Events with id > after, in id order, at most `limit`.
  Result<std::vector<Event>> EventsAfter(int64_t after, int limit, const EventFilter& filter);
  // The oldest and newest kept event ids (0, 0 when there are none).
  Result<std::pair<int64_t, int64_t>> EventBounds();

  // ---- daemon boots ----
  Status BootRecord(const std::string& boot_id, int64_t pid, const std::string& version);
  Status BootStop(const std::string& boot_id);
  // Folds the WAL into the database file (clean shutdown, backups).
  Status Checkpoint();

  // ---- status ----
  Result<StatusCounts> Counts();
  bool healthy() const { return writer_.healthy(); }
  Writer::State write_state() const { return writer_.state(); }
  std::string last_write_error() const { return writer_.last_commit_error(); }
  std::string last_write_code() const { return writer_.last_commit_code(); }

  // ---- building blocks for writes (run on the writer thread, inside tx) ----
  // Appends an event (data is JSON text); records its id in tx.last_event_id.
  // A job:* event also queues its webhook deliveries (WebhookStore).
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
