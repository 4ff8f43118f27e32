#include "outbox/rest_sink.h"

#include <httplib.h>

#include <regex>

#include "outbox/mapping.h"
#include "outbox/postgres_sink.h"

namespace lsh::outbox {

using nlohmann::json;

namespace {

std::string Columns(const RemoteTable& t) {
  std::string out;
  for (const auto& [name, type] : t.columns) {
    if (!out.empty()) out += ",";
    out += name;
  }
  return out;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseRetryAfter(const std::string& v) {
  char* end = nullptr;
  long secs = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || end == v.c_str() || secs < 0) return std::nullopt;  // an HTTP-date: our backoff
  return std::chrono::milliseconds(std::min<long>(secs, 3600) * 1000);
}

Delivery ClassifyReply(int status, const std::string& body, const std::string& retry_after,
                       const std::string& where) {
  if (status >= 200 && status < 300) return Delivery::Ok();
  std::string detail;
  std::string code;
  json answer = json::parse(body, nullptr, false);
  if (answer.is_object()) {
    if (answer.contains("code") && answer["code"].is_string()) code = answer["code"];
    for (const char* k : {"message", "details", "hint"}) {
      if (answer.contains(k) && answer[k].is_string() && !answer[k].get<std::string>().empty())
        detail += (detail.empty() ? "" : "; ") + answer[k].get<std::string>();
    }
  } else {
    detail = body.substr(0, 200);
  }
  std::string error = where + ": HTTP " + std::to_string(status) +
                      (code.empty() ? "" : " " + code) + (detail.empty() ? "" : ": " + detail);
  if (status == 408 || status == 429 || status >= 500 || status == 401 || status == 403 ||
      status == 404)
    return {Outcome::kTransient, error, ParseRetryAfter(retry_after)};
  if (status == 409 && code == "23503") return {Outcome::kForeignKey, error, std::nullopt};
  return {Outcome::kRejected, error, std::nullopt};
}

Result<std::unique_ptr<RestSink>> RestSink::Create(const std::string& url, const std::string& key,
                                                   std::chrono::milliseconds timeout) {
  static const std::regex re(R"(^(https?)://([^/:?#]+)(:[0-9]+)?(/[^?#]*)?$)");
  std::smatch m;
  if (!std::regex_match(url, m, re))
    return Error::Invalid(
        "SUPABASE_URL must look like https://<project>.supabase.co, not '" + url + "'",
        "SUPABASE_URL");
  std::unique_ptr<RestSink> s(new RestSink());
  s->key_ = key;
  s->timeout_ = timeout;
  s->base_path_ = m[4].str();
  while (!s->base_path_.empty() && s->base_path_.back() == '/') s->base_path_.pop_back();
  std::string scheme_host_port = m[1].str() + "://" + m[2].str() + m[3].str();
  s->id_ = SinkId("supabase", scheme_host_port + s->base_path_);
  s->label_ = "supabase " + scheme_host_port + s->base_path_;
  s->client_ = std::make_unique<httplib::Client>(scheme_host_port);
  if (!s->client_->is_valid())
    return Error::Invalid("SUPABASE_URL '" + url + "' cannot be used (https needs OpenSSL)",
                          "SUPABASE_URL");
  auto secs = timeout.count() / 1000, usecs = (timeout.count() % 1000) * 1000;
  s->client_->set_connection_timeout(secs, usecs);
  s->client_->set_read_timeout(secs, usecs);
  s->client_->set_write_timeout(secs, usecs);
  s->client_->set_keep_alive(true);
  s->client_->enable_server_certificate_verification(true);
  s->client_->set_compress(false);
  return s;
}

RestSink::~RestSink() = default;

Delivery RestSink::Post(const char* table, const std::string& columns, const char* prefer,
                        size_t rows, const std::string& body) {
  if (rows == 0) return Delivery::Ok();
  std::string path = base_path_ + "/rest/v1/" + table + "?on_conflict=id&columns=" + columns;
  httplib::Headers headers = {{"apikey", key_}, {"Prefer", prefer}};
  if (key_.rfind("eyJ", 0) == 0) headers.emplace("Authorization", "Bearer " + key_);
  auto res = client_->Post(path, headers, body, "application/json");
  std::string where = label_ + " " + table;
  if (!res) {
    client_->stop();  // drop a half-used connection; the next call reconnects
    return {Outcome::kTransient, where + ": " + httplib::to_string(res.error()), std::nullopt};
  }
  return ClassifyReply(res->status, res->body, res->get_header_value("Retry-After"), where);
}

Delivery RestSink::Upsert(const std::vector<json>& jobs, const std::vector<json>& runs) {
  static const std::string job_cols = Columns(JobsTable());
  static const std::string run_cols = Columns(ExecutionsTable());
  const char* prefer = "resolution=merge-duplicates, return=minimal";
  if (auto d = Post(JobsTable().name, job_cols, prefer, jobs.size(), Dump(jobs)); !d.ok()) return d;
  return Post(ExecutionsTable().name, run_cols, prefer, runs.size(), Dump(runs));
}

Delivery RestSink::InsertEvents(const std::vector<std::string>& events) {
  static const std::string cols = Columns(EventsTable());
  return Post(EventsTable().name, cols, "resolution=ignore-duplicates, return=minimal",
              events.size(), JoinArray(events));
}

}  // namespace lsh::outbox
