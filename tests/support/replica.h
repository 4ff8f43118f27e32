// Test support for the relay's tests (tests/replication, and the partition
// test in tests/fault): the remote schema, fast relay settings, the daemon's
// /outbox, and the check that the remote copy equals the local database,
// read straight from the daemon's SQLite file. Catch2 assertions inside.
//
// Thread-safety: call from the test's main thread (Catch2 asserts).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/daemon.h"
#include "support/postgres.h"

namespace lsh::test::replica {

// Applies `lshd supabase-schema` to the remote database.
void ApplySchema(PgConn& pg);
// Fast retries and stall detection, so outages take seconds in tests.
std::map<std::string, std::string> RelayEnv(std::map<std::string, std::string> env);
nlohmann::json Outbox(const TestDaemon& d);  // GET /outbox
bool Drained(const TestDaemon& d);           // nothing pending

// Local rows, read straight from the daemon's SQLite file.
struct LocalRow {
  int64_t version;
  std::string a, b;  // jobs: name, description; runs: status, job_id
};
std::map<std::string, LocalRow> LocalJobs(const TestDaemon& d);
std::map<std::string, LocalRow> LocalRuns(const TestDaemon& d);
int64_t LocalCount(const TestDaemon& d, const std::string& sql);

// Remote equals local: every job and run, same version and content, nothing else.
void CheckRemoteEqualsLocal(const TestDaemon& d, PgConn& pg);

nlohmann::json CreateJob(const TestDaemon& d, const nlohmann::json& body);  // REQUIREs 201
std::vector<std::string> EventTypes(const TestDaemon& d);  // of the newest 1000 events

}  // namespace lsh::test::replica
