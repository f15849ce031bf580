-- Creates api_keys: the configured upstream keys and their health (DESIGN.md §6).
-- Every instant in this SQLite schema (*_at, *_start, *_until, last_used) is an INTEGER holding
-- Unix milliseconds (UTC); booleans are INTEGER 0 or 1.

CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    -- The raw key, sent upstream; no view or API response reads this column.
    secret TEXT NOT NULL,
    -- Hex SHA-256 of the secret: the key's identity, so re-adding a removed key restores its id.
    secret_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    label TEXT,
    is_paid INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    failure_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    deactivated_at INTEGER,
    deactivation_reason TEXT,
    quota_group TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    added_at INTEGER NOT NULL,
    removed_at INTEGER,
    CONSTRAINT secret_hash_is_unique UNIQUE (secret_hash),
    CONSTRAINT kind_is_known CHECK (kind IN ('gemini', 'vertex')),
    CONSTRAINT is_paid_is_boolean CHECK (is_paid IN (0, 1)),
    CONSTRAINT is_active_is_boolean CHECK (is_active IN (0, 1)),
    CONSTRAINT enabled_is_boolean CHECK (enabled IN (0, 1)),
    CONSTRAINT failure_count_not_negative CHECK (failure_count >= 0)
);

CREATE INDEX IF NOT EXISTS api_keys_kind_removed_at_idx ON api_keys (kind, removed_at);
