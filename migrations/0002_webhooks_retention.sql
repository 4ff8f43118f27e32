-- lshd schema, version 2: webhooks and retention (issue 4).

-- Webhook endpoints (GET/POST/DELETE /webhooks; LSH_WEBHOOK_URLS seeds them).
CREATE TABLE webhook_endpoints (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  url         TEXT NOT NULL UNIQUE CHECK (length(url) BETWEEN 8 AND 2048),
  created_at  TEXT NOT NULL
);

-- The durable delivery queue: one row per job event and endpoint, written in
-- the same transaction as the event (Store::EventAppend), so a restart loses
-- none. The body is built from the events row when it is sent; retention
-- keeps an event while any of its deliveries is pending. Delivery ids grow
-- in event order, so each endpoint gets its events in order.
CREATE TABLE webhook_deliveries (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id      INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id         INTEGER NOT NULL,
  state            TEXT NOT NULL DEFAULT 'pending' CHECK ((state = 'pending' OR
      state = 'delivered' OR state = 'dropped')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  TEXT,      -- backoff after a failure
  last_status      INTEGER,   -- the HTTP status of the last attempt (NULL: no answer)
  last_error       TEXT,
  created_at       TEXT NOT NULL,
  delivered_at     TEXT
);
-- Each endpoint's worker reads its pending deliveries in id order.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, id)
  WHERE state = 'pending';

-- Retention keeps a run while any of its outbox rows is undelivered
-- (pending or parked); this finds them without scanning the outbox.
CREATE INDEX outbox_undelivered_entity ON outbox (entity_id) WHERE state <> 'delivered';
