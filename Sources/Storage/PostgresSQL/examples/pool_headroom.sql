-- Per model: keys able to take a request now, and what the pool has left this minute and today
-- (NULL: some key of the model is unlimited on that counter).
SELECT model,
    count(*) FILTER (WHERE has_headroom) AS keys_with_headroom,
    count(*) FILTER (WHERE is_exhausted) AS keys_exhausted,
    count(*) FILTER (WHERE NOT in_service) AS keys_out_of_service,
    CASE WHEN bool_and(max_rpm IS NOT NULL) THEN sum(rpm_headroom) END AS rpm_left,
    CASE WHEN bool_and(max_tpm IS NOT NULL) THEN sum(tpm_headroom) END AS tpm_left,
    CASE WHEN bool_and(max_rpd IS NOT NULL) THEN sum(rpd_headroom) END AS rpd_left
FROM key_headroom
GROUP BY model
ORDER BY model;
