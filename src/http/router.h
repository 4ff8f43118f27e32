// Router: matches a method and path against route patterns like
// "/jobs/:id/runs", with and without the "/api" prefix (API.md: every route
// answers both). A path that matches a pattern under another method is a
// 405; no match at all is a 404. The matched pattern (not the raw path)
// labels logs and metrics.
//
// Thread-safety: Add before serving; Match is const and may run on any
// thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lsh::http {

using Params = std::map<std::string, std::string>;

template <typename Handler>
class Router {
 public:
  struct Match {
    const Handler* handler = nullptr;  // null: no route
    bool method_mismatch = false;      // a route exists for another method
    std::string pattern;               // "/jobs/:id"
    Params params;
    std::vector<std::string> allowed;  // methods of the path, for 405/OPTIONS
  };

  void Add(std::string method, std::string pattern, Handler h) {
    routes_.push_back({std::move(method), Split(pattern), pattern, std::move(h)});
  }

  Match Find(std::string_view method, std::string_view path) const {
    Match m;
    if (path.size() >= 4 && path.substr(0, 4) == "/api" && (path.size() == 4 || path[4] == '/')) {
      path.remove_prefix(4);
      if (path.empty()) path = "/";
    }
    auto parts = Split(path);
    for (const auto& r : routes_) {
      Params p;
      if (!Matches(r.parts, parts, p)) continue;
      m.allowed.push_back(r.method);
      if (r.method == method && !m.handler) {
        m.handler = &r.handler;
        m.pattern = r.pattern;
        m.params = std::move(p);
      }
    }
    m.method_mismatch = !m.handler && !m.allowed.empty();
    return m;
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> parts;
    std::string pattern;
    Handler handler;
  };

  static std::vector<std::string> Split(std::string_view path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
      while (i < path.size() && path[i] == '/') ++i;
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      if (j > i) out.emplace_back(path.substr(i, j - i));
      i = j;
    }
    return out;
  }

  static bool Matches(const std::vector<std::string>& pattern,
                      const std::vector<std::string>& parts, Params& params) {
    if (pattern.size() != parts.size()) return false;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!pattern[i].empty() && pattern[i][0] == ':') {
        params[pattern[i].substr(1)] = parts[i];
      } else if (pattern[i] != parts[i]) {
        return false;
      }
    }
    return true;
  }

  std::vector<Route> routes_;
};

}  // namespace lsh::http
