#include "http/params.h"

#include <algorithm>
#include <cctype>

namespace lsh::http {

Result<int> LimitParam(const httplib::Request& req, int def, int max) {
  if (!req.has_param("limit")) return def;
  std::string v = req.get_param_value("limit");
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), ::isdigit))
    return Error::Invalid("limit must be a whole number from 1 to " + std::to_string(max), "limit");
  int n = std::stoi(v);
  if (n < 1 || n > max)
    return Error::Invalid("limit must be a whole number from 1 to " + std::to_string(max), "limit");
  return n;
}

bool TrueParam(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return false;
  std::string v = req.get_param_value(name);
  return v.empty() || v == "1" || v == "true" || v == "yes";
}

Result<int64_t> ParseEventCursor(std::string_view value, const std::string& field) {
  bool digits = std::all_of(value.begin(), value.end(),
                            [](unsigned char c) { return std::isdigit(c) != 0; });
  if (value.empty() || value.size() > 18 || !digits)
    return Error::Invalid(
        field + " must be an event id (a whole number), not '" + std::string(value) + "'", field);
  int64_t id = 0;
  for (char c : value) id = id * 10 + (c - '0');
  return id;
}

std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace lsh::http
