-- Adds request_log.rate_limited: the upstream 429s a request met on its way (each sent it to
-- another key), so dashboards can show the 429 rate per attempt, not only per answer.
-- The constraint comes with the column, so a re-run skips both.

ALTER TABLE request_log ADD COLUMN IF NOT EXISTS rate_limited INTEGER NOT NULL DEFAULT 0
    CONSTRAINT rate_limited_not_negative CHECK (rate_limited >= 0);
