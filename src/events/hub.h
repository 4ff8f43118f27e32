// EventHub: wakes Server-Sent Events streams when new events commit.
//
// The events table is the log (promise 3); the hub only carries the id of
// the newest committed event. The writer publishes it after each commit;
// each stream waits until the newest id passes its cursor, then reads the
// events after its cursor (through EventCache, which reads each event from
// SQLite once for all streams). So a slow client never delays a writer or
// another client: there is no per-client queue to fill, a stream that stops
// reading blocks only its own worker, and the write timeout then disconnects
// it (it resumes with Last-Event-ID).
//
// Waiting is a futex on a sequence number, not a condition variable: a
// commit wakes every waiting stream at once, and with 1,000 streams a
// condition variable would make them re-take one mutex in turn before any
// could go on.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

namespace lsh::events {

class EventHub {
 public:
  void Publish(int64_t newest_id) {
    int64_t cur = newest_.load();
    while (newest_id > cur && !newest_.compare_exchange_weak(cur, newest_id)) {
    }
    if (newest_id <= cur) return;
    WakeAll();
  }

  int64_t newest() const { return newest_.load(); }

  // Waits until an event newer than `cursor` committed, the timeout passed,
  // or Close(); returns true when there is something to read.
  bool WaitAfter(int64_t cursor, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      uint32_t seq = seq_.load();
      if (newest_.load() > cursor) return true;
      if (closed_.load()) return false;
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) return false;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      // Returns at a wake, a timeout, a signal, or at once when seq_ moved
      // since it was read (so no wake-up is lost).
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seq, &ts, nullptr,
              0);
    }
  }

  // Shutdown: streams stop waiting.
  void Close() {
    closed_ = true;
    WakeAll();
  }
  bool closed() const { return closed_.load(); }

  std::atomic<int> clients{0};  // open streams, for /status and /metrics

 private:
  void WakeAll() {
    seq_.fetch_add(1);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seq_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
  }

  std::atomic<int64_t> newest_{0};
  std::atomic<bool> closed_{false};
  std::atomic<uint32_t> seq_{0};  // the futex word: bumped at every publish
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
};

}  // namespace lsh::events
