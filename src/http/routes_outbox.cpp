// Routes of the outbox relay: GET /outbox (depth, the relay's state, parked
// rows) and POST /outbox/retry (parked rows back to pending). The `lshd
// outbox` CLI reads exactly these shapes.
#include "core/json.h"
#include "core/time.h"
#include "http/params.h"
#include "http/server.h"
#include "store/outbox_store.h"

namespace lsh::http {

using nlohmann::json;

void HttpServer::AddOutboxRoutes() {
  router_.Add("GET", "/outbox", [this](Ctx& c) {
    auto limit = LimitParam(c.req, 100, 10000);
    if (!limit) return SendError(c.res, limit.error());
    store::OutboxStore outbox(store_);
    auto counts = outbox.OutboxCount();
    if (!counts) return SendError(c.res, counts.error());
    auto parked = outbox.OutboxParked(*limit);
    if (!parked) return SendError(c.res, parked.error());
    double oldest_age = 0;
    if (counts->oldest_pending)
      oldest_age = std::max(
          0.0, std::chrono::duration<double>(clock_.Now() - *counts->oldest_pending).count());
    json rows = json::array();
    for (const auto& r : *parked) {
      rows.push_back({{"id", r.id},
                      {"entity", r.entity},
                      {"entityId", r.entity_id},
                      {"op", r.op},
                      {"version", r.version},
                      {"attempts", r.attempts},
                      {"lastError", r.last_error},
                      {"createdAt", FormatTime(r.created_at)}});
    }
    json body = {{"sink", nullptr},
                 {"pending", counts->pending},
                 {"parked", counts->parked},
                 {"delivered", counts->delivered},
                 {"oldestPendingAgeSeconds", oldest_age},
                 {"lastSuccessAt", nullptr},
                 {"lastError", nullptr},
                 {"stalled", false},
                 {"parkedRows", rows}};
    if (relay_) {
      outbox::RelayStats s = relay_->Stats();
      body["sink"] = s.sink;
      body["lastSuccessAt"] = TimeOrNull(s.last_success_at);
      if (!s.last_error.empty()) body["lastError"] = s.last_error;
      body["stalled"] = s.stalled;
    }
    SendJson(c.res, 200, body);
  });

  router_.Add("POST", "/outbox/retry", [this](Ctx& c) {
    auto body = ParseBody(c.body);
    if (!body) return SendError(c.res, body.error());
    if (!body->is_object())
      return SendError(c.res,
                       Error::Invalid("the body must be a JSON object like {\"ids\":[1,2]}"));
    std::vector<int64_t> ids;
    for (auto& [k, v] : body->items()) {
      if (k != "ids")
        return SendError(c.res, Error::Invalid("unknown field '" + k + "' (only \"ids\")", k));
    }
    if (body->contains("ids") && !(*body)["ids"].is_null()) {
      const json& list = (*body)["ids"];
      if (!list.is_array())
        return SendError(c.res, Error::Invalid("ids must be an array of outbox row ids", "ids"));
      for (size_t i = 0; i < list.size(); ++i) {
        const json& v = list[i];
        if (!v.is_number_integer() || v.get<int64_t>() < 1)
          return SendError(c.res, Error::Invalid("ids[" + std::to_string(i) +
                                                     "] must be a positive whole number",
                                                 "ids[" + std::to_string(i) + "]"));
        ids.push_back(v.get<int64_t>());
      }
      if (ids.empty())
        return SendError(c.res,
                         Error::Invalid("ids is empty; omit it to retry every parked row", "ids"));
    }
    store::OutboxStore outbox(store_);
    auto moved = outbox.OutboxRetry(ids);
    if (!moved) return SendError(c.res, moved.error());
    if (relay_ && *moved > 0) relay_->Wake();
    SendJson(c.res, 200, {{"retried", *moved}});
  });
}

}  // namespace lsh::http
