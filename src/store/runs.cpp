// Runs, job control and schedule fires: the transitions of
// docs/lifecycle.md. Each public method is one transaction that writes the
// state rows, their events row and their outbox rows together (promise 2).
#include <SQLiteCpp/Statement.h>

#include <random>

#include "core/ids.h"
#include "core/json.h"
#include "core/time.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace lsh::store {

using nlohmann::json;
using namespace internal;

namespace internal {

const char* const kRunColumns =
    "r.id, r.job_id, j.name, r.attempt, r.first_run_id, r.status, r.trigger, r.priority, "
    "r.scheduled_for, r.queued_at, r.not_before, r.started_at, r.completed_at, r.duration_ms, "
    "r.exit_code, r.signal, r.pid, r.boot_id, r.stdout_tail, r.stderr_tail, r.error_type, "
    "r.error_message, r.version, r.created_at, r.updated_at";
const char* const kRunFrom = " FROM runs r JOIN jobs j ON j.id = r.job_id ";

std::string Str(const SQLite::Column& c) {
  return c.isNull() ? std::string() : c.getString();
}

Run RowToRun(SQLite::Statement& q) {
  Run r;
  r.id = q.getColumn(0).getString();
  r.job_id = q.getColumn(1).getString();
  r.job_name = q.getColumn(2).getString();
  r.attempt = q.getColumn(3).getInt();
  r.first_run_id = Str(q.getColumn(4));
  r.status = q.getColumn(5).getString();
  r.trigger = q.getColumn(6).getString();
  r.priority = q.getColumn(7).getInt();
  r.scheduled_for = OptTime(q.getColumn(8));
  r.queued_at = Time(q.getColumn(9));
  r.not_before = OptTime(q.getColumn(10));
  r.started_at = OptTime(q.getColumn(11));
  r.completed_at = OptTime(q.getColumn(12));
  if (!q.getColumn(13).isNull()) r.duration_ms = q.getColumn(13).getInt64();
  if (!q.getColumn(14).isNull()) r.exit_code = q.getColumn(14).getInt();
  r.signal = Str(q.getColumn(15));
  if (!q.getColumn(16).isNull()) r.pid = q.getColumn(16).getInt64();
  r.boot_id = Str(q.getColumn(17));
  r.stdout_tail = Str(q.getColumn(18));
  r.stderr_tail = Str(q.getColumn(19));
  r.error_type = Str(q.getColumn(20));
  r.error_message = Str(q.getColumn(21));
  r.version = q.getColumn(22).getInt64();
  r.created_at = Time(q.getColumn(23));
  r.updated_at = Time(q.getColumn(24));
  return r;
}

}  // namespace internal

namespace {

std::optional<Run> LoadRun(StmtCache& stmts, std::string_view id) {
  SQLite::Statement& q =
      stmts.Get(std::string("SELECT ") + kRunColumns + kRunFrom + "WHERE r.id = ?");
  q.bind(1, std::string(id));
  if (!q.executeStep()) return std::nullopt;
  return RowToRun(q);
}

// The data of a run event: the job's fields plus the run's (API.md
// "Events"). Takes the JSON already built for the outbox rows.
std::string RunEventData(json job_json, const Run& run, json run_json) {
  json& d = job_json;
  d["run"] = std::move(run_json);
  d["runId"] = run.id;
  d["attempt"] = run.attempt;
  d["exitCode"] = run.exit_code ? json(*run.exit_code) : json(nullptr);
  d["stdout"] = run.stdout_tail;
  d["stderr"] = run.stderr_tail;
  d["error"] = run.error_message.empty() ? json(nullptr) : json(run.error_message);
  return d.dump();
}

// Writes the run's outbox row; returns the run's JSON for its event.
json OutboxRun(WriteTx& tx, const Job& job, const Run& run) {
  json rj = RunToJson(run);
  if (job.spec.database_sync)
    Store::OutboxAppend(tx, "run", run.id, "upsert", run.version, rj.dump());
  return rj;
}

// A job as RefreshJob left it, with its JSON (for the event that follows).
struct JobState {
  Job job;
  json json_;
};

// Recomputes a job's derived status after its runs or pause changed, bumps
// its version and writes its outbox row. Returns the job as stored.
// `row_changed`: the caller changed the job row itself (last run, pause,
// next fire); otherwise an unchanged status leaves the row as it was.
JobState RefreshJob(WriteTx& tx, const std::string& job_id, bool row_changed = true) {
  auto job = Store::JobLoad(tx.stmts, job_id);
  assert(job.has_value());
  SQLite::Statement& q = tx.stmts.Get(
      "SELECT EXISTS (SELECT 1 FROM runs WHERE job_id = ?1 AND status = 'running'), "
      "EXISTS (SELECT 1 FROM runs WHERE job_id = ?1 AND status = 'queued')");
  q.bind(1, job_id);
  q.executeStep();
  int64_t running = q.getColumn(0).getInt64();
  int64_t queued = q.getColumn(1).getInt64();
  q.reset();
  std::string status;
  if (running > 0)
    status = "running";
  else if (job->paused)
    status = "stopped";
  else if (queued > 0)
    status = "scheduled";
  else
    status = RestingStatus(*job, job->next_run_at);
  if (!row_changed && status == job->status) {
    json same = JobToJson(*job);
    return {std::move(*job), std::move(same)};
  }
  job->status = status;
  job->version++;
  job->updated_at = tx.now;
  SQLite::Statement& u =
      tx.stmts.Get("UPDATE jobs SET status = ?, version = ?, updated_at = ? WHERE id = ?");
  u.bind(1, status);
  u.bind(2, static_cast<int64_t>(job->version));
  u.bind(3, FormatTime(tx.now));
  u.bind(4, job_id);
  u.exec();
  json j = JobToJson(*job);
  if (job->spec.database_sync)
    Store::OutboxAppend(tx, "job", job->id, "upsert", job->version, j.dump());
  return {std::move(*job), std::move(j)};
}

}  // namespace

// A job's place in the dispatcher's queue (docs/lifecycle.md, "Held runs"):
// for a one-at-a-time job (overlap not "allow"), of its queued runs without a
// retry time only the first in claim order is unheld, its head; every other
// is held, out of the claim's index. For an "allow" job nothing is held.
// A few index seeks; called after every change to a job's queued runs or to
// its overlap policy.
void internal::BalanceQueue(WriteTx& tx, const std::string& job_id, const std::string& overlap) {
  if (overlap == "allow") {
    SQLite::Statement& u = tx.stmts.Get(
        "UPDATE runs SET held = 0 WHERE job_id = ? AND status = 'queued' AND held = 1");
    u.bind(1, job_id);
    u.exec();
    return;
  }
  struct Place {
    std::string id;
    int priority = 0;
    std::string queued_at;
    bool Before(const Place& o) const {
      if (priority != o.priority) return priority > o.priority;
      if (queued_at != o.queued_at) return queued_at < o.queued_at;
      return id < o.id;
    }
  };
  auto set_held = [&](const std::string& run_id, bool held) {
    SQLite::Statement& u = tx.stmts.Get("UPDATE runs SET held = ? WHERE id = ?");
    u.bind(1, held ? 1 : 0);
    u.bind(2, run_id);
    u.exec();
  };
  // The unheld runs without a retry time: the head, or several right after
  // the policy changed from "allow".
  SQLite::Statement& unheld = tx.stmts.Get(
      "SELECT id, priority, queued_at FROM runs WHERE job_id = ? AND status = 'queued' AND "
      "held = 0 AND not_before IS NULL ORDER BY priority DESC, queued_at, id");
  unheld.bind(1, job_id);
  std::optional<Place> head;
  std::vector<std::string> extra;
  while (unheld.executeStep()) {
    Place p{unheld.getColumn(0).getString(), unheld.getColumn(1).getInt(),
            unheld.getColumn(2).getString()};
    if (!head)
      head = std::move(p);
    else
      extra.push_back(std::move(p.id));
  }
  unheld.reset();
  for (const std::string& id : extra) set_held(id, true);
  SQLite::Statement& held = tx.stmts.Get(
      "SELECT id, priority, queued_at FROM runs WHERE job_id = ? AND status = 'queued' AND "
      "held = 1 ORDER BY priority DESC, queued_at, id LIMIT 1");
  held.bind(1, job_id);
  std::optional<Place> next;
  if (held.executeStep())
    next = Place{held.getColumn(0).getString(), held.getColumn(1).getInt(),
                 held.getColumn(2).getString()};
  held.reset();
  if (!next) return;
  if (!head) {
    set_held(next->id, false);  // the head left the queue: the next moves up
  } else if (next->Before(*head)) {
    set_held(head->id, true);  // a run queued later outranks the head
    set_held(next->id, false);
  }
}

namespace {

Run InsertRun(WriteTx& tx, const Job& job, const std::string& trigger,
              std::optional<SysTime> scheduled_for, int attempt, const std::string& first_run_id,
              std::optional<SysTime> not_before) {
  Run r;
  r.id = NewUuidV7(tx.now);
  r.job_id = job.id;
  r.job_name = job.spec.name;
  r.attempt = attempt;
  r.first_run_id = first_run_id;
  r.status = "queued";
  r.trigger = trigger;
  r.priority = job.spec.priority;
  r.scheduled_for = scheduled_for;
  r.queued_at = r.created_at = r.updated_at = tx.now;
  r.not_before = not_before;
  SQLite::Statement& q = tx.stmts.Get(
      "INSERT INTO runs (id, job_id, attempt, first_run_id, status, trigger, priority, "
      "scheduled_for, queued_at, not_before, created_at, updated_at, held) "
      "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, r.id);
  q.bind(2, r.job_id);
  q.bind(3, r.attempt);
  if (first_run_id.empty())
    q.bind(4);
  else
    q.bind(4, first_run_id);
  q.bind(5, trigger);
  q.bind(6, r.priority);
  BindOptTime(q, 7, scheduled_for);
  std::string now = FormatTime(tx.now);
  q.bind(8, now);
  BindOptTime(q, 9, not_before);
  q.bind(10, now);
  q.bind(11, now);
  // A one-at-a-time job's run starts held; BalanceQueue makes it the head
  // when it is first in line. A retry (not_before) is never held and moves
  // no head.
  bool held = job.spec.schedule.overlap != "allow" && !not_before;
  q.bind(12, held ? 1 : 0);
  q.exec();
  if (held) BalanceQueue(tx, job.id, job.spec.schedule.overlap);
  return r;
}

// Queues a run of `job` and writes run:queued (or run:retrying). The job row
// changes only if its status does (a busy job stays "running").
Run Enqueue(WriteTx& tx, const std::string& job_id, const std::string& trigger,
            std::optional<SysTime> scheduled_for, int attempt = 1,
            const std::string& first_run_id = "", std::optional<SysTime> not_before = {}) {
  auto job = Store::JobLoad(tx.stmts, job_id);
  assert(job.has_value());
  Run r = InsertRun(tx, *job, trigger, scheduled_for, attempt, first_run_id, not_before);
  json rj = OutboxRun(tx, *job, r);
  JobState state = RefreshJob(tx, job_id, /*row_changed=*/false);
  Store::EventAppend(tx, trigger == "retry" ? "run:retrying" : "run:queued", job_id, r.id,
                     RunEventData(std::move(state.json_), r, std::move(rj)));
  return r;
}

int64_t RetryDelayMs(int64_t base, int attempt) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  double d = static_cast<double>(base);
  for (int i = 1; i < attempt && d < 3.6e6; ++i) d *= 2;
  d = std::min(d, 3.6e6);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return static_cast<int64_t>(d * jitter(rng));
}

// Ends a run (docs/lifecycle.md: running -> completed/failed/timeout/killed)
// and queues its retry when the policy asks.
FinishResult Finish(WriteTx& tx, Run run, const RunOutcome& o) {
  run.status = o.status;
  run.exit_code = o.exit_code;
  run.signal = o.signal;
  if (o.pid) run.pid = o.pid;
  if (o.started_at) run.started_at = o.started_at;
  run.completed_at = o.completed_at;
  run.duration_ms = o.duration_ms;
  run.stdout_tail = o.stdout_tail;
  run.stderr_tail = o.stderr_tail;
  run.error_type = o.error_type;
  run.error_message = o.error_message;
  run.version++;
  run.updated_at = tx.now;
  SQLite::Statement& q = tx.stmts.Get(
      "UPDATE runs SET status = ?, exit_code = ?, signal = ?, pid = ?, started_at = ?, "
      "completed_at = ?, duration_ms = ?, stdout_tail = ?, stderr_tail = ?, error_type = ?, "
      "error_message = ?, version = ?, updated_at = ? WHERE id = ?");
  q.bind(1, run.status);
  if (run.exit_code)
    q.bind(2, *run.exit_code);
  else
    q.bind(2);
  if (run.signal.empty())
    q.bind(3);
  else
    q.bind(3, run.signal);
  if (run.pid)
    q.bind(4, static_cast<int64_t>(*run.pid));
  else
    q.bind(4);
  BindOptTime(q, 5, run.started_at);
  BindOptTime(q, 6, run.completed_at);
  q.bind(7, static_cast<int64_t>(run.duration_ms.value_or(0)));
  q.bindNoCopy(8, run.stdout_tail);
  q.bindNoCopy(9, run.stderr_tail);
  if (run.error_type.empty())
    q.bind(10);
  else
    q.bind(10, run.error_type);
  if (run.error_message.empty())
    q.bind(11);
  else
    q.bind(11, run.error_message);
  q.bind(12, static_cast<int64_t>(run.version));
  q.bind(13, FormatTime(tx.now));
  q.bind(14, run.id);
  q.exec();
  SQLite::Statement& last = tx.stmts.Get("UPDATE jobs SET last_run_id = ? WHERE id = ?");
  last.bind(1, run.id);
  last.bind(2, run.job_id);
  last.exec();
  JobState state = RefreshJob(tx, run.job_id);
  const Job& job = state.job;
  json rj = OutboxRun(tx, job, run);
  const char* type = run.status == "completed" ? "job:completed"
                     : run.status == "killed"  ? "job:stopped"
                                               : "job:failed";
  Store::EventAppend(tx, type, job.id, run.id,
                     RunEventData(std::move(state.json_), run, std::move(rj)));
  FinishResult result{run, std::nullopt};
  bool failed = run.status == "failed" || run.status == "timeout";
  if (failed && o.retryable && !job.paused && run.attempt <= job.spec.max_retries) {
    SysTime not_before =
        tx.now + std::chrono::milliseconds(RetryDelayMs(job.spec.retry_delay_ms, run.attempt));
    std::string first = run.first_run_id.empty() ? run.id : run.first_run_id;
    result.retry =
        Enqueue(tx, job.id, "retry", run.scheduled_for, run.attempt + 1, first, not_before);
  }
  return result;
}

template <typename T>
Result<T> Unwrap(const Status& st, std::optional<Result<T>>& out) {
  if (!st.ok() && !(out && !out->ok())) return st.error();
  assert(out.has_value());
  return std::move(*out);
}

}  // namespace

Result<Run> Store::RunEnqueue(std::string_view job_id_or_name, const std::string& trigger) {
  std::optional<Result<Run>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    auto job = JobLoad(tx.stmts, job_id_or_name);
    if (!job) {
      out = Error::NotFound("Job not found", "job_not_found");
      return Status::Ok();
    }
    out = Enqueue(tx, job->id, trigger, std::nullopt);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

Result<TriggerOutcome> Store::RunTrigger(std::string_view job_id_or_name,
                                         const IdempotentCreate* idem) {
  std::optional<Result<TriggerOutcome>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    if (idem) {
      SQLite::Statement& q =
          tx.stmts.Get("SELECT route, request_hash, response FROM idempotency_keys WHERE key = ?");
      q.bind(1, idem->key);
      if (q.executeStep()) {
        if (q.getColumn(0).getString() != idem->route ||
            q.getColumn(1).getString() != idem->request_hash) {
          out = Error::Conflict(
              "Idempotency-Key '" + idem->key +
                  "' was already used with a different request; use a new key for a new request",
              "idempotency_key_reused");
          return Status::Ok();
        }
        TriggerOutcome o;
        o.replayed = true;
        o.run_json = q.getColumn(2).getString();
        json stored = json::parse(o.run_json, nullptr, false);
        if (stored.is_object()) {
          o.run.id = stored.value("id", "");
          o.run.job_id = stored.value("jobId", "");
        }
        out = std::move(o);
        return Status::Ok();
      }
    }
    auto job = JobLoad(tx.stmts, job_id_or_name);
    if (!job) {
      out = Error::NotFound("Job not found", "job_not_found");
      return Status::Ok();
    }
    TriggerOutcome o;
    o.run = Enqueue(tx, job->id, "manual", std::nullopt);
    o.run_json = RunToJson(o.run).dump();
    if (idem) {
      SQLite::Statement& ins = tx.stmts.Get(
          "INSERT INTO idempotency_keys (key, route, request_hash, status_code, response, "
          "created_at) VALUES (?, ?, ?, 200, ?, ?)");
      ins.bind(1, idem->key);
      ins.bind(2, idem->route);
      ins.bind(3, idem->request_hash);
      ins.bindNoCopy(4, o.run_json);
      ins.bind(5, FormatTime(tx.now));
      ins.exec();
    }
    out = std::move(o);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

Result<std::vector<ClaimedRun>> Store::RunClaim(const std::string& boot_id, int limit) {
  std::optional<Result<std::vector<ClaimedRun>>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    std::string now = FormatTime(tx.now);
    SQLite::Statement& q =
        tx.stmts.Get(std::string("SELECT ") + kRunColumns + ", j.overlap_policy" +
                     " FROM runs r INDEXED BY runs_queue JOIN jobs j ON j.id = r.job_id "
                     "WHERE r.status = 'queued' AND r.held = 0 "
                     "AND (r.not_before IS NULL OR r.not_before <= ?1) "
                     "AND (j.overlap_policy = 'allow' OR NOT EXISTS (SELECT 1 FROM runs x WHERE "
                     "x.job_id = r.job_id AND x.status = 'running')) "
                     "ORDER BY r.priority DESC, r.queued_at, r.id LIMIT ?2");
    q.bind(1, now);
    q.bind(2, limit * 4);  // room for runs skipped as a second run of one job
    std::vector<Run> picked;
    // Jobs that may run one at a time, with their overlap policy.
    std::vector<std::pair<std::string, std::string>> single_jobs;
    while (q.executeStep() && static_cast<int>(picked.size()) < limit) {
      Run r = RowToRun(q);
      std::string overlap = q.getColumn(25).getString();
      if (overlap != "allow") {
        if (std::find_if(single_jobs.begin(), single_jobs.end(),
                         [&](const auto& s) { return s.first == r.job_id; }) != single_jobs.end())
          continue;
        single_jobs.emplace_back(r.job_id, std::move(overlap));
      }
      picked.push_back(std::move(r));
    }
    q.reset();
    std::vector<ClaimedRun> claimed;
    for (Run& r : picked) {
      r.status = "running";
      r.started_at = tx.now;
      r.boot_id = boot_id;
      r.version++;
      r.updated_at = tx.now;
      SQLite::Statement& u = tx.stmts.Get(
          "UPDATE runs SET status = 'running', started_at = ?, boot_id = ?, version = ?, "
          "updated_at = ? WHERE id = ?");
      u.bind(1, now);
      u.bind(2, boot_id);
      u.bind(3, static_cast<int64_t>(r.version));
      u.bind(4, now);
      u.bind(5, r.id);
      u.exec();
      SQLite::Statement& last = tx.stmts.Get("UPDATE jobs SET last_run_id = ? WHERE id = ?");
      last.bind(1, r.id);
      last.bind(2, r.job_id);
      last.exec();
      JobState state = RefreshJob(tx, r.job_id);
      json rj = OutboxRun(tx, state.job, r);
      EventAppend(tx, "job:started", r.job_id, r.id,
                  RunEventData(std::move(state.json_), r, std::move(rj)));
      claimed.push_back({r, std::move(state.job.spec)});
    }
    // The next run of each one-at-a-time job moves up to be its head.
    for (const auto& [job_id, overlap] : single_jobs) BalanceQueue(tx, job_id, overlap);
    out = std::move(claimed);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

void Store::RunSetPids(std::vector<std::pair<std::string, int64_t>> pids) {
  (void)writer_.Submit([pids = std::move(pids)](WriteTx& tx) -> Status {
    for (const auto& [run_id, pid] : pids) {
      SQLite::Statement& u = tx.stmts.Get(
          "UPDATE runs SET pid = ?, version = version + 1, updated_at = ? WHERE id = ? AND "
          "status = 'running'");
      u.bind(1, pid);
      u.bind(2, FormatTime(tx.now));
      u.bind(3, run_id);
      if (u.exec() == 0) continue;
      auto run = LoadRun(tx.stmts, run_id);
      auto job = JobLoad(tx.stmts, run->job_id);
      OutboxRun(tx, *job, *run);
    }
    return Status::Ok();
  });
}

Result<FinishResult> Store::RunFinish(const std::string& run_id, const RunOutcome& outcome) {
  std::optional<Result<FinishResult>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    auto run = LoadRun(tx.stmts, run_id);
    if (!run) {
      out = Error::NotFound("run " + run_id + " no longer exists (its job was deleted)",
                            "run_not_found");
      return Status::Ok();
    }
    if (run->status != "running" && run->status != "queued") {
      out = Error::Conflict("run " + run_id + " already ended as " + run->status, "run_ended");
      return Status::Ok();
    }
    out = Finish(tx, *run, outcome);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

Result<std::vector<AbandonedRun>> Store::RunRecoverAbandoned(const std::string& boot_id) {
  std::optional<Result<std::vector<AbandonedRun>>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q =
        tx.stmts.Get(std::string("SELECT ") + kRunColumns + kRunFrom +
                     "WHERE r.status = 'running' AND (r.boot_id IS NULL OR r.boot_id != ?)");
    q.bind(1, boot_id);
    std::vector<Run> runs;
    while (q.executeStep()) runs.push_back(RowToRun(q));
    q.reset();
    std::vector<AbandonedRun> found;
    for (const Run& r : runs) {
      RunOutcome o;
      o.status = "failed";
      o.completed_at = tx.now;
      o.duration_ms =
          r.started_at
              ? std::chrono::duration_cast<std::chrono::milliseconds>(tx.now - *r.started_at)
                    .count()
              : 0;
      o.error_type = "abandoned";
      o.error_message = "the daemon stopped (boot " + r.boot_id +
                        ") while this run was running; its process group was killed";
      o.stdout_tail = r.stdout_tail;
      o.stderr_tail = r.stderr_tail;
      Finish(tx, r, o);
      found.push_back({r.id, r.job_id, r.pid});
    }
    out = std::move(found);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

Result<Run> Store::RunGet(std::string_view run_id) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    auto run = LoadRun(lease->stmts(), run_id);
    if (!run) return Error::NotFound("Run not found", "run_not_found");
    return std::move(*run);
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<RunPage> Store::RunList(const RunFilter& f) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    std::string sql = std::string("SELECT ") + kRunColumns + kRunFrom + "WHERE r.job_id = :job";
    if (!f.status.empty()) sql += " AND r.status = :status";
    if (!f.cursor.empty()) sql += " AND r.id < :cursor";
    sql += " ORDER BY r.id DESC LIMIT :limit";
    SQLite::Statement& q = lease->stmts().Get(sql);
    q.bind(":job", f.job_id);
    if (!f.status.empty()) q.bind(":status", f.status);
    if (!f.cursor.empty()) q.bind(":cursor", f.cursor);
    q.bind(":limit", f.limit + 1);
    RunPage page;
    while (q.executeStep()) page.runs.push_back(RowToRun(q));
    if (static_cast<int>(page.runs.size()) > f.limit) {
      page.runs.pop_back();
      page.next_cursor = page.runs.back().id;
    }
    return page;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::optional<SysTime>> Store::RunNextRetryTime() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(
        "SELECT min(not_before) FROM runs INDEXED BY runs_retry WHERE status = 'queued' AND "
        "not_before IS NOT NULL");
    q.executeStep();
    return OptTime(q.getColumn(0));
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<Store::StopResult> Store::JobStop(std::string_view id_or_name) {
  std::optional<Result<StopResult>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    auto job = JobLoad(tx.stmts, id_or_name);
    if (!job) {
      out = Error::NotFound("Job not found", "job_not_found");
      return Status::Ok();
    }
    SQLite::Statement& p = tx.stmts.Get("UPDATE jobs SET paused = 1 WHERE id = ?");
    p.bind(1, job->id);
    p.exec();
    // Queued runs never start (queued -> killed).
    SQLite::Statement& q = tx.stmts.Get(std::string("SELECT ") + kRunColumns + kRunFrom +
                                        "WHERE r.job_id = ? AND (r.status = 'queued' OR "
                                        "r.status = 'running')");
    q.bind(1, job->id);
    std::vector<Run> queued;
    StopResult result;
    while (q.executeStep()) {
      Run r = RowToRun(q);
      if (r.status == "running")
        result.running_run_ids.push_back(r.id);
      else
        queued.push_back(std::move(r));
    }
    q.reset();
    for (Run& r : queued) {
      r.status = "killed";
      r.completed_at = tx.now;
      r.error_type = "cancelled";
      r.error_message = "the job was stopped before this run started";
      r.version++;
      SQLite::Statement& u = tx.stmts.Get(
          "UPDATE runs SET status = 'killed', completed_at = ?, error_type = ?, "
          "error_message = ?, version = ?, updated_at = ? WHERE id = ?");
      u.bind(1, FormatTime(tx.now));
      u.bind(2, r.error_type);
      u.bind(3, r.error_message);
      u.bind(4, static_cast<int64_t>(r.version));
      u.bind(5, FormatTime(tx.now));
      u.bind(6, r.id);
      u.exec();
      OutboxRun(tx, *job, r);
    }
    JobState state = RefreshJob(tx, job->id);
    result.job = std::move(state.job);
    json data = std::move(state.json_);
    data["cancelledRuns"] = queued.size();
    data["runningRuns"] = result.running_run_ids;
    EventAppend(tx, "job:stopped", job->id, "", data.dump());
    out = std::move(result);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

Result<std::pair<Job, std::optional<Run>>> Store::JobStart(
    std::string_view id_or_name,
    const std::function<std::optional<SysTime>(const Job&)>& next_run) {
  std::optional<Result<std::pair<Job, std::optional<Run>>>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    auto job = JobLoad(tx.stmts, id_or_name);
    if (!job) {
      out = Error::NotFound("Job not found", "job_not_found");
      return Status::Ok();
    }
    std::optional<SysTime> next = next_run(*job);
    SQLite::Statement& p = tx.stmts.Get("UPDATE jobs SET paused = 0, next_run_at = ? WHERE id = ?");
    BindOptTime(p, 1, next);
    p.bind(2, job->id);
    p.exec();
    std::optional<Run> run;
    if (job->spec.schedule.kind == ScheduleKind::kNone)
      run = Enqueue(tx, job->id, "manual", std::nullopt);
    JobState state = RefreshJob(tx, job->id);
    EventAppend(tx, "job:updated", job->id, "", state.json_.dump());
    out = std::make_pair(std::move(state.job), run);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

Result<std::vector<Job>> Store::ScheduleDue(SysTime now, int limit) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(
        std::string("SELECT ") + kJobColumns + kJobFrom +
        "WHERE j.paused = 0 AND j.next_run_at IS NOT NULL AND j.next_run_at <= ? "
        "ORDER BY j.next_run_at LIMIT ?");
    q.bind(1, FormatTime(now));
    q.bind(2, limit);
    std::vector<Job> jobs;
    while (q.executeStep()) jobs.push_back(RowToJob(q));
    return jobs;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::optional<SysTime>> Store::ScheduleNextFire() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q = lease->stmts().Get(
        "SELECT min(next_run_at) FROM jobs WHERE paused = 0 AND next_run_at IS NOT NULL");
    q.executeStep();
    return OptTime(q.getColumn(0));
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<FireResult> Store::ScheduleFire(const std::string& job_id, const FirePlan& plan) {
  std::optional<Result<FireResult>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    FireResult result;
    auto job = JobLoad(tx.stmts, job_id);
    if (!job || job->paused || job->next_run_at != plan.expected_next_run) {
      out = result;  // changed meanwhile: the loop looks again
      return Status::Ok();
    }
    result.applied = true;
    SQLite::Statement& n = tx.stmts.Get("UPDATE jobs SET next_run_at = ? WHERE id = ?");
    BindOptTime(n, 1, plan.new_next_run);
    n.bind(2, job_id);
    n.exec();
    std::optional<json> missed = plan.missed;
    bool skip_overlap =
        job->spec.schedule.overlap == "skip" && ActiveRunCount(tx.stmts, job_id) > 0;
    if (skip_overlap) {
      if (!missed) missed = json::object();
      (*missed)["reason"] = missed->contains("missed") ? "downtime_and_overlap" : "overlap";
      (*missed)["overlapSkipped"] = true;
      if (plan.on_time_fire) (*missed)["skippedFire"] = FormatTime(*plan.on_time_fire);
    } else {
      for (SysTime t : plan.catchup_fires) result.runs.push_back(Enqueue(tx, job_id, "catchup", t));
      if (plan.on_time_fire)
        result.runs.push_back(Enqueue(tx, job_id, "schedule", plan.on_time_fire));
    }
    JobState state = RefreshJob(tx, job_id);
    if (missed) {
      json data = std::move(state.json_);
      data["misfire"] = *missed;
      data["runsCreated"] = result.runs.size();
      EventAppend(tx, "schedule:missed", job_id, "", data.dump());
    }
    out = std::move(result);
    return Status::Ok();
  });
  return Unwrap(st, out);
}

}  // namespace lsh::store
