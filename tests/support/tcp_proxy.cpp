#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace lsh::test {

namespace {

constexpr int kPollMs = 5;

void ResetAndClose(int fd) {
  if (fd < 0) return;
  linger l{1, 0};  // close() sends a RST instead of a FIN
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

// One proxied connection: the client side (accepted) and the sink side. The
// fds are closed by whichever pump ends last; `dead` tells the other to end.
struct TcpProxy::Conn {
  int client = -1;
  int sink = -1;  // -1 until joined (never while blackholed)
  uint64_t generation = 0;
  std::atomic<bool> joined{false};  // sink set: the downstream pump may start
  std::atomic<bool> dead{false};
  std::atomic<int> pumps_left{2};
  std::mutex join_mu;  // guards `sink` while it is being joined
  std::thread up, down;
};

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {}

TcpProxy::~TcpProxy() {
  Stop();
}

void TcpProxy::Start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("proxy: socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::string err = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("proxy: cannot listen: " + err);
  }
  port_ = ntohs(a.sin_port);
  stop_ = false;
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

void TcpProxy::Stop() {
  if (!acceptor_.joinable()) return;
  stop_ = true;
  Notify();
  acceptor_.join();
  Reap(/*all=*/true);
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void TcpProxy::SetMode(Mode mode, std::chrono::milliseconds delay) {
  blackhole_after_ = -1;
  delay_ms_ = static_cast<int>(delay.count());
  if (mode == Mode::kReset) reset_generation_++;
  mode_ = mode;
  Notify();
}

void TcpProxy::BlackholeAfter(int64_t bytes) {
  blackhole_after_ = bytes;
  mode_ = Mode::kPass;
  Notify();
}

void TcpProxy::Notify() {
  // Taking the mutex orders this change before a waiter's next look at it,
  // so no wake-up falls between its check and its wait.
  { std::lock_guard lock(wake_mu_); }
  wake_.notify_all();
}

int TcpProxy::open() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& c : conns_) n += !c->dead.load();
  return n;
}

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) {
      Reap(/*all=*/false);
      continue;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    accepted_++;
    if (mode_ == Mode::kReset) {
      ResetAndClose(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_shared<Conn>();
    c->client = fd;
    c->generation = reset_generation_;
    c->up = std::thread([this, c] { Pump(c, /*upstream=*/true); });
    c->down = std::thread([this, c] { Pump(c, /*upstream=*/false); });
    std::lock_guard lock(mu_);
    conns_.push_back(std::move(c));
  }
}

// Joins the threads of finished connections (all of them, after marking
// them dead, when `all`).
void TcpProxy::Reap(bool all) {
  std::list<std::shared_ptr<Conn>> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (all) (*it)->dead = true;
      if ((*it)->pumps_left.load() == 0 || all) {
        done.push_back(*it);
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (all) Notify();
  for (auto& c : done) {
    c->up.join();
    c->down.join();
  }
}

// Moves bytes one way: client -> sink when `upstream`, else sink -> client.
void TcpProxy::Pump(const std::shared_ptr<Conn>& c, bool upstream) {
  std::vector<char> buf(64 * 1024);
  auto finish = [&](bool reset) {
    bool first = !c->dead.exchange(true);
    Notify();  // the other pump may be waiting on `dead`
    if (first && !reset) {
      // An orderly end on one side ends the other side too.
      std::lock_guard lock(c->join_mu);
      if (c->sink >= 0) ::shutdown(c->sink, SHUT_RDWR);
      ::shutdown(c->client, SHUT_RDWR);
    }
    if (c->pumps_left.fetch_sub(1) == 1) {  // the last pump closes
      std::lock_guard lock(c->join_mu);
      if (reset || c->generation != reset_generation_) {
        ResetAndClose(c->client);
        ResetAndClose(c->sink);
      } else {
        ::close(c->client);
        if (c->sink >= 0) ::close(c->sink);
      }
      c->client = c->sink = -1;
    }
  };
  while (true) {
    if (c->dead || stop_) return finish(false);
    if (c->generation != reset_generation_) {
      // kReset: RST now, from this pump, so neither side waits for the other.
      c->dead = true;
      {
        std::lock_guard lock(c->join_mu);
        linger l{1, 0};
        ::setsockopt(c->client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        if (c->sink >= 0) ::setsockopt(c->sink, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::shutdown(c->client, SHUT_RDWR);
        if (c->sink >= 0) ::shutdown(c->sink, SHUT_RDWR);
      }
      return finish(true);
    }
    if (mode_ == Mode::kBlackhole) {
      Await([&] {
        return mode_ != Mode::kBlackhole || stop_ || c->dead || c->generation != reset_generation_;
      });
      continue;
    }
    int sink;
    {
      std::lock_guard lock(c->join_mu);
      if (c->sink < 0) {
        if (!upstream) {
          sink = -1;
        } else {
          c->sink = ConnectLoopback(target_port_);
          if (c->sink < 0) {
            c->dead = true;
            return finish(true);  // the sink refused: so does the proxy
          }
          sink = c->sink;
          c->joined = true;
          Notify();
        }
      } else {
        sink = c->sink;
      }
    }
    if (sink < 0) {  // the downstream pump waits for the upstream one to join
      Await([&] { return c->joined || stop_ || c->dead || c->generation != reset_generation_; });
      continue;
    }
    int from = upstream ? c->client : sink;
    int to = upstream ? sink : c->client;
    pollfd p{from, POLLIN, 0};
    int r = ::poll(&p, 1, kPollMs);
    if (r == 0 || (r < 0 && errno == EINTR)) continue;
    if (mode_ == Mode::kBlackhole || c->generation != reset_generation_) continue;
    size_t want = buf.size();
    int64_t budget = upstream ? blackhole_after_.load() : -1;
    if (budget >= 0) want = std::min<size_t>(want, static_cast<size_t>(budget));
    if (want == 0) {
      mode_ = Mode::kBlackhole;
      continue;
    }
    ssize_t n = ::recv(from, buf.data(), want, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return finish(n < 0);
    if (budget >= 0 && (blackhole_after_ -= n) <= 0) {
      blackhole_after_ = -1;
      mode_ = Mode::kBlackhole;  // these bytes still go; the next ones wait
    }
    if (mode_ == Mode::kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(to, buf.data() + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return finish(true);
      off += w;
    }
  }
}

}  // namespace lsh::test
