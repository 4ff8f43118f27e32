#include "webhooks/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "core/time.h"

namespace lsh::webhooks {

std::string Url::origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

Result<Url> ParseUrl(const std::string& text, const std::string& field) {
  auto bad = [&](const std::string& why) -> Error {
    return Error::Invalid(field + " must be an absolute http:// or https:// URL (" + why + ")",
                          field, "invalid_url");
  };
  if (text.empty()) return bad("it is empty");
  if (text.size() > 2048) return bad("it is longer than 2048 characters");
  for (unsigned char c : text)
    if (c <= 0x20 || c >= 0x7f) return bad("it contains spaces or control characters");
  Url u;
  auto sep = text.find("://");
  if (sep == std::string::npos) return bad("no scheme");
  u.scheme = text.substr(0, sep);
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), ::tolower);
  if (u.scheme != "http" && u.scheme != "https")
    return bad("the scheme '" + u.scheme + "' is not http or https");
  std::string rest = text.substr(sep + 3);
  if (rest.find('#') != std::string::npos) return bad("it has a fragment");
  auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!u.path.empty() && u.path[0] == '?') u.path = "/" + u.path;
  if (authority.find('@') != std::string::npos) return bad("user info in URLs is not supported");
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return bad("an unclosed IPv6 bracket");
    u.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return bad("no host");
  u.port = u.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit))
      return bad("the port '" + port + "' is not a number");
    u.port = std::stoi(port);
    if (u.port < 1 || u.port > 65535) return bad("the port is not between 1 and 65535");
  }
  return u;
}

std::string Body(const std::string& type, const std::string& data_json, SysTime timestamp) {
  // Built as text: data is the event's stored JSON, sent as it is.
  return "{\"event\":\"" + type + "\",\"data\":" + (data_json.empty() ? "null" : data_json) +
         ",\"timestamp\":\"" + FormatTime(timestamp) + "\",\"source\":\"lsh-daemon\"}";
}

std::string Signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

}  // namespace lsh::webhooks
