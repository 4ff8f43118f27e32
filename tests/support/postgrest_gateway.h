// Test support: a PostgREST stand-in on loopback that speaks the bulk upsert
// contract the Supabase sink uses, and executes the equivalent SQL on a real
// PostgreSQL (support/postgres.h), so mapping and conflict handling are
// checked for real:
//
//   POST /rest/v1/<table>?on_conflict=id&columns=a,b,…
//   apikey: <key>   (Authorization: Bearer <key> only for JWT keys, eyJ…)
//   Prefer: resolution=merge-duplicates|ignore-duplicates, return=minimal
//   body: a JSON array of objects with exactly the `columns` keys
//   -> 201, or PostgREST's status with {"code","details","hint","message"}
//
// merge-duplicates runs INSERT … ON CONFLICT (id) DO UPDATE SET every column
// (the remote BEFORE UPDATE guard keeps newer rows), ignore-duplicates runs
// ON CONFLICT DO NOTHING. SQLSTATE -> status as PostgREST maps it (23503 and
// 23505: 409, 23502/23514/22xxx/42703: 400, 42P01: 404).
//
// Faults for the next N requests (or until cleared): 503 with Retry-After,
// 500, 520, a slow reply (applied, answered after `slow_ms`), a connection
// dropped mid-response (applied, the body cut). Stop() closes the port so
// connections are refused; Start() opens the same port again.
//
// Thread-safety: every method may be called from any thread; requests are
// served one at a time.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace lsh::test {

class PgConn;

class PostgrestGateway {
 public:
  enum class Fault { kNone, kUnavailable503, kError500, kError520, kSlow, kDrop };
  struct Request {
    std::string path;
    std::map<std::string, std::string> params;
    std::map<std::string, std::string> headers;  // apikey, authorization, prefer, content-type
    int status = 0;
    size_t rows = 0;
  };

  PostgrestGateway(std::string pg_url, std::string api_key);
  ~PostgrestGateway();

  void Start();  // listens on 127.0.0.1 (the same port after a Stop)
  void Stop();   // closes the port: connections are refused
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The next `count` requests (-1: every one until set again) get `fault`.
  void SetFault(Fault fault, int count = -1, int slow_ms = 1500, int retry_after_s = 1);
  int faults_served() const { return faults_served_.load(); }
  int requests() const { return requests_.load(); }
  int successes() const { return successes_.load(); }
  std::vector<Request> log() const;

 private:
  void Serve(const std::string& table, const std::string& query_string,
             std::map<std::string, std::string> headers, const std::string& body, int& status,
             std::string& reply, bool& drop, int& sleep_ms, int& retry_after);

  const std::string pg_url_;
  const std::string key_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;

  mutable std::mutex mu_;  // guards everything below and the SQL connection
  std::unique_ptr<PgConn> pg_;
  Fault fault_ = Fault::kNone;
  int fault_count_ = 0;
  int slow_ms_ = 1500;
  int retry_after_s_ = 1;
  std::vector<Request> log_;
  std::atomic<int> faults_served_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> successes_{0};
};

}  // namespace lsh::test
