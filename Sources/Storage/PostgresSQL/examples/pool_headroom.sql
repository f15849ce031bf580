-- Per model: keys able to take a request now, and what the keys in service and not under a 429
-- have left this minute and today (NULL: some such key is unlimited on that counter).
SELECT model,
    count(*) FILTER (WHERE has_headroom) AS keys_with_headroom,
    count(*) FILTER (WHERE is_exhausted) AS keys_exhausted,
    count(*) FILTER (WHERE NOT in_service) AS keys_out_of_service,
    CASE WHEN bool_and(max_rpm IS NOT NULL) FILTER (WHERE usable) THEN sum(rpm_headroom) FILTER (WHERE usable) END
        AS rpm_left,
    CASE WHEN bool_and(max_tpm IS NOT NULL) FILTER (WHERE usable) THEN sum(tpm_headroom) FILTER (WHERE usable) END
        AS tpm_left,
    CASE WHEN bool_and(max_rpd IS NOT NULL) FILTER (WHERE usable) THEN sum(rpd_headroom) FILTER (WHERE usable) END
        AS rpd_left
FROM (SELECT *, in_service AND NOT is_exhausted AS usable FROM key_headroom) AS rows
GROUP BY model
ORDER BY model;
