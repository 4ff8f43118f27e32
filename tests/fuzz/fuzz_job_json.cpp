// Fuzz target: job create and PATCH bodies (src/http/job_request.h), the
// validation behind POST /jobs, PATCH /jobs/:id and POST /jobs/bulk.
// Invariants: never crashes or throws, whatever the JSON; an accepted create
// body, rendered as the job (core/json.h JobToJson) and sent back, is
// accepted again and means the same job (a fetched job can be sent back);
// a refused body's error is Invalid with a message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "http/job_request.h"

namespace {

void Check(bool cond, const char* what, const nlohmann::json& body) {
  if (cond) return;
  std::fprintf(stderr, "%s: %s\n", what, body.dump(-1, ' ', true).c_str());
  std::abort();
}

void CheckRefusal(const lsh::Error& e, const nlohmann::json& body) {
  Check(e.kind == lsh::ErrorKind::kInvalid && !e.message.empty(),
        "a refusal must be Invalid with a message", body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json body = nlohmann::json::parse(data, data + size, nullptr, false);
  if (body.is_discarded()) return 0;

  auto spec = lsh::http::JobSpecFromJson(body);
  if (!spec) {
    CheckRefusal(spec.error(), body);
  } else {
    lsh::Job job;
    job.id = "0190b5a4-0000-7000-8000-000000000000";
    job.spec = *spec;
    nlohmann::json out = lsh::JobToJson(job);
    auto again = lsh::http::JobSpecFromJson(out);
    Check(again.ok(), "a job rendered as JSON must be accepted back", body);
    lsh::Job job2 = job;
    job2.spec = *again;
    Check(lsh::JobToJson(job2) == out, "a job sent back must mean the same job", body);
  }

  lsh::JobSpec current;
  current.name = "current";
  current.command = "true";
  current.schedule.kind = lsh::ScheduleKind::kInterval;
  current.schedule.interval_ms = 60000;
  auto patched = lsh::http::JobSpecPatch(current, body);
  if (!patched) CheckRefusal(patched.error(), body);
  return 0;
}
