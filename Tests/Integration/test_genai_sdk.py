"""The official google-genai SDK, pointed at the relay with a client token, gets real answers
through it; the simulator is the upstream."""

import json
import time
import urllib.request

from google import genai
from google.genai import types

from conftest import KEYS, TOKEN, VERTEX_KEYS


def client_for(stack):
    # Keep the returned client referenced while it is used: the SDK closes its HTTP client when
    # the object is collected.
    return genai.Client(api_key=TOKEN, http_options=types.HttpOptions(base_url=stack.relay_url))


def simulator_stats(stack):
    with urllib.request.urlopen(f"{stack.simulator_url}/simulator/stats") as response:
        return json.load(response)


def test_generate_content(stack):
    client = client_for(stack)
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Say hello")
    assert answer.text
    assert answer.usage_metadata.total_token_count > 0
    # Fields the relay does not know reach the client untouched.
    assert "simulatorExtension" in answer.model_dump_json() or answer.sdk_http_response is not None


def test_stream_arrives_incrementally(stack):
    arrivals = []
    started = time.monotonic()
    client = client_for(stack)
    for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Stream"):
        arrivals.append((time.monotonic() - started, chunk))
    assert len(arrivals) == 4
    # The simulator waits 300 ms between chunks: relayed chunk by chunk, the first arrives well
    # before the last; buffered, they would arrive together.
    assert arrivals[-1][0] - arrivals[0][0] > 0.25
    assert arrivals[-1][1].usage_metadata.total_token_count > 0


def test_count_tokens(stack):
    client = client_for(stack)
    result = client.models.count_tokens(model="gemini-2.5-flash", contents="The quick brown fox")
    assert result.total_tokens > 0


def test_embed_content(stack):
    client = client_for(stack)
    result = client.models.embed_content(
        model="gemini-embedding-001", contents=["first text", "second text"]
    )
    assert len(result.embeddings) == 2
    assert all(len(embedding.values) > 0 for embedding in result.embeddings)


def test_wrong_token_is_refused_with_401(stack):
    client = genai.Client(api_key="not-a-token", http_options=types.HttpOptions(base_url=stack.relay_url))
    try:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        raise AssertionError("expected a 401")
    except genai.errors.ClientError as error:
        assert error.code == 401


def test_client_token_never_reaches_upstream_and_keys_stay_out_of_logs(stack):
    client = client_for(stack)
    client.models.generate_content(model="gemini-2.5-flash", contents="check headers")
    stats = simulator_stats(stack)
    assert stats["key_in_url"] is False
    with urllib.request.urlopen(f"{stack.simulator_url}/simulator/last-request") as response:
        last = response.read().decode()
    assert TOKEN not in last
    logs = stack.log_text()
    assert logs  # the relay logged at debug level
    for key in KEYS + VERTEX_KEYS:
        assert key not in logs
    assert TOKEN not in logs
