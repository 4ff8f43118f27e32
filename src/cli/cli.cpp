// The client subcommands (cli.h): argument parsing, one HTTP call (or a
// stream) per command, and the two ways to print: aligned tables for people,
// JSON for scripts (--json).
#include "cli/cli.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <variant>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace lsh::cli {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------- arguments

struct Args {
  std::string url;
  std::string api_key;
  bool json = false;
  bool help = false;
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // --name VALUE options
  std::set<std::string> flags;                // boolean options
  std::vector<std::string> command;           // words after `--` (lshd add)
  bool dashdash = false;
};

struct Command;
using Handler = std::function<int(const Command&, Args&)>;

struct Command {
  const char* name;
  const char* usage;  // after "lshd "
  const char* about;  // one line for lshd --help
  const char* details;
  std::vector<std::string> value_options;  // besides --url, --api-key
  std::vector<std::string> flag_options;   // besides --json, --help
  size_t min_positional;
  size_t max_positional;
  Handler run;
};

void PrintHelp(const Command& c) {
  std::printf("Usage: lshd %s\n\n%s\n%s\n", c.usage, c.about, c.details);
  std::printf(
      "\nCommon options:\n"
      "  --url URL        the daemon (LSH_API_URL, default http://127.0.0.1:3030)\n"
      "  --api-key KEY    sent as X-API-Key (LSH_API_KEY)\n"
      "  --json           print JSON for scripts instead of a table\n"
      "  --help           this text\n"
      "\nExit status: 0 done, 1 the daemon answered with an error,\n"
      "2 usage error or the daemon could not be reached.\n");
}

int Usage(const Command& c, const std::string& problem) {
  std::fprintf(stderr, "lshd %s: %s\nUsage: lshd %s\n(lshd %s --help for more)\n", c.name,
               problem.c_str(), c.usage, c.name);
  return kExitUsage;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Parses `args` for command `c`; returns an exit status on a usage error.
std::optional<int> Parse(const Command& c, const std::vector<std::string>& in, Args& a) {
  if (const char* v = std::getenv("LSH_API_URL"); v && *v) a.url = v;
  if (const char* v = std::getenv("LSH_API_KEY"); v && *v) a.api_key = v;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string arg = in[i];
    if (arg == "--") {
      a.dashdash = true;
      a.command.assign(in.begin() + i + 1, in.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
      a.positional.push_back(arg);
      continue;
    }
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (arg == "--help" || arg == "-h") {
      a.help = true;
    } else if (arg == "--json") {
      a.json = true;
    } else if (Contains(c.flag_options, arg)) {
      a.flags.insert(arg);
    } else if (arg == "--url" || arg == "--api-key" || Contains(c.value_options, arg)) {
      if (!has_value) {
        if (i + 1 >= in.size()) return Usage(c, arg + " needs a value");
        value = in[++i];
      }
      if (arg == "--url")
        a.url = value;
      else if (arg == "--api-key")
        a.api_key = value;
      else
        a.values[arg] = value;
    } else {
      return Usage(c, "unknown option '" + arg + "'");
    }
  }
  if (a.help) return std::nullopt;
  if (a.positional.size() < c.min_positional) return Usage(c, "missing argument");
  if (a.positional.size() > c.max_positional)
    return Usage(c, "unexpected argument '" + a.positional[c.max_positional] + "'");
  if (a.url.empty()) a.url = "http://127.0.0.1:3030";
  return std::nullopt;
}

// ---------------------------------------------------------------- HTTP

std::string Why(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no answer: the connection was closed or timed out";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification:
      return "TLS handshake failed";
    default:
      return httplib::to_string(e);
  }
}

// One daemon: the base URL split into what httplib connects to and the path
// prefix (LSH_API_URL may end in /api).
class Daemon {
 public:
  explicit Daemon(const Args& a) : url_(a.url), api_key_(a.api_key) {
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
    size_t scheme = url_.find("://");
    size_t slash = url_.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    std::string host = slash == std::string::npos ? url_ : url_.substr(0, slash);
    if (slash != std::string::npos) prefix_ = url_.substr(slash);
    if (scheme == std::string::npos) host = "http://" + host;
    client_ = std::make_unique<httplib::Client>(host);
    valid_ = client_->is_valid();
    client_->set_connection_timeout(5, 0);
    client_->set_read_timeout(60, 0);
    client_->set_write_timeout(30, 0);
  }

  struct Reply {
    bool reached = false;
    int status = 0;
    std::string body;
    std::string total;    // X-Total-Count, when the route sends it
    std::string failure;  // why it was not reached
  };

  Reply Call(const std::string& method, const std::string& path, const json* body = nullptr) {
    Reply r;
    if (!valid_) {
      r.failure = "not a valid URL";
      return r;
    }
    httplib::Headers h = Headers();
    std::string full = prefix_ + path;
    std::string text = body ? body->dump() : "";
    httplib::Result res = method == "POST"     ? client_->Post(full, h, text, "application/json")
                          : method == "DELETE" ? client_->Delete(full, h)
                                               : client_->Get(full, h);
    if (!res) {
      r.failure = Why(res.error());
      return r;
    }
    r.reached = true;
    r.status = res->status;
    r.body = res->body;
    r.total = res->get_header_value("X-Total-Count");
    return r;
  }

  // GET that hands the body to `on_data` as it arrives (logs -f, events -f).
  // A non-2xx answer is collected into the Reply's body instead.
  Reply Stream(const std::string& path, httplib::Headers extra,
               const std::function<bool(const char*, size_t)>& on_data) {
    Reply r;
    if (!valid_) {
      r.failure = "not a valid URL";
      return r;
    }
    httplib::Headers h = Headers();
    h.insert(extra.begin(), extra.end());
    client_->set_read_timeout(24 * 3600, 0);  // a quiet run may print nothing for long
    int status = 0;
    std::string error_body;
    auto res = client_->Get(
        prefix_ + path, h,
        [&](const httplib::Response& resp) {
          status = resp.status;
          return true;
        },
        [&](const char* data, size_t len) {
          if (status / 100 != 2) {
            error_body.append(data, len);
            return true;
          }
          return on_data(data, len);
        });
    if (!res && res.error() != httplib::Error::Canceled) {
      r.failure = Why(res.error());
      if (status == 0) return r;
    }
    r.reached = true;
    r.status = status ? status : (res ? res->status : 0);
    r.body = error_body;
    return r;
  }

  const std::string& url() const { return url_; }

 private:
  httplib::Headers Headers() const {
    httplib::Headers h;
    if (!api_key_.empty()) h.emplace("X-API-Key", api_key_);
    return h;
  }

  std::string url_;
  std::string api_key_;
  std::string prefix_;
  bool valid_ = false;
  std::unique_ptr<httplib::Client> client_;
};

std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

// The seed's troubleshooting hint ("Dashboard shows 'LSH Daemon Not
// Reachable'"), as one short message.
int Unreachable(const Command& c, const Daemon& d, const std::string& why) {
  std::fprintf(stderr,
               "lshd %s: cannot reach the LSH daemon at %s (%s).\n"
               "Is it running (lshd serve; on fly.io: fly status -a mcli-lsh-daemon)? Is --url or "
               "LSH_API_URL right? Try: curl %s/health\n",
               c.name, d.url().c_str(), why.c_str(), d.url().c_str());
  return kExitUsage;
}

// A daemon error: its message on stderr (and its JSON on stdout with --json).
int DaemonError(const Command& c, const Args& a, const Daemon::Reply& r) {
  auto j = json::parse(r.body, nullptr, false);
  std::string msg;
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string())
    msg = j["error"].get<std::string>();
  else
    msg = r.body.substr(0, 200);
  if (a.json && !j.is_discarded()) std::printf("%s\n", j.dump(2).c_str());
  std::string hint;
  if (r.status == 401) hint = " (set LSH_API_KEY or pass --api-key)";
  if (r.status == 404 && msg.find("route") != std::string::npos)
    hint = " (an older daemon, or LSH_API_URL points elsewhere)";
  std::fprintf(stderr, "lshd %s: %s (HTTP %d)%s\n", c.name, msg.c_str(), r.status, hint.c_str());
  return kExitDaemonError;
}

// Calls the daemon and parses its JSON; on failure returns the exit status.
std::variant<json, int> CallJson(const Command& c, const Args& a, const std::string& method,
                                 const std::string& path, const json* body = nullptr) {
  Daemon d(a);
  auto r = d.Call(method, path, body);
  if (!r.reached) return Unreachable(c, d, r.failure);
  if (r.status / 100 != 2) return DaemonError(c, a, r);
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "lshd %s: the daemon at %s answered with something that is not JSON\n",
                 c.name, d.url().c_str());
    return kExitDaemonError;
  }
  return j;
}

// ---------------------------------------------------------------- printing

std::string Str(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", j.get<double>());
    return buf;
  }
  return j.dump();
}

std::string Field(const json& j, const char* key) {
  return j.is_object() && j.contains(key) ? Str(j[key]) : "-";
}

// "2026-11-28T12:00:00.000Z" → "2026-11-28 12:00:00" (every time shown is UTC).
std::string When(const json& j) {
  if (!j.is_string()) return "-";
  std::string s = j.get<std::string>();
  if (s.size() >= 19 && s[10] == 'T') return s.substr(0, 10) + " " + s.substr(11, 8);
  return s;
}

std::string Ms(const json& j) {
  if (!j.is_number()) return "-";
  double ms = j.get<double>();
  char buf[64];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
  else if (ms < 120000)
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.1fm", ms / 60000);
  return buf;
}

// Seconds as "3d 4h 5m", "4h 5m", "5m 6s" or "6.2s".
std::string Uptime(const json& j) {
  if (!j.is_number()) return "-";
  double secs = j.get<double>();
  long long t = static_cast<long long>(secs);
  char buf[64];
  if (t >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd %lldh %lldm", t / 86400, t % 86400 / 3600, t % 3600 / 60);
  else if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %lldm", t / 3600, t % 3600 / 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lldm %llds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", secs);
  return buf;
}

// Columns padded to their widest cell, two spaces apart; the last column is
// not padded.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

void PrintPairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  size_t w = 0;
  for (const auto& [k, v] : pairs) w = std::max(w, k.size());
  for (const auto& [k, v] : pairs)
    std::printf("%s%s  %s\n", k.c_str(), std::string(w - k.size(), ' ').c_str(), v.c_str());
}

void PrintJson(const json& j) {
  std::printf("%s\n", j.dump(2).c_str());
}

std::string Schedule(const json& job) {
  const json& s = job.value("schedule", json());
  if (!s.is_object()) return "-";
  if (s.contains("cron")) return Str(s["cron"]) + " " + Str(s.value("timezone", json("UTC")));
  if (s.contains("interval") && s["interval"].is_number_integer()) {
    long long ms = s["interval"].get<long long>();
    std::string out;
    for (auto [unit, size] : {std::pair{"d", 86400000LL},
                              {"h", 3600000LL},
                              {"m", 60000LL},
                              {"s", 1000LL},
                              {"ms", 1LL}}) {
      if (ms >= size) out += std::to_string(ms / size) + unit;
      ms %= size;
    }
    return "every " + out;
  }
  if (s.contains("at")) return "at " + When(s["at"]);
  return "-";
}

std::vector<std::string> JobRow(const json& j) {
  const json& s = j.value("schedule", json());
  const json& last = j.value("lastRun", json());
  std::string last_text = "-";
  if (last.is_object())
    last_text = Field(last, "status") + " " + When(last.value("startedAt", json()));
  return {Field(j, "id"),
          Field(j, "name"),
          Field(j, "status"),
          Schedule(j),
          s.is_object() ? When(s.value("nextRun", json())) : "-",
          last_text};
}

std::vector<std::string> RunRow(const json& r) {
  return {Field(r, "id"),
          Field(r, "status"),
          Field(r, "attempt"),
          Field(r, "trigger"),
          When(r.value("startedAt", json())),
          Ms(r.value("durationMs", json())),
          Field(r, "exitCode")};
}

std::vector<std::string> EventRow(const json& e) {
  const json& d = e.value("data", json::object());
  std::string job = "-", run = "-";
  if (d.is_object()) {
    for (const char* k : {"name", "jobName", "job_name"})
      if (d.contains(k) && d[k].is_string()) {
        job = d[k].get<std::string>();
        break;
      }
    if (d.contains("run") && d["run"].is_object())
      run = Field(d["run"], "id");
    else if (Str(e.value("type", json())).rfind("run:", 0) == 0)
      run = Field(d, "id");
  }
  std::string when = "-";
  if (e.contains("timestamp") && e["timestamp"].is_number_integer()) {
    long long ms = e["timestamp"].get<long long>();
    time_t secs = static_cast<time_t>(ms / 1000);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    when = buf;
  }
  return {Field(e, "id"), when, Field(e, "type"), job, run};
}

const std::vector<std::string> kJobHeader = {"ID",       "NAME",     "STATUS",
                                             "SCHEDULE", "NEXT RUN", "LAST RUN"};
const std::vector<std::string> kRunHeader = {"RUN",     "STATUS",   "ATTEMPT", "TRIGGER",
                                             "STARTED", "DURATION", "EXIT"};
const std::vector<std::string> kEventHeader = {"ID", "TIME (UTC)", "TYPE", "JOB", "RUN"};

// ---------------------------------------------------------------- commands

#define LSH_CALL(var, ...)                             \
  json var;                                            \
  {                                                    \
    auto got = CallJson(__VA_ARGS__);                  \
    if (auto* rc = std::get_if<int>(&got)) return *rc; \
    var = std::move(std::get<json>(got));              \
  }

int CmdStatus(const Command& c, Args& a) {
  LSH_CALL(s, c, a, "GET", "/status");
  if (a.json) {
    PrintJson(s);
    return kExitOk;
  }
  const json& jobs = s.value("jobs", json::object());
  const json& runs = s.value("runs", json::object());
  const json& ob = s.value("outbox", json::object());
  const json& db = s.value("db", json::object());
  std::string by;
  for (const char* k : {"scheduled", "running", "stopped", "completed", "failed", "created"})
    if (jobs.contains(k)) by += (by.empty() ? "" : ", ") + Str(jobs[k]) + " " + k;
  PrintPairs({
      {"daemon", Daemon(a).url() + " (running: " + Field(s, "running") + ")"},
      {"version", Field(s, "version")},
      {"pid", Field(s, "pid")},
      {"uptime", Uptime(s.value("uptime", json()))},
      {"jobs", Field(jobs, "total") + (by.empty() ? "" : " (" + by + ")")},
      {"runs", Field(runs, "running") + " running, " + Field(runs, "queued") + " queued"},
      {"outbox", Field(ob, "pending") + " pending, " + Field(ob, "parked") +
                     " parked, oldest pending " + Field(ob, "oldestPendingAgeSeconds") + "s"},
      {"database", Field(db, "path") + " (" + Field(db, "sizeBytes") + " bytes, schema " +
                       Field(db, "schemaVersion") + ")"},
  });
  return kExitOk;
}

int CmdJobs(const Command& c, Args& a) {
  std::string q =
      "/jobs?limit=" + UrlEncode(a.values.count("--limit") ? a.values["--limit"] : "1000");
  if (a.values.count("--status")) q += "&status=" + UrlEncode(a.values["--status"]);
  Daemon d(a);
  auto r = d.Call("GET", q);
  if (!r.reached) return Unreachable(c, d, r.failure);
  if (r.status / 100 != 2) return DaemonError(c, a, r);
  auto jobs = json::parse(r.body, nullptr, false);
  if (jobs.is_discarded() || !jobs.is_array()) {
    std::fprintf(stderr, "lshd jobs: the daemon at %s answered with something that is not a list\n",
                 d.url().c_str());
    return kExitDaemonError;
  }
  if (a.json) {
    PrintJson(jobs);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs) rows.push_back(JobRow(j));
  PrintTable(kJobHeader, rows);
  if (!r.total.empty() && r.total != std::to_string(rows.size()))
    std::fprintf(stderr,
                 "(%zu of %s jobs shown, newest first; --status narrows, --limit up to 1000)\n",
                 rows.size(), r.total.c_str());
  return kExitOk;
}

int CmdAdd(const Command& c, Args& a) {
  if (!a.dashdash || a.command.empty())
    return Usage(c, "the command goes after '--' (lshd add NAME -- COMMAND…)");
  std::string cmd;
  for (const auto& w : a.command) cmd += (cmd.empty() ? "" : " ") + w;
  json body = {{"name", a.positional[0]}, {"command", cmd}};
  int kinds = a.values.count("--cron") + a.values.count("--every") + a.values.count("--at");
  if (kinds > 1) return Usage(c, "give at most one of --cron, --every, --at");
  if (a.values.count("--tz") && !a.values.count("--cron"))
    return Usage(c, "--tz applies to --cron");
  if (a.values.count("--cron")) {
    body["schedule"] = {{"cron", a.values["--cron"]}};
    if (a.values.count("--tz")) body["schedule"]["timezone"] = a.values["--tz"];
  } else if (a.values.count("--every")) {
    auto ms = ParseDurationMs(a.values["--every"]);
    if (!ms || *ms <= 0)
      return Usage(
          c, "--every needs a duration like 30s, 5m, 1h30m, not '" + a.values["--every"] + "'");
    body["schedule"] = {{"interval", *ms}};
  } else if (a.values.count("--at")) {
    body["schedule"] = {{"at", a.values["--at"]}};
  }
  if (a.values.count("--timeout")) {
    auto ms = ParseDurationMs(a.values["--timeout"]);
    if (!ms || *ms <= 0) return Usage(c, "--timeout needs a duration like 30s or 5m");
    body["timeout"] = *ms;
  }
  if (a.values.count("--retries")) {
    const std::string& v = a.values["--retries"];
    if (v.empty() || v.size() > 3 || !std::all_of(v.begin(), v.end(), ::isdigit))
      return Usage(c, "--retries needs a whole number");
    body["maxRetries"] = std::stoi(v);
  }
  if (a.values.count("--description")) body["description"] = a.values["--description"];
  LSH_CALL(job, c, a, "POST", "/jobs", &body);
  if (a.json) {
    PrintJson(job);
    return kExitOk;
  }
  PrintTable(kJobHeader, {JobRow(job)});
  return kExitOk;
}

int CmdTrigger(const Command& c, Args& a) {
  std::string q = "/jobs/" + UrlEncode(a.positional[0]) + "/trigger";
  if (a.values.count("--wait")) {
    auto ms = ParseDurationMs(a.values["--wait"]);
    if (!ms || *ms < 0) return Usage(c, "--wait needs a duration like 30s");
    q += "?wait=" + std::to_string((*ms + 999) / 1000);
  }
  LSH_CALL(r, c, a, "POST", q);
  if (a.json) {
    PrintJson(r);
    return kExitOk;
  }
  const json& run = r.value("run", json::object());
  PrintTable(kRunHeader, {RunRow(run)});
  return kExitOk;
}

int CmdStartStop(const Command& c, Args& a) {
  std::string verb = c.name;
  json body = json::object();
  if (a.values.count("--signal")) body["signal"] = a.values["--signal"];
  LSH_CALL(r, c, a, "POST", "/jobs/" + UrlEncode(a.positional[0]) + "/" + verb, &body);
  if (a.json) {
    PrintJson(r);
    return kExitOk;
  }
  PrintTable(kJobHeader, {JobRow(r.value("job", json::object()))});
  return kExitOk;
}

int CmdRm(const Command& c, Args& a) {
  std::string q = "/jobs/" + UrlEncode(a.positional[0]);
  if (a.flags.count("--force")) q += "?force=true";
  LSH_CALL(r, c, a, "DELETE", q);
  if (a.json) {
    PrintJson(r);
    return kExitOk;
  }
  std::printf("deleted %s (%s)\n", a.positional[0].c_str(), Field(r, "id").c_str());
  return kExitOk;
}

int CmdRuns(const Command& c, Args& a) {
  std::string q = "/jobs/" + UrlEncode(a.positional[0]) + "/runs?limit=" +
                  UrlEncode(a.values.count("--limit") ? a.values["--limit"] : "50");
  if (a.values.count("--status")) q += "&status=" + UrlEncode(a.values["--status"]);
  LSH_CALL(runs, c, a, "GET", q);
  if (a.json) {
    PrintJson(runs);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : runs) rows.push_back(RunRow(r));
  PrintTable(kRunHeader, rows);
  return kExitOk;
}

int CmdLogs(const Command& c, Args& a) {
  std::string q = "/runs/" + UrlEncode(a.positional[0]) +
                  "/log?stream=" + (a.flags.count("--stderr") ? "stderr" : "stdout");
  if (a.flags.count("-f") || a.flags.count("--follow")) q += "&follow=1";
  Daemon d(a);
  auto r = d.Stream(q, {}, [](const char* data, size_t n) {
    std::fwrite(data, 1, n, stdout);
    std::fflush(stdout);
    return true;
  });
  if (!r.reached) return Unreachable(c, d, r.failure);
  if (r.status / 100 != 2) return DaemonError(c, a, r);
  return kExitOk;
}

// Reads Server-Sent Events frames from a byte stream.
class SseParser {
 public:
  struct Frame {
    std::string id, event, data;
  };
  template <typename F>
  bool Feed(const char* p, size_t n, F&& on_frame) {
    buf_.append(p, n);
    size_t end;
    while ((end = buf_.find("\n\n")) != std::string::npos) {
      std::string block = buf_.substr(0, end);
      buf_.erase(0, end + 2);
      Frame f;
      size_t i = 0;
      while (i <= block.size()) {
        size_t nl = block.find('\n', i);
        if (nl == std::string::npos) nl = block.size();
        std::string line = block.substr(i, nl - i);
        i = nl + 1;
        if (line.empty() || line[0] == ':') continue;  // comment (": ping")
        size_t colon = line.find(':');
        std::string key = line.substr(0, colon);
        std::string val = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!val.empty() && val[0] == ' ') val.erase(0, 1);
        if (key == "id") f.id = val;
        if (key == "event") f.event = val;
        if (key == "data") f.data += (f.data.empty() ? "" : "\n") + val;
      }
      if (!f.data.empty() && !on_frame(f)) return false;
    }
    return true;
  }

 private:
  std::string buf_;
};

int CmdEvents(const Command& c, Args& a) {
  std::string filter;
  if (a.values.count("--job")) filter += "&job=" + UrlEncode(a.values["--job"]);
  if (a.values.count("--types")) filter += "&types=" + UrlEncode(a.values["--types"]);
  std::string since = a.values.count("--since") ? a.values["--since"] : "";
  long long limit = -1;
  if (a.values.count("--limit")) {
    const std::string& v = a.values["--limit"];
    if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), ::isdigit))
      return Usage(c, "--limit needs a whole number");
    limit = std::stoll(v);
  }
  bool follow = a.flags.count("-f") || a.flags.count("--follow");
  if (!follow) {
    std::string q = "/events.json?limit=" + std::to_string(limit < 0 ? 100 : limit) + filter;
    if (!since.empty()) q += "&since=" + UrlEncode(since);
    LSH_CALL(events, c, a, "GET", q);
    if (a.json) {
      PrintJson(events);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : events) rows.push_back(EventRow(e));
    PrintTable(kEventHeader, rows);
    return kExitOk;
  }
  // Follow: the SSE stream, resumed after --since when given. One line per
  // event (a table row, or with --json one JSON object per line).
  httplib::Headers h;
  if (!since.empty()) h.emplace("Last-Event-ID", since);
  std::string q = "/events" + (filter.empty() ? "" : "?" + filter.substr(1));
  Daemon d(a);
  SseParser parser;
  long long seen = 0;
  bool header_done = a.json;
  auto r = d.Stream(q, h, [&](const char* p, size_t n) {
    return parser.Feed(p, n, [&](const SseParser::Frame& f) {
      auto j = json::parse(f.data, nullptr, false);
      if (j.is_discarded()) return true;
      if (f.event == "reset") {
        std::fprintf(stderr, "lshd events: events after %s were pruned; going on from id %s\n",
                     Field(j, "requestedAfter").c_str(), Field(j, "oldestId").c_str());
        return true;
      }
      if (f.id.empty()) return true;  // control frames (connected) carry no id
      if (a.json) {
        std::printf("%s\n", j.dump().c_str());
      } else {
        // Rows arrive one at a time, so the columns have fixed widths.
        auto line = [](const std::vector<std::string>& row) {
          static const size_t widths[] = {6, 19, 16, 20, 0};
          std::string out;
          for (size_t i = 0; i < row.size(); ++i) {
            out += row[i];
            if (i + 1 < row.size())
              out += std::string(std::max(widths[i], row[i].size()) - row[i].size() + 2, ' ');
          }
          std::printf("%s\n", out.c_str());
        };
        if (!header_done) {
          header_done = true;
          line(kEventHeader);
        }
        line(EventRow(j));
      }
      std::fflush(stdout);
      return limit < 0 || ++seen < limit;
    });
  });
  if (limit >= 0 && seen >= limit) return kExitOk;
  if (!r.reached) return Unreachable(c, d, r.failure);
  if (r.status / 100 != 2) return DaemonError(c, a, r);
  return kExitOk;
}

int CmdOutbox(const Command& c, Args& a) {
  if (!a.positional.empty()) {
    if (a.positional[0] != "retry")
      return Usage(c, "unknown action '" + a.positional[0] + "' (only 'retry')");
    json body = json::object();
    if (a.positional.size() > 1) {
      body["ids"] = json::array();
      for (size_t i = 1; i < a.positional.size(); ++i) {
        const std::string& v = a.positional[i];
        if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), ::isdigit))
          return Usage(c, "outbox row ids are whole numbers, not '" + v + "'");
        body["ids"].push_back(std::stoll(v));
      }
    }
    LSH_CALL(r, c, a, "POST", "/outbox/retry", &body);
    if (a.json) {
      PrintJson(r);
      return kExitOk;
    }
    std::printf("retried %s parked row(s)\n", Field(r, "retried").c_str());
    return kExitOk;
  }
  LSH_CALL(o, c, a, "GET", "/outbox");
  if (a.json) {
    PrintJson(o);
    return kExitOk;
  }
  PrintPairs({
      {"sink", o.value("sink", json()).is_null() ? "none (replication off)" : Str(o["sink"])},
      {"pending", Field(o, "pending")},
      {"parked", Field(o, "parked")},
      {"delivered", Field(o, "delivered")},
      {"oldest pending", Field(o, "oldestPendingAgeSeconds") + "s"},
      {"last success", When(o.value("lastSuccessAt", json()))},
      {"last error", Field(o, "lastError")},
      {"stalled", Field(o, "stalled")},
  });
  const json& parked = o.value("parkedRows", json::array());
  if (parked.is_array() && !parked.empty()) {
    std::printf("\n");
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : parked)
      rows.push_back({Field(p, "id"), Field(p, "entity"), Field(p, "entityId"), Field(p, "op"),
                      Field(p, "version"), Field(p, "attempts"), When(p.value("createdAt", json())),
                      Field(p, "lastError")});
    PrintTable({"ROW", "ENTITY", "ENTITY ID", "OP", "VERSION", "ATTEMPTS", "CREATED", "LAST ERROR"},
               rows);
  }
  return kExitOk;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> cmds = {
      {"status",
       "status [--json]",
       "Show the daemon's state (GET /status).",
       "Version, pid, uptime, job and run counts, outbox depth and the database.",
       {},
       {},
       0,
       0,
       CmdStatus},
      {"jobs",
       "jobs [--status S] [--limit N] [--json]",
       "List jobs, newest first (GET /jobs).",
       "--status: created, scheduled, running, stopped, completed or failed.",
       {"--status", "--limit"},
       {},
       0,
       0,
       CmdJobs},
      {"add",
       "add NAME [--cron EXPR [--tz ZONE] | --every DURATION | --at TIME] [--timeout D] "
       "[--retries N] [--description TEXT] -- COMMAND…",
       "Create a job (POST /jobs).",
       "Everything after '--' is the command, run with /bin/sh -c. Options go before '--'.\n"
       "No schedule: the job runs when triggered. --cron takes 5 fields (or 6 with seconds)\n"
       "or @hourly/@daily/…, in --tz (an IANA zone, default UTC); --every a duration such as\n"
       "30s, 5m, 1h30m; --at an RFC 3339 time (once).",
       {"--cron", "--tz", "--every", "--at", "--timeout", "--retries", "--description"},
       {},
       1,
       1,
       CmdAdd},
      {"trigger",
       "trigger JOB [--wait DURATION]",
       "Queue a run of JOB now (POST /jobs/:id/trigger).",
       "JOB is a job's id or name. --wait holds the answer until the run ends (or the wait runs "
       "out).",
       {"--wait"},
       {},
       1,
       1,
       CmdTrigger},
      {"start",
       "start JOB",
       "Resume JOB's schedule (POST /jobs/:id/start).",
       "A job without a schedule is run now.",
       {},
       {},
       1,
       1,
       CmdStartStop},
      {"stop",
       "stop JOB [--signal SIG]",
       "Pause JOB and stop its runs (POST /jobs/:id/stop).",
       "Queued runs are cancelled; running ones get SIG (default SIGTERM), then SIGKILL.",
       {"--signal"},
       {},
       1,
       1,
       CmdStartStop},
      {"rm",
       "rm JOB [--force]",
       "Delete JOB (DELETE /jobs/:id).",
       "A job with an active run is refused unless --force, which stops it first.",
       {},
       {"--force"},
       1,
       1,
       CmdRm},
      {"runs",
       "runs JOB [--status S] [--limit N] [--json]",
       "List JOB's runs, newest first (GET /jobs/:id/runs).",
       "--status: queued, running, completed, failed, killed or timeout.",
       {"--status", "--limit"},
       {},
       1,
       1,
       CmdRuns},
      {"logs",
       "logs RUN [-f] [--stderr]",
       "Print a run's output (GET /runs/:id/log).",
       "-f/--follow streams the output while the run is active; --stderr shows stderr.",
       {},
       {"-f", "--follow", "--stderr"},
       1,
       1,
       CmdLogs},
      {"events",
       "events [-f] [--since ID] [--job JOB] [--types a,b] [--limit N] [--json]",
       "Print events from the durable log (GET /events.json; -f: GET /events).",
       "Without -f: events after --since (default: the oldest kept), at most --limit (100).\n"
       "-f/--follow: stream events as they happen (after --since, when given), one per line,\n"
       "until interrupted or after --limit events; with --json, one JSON object per line.",
       {"--since", "--job", "--types", "--limit"},
       {"-f", "--follow"},
       0,
       0,
       CmdEvents},
      {"outbox",
       "outbox [retry [ROW…]] [--json]",
       "Show replication state (GET /outbox), or retry parked rows (POST /outbox/retry).",
       "'outbox retry' puts every parked row back in the queue; with ROW ids only those.",
       {},
       {},
       0,
       1000,
       CmdOutbox},
  };
  return cmds;
}

}  // namespace

std::optional<long long> ParseDurationMs(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), ::isdigit)) {
    if (text.size() > 12) return std::nullopt;
    return std::stoll(text) * 1000;
  }
  long long total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i || j - i > 9) return std::nullopt;
    long long n = std::stoll(text.substr(i, j - i));
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    std::string unit = text.substr(j, k - j);
    long long mult;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60 * 1000;
    else if (unit == "h")
      mult = 3600 * 1000;
    else if (unit == "d")
      mult = 24 * 3600 * 1000LL;
    else
      return std::nullopt;
    total += n * mult;
    i = k;
  }
  return total;
}

const char* UsageText() {
  static const std::string text = [] {
    std::string t = "Client commands (talk HTTP to a daemon; lshd COMMAND --help for each):\n";
    for (const auto& c : Commands()) {
      std::string head = std::string("  ") + c.name;
      t += head + std::string(head.size() < 12 ? 12 - head.size() : 1, ' ') + c.about + "\n";
    }
    t += "  Options: --url URL (LSH_API_URL, default http://127.0.0.1:3030), --api-key KEY\n"
         "  (LSH_API_KEY), --json. Exit status: 0 done, 1 the daemon answered with an error,\n"
         "  2 usage error or the daemon could not be reached.\n";
    return t;
  }();
  return text.c_str();
}

std::optional<int> Dispatch(const std::string& cmd, const std::vector<std::string>& args) {
  for (const auto& c : Commands()) {
    if (cmd != c.name) continue;
    Args a;
    if (auto rc = Parse(c, args, a)) return *rc;
    if (a.help) {
      PrintHelp(c);
      return kExitOk;
    }
    return c.run(c, a);
  }
  return std::nullopt;
}

}  // namespace lsh::cli
