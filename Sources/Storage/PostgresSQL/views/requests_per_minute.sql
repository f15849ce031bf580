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
