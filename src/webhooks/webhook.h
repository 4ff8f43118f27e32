// Webhook building blocks: endpoint URL validation, the request body and its
// signature. Pure functions; the deliverer (deliverer.h) sends what these
// build.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/error.h"

namespace lsh::webhooks {

struct Url {
  std::string scheme;  // http or https
  std::string host;    // without brackets for IPv6
  int port = 0;
  std::string path;  // "/…" with the query, "/" when absent
  // "scheme://host:port", as cpp-httplib's Client takes it.
  std::string origin() const;
};

// Accepts absolute http:// and https:// URLs with a host (no user info, no
// fragment, no spaces, at most 2048 characters). Errors name `field`.
Result<Url> ParseUrl(const std::string& text, const std::string& field);

// {"event":type,"data":<data>,"timestamp":"<RFC 3339>","source":"lsh-daemon"}
std::string Body(const std::string& type, const std::string& data_json, SysTime timestamp);

// "sha256=<hex HMAC-SHA256 of body with secret>".
std::string Signature(const std::string& secret, const std::string& body);

}  // namespace lsh::webhooks
