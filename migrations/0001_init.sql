-- lshd schema, version 1.
-- Conventions: ids are UUIDv7 text; timestamps are RFC 3339 UTC text with
-- milliseconds ('2026-11-28T12:00:00.000Z'), so they sort and read as text;
-- JSON columns are TEXT checked with json_valid; every state column has a
-- CHECK listing its states (docs/lifecycle.md draws them). The CHECKs are
-- written as OR chains, not IN lists: SQLite builds an ephemeral table for
-- each IN list on every insert, which made inserts four times slower.

CREATE TABLE jobs (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  command         TEXT NOT NULL CHECK (length(command) >= 1),
  type            TEXT NOT NULL DEFAULT 'shell'
                  CHECK ((type = 'shell' OR type = 'system' OR type = 'scheduled' OR
                      type = 'service' OR type = 'ml' OR type = 'data-pipeline')),
  description     TEXT NOT NULL DEFAULT '',
  tags            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
  priority        INTEGER NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 100),
  timeout_ms      INTEGER CHECK (timeout_ms IS NULL OR timeout_ms > 0),
  max_retries     INTEGER NOT NULL DEFAULT 0 CHECK (max_retries BETWEEN 0 AND 100),
  retry_delay_ms  INTEGER NOT NULL DEFAULT 1000 CHECK (retry_delay_ms >= 0),
  env             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(env) AND json_type(env) = 'object'),
  cwd             TEXT NOT NULL DEFAULT '',
  database_sync   INTEGER NOT NULL DEFAULT 1 CHECK ((database_sync = 0 OR database_sync = 1)),
  schedule_kind   TEXT NOT NULL DEFAULT 'none' CHECK ((schedule_kind = 'none' OR
      schedule_kind = 'cron' OR schedule_kind = 'interval' OR schedule_kind = 'at')),
  cron_expr       TEXT,
  timezone        TEXT NOT NULL DEFAULT 'UTC',
  interval_ms     INTEGER CHECK (interval_ms IS NULL OR interval_ms > 0),
  run_at          TEXT,
  misfire_policy  TEXT NOT NULL DEFAULT 'run_once' CHECK ((misfire_policy = 'run_once' OR
      misfire_policy = 'skip' OR misfire_policy = 'run_all')),
  overlap_policy  TEXT NOT NULL DEFAULT 'skip' CHECK ((overlap_policy = 'skip' OR
      overlap_policy = 'queue' OR overlap_policy = 'allow')),
  paused          INTEGER NOT NULL DEFAULT 0 CHECK ((paused = 0 OR paused = 1)),
  next_run_at     TEXT,
  status          TEXT NOT NULL DEFAULT 'created'
                  CHECK ((status = 'created' OR status = 'scheduled' OR status = 'running' OR
                      status = 'stopped' OR status = 'completed' OR status = 'failed')),
  last_run_id     TEXT,
  version         INTEGER NOT NULL DEFAULT 1,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  CHECK ((schedule_kind = 'cron') = (cron_expr IS NOT NULL)),
  CHECK ((schedule_kind = 'interval') = (interval_ms IS NOT NULL)),
  CHECK ((schedule_kind = 'at') = (run_at IS NOT NULL))
) WITHOUT ROWID;  -- keyed by its UUIDv7 id: one b-tree, appended in id order
-- The schedule loop asks for the earliest next fire of active jobs.
CREATE INDEX jobs_next_run ON jobs (next_run_at) WHERE next_run_at IS NOT NULL AND paused = 0;
-- GET /jobs?status= ; newest first is id order (UUIDv7), served by the primary key.
CREATE INDEX jobs_status ON jobs (status, id);

CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  job_id          TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt         INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  first_run_id    TEXT,            -- the first attempt of a retried chain; NULL on it
  status          TEXT NOT NULL DEFAULT 'queued'
                  CHECK ((status = 'queued' OR status = 'running' OR status = 'completed' OR
                      status = 'failed' OR status = 'killed' OR status = 'timeout')),
  trigger         TEXT NOT NULL CHECK ((trigger = 'schedule' OR trigger = 'manual' OR
      trigger = 'retry' OR trigger = 'catchup')),
  priority        INTEGER NOT NULL DEFAULT 5,
  scheduled_for   TEXT,            -- the fire time this run stands for
  queued_at       TEXT NOT NULL,
  not_before      TEXT,            -- a retry waits until then
  started_at      TEXT,
  completed_at    TEXT,
  duration_ms     INTEGER,
  exit_code       INTEGER,
  signal          TEXT,
  pid             INTEGER,
  boot_id         TEXT,            -- the daemon boot that started it (crash recovery)
  stdout_tail     TEXT NOT NULL DEFAULT '',
  stderr_tail     TEXT NOT NULL DEFAULT '',
  error_type      TEXT,            -- 'abandoned', 'timeout', 'spawn', 'exit', 'signal', 'killed'
  error_message   TEXT,
  version         INTEGER NOT NULL DEFAULT 1,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  CHECK (status = 'queued' OR started_at IS NOT NULL OR (status = 'failed' OR status = 'killed')),
  CHECK ((status = 'queued' OR status = 'running') OR completed_at IS NOT NULL)
);
-- GET /jobs/:id/runs, newest first.
CREATE INDEX runs_job ON runs (job_id, id);
-- Active runs of a job (job status, overlap checks, recovery, /status):
-- only queued and running rows are indexed, so the lookups stay small however
-- many runs a job has had.
CREATE INDEX runs_active ON runs (job_id, status) WHERE (status = 'queued' OR status = 'running');
CREATE INDEX runs_active_status ON runs (status) WHERE (status = 'queued' OR status = 'running');
-- The dispatcher's queue, in claim order: priority, then queue time. The
-- claim reads it from the front, so a long queue costs nothing.
CREATE INDEX runs_queue ON runs (priority DESC, queued_at, id) WHERE status = 'queued';
-- Retention and the failures view.
CREATE INDEX runs_completed ON runs (completed_at) WHERE completed_at IS NOT NULL;

-- The durable event log (promise 3). AUTOINCREMENT: ids are never reused,
-- even after the newest rows are pruned. Readers (SSE, the relay) follow it
-- by id, so it needs no other index; data is the JSON the API shows.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  type        TEXT NOT NULL CHECK ((type = 'job:created' OR type = 'job:updated' OR
      type = 'job:deleted' OR type = 'job:started' OR type = 'job:completed' OR
      type = 'job:failed' OR type = 'job:stopped' OR type = 'run:queued' OR type = 'run:started' OR
      type = 'run:retrying' OR type = 'schedule:missed' OR type = 'outbox:stalled' OR
      type = 'outbox:recovered')),
  job_id      TEXT,
  run_id      TEXT,
  data        TEXT NOT NULL,   -- JSON, written only by lshd (no json_valid: it is hot)
  created_at  TEXT NOT NULL
);

-- The transactional outbox (promises 2 and 6): one row per change of a job
-- or run, written in the same transaction as the change. The relay reads
-- pending rows in id order from its cursor (the primary key serves it).
-- Events need no outbox rows: the events table is itself an append-only log
-- the relay follows by id.
CREATE TABLE outbox (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  entity        TEXT NOT NULL CHECK ((entity = 'job' OR entity = 'run')),
  entity_id     TEXT NOT NULL,
  op            TEXT NOT NULL CHECK ((op = 'upsert' OR op = 'delete')),
  version       INTEGER NOT NULL,
  payload       TEXT NOT NULL,   -- the row as JSON, written only by lshd
  created_at    TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'pending' CHECK ((state = 'pending' OR state = 'delivered' OR
      state = 'parked')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  delivered_at  TEXT
);
-- Pending rows, for /status and /metrics (depth, oldest) and the relay.
CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
CREATE INDEX outbox_parked ON outbox (id) WHERE state = 'parked';

-- Idempotency-Key replay for POST /jobs: the first response is kept.
CREATE TABLE idempotency_keys (
  key           TEXT PRIMARY KEY,
  route         TEXT NOT NULL,
  request_hash  TEXT NOT NULL,
  status_code   INTEGER NOT NULL,
  response      TEXT NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- One row per daemon start; runs carry the boot id that started them.
CREATE TABLE boots (
  id          TEXT PRIMARY KEY,
  pid         INTEGER NOT NULL,
  version     TEXT NOT NULL,
  started_at  TEXT NOT NULL,
  stopped_at  TEXT
);

-- Questions an operator asks in the sqlite3 shell.
CREATE VIEW jobs_with_last_run AS
SELECT j.id, j.name, j.status, j.schedule_kind,
       coalesce(j.cron_expr, j.interval_ms || ' ms', j.run_at) AS schedule,
       j.timezone, j.next_run_at, j.paused,
       r.id AS last_run_id, r.status AS last_run_status, r.exit_code AS last_exit_code,
       r.started_at AS last_started_at, r.completed_at AS last_completed_at,
       r.duration_ms AS last_duration_ms
FROM jobs j LEFT JOIN runs r ON r.id = j.last_run_id;

CREATE VIEW failures_last_day AS
SELECT r.id AS run_id, j.name AS job_name, r.attempt, r.status, r.exit_code, r.signal,
       r.error_type, r.error_message, r.started_at, r.completed_at, r.duration_ms
FROM runs r JOIN jobs j ON j.id = r.job_id
WHERE (r.status = 'failed' OR r.status = 'killed' OR r.status = 'timeout')
  AND r.completed_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
ORDER BY r.completed_at DESC;

CREATE VIEW outbox_status AS
SELECT state, count(*) AS rows, min(created_at) AS oldest, max(attempts) AS max_attempts
FROM outbox GROUP BY state;
