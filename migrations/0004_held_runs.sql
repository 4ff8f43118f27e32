-- lshd schema, version 4: the backlog of a one-at-a-time job is held out of
-- the dispatcher's queue (docs/lifecycle.md, "Held runs").
--
-- A job whose overlap policy is not "allow" runs one run at a time, so of
-- its queued runs only the first in claim order (priority, then queue time)
-- can start next: its head. Before version 4 the claim walked the whole
-- queue in claim order and skipped the rest of such a backlog row by row,
-- which cost time in proportion to the backlog on every claim (about 24 ms
-- at 12,000 queued runs, with the writer held). Now every queued run of such
-- a job behind its head is `held`: out of the claim's index, and promoted
-- when the head leaves the queue. Retries waiting for their time
-- (not_before) are never held, so the claim sees exactly the runs it could
-- take before.
ALTER TABLE runs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

-- The dispatcher's queue, in claim order, without held runs: the claim reads
-- it from the front, and no backlog lies in front of what can run.
DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (priority DESC, queued_at, id) WHERE status = 'queued' AND held = 0;
-- A job's queued runs, unheld then held, each in claim order: its head and
-- the next to promote are one seek each.
CREATE INDEX runs_job_queue ON runs (job_id, held, priority DESC, queued_at, id)
  WHERE status = 'queued';
-- The dispatcher's next retry time (the earliest not_before of a queued
-- run): one seek, where it read every queued run.
CREATE INDEX runs_retry ON runs (not_before) WHERE status = 'queued' AND not_before IS NOT NULL;

-- Existing backlogs: hold every queued run of a one-at-a-time job except its
-- head (retries waiting for their time stay unheld).
UPDATE runs SET held = 1 WHERE id IN (
  SELECT id FROM (
    SELECT r.id, row_number() OVER (
             PARTITION BY r.job_id ORDER BY r.priority DESC, r.queued_at, r.id) AS place
    FROM runs r JOIN jobs j ON j.id = r.job_id
    WHERE r.status = 'queued' AND r.not_before IS NULL AND j.overlap_policy <> 'allow')
  WHERE place > 1);
