#include "support/postgres.h"

#include "support/wait.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lsh::test {
namespace fs = std::filesystem;

namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// Runs argv as the postgres user (when root), output appended to `log`.
// wait: returns the exit status; otherwise returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log, bool wait,
            bool die_with_parent) {
  const passwd* pw = ::geteuid() == 0 ? ::getpwnam("postgres") : nullptr;
  if (::geteuid() == 0 && !pw) throw std::runtime_error("no postgres user on this machine");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setpgid(0, 0);
    if (pw) {
      if (::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) _exit(126);
      ::setenv("HOME", pw->pw_dir, 1);
      ::setenv("USER", "postgres", 1);
    }
    if (die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGQUIT);  // after setuid, which clears it
    ::setenv("LC_ALL", "C", 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  if (!wait) return pid;
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

PgServer::PgServer(Options options) {
  std::string tmpl = (fs::temp_directory_path() / "lshpg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot give " + dir_ + " to the postgres user");
  }
  std::string log = dir_ + "/server.log";
  std::string data = dir_ + "/data";
  int rc = Spawn({std::string(kBin) + "/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E",
                  "UTF8", "--no-sync", "--no-instructions"},
                 log, true, false);
  if (rc != 0)
    throw std::runtime_error("initdb failed (" + std::to_string(rc) + "):\n" + LogTail());
  std::string fsync = options.fsync ? "on" : "off";
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreeLoopbackPort();
    pid_ = Spawn({std::string(kBin) + "/postgres", "-D", data, "-p", std::to_string(port_), "-k",
                  dir_, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=" + fsync, "-c",
                  "synchronous_commit=" + fsync, "-c", "full_page_writes=" + fsync, "-c",
                  "max_connections=60", "-c", "log_min_messages=warning"},
                 log, false, true);
    bool exited = false;
    bool up = WaitFor(
        [&] {
          if (PQping(Url().c_str()) == PQPING_OK) return true;
          int st = 0;
          if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            exited = true;  // the port was taken meanwhile, most likely: another one
            pid_ = -1;
          }
          return exited;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(20));
    if (up && !exited) return;
    if (!exited) break;
  }
  std::string tail = LogTail();
  Shutdown();
  throw std::runtime_error("PostgreSQL did not start:\n" + tail);
}

PgServer::~PgServer() {
  Shutdown();
}

void PgServer::Shutdown() {
  if (pid_ > 0) {
    ::kill(pid_, SIGQUIT);  // immediate shutdown: the data is thrown away
    bool gone = WaitFor([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; },
                        std::chrono::seconds(10), std::chrono::milliseconds(10));
    if (!gone) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

PgServer& PgServer::Shared() {
  static PgServer server;
  return server;
}

std::string PgServer::Url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgServer::CreateDatabase() {
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++next_db_);
  PgConn c(Url());
  c.Exec("CREATE DATABASE " + name);
  return Url(name);
}

std::string PgServer::LogTail() const {
  std::string s = ReadFile(dir_ + "/server.log");
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

PgConn::PgConn(const std::string& url) {
  conn_ = PQconnectdb(url.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw std::runtime_error("cannot connect to " + url + ": " + msg);
  }
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

PgConn::~PgConn() {
  if (conn_) PQfinish(conn_);
}

void PgConn::Exec(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  std::string msg = PQresultErrorMessage(r);
  PQclear(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error("SQL failed: " + msg + "\n" + sql.substr(0, 300));
}

std::vector<PgRow> PgConn::Query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> vals;
  for (const auto& p : params) vals.push_back(p.c_str());
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(vals.size()), nullptr,
                             vals.data(), nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    throw std::runtime_error("SQL failed: " + msg + "\n" + sql.substr(0, 300));
  }
  std::vector<PgRow> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    PgRow row;
    for (int j = 0; j < PQnfields(r); ++j) {
      if (PQgetisnull(r, i, j))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
    }
    rows.push_back(std::move(row));
  }
  PQclear(r);
  return rows;
}

std::string PgConn::Scalar(const std::string& sql, const std::vector<std::string>& params) {
  auto rows = Query(sql, params);
  if (rows.empty() || rows[0].empty() || !rows[0][0])
    throw std::runtime_error("no value from: " + sql);
  return *rows[0][0];
}

int64_t PgConn::Count(const std::string& sql, const std::vector<std::string>& params) {
  return std::stoll(Scalar(sql, params));
}

std::optional<PgConn::PgError> PgConn::TryExec(const std::string& sql,
                                               const std::vector<std::string>& params) {
  std::vector<const char*> vals;
  for (const auto& p : params) vals.push_back(p.c_str());
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(vals.size()), nullptr,
                             vals.data(), nullptr, nullptr, 0);
  std::optional<PgError> err;
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    auto field = [&](int f) {
      const char* v = PQresultErrorField(r, f);
      return std::string(v ? v : "");
    };
    err = PgError{field(PG_DIAG_SQLSTATE), field(PG_DIAG_MESSAGE_PRIMARY),
                  field(PG_DIAG_MESSAGE_DETAIL), field(PG_DIAG_MESSAGE_HINT)};
    if (err->message.empty()) err->message = PQerrorMessage(conn_);
  }
  PQclear(r);
  return err;
}

}  // namespace lsh::test
