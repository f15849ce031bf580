-- Tokens per quota day and model over the last week (a stacked bar panel).
SELECT day, model,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens,
    sum(total_tokens) AS total_tokens,
    sum(rate_limited) AS rate_limited
FROM tokens_per_day
WHERE day >= current_date - 7
GROUP BY day, model
ORDER BY day, model;
