-- The fleet at a glance: instances that missed heartbeats first; then which client drained the
-- pool most over the last hour.
SELECT instance_id, host, version, started_at, seconds_since_heartbeat, is_alive
FROM instance_liveness
ORDER BY is_alive, seconds_since_heartbeat DESC;

SELECT client_label, count(*) AS requests, sum(total_tokens) AS total_tokens,
    count(*) FILTER (WHERE status = 429) AS answered_429
FROM recent_requests
WHERE at >= now() - INTERVAL '1 hour'
GROUP BY client_label
ORDER BY total_tokens DESC NULLS LAST;
