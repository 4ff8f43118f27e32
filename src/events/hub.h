// EventHub: wakes Server-Sent Events streams when new events commit.
//
// The events table is the log (promise 3); the hub only carries the id of
// the newest committed event. The writer publishes it after each commit;
// each stream waits until the newest id passes its cursor, then reads the
// events after its cursor from SQLite itself. So a slow client never delays
// a writer or another client: there is no per-client queue to fill, a
// stream that stops reading blocks only its own worker, and the write
// timeout then disconnects it (it resumes with Last-Event-ID).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace lsh::events {

class EventHub {
 public:
  void Publish(int64_t newest_id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (newest_id <= newest_) return;
      newest_ = newest_id;
    }
    cv_.notify_all();
  }

  int64_t newest() const {
    std::lock_guard<std::mutex> lock(mu_);
    return newest_;
  }

  // Waits until an event newer than `cursor` committed, the timeout passed,
  // or Close(); returns true when there is something to read.
  bool WaitAfter(int64_t cursor, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return newest_ > cursor || closed_; });
    return newest_ > cursor;
  }

  // Shutdown: streams stop waiting.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  std::atomic<int> clients{0};  // open streams, for /status and /metrics

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t newest_ = 0;   // guarded by mu_
  bool closed_ = false;  // guarded by mu_
};

}  // namespace lsh::events
