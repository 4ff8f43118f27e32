// RestSink: delivers remote rows to Supabase through PostgREST
// (SUPABASE_URL, SUPABASE_KEY): bulk upserts
//   POST {url}/rest/v1/lsh_jobs?on_conflict=id&columns=…
//   Prefer: resolution=merge-duplicates, return=minimal
// then the same for lsh_job_executions, and events into lsh_events with
// resolution=ignore-duplicates. Rows have uniform keys (mapping.h). The key
// goes in `apikey`; a legacy JWT key (eyJ…) also goes in `Authorization:
// Bearer`, new `sb_secret_…` keys do not. HTTPS verifies the server's
// certificate against the system CA store (SSL_CERT_FILE overrides it);
// connecting and each reply are bounded by the timeout.
//
// Replies map to Outcome: 2xx kOk; no reply, 408, 429, 5xx (520 included)
// kTransient with Retry-After; 401, 403 and 404 (wrong key, schema not
// applied) kTransient too, since parking every row for a configuration
// mistake would help no one; 409 with code 23503 kForeignKey; any other 4xx
// kRejected, with PostgREST's {"code","details","hint","message"} as the error.
//
// Thread-safety: used by one thread (the relay's).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "outbox/sink.h"

namespace httplib {
class Client;
}

namespace lsh::outbox {

// How a PostgREST reply maps to an Outcome (the rules above): the status,
// the body ({"code","details","hint","message"} or anything else) and the
// Retry-After header ("" when absent). `where` prefixes the error text.
// Pure, so it is fuzzed (tests/fuzz) and unit-tested.
Delivery ClassifyReply(int status, const std::string& body, const std::string& retry_after,
                       const std::string& where);
// Retry-After in seconds (capped at an hour); an HTTP-date or garbage: none.
std::optional<std::chrono::milliseconds> ParseRetryAfter(const std::string& value);

class RestSink final : public Sink {
 public:
  // Fails when the URL is not http(s)://host[:port][/path].
  static Result<std::unique_ptr<RestSink>> Create(const std::string& url, const std::string& key,
                                                  std::chrono::milliseconds timeout);
  ~RestSink() override;

  Delivery Upsert(const std::vector<nlohmann::json>& jobs,
                  const std::vector<nlohmann::json>& runs) override;
  Delivery InsertEvents(const std::vector<std::string>& events) override;
  const char* kind() const override { return "supabase"; }
  std::string id() const override { return id_; }
  std::string label() const override { return label_; }

 private:
  RestSink() = default;
  Delivery Post(const char* table, const std::string& columns, const char* prefer, size_t rows,
                const std::string& body);

  // Constant after construction.
  std::string key_;
  std::string base_path_;  // the URL's path, without a trailing slash
  std::string id_;
  std::string label_;
  std::chrono::milliseconds timeout_{10000};
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace lsh::outbox
