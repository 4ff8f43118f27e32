// Fuzz target: request targets, i.e. route matching (src/http/router.h) and
// the query parameters the routes read (src/http/params.h), after the same
// decoding cpp-httplib applies. The input is a method selector byte and a
// request target "path?query".
// Invariants: never crashes or throws; a match binds exactly the pattern's
// ":name" parts, each a non-empty segment without '/'; a 405 has allowed
// methods and a 404 none; an accepted limit is within 1..max.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <httplib.h>

#include "http/params.h"
#include "http/router.h"

namespace {

// The routes of src/http/routes_*.cpp (API.md).
constexpr const char* kRoutes[][2] = {{"GET", "/health"},
                                      {"GET", "/"},
                                      {"GET", "/status"},
                                      {"POST", "/jobs"},
                                      {"GET", "/jobs"},
                                      {"GET", "/jobs/:id"},
                                      {"PATCH", "/jobs/:id"},
                                      {"PUT", "/jobs/:id"},
                                      {"DELETE", "/jobs/:id"},
                                      {"POST", "/jobs/bulk"},
                                      {"GET", "/export/jobs"},
                                      {"POST", "/jobs/:id/trigger"},
                                      {"POST", "/jobs/:id/start"},
                                      {"POST", "/jobs/:id/stop"},
                                      {"GET", "/jobs/:id/runs"},
                                      {"GET", "/runs/:id"},
                                      {"GET", "/runs/:id/log"},
                                      {"GET", "/events"},
                                      {"GET", "/events.json"}};
constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"};

void Fail(const char* what, const std::string& target) {
  std::fprintf(stderr, "%s: '%s'\n", what, target.c_str());
  std::abort();
}

const lsh::http::Router<int>& TheRouter() {
  static const auto* r = [] {
    auto* router = new lsh::http::Router<int>();
    int i = 0;
    for (const auto& route : kRoutes) router->Add(route[0], route[1], i++);
    return router;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* method = kMethods[data[0] % (sizeof(kMethods) / sizeof(kMethods[0]))];
  std::string target(reinterpret_cast<const char*>(data + 1), size - 1);

  // cpp-httplib: the path is URL-decoded (no '+' to space), the query parsed.
  httplib::Request req;
  size_t q = target.find('?');
  req.path = httplib::detail::decode_url(target.substr(0, q), false);
  if (q != std::string::npos) httplib::detail::parse_query_text(target.substr(q + 1), req.params);

  auto m = TheRouter().Find(method, req.path);
  if (m.handler) {
    if (m.pattern.empty() || m.method_mismatch) Fail("a match without its pattern", target);
    size_t placeholders = 0;
    for (char c : m.pattern) placeholders += c == ':';
    if (m.params.size() != placeholders) Fail("params do not match the pattern", target);
    for (const auto& [k, v] : m.params) {
      if (m.pattern.find(":" + k) == std::string::npos) Fail("a param not in the pattern", target);
      if (v.empty() || v.find('/') != std::string::npos) Fail("a param is not one segment", target);
    }
  } else if (m.method_mismatch == m.allowed.empty()) {
    Fail("405 needs allowed methods, 404 none", target);
  }

  auto limit = lsh::http::LimitParam(req, 100, 1000);
  if (limit && (*limit < 1 || *limit > 1000)) Fail("limit out of range", target);
  if (!limit && limit.error().field != "limit") Fail("limit error names another field", target);
  (void)lsh::http::TrueParam(req, "force");
  (void)lsh::http::TrueParam(req, "follow");
  if (req.has_param("since")) {
    auto since = lsh::http::ParseEventCursor(req.get_param_value("since"), "since");
    if (since && *since < 0) Fail("negative cursor", target);
  }
  return 0;
}
