// The plain types of lshd: a Job (a named command with an optional
// schedule), its Runs (one execution attempt each) and Events (the durable
// log of every change). docs/lifecycle.md draws the states and transitions.
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace lsh {

enum class ScheduleKind { kNone, kCron, kInterval, kAt };
const char* ToString(ScheduleKind k);

// What to do with fires missed while the daemon was down (promise 5).
inline constexpr const char* kMisfirePolicies[] = {"run_once", "skip", "run_all"};
// What a fire or trigger does when the job already has an active run.
inline constexpr const char* kOverlapPolicies[] = {"skip", "queue", "allow"};
inline constexpr const char* kJobTypes[] = {"shell",   "system", "scheduled",
                                            "service", "ml",     "data-pipeline"};
inline constexpr const char* kJobStatuses[] = {"created", "scheduled", "running",
                                               "stopped", "completed", "failed"};
inline constexpr const char* kRunStatuses[] = {"queued", "running", "completed",
                                               "failed", "killed",  "timeout"};

struct Schedule {
  ScheduleKind kind = ScheduleKind::kNone;
  std::string cron;              // kCron: the expression as given
  std::string timezone = "UTC";  // kCron: IANA zone
  int64_t interval_ms = 0;       // kInterval
  std::optional<SysTime> at;     // kAt
  std::string misfire = "run_once";
  std::string overlap = "skip";
};

// Everything a client sets on a job (the create body).
struct JobSpec {
  std::string name;
  std::string command;
  std::string type = "shell";
  std::string description;
  std::vector<std::string> tags;
  int priority = 5;                   // 0..100, higher runs first
  std::optional<int64_t> timeout_ms;  // unset: LSH_JOB_TIMEOUT
  int max_retries = 0;
  int64_t retry_delay_ms = 1000;
  std::map<std::string, std::string> env;
  std::string cwd;            // empty: the daemon's data directory
  bool database_sync = true;  // replicate this job to the sink
  Schedule schedule;
};

struct RunSummary {
  std::string id;
  std::string status;
  std::optional<int> exit_code;
  std::optional<SysTime> started_at;
  std::optional<SysTime> completed_at;
  std::optional<int64_t> duration_ms;
};

struct Job {
  std::string id;  // UUIDv7
  JobSpec spec;
  std::string status = "created";
  bool paused = false;  // stopped by /stop; /start clears it
  std::optional<SysTime> next_run_at;
  int64_t version = 1;  // bumps on every change; the relay keeps the newest
  SysTime created_at{};
  SysTime updated_at{};
  std::optional<RunSummary> last_run;
};

struct Run {
  std::string id;
  std::string job_id;
  std::string job_name;
  int attempt = 1;
  std::string first_run_id;  // the first attempt of a retried chain; empty on it
  std::string status = "queued";
  std::string trigger = "manual";  // schedule, manual, retry, catchup
  int priority = 5;
  std::optional<SysTime> scheduled_for;
  SysTime queued_at{};
  std::optional<SysTime> not_before;  // retries wait until then
  std::optional<SysTime> started_at;
  std::optional<SysTime> completed_at;
  std::optional<int64_t> duration_ms;
  std::optional<int> exit_code;
  std::string signal;
  std::optional<int64_t> pid;
  std::string boot_id;
  std::string stdout_tail;
  std::string stderr_tail;
  std::string error_type;
  std::string error_message;
  int64_t version = 1;
  SysTime created_at{};
  SysTime updated_at{};
};

struct Event {
  int64_t id = 0;
  std::string type;  // job:created, run:queued, …
  std::string job_id;
  std::string run_id;
  std::string data;  // JSON text
  SysTime created_at{};
};

}  // namespace lsh
