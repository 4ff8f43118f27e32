// Mapping: the one translation from lshd's rows (the API JSON an outbox row
// carries, core/json.h) to the remote rows of the Supabase tables the mcli
// dashboard reads (API.md "Replication target"), shared by both sinks.
//
//   job  -> lsh_jobs            status active | paused (stopped) | archived
//                               (deleted); cron_expression or interval_seconds
//   run  -> lsh_job_executions  execution_id = the run id; an abandoned run is
//                               failed with error_type "abandoned" (as stored)
//   event-> lsh_events          id, type, job_id, run_id, data, created_at
//
// Every remote row carries `version` (the local version) so the remote side
// keeps the newest (migrations/supabase/). Each table's rows have the same
// keys in the same order (PostgREST's `columns=` and json_to_recordset need
// uniform keys).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace lsh::outbox {

// A remote table: its name and its columns with their Postgres types, in the
// order the mapping writes them.
struct RemoteTable {
  const char* name;
  std::vector<std::pair<const char*, const char*>> columns;  // name, type
};
const RemoteTable& JobsTable();        // lsh_jobs
const RemoteTable& ExecutionsTable();  // lsh_job_executions
const RemoteTable& EventsTable();      // lsh_events

// A job's payload (JobToJson) -> an lsh_jobs row. `deleted`: the outbox op
// was "delete"; the row is kept remotely as archived, and its job_name gets a
// " [deleted <id>]" suffix so the unique name is free for a new job.
nlohmann::json RemoteJob(const nlohmann::json& payload, bool deleted);
// A run's payload (RunToJson) -> an lsh_job_executions row; `hostname` is the
// daemon's host.
nlohmann::json RemoteRun(const nlohmann::json& payload, const std::string& hostname);
// A JSON array of rows as text (invalid UTF-8 in output tails replaced).
std::string Dump(const std::vector<nlohmann::json>& rows);
// An event -> an lsh_events row.
nlohmann::json RemoteEvent(const Event& event);
// The same row as JSON text, built without parsing the event's data (lshd
// wrote it as JSON): the cheap path for following the log.
std::string RemoteEventText(const Event& event);
// "[row,row,…]" from rows that are JSON text.
std::string JoinArray(const std::vector<std::string>& rows);
// False for events of a job kept out of replication (databaseSync false).
bool EventReplicated(const Event& event);

}  // namespace lsh::outbox
