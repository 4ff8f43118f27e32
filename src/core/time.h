// Wall-time text at the database and JSON boundary: RFC 3339 UTC with
// milliseconds ("2026-11-28T12:00:00.000Z"), which sorts as text and reads
// well in the sqlite3 shell.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"

namespace lsh {

std::string FormatTime(SysTime t);
// Parses RFC 3339 ("2026-11-28T12:00:00Z", "…T12:00:00.123+01:00"; a space
// or 't' may stand for T, 'z' for Z; fractions past milliseconds are cut).
// An Error::Invalid names `field` and says what is wrong.
Result<SysTime> ParseRfc3339(std::string_view text, std::string_view field);
// The same, without the reason.
std::optional<SysTime> ParseTime(std::string_view text);
inline long long ToMillis(SysTime t) {
  return t.time_since_epoch().count();
}
inline SysTime FromMillis(long long ms) {
  return SysTime(std::chrono::milliseconds(ms));
}

}  // namespace lsh
