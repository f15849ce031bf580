"""The official openai SDK against the relay: /v1 (translated to Gemini) and /openai/v1
(forwarded to Gemini's own OpenAI-compatible endpoint), with the simulator as upstream."""

import json
import sqlite3
import time
import urllib.request

import openai
import pytest

from conftest import TOKEN

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(params=["/v1", "/openai/v1"], ids=["translated", "passthrough"])
def client(request, stack):
    return openai.OpenAI(api_key=TOKEN, base_url=stack.relay_url + request.param, max_retries=0)


def last_request(stack):
    with urllib.request.urlopen(f"{stack.simulator_url}/simulator/last-request") as response:
        return json.load(response)


def test_plain_completion(client):
    answer = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}],
    )
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0
    assert answer.usage.total_tokens >= answer.usage.prompt_tokens


def test_streamed_completion_reports_usage_last_and_counts_tokens(client, stack):
    chunks = list(
        client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "Stream with usage"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
    assert all(c.usage is None for c in chunks[:-2])
    # The prompt tokens were counted against the key's TPM (records are written within ~200 ms).
    time.sleep(0.6)
    with sqlite3.connect(stack.database) as db:
        (tpm,) = db.execute("SELECT COALESCE(SUM(tpm), 0) FROM key_usage WHERE model = 'gemini-2.5-flash'").fetchone()
    assert tpm > 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_function_call_round_trip(client, stream):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    if stream:
        calls = {}
        finish = None
        for chunk in client.chat.completions.create(
            model="gemini-2.5-flash", messages=messages, tools=[WEATHER_TOOL], stream=True
        ):
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = call["id"] or delta.id
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
        assert finish == "tool_calls"
        assert len(calls) == 1
        call = calls[0]
        assert call["id"] and call["name"] == "get_weather"
        call_id, name, arguments = call["id"], call["name"], call["arguments"]
    else:
        answer = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER_TOOL])
        assert answer.choices[0].finish_reason == "tool_calls"
        tool_call = answer.choices[0].message.tool_calls[0]
        call_id, name, arguments = tool_call.id, tool_call.function.name, tool_call.function.arguments
    assert name == "get_weather"
    assert "city" in json.loads(arguments)

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        ]},
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps({"tempC": 18, "sky": "cloudy"})},
    ]
    final = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER_TOOL])
    assert "18" in final.choices[0].message.content


def test_two_choices(client):
    answer = client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Two please"}], n=2
    )
    assert [choice.index for choice in answer.choices] == [0, 1]
    assert answer.choices[0].message.content != answer.choices[1].message.content


def test_json_mode_reaches_gemini_as_a_response_mime_type(client, stack, request):
    answer = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Reply in JSON"}],
        response_format={"type": "json_object"},
    )
    assert answer.choices[0].message.content is not None
    sent = last_request(stack)
    body = sent.get("body_text") or ""
    if "/openai/v1" in str(client.base_url):
        assert '"response_format"' in body
    else:
        assert '"responseMimeType":"application/json"' in body.replace(" ", "")


def test_embeddings(client):
    result = client.embeddings.create(model="gemini-embedding-001", input=["first text", "second text"])
    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) > 0 for item in result.data)


def test_model_list(client):
    ids = [model.id for model in client.models.list()]
    assert any("gemini-2.5-flash" in model_id for model_id in ids)


def test_errors_are_openai_shaped(client):
    bad = openai.OpenAI(api_key="wrong-token", base_url=str(client.base_url), max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        bad.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 401
    assert error.value.body["type"] == "authentication_error"
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "[[invalid-argument]]"}])
    assert error.value.status_code == 400
    assert error.value.body["message"]


def test_a_stream_cut_short_upstream_raises_in_the_sdk(client):
    stream = client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "[[stream-drop]]"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
