"""`GET /metrics` on the real binary parses as Prometheus text, its counters move as requests are
answered, and no key or token ever appears in it."""

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conftest import KEYS, TOKEN, VERTEX_KEYS


def scrape(stack):
    with urllib.request.urlopen(f"{stack.relay_url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    return text, families


def value(families, family, name=None, **labels):
    """The value of the one sample of `family` named `name` (default the family's) whose labels
    include `labels`; 0 when there is none."""
    name = name or family
    matches = [
        sample.value
        for sample in families[family].samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(matches)


def post(stack, path, body, token=TOKEN):
    request = urllib.request.Request(
        f"{stack.relay_url}{path}",
        data=json.dumps(body).encode() if not isinstance(body, bytes) else body,
        headers={"Content-Type": "application/json", **({"x-goog-api-key": token} if token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def test_metrics_parse_and_counters_move(stack):
    _, before = scrape(stack)
    # prometheus_client names counter families without their `_total`.
    for family in ["keyrelay_requests", "keyrelay_upstream_attempts", "keyrelay_retries",
                   "keyrelay_exhausted_rejections", "keyrelay_store_errors"]:
        assert before[family].type == "counter", family
    assert before["keyrelay_upstream_latency_seconds"].type == "histogram"
    assert before["keyrelay_keys"].type == "gauge"
    assert value(before, "keyrelay_build_info") == 1

    generate = "/v1beta/models/gemini-2.5-flash:generateContent"
    ok = {"contents": [{"parts": [{"text": "metrics please"}]}]}
    assert post(stack, generate, ok) == 200
    assert post(stack, generate, ok) == 200
    assert post(stack, generate, b"{not json") == 400
    assert post(stack, generate, ok, token="not-a-token-at-all") == 401

    text, after = scrape(stack)
    route = {"route": "gemini.generate"}
    answered = {**route, "model": "gemini-2.5-flash", "client": "sdk"}

    def moved(family, name=None, **labels):
        return value(after, family, name, **labels) - value(before, family, name, **labels)

    assert moved("keyrelay_requests", "keyrelay_requests_total", status="200", **answered) == 2
    assert moved("keyrelay_requests", "keyrelay_requests_total", status="400", model="-", client="sdk", **route) == 1
    assert moved("keyrelay_requests", "keyrelay_requests_total", status="401", client="-", **route) == 1
    assert moved("keyrelay_upstream_attempts", "keyrelay_upstream_attempts_total", outcome="success") >= 2
    assert moved("keyrelay_upstream_latency_seconds", "keyrelay_upstream_latency_seconds_count", **route) >= 2
    inf = value(after, "keyrelay_upstream_latency_seconds", "keyrelay_upstream_latency_seconds_bucket",
                le="+Inf", **route)
    assert inf == value(after, "keyrelay_upstream_latency_seconds", "keyrelay_upstream_latency_seconds_count",
                        **route)
    assert value(after, "keyrelay_keys", model="-", state="available") == len(KEYS) + len(VERTEX_KEYS)

    for secret in KEYS + VERTEX_KEYS + [TOKEN, "not-a-token-at-all"]:
        assert secret not in text
    # Not even a fingerprint: labels never name a key.
    assert "AIza…" not in text
