// EventCache: the newest events of the durable log, read once from SQLite
// and rendered once as SSE frames, shared by every open stream.
//
// Without it each stream would run its own query and render its own JSON
// for every commit: 1,000 streams meant 1,000 reads of the same rows. With
// it the first stream that needs an event past the cache loads it for all
// (the load happens under the cache's lock, so concurrent streams wait for
// that one read instead of issuing their own), and the others copy shared
// frames. A stream whose cursor is older than the cache (a client resuming
// from far back) gets nullopt and reads the log directly; the log, not the
// cache, is the truth (promise 3).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace lsh::events {

struct CachedEvent {
  int64_t id = 0;
  std::string type;
  std::string job_id;
  std::string frame;  // "id: …\nevent: …\ndata: …\n\n"
};
using CachedEvents = std::vector<std::shared_ptr<const CachedEvent>>;

class EventCache {
 public:
  // Reads committed events with id > after, in id order, at most `limit`.
  using Loader = std::function<Result<CachedEvents>(int64_t after, int limit)>;

  // Holds up to `capacity` of the newest events (memory: capacity times the
  // typical frame, a few KB each at most).
  explicit EventCache(size_t capacity = 4096) : capacity_(capacity) {}

  // Up to `limit` events with id > cursor, knowing every id <= newest has
  // committed. nullopt: the cursor is older than the cache.
  Result<std::optional<CachedEvents>> After(int64_t cursor, int64_t newest, size_t limit,
                                            const Loader& load) {
    {
      // The common case, every stream after a commit: the cache already
      // holds what is asked, and many streams copy it at once.
      std::shared_lock<std::shared_mutex> shared(mu_);
      if (!entries_.empty() && entries_.back()->id >= newest && cursor + 1 >= entries_.front()->id)
        return Slice(cursor, limit);
    }
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (entries_.empty()) {
      if (newest <= cursor) return std::optional<CachedEvents>(CachedEvents{});
      auto first = load(cursor, kLoadBatch);
      if (!first) return first.error();
      for (auto& e : *first) entries_.push_back(std::move(e));
      if (entries_.empty()) return std::optional<CachedEvents>(CachedEvents{});
    }
    if (cursor + 1 < entries_.front()->id) return std::optional<CachedEvents>();
    while (entries_.back()->id < newest) {
      auto more = load(entries_.back()->id, kLoadBatch);
      if (!more) return more.error();
      if (more->empty()) break;
      for (auto& e : *more) entries_.push_back(std::move(e));
    }
    while (entries_.size() > capacity_) entries_.pop_front();
    if (cursor + 1 < entries_.front()->id) return std::optional<CachedEvents>();
    return Slice(cursor, limit);
  }

 private:
  // The cached events after `cursor`, at most `limit`; mu_ held (either way).
  std::optional<CachedEvents> Slice(int64_t cursor, size_t limit) const {
    auto it = std::upper_bound(entries_.begin(), entries_.end(), cursor,
                               [](int64_t c, const auto& e) { return c < e->id; });
    CachedEvents out;
    for (; it != entries_.end() && out.size() < limit; ++it) out.push_back(*it);
    return out;
  }

  static constexpr int kLoadBatch = 512;
  const size_t capacity_;  // constant after construction

  std::shared_mutex mu_;
  std::deque<std::shared_ptr<const CachedEvent>> entries_;  // guarded by mu_; ids ascending
};

}  // namespace lsh::events
