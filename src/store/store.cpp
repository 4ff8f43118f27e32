#include "store/store.h"

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include "core/ids.h"
#include "core/json.h"
#include "core/time.h"
#include "store/migrations.h"
#include "store/store_internal.h"
#include "store/webhooks.h"

namespace lsh::store {

using nlohmann::json;

namespace internal {

std::optional<SysTime> OptTime(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return ParseTime(c.getString());
}
SysTime Time(const SQLite::Column& c) {
  return OptTime(c).value_or(SysTime{});
}

Job RowToJob(SQLite::Statement& q) {
  Job j;
  JobSpec& s = j.spec;
  j.id = q.getColumn(0).getString();
  s.name = q.getColumn(1).getString();
  s.command = q.getColumn(2).getString();
  s.type = q.getColumn(3).getString();
  s.description = q.getColumn(4).getString();
  s.tags = json::parse(q.getColumn(5).getString()).get<std::vector<std::string>>();
  s.priority = q.getColumn(6).getInt();
  if (!q.getColumn(7).isNull()) s.timeout_ms = q.getColumn(7).getInt64();
  s.max_retries = q.getColumn(8).getInt();
  s.retry_delay_ms = q.getColumn(9).getInt64();
  json env = json::parse(q.getColumn(10).getString());
  for (auto& [k, v] : env.items()) s.env[k] = v.is_string() ? v.get<std::string>() : v.dump();
  s.cwd = q.getColumn(11).getString();
  s.database_sync = q.getColumn(12).getInt() != 0;
  std::string kind = q.getColumn(13).getString();
  Schedule& sc = s.schedule;
  if (kind == "cron") {
    sc.kind = ScheduleKind::kCron;
    sc.cron = q.getColumn(14).getString();
  } else if (kind == "interval") {
    sc.kind = ScheduleKind::kInterval;
    sc.interval_ms = q.getColumn(16).getInt64();
  } else if (kind == "at") {
    sc.kind = ScheduleKind::kAt;
    sc.at = OptTime(q.getColumn(17));
  }
  sc.timezone = q.getColumn(15).getString();
  sc.misfire = q.getColumn(18).getString();
  sc.overlap = q.getColumn(19).getString();
  j.paused = q.getColumn(20).getInt() != 0;
  j.next_run_at = OptTime(q.getColumn(21));
  j.status = q.getColumn(22).getString();
  j.version = q.getColumn(23).getInt64();
  j.created_at = Time(q.getColumn(24));
  j.updated_at = Time(q.getColumn(25));
  if (!q.getColumn(26).isNull()) {
    RunSummary r;
    r.id = q.getColumn(26).getString();
    r.status = q.getColumn(27).getString();
    if (!q.getColumn(28).isNull()) r.exit_code = q.getColumn(28).getInt();
    r.started_at = OptTime(q.getColumn(29));
    r.completed_at = OptTime(q.getColumn(30));
    if (!q.getColumn(31).isNull()) r.duration_ms = q.getColumn(31).getInt64();
    j.last_run = r;
  }
  return j;
}

void BindOptTime(SQLite::Statement& q, int i, const std::optional<SysTime>& t) {
  if (t)
    q.bind(i, FormatTime(*t));
  else
    q.bind(i);
}

void BindSpec(SQLite::Statement& q, int first, const JobSpec& s) {
  int i = first;
  q.bind(i++, s.name);
  q.bind(i++, s.command);
  q.bind(i++, s.type);
  q.bind(i++, s.description);
  q.bind(i++, json(s.tags).dump());
  q.bind(i++, s.priority);
  if (s.timeout_ms)
    q.bind(i++, static_cast<int64_t>(*s.timeout_ms));
  else
    q.bind(i++);
  q.bind(i++, s.max_retries);
  q.bind(i++, static_cast<int64_t>(s.retry_delay_ms));
  q.bind(i++, json(s.env).dump());
  q.bind(i++, s.cwd);
  q.bind(i++, s.database_sync ? 1 : 0);
  const Schedule& sc = s.schedule;
  q.bind(i++, ToString(sc.kind));
  if (sc.kind == ScheduleKind::kCron)
    q.bind(i++, sc.cron);
  else
    q.bind(i++);
  q.bind(i++, sc.timezone);
  if (sc.kind == ScheduleKind::kInterval)
    q.bind(i++, static_cast<int64_t>(sc.interval_ms));
  else
    q.bind(i++);
  BindOptTime(q, i++, sc.kind == ScheduleKind::kAt ? sc.at : std::nullopt);
  q.bind(i++, sc.misfire);
  q.bind(i++, sc.overlap);
}

// The status a job rests in when no run is active (docs/lifecycle.md).
std::string RestingStatus(const Job& j, const std::optional<SysTime>& next_run) {
  if (j.paused) return "stopped";
  if (next_run) return "scheduled";
  if (j.last_run) {
    if (j.last_run->status == "completed") return "completed";
    if (j.last_run->status != "queued" && j.last_run->status != "running") return "failed";
  }
  return "created";
}

bool IsConstraint(const SQLite::Exception& e) {
  return (e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT;
}

Error ReadError(const std::exception& e) {
  return Error::Unavailable(std::string("database read failed: ") + e.what(), "db_read_failed");
}

int64_t ActiveRunCount(StmtCache& stmts, const std::string& job_id) {  // 0, 1 or 2: kinds present
  SQLite::Statement& q = stmts.Get(
      "SELECT EXISTS (SELECT 1 FROM runs WHERE job_id = ?1 AND status = 'running') + "
      "EXISTS (SELECT 1 FROM runs WHERE job_id = ?1 AND status = 'queued')");
  q.bind(1, job_id);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

}  // namespace internal

using namespace internal;

Store::Store(Writer& writer, ReaderPool& readers, const Clock& clock)
    : writer_(writer), readers_(readers), clock_(clock) {}

std::optional<Job> Store::JobLoad(StmtCache& stmts, std::string_view id_or_name) {
  SQLite::Statement& q =
      stmts.Get(std::string("SELECT ") + kJobColumns + kJobFrom +
                "WHERE j.id = ?1 OR j.name = ?1 ORDER BY j.id = ?1 DESC LIMIT 1");
  q.bind(1, std::string(id_or_name));
  if (!q.executeStep()) return std::nullopt;
  return RowToJob(q);
}

int64_t Store::EventAppend(WriteTx& tx, const std::string& type, const std::string& job_id,
                           const std::string& run_id, const std::string& data_json) {
  SQLite::Statement& q = tx.stmts.Get(
      "INSERT INTO events (type, job_id, run_id, data, created_at) VALUES (?, ?, ?, ?, ?)");
  q.bind(1, type);
  if (job_id.empty())
    q.bind(2);
  else
    q.bind(2, job_id);
  if (run_id.empty())
    q.bind(3);
  else
    q.bind(3, run_id);
  q.bindNoCopy(4, data_json);
  q.bind(5, FormatTime(tx.now));
  q.exec();
  int64_t id = tx.db.getLastInsertRowid();
  tx.last_event_id = id;
  // Job events go to every webhook endpoint, queued in this transaction.
  if (type.size() > 4 && type.compare(0, 4, "job:") == 0) WebhookStore::QueueForEvent(tx, id);
  return id;
}

void Store::OutboxAppend(WriteTx& tx, const std::string& entity, const std::string& entity_id,
                         const std::string& op, int64_t version, const std::string& payload) {
  SQLite::Statement& q = tx.stmts.Get(
      "INSERT INTO outbox (entity, entity_id, op, version, payload, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  q.bind(1, entity);
  q.bind(2, entity_id);
  q.bind(3, op);
  q.bind(4, static_cast<int64_t>(version));
  q.bindNoCopy(5, payload);
  q.bind(6, FormatTime(tx.now));
  q.exec();
}

namespace {

// A new job's row as it will be stored; built outside the writer so its
// JSON is rendered on the caller's thread, not inside the serial writer.
Job NewJob(const JobSpec& spec, const std::optional<SysTime>& next_run, SysTime now) {
  Job job;
  job.id = NewUuidV7(now);
  job.spec = spec;
  job.created_at = job.updated_at = now;
  job.next_run_at = next_run;
  job.status = RestingStatus(job, next_run);
  return job;
}

// Inserts the job row, its job:created event and its outbox row.
Status InsertJob(WriteTx& tx, const Job& job, const std::string& json_text) {
  SQLite::Statement& q =
      tx.stmts.Get(std::string("INSERT INTO jobs (id, ") + kSpecColumns +
                   ", next_run_at, status, version, created_at, updated_at) "
                   "VALUES (?, " +
                   "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" + ", ?, ?, 1, ?, ?)");
  q.bind(1, job.id);
  BindSpec(q, 2, job.spec);
  int i = 2 + kSpecColumnCount;
  BindOptTime(q, i++, job.next_run_at);
  q.bind(i++, job.status);
  q.bind(i++, FormatTime(job.created_at));
  q.bind(i++, FormatTime(job.updated_at));
  try {
    q.exec();
  } catch (const SQLite::Exception& e) {
    if (IsConstraint(e) && std::string(e.what()).find("jobs.name") != std::string::npos)
      return Error::Conflict("a job named '" + job.spec.name + "' already exists",
                             "duplicate_name");
    throw;
  }
  if (job.spec.database_sync)
    Store::OutboxAppend(tx, "job", job.id, "upsert", job.version, json_text);
  Store::EventAppend(tx, "job:created", job.id, "", json_text);
  return Status::Ok();
}

}  // namespace

Result<CreateOutcome> Store::JobCreate(const JobSpec& spec, std::optional<SysTime> next_run_at,
                                       const IdempotentCreate* idem) {
  CreateOutcome created;
  created.job = NewJob(spec, next_run_at, clock_.Now());
  created.body = JobToJson(created.job).dump();
  std::optional<Result<CreateOutcome>> replay;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    if (idem) {
      SQLite::Statement& q = tx.stmts.Get(
          "SELECT route, request_hash, status_code, response FROM idempotency_keys WHERE key = ?");
      q.bind(1, idem->key);
      if (q.executeStep()) {
        if (q.getColumn(0).getString() != idem->route ||
            q.getColumn(1).getString() != idem->request_hash) {
          replay = Error::Conflict(
              "Idempotency-Key '" + idem->key +
                  "' was already used with a different request; use a new key for a new request",
              "idempotency_key_reused");
          return Status::Ok();
        }
        CreateOutcome o;
        o.replayed = true;
        o.status_code = q.getColumn(2).getInt();
        o.body = q.getColumn(3).getString();
        replay = std::move(o);
        return Status::Ok();
      }
    }
    if (auto s = InsertJob(tx, created.job, created.body); !s) return s;
    if (idem) {
      SQLite::Statement& ins = tx.stmts.Get(
          "INSERT INTO idempotency_keys (key, route, request_hash, status_code, response, "
          "created_at) VALUES (?, ?, ?, 201, ?, ?)");
      ins.bind(1, idem->key);
      ins.bind(2, idem->route);
      ins.bind(3, idem->request_hash);
      ins.bindNoCopy(4, created.body);
      ins.bind(5, FormatTime(tx.now));
      ins.exec();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  if (replay) return std::move(*replay);
  return created;
}

std::vector<Result<Job>> Store::JobCreateMany(
    const std::vector<std::pair<JobSpec, std::optional<SysTime>>>& specs) {
  SysTime now = clock_.Now();
  std::vector<Job> jobs;
  std::vector<std::string> bodies;
  jobs.reserve(specs.size());
  bodies.reserve(specs.size());
  for (const auto& [spec, next] : specs) {
    jobs.push_back(NewJob(spec, next, now));
    bodies.push_back(JobToJson(jobs.back()).dump());
  }
  std::vector<std::future<Status>> futures;
  futures.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    futures.push_back(writer_.Submit(
        [&, i](WriteTx& tx) -> Status { return InsertJob(tx, jobs[i], bodies[i]); }));
  }
  std::vector<Result<Job>> results;
  results.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Status st = futures[i].get();
    if (!st.ok())
      results.emplace_back(st.error());
    else
      results.emplace_back(std::move(jobs[i]));
  }
  return results;
}

Result<Job> Store::JobGet(std::string_view id_or_name) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    auto job = JobLoad(lease->stmts(), id_or_name);
    if (!job) return Error::NotFound("Job not found", "job_not_found");
    return std::move(*job);
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<JobPage> Store::JobList(const JobFilter& f) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    std::string where = " WHERE 1=1";
    if (!f.status.empty()) where += " AND j.status = :status";
    if (!f.name.empty()) where += " AND j.name LIKE :name ESCAPE '\\'";
    if (!f.tag.empty())
      where += " AND EXISTS (SELECT 1 FROM json_each(j.tags) t WHERE t.value = :tag)";
    auto bind = [&](SQLite::Statement& q) {
      if (!f.status.empty()) q.bind(":status", f.status);
      if (!f.name.empty()) {
        std::string pat = "%";
        for (char c : f.name) {
          if (c == '%' || c == '_' || c == '\\') pat.push_back('\\');
          pat.push_back(c);
        }
        pat.push_back('%');
        q.bind(":name", pat);
      }
      if (!f.tag.empty()) q.bind(":tag", f.tag);
    };
    JobPage page;
    {
      SQLite::Statement& q = lease->stmts().Get("SELECT count(*) FROM jobs j" + where);
      bind(q);
      q.executeStep();
      page.total = q.getColumn(0).getInt64();
    }
    std::string sql = std::string("SELECT ") + kJobColumns + kJobFrom + where;
    if (!f.cursor.empty()) sql += " AND j.id < :cursor";
    sql += " ORDER BY j.id DESC LIMIT :limit";
    SQLite::Statement& q = lease->stmts().Get(sql);
    bind(q);
    if (!f.cursor.empty()) q.bind(":cursor", f.cursor);
    q.bind(":limit", f.limit + 1);
    while (q.executeStep()) page.jobs.push_back(RowToJob(q));
    if (static_cast<int>(page.jobs.size()) > f.limit) {
      page.jobs.pop_back();
      page.next_cursor = page.jobs.back().id;
    }
    return page;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::vector<Job>> Store::JobListAll() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get(std::string("SELECT ") + kJobColumns + kJobFrom + "ORDER BY j.id");
    std::vector<Job> jobs;
    while (q.executeStep()) jobs.push_back(RowToJob(q));
    return jobs;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<Job> Store::JobUpdate(std::string_view id_or_name,
                             const std::function<Result<store::JobUpdate>(const Job&)>& change) {
  std::optional<Result<Job>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    auto current = JobLoad(tx.stmts, id_or_name);
    if (!current) {
      out = Error::NotFound("Job not found", "job_not_found");
      return Status::Ok();
    }
    auto upd = change(*current);
    if (!upd) {
      out = upd.error();
      return Status::Ok();
    }
    Job job = *current;
    job.spec = upd->spec;
    job.next_run_at = upd->next_run_at;
    job.version++;
    job.updated_at = tx.now;
    if (job.status != "running") job.status = RestingStatus(job, job.next_run_at);
    SQLite::Statement& q = tx.stmts.Get(std::string("UPDATE jobs SET (") + kSpecColumns +
                                        ", next_run_at, status, version, updated_at) = (" +
                                        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" +
                                        ", ?, ?, ?, ?) WHERE id = ?");
    BindSpec(q, 1, job.spec);
    int i = 1 + kSpecColumnCount;
    BindOptTime(q, i++, job.next_run_at);
    q.bind(i++, job.status);
    q.bind(i++, static_cast<int64_t>(job.version));
    q.bind(i++, FormatTime(tx.now));
    q.bind(i++, job.id);
    try {
      q.exec();
    } catch (const SQLite::Exception& e) {
      if (IsConstraint(e) && std::string(e.what()).find("jobs.name") != std::string::npos) {
        out =
            Error::Conflict("a job named '" + job.spec.name + "' already exists", "duplicate_name");
        return out->error();
      }
      throw;
    }
    if (job.spec.schedule.overlap != current->spec.schedule.overlap)
      BalanceQueue(tx, job.id, job.spec.schedule.overlap);  // hold or release its backlog
    std::string j = JobToJson(job).dump();
    bool sync = job.spec.database_sync || current->spec.database_sync;
    if (sync) OutboxAppend(tx, "job", job.id, "upsert", job.version, j);
    EventAppend(tx, "job:updated", job.id, "", j);
    out = std::move(job);
    return Status::Ok();
  });
  if (!st.ok() && !(out && !out->ok())) return st.error();
  return std::move(*out);
}

Result<Job> Store::JobDelete(std::string_view id_or_name, bool force) {
  std::optional<Result<Job>> out;
  Status st = writer_.Write([&](WriteTx& tx) -> Status {
    auto current = JobLoad(tx.stmts, id_or_name);
    if (!current) {
      out = Error::NotFound("Job not found", "job_not_found");
      return Status::Ok();
    }
    if (!force && ActiveRunCount(tx.stmts, current->id) > 0) {
      out = Error::Conflict("job '" + current->spec.name +
                                "' has an active run; stop it first or delete with ?force=true",
                            "job_active");
      return Status::Ok();
    }
    SQLite::Statement& del = tx.stmts.Get("DELETE FROM jobs WHERE id = ?");
    del.bind(1, current->id);
    del.exec();
    Job job = *current;
    job.version++;
    job.updated_at = tx.now;
    json jj = JobToJson(job);
    jj["deleted"] = true;
    std::string j = jj.dump();
    if (job.spec.database_sync) OutboxAppend(tx, "job", job.id, "delete", job.version, j);
    EventAppend(tx, "job:deleted", job.id, "", j);
    out = std::move(job);
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return std::move(*out);
}

Result<std::vector<Event>> Store::EventsAfter(int64_t after, int limit, const EventFilter& filter) {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    std::string sql =
        "SELECT id, type, coalesce(job_id, ''), coalesce(run_id, ''), data, created_at "
        "FROM events WHERE id > :after";
    if (!filter.job_id.empty()) sql += " AND job_id = :job";
    if (!filter.types.empty()) sql += " AND type IN (SELECT value FROM json_each(:types))";
    sql += " ORDER BY id LIMIT :limit";
    SQLite::Statement& q = lease->stmts().Get(sql);
    q.bind(":after", static_cast<int64_t>(after));
    if (!filter.job_id.empty()) q.bind(":job", filter.job_id);
    if (!filter.types.empty()) q.bind(":types", json(filter.types).dump());
    q.bind(":limit", limit);
    std::vector<Event> events;
    while (q.executeStep()) {
      Event e;
      e.id = q.getColumn(0).getInt64();
      e.type = q.getColumn(1).getString();
      e.job_id = q.getColumn(2).getString();
      e.run_id = q.getColumn(3).getString();
      e.data = q.getColumn(4).getString();
      e.created_at = Time(q.getColumn(5));
      events.push_back(std::move(e));
    }
    return events;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Result<std::pair<int64_t, int64_t>> Store::EventBounds() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    SQLite::Statement& q =
        lease->stmts().Get("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM events");
    q.executeStep();
    return std::make_pair(q.getColumn(0).getInt64(), q.getColumn(1).getInt64());
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

Status Store::BootRecord(const std::string& boot_id, int64_t pid, const std::string& version) {
  return writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q =
        tx.stmts.Get("INSERT INTO boots (id, pid, version, started_at) VALUES (?, ?, ?, ?)");
    q.bind(1, boot_id);
    q.bind(2, pid);
    q.bind(3, version);
    q.bind(4, FormatTime(tx.now));
    q.exec();
    return Status::Ok();
  });
}

Status Store::BootStop(const std::string& boot_id) {
  return writer_.Write([&](WriteTx& tx) -> Status {
    SQLite::Statement& q = tx.stmts.Get("UPDATE boots SET stopped_at = ? WHERE id = ?");
    q.bind(1, FormatTime(tx.now));
    q.bind(2, boot_id);
    q.exec();
    return Status::Ok();
  });
}

Status Store::Checkpoint() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    lease->db().exec("PRAGMA query_only=OFF");
    lease->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
    lease->db().exec("PRAGMA query_only=ON");
    return Status::Ok();
  } catch (const std::exception& e) {
    return Error::Unavailable(std::string("checkpoint failed: ") + e.what(), "checkpoint_failed");
  }
}

Result<StatusCounts> Store::Counts() {
  try {
    auto lease = readers_.Acquire();
    if (!lease) return lease.error();
    StmtCache& stmts = lease->stmts();
    StatusCounts c;
    {
      SQLite::Statement& q = stmts.Get("SELECT status, count(*) FROM jobs GROUP BY status");
      while (q.executeStep()) {
        c.jobs_by_status.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
        c.jobs_total += q.getColumn(1).getInt64();
      }
    }
    {
      SQLite::Statement& q = stmts.Get(
          "SELECT status, count(*) FROM runs WHERE (status = 'queued' OR status = 'running') "
          "GROUP BY status");
      while (q.executeStep()) {
        (q.getColumn(0).getString() == "queued" ? c.runs_queued : c.runs_running) =
            q.getColumn(1).getInt64();
      }
    }
    {
      SQLite::Statement& q = stmts.Get(
          "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), "
          "(SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1)");
      q.executeStep();
      c.outbox_pending = q.getColumn(0).getInt64();
      c.outbox_oldest_pending = OptTime(q.getColumn(1));
    }
    {
      SQLite::Statement& q = stmts.Get("SELECT count(*) FROM outbox WHERE state = 'parked'");
      q.executeStep();
      c.outbox_parked = q.getColumn(0).getInt64();
    }
    auto v = SchemaVersion(lease->db());
    if (v) c.schema_version = *v;
    return c;
  } catch (const std::exception& e) {
    return ReadError(e);
  }
}

}  // namespace lsh::store
