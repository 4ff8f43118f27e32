// Routes of API.md "Events": the durable event log as Server-Sent Events
// (GET /events) and as JSON for polling (GET /events.json). Promise 3.
#include <algorithm>
#include <cctype>

#include "core/time.h"
#include "http/params.h"
#include "http/server.h"

namespace lsh::http {

namespace {

inline constexpr const char* kEventTypes[] = {
    "job:created",     "job:updated",    "job:deleted",     "job:started", "job:completed",
    "job:failed",      "job:stopped",    "run:queued",      "run:started", "run:retrying",
    "schedule:missed", "outbox:stalled", "outbox:recovered"};

// A cursor: Last-Event-ID (or ?since=) is an event id, digits only.
Result<std::optional<int64_t>> CursorParam(const httplib::Request& req) {
  std::string v;
  std::string field;
  if (req.has_header("Last-Event-ID")) {
    v = req.get_header_value("Last-Event-ID");
    field = "Last-Event-ID";
  } else if (req.has_param("since")) {
    v = req.get_param_value("since");
    field = "since";
  } else {
    return std::optional<int64_t>();
  }
  auto id = ParseEventCursor(v, field);
  if (!id) return id.error();
  return std::optional<int64_t>(*id);
}

std::string EventJson(const Event& e) {
  return "{\"id\":" + std::to_string(e.id) + ",\"type\":\"" + e.type +
         "\",\"timestamp\":" + std::to_string(ToMillis(e.created_at)) + ",\"data\":" + e.data + "}";
}

std::string EventFrame(const Event& e) {
  return "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + EventJson(e) + "\n\n";
}

bool Passes(const events::CachedEvent& e, const store::Store::EventFilter& f) {
  if (!f.job_id.empty() && e.job_id != f.job_id) return false;
  return f.types.empty() || std::find(f.types.begin(), f.types.end(), e.type) != f.types.end();
}

}  // namespace

void HttpServer::AddEventRoutes() {
  // Filters shared by both routes: ?job=<id|name>, ?types=a,b.
  auto filter = [this](const httplib::Request& req) -> Result<store::Store::EventFilter> {
    store::Store::EventFilter f;
    if (req.has_param("job")) {
      std::string job = req.get_param_value("job");
      auto found = store_.JobGet(job);
      f.job_id = found ? found->id : job;  // a deleted job's id still filters
    }
    if (req.has_param("types")) {
      std::string list = req.get_param_value("types");
      size_t i = 0;
      while (i <= list.size()) {
        size_t j = list.find(',', i);
        if (j == std::string::npos) j = list.size();
        std::string t = list.substr(i, j - i);
        if (!t.empty()) {
          if (std::find_if(std::begin(kEventTypes), std::end(kEventTypes),
                           [&](const char* k) { return t == k; }) == std::end(kEventTypes))
            return Error::Invalid("unknown event type '" + t + "' in types", "types");
          f.types.push_back(t);
        }
        i = j + 1;
      }
    }
    return f;
  };

  router_.Add("GET", "/events.json", [this, filter](Ctx& c) {
    auto f = filter(c.req);
    if (!f) return SendError(c.res, f.error());
    auto cursor = CursorParam(c.req);
    if (!cursor) return SendError(c.res, cursor.error());
    auto limit = LimitParam(c.req, 100, 1000);
    if (!limit) return SendError(c.res, limit.error());
    auto events = store_.EventsAfter(cursor->value_or(0), *limit, *f);
    if (!events) return SendError(c.res, events.error());
    std::string body = "[";
    for (size_t i = 0; i < events->size(); ++i) {
      if (i) body += ",";
      body += EventJson((*events)[i]);
    }
    body += "]";
    c.res.status = 200;
    c.res.set_content(body, "application/json");
  });

  router_.Add("GET", "/events", [this, filter](Ctx& c) {
    auto f = filter(c.req);
    if (!f) return SendError(c.res, f.error());
    auto cursor = CursorParam(c.req);
    if (!cursor) return SendError(c.res, cursor.error());
    if (hub_.clients.load() >= std::max(1, options_.threads - 64))
      return SendError(c.res, Error::Unavailable("too many open event streams; try again later",
                                                 "too_many_streams"));
    struct State {
      store::Store::EventFilter filter;
      int64_t cursor = 0;
      bool resume = false;  // the client gave a cursor
      bool started = false;
    };
    auto st = std::make_shared<State>();
    st->filter = std::move(f.value());
    st->resume = cursor->has_value();
    // No cursor: live events from now on. A cursor: every later event.
    st->cursor = cursor->value_or(hub_.newest());
    hub_.clients++;
    c.res.status = 200;
    c.res.set_header("Cache-Control", "no-cache");
    c.res.set_header("X-Accel-Buffering", "no");
    auto heartbeat = std::chrono::milliseconds(options_.sse_heartbeat_ms);
    c.res.set_chunked_content_provider(
        "text/event-stream",
        [this, st, heartbeat](size_t, httplib::DataSink& sink) {
          if (!st->started) {
            st->started = true;
            std::string out = "data: {\"type\":\"connected\",\"timestamp\":" +
                              std::to_string(ToMillis(clock_.Now())) + "}\n\n";
            if (st->resume) {
              auto bounds = store_.EventBounds();
              if (bounds && bounds->first > 0 && st->cursor < bounds->first - 1) {
                // The cursor's events were pruned: say so, then go on from
                // the oldest kept event. Control frames carry no id.
                out += "event: reset\ndata: {\"type\":\"reset\",\"requestedAfter\":" +
                       std::to_string(st->cursor) +
                       ",\"oldestId\":" + std::to_string(bounds->first) + "}\n\n";
                st->cursor = bounds->first - 1;
              }
            }
            return sink.write(out.data(), out.size());
          }
          if (hub_.closed() || shutting_down()) return false;
          int64_t newest = hub_.newest();  // every id up to this is committed
          constexpr int kBatch = 256;
          // Live streams share the newest events, read and rendered once.
          auto cached =
              sse_cache_.After(st->cursor, newest, kBatch,
                               [this](int64_t after, int limit) -> Result<events::CachedEvents> {
                                 auto rows = store_.EventsAfter(after, limit, {});
                                 if (!rows) return rows.error();
                                 events::CachedEvents out;
                                 out.reserve(rows->size());
                                 for (const Event& e : *rows)
                                   out.push_back(std::make_shared<const events::CachedEvent>(
                                       events::CachedEvent{e.id, e.type, e.job_id, EventFrame(e)}));
                                 return out;
                               });
          if (!cached) return false;  // the client resumes with its cursor
          if (cached->has_value()) {
            const events::CachedEvents& batch = **cached;
            std::string out;
            for (const auto& e : batch)
              if (Passes(*e, st->filter)) out += e->frame;
            if (!batch.empty()) st->cursor = batch.back()->id;
            if (batch.size() < static_cast<size_t>(kBatch))
              st->cursor = std::max(st->cursor, newest);
            if (!out.empty()) return sink.write(out.data(), out.size());
            if (!batch.empty()) return true;
          } else {
            // Behind the cache (resuming from far back): read the log itself.
            auto events = store_.EventsAfter(st->cursor, kBatch, st->filter);
            if (!events) return false;
            if (!events->empty()) {
              std::string out;
              for (const Event& e : *events) out += EventFrame(e);
              st->cursor = events->back().id;
              if (static_cast<int>(events->size()) < kBatch)
                st->cursor = std::max(st->cursor, newest);
              return sink.write(out.data(), out.size());
            }
          }
          st->cursor = std::max(st->cursor, newest);  // filtered out up to here
          if (!hub_.WaitAfter(st->cursor, heartbeat)) {
            if (hub_.closed() || shutting_down()) return false;
            static const std::string ping = ": ping\n\n";
            return sink.write(ping.data(), ping.size());
          }
          return true;
        },
        [this](bool) { hub_.clients--; });
  });
}

}  // namespace lsh::http
