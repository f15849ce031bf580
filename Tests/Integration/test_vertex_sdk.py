"""The google-genai SDK in Vertex mode (API key, base URL on the relay) through the Vertex
Express routes, with the vertex key pool and the simulator as upstream."""

import time

from google import genai
from google.genai import types

from conftest import TOKEN


def vertex_client(stack):
    return genai.Client(
        vertexai=True,
        api_key=TOKEN,
        http_options=types.HttpOptions(base_url=stack.relay_url + "/vertex-express"),
    )


def test_vertex_generate(stack):
    client = vertex_client(stack)
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Hello from Vertex mode")
    assert answer.text
    assert answer.usage_metadata.total_token_count > 0


def test_vertex_stream_arrives_incrementally(stack):
    client = vertex_client(stack)
    arrivals = []
    started = time.monotonic()
    for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Stream in Vertex mode"):
        arrivals.append((time.monotonic() - started, chunk))
    assert len(arrivals) >= 2
    assert arrivals[-1][0] - arrivals[0][0] > 0.25
    assert arrivals[-1][1].usage_metadata.total_token_count > 0
