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

namespace lsh {

std::string FormatTime(SysTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)" (also a space or 't' for T,
// 'z' for Z). Returns nullopt for anything else.
std::optional<SysTime> ParseTime(std::string_view text);
inline long long ToMillis(SysTime t) { return t.time_since_epoch().count(); }
inline SysTime FromMillis(long long ms) { return SysTime(std::chrono::milliseconds(ms)); }

}  // namespace lsh
