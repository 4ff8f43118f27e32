// Test support: a real PostgreSQL 15 (Debian's /usr/lib/postgresql/15/bin),
// started and stopped by the tests themselves, and a small libpq client.
//
// PgServer runs initdb and postgres as the `postgres` user (when the tests
// run as root; as the current user otherwise) in a fresh temp directory,
// listening only on 127.0.0.1 on a free port, with fsync=off (the data is
// thrown away). The destructor stops it (immediate shutdown) and removes the
// directory, on failure too; the server also gets SIGQUIT if the test
// process dies (PR_SET_PDEATHSIG). Shared() is one server per process; each
// test takes its own database from CreateDatabase().
//
// No Catch2 here (the drain benchmark uses it too): failures throw
// std::runtime_error with the server's log tail.
//
// Thread-safety: a PgServer is driven by one thread; a PgConn belongs to one
// thread at a time.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

struct pg_conn;

namespace lsh::test {

class PgServer {
 public:
  struct Options {
    bool fsync = false;  // true: a durable server, for honest benchmark figures
  };
  PgServer() : PgServer(Options{}) {}
  explicit PgServer(Options options);
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  static PgServer& Shared();

  int port() const { return port_; }
  // postgresql://postgres@127.0.0.1:<port>/<db>
  std::string Url(const std::string& db = "postgres") const;
  // A new empty database; returns its URL.
  std::string CreateDatabase();
  std::string LogTail() const;

 private:
  void Shutdown();  // stops the server and removes the directory; safe twice

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int next_db_ = 0;
};

using PgRow = std::vector<std::optional<std::string>>;

class PgConn {
 public:
  explicit PgConn(const std::string& url);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one or more statements; throws with the server's message on error.
  void Exec(const std::string& sql);
  // Runs one statement with text parameters; returns its rows.
  std::vector<PgRow> Query(const std::string& sql, const std::vector<std::string>& params = {});
  // The first column of the first row (throws when there is none or it is NULL).
  std::string Scalar(const std::string& sql, const std::vector<std::string>& params = {});
  int64_t Count(const std::string& sql, const std::vector<std::string>& params = {});

  // The same, but errors come back: empty on success, else
  // {sqlstate, message, detail, hint}.
  struct PgError {
    std::string sqlstate, message, detail, hint;
  };
  std::optional<PgError> TryExec(const std::string& sql, const std::vector<std::string>& params);

 private:
  pg_conn* conn_ = nullptr;
};

}  // namespace lsh::test
