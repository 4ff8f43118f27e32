// lsh_sse_bench: commit -> client latency of Server-Sent Events.
//
//   lsh_sse_bench LSHD_BINARY [EVENTS] [CLIENTS...]
//
// For each client count (default 1, 100, 1000) it opens that many live
// streams (GET /events) on one throwaway daemon, writes EVENTS jobs (one
// job:created event each, one every 5 ms from one writer), and records for
// every event on every stream the time from the event's commit timestamp
// (the writer transaction's clock, ms resolution) to its arrival at the
// client. All streams are read by one epoll thread, so the client side adds
// little of its own. Prints p50/p99/max per client count.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

using lsh::bench::Daemon;
using lsh::bench::StartDaemon;
using lsh::bench::Status;
using nlohmann::json;

namespace {

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stream {
  int fd = -1;
  std::string buf;
  int events = 0;
};

int OpenStream(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  if (::send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Frames are separated by a blank line; an event frame has an "id:" line and
// its data JSON starts {"id":N,"type":…,"timestamp":MS.
void Parse(Stream& s, double now, std::vector<double>& lat) {
  size_t end;
  while ((end = s.buf.find("\n\n")) != std::string::npos) {
    std::string_view frame(s.buf.data(), end);
    size_t ts = frame.find("\"timestamp\":");
    if (frame.find("id: ") != std::string_view::npos && ts != std::string_view::npos) {
      double committed = std::strtod(frame.data() + ts + 12, nullptr);
      lat.push_back(std::max(0.0, now - committed));
      s.events++;
    }
    s.buf.erase(0, end + 2);
  }
}

struct Figures {
  size_t samples = 0;
  double p50 = 0, p99 = 0, max = 0;
  int incomplete = 0;  // streams that did not get every event in time
};

Figures Measure(int port, httplib::Client& api, int clients, int events, int round) {
  std::vector<Stream> streams(clients);
  int ep = ::epoll_create1(0);
  for (int i = 0; i < clients; ++i) {
    streams[i].fd = OpenStream(port);
    if (streams[i].fd < 0) {
      std::fprintf(stderr, "lsh_sse_bench: cannot open stream %d\n", i);
      std::exit(1);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, streams[i].fd, &ev);
  }
  // Wait until the daemon counts every stream (the previous round's are gone).
  for (int i = 0; i < 3000; ++i) {
    json s = Status(api);
    if (s.is_object() && s["events"]["sseClients"] == clients) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(clients) * events);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < events; ++i) {
      json job = {{"name", "r" + std::to_string(round) + "-" + std::to_string(i)},
                  {"command", "true"}};
      api.Post("/jobs", job.dump(), "application/json");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    writing = false;
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int done = 0;
  std::vector<epoll_event> ready(256);
  char buf[65536];
  while (done < clients && std::chrono::steady_clock::now() < deadline) {
    int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 100);
    for (int k = 0; k < n; ++k) {
      Stream& s = streams[ready[k].data.u32];
      ssize_t got;
      while ((got = ::recv(s.fd, buf, sizeof buf, 0)) > 0) s.buf.append(buf, got);
      int before = s.events;
      Parse(s, NowMs(), lat);
      if (before < events && s.events >= events) done++;
    }
  }
  writer.join();
  for (auto& s : streams) ::close(s.fd);
  ::close(ep);
  Figures f;
  f.incomplete = clients - done;
  std::sort(lat.begin(), lat.end());
  f.samples = lat.size();
  if (!lat.empty()) {
    f.p50 = lat[lat.size() / 2];
    f.p99 = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    f.max = lat.back();
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lsh_sse_bench LSHD_BINARY [EVENTS] [CLIENTS...]\n");
    return 2;
  }
  std::string bin = argv[1];
  int events = argc > 2 ? std::atoi(argv[2]) : 200;
  std::vector<int> counts;
  for (int i = 3; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {1, 100, 1000};
  Daemon d;
  if (!StartDaemon(d, bin, {})) {
    std::fprintf(stderr, "lsh_sse_bench: the daemon did not start\n");
    return 1;
  }
  httplib::Client api("127.0.0.1", d.port);
  api.set_keep_alive(true);
  std::printf("SSE commit -> client latency, %d events per round (one every 5 ms), %u cores\n",
              events, std::thread::hardware_concurrency());
  std::printf("%8s %10s %9s %9s %9s %11s\n", "clients", "samples", "p50 ms", "p99 ms", "max ms",
              "incomplete");
  int round = 0;
  for (int c : counts) {
    Figures f = Measure(d.port, api, c, events, round++);
    std::printf("%8d %10zu %9.1f %9.1f %9.1f %11d\n", c, f.samples, f.p50, f.p99, f.max,
                f.incomplete);
  }
  std::printf("target: p99 < 50 ms at 1000 clients (timestamps have ms resolution)\n");
  return 0;
}
