// Reading job bodies: the create and PATCH bodies of API.md "Jobs" into a
// JobSpec, with an error that names the field at fault. Fields the job
// object carries but a client cannot set (id, status, createdAt, …) are
// ignored, so a fetched job can be sent back; any other unknown field is a
// 400, so a typo ("shedule") is not silently dropped.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/types.h"

namespace lsh::http {

// A create body: name and command are required.
Result<JobSpec> JobSpecFromJson(const nlohmann::json& body);
// A PATCH body applied onto the current spec.
Result<JobSpec> JobSpecPatch(const JobSpec& current, const nlohmann::json& body);

}  // namespace lsh::http
