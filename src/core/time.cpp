#include "core/time.h"

#include <date/date.h>

#include <cctype>
#include <cstdio>

namespace lsh {

namespace {
// Days since 1970-01-01 -> civil date, for any int64 (H. Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "'";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax) out.append("...");
  return out + "'";
}

Error TimeError(std::string_view field, std::string_view text, std::string_view why) {
  return Error::Invalid(
      "'" + std::string(field) + "' is not an RFC 3339 timestamp " + Quote(text) + ": " +
          std::string(why) +
          " (expected e.g. 2026-11-28T12:00:00Z or 2026-11-28T12:00:00.123+01:00)",
      std::string(field));
}

}  // namespace

Result<SysTime> ParseRfc3339(std::string_view text, std::string_view field) {
  if (text.empty()) return TimeError(field, text, "it is empty");
  if (text.size() > 64) return TimeError(field, text, "it is too long");
  size_t p = 0;
  auto digits = [&](size_t n, int& out) {
    if (p + n > text.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = text[p + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    p += n;
    return true;
  };
  auto expect = [&](std::string_view chars) {
    if (p < text.size() && chars.find(text[p]) != std::string_view::npos) {
      ++p;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, year) || !expect("-") || !digits(2, month) || !expect("-") || !digits(2, day)) {
    return TimeError(field, text, "the date must be YYYY-MM-DD");
  }
  if (!expect("Tt ")) return TimeError(field, text, "expected 'T' between date and time");
  if (!digits(2, hour) || !expect(":") || !digits(2, minute) || !expect(":") ||
      !digits(2, second)) {
    return TimeError(field, text, "the time must be HH:MM:SS");
  }
  int64_t millis = 0;
  if (expect(".")) {
    size_t n = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (n < 3) millis = millis * 10 + (text[p] - '0');
      ++n;
      ++p;
    }
    if (n == 0) return TimeError(field, text, "the fraction after '.' has no digits");
    if (n > 9) return TimeError(field, text, "the fraction has more than 9 digits");
    for (size_t i = n; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  if (expect("Zz")) {
    // UTC
  } else if (p < text.size() && (text[p] == '+' || text[p] == '-')) {
    int sign = text[p] == '-' ? -1 : 1;
    ++p;
    int oh = 0, om = 0;
    if (!digits(2, oh) || !expect(":") || !digits(2, om)) {
      return TimeError(field, text, "the offset must be Z or +HH:MM / -HH:MM");
    }
    if (oh > 23 || om > 59) return TimeError(field, text, "the offset is out of range");
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return TimeError(field, text, "a time zone offset (Z or +HH:MM) is required");
  }
  if (p != text.size()) return TimeError(field, text, "unexpected text after the offset");

  if (month < 1 || month > 12) return TimeError(field, text, "month must be 01-12");
  date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                           date::day{static_cast<unsigned>(day)}};
  if (day < 1 || !ymd.ok()) return TimeError(field, text, "no such day in that month");
  if (hour > 23) return TimeError(field, text, "hour must be 00-23");
  if (minute > 59) return TimeError(field, text, "minute must be 00-59");
  if (second == 60) return TimeError(field, text, "leap second 60 is not supported");
  if (second > 59) return TimeError(field, text, "second must be 00-59");

  SysTime t = std::chrono::time_point_cast<std::chrono::milliseconds>(date::sys_days{ymd}) +
              std::chrono::hours{hour} + std::chrono::minutes{minute - offset_minutes} +
              std::chrono::seconds{second} + std::chrono::milliseconds{millis};
  return t;
}

std::string FormatTime(SysTime t) {
  constexpr int64_t kMsPerDay = 86'400'000;
  int64_t ms = t.time_since_epoch().count();
  int64_t days = ms / kMsPerDay;
  int64_t rem = ms % kMsPerDay;
  if (rem < 0) {
    rem += kMsPerDay;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, y, m, d);
  int64_t hh = rem / 3'600'000;
  int64_t mm = rem / 60'000 % 60;
  int64_t ss = rem / 1000 % 60;
  int64_t mss = rem % 1000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(hh),
                static_cast<long long>(mm), static_cast<long long>(ss),
                static_cast<long long>(mss));
  return buf;
}

std::optional<SysTime> ParseTime(std::string_view text) {
  auto t = ParseRfc3339(text, "time");
  if (!t) return std::nullopt;
  return *t;
}

}  // namespace lsh
