-- lshd's remote schema: the tables the outbox relay fills and the mcli
-- dashboard reads (API.md "Replication target"). Print it with
-- `lshd supabase-schema` and paste it into Supabase's SQL editor, or run it
-- with psql against LSH_SYNC_DATABASE_URL.
--
-- Safe on a database that already has these tables with rows: it creates
-- what is missing, adds the columns the relay writes (nullable, existing rows
-- untouched), and a BEFORE UPDATE guard that keeps the stored row when an
-- incoming row carries an older version (DESIGN promise 6: replays and
-- reordering are harmless). Applying it twice changes nothing.
BEGIN;

CREATE TABLE IF NOT EXISTS lsh_jobs (
  id                  uuid PRIMARY KEY,
  job_name            text NOT NULL UNIQUE,
  command             text NOT NULL,
  description         text,
  type                text NOT NULL DEFAULT 'shell'
                      CHECK (type IN ('shell', 'system', 'scheduled', 'service', 'ml', 'data-pipeline')),
  status              text NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'paused', 'disabled', 'archived')),
  cron_expression     text,
  interval_seconds    integer,
  next_run            timestamptz,
  last_run            timestamptz,
  environment         jsonb NOT NULL DEFAULT '{}'::jsonb,
  working_directory   text,
  timeout_seconds     integer,
  max_retries         integer NOT NULL DEFAULT 0,
  retry_delay_seconds integer,
  tags                text[] NOT NULL DEFAULT '{}',
  priority            integer NOT NULL DEFAULT 5,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  version             bigint,
  -- a job has a cron expression or an interval, never both (neither: run on demand)
  CONSTRAINT lsh_jobs_one_schedule CHECK (cron_expression IS NULL OR interval_seconds IS NULL)
);

CREATE TABLE IF NOT EXISTS lsh_job_executions (
  id             uuid PRIMARY KEY,
  job_id         uuid NOT NULL REFERENCES lsh_jobs (id) ON DELETE CASCADE,
  execution_id   text NOT NULL,
  status         text NOT NULL
                 CHECK (status IN ('queued', 'running', 'completed', 'failed', 'killed', 'timeout')),
  exit_code      integer,
  signal         text,
  pid            integer,
  hostname       text,
  queued_at      timestamptz,
  started_at     timestamptz,
  completed_at   timestamptz,
  duration_ms    bigint,
  stdout         text,
  stderr         text,
  triggered_by   text,
  retry_count    integer NOT NULL DEFAULT 0,
  error_type     text,
  error_message  text,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  version        bigint,
  UNIQUE (job_id, execution_id)
);

-- The durable event log (lshd's events table), inserted once per id.
CREATE TABLE IF NOT EXISTS lsh_events (
  id          bigint PRIMARY KEY,
  type        text NOT NULL,
  job_id      uuid,
  run_id      uuid,
  data        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL
);

-- Tables that existed before: add what the relay writes (no-ops otherwise).
ALTER TABLE lsh_jobs
  ADD COLUMN IF NOT EXISTS description text,
  ADD COLUMN IF NOT EXISTS type text,
  ADD COLUMN IF NOT EXISTS status text,
  ADD COLUMN IF NOT EXISTS cron_expression text,
  ADD COLUMN IF NOT EXISTS interval_seconds integer,
  ADD COLUMN IF NOT EXISTS next_run timestamptz,
  ADD COLUMN IF NOT EXISTS last_run timestamptz,
  ADD COLUMN IF NOT EXISTS environment jsonb,
  ADD COLUMN IF NOT EXISTS working_directory text,
  ADD COLUMN IF NOT EXISTS timeout_seconds integer,
  ADD COLUMN IF NOT EXISTS max_retries integer,
  ADD COLUMN IF NOT EXISTS retry_delay_seconds integer,
  ADD COLUMN IF NOT EXISTS tags text[],
  ADD COLUMN IF NOT EXISTS priority integer,
  ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now(),
  ADD COLUMN IF NOT EXISTS updated_at timestamptz DEFAULT now(),
  ADD COLUMN IF NOT EXISTS version bigint;

ALTER TABLE lsh_job_executions
  ADD COLUMN IF NOT EXISTS execution_id text,
  ADD COLUMN IF NOT EXISTS exit_code integer,
  ADD COLUMN IF NOT EXISTS signal text,
  ADD COLUMN IF NOT EXISTS pid integer,
  ADD COLUMN IF NOT EXISTS hostname text,
  ADD COLUMN IF NOT EXISTS queued_at timestamptz,
  ADD COLUMN IF NOT EXISTS started_at timestamptz,
  ADD COLUMN IF NOT EXISTS completed_at timestamptz,
  ADD COLUMN IF NOT EXISTS duration_ms bigint,
  ADD COLUMN IF NOT EXISTS stdout text,
  ADD COLUMN IF NOT EXISTS stderr text,
  ADD COLUMN IF NOT EXISTS triggered_by text,
  ADD COLUMN IF NOT EXISTS retry_count integer,
  ADD COLUMN IF NOT EXISTS error_type text,
  ADD COLUMN IF NOT EXISTS error_message text,
  ADD COLUMN IF NOT EXISTS metadata jsonb,
  ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now(),
  ADD COLUMN IF NOT EXISTS updated_at timestamptz DEFAULT now(),
  ADD COLUMN IF NOT EXISTS version bigint;

-- The guard: an update carrying an older version than the stored row is
-- skipped (the row stays as it is). Rows or writers without a version
-- (other tools, the dashboard) are never blocked.
CREATE OR REPLACE FUNCTION lsh_keep_newest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.version IS NOT NULL AND NEW.version IS NOT NULL AND NEW.version < OLD.version THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                 WHERE tgname = 'lsh_jobs_keep_newest' AND tgrelid = 'lsh_jobs'::regclass) THEN
    CREATE TRIGGER lsh_jobs_keep_newest BEFORE UPDATE ON lsh_jobs
      FOR EACH ROW EXECUTE FUNCTION lsh_keep_newest();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                 WHERE tgname = 'lsh_job_executions_keep_newest'
                   AND tgrelid = 'lsh_job_executions'::regclass) THEN
    CREATE TRIGGER lsh_job_executions_keep_newest BEFORE UPDATE ON lsh_job_executions
      FOR EACH ROW EXECUTE FUNCTION lsh_keep_newest();
  END IF;
END
$$;

CREATE INDEX IF NOT EXISTS lsh_job_executions_job ON lsh_job_executions (job_id, created_at);
CREATE INDEX IF NOT EXISTS lsh_events_job ON lsh_events (job_id, id);

COMMIT;

-- PostgREST (Supabase's REST API) picks up the new columns.
NOTIFY pgrst, 'reload schema';
