// Test support: a loopback TCP proxy between lshd and a sink (the PostgreSQL
// server, or anything else on 127.0.0.1) that can pass, blackhole, reset or
// delay the traffic, to show the relay rides out a network partition
// (tests/fault/test_partition.cpp).
//
//   kPass       bytes flow both ways as they arrive.
//   kBlackhole  a partition: nothing moves. Bytes are neither read nor
//               forwarded, so they wait in the kernel's buffers as they would
//               in TCP retransmission; new connections are accepted but not
//               joined to the sink. Nothing is answered and nothing is
//               refused: only a timeout notices. Back in kPass, the held
//               bytes flow on (a connection that outlived the partition).
//   kReset      every open connection is closed with a RST (SO_LINGER 0),
//               both ways, and new ones are reset as soon as accepted.
//   kDelay      each chunk is held `delay` before it is forwarded (latency,
//               in both directions).
// BlackholeAfter(n) passes n more bytes towards the sink, then blackholes.
//
// Every connection has two pump threads, one per direction; each waits at
// most a few milliseconds in poll, and a pump with nothing to do (blackholed,
// or not yet joined to the sink) sleeps on a condition variable that every
// mode change wakes, so a mode change applies at once.
//
// Thread-safety: SetMode and the accessors may be called from any thread;
// Start and Stop from the owner (the destructor stops it).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace lsh::test {

class TcpProxy {
 public:
  enum class Mode { kPass, kBlackhole, kReset, kDelay };

  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  void Start();  // listens on 127.0.0.1, a free port; throws on failure
  void Stop();   // closes every connection and the listener; safe twice

  void SetMode(Mode mode, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  // kPass until `bytes` more have gone towards the sink, then kBlackhole: a
  // partition that begins in the middle of a large request.
  void BlackholeAfter(int64_t bytes);
  Mode mode() const { return mode_.load(); }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }  // connections accepted so far
  int open() const;                                  // connections now open

 private:
  struct Conn;
  void AcceptLoop();
  void Pump(const std::shared_ptr<Conn>& c, bool upstream);
  void Reap(bool all);
  // Wakes every pump waiting in Await; call after changing what they wait on.
  void Notify();
  // Blocks until `ready()` holds; Notify wakes it to look again.
  template <typename Ready>
  void Await(Ready ready) {
    std::unique_lock lock(wake_mu_);
    wake_.wait(lock, ready);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<int> delay_ms_{0};
  std::atomic<int64_t> blackhole_after_{-1};  // bytes left before kBlackhole; -1: off
  std::atomic<uint64_t> reset_generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::list<std::shared_ptr<Conn>> conns_;  // guarded by mu_
  std::mutex wake_mu_;                      // pairs with wake_; the state it guards is atomic
  std::condition_variable wake_;
};

}  // namespace lsh::test
