// The durable event log over Server-Sent Events (promise 3): frames, exact
// resume with Last-Event-ID, reset after pruning, filters, heartbeats, many
// clients, and the JSON polling route.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Frame {
  std::string id;     // empty for control frames
  std::string event;  // empty: a plain data frame
  std::string data;
  bool comment = false;
};

// Reads an SSE stream until `enough` says stop (or the server ends it).
std::vector<Frame> ReadStream(int port, const std::string& path, const httplib::Headers& headers,
                              const std::function<bool(const std::vector<Frame>&)>& enough,
                              std::string* content_type = nullptr) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(20);
  std::vector<Frame> frames;
  std::string buf;
  auto res = cli.Get(
      path, headers,
      [&](const httplib::Response& r) {
        if (content_type) *content_type = r.get_header_value("Content-Type");
        return r.status == 200;
      },
      [&](const char* data, size_t n) {
        buf.append(data, n);
        size_t end;
        while ((end = buf.find("\n\n")) != std::string::npos) {
          std::string block = buf.substr(0, end);
          buf.erase(0, end + 2);
          Frame f;
          size_t i = 0;
          while (i <= block.size()) {
            size_t j = block.find('\n', i);
            if (j == std::string::npos) j = block.size();
            std::string line = block.substr(i, j - i);
            if (line.rfind(":", 0) == 0) f.comment = true;
            if (line.rfind("id: ", 0) == 0) f.id = line.substr(4);
            if (line.rfind("event: ", 0) == 0) f.event = line.substr(7);
            if (line.rfind("data: ", 0) == 0) f.data = line.substr(6);
            i = j + 1;
          }
          frames.push_back(f);
          if (enough(frames)) return false;
        }
        return true;
      });
  (void)res;
  return frames;
}

std::vector<Frame> EventsOnly(const std::vector<Frame>& frames) {
  std::vector<Frame> out;
  for (const auto& f : frames)
    if (!f.id.empty()) out.push_back(f);
  return out;
}

size_t CountEvents(const std::vector<Frame>& frames) {
  return EventsOnly(frames).size();
}

void MakeJob(TestDaemon& d, const std::string& name) {
  REQUIRE(d.Post("/jobs", {{"name", name}, {"command", "true"}})->status == 201);
}

}  // namespace

TEST_CASE("SSE: connected frame, then events with id, event and data", "[events]") {
  TestDaemon d;
  d.Start();
  MakeJob(d, "a");
  MakeJob(d, "b");
  std::string ctype;
  auto frames = ReadStream(
      d.port(), "/api/events?since=0", {},
      [](const std::vector<Frame>& f) { return CountEvents(f) >= 2; }, &ctype);
  CHECK(ctype == "text/event-stream");
  REQUIRE(frames.size() >= 3);
  CHECK(frames[0].id.empty());  // control frames carry no id
  CHECK(json::parse(frames[0].data)["type"] == "connected");
  CHECK(frames[1].id == "1");
  CHECK(frames[1].event == "job:created");
  json e = json::parse(frames[1].data);
  CHECK(e["id"] == 1);
  CHECK(e["type"] == "job:created");
  CHECK(e["timestamp"].is_number());
  CHECK(e["data"]["name"] == "a");
  CHECK(frames[2].id == "2");
}

TEST_CASE("SSE: without a cursor only new events come", "[events]") {
  TestDaemon d;
  d.Start();
  MakeJob(d, "old");
  std::thread writer([&] {
    // Once the stream is open (a client counted in /status), write one more.
    REQUIRE(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] == 1; }));
    MakeJob(d, "new");
  });
  auto frames = ReadStream(d.port(), "/events", {},
                           [](const std::vector<Frame>& f) { return CountEvents(f) >= 1; });
  writer.join();
  auto ev = EventsOnly(frames);
  REQUIRE(ev.size() == 1);
  CHECK(json::parse(ev[0].data)["data"]["name"] == "new");
}

TEST_CASE("SSE: resume with Last-Event-ID is exact while events are written", "[events]") {
  TestDaemon d;
  d.Start();
  constexpr int kJobs = 300;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    auto cli = d.Client();
    for (int i = 0; i < kJobs; ++i) {
      json body = {{"name", "w" + std::to_string(i)}, {"command", "true"}};
      auto r = cli->Post("/jobs", body.dump(), "application/json");
      CHECK((r && r->status == 201));
    }
    done = true;
  });
  std::vector<int64_t> seen;
  std::string last;
  int connections = 0;
  while (static_cast<int>(seen.size()) < kJobs) {
    ++connections;
    httplib::Headers h;
    if (!last.empty()) h.emplace("Last-Event-ID", last);
    size_t want = 40;  // disconnect after a few events, then resume
    auto frames = ReadStream(d.port(), last.empty() ? "/events?since=0" : "/events", h,
                             [&](const std::vector<Frame>& f) {
                               return CountEvents(f) >= want ||
                                      static_cast<int>(seen.size() + CountEvents(f)) >= kJobs;
                             });
    for (const auto& f : EventsOnly(frames)) {
      seen.push_back(std::stoll(f.id));
      last = f.id;
    }
    REQUIRE(connections < 100);
  }
  writer.join();
  CHECK(connections > 3);
  // The union is the log: 1..kJobs, each once, in order.
  REQUIRE(seen.size() == static_cast<size_t>(kJobs));
  for (int i = 0; i < kJobs; ++i) CHECK(seen[i] == i + 1);
}

TEST_CASE("SSE: a pruned cursor gets a reset frame, then the oldest kept event", "[events]") {
  TestDaemon d;
  d.Start();
  for (int i = 0; i < 10; ++i) MakeJob(d, "p" + std::to_string(i));
  {
    SQLite::Database db(d.db_path(), SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM events WHERE id <= 5");  // as retention would
  }
  auto frames = ReadStream(d.port(), "/events", {{"Last-Event-ID", "2"}},
                           [](const std::vector<Frame>& f) { return CountEvents(f) >= 5; });
  REQUIRE(frames.size() >= 3);
  CHECK(frames[1].event == "reset");
  CHECK(frames[1].id.empty());
  CHECK(json::parse(frames[1].data)["oldestId"] == 6);
  auto ev = EventsOnly(frames);
  REQUIRE(ev.size() == 5);
  CHECK(ev[0].id == "6");
  CHECK(ev[4].id == "10");
}

TEST_CASE("SSE: job and type filters", "[events]") {
  TestDaemon d;
  d.Start();
  MakeJob(d, "x");
  MakeJob(d, "y");
  REQUIRE(d.Patch("/jobs/y", {{"description", "changed"}})->status == 200);
  MakeJob(d, "z");
  auto by_job =
      EventsOnly(ReadStream(d.port(), "/events?since=0&job=y", {},
                            [](const std::vector<Frame>& f) { return CountEvents(f) >= 2; }));
  REQUIRE(by_job.size() == 2);
  CHECK(by_job[0].event == "job:created");
  CHECK(by_job[1].event == "job:updated");
  auto by_type =
      EventsOnly(ReadStream(d.port(), "/events?since=0&types=job:updated,job:deleted", {},
                            [](const std::vector<Frame>& f) { return CountEvents(f) >= 1; }));
  REQUIRE(by_type.size() == 1);
  CHECK(by_type[0].event == "job:updated");
  CHECK(Json(d.Get("/events?types=job:exploded"))["field"] == "types");
  CHECK(Json(d.Get("/events", {{"Last-Event-ID", "abc"}}))["field"] == "Last-Event-ID");
}

TEST_CASE("SSE: an idle stream gets ping comments", "[events]") {
  TestDaemon::Options o;
  o.env["LSH_SSE_HEARTBEAT_MS"] = "200";
  TestDaemon d(o);
  d.Start();
  auto frames = ReadStream(d.port(), "/events", {}, [](const std::vector<Frame>& f) {
    return std::count_if(f.begin(), f.end(), [](const Frame& x) { return x.comment; }) >= 2;
  });
  int pings = 0;
  for (const auto& f : frames) pings += f.comment && f.id.empty();
  CHECK(pings >= 2);
}

TEST_CASE("SSE: 500 clients receive every event while /health answers promptly", "[events]") {
  TestDaemon d;
  d.Start();
  constexpr int kClients = 500, kEvents = 20;
  std::atomic<int> complete{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto ev =
          EventsOnly(ReadStream(d.port(), "/events?since=0", {}, [](const std::vector<Frame>& f) {
            return CountEvents(f) >= static_cast<size_t>(kEvents);
          }));
      bool ok = ev.size() == kEvents;
      for (int i = 0; ok && i < kEvents; ++i) ok = ev[i].id == std::to_string(i + 1);
      if (ok) complete++;
    });
  }
  REQUIRE(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] >= kClients; }, 60s,
                  20ms));
  // While every stream is open and events fan out to all of them, /health
  // and /jobs still answer promptly.
  std::vector<double> health_ms;
  for (int i = 0; i < kEvents; ++i) {
    MakeJob(d, "m" + std::to_string(i));
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(d.Get("/health")->status == 200);
    health_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  CHECK(d.Get("/jobs")->status == 200);
  std::sort(health_ms.begin(), health_ms.end());
  INFO("/health latency ms: median " << health_ms[health_ms.size() / 2] << ", max "
                                     << health_ms.back());
  CHECK(health_ms[health_ms.size() / 2] < 100);
  for (auto& t : clients) t.join();
  CHECK(complete == kClients);
}

namespace {

// A client that asks for the stream and then never reads: a tiny receive
// buffer, so the server's socket buffers fill quickly.
int OpenStalledStream(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string req = "GET /events?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
  return fd;
}

// Writes `batches` bulk requests of 200 jobs with 4 KB descriptions: about
// 4.5 KB per job:created event, more than the socket buffers hold.
int WriteBigEvents(TestDaemon& d, int batches) {
  std::string desc(4000, 'x');
  int n = 0;
  for (int b = 0; b < batches; ++b) {
    json jobs = json::array();
    for (int i = 0; i < 200; ++i, ++n)
      jobs.push_back(
          {{"name", "big" + std::to_string(n)}, {"command", "true"}, {"description", desc}});
    REQUIRE(d.Post("/jobs/bulk", {{"jobs", jobs}})->status < 300);
  }
  return n;
}

}  // namespace

TEST_CASE("SSE: a client that stops reading does not slow the others", "[events]") {
  TestDaemon d;
  d.options().env["LSH_HTTP_WRITE_TIMEOUT_MS"] = "120000";  // the stalled client stays
  d.options().env["LSH_SSE_HEARTBEAT_MS"] = "200";  // closed streams are noticed soon
  d.Start();
  int stalled = OpenStalledStream(d.port());
  REQUIRE(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] == 1; }));
  constexpr int kFast = 4, kBatches = 8;
  constexpr int kEvents = kBatches * 200;
  std::atomic<int> complete{0};
  std::vector<std::thread> fast;
  for (int c = 0; c < kFast; ++c) {
    fast.emplace_back([&] {
      auto ev =
          EventsOnly(ReadStream(d.port(), "/events?since=0", {}, [](const std::vector<Frame>& f) {
            return CountEvents(f) >= static_cast<size_t>(kEvents);
          }));
      bool ok = ev.size() == kEvents;
      for (int i = 0; ok && i < kEvents; ++i) ok = ev[i].id == std::to_string(i + 1);
      if (ok) complete++;
    });
  }
  REQUIRE(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] == 1 + kFast; }));
  REQUIRE(WriteBigEvents(d, kBatches) == kEvents);
  for (auto& t : fast) t.join();
  // Every reading client got all of it while the stalled one, its buffers
  // full long before, is still connected (its write timeout is 2 minutes):
  // nothing waited for it.
  CHECK(complete == kFast);
  // The finished clients' streams close (noticed at the next heartbeat);
  // the stalled one remains.
  CHECK(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] == 1; }));
  CHECK(d.Get("/health")->status == 200);
  ::close(stalled);
}

TEST_CASE("SSE: a client that stops reading is disconnected after the write timeout", "[events]") {
  TestDaemon d;
  d.options().env["LSH_HTTP_WRITE_TIMEOUT_MS"] = "500";
  d.Start();
  int stalled = OpenStalledStream(d.port());
  REQUIRE(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] == 1; }));
  WriteBigEvents(d, 8);
  // The server gives up on it: its stream ends and its worker is free.
  REQUIRE(WaitFor([&] { return Json(d.Get("/status"))["events"]["sseClients"] == 0; }, 30s));
  // The client sees the end of the connection once it drains what arrived.
  timeval tv{5, 0};
  ::setsockopt(stalled, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[65536];
  ssize_t got;
  size_t total = 0;
  while ((got = ::recv(stalled, buf, sizeof buf, 0)) > 0) total += static_cast<size_t>(got);
  CHECK(total > 0);
  CHECK(got <= 0);
  CHECK((got == 0 || errno == ECONNRESET));
  ::close(stalled);
  // It resumes where it was with Last-Event-ID like any client.
  auto ev =
      EventsOnly(ReadStream(d.port(), "/events", {{"Last-Event-ID", "1500"}},
                            [](const std::vector<Frame>& f) { return CountEvents(f) >= 100; }));
  REQUIRE(ev.size() == 100);
  CHECK(ev.front().id == "1501");
  CHECK(ev.back().id == "1600");
}

TEST_CASE("events.json serves the same log for polling", "[events]") {
  TestDaemon d;
  d.Start();
  for (int i = 0; i < 5; ++i) MakeJob(d, "e" + std::to_string(i));
  json all = Json(d.Get("/events.json"));
  REQUIRE(all.size() == 5);
  CHECK(all[0]["id"] == 1);
  CHECK(all[0]["type"] == "job:created");
  CHECK(all[0]["data"]["name"] == "e0");
  json page = Json(d.Get("/api/events.json?since=2&limit=2"));
  REQUIRE(page.size() == 2);
  CHECK(page[0]["id"] == 3);
  CHECK(page[1]["id"] == 4);
  CHECK(d.Get("/events.json?since=-1")->status == 400);
  CHECK(d.Get("/events.json?limit=0")->status == 400);
}
