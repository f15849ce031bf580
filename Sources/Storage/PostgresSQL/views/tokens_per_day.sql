-- tokens_per_day: the history of usage_daily per quota day, model and key, with the key's
-- fingerprint and label (never its secret). Removed keys stay, flagged, since their history does.
CREATE OR REPLACE VIEW tokens_per_day AS
SELECT d.day, d.model, d.key_id, k.fingerprint, k.label, k.kind,
    k.removed_at IS NOT NULL AS key_removed,
    d.requests, d.input_tokens, d.total_tokens, d.errors, d.rate_limited
FROM usage_daily AS d
JOIN api_keys AS k ON k.id = d.key_id;
