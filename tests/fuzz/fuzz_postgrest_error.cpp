// Fuzz target: how the Supabase REST sink reads a PostgREST reply
// (src/outbox/rest_sink.h ClassifyReply, ParseRetryAfter). The input is a
// status byte pair, a Retry-After length byte and value, then the body.
// Invariants: never crashes; 2xx is ok and nothing else is; 408, 429, 5xx,
// 401, 403 and 404 are transient; a foreign-key outcome only for 409 with
// code 23503; an error text always starts with the place and the status;
// Retry-After is only kept for transient replies and never above an hour.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "outbox/rest_sink.h"

using lsh::outbox::ClassifyReply;
using lsh::outbox::Outcome;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  int status = 100 + (data[0] << 8 | data[1]) % 500;
  size_t ra_len = std::min<size_t>(data[2], size - 3);
  std::string retry_after(reinterpret_cast<const char*>(data + 3), ra_len);
  std::string body(reinterpret_cast<const char*>(data + 3 + ra_len), size - 3 - ra_len);
  auto d = ClassifyReply(status, body, retry_after, "sink t");
  bool ok = status >= 200 && status < 300;
  if (d.ok() != ok) std::abort();
  if (ok) return 0;
  bool transient = status == 408 || status == 429 || status >= 500 || status == 401 ||
                   status == 403 || status == 404;
  if ((d.outcome == Outcome::kTransient) != transient) std::abort();
  if (d.outcome == Outcome::kForeignKey &&
      (status != 409 || body.find("23503") == std::string::npos))
    std::abort();
  if (d.error.rfind("sink t: HTTP " + std::to_string(status), 0) != 0) std::abort();
  if (d.retry_after &&
      (!transient || d.retry_after->count() > 3600000 || d.retry_after->count() < 0))
    std::abort();
  return 0;
}
