// The one JSON mapping of Job and Run: the HTTP responses, the event
// payloads and the outbox payloads all use these functions, so a client, the
// event log and the relay see the same shape (API.md "Jobs" and "Running").
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace lsh {

nlohmann::json JobToJson(const Job& job);
nlohmann::json RunToJson(const Run& run);
nlohmann::json TimeOrNull(const std::optional<SysTime>& t);

}  // namespace lsh
