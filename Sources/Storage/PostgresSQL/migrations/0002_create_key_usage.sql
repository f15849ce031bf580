-- Creates key_usage: the usage matrix of DESIGN.md §3, one row per (model, key).
-- Counters belong to the windows named by minute_start and day_start; a NULL max_* is unlimited.

CREATE TABLE IF NOT EXISTS key_usage (
    model TEXT NOT NULL,
    key_id BIGINT NOT NULL REFERENCES api_keys (id),
    rpm BIGINT NOT NULL DEFAULT 0,
    tpm BIGINT NOT NULL DEFAULT 0,
    rpd BIGINT NOT NULL DEFAULT 0,
    max_rpm BIGINT,
    max_tpm BIGINT,
    max_rpd BIGINT,
    minute_start TIMESTAMPTZ NOT NULL,
    day_start TIMESTAMPTZ NOT NULL,
    exhausted_until TIMESTAMPTZ,
    last_used TIMESTAMPTZ,
    PRIMARY KEY (model, key_id),
    CONSTRAINT rpm_not_negative CHECK (rpm >= 0),
    CONSTRAINT tpm_not_negative CHECK (tpm >= 0),
    CONSTRAINT rpd_not_negative CHECK (rpd >= 0),
    CONSTRAINT max_rpm_not_negative CHECK (max_rpm IS NULL OR max_rpm >= 0),
    CONSTRAINT max_tpm_not_negative CHECK (max_tpm IS NULL OR max_tpm >= 0),
    CONSTRAINT max_rpd_not_negative CHECK (max_rpd IS NULL OR max_rpd >= 0)
);

CREATE INDEX IF NOT EXISTS key_usage_key_id_idx ON key_usage (key_id);
