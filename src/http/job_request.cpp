#include "http/job_request.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/time.h"
#include "schedule/next.h"

namespace lsh::http {

using nlohmann::json;

namespace {

const std::set<std::string>& ReadOnlyFields() {
  static const std::set<std::string> f = {"id",       "status",      "createdAt", "updatedAt",
                                          "lastRun",  "version",     "job_name",  "timestamp",
                                          "last_run", "duration_ms", "paused",    "nextRun"};
  return f;
}

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

Error WrongType(const std::string& field, const char* want, const json& got) {
  return Error::Invalid(field + " must be " + want + ", not " + TypeName(got), field);
}

Status GetString(const json& v, const std::string& field, std::string& out, bool required,
                 size_t max_len) {
  if (!v.is_string()) return WrongType(field, "a string", v);
  std::string s = v.get<std::string>();
  if (required && s.find_first_not_of(" \t\r\n") == std::string::npos)
    return Error::Invalid(field + " must not be empty", field);
  if (s.size() > max_len)
    return Error::Invalid(field + " is longer than " + std::to_string(max_len) + " bytes", field);
  out = std::move(s);
  return Status::Ok();
}

Status GetInt(const json& v, const std::string& field, int64_t lo, int64_t hi, int64_t& out) {
  int64_t n;
  if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(hi))
      return Error::Invalid(field + " must be at most " + std::to_string(hi), field);
    n = static_cast<int64_t>(v.get<uint64_t>());
  } else if (v.is_number_float()) {
    // Range first: casting a double outside int64 (1e300) is undefined.
    double d = v.get<double>();
    if (d != std::floor(d)) return Error::Invalid(field + " must be a whole number", field);
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
      return Error::Invalid(
          field + " must be between " + std::to_string(lo) + " and " + std::to_string(hi), field);
    n = static_cast<int64_t>(d);
  } else {
    return WrongType(field, "a number", v);
  }
  if (n < lo || n > hi)
    return Error::Invalid(
        field + " must be between " + std::to_string(lo) + " and " + std::to_string(hi), field);
  out = n;
  return Status::Ok();
}

bool ValidName(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](unsigned char c) {
    return c < 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '%';
  });
}

template <size_t N>
Status OneOf(const std::string& v, const char* const (&list)[N], const std::string& field) {
  std::string names;
  for (const char* s : list) {
    if (v == s) return Status::Ok();
    names += names.empty() ? s : std::string(", ") + s;
  }
  return Error::Invalid(field + " must be one of " + names + ", not '" + v + "'", field);
}

Status ApplySchedule(Schedule& sc, const json& v) {
  if (v.is_null()) {
    sc = Schedule{};
    return Status::Ok();
  }
  if (v.is_string()) {  // shorthand: "schedule": "0 3 * * *"
    Schedule n;
    n.kind = ScheduleKind::kCron;
    n.cron = v.get<std::string>();
    n.misfire = sc.misfire;
    n.overlap = sc.overlap;
    sc = n;
    return schedule::Validate(sc);
  }
  if (!v.is_object()) return WrongType("schedule", "an object, a cron string or null", v);
  int kinds = int(v.contains("cron")) + int(v.contains("interval")) + int(v.contains("at"));
  if (kinds > 1)
    return Error::Invalid("schedule must have only one of cron, interval and at", "schedule");
  Schedule n = sc;
  for (auto& [key, val] : v.items()) {
    std::string field = "schedule." + key;
    if (key == "cron") {
      n.kind = ScheduleKind::kCron;
      if (auto s = GetString(val, field, n.cron, true, 256); !s) return s;
    } else if (key == "timezone" || key == "tz") {
      if (val.is_null()) {
        n.timezone = "UTC";
      } else if (auto s = GetString(val, "schedule.timezone", n.timezone, true, 64); !s) {
        return s;
      }
    } else if (key == "interval") {
      n.kind = ScheduleKind::kInterval;
      int64_t ms;
      if (auto s = GetInt(val, field, 1, int64_t(366) * 24 * 3600 * 1000, ms); !s) return s;
      n.interval_ms = ms;
    } else if (key == "at") {
      n.kind = ScheduleKind::kAt;
      std::string text;
      if (auto s = GetString(val, field, text, true, 64); !s) return s;
      auto at = ParseRfc3339(text, field);
      if (!at) return at.error();
      n.at = *at;
    } else if (key == "misfirePolicy" || key == "misfire") {
      if (auto s = GetString(val, "schedule.misfirePolicy", n.misfire, true, 32); !s) return s;
    } else if (key == "overlapPolicy" || key == "overlap") {
      if (auto s = GetString(val, "schedule.overlapPolicy", n.overlap, true, 32); !s) return s;
    } else if (ReadOnlyFields().count(key) || key == "kind") {
      continue;
    } else {
      return Error::Invalid("unknown field " + field, field);
    }
  }
  if (kinds == 0 && sc.kind == ScheduleKind::kNone)
    return Error::Invalid("schedule needs one of cron, interval or at", "schedule");
  if (n.kind != ScheduleKind::kCron) n.cron.clear();
  if (n.kind != ScheduleKind::kInterval) n.interval_ms = 0;
  if (n.kind != ScheduleKind::kAt) n.at.reset();
  sc = n;
  return schedule::Validate(sc);
}

Status Apply(JobSpec& spec, const json& body) {
  if (!body.is_object()) return Error::Invalid("the request body must be a JSON object", "");
  for (auto& [key, v] : body.items()) {
    if (key == "name") {
      if (auto s = GetString(v, "name", spec.name, true, 200); !s) return s;
      if (!ValidName(spec.name))
        return Error::Invalid("name must not contain control characters, '/', '?', '#' or '%'",
                              "name");
    } else if (key == "command") {
      if (auto s = GetString(v, "command", spec.command, true, 64 * 1024); !s) return s;
    } else if (key == "type") {
      if (auto s = GetString(v, "type", spec.type, true, 32); !s) return s;
      if (auto s = OneOf(spec.type, kJobTypes, "type"); !s) return s;
    } else if (key == "description") {
      if (v.is_null()) {
        spec.description.clear();
      } else if (auto s = GetString(v, "description", spec.description, false, 4096); !s) {
        return s;
      }
    } else if (key == "tags") {
      if (!v.is_array()) return WrongType("tags", "an array of strings", v);
      std::vector<std::string> tags;
      for (size_t i = 0; i < v.size(); ++i) {
        std::string t;
        std::string field = "tags[" + std::to_string(i) + "]";
        if (auto s = GetString(v[i], field, t, true, 100); !s) return s;
        if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
      }
      if (tags.size() > 50) return Error::Invalid("tags may hold at most 50 tags", "tags");
      spec.tags = std::move(tags);
    } else if (key == "priority") {
      int64_t n;
      if (auto s = GetInt(v, "priority", 0, 100, n); !s) return s;
      spec.priority = static_cast<int>(n);
    } else if (key == "timeout") {
      if (v.is_null()) {
        spec.timeout_ms.reset();
      } else {
        int64_t n;
        if (auto s = GetInt(v, "timeout", 1, int64_t(30) * 24 * 3600 * 1000, n); !s) return s;
        spec.timeout_ms = n;
      }
    } else if (key == "maxRetries") {
      int64_t n;
      if (auto s = GetInt(v, "maxRetries", 0, 100, n); !s) return s;
      spec.max_retries = static_cast<int>(n);
    } else if (key == "retryDelay") {
      int64_t n;
      if (auto s = GetInt(v, "retryDelay", 0, int64_t(7) * 24 * 3600 * 1000, n); !s) return s;
      spec.retry_delay_ms = n;
    } else if (key == "env") {
      if (v.is_null()) {
        spec.env.clear();
        continue;
      }
      if (!v.is_object()) return WrongType("env", "an object of strings", v);
      std::map<std::string, std::string> env;
      for (auto& [k, ev] : v.items()) {
        std::string field = "env." + k;
        if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
          return Error::Invalid("env names must be non-empty and contain no '='", field);
        if (ev.is_string())
          env[k] = ev.get<std::string>();
        else if (ev.is_number() || ev.is_boolean())
          env[k] = ev.dump();
        else
          return WrongType(field, "a string", ev);
      }
      spec.env = std::move(env);
    } else if (key == "cwd") {
      if (v.is_null()) {
        spec.cwd.clear();
      } else {
        if (auto s = GetString(v, "cwd", spec.cwd, false, 4096); !s) return s;
        if (!spec.cwd.empty() && spec.cwd[0] != '/')
          return Error::Invalid("cwd must be an absolute path", "cwd");
      }
    } else if (key == "databaseSync") {
      if (!v.is_boolean()) return WrongType("databaseSync", "a boolean", v);
      spec.database_sync = v.get<bool>();
    } else if (key == "schedule") {
      if (auto s = ApplySchedule(spec.schedule, v); !s) return s;
    } else if (key == "overlapPolicy" || key == "misfirePolicy") {
      // Also accepted at the top level, so a job without a schedule can say
      // how its manual triggers overlap.
      std::string& field = key == "overlapPolicy" ? spec.schedule.overlap : spec.schedule.misfire;
      if (auto s = GetString(v, "schedule." + key, field, true, 32); !s) return s;
      if (auto s = schedule::Validate(spec.schedule); !s) return s;
    } else if (ReadOnlyFields().count(key)) {
      continue;
    } else {
      return Error::Invalid("unknown field '" + key + "'", key);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<JobSpec> JobSpecFromJson(const json& body) {
  JobSpec spec;
  if (!body.is_object()) return Error::Invalid("the request body must be a JSON object", "");
  if (!body.contains("name") || body["name"].is_null())
    return Error::Invalid("Job name is required", "name");
  if (!body.contains("command") || body["command"].is_null())
    return Error::Invalid("Job command is required", "command");
  if (auto s = Apply(spec, body); !s) return s.error();
  return spec;
}

Result<JobSpec> JobSpecPatch(const JobSpec& current, const json& body) {
  JobSpec spec = current;
  if (auto s = Apply(spec, body); !s) return s.error();
  return spec;
}

}  // namespace lsh::http
