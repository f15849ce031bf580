-- Creates settings: pool settings by name, each value a JSON text (DESIGN.md §8).
-- The value is TEXT, not JSONB, so it reads back exactly as written; dashboards cast it.

-- A CHECK cannot catch a failed cast, so validity is asked of a function: a bad value then fails
-- the constraint (SQLSTATE 23514), as in SQLite, rather than the cast.
CREATE OR REPLACE FUNCTION keyrelay_is_json(candidate TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM candidate::JSON;
    RETURN TRUE;
EXCEPTION WHEN OTHERS THEN
    RETURN FALSE;
END
$$;

CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT,
    CONSTRAINT value_is_json CHECK (keyrelay_is_json(value))
);
