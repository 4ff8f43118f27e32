#include <catch2/catch.hpp>
#include "schedule/cron.h"
TEST_CASE("smoke", "[cron]") {
  auto s = lsh::schedule::ParseCron("*/15 * * * *");
  REQUIRE(s.ok());
}
