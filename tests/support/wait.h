// WaitFor: waiting on a condition with a deadline, never a fixed sleep.
// Header-only so helpers outside the Catch test support (bench/ reuses
// support/postgres.cpp) can use it too.
//
// Thread-safety: a free function; `cond` runs on the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace lsh::test {

// Polls `cond` until it is true or `timeout` passes; returns the last value.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10),
                    std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(step);  // a poll interval, not a wait for an outcome
  }
}

}  // namespace lsh::test
