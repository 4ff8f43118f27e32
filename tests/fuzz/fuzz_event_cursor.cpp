// Fuzz target: the event cursor of GET /events and /events.json, the value
// of Last-Event-ID or ?since= (src/http/params.h ParseEventCursor).
// Invariants: never crashes; accepted exactly when the value is 1 to 18
// ASCII digits, and then the id is that number; a refusal names the field.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view v(reinterpret_cast<const char*>(data), size);
  auto id = lsh::http::ParseEventCursor(v, "Last-Event-ID");
  bool digits =
      !v.empty() && v.size() <= 18 && v.find_first_not_of("0123456789") == std::string_view::npos;
  if (id.ok() != digits) {
    std::fprintf(stderr, "cursor '%.*s' accepted=%d\n", int(size), v.data(), int(id.ok()));
    std::abort();
  }
  if (id.ok() && *id != std::stoll(std::string(v))) std::abort();
  if (!id.ok() && id.error().field != "Last-Event-ID") std::abort();
  return 0;
}
