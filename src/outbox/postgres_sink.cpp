#include "outbox/postgres_sink.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <poll.h>

#include "outbox/mapping.h"

namespace lsh::outbox {

using nlohmann::json;

std::string SinkId(const std::string& kind, const std::string& url) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(url.data(), url.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out = kind + ":";
  for (unsigned int i = 0; i < 8 && i < n; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

namespace {

// INSERT INTO t (cols) SELECT cols FROM json_to_recordset($n::json) AS x(col type, …)
std::string InsertFrom(const RemoteTable& t, int param) {
  std::string cols, typed;
  for (const auto& [name, type] : t.columns) {
    if (!cols.empty()) {
      cols += ", ";
      typed += ", ";
    }
    cols += name;
    typed += std::string(name) + " " + type;
  }
  return std::string("INSERT INTO ") + t.name + " AS t (" + cols + ") SELECT " + cols +
         " FROM json_to_recordset($" + std::to_string(param) + "::json) AS x(" + typed + ")";
}

// ON CONFLICT (id) DO UPDATE SET every column but id, when the stored version is older.
std::string UpsertTail(const RemoteTable& t) {
  std::string set;
  for (const auto& [name, type] : t.columns) {
    if (std::string(name) == "id") continue;
    if (!set.empty()) set += ", ";
    set += std::string(name) + " = EXCLUDED." + name;
  }
  return " ON CONFLICT (id) DO UPDATE SET " + set +
         " WHERE t.version IS NULL OR t.version < EXCLUDED.version";
}

std::string Describe(const PGresult* res, const char* fallback) {
  std::string msg;
  if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) msg = m;
  if (msg.empty()) msg = fallback;
  if (const char* d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
    msg += " (" + std::string(d) + ")";
  if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE))
    msg += " [SQLSTATE " + std::string(s) + "]";
  return msg;
}

Outcome Classify(const std::string& sqlstate) {
  if (sqlstate == "23503") return Outcome::kForeignKey;
  std::string cls = sqlstate.substr(0, 2);
  if (cls == "21" || cls == "22" || cls == "23" || cls == "54") return Outcome::kRejected;
  return Outcome::kTransient;
}

}  // namespace

Status PostgresSink::Validate(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts) {
    PQconninfoFree(opts);
    return Status::Ok();
  }
  std::string why = err ? err : "unreadable";
  if (err) PQfreemem(err);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return Error::Invalid(
      "LSH_SYNC_DATABASE_URL is not a Postgres connection string "
      "(postgresql://user:pass@host:5432/db"
      "): " +
          why,
      "LSH_SYNC_DATABASE_URL");
}

PostgresSink::PostgresSink(std::string url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {
  id_ = SinkId("postgres", url_);
  label_ = "postgres";
  char* err = nullptr;
  if (PQconninfoOption* opts = PQconninfoParse(url_.c_str(), &err)) {
    std::string host, port, db;
    for (PQconninfoOption* o = opts; o->keyword; ++o) {
      if (!o->val) continue;
      std::string k = o->keyword;
      if (k == "host" || k == "hostaddr") host = o->val;
      if (k == "port") port = o->val;
      if (k == "dbname") db = o->val;
    }
    PQconninfoFree(opts);
    label_ += " " + host + (port.empty() ? "" : ":" + port) + (db.empty() ? "" : "/" + db);
  }
  if (err) PQfreemem(err);
  upsert_sql_ = "WITH j AS (" + InsertFrom(JobsTable(), 1) + UpsertTail(JobsTable()) +
                " RETURNING 1), r AS (" + InsertFrom(ExecutionsTable(), 2) +
                UpsertTail(ExecutionsTable()) +
                " RETURNING 1) SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM r)";
  events_sql_ = InsertFrom(EventsTable(), 1) + " ON CONFLICT (id) DO NOTHING";
}

PostgresSink::~PostgresSink() {
  Disconnect();
}

void PostgresSink::Disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Delivery PostgresSink::Connect() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return Delivery::Ok();
  Disconnect();
  std::string secs = std::to_string(std::max<long>(1, (timeout_.count() + 999) / 1000));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* vals[] = {url_.c_str(), secs.c_str(), "lshd-relay", nullptr};
  conn_ = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    Disconnect();
    return {Outcome::kTransient, "cannot connect to " + label_ + ": " + msg, std::nullopt};
  }
  // Non-blocking sends: a large batch meeting a partition must not block the
  // relay (and its Stop) in send(); Exec flushes under its deadline.
  if (PQsetnonblocking(conn_, 1) != 0) {
    std::string msg = PQerrorMessage(conn_);
    Disconnect();
    return {Outcome::kTransient, label_ + ": " + msg, std::nullopt};
  }
  return Delivery::Ok();
}

Delivery PostgresSink::Exec(const std::string& sql, const std::vector<std::string>& params) {
  if (auto d = Connect(); !d.ok()) return d;
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0)) {
    std::string msg = PQerrorMessage(conn_);
    Disconnect();
    return {Outcome::kTransient, label_ + ": " + msg, std::nullopt};
  }
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto ms_left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
        .count();
  };
  // The request may not have left yet: flush it, waiting for the socket to
  // take more (or for input, which libpq must read to make room).
  while (int f = PQflush(conn_)) {
    long left = ms_left();
    if (f < 0 || left <= 0) {
      std::string msg = f < 0 ? "connection lost: " + std::string(PQerrorMessage(conn_))
                              : "could not send within " + std::to_string(timeout_.count()) + " ms";
      Disconnect();
      return {Outcome::kTransient, label_ + ": " + msg, std::nullopt};
    }
    pollfd p{PQsocket(conn_), POLLIN | POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) {
      Disconnect();
      return {Outcome::kTransient, label_ + ": poll failed", std::nullopt};
    }
    if (r > 0 && (p.revents & POLLIN) && !PQconsumeInput(conn_)) {
      std::string msg = PQerrorMessage(conn_);
      Disconnect();
      return {Outcome::kTransient, label_ + ": connection lost: " + msg, std::nullopt};
    }
  }
  Delivery result = Delivery::Ok();
  bool failed = false;
  while (true) {
    while (PQisBusy(conn_)) {
      long left = ms_left();
      if (left <= 0) {
        Disconnect();  // the server may still apply it: at-least-once, versions keep it safe
        return {Outcome::kTransient,
                label_ + ": no answer within " + std::to_string(timeout_.count()) + " ms",
                std::nullopt};
      }
      pollfd p{PQsocket(conn_), POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno != EINTR) {
        Disconnect();
        return {Outcome::kTransient, label_ + ": poll failed", std::nullopt};
      }
      if (!PQconsumeInput(conn_)) {
        std::string msg = PQerrorMessage(conn_);
        Disconnect();
        return {Outcome::kTransient, label_ + ": connection lost: " + msg, std::nullopt};
      }
    }
    PGresult* res = PQgetResult(conn_);
    if (!res) break;
    ExecStatusType st = PQresultStatus(res);
    if (!failed && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      failed = true;
      const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      result = {Classify(state ? state : ""), label_ + ": " + Describe(res, PQerrorMessage(conn_)),
                std::nullopt};
    }
    PQclear(res);
  }
  if (PQstatus(conn_) != CONNECTION_OK) Disconnect();
  return result;
}

Delivery PostgresSink::Upsert(const std::vector<json>& jobs, const std::vector<json>& runs) {
  return Exec(upsert_sql_, {Dump(jobs), Dump(runs)});
}

Delivery PostgresSink::InsertEvents(const std::vector<std::string>& events) {
  return Exec(events_sql_, {JoinArray(events)});
}

}  // namespace lsh::outbox
