-- rate_limited_share: the 429 rate per model and hour over the last 7 days, from request_log.
-- rate_limited_pct is the share of upstream attempts answered 429 (each moved the request to
-- another key); answered_429_pct the share of requests whose client got a 429 in the end.
CREATE OR REPLACE VIEW rate_limited_share AS
WITH hourly AS (
    SELECT date_trunc('hour', r.at) AS hour,
        r.model,
        count(*) AS requests,
        -- A request refused before any attempt (every key exhausted) has no key and no attempt.
        sum(r.retries + CASE WHEN r.key_id IS NULL THEN 0 ELSE 1 END) AS attempts,
        sum(r.rate_limited) AS rate_limited_attempts,
        count(*) FILTER (WHERE r.status = 429) AS answered_429
    FROM request_log AS r
    WHERE r.at >= date_trunc('hour', now()) - INTERVAL '7 days'
    GROUP BY 1, 2
)
SELECT h.hour, h.model, h.requests, h.attempts, h.rate_limited_attempts, h.answered_429,
    round(100.0 * h.rate_limited_attempts / NULLIF(h.attempts, 0), 2) AS rate_limited_pct,
    round(100.0 * h.answered_429 / h.requests, 2) AS answered_429_pct
FROM hourly AS h;
