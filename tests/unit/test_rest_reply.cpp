// How the Supabase REST sink reads PostgREST's replies (rest_sink.h
// ClassifyReply): the outcome that decides retry, defer or park.
#include <catch2/catch.hpp>

#include "outbox/rest_sink.h"

using lsh::outbox::ClassifyReply;
using lsh::outbox::Outcome;
using lsh::outbox::ParseRetryAfter;

TEST_CASE("PostgREST replies map to ok transient foreign-key and rejected", "[outbox]") {
  CHECK(ClassifyReply(201, "", "", "t").ok());
  CHECK(ClassifyReply(204, "not json", "", "t").ok());
  for (int st : {408, 429, 500, 502, 503, 520, 401, 403, 404})
    CHECK(ClassifyReply(st, "", "", "t").outcome == Outcome::kTransient);
  auto fk = ClassifyReply(
      409,
      R"({"code":"23503","details":"Key (job_id)=(x) is not present","hint":null,"message":"insert or update violates foreign key constraint"})",
      "", "supabase lsh_job_executions");
  CHECK(fk.outcome == Outcome::kForeignKey);
  CHECK(fk.error ==
        "supabase lsh_job_executions: HTTP 409 23503: insert or update violates foreign key "
        "constraint; Key (job_id)=(x) is not present");
  auto bad = ClassifyReply(
      400, R"({"code":"22P02","message":"invalid input syntax for type uuid"})", "", "t");
  CHECK(bad.outcome == Outcome::kRejected);
  CHECK(bad.error == "t: HTTP 400 22P02: invalid input syntax for type uuid");
  // Another 409 (a unique violation) is not a missing parent.
  CHECK(ClassifyReply(409, R"({"code":"23505","message":"duplicate key"})", "", "t").outcome ==
        Outcome::kRejected);
  // A body that is not PostgREST's shape is quoted, cut at 200 characters.
  auto html = ClassifyReply(400, std::string(500, '<'), "", "t");
  CHECK(html.outcome == Outcome::kRejected);
  CHECK(html.error == "t: HTTP 400: " + std::string(200, '<'));
  CHECK(ClassifyReply(400, R"({"code":7,"message":["x"]})", "", "t").error == "t: HTTP 400");
}

TEST_CASE("Retry-After is honoured in seconds up to an hour and ignored otherwise", "[outbox]") {
  auto d = ClassifyReply(503, "", "7", "t");
  REQUIRE(d.retry_after.has_value());
  CHECK(d.retry_after->count() == 7000);
  CHECK(ParseRetryAfter("999999")->count() == 3600000);
  CHECK_FALSE(ParseRetryAfter("").has_value());
  CHECK_FALSE(ParseRetryAfter("-3").has_value());
  CHECK_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  CHECK_FALSE(ClassifyReply(400, "{}", "5", "t").retry_after.has_value());  // parked, not retried
}
