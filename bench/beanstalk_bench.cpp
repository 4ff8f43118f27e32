// beanstalkd put throughput: CONNECTIONS client threads, each with one
// connection, put jobs back to back for SECONDS and count the INSERTED
// replies. The body is the same JSON wrk posts to lshd's POST /jobs, so the
// two queues store the same bytes per job. Plain text protocol:
//   put <pri> <delay> <ttr> <bytes>\r\n<data>\r\n  ->  INSERTED <id>\r\n
//
//   lsh_beanstalk_bench PORT SECONDS CONNECTIONS
//
// Prints "<puts/s> <puts> <errors>" on one line for bench/suite.sh.
//
// Thread-safety: each thread owns its socket; the counters are atomics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one reply line (up to "\r\n"); false on a closed connection.
bool ReadLine(int fd, std::string& buf, std::string& line) {
  while (true) {
    size_t p = buf.find("\r\n");
    if (p != std::string::npos) {
      line = buf.substr(0, p);
      buf.erase(0, p + 2);
      return true;
    }
    char tmp[512];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: lsh_beanstalk_bench PORT SECONDS CONNECTIONS\n");
    return 2;
  }
  int port = std::atoi(argv[1]);
  double secs = std::atof(argv[2]);
  int conns = std::atoi(argv[3]);
  std::atomic<long> puts{0}, errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < conns; ++t) {
    threads.emplace_back([&, t] {
      int fd = Connect(port);
      if (fd < 0) {
        errors++;
        return;
      }
      std::string buf, line;
      long i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::string body = "{\"name\":\"bench-bs-" + std::to_string(t) + "-" + std::to_string(i++) +
                           "\",\"command\":\"true\"}";
        std::string req = "put 1024 0 60 " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
        if (!SendAll(fd, req) || !ReadLine(fd, buf, line)) {
          errors++;
          break;
        }
        if (line.rfind("INSERTED ", 0) == 0)
          puts++;
        else
          errors++;
      }
      close(fd);
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  stop = true;
  long n = puts.load();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& th : threads) th.join();
  std::printf("%.0f %ld %ld\n", n / elapsed, n, errors.load());
  return 0;
}
