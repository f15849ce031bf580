-- Creates usage_daily: per-day history of each (model, key), written when an attempt is recorded.
-- day is the date in the quota time zone, so a row covers one quota day, not one UTC day.

CREATE TABLE IF NOT EXISTS usage_daily (
    day DATE NOT NULL,
    model TEXT NOT NULL,
    key_id BIGINT NOT NULL REFERENCES api_keys (id),
    requests BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    rate_limited BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model, key_id),
    CONSTRAINT requests_not_negative CHECK (requests >= 0),
    CONSTRAINT input_tokens_not_negative CHECK (input_tokens >= 0),
    CONSTRAINT total_tokens_not_negative CHECK (total_tokens >= 0),
    CONSTRAINT errors_not_negative CHECK (errors >= 0),
    CONSTRAINT rate_limited_not_negative CHECK (rate_limited >= 0)
);

CREATE INDEX IF NOT EXISTS usage_daily_key_id_idx ON usage_daily (key_id);
