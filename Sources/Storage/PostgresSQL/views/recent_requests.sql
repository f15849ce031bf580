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
