// PostgresSink: delivers remote rows straight to a Postgres database through
// libpq (LSH_SYNC_DATABASE_URL, e.g. Supabase's direct or pooled connection
// string). One round trip per batch: a single statement upserts the jobs and
// then the runs from two JSON arrays (`INSERT … SELECT … FROM
// json_to_recordset($1) ON CONFLICT (id) DO UPDATE … WHERE` the stored
// version is older). Only unnamed statements are used, so it works through a
// transaction-mode pooler (PgBouncer, Supavisor); TLS is whatever the URL's
// sslmode asks for.
//
// Failures map to Outcome by SQLSTATE: 23503 (foreign key) -> kForeignKey;
// classes 21, 22, 23 and 54 (the data itself) -> kRejected; everything else
// (connection lost, timeout, missing table, auth) -> kTransient, and the
// connection is dropped and reopened on the next call.
//
// Thread-safety: used by one thread (the relay's).
#pragma once

#include <chrono>
#include <string>

#include "core/error.h"
#include "outbox/sink.h"

struct pg_conn;

namespace lsh::outbox {

class PostgresSink final : public Sink {
 public:
  // `timeout` bounds connecting and each statement.
  PostgresSink(std::string url, std::chrono::milliseconds timeout);
  // Whether libpq can read `url` as a connection string (the message names
  // LSH_SYNC_DATABASE_URL and says why not; never echoes the password).
  static Status Validate(const std::string& url);
  ~PostgresSink() override;

  Delivery Upsert(const std::vector<nlohmann::json>& jobs,
                  const std::vector<nlohmann::json>& runs) override;
  Delivery InsertEvents(const std::vector<std::string>& events) override;
  const char* kind() const override { return "postgres"; }
  std::string id() const override { return id_; }
  std::string label() const override { return label_; }

 private:
  Delivery Exec(const std::string& sql, const std::vector<std::string>& params);
  Delivery Connect();
  void Disconnect();

  // Constant after construction.
  const std::string url_;
  const std::chrono::milliseconds timeout_;
  std::string id_;
  std::string label_;
  std::string upsert_sql_;
  std::string events_sql_;

  pg_conn* conn_ = nullptr;  // open connection, or null
};

// "kind:" + the first 16 hex digits of SHA-256(url): identifies a sink
// without keeping its credentials.
std::string SinkId(const std::string& kind, const std::string& url);

}  // namespace lsh::outbox
