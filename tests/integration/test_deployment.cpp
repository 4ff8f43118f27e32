// The seed's deployment check (scripts/test_lsh_deployment.sh) against a
// running daemon, with and without an API key.
#include <catch2/catch.hpp>
#include <cstdio>

#include "support/daemon.h"

using lsh::test::TestDaemon;

namespace {
int RunScript(const std::string& env, std::string& out) {
  std::string cmd = env + " bash " LSH_SOURCE_DIR "/scripts/test_lsh_deployment.sh 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return pclose(p);
}
}  // namespace

TEST_CASE("the seed's deployment check passes against the daemon", "[deployment]") {
  TestDaemon d;
  d.Start();
  std::string out;
  int rc = RunScript("LSH_API_URL=http://127.0.0.1:" + std::to_string(d.port()), out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("All tests passed") != std::string::npos);
}

TEST_CASE("the deployment check sends the key and fails without it", "[deployment]") {
  TestDaemon::Options o;
  o.env["LSH_API_KEY"] = "deploy-key";
  TestDaemon d(o);
  d.Start();
  std::string url = "LSH_API_URL=http://127.0.0.1:" + std::to_string(d.port()) + "/api";
  std::string ok_out, bad_out;
  CHECK(RunScript(url + " LSH_API_KEY=deploy-key", ok_out) == 0);
  CHECK(ok_out.find("All tests passed") != std::string::npos);
  CHECK(RunScript(url + " LSH_API_KEY=", bad_out) != 0);
  CHECK(bad_out.find("Status check failed") != std::string::npos);
}
