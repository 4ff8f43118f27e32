// Sink: where the relay delivers remote rows (src/outbox/mapping.h). Two
// kinds: PostgresSink (libpq, LSH_SYNC_DATABASE_URL) and RestSink (Supabase's
// PostgREST, SUPABASE_URL). A sink call is one round trip that either applies
// every row it was given or none of them, and says which kind of failure it
// met, so the relay can retry, defer or park (src/outbox/relay.h).
//
// Thread-safety: a sink is used by the relay thread only.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lsh::outbox {

enum class Outcome {
  kOk,          // applied (or, for events, already there)
  kTransient,   // network, timeout, 408, 429, 5xx, 520, auth or schema not ready: back off
  kForeignKey,  // a parent row is missing (409 / 23503): retry these rows later
  kRejected,    // the remote refused the rows themselves (other 4xx): park them
};

struct Delivery {
  Outcome outcome = Outcome::kOk;
  std::string error;                                     // what the remote said, for an operator
  std::optional<std::chrono::milliseconds> retry_after;  // Retry-After, when given

  static Delivery Ok() { return {}; }
  bool ok() const { return outcome == Outcome::kOk; }
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Upserts jobs then runs (parents first), each applied only when its
  // version is newer than the stored one. Either list may be empty.
  virtual Delivery Upsert(const std::vector<nlohmann::json>& jobs,
                          const std::vector<nlohmann::json>& runs) = 0;
  // Inserts events (each row JSON text, mapping.h RemoteEventText); ids
  // already present are ignored.
  virtual Delivery InsertEvents(const std::vector<std::string>& events) = 0;
  virtual const char* kind() const = 0;  // "postgres" | "supabase"
  // A stable identity of the target (kind and a hash of the URL, never the
  // credentials), keying relay_state.
  virtual std::string id() const = 0;
  virtual std::string label() const = 0;  // kind and host, for logs and relay_state
};

}  // namespace lsh::outbox
