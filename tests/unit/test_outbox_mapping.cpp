// The one mapping from local rows to remote rows (src/outbox/mapping.h),
// from the same JSON the outbox carries (core/json.h).
#include <catch2/catch.hpp>
#include <set>

#include "core/json.h"
#include "core/time.h"
#include "outbox/mapping.h"

using namespace lsh;
using nlohmann::json;

namespace {

Job SampleJob() {
  Job j;
  j.id = "0194a0b0-0000-7000-8000-000000000001";
  j.spec.name = "nightly";
  j.spec.command = "etl";
  j.spec.type = "data-pipeline";
  j.spec.tags = {"x", "y"};
  j.spec.env = {{"A", "1"}};
  j.spec.timeout_ms = 1;
  j.spec.retry_delay_ms = 60000;
  j.spec.schedule.kind = ScheduleKind::kCron;
  j.spec.schedule.cron = "0 3 * * *";
  j.next_run_at = *ParseTime("2026-11-29T02:00:00.000Z");
  j.version = 4;
  j.created_at = j.updated_at = *ParseTime("2026-11-28T12:00:00.000Z");
  return j;
}

std::set<std::string> Keys(const json& row) {
  std::set<std::string> k;
  for (auto& [key, v] : row.items()) k.insert(key);
  return k;
}

std::set<std::string> Columns(const outbox::RemoteTable& t) {
  std::set<std::string> k;
  for (auto& [name, type] : t.columns) k.insert(name);
  return k;
}

}  // namespace

TEST_CASE("A job maps to an lsh_jobs row with every column", "[outbox][unit]") {
  Job j = SampleJob();
  json row = outbox::RemoteJob(JobToJson(j), false);
  CHECK(Keys(row) == Columns(outbox::JobsTable()));
  CHECK(row["status"] == "active");
  CHECK(row["cron_expression"] == "0 3 * * *");
  CHECK(row["interval_seconds"].is_null());
  CHECK(row["next_run"] == "2026-11-29T02:00:00.000Z");
  CHECK(row["timeout_seconds"] == 1);  // 1 ms rounds up to a second, never 0
  CHECK(row["retry_delay_seconds"] == 60);
  CHECK(row["tags"] == json({"x", "y"}));
  CHECK(row["environment"] == json({{"A", "1"}}));
  CHECK(row["working_directory"].is_null());
  CHECK(row["version"] == 4);
  CHECK(row["type"] == "data-pipeline");

  j.paused = true;
  j.status = "stopped";
  j.spec.schedule.kind = ScheduleKind::kInterval;
  j.spec.schedule.interval_ms = 90500;
  row = outbox::RemoteJob(JobToJson(j), false);
  CHECK(row["status"] == "paused");
  CHECK(row["cron_expression"].is_null());
  CHECK(row["interval_seconds"] == 91);

  row = outbox::RemoteJob(JobToJson(j), true);
  CHECK(row["status"] == "archived");
  CHECK(row["job_name"] == "nightly [deleted " + j.id + "]");
  CHECK(Keys(row) == Columns(outbox::JobsTable()));
}

TEST_CASE("A run maps to an lsh_job_executions row and abandoned stays failed", "[outbox][unit]") {
  Run r;
  r.id = "0194a0b0-0000-7000-8000-0000000000aa";
  r.job_id = "0194a0b0-0000-7000-8000-000000000001";
  r.job_name = "nightly";
  r.attempt = 3;
  r.first_run_id = "0194a0b0-0000-7000-8000-0000000000a1";
  r.status = "failed";
  r.trigger = "retry";
  r.error_type = "abandoned";
  r.error_message = "the daemon stopped while it ran";
  r.version = 5;
  json row = outbox::RemoteRun(RunToJson(r), "host-1");
  CHECK(Keys(row) == Columns(outbox::ExecutionsTable()));
  CHECK(row["status"] == "failed");
  CHECK(row["error_type"] == "abandoned");
  CHECK(row["execution_id"] == r.id);
  CHECK(row["job_id"] == r.job_id);
  CHECK(row["retry_count"] == 2);
  CHECK(row["triggered_by"] == "retry");
  CHECK(row["hostname"] == "host-1");
  CHECK(row["metadata"]["firstRunId"] == r.first_run_id);
  CHECK(row["version"] == 5);
  r.error_type.clear();
  r.error_message.clear();
  r.status = "completed";
  row = outbox::RemoteRun(RunToJson(r), "h");
  CHECK(row["error_type"].is_null());
  CHECK(row["status"] == "completed");
}

TEST_CASE("Events of jobs kept out of replication are not replicated", "[outbox][unit]") {
  Job j = SampleJob();
  Event e;
  e.id = 7;
  e.type = "job:created";
  e.job_id = j.id;
  e.data = JobToJson(j).dump();
  CHECK(outbox::EventReplicated(e));
  json row = outbox::RemoteEvent(e);
  CHECK(Keys(row) == Columns(outbox::EventsTable()));
  CHECK(row["data"]["name"] == "nightly");
  CHECK(row["run_id"].is_null());
  // The text path (no parse of the data) builds the same row.
  CHECK(json::parse(outbox::RemoteEventText(e)) == row);
  e.run_id = "0194a0b0-0000-7000-8000-0000000000aa";
  CHECK(json::parse(outbox::RemoteEventText(e)) == outbox::RemoteEvent(e));
  CHECK(outbox::JoinArray({"1", "{}"}) == "[1,{}]");
  CHECK(outbox::JoinArray({}) == "[]");
  j.spec.database_sync = false;
  e.data = JobToJson(j).dump();
  CHECK(!outbox::EventReplicated(e));
  e.type = "outbox:stalled";
  e.job_id.clear();
  e.data = R"({"sink":"postgres"})";
  CHECK(outbox::EventReplicated(e));
}
