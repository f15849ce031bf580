-- The ten keys closest to their daily request limit, by fingerprint (never the secret).
SELECT model, fingerprint, label, rpd, max_rpd, rpd_used_pct, exhausted_until
FROM key_headroom
WHERE max_rpd IS NOT NULL
ORDER BY rpd_used_pct DESC NULLS LAST, model, key_id
LIMIT 10;
