-- Creates request_log: one row per relayed request, written in batches; rows older than the
-- request_log_retention_days setting are deleted by the reset job (DESIGN.md §6).

CREATE TABLE IF NOT EXISTS request_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    request_id TEXT NOT NULL,
    instance_id TEXT,
    client_label TEXT,
    key_id BIGINT REFERENCES api_keys (id),
    model TEXT,
    route TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT status_is_http CHECK (status BETWEEN 100 AND 599),
    CONSTRAINT latency_ms_not_negative CHECK (latency_ms >= 0),
    CONSTRAINT input_tokens_not_negative CHECK (input_tokens >= 0),
    CONSTRAINT total_tokens_not_negative CHECK (total_tokens >= 0),
    CONSTRAINT retries_not_negative CHECK (retries >= 0)
);

CREATE INDEX IF NOT EXISTS request_log_at_idx ON request_log (at);
CREATE INDEX IF NOT EXISTS request_log_key_id_at_idx ON request_log (key_id, at);
