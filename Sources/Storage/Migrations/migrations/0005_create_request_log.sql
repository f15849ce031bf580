-- Creates request_log: one row per relayed request, written in batches; the relay deletes rows
-- older than the request_log_retention_days setting (DESIGN.md §6). No column holds a secret.
-- It already has PostgreSQL's later rate_limited column (0008 there), as this is its first version.

CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    instance_id TEXT,
    client_label TEXT,
    key_id INTEGER REFERENCES api_keys (id),
    model TEXT,
    route TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    -- Upstream 429s this request met (each sent it to another key).
    rate_limited INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT status_is_http CHECK (status BETWEEN 100 AND 599),
    CONSTRAINT latency_ms_not_negative CHECK (latency_ms >= 0),
    CONSTRAINT input_tokens_not_negative CHECK (input_tokens >= 0),
    CONSTRAINT total_tokens_not_negative CHECK (total_tokens >= 0),
    CONSTRAINT retries_not_negative CHECK (retries >= 0),
    CONSTRAINT rate_limited_not_negative CHECK (rate_limited >= 0)
);

CREATE INDEX IF NOT EXISTS request_log_at_idx ON request_log (at);
CREATE INDEX IF NOT EXISTS request_log_key_id_at_idx ON request_log (key_id, at);
