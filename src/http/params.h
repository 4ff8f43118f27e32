// Query parameters shared by the routes: limits, flags, URL encoding.
//
// Thread-safety: pure functions.
#pragma once

#include <httplib.h>

#include <string>

#include "core/error.h"

namespace lsh::http {

// ?limit= as a whole number 1..max (def when absent); 400 naming "limit".
Result<int> LimitParam(const httplib::Request& req, int def, int max);
// ?name, ?name=1|true|yes -> true.
bool TrueParam(const httplib::Request& req, const char* name);
std::string UrlEncode(const std::string& s);

}  // namespace lsh::http
