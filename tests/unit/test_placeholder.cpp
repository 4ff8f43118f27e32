#include <catch2/catch.hpp>
#include "core/error.h"
TEST_CASE("Result holds a value or an error", "[core]") {
  lsh::Result<int> a = 3;
  lsh::Result<int> b = lsh::Error::NotFound("x");
  CHECK(a.ok());
  CHECK(*a == 3);
  CHECK(!b.ok());
  CHECK(b.error().kind == lsh::ErrorKind::kNotFound);
}
