// RetentionStore: the SQL of retention — what may be pruned, and pruning it
// in small batches (the pruner, src/retention/pruner.h, drives it).
//
// What is never pruned: queued or running runs; a run while any of its
// outbox rows is undelivered (pending or parked); a job's last run (the job
// shows it); an event while a webhook delivery of it is pending, or at or
// above the caller's floor (the outbox relay's cursor). Events are pruned as
// a prefix of the log, oldest id first, so the log stays gap-free and an SSE
// cursor below the oldest kept id is exactly a pruned cursor (promise 3).
//
// Candidates are found on a reader connection (a long scan never holds the
// writer); each delete runs in one writer transaction of at most a few
// hundred rows and re-checks every condition there.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "store/db.h"
#include "store/writer.h"

namespace lsh::store {

// One batch of a scan that pruned rows in id order.
struct PruneStep {
  int64_t deleted = 0;
  int64_t next_after = 0;  // resume the scan after this id
  bool done = true;        // nothing older than the cutoff is left to look at
};

class RetentionStore {
 public:
  // outbox_has_reader: a sink (the relay) reads the outbox, so runs with
  // undelivered outbox rows are kept and only delivered rows are pruned.
  // false (replication off): outbox rows hold nothing back and every old one
  // may go.
  RetentionStore(Writer& writer, ReaderPool& readers, bool outbox_has_reader = true);

  // Runs that completed before `cutoff` and may be pruned, oldest first.
  Result<std::vector<std::string>> RunsExpired(SysTime cutoff, int limit);
  // Runs older than the newest `keep` runs of their job that may be pruned.
  Result<std::vector<std::string>> RunsOverCap(int keep, int limit);
  // Deletes these runs in one transaction, re-checking that each may go;
  // returns the ids deleted (their log files are the caller's to remove).
  Result<std::vector<std::string>> RunsDelete(const std::vector<std::string>& ids);
  // Of these run ids, the ones that have no row (orphaned log files).
  Result<std::vector<std::string>> RunsMissing(const std::vector<std::string>& ids);

  // Deletes up to `limit` of the oldest events, while they were created
  // before `cutoff`, have id < floor and no pending webhook delivery.
  Result<PruneStep> EventsPrune(SysTime cutoff, int64_t floor, int limit);
  // The lowest event id a pending webhook delivery holds (0: none).
  Result<int64_t> WebhookFloor();
  // Delivered outbox rows created before `cutoff`, scanning ids > after.
  Result<PruneStep> OutboxPrune(SysTime cutoff, int64_t after, int limit);
  // Delivered (or dropped) webhook deliveries created before `cutoff`.
  Result<PruneStep> DeliveriesPrune(SysTime cutoff, int64_t after, int limit);
  // Up to `limit` of the oldest Idempotency-Key records created before
  // `cutoff` (a retry with such a key is then a new request).
  Result<PruneStep> IdempotencyKeysPrune(SysTime cutoff, int limit);

 private:
  // Constant after construction.
  Writer& writer_;
  ReaderPool& readers_;
  const bool outbox_has_reader_;
  const std::string run_may_go_;  // the SQL condition a prunable run `r` meets
};

}  // namespace lsh::store
