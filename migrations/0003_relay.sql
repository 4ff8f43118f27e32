-- lshd schema, version 3: what the outbox relay keeps (src/outbox/relay.h).
--
-- next_attempt_at: a row the sink refused for now (a foreign-key 409: its
-- parent has not arrived yet) waits until then; NULL means "as soon as
-- possible". Transient failures of the whole sink (network, 5xx) do not touch
-- rows: the relay backs off as a whole.
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;

-- One row per sink the relay has delivered to, keyed by the sink's identity
-- (kind and a hash of its URL, never the credentials): whether the snapshot
-- of existing state was sent, and the events cursor (the newest event id the
-- sink acknowledged). A new sink starts with a snapshot and cursor 0.
CREATE TABLE relay_state (
  sink            TEXT PRIMARY KEY,
  label           TEXT NOT NULL,            -- kind and host, for an operator
  snapshot_done   INTEGER NOT NULL DEFAULT 0 CHECK ((snapshot_done = 0 OR snapshot_done = 1)),
  events_cursor   INTEGER NOT NULL DEFAULT 0,
  updated_at      TEXT NOT NULL
);
