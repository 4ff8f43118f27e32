// Pure parts of the command-line client (src/cli/cli.h).
#include <catch2/catch.hpp>

#include "cli/cli.h"

using lsh::cli::ParseDurationMs;

TEST_CASE("cli durations parse units and combinations", "[unit][cli]") {
  CHECK(ParseDurationMs("45") == 45000);
  CHECK(ParseDurationMs("500ms") == 500);
  CHECK(ParseDurationMs("30s") == 30000);
  CHECK(ParseDurationMs("5m") == 300000);
  CHECK(ParseDurationMs("1h30m") == 5400000);
  CHECK(ParseDurationMs("2d") == 172800000);
  CHECK(ParseDurationMs("1h0m5s") == 3605000);
  for (const char* bad : {"", "m", "5x", "1.5h", "-5s", "5 m", "h1", "99999999999999"})
    CHECK_FALSE(ParseDurationMs(bad).has_value());
}
