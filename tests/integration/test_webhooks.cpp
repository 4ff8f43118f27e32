// Webhooks against the real daemon: the /webhooks routes and their
// validation, and durable delivery to a receiver on loopback that fails at
// first — every job event arrives, in order, signed, also across kill -9.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/daemon.h"

using lsh::test::Json;
using lsh::test::TestDaemon;
using lsh::test::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* kSecret = "webhook-test-secret";
const char* kJobTypes =
    "job:created,job:updated,job:deleted,job:started,job:completed,job:failed,job:stopped";

std::string HmacHex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  char hex[3];
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", mac[i]);
    out += hex;
  }
  return out;
}

// Writes a self-signed certificate for 127.0.0.1 and its key (PEM).
void SelfSigned(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  REQUIRE(key != nullptr);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

// A webhook receiver on loopback: answers 503 to its first `fail_first`
// requests and while `down`, then 200, and records what it accepted.
struct Receiver {
  struct Hit {
    std::string delivery;
    int64_t event_id = 0;
    std::string type;
    std::string signature;
    std::string content_type;
    std::string body;
  };
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<Hit> hits;  // accepted, in arrival order
  int requests = 0;
  int fail_first = 0;
  std::atomic<bool> down{false};

  explicit Receiver(int fail = 0) : fail_first(fail) {
    server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      ++requests;
      if (requests <= fail_first || down) {
        res.status = 503;
        res.set_content("{\"error\":\"not now\"}", "application/json");
        return;
      }
      hits.push_back({req.get_header_value("X-LSH-Delivery"),
                      std::stoll(req.get_header_value("X-LSH-Event-Id")),
                      req.get_header_value("X-LSH-Event"), req.get_header_value("X-LSH-Signature"),
                      req.get_header_value("Content-Type"), req.body});
      res.status = 200;
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
  std::vector<Hit> Hits() {
    std::lock_guard<std::mutex> lock(mu);
    return hits;
  }
  int Requests() {
    std::lock_guard<std::mutex> lock(mu);
    return requests;
  }
};

// The job events of the log, in order.
std::vector<json> JobEvents(TestDaemon& d) {
  auto arr = Json(d.Get(std::string("/events.json?since=0&limit=1000&types=") + kJobTypes));
  return std::vector<json>(arr.begin(), arr.end());
}

// Every hit is signed, well formed and carries its event; returns the event
// ids of the distinct deliveries in arrival order. A repeated delivery id
// must repeat the same body (a redelivery after a crash).
std::vector<int64_t> CheckHits(const std::vector<Receiver::Hit>& hits) {
  std::map<std::string, std::string> body_of;
  std::vector<int64_t> ids;
  for (const auto& h : hits) {
    INFO("delivery " << h.delivery << " body " << h.body);
    CHECK(h.content_type == "application/json");
    CHECK(h.signature == "sha256=" + HmacHex(kSecret, h.body));
    json b = json::parse(h.body);
    CHECK(b["event"] == h.type);
    CHECK(b["source"] == "lsh-daemon");
    CHECK(b["timestamp"].is_string());
    CHECK(b["data"].is_object());
    CHECK(h.type.rfind("job:", 0) == 0);
    auto [it, fresh] = body_of.emplace(h.delivery, h.body);
    if (!fresh) {
      CHECK(it->second == h.body);
      continue;
    }
    ids.push_back(h.event_id);
  }
  return ids;
}

// Distinct delivery ids received so far (for waiting; CheckHits checks them).
size_t Distinct(const std::vector<Receiver::Hit>& hits) {
  std::set<std::string> ids;
  for (const auto& h : hits) ids.insert(h.delivery);
  return ids.size();
}

std::vector<int64_t> Ids(const std::vector<json>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) out.push_back(e["id"].get<int64_t>());
  return out;
}

TestDaemon::Options HookOptions() {
  TestDaemon::Options o;
  o.env = {{"LSH_WEBHOOK_SECRET", kSecret},
           {"LSH_WEBHOOK_BACKOFF_MS", "20"},
           {"LSH_WEBHOOK_BACKOFF_MAX_MS", "200"},
           {"LSH_WEBHOOK_TIMEOUT_MS", "2000"}};
  return o;
}

}  // namespace

TEST_CASE("Webhooks: routes add, list and remove endpoints, with and without /api", "[webhooks]") {
  TestDaemon d;
  d.Start();
  auto empty = Json(d.Get("/webhooks"));
  CHECK(empty["enabled"] == false);
  CHECK(empty["endpoints"] == json::array());

  auto add = d.Post("/webhooks", {{"endpoint", "http://127.0.0.1:9/a"}});
  CHECK(add->status == 201);
  CHECK(Json(add)["created"] == true);
  auto again = d.Post("/api/webhooks", {{"endpoint", "http://127.0.0.1:9/a"}});
  CHECK(again->status == 200);  // idempotent
  CHECK(Json(again)["created"] == false);
  REQUIRE(d.Post("/webhooks", {{"endpoint", "https://hooks.example.com:8443/x?y=1"}})->status ==
          201);
  auto list = Json(d.Get("/api/webhooks"));
  CHECK(list["enabled"] == true);
  CHECK(list["endpoints"] ==
        json::array({"http://127.0.0.1:9/a", "https://hooks.example.com:8443/x?y=1"}));

  // DELETE by body and by query; unknown is a 404.
  auto del = d.Client()->Delete("/webhooks", json{{"endpoint", "http://127.0.0.1:9/a"}}.dump(),
                                "application/json");
  REQUIRE(del);
  CHECK(del->status == 200);
  auto del2 = d.Delete("/api/webhooks?endpoint=https%3A%2F%2Fhooks.example.com%3A8443%2Fx%3Fy%3D1");
  CHECK(del2->status == 200);
  CHECK(Json(del2)["endpoints"] == json::array());
  auto gone = d.Delete("/webhooks?endpoint=http%3A%2F%2F127.0.0.1%3A9%2Fa");
  CHECK(gone->status == 404);
  CHECK(Json(gone)["code"] == "webhook_not_found");

  // The list survives a restart (stored in the database).
  REQUIRE(d.Post("/webhooks", {{"endpoint", "http://127.0.0.1:9/kept"}})->status == 201);
  REQUIRE(d.Terminate() == 0);
  d.Restart();
  CHECK(Json(d.Get("/webhooks"))["endpoints"] == json::array({"http://127.0.0.1:9/kept"}));
}

TEST_CASE("Webhooks: bad endpoints get a 400 naming the field and change nothing", "[webhooks]") {
  TestDaemon d;
  d.Start();
  struct Case {
    std::string body;
    std::string why;
  };
  std::vector<Case> cases = {
      {"", "missing"},
      {"{}", "missing"},
      {"{\"endpoint\":42}", "not a string"},
      {"{\"endpoint\":\"\"}", "empty"},
      {"{\"endpoint\":\"ftp://example.com/x\"}", "scheme"},
      {"{\"endpoint\":\"example.com/hook\"}", "no scheme"},
      {"{\"endpoint\":\"http://\"}", "no host"},
      {"{\"endpoint\":\"http://exa mple.com/\"}", "space"},
      {"{\"endpoint\":\"http://example.com:99999/\"}", "port"},
      {"{\"endpoint\":\"http://user:pw@example.com/\"}", "user info"},
      {"[\"http://example.com/\"]", "not an object"},
  };
  for (const auto& c : cases) {
    INFO(c.why << ": " << c.body);
    auto r = d.Client()->Post("/webhooks", c.body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
    auto j = Json(r);
    CHECK(j["error"].is_string());
    if (c.why != "not an object") CHECK(j["field"] == "endpoint");
  }
  auto bad_json = d.Client()->Post("/webhooks", "{\"endpoint\":", "application/json");
  REQUIRE(bad_json);
  CHECK(bad_json->status == 400);
  auto del = d.Client()->Delete("/webhooks", "{}", "application/json");
  REQUIRE(del);
  CHECK(del->status == 400);
  CHECK(Json(del)["field"] == "endpoint");
  CHECK(Json(d.Get("/webhooks"))["endpoints"] == json::array());
}

TEST_CASE("Webhooks: the routes need the API key like the others", "[webhooks]") {
  TestDaemon::Options o;
  o.env["LSH_API_KEY"] = "k3y";
  TestDaemon d(o);
  d.Start();
  CHECK(d.Get("/webhooks")->status == 401);
  CHECK(d.Post("/webhooks", {{"endpoint", "http://127.0.0.1:9/a"}})->status == 401);
  CHECK(d.Get("/webhooks", {{"X-API-Key", "k3y"}})->status == 200);
  CHECK(
      d.Post("/webhooks", {{"endpoint", "http://127.0.0.1:9/a"}}, {{"X-API-Key", "k3y"}})->status ==
      201);
}

TEST_CASE(
    "Webhooks: a receiver that fails its first three deliveries gets every job event "
    "signed and in order",
    "[webhooks]") {
  Receiver rx(3);
  TestDaemon d(HookOptions());
  d.Start();
  REQUIRE(d.Post("/webhooks", {{"endpoint", rx.url()}})->status == 201);
  for (int i = 0; i < 5; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "w" + std::to_string(i)}, {"command", "echo hi"}})->status ==
            201);
  REQUIRE(d.Patch("/jobs/w1", {{"description", "changed"}})->status == 200);
  REQUIRE(d.Post("/jobs/w2/trigger?wait=20", nullptr)->status == 200);
  REQUIRE(d.Delete("/jobs/w3")->status == 200);
  auto events = JobEvents(d);
  // created ×5, updated, started, completed, deleted
  REQUIRE(events.size() >= 9);
  REQUIRE(WaitFor([&] { return Distinct(rx.Hits()) >= events.size(); }, 20s));
  auto hits = rx.Hits();
  CHECK(CheckHits(hits) == Ids(events));
  CHECK(rx.Requests() >= static_cast<int>(events.size()) + 3);
  // The data is the event's: a run event carries the run.
  for (const auto& h : hits) {
    if (h.type != "job:completed") continue;
    json b = json::parse(h.body);
    CHECK(b["data"]["name"] == "w2");
    CHECK(b["data"]["exitCode"] == 0);
    CHECK(b["data"]["stdout"] == "hi\n");
  }
  // Run events that are not job:* are not sent.
  for (const auto& h : hits) CHECK(h.type.rfind("run:", 0) != 0);
  auto status = Json(d.Get("/webhooks"));
  CHECK(status["signed"] == true);
  CHECK(WaitFor([&] { return Json(d.Get("/webhooks"))["deliveries"][0]["pending"] == 0; }));
}

TEST_CASE("Webhooks: deliveries pending at kill -9 all arrive after the restart",
          "[webhooks][durability]") {
  Receiver rx;
  rx.down = true;
  TestDaemon::Options o = HookOptions();
  o.env["LSH_WEBHOOK_URLS"] = rx.url();  // seeded from the environment
  TestDaemon d(o);
  d.Start();
  CHECK(Json(d.Get("/webhooks"))["endpoints"] == json::array({rx.url()}));
  for (int i = 0; i < 8; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "k" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  REQUIRE(WaitFor([&] { return rx.Requests() >= 2; }));  // it is trying
  d.Kill9();
  d.Restart();
  for (int i = 8; i < 10; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "k" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  CHECK(Json(d.Get("/webhooks"))["endpoints"].size() == 1);  // seeding is idempotent
  rx.down = false;
  auto events = JobEvents(d);
  REQUIRE(events.size() == 10);
  REQUIRE(WaitFor([&] { return Distinct(rx.Hits()) >= events.size(); }, 20s));
  CHECK(CheckHits(rx.Hits()) == Ids(events));
}

TEST_CASE("Webhooks: an accepted delivery cut off by kill -9 is resent only with its delivery id",
          "[webhooks][durability]") {
  Receiver rx;
  TestDaemon d(HookOptions());
  d.Start();
  REQUIRE(d.Post("/webhooks", {{"endpoint", rx.url()}})->status == 201);
  // A steady stream; kill -9 while deliveries are in flight.
  for (int i = 0; i < 30; ++i)
    REQUIRE(d.Post("/jobs", {{"name", "s" + std::to_string(i)}, {"command", "true"}})->status ==
            201);
  REQUIRE(WaitFor([&] { return !rx.Hits().empty(); }));
  d.Kill9();
  d.Restart();
  auto events = JobEvents(d);
  REQUIRE(events.size() == 30);
  REQUIRE(WaitFor([&] { return Distinct(rx.Hits()) >= events.size(); }, 20s));
  // Distinct deliveries are exactly the events in order; any repeat carried
  // the same delivery id and body (CheckHits).
  CHECK(CheckHits(rx.Hits()) == Ids(events));
}

TEST_CASE("Webhooks: a Retry-After answer is honoured before the next attempt", "[webhooks]") {
  // The backoff is 20 ms; the receiver asks for one second.
  httplib::Server server;
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  server.Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    arrivals.push_back(std::chrono::steady_clock::now());
    if (arrivals.size() == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      return;
    }
    res.status = 204;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread th([&] { server.listen_after_bind(); });
  {
    TestDaemon d(HookOptions());
    d.Start();
    REQUIRE(
        d.Post("/webhooks", {{"endpoint", "http://127.0.0.1:" + std::to_string(port) + "/hook"}})
            ->status == 201);
    REQUIRE(d.Post("/jobs", {{"name", "ra"}, {"command", "true"}})->status == 201);
    REQUIRE(WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return arrivals.size() >= 2;
        },
        10s));
    // 204 counts as delivered: nothing pending.
    CHECK(WaitFor([&] { return Json(d.Get("/webhooks"))["deliveries"][0]["pending"] == 0; }));
  }
  server.stop();
  th.join();
  std::lock_guard<std::mutex> lock(mu);
  CHECK(arrivals.size() == 2);
  CHECK(arrivals[1] - arrivals[0] >= 900ms);
}

TEST_CASE("Webhooks: an https endpoint with an untrusted certificate gets nothing and says why",
          "[webhooks]") {
  lsh::test::TempDir dir;
  SelfSigned(dir.path() + "/cert.pem", dir.path() + "/key.pem");
  httplib::SSLServer server((dir.path() + "/cert.pem").c_str(), (dir.path() + "/key.pem").c_str());
  REQUIRE(server.is_valid());
  std::atomic<int> received{0};
  server.Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    received++;
    res.status = 200;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread th([&] { server.listen_after_bind(); });
  {
    TestDaemon d(HookOptions());
    d.Start();
    std::string url = "https://127.0.0.1:" + std::to_string(port) + "/hook";
    REQUIRE(d.Post("/webhooks", {{"endpoint", url}})->status == 201);
    REQUIRE(d.Post("/jobs", {{"name", "tls"}, {"command", "true"}})->status == 201);
    json status;
    REQUIRE(WaitFor([&] {
      status = Json(d.Get("/webhooks"))["deliveries"][0];
      return status["attempts"].get<int>() >= 2;
    }));
    CHECK(status["pending"] == 1);
    CHECK(status["lastError"].get<std::string>().find("certificate") != std::string::npos);
  }
  server.stop();
  th.join();
  CHECK(received == 0);
}
