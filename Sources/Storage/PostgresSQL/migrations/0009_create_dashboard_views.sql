-- Creates the dashboard views (DESIGN.md §6). Each view's definition is also its own file under
-- SQL/postgres/views/ for DBAs; a test checks that the two agree. A later change to a view is a
-- new migration with CREATE OR REPLACE VIEW, and the views/ file follows it.
-- No view reads api_keys.secret, so a role granted the views alone sees no secret (DESIGN.md §9).

-- The start of the quota day holding `instant` in time zone `zone` (the quota_timezone setting,
-- a JSON string); an unknown or missing zone falls back to the default, America/Los_Angeles, so
-- a bad setting written in SQL cannot break the dashboards.
CREATE OR REPLACE FUNCTION keyrelay_quota_day_start(instant TIMESTAMPTZ, zone TEXT)
RETURNS TIMESTAMPTZ
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF zone IS NULL THEN
        zone := 'America/Los_Angeles';
    END IF;
    RETURN date_trunc('day', instant AT TIME ZONE zone) AT TIME ZONE zone;
EXCEPTION WHEN OTHERS THEN
    RETURN date_trunc('day', instant AT TIME ZONE 'America/Los_Angeles')
        AT TIME ZONE 'America/Los_Angeles';
END
$$;

-- key_headroom: per model and key, what the current windows have used and what is left.
-- Window-aware by the database's clock: counters of a closed minute or quota day read as zero,
-- whether or not the reset job has run. A NULL max_* (and its headroom) means unlimited.
-- Keys show their fingerprint and label, never the secret; removed keys are left out.
CREATE OR REPLACE VIEW key_headroom AS
WITH clock AS (
    SELECT now() AS now,
        date_trunc('minute', now()) AS minute,
        keyrelay_quota_day_start(now(), (
            SELECT value::JSON #>> '{}' FROM settings WHERE name = 'quota_timezone'
        )) AS day
),
current_usage AS (
    SELECT u.model, u.key_id, u.max_rpm, u.max_tpm, u.max_rpd, u.last_used,
        CASE WHEN u.minute_start >= clock.minute THEN u.rpm ELSE 0 END AS rpm,
        CASE WHEN u.minute_start >= clock.minute THEN u.tpm ELSE 0 END AS tpm,
        CASE WHEN u.day_start >= clock.day THEN u.rpd ELSE 0 END AS rpd,
        CASE WHEN u.exhausted_until > clock.now THEN u.exhausted_until END AS exhausted_until
    FROM key_usage AS u CROSS JOIN clock
),
headroom AS (
    SELECT c.*,
        GREATEST(c.max_rpm - c.rpm, 0) AS rpm_headroom,
        GREATEST(c.max_tpm - c.tpm, 0) AS tpm_headroom,
        GREATEST(c.max_rpd - c.rpd, 0) AS rpd_headroom
    FROM current_usage AS c
)
SELECT h.model, h.key_id, k.fingerprint, k.label, k.kind, k.is_paid,
    k.is_active AND k.enabled AS in_service,
    h.exhausted_until IS NOT NULL AS is_exhausted, h.exhausted_until,
    -- Whether a request could be admitted on this row now.
    k.is_active AND k.enabled AND h.exhausted_until IS NULL
        AND COALESCE(h.rpm_headroom > 0, TRUE) AND COALESCE(h.tpm_headroom > 0, TRUE)
        AND COALESCE(h.rpd_headroom > 0, TRUE) AS has_headroom,
    h.rpm, h.max_rpm, h.rpm_headroom,
    CASE WHEN h.max_rpm = 0 THEN 100.0 ELSE round(100.0 * h.rpm / h.max_rpm, 1) END AS rpm_used_pct,
    h.tpm, h.max_tpm, h.tpm_headroom,
    CASE WHEN h.max_tpm = 0 THEN 100.0 ELSE round(100.0 * h.tpm / h.max_tpm, 1) END AS tpm_used_pct,
    h.rpd, h.max_rpd, h.rpd_headroom,
    CASE WHEN h.max_rpd = 0 THEN 100.0 ELSE round(100.0 * h.rpd / h.max_rpd, 1) END AS rpd_used_pct,
    h.last_used
FROM headroom AS h
JOIN api_keys AS k ON k.id = h.key_id
WHERE k.removed_at IS NULL;

-- requests_per_minute: requests, errors and latency per minute and model over the last 24 hours,
-- from request_log. errors counts every answer of 400 or more, split into client_errors (4xx
-- but 429), rate_limited (429) and server_errors (5xx). The 24-hour bound lets the index on at
-- serve it.
CREATE OR REPLACE VIEW requests_per_minute AS
SELECT date_trunc('minute', r.at) AS minute,
    r.model,
    count(*) AS requests,
    count(*) FILTER (WHERE r.status >= 400) AS errors,
    count(*) FILTER (WHERE r.status BETWEEN 400 AND 499 AND r.status <> 429) AS client_errors,
    count(*) FILTER (WHERE r.status = 429) AS rate_limited,
    count(*) FILTER (WHERE r.status >= 500) AS server_errors,
    sum(r.retries) AS retries,
    round(avg(r.latency_ms))::BIGINT AS avg_latency_ms,
    round(percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms))::BIGINT AS p95_latency_ms,
    sum(r.input_tokens) AS input_tokens,
    sum(r.total_tokens) AS total_tokens
FROM request_log AS r
WHERE r.at >= date_trunc('minute', now()) - INTERVAL '24 hours'
GROUP BY 1, 2;

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

-- tokens_per_day: the history of usage_daily per quota day, model and key, with the key's
-- fingerprint and label (never its secret). Removed keys stay, flagged, since their history does.
CREATE OR REPLACE VIEW tokens_per_day AS
SELECT d.day, d.model, d.key_id, k.fingerprint, k.label, k.kind,
    k.removed_at IS NOT NULL AS key_removed,
    d.requests, d.input_tokens, d.total_tokens, d.errors, d.rate_limited
FROM usage_daily AS d
JOIN api_keys AS k ON k.id = d.key_id;

-- instance_liveness: the fleet's instances with the seconds since each one's last heartbeat by
-- the database's clock. Instances beat every 10 s, so is_alive allows three missed beats.
CREATE OR REPLACE VIEW instance_liveness AS
SELECT i.id AS instance_id, i.host, i.version, i.started_at, i.heartbeat_at,
    GREATEST(floor(extract(EPOCH FROM now() - i.heartbeat_at)), 0)::BIGINT
        AS seconds_since_heartbeat,
    i.heartbeat_at > now() - INTERVAL '30 seconds' AS is_alive
FROM instances AS i;

-- recent_requests: request_log of the last 24 hours with each key's fingerprint and label in
-- place of a bare id, for analysts who are granted the views but not the tables.
CREATE OR REPLACE VIEW recent_requests AS
SELECT r.at, r.request_id, r.instance_id, r.client_label, r.key_id,
    k.fingerprint AS key_fingerprint, k.label AS key_label,
    r.model, r.route, r.status, r.latency_ms, r.input_tokens, r.total_tokens, r.retries,
    r.rate_limited
FROM request_log AS r
LEFT JOIN api_keys AS k ON k.id = r.key_id
WHERE r.at >= now() - INTERVAL '24 hours';
