#include "fault/fault_support.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

namespace lsh::test::fault {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ShimPath() {
  return LSH_FAULT_SHIM;
}

TestDaemon::Options ShimOptions(const std::string& db_dir, const std::string& state_dir,
                                std::map<std::string, std::string> extra) {
  TestDaemon::Options o;
  o.env = std::move(extra);
  o.env["LD_PRELOAD"] = ShimPath();
  o.env["LSH_SHIM_DIR"] = db_dir;
  if (!state_dir.empty()) o.env["LSH_SHIM_STATE"] = state_dir;
  return o;
}

int64_t PowerCut(const std::string& db_dir, const std::string& state_dir,
                 const std::string& prefix) {
  int64_t lost = 0;
  for (const auto& f : fs::directory_iterator(db_dir)) {
    std::string name = f.path().filename().string();
    if (!f.is_regular_file() || name.rfind(prefix, 0) != 0) continue;
    fs::path image = fs::path(state_dir) / name;
    int64_t size = static_cast<int64_t>(fs::file_size(f.path()));
    if (fs::exists(image)) {
      lost += std::max<int64_t>(0, size - static_cast<int64_t>(fs::file_size(image)));
      fs::copy_file(image, f.path(), fs::copy_options::overwrite_existing);
    } else {
      lost += size;
      fs::remove(f.path());
    }
  }
  return lost;
}

std::string IntegrityCheck(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "PRAGMA integrity_check");
  std::string out;
  while (q.executeStep()) out += (out.empty() ? "" : "; ") + q.getColumn(0).getString();
  return out;
}

void Send(httplib::Client& cli, Request& r) {
  httplib::Headers h = {{"Idempotency-Key", r.key}};
  auto res = cli.Post(r.path.c_str(), h, r.body, "application/json");
  if (!res) {
    r.outcome = Outcome::kInDoubt;
    r.reply = "transport error: " + httplib::to_string(res.error());
    return;
  }
  r.status = res->status;
  r.reply = res->body;
  if (res->status < 200 || res->status >= 300) {
    r.outcome = Outcome::kRefused;
    return;
  }
  r.outcome = Outcome::kAcked;
  json j = json::parse(res->body, nullptr, false);
  if (r.trigger)
    r.id = j.is_object() && j.contains("run") ? j["run"].value("id", "") : "";
  else
    r.id = j.is_object() ? j.value("id", "") : "";
}

Workload::Workload(int port, std::string prefix, WorkloadOptions options, uint64_t seed)
    : port_(port), prefix_(std::move(prefix)), options_(options), seed_(seed) {}

Workload::~Workload() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Workload::Start() {
  for (int c = 0; c < options_.clients; ++c) threads_.emplace_back([this, c] { Client(c); });
}

std::vector<Request> Workload::Stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(done_);
}

void Workload::Client(int c) {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(30);
  std::mt19937_64 rng(seed_ * 1000 + static_cast<uint64_t>(c));
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<std::string> mine;  // acknowledged jobs of this client
  std::vector<Request> sent;
  std::string pad(options_.description_bytes, 'x');
  for (int i = 0; i < options_.max_per_client && !stop_; ++i) {
    Request r;
    r.key = prefix_ + "-c" + std::to_string(c) + "-" + std::to_string(i);
    if (!mine.empty() && coin(rng) < options_.trigger_share) {
      r.trigger = true;
      r.job_name = mine[rng() % mine.size()];
      r.path = "/jobs/" + r.job_name + "/trigger";
    } else {
      r.job_name = r.key;
      r.path = "/jobs";
      json body = {{"name", r.job_name}, {"command", options_.command}};
      if (!pad.empty()) body["description"] = pad;
      r.body = body.dump();
    }
    Send(cli, r);
    if (r.outcome == Outcome::kAcked) {
      ++acked_;
      if (!r.trigger) mine.push_back(r.job_name);
    }
    bool gone = r.outcome == Outcome::kInDoubt;
    sent.push_back(std::move(r));
    if (gone) break;  // the daemon went away
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& r : sent) done_.push_back(std::move(r));
}

void Ledger::Add(std::vector<Request> more) {
  for (auto& r : more) requests.push_back(std::move(r));
}

int64_t Ledger::acked() const {
  int64_t n = 0;
  for (const auto& r : requests) n += r.outcome == Outcome::kAcked;
  return n;
}

void Ledger::RetryInDoubt(const TestDaemon& d) {
  auto cli = d.Client();
  for (auto& r : requests) {
    if (r.outcome != Outcome::kInDoubt) continue;
    Send(*cli, r);
    INFO("retried " << r.path << " key " << r.key << ": " << r.status << " " << r.reply);
    CHECK(r.outcome == Outcome::kAcked);
    CHECK(!r.id.empty());
  }
}

int64_t Ledger::Verify(const TestDaemon& d, bool expect_no_loss) const {
  SQLite::Database db(d.db_path(), SQLite::OPEN_READONLY);
  std::map<std::string, std::string> jobs;  // name -> id
  {
    SQLite::Statement q(db, "SELECT name, id FROM jobs");
    while (q.executeStep()) jobs[q.getColumn(0).getString()] = q.getColumn(1).getString();
  }
  std::set<std::string> created;  // jobs this ledger created
  for (const auto& r : requests)
    if (!r.trigger && r.outcome == Outcome::kAcked) created.insert(r.job_name);
  std::set<std::string> runs;  // of those jobs
  {
    SQLite::Statement q(db, "SELECT r.id, j.name FROM runs r JOIN jobs j ON j.id = r.job_id");
    while (q.executeStep())
      if (created.count(q.getColumn(1).getString())) runs.insert(q.getColumn(0).getString());
  }
  int64_t missing = 0;
  std::set<std::string> run_ids, keys;
  for (const auto& r : requests) {
    if (r.outcome == Outcome::kRefused && !r.trigger) {
      INFO("a refused create changed nothing: " << r.key << " " << r.status << " " << r.reply);
      CHECK(jobs.count(r.job_name) == 0);
    }
    if (r.outcome != Outcome::kAcked) continue;
    keys.insert(r.key);
    if (r.trigger) {
      run_ids.insert(r.id);
      if (!runs.count(r.id)) ++missing;
    } else {
      auto it = jobs.find(r.job_name);
      if (it == jobs.end()) {
        ++missing;
      } else {
        INFO("job " << r.job_name);
        CHECK(it->second == r.id);  // the acknowledged job, not another with its name
      }
    }
  }
  if (expect_no_loss) {
    INFO(missing << " acknowledged writes missing");
    CHECK(missing == 0);
    // At most once: the only runs of these jobs are those the triggers were
    // answered with (the jobs have no schedule and no retries).
    CHECK(runs.size() == run_ids.size());
    SQLite::Statement k(db, "SELECT count(*) FROM idempotency_keys");
    REQUIRE(k.executeStep());
    CHECK(k.getColumn(0).getInt64() == static_cast<int64_t>(keys.size()));
  }
  // No run left running by an earlier boot (promise 4).
  SQLite::Statement stale(db,
                          "SELECT count(*) FROM runs WHERE status = 'running' AND boot_id IS NOT "
                          "(SELECT id FROM boots ORDER BY started_at DESC, id DESC LIMIT 1)");
  REQUIRE(stale.executeStep());
  CHECK(stale.getColumn(0).getInt64() == 0);
  // Event ids have no gap (promise 3).
  SQLite::Statement ev(db,
                       "SELECT count(*), coalesce(min(id), 1), coalesce(max(id), 0) FROM events");
  REQUIRE(ev.executeStep());
  CHECK(ev.getColumn(0).getInt64() == ev.getColumn(2).getInt64() - ev.getColumn(1).getInt64() + 1);
  // Each job with its job:created event (promise 2).
  SQLite::Statement no_event(db,
                             "SELECT count(*) FROM jobs j WHERE (SELECT count(*) FROM events e "
                             "WHERE e.job_id = j.id AND e.type = 'job:created') != 1");
  REQUIRE(no_event.executeStep());
  CHECK(no_event.getColumn(0).getInt64() == 0);
  return missing;
}

}  // namespace lsh::test::fault
