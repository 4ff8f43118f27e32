// Helpers shared by the store's source files (store.cpp, runs.cpp): row
// mapping and binding. Private to src/store/.
//
// Thread-safety: pure functions over a statement the caller owns.
#pragma once

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <optional>
#include <string>

#include "core/error.h"
#include "core/types.h"
#include "store/stmt_cache.h"

namespace lsh::store {
struct WriteTx;
}

namespace lsh::store::internal {

inline constexpr const char* kJobColumns =
    "j.id, j.name, j.command, j.type, j.description, j.tags, j.priority, j.timeout_ms, "
    "j.max_retries, j.retry_delay_ms, j.env, j.cwd, j.database_sync, j.schedule_kind, "
    "j.cron_expr, j.timezone, j.interval_ms, j.run_at, j.misfire_policy, j.overlap_policy, "
    "j.paused, j.next_run_at, j.status, j.version, j.created_at, j.updated_at, "
    "r.id, r.status, r.exit_code, r.started_at, r.completed_at, r.duration_ms";
inline constexpr const char* kJobFrom = " FROM jobs j LEFT JOIN runs r ON r.id = j.last_run_id ";
// The spec's columns, bound at positions first..first+18 by BindSpec.
inline constexpr const char* kSpecColumns =
    "name, command, type, description, tags, priority, timeout_ms, max_retries, "
    "retry_delay_ms, env, cwd, database_sync, schedule_kind, cron_expr, timezone, interval_ms, "
    "run_at, misfire_policy, overlap_policy";
inline constexpr int kSpecColumnCount = 19;
// A run with its job's name, as RowToRun reads it (src/store/runs.cpp).
extern const char* const kRunColumns;
extern const char* const kRunFrom;

std::optional<SysTime> OptTime(const SQLite::Column& c);
SysTime Time(const SQLite::Column& c);
Job RowToJob(SQLite::Statement& q);        // columns in kJobColumns order
Run RowToRun(SQLite::Statement& q);        // columns in kRunColumns order
std::string Str(const SQLite::Column& c);  // "" for NULL
void BindOptTime(SQLite::Statement& q, int i, const std::optional<SysTime>& t);
void BindSpec(SQLite::Statement& q, int first, const JobSpec& s);
// The status a job rests in when no run is active (docs/lifecycle.md).
std::string RestingStatus(const Job& j, const std::optional<SysTime>& next_run);
bool IsConstraint(const SQLite::Exception& e);
Error ReadError(const std::exception& e);
int64_t ActiveRunCount(StmtCache& stmts, const std::string& job_id);
// Holds a one-at-a-time job's queued runs behind its head, or releases them
// all for an "allow" job (src/store/runs.cpp; docs/lifecycle.md, "Held runs").
void BalanceQueue(WriteTx& tx, const std::string& job_id, const std::string& overlap);

}  // namespace lsh::store::internal
