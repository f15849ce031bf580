-- Creates instances: the relays of a fleet with their heartbeat, for dashboards. The reset job
-- deletes rows whose heartbeat is older than 5 minutes.

CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    version TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS instances_heartbeat_at_idx ON instances (heartbeat_at);
