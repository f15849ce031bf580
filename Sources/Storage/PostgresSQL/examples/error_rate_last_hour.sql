-- Requests, error rate and p95 latency per minute over the last hour, all models together
-- (a time series panel). The p95 is the worst model's, since percentiles do not add up.
SELECT minute,
    sum(requests) AS requests,
    round(100.0 * sum(errors) / sum(requests), 2) AS error_pct,
    sum(rate_limited) AS rate_limited,
    max(p95_latency_ms) AS worst_model_p95_ms
FROM requests_per_minute
WHERE minute >= now() - INTERVAL '1 hour'
GROUP BY minute
ORDER BY minute;
