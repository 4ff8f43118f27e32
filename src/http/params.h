// Query parameters shared by the routes: limits, flags, URL encoding.
//
// Thread-safety: pure functions.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lsh::http {

// ?limit= as a whole number 1..max (def when absent); 400 naming "limit".
Result<int> LimitParam(const httplib::Request& req, int def, int max);
// ?name, ?name=1|true|yes -> true.
bool TrueParam(const httplib::Request& req, const char* name);
std::string UrlEncode(const std::string& s);
// An event cursor, the value of Last-Event-ID or ?since= (API.md "Events"):
// an event id, 1 to 18 digits (so it fits int64). The error names `field`.
Result<int64_t> ParseEventCursor(std::string_view value, const std::string& field);

}  // namespace lsh::http
