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
