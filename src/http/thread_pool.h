// GrowingThreadPool: cpp-httplib's task queue, sized by demand up to a cap.
//
// cpp-httplib runs each connection (and so each open keep-alive connection
// or SSE stream) on one worker for as long as it is open. Its own ThreadPool
// starts every thread up front; this one starts a thread only when a task
// arrives and none is idle, up to `max_threads`, so an idle daemon keeps a
// handful while 1,000 streams still get 1,000 workers. Threads stay once
// started (they cost only their stack pages).
//
// Thread-safety: enqueue from any thread; shutdown once, from the server.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace lsh::http {

class GrowingThreadPool final : public httplib::TaskQueue {
 public:
  explicit GrowingThreadPool(size_t max_threads) : max_(max_threads) {}
  ~GrowingThreadPool() override = default;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    jobs_.push_back(std::move(fn));
    if (idle_ < jobs_.size() && threads_.size() < max_) {
      threads_.emplace_back([this] { Work(); });
    }
    lock.unlock();
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();  // no enqueue after shutdown
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      ++idle_;
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping and drained
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_
  size_t idle_ = 0;                         // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
};

}  // namespace lsh::http
