// Routes of API.md "Webhooks": GET/POST/DELETE /webhooks. Endpoints live in
// the database; the deliverer (src/webhooks/deliverer.h) sends every job
// event to each of them.
#include "http/server.h"

namespace lsh::http {

using nlohmann::json;

namespace {

// {"endpoint": "<url>"} from the body, or ?endpoint= (DELETE).
Result<std::string> EndpointParam(const Ctx& c, bool query_allowed) {
  if (query_allowed && c.req.has_param("endpoint")) return c.req.get_param_value("endpoint");
  auto body = ParseBody(c.body);
  if (!body) return body.error();
  if (!body->is_object())
    return Error::Invalid("the body must be a JSON object like {\"endpoint\":\"https://…\"}");
  if (!body->contains("endpoint"))
    return Error::Invalid(std::string("endpoint is required") +
                              (query_allowed ? " (in the body or as ?endpoint=)" : ""),
                          "endpoint");
  const json& e = (*body)["endpoint"];
  if (!e.is_string()) return Error::Invalid("endpoint must be a string (a URL)", "endpoint");
  return e.get<std::string>();
}

}  // namespace

void HttpServer::AddWebhookRoutes() {
  auto state = [this]() -> Result<json> {
    auto statuses = webhooks_->Statuses();
    if (!statuses) return statuses.error();
    json urls = json::array();
    json detail = json::array();
    for (const auto& s : *statuses) {
      urls.push_back(s.url);
      detail.push_back({{"endpoint", s.url},
                        {"pending", s.pending},
                        {"attempts", s.attempts},
                        {"lastError", s.last_error.empty() ? json(nullptr) : json(s.last_error)}});
    }
    return json{{"enabled", !urls.empty()},
                {"endpoints", urls},
                {"signed", webhooks_->signing()},
                {"deliveries", detail}};
  };
  auto unavailable = [] {
    return Error::Unavailable("webhooks are not available in this daemon", "webhooks_unavailable");
  };

  router_.Add("GET", "/webhooks", [this, state, unavailable](Ctx& c) {
    if (!webhooks_) return SendError(c.res, unavailable());
    auto body = state();
    if (!body) return SendError(c.res, body.error());
    SendJson(c.res, 200, *body);
  });

  router_.Add("POST", "/webhooks", [this, state, unavailable](Ctx& c) {
    if (!webhooks_) return SendError(c.res, unavailable());
    auto url = EndpointParam(c, false);
    if (!url) return SendError(c.res, url.error());
    auto added = webhooks_->AddEndpoint(*url);
    if (!added) return SendError(c.res, added.error());
    auto body = state();
    if (!body) return SendError(c.res, body.error());
    (*body)["success"] = true;
    (*body)["endpoint"] = *url;
    (*body)["created"] = added->second;
    SendJson(c.res, added->second ? 201 : 200, *body);
  });

  router_.Add("DELETE", "/webhooks", [this, state, unavailable](Ctx& c) {
    if (!webhooks_) return SendError(c.res, unavailable());
    auto url = EndpointParam(c, true);
    if (!url) return SendError(c.res, url.error());
    if (auto s = webhooks_->RemoveEndpoint(*url); !s) return SendError(c.res, s.error());
    auto body = state();
    if (!body) return SendError(c.res, body.error());
    (*body)["success"] = true;
    (*body)["endpoint"] = *url;
    SendJson(c.res, 200, *body);
  });
}

}  // namespace lsh::http
