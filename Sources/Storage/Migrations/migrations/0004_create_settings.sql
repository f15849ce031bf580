-- Creates settings: pool settings by name, each value a JSON text (DESIGN.md §8).
-- SQLite has no notifications; the single instance reloads after its own writes.

CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT,
    CONSTRAINT value_is_json CHECK (json_valid(value))
);
