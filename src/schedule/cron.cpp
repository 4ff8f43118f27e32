#include "schedule/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>

namespace lsh::schedule {

namespace {

using std::chrono::seconds;
using SysSeconds = date::sys_seconds;
using LocalSeconds = date::local_seconds;

constexpr std::string_view kCronField = "schedule.cron";
constexpr std::string_view kZoneField = "schedule.timezone";

// ---------------------------------------------------------------------------
// Parsing

struct FieldDef {
  std::string_view name;
  int min;
  int max;   // largest value accepted on input (7 for day-of-week)
  int span;  // number of distinct values (for the step bound)
};

constexpr FieldDef kSecond{"second", 0, 59, 60};
constexpr FieldDef kMinute{"minute", 0, 59, 60};
constexpr FieldDef kHour{"hour", 0, 23, 24};
constexpr FieldDef kDom{"day-of-month", 1, 31, 31};
constexpr FieldDef kMonth{"month", 1, 12, 12};
constexpr FieldDef kDow{"day-of-week", 0, 7, 7};

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDowNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

Error CronError(std::string message) {
  return Error::Invalid(std::move(message), std::string(kCronField));
}

std::string FieldPrefix(const FieldDef& f) {
  return "cron field '" + std::string(f.name) + "'";
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Quotes user text for an error message, shortened so a huge input cannot
// produce a huge message.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "'";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax) out.append("...");
  out.append("'");
  return out;
}

// Parses an unsigned decimal number of at most 9 digits.
std::optional<int> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// A single value of a field: a number, or a month/weekday name where allowed.
Result<int> ParseValue(const FieldDef& f, std::string_view text) {
  if (text.empty()) return CronError(FieldPrefix(f) + " is missing a value");
  if (auto n = ParseNumber(text)) {
    if (*n < f.min || *n > f.max) {
      return CronError(FieldPrefix(f) + " value " + std::to_string(*n) + " is out of range " +
                       std::to_string(f.min) + "-" + std::to_string(f.max));
    }
    return *n;
  }
  bool all_digits =
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits) {  // too many digits to be anything sensible
    return CronError(FieldPrefix(f) + " value " + Quote(text) + " is out of range " +
                     std::to_string(f.min) + "-" + std::to_string(f.max));
  }
  std::string up = Upper(text);
  if (&f == &kMonth) {
    for (size_t i = 0; i < kMonthNames.size(); ++i) {
      if (up == kMonthNames[i]) return static_cast<int>(i) + 1;
    }
    return CronError(FieldPrefix(f) + " has unknown value " + Quote(text) +
                     " (expected 1-12 or JAN-DEC)");
  }
  if (&f == &kDow) {
    for (size_t i = 0; i < kDowNames.size(); ++i) {
      if (up == kDowNames[i]) return static_cast<int>(i);
    }
    return CronError(FieldPrefix(f) + " has unknown value " + Quote(text) +
                     " (expected 0-7 or SUN-SAT)");
  }
  return CronError(FieldPrefix(f) + " has invalid value " + Quote(text) + " (expected a number " +
                   std::to_string(f.min) + "-" + std::to_string(f.max) + ")");
}

struct ParsedField {
  std::bitset<64> bits;  // indexed by value; day-of-week 7 folded into 0
  bool starts_with_star = false;
  bool periodic = false;  // some item is '*' or has a step
};

Result<ParsedField> ParseField(const FieldDef& f, std::string_view text) {
  ParsedField out;
  out.starts_with_star = !text.empty() && text.front() == '*';
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.empty())
      return CronError(FieldPrefix(f) + " has an empty list item in " + Quote(text));

    std::string_view base = item;
    int step = 1;
    bool has_step = false;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      std::string_view step_text = item.substr(slash + 1);
      auto n = ParseNumber(step_text);
      if (!n) {
        return CronError(FieldPrefix(f) + " has invalid step " + Quote(step_text) + " in " +
                         Quote(item) + " (expected a number)");
      }
      if (*n < 1 || *n > f.span) {
        return CronError(FieldPrefix(f) + " step " + std::to_string(*n) + " in " + Quote(item) +
                         " is out of range 1-" + std::to_string(f.span));
      }
      step = *n;
      has_step = true;
      if (base.empty()) {
        return CronError(FieldPrefix(f) + " step " + Quote(item) + " has nothing before '/'");
      }
    }

    int lo = 0;
    int hi = 0;
    if (base == "*") {
      lo = f.min;
      hi = (&f == &kDow) ? 6 : f.max;
      out.periodic = true;
    } else if (size_t dash = base.find('-'); dash != std::string_view::npos) {
      auto a = ParseValue(f, base.substr(0, dash));
      if (!a.ok()) return a.error();
      auto b = ParseValue(f, base.substr(dash + 1));
      if (!b.ok()) return b.error();
      lo = *a;
      hi = *b;
      if (lo > hi) {
        return CronError(FieldPrefix(f) + " range " + Quote(base) + " is backwards (" +
                         std::to_string(lo) + " > " + std::to_string(hi) + ")");
      }
    } else {
      auto a = ParseValue(f, base);
      if (!a.ok()) return a.error();
      lo = *a;
      // "a/n" means a, a+n, ... up to the field's maximum (as in cronie).
      hi = has_step ? ((&f == &kDow) ? 6 : f.max) : lo;
      if (has_step && lo > hi) hi = lo;  // "7/2" in day-of-week: just Sunday
    }
    if (has_step) out.periodic = true;
    for (int v = lo; v <= hi; v += step)
      out.bits.set(static_cast<size_t>(v == 7 && &f == &kDow ? 0 : v));

    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

template <size_t N>
std::bitset<N> Narrow(const std::bitset<64>& wide) {
  std::bitset<N> out;
  for (size_t i = 0; i < N; ++i) out[i] = wide[i];
  return out;
}

std::optional<std::string_view> ExpandMacro(std::string_view upper) {
  if (upper == "@YEARLY" || upper == "@ANNUALLY") return "0 0 1 1 *";
  if (upper == "@MONTHLY") return "0 0 1 * *";
  if (upper == "@WEEKLY") return "0 0 * * 0";
  if (upper == "@DAILY" || upper == "@MIDNIGHT") return "0 0 * * *";
  if (upper == "@HOURLY") return "0 * * * *";
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Matching in local (wall-clock) time

template <size_t N>
std::optional<int> NextBit(const std::bitset<N>& bits, int from, int last) {
  for (int i = std::max(from, 0); i <= last && i < static_cast<int>(N); ++i) {
    if (bits[static_cast<size_t>(i)]) return i;
  }
  return std::nullopt;
}

bool DayMatches(const CronSpec& s, const date::year_month_day& ymd, date::weekday wd) {
  bool dom = s.days_of_month[static_cast<unsigned>(ymd.day())];
  bool dow = s.days_of_week[wd.c_encoding()];
  if (s.dom_star || s.dow_star) return dom && dow;
  return dom || dow;
}

bool SpecUsable(const CronSpec& s) {
  return s.seconds.any() && s.minutes.any() && s.hours.any() && s.days_of_month.any() &&
         s.months.any() && s.days_of_week.any();
}

// The first local time in [from, until) that matches the pattern, skipping
// whole months, days, hours and minutes that cannot match.
std::optional<LocalSeconds> NextLocalMatch(const CronSpec& s, LocalSeconds from,
                                           LocalSeconds until) {
  using date::days;
  using std::chrono::hours;
  using std::chrono::minutes;
  LocalSeconds cur = from;
  // Each iteration moves `cur` forward by at least one second and at most
  // a handful of iterations happen per day, so this bound is never reached
  // for ranges within the horizon; it only makes termination obvious.
  for (int guard = 0; guard < 1'000'000 && cur < until; ++guard) {
    date::local_days day = date::floor<days>(cur);
    date::year_month_day ymd{day};
    int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    if (!s.months[static_cast<size_t>(month)]) {
      auto next = NextBit(s.months, month + 1, 12);
      date::year y = ymd.year();
      if (!next) {
        y += date::years{1};
        next = NextBit(s.months, 1, 12);
      }
      cur = date::local_days{y / date::month{static_cast<unsigned>(*next)} / 1};
      continue;
    }
    if (!DayMatches(s, ymd, date::weekday{day})) {
      cur = day + days{1};
      continue;
    }
    auto tod = cur - day;
    int h = static_cast<int>(tod / hours{1});
    int m = static_cast<int>((tod % hours{1}) / minutes{1});
    int sec = static_cast<int>((tod % minutes{1}) / seconds{1});
    auto nh = NextBit(s.hours, h, 23);
    if (!nh) {
      cur = day + days{1};
      continue;
    }
    if (*nh != h) {
      cur = day + hours{*nh};
      continue;
    }
    auto nm = NextBit(s.minutes, m, 59);
    if (!nm) {
      cur = day + hours{h + 1};
      continue;
    }
    if (*nm != m) {
      cur = day + hours{h} + minutes{*nm};
      continue;
    }
    auto ns = NextBit(s.seconds, sec, 59);
    if (!ns) {
      cur = day + hours{h} + minutes{m + 1};
      continue;
    }
    if (*ns != sec) {
      cur = day + hours{h} + minutes{m} + seconds{*ns};
      continue;
    }
    return cur;
  }
  return std::nullopt;
}

LocalSeconds ToLocal(SysSeconds t, seconds offset) {
  return LocalSeconds{(t + offset).time_since_epoch()};
}

// Supported range for `after`: far from any overflow in date's types.
const SysSeconds kMinSupported = date::sys_days{date::year{1900} / 1 / 1};
const SysSeconds kMaxSupported = date::sys_days{date::year{9000} / 1 / 1};

// The first fire in [t0, until), both whole seconds. See cron.h for the DST
// rules. Walks the zone's offset intervals (sys_info) in UTC order; inside
// one interval local time maps one to one onto UTC, so a local search per
// interval gives fires in UTC order. Between two intervals:
//  * offset grows (gap): local times [b+o_prev, b+o) do not exist; if any
//    matches, fire once at b, the instant the gap ends.
//  * offset shrinks (overlap): local times [b+o, b+o_prev) were already seen
//    in the previous interval; unless the hour field is periodic, skip them.
std::optional<SysSeconds> WalkIntervals(const CronSpec& spec, const date::time_zone* zone,
                                        SysSeconds t0, SysSeconds until) {
  until = std::min(until, kMaxSupported + date::days{kCronHorizonDays});
  SysSeconds lo = t0;
  date::sys_info info = zone->get_info(lo);
  // Offsets change about twice a year; the bound only guards termination.
  for (int guard = 0; guard < 10'000 && lo < until; ++guard) {
    const SysSeconds b = info.begin;
    const SysSeconds e = info.end;
    const seconds o = info.offset;
    const SysSeconds seg_hi = std::min(e, until);
    if (seg_hi <= lo) break;  // defensive: the tz data did not move forward

    std::optional<seconds> o_prev;
    // Gap and overlap windows are at most about a day long; an interval that
    // began long before `lo` needs no look at its predecessor.
    if (b > lo - date::days{3}) o_prev = zone->get_info(b - seconds{1}).offset;

    if (o_prev && o > *o_prev && b >= lo && b < until) {
      if (NextLocalMatch(spec, ToLocal(b, *o_prev), ToLocal(b, o))) return b;
    }
    LocalSeconds start = ToLocal(lo, o);
    if (o_prev && *o_prev > o && !spec.hour_periodic) start = std::max(start, ToLocal(b, *o_prev));
    LocalSeconds end = ToLocal(seg_hi, o);
    if (start < end) {
      if (auto local = NextLocalMatch(spec, start, end)) {
        return SysSeconds{local->time_since_epoch()} - o;
      }
    }
    if (e >= until) break;
    lo = e;
    info = zone->get_info(lo);
  }
  return std::nullopt;
}

// NextFireIn's guard rails around WalkIntervals.
std::optional<SysSeconds> NextFireIn(const CronSpec& spec, const date::time_zone* zone,
                                     SysSeconds t0, SysSeconds until) {
  if (zone == nullptr || !SpecUsable(spec)) return std::nullopt;
  if (t0 < kMinSupported || t0 > kMaxSupported) return std::nullopt;
  try {
    return WalkIntervals(spec, zone, t0, until);
  } catch (const std::exception&) {  // the tz library failed to load a zone file
    return std::nullopt;
  }
}

SysTime ToSysTime(SysSeconds t) {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(t);
}

// First whole second strictly after `t`.
SysSeconds FirstSecondAfter(SysTime t) {
  return date::floor<seconds>(t) + seconds{1};
}

bool InSupportedRange(SysTime t) {
  return t >= ToSysTime(kMinSupported) && t <= ToSysTime(kMaxSupported);
}

// ---------------------------------------------------------------------------
// RFC 3339

}  // namespace

Result<CronSpec> ParseCron(std::string_view expr) {
  std::string_view trimmed = Trim(expr);
  if (trimmed.empty()) return CronError("cron expression is empty");
  if (trimmed.size() > 1024) return CronError("cron expression is too long (over 1024 characters)");

  CronSpec spec;
  spec.source = std::string(trimmed);
  std::string_view body = trimmed;
  if (trimmed.front() == '@') {
    std::string up = Upper(trimmed);
    auto expanded = ExpandMacro(up);
    if (!expanded) {
      if (up == "@REBOOT") return CronError("cron macro '@reboot' is not supported");
      return CronError("unknown cron macro " + Quote(trimmed) +
                       " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
                       "@hourly)");
    }
    body = *expanded;
  }

  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && IsAsciiSpace(body[i])) ++i;
    size_t start = i;
    while (i < body.size() && !IsAsciiSpace(body[i])) ++i;
    if (i > start) fields.push_back(body.substr(start, i - start));
  }
  if (fields.size() != 5 && fields.size() != 6) {
    return CronError("cron expression " + Quote(trimmed) + " has " + std::to_string(fields.size()) +
                     " field" + (fields.size() == 1 ? "" : "s") +
                     "; expected 5 (minute hour day-of-month month day-of-week) or 6 (second "
                     "first)");
  }
  spec.has_seconds = fields.size() == 6;
  size_t k = 0;
  if (spec.has_seconds) {
    auto sec = ParseField(kSecond, fields[k++]);
    if (!sec.ok()) return sec.error();
    spec.seconds = Narrow<60>(sec->bits);
  } else {
    spec.seconds.set(0);
  }
  auto min = ParseField(kMinute, fields[k++]);
  if (!min.ok()) return min.error();
  auto hour = ParseField(kHour, fields[k++]);
  if (!hour.ok()) return hour.error();
  auto dom = ParseField(kDom, fields[k++]);
  if (!dom.ok()) return dom.error();
  auto mon = ParseField(kMonth, fields[k++]);
  if (!mon.ok()) return mon.error();
  auto dow = ParseField(kDow, fields[k++]);
  if (!dow.ok()) return dow.error();

  spec.minutes = Narrow<60>(min->bits);
  spec.hours = Narrow<24>(hour->bits);
  spec.hour_periodic = hour->periodic;
  spec.days_of_month = Narrow<32>(dom->bits);
  spec.dom_star = dom->starts_with_star;
  spec.months = Narrow<13>(mon->bits);
  spec.days_of_week = Narrow<7>(dow->bits);
  spec.dow_star = dow->starts_with_star;
  return spec;
}

Result<const date::time_zone*> FindZone(std::string_view name) {
  if (name.empty()) return Error::Invalid("time zone is empty", std::string(kZoneField));
  bool plausible = name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
                     return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
                            c == '-' || c == '+';
                   });
  if (plausible) {
    try {
      return date::locate_zone(name);
    } catch (const std::exception&) {
      // fall through to the error below
    }
  }
  return Error::Invalid(
      "unknown time zone " + Quote(name) + " (expected an IANA name such as UTC or Europe/Berlin)",
      std::string(kZoneField));
}

std::optional<SysTime> NextCronFire(const CronSpec& spec, const date::time_zone* zone,
                                    SysTime after) {
  if (!InSupportedRange(after)) return std::nullopt;
  SysSeconds t0 = FirstSecondAfter(after);
  auto fire = NextFireIn(spec, zone, t0, t0 + date::days{kCronHorizonDays});
  if (!fire) return std::nullopt;
  return ToSysTime(*fire);
}

std::vector<SysTime> CronFiresBetween(const CronSpec& spec, const date::time_zone* zone,
                                      SysTime from, SysTime to, size_t limit) {
  std::vector<SysTime> out;
  if (to <= from || limit == 0 || !InSupportedRange(from)) return out;
  // Exclusive bound for the search: the first whole second after `to`.
  SysSeconds until = FirstSecondAfter(to);
  SysSeconds t0 = FirstSecondAfter(from);
  while (out.size() < limit && t0 < until) {
    auto fire = NextFireIn(spec, zone, t0, until);
    if (!fire) break;
    out.push_back(ToSysTime(*fire));
    t0 = *fire + seconds{1};
  }
  return out;
}

}  // namespace lsh::schedule
