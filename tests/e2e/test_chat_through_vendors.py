"""The official openai SDK -> the gateway -> fake OpenAI, Anthropic and Ollama upstreams."""

from __future__ import annotations

import json

import openai
import pytest

from tests.e2e.conftest import VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Turn

VENDORS = list(VENDOR_MODELS)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
CONVERSATION = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
]
CALLS = (("get_weather", {"city": "Paris", "days": 2}), ("get_weather", {"city": "Rome"}))


@pytest.mark.parametrize("vendor", VENDORS)
def test_plain_reply(vendor: str, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(text="Sunny, 21 degrees.", prompt_tokens=31, completion_tokens=9))
    completion = client.chat.completions.create(model=VENDOR_MODELS[vendor], messages=CONVERSATION)
    choice = completion.choices[0]
    assert choice.message.content == "Sunny, 21 degrees."
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (31, 9)
    assert completion.usage.total_tokens == 40


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream_reassembles_to_the_same_answer(
    vendor: str, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    text = "Sunny in Paris, rain in Rome, and wind everywhere else."
    fake_upstream.script(Turn(text=text, prompt_tokens=31, completion_tokens=12))
    with client.chat.completions.stream(
        model=VENDOR_MODELS[vendor], messages=CONVERSATION, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1, "the answer must arrive in pieces, not buffered whole"
    assert final.choices[0].message.content == text
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == 12


def _tool_calls(message: object) -> list[tuple[str, dict]]:
    return [
        (call.function.name, json.loads(call.function.arguments))
        for call in message.tool_calls or []  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("vendor", VENDORS)
def test_tool_call_round_trip(vendor: str, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=CALLS), Turn(text="Paris 21C, Rome 25C."))
    model = VENDOR_MODELS[vendor]
    first = client.chat.completions.create(model=model, messages=CONVERSATION, tools=[WEATHER_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls or []
    assert _tool_calls(first.choices[0].message) == [(n, a) for n, a in CALLS]
    assert len({call.id for call in calls}) == 2
    followup = [
        *CONVERSATION,
        first.choices[0].message.model_dump(exclude_none=True),
        *({"role": "tool", "tool_call_id": c.id, "content": f"{i}: fine"} for i, c in enumerate(calls)),
    ]
    second = client.chat.completions.create(model=model, messages=followup, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Paris 21C, Rome 25C."
    sent = fake_upstream.requests[-1].body
    assert "fine" in json.dumps(sent), "the tool results must reach the upstream"


@pytest.mark.parametrize("vendor", VENDORS)
def test_streamed_tool_calls_equal_the_non_streamed_ones(
    vendor: str, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    model = VENDOR_MODELS[vendor]
    fake_upstream.script(Turn(text=None, tool_calls=CALLS), Turn(text=None, tool_calls=CALLS))
    plain = client.chat.completions.create(model=model, messages=CONVERSATION, tools=[WEATHER_TOOL])
    with client.chat.completions.stream(
        model=model, messages=CONVERSATION, tools=[WEATHER_TOOL]
    ) as stream:
        streamed = stream.get_final_completion()
    assert streamed.choices[0].finish_reason == "tool_calls"
    assert _tool_calls(streamed.choices[0].message) == _tool_calls(plain.choices[0].message)
    assert _tool_calls(streamed.choices[0].message) == [(n, a) for n, a in CALLS]


@pytest.mark.parametrize(
    ("vendor", "native", "expected"),
    [
        ("openai", "length", "length"),
        ("anthropic", "max_tokens", "length"),
        ("anthropic", "stop_sequence", "stop"),
        ("anthropic", "refusal", "content_filter"),
        ("anthropic", "brand_new_reason", "brand_new_reason"),
        ("ollama", "length", "length"),
        ("ollama", "brand_new_reason", "brand_new_reason"),
    ],
)
def test_finish_reasons_are_mapped_and_the_native_one_kept(
    vendor: str, native: str, expected: str, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="cut", finish=native))
    completion = client.chat.completions.create(model=VENDOR_MODELS[vendor], messages=CONVERSATION)
    assert completion.choices[0].finish_reason == expected
    assert (completion.model_extra or {})["x_gateway"]["native_finish_reason"] == native


def test_cached_prompt_tokens_are_reported(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(text="ok", prompt_tokens=100, cached_tokens=60))
    completion = client.chat.completions.create(model=VENDOR_MODELS["openai"], messages=CONVERSATION)
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 60


def test_anthropic_receives_its_own_dialect(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    client.chat.completions.create(model="claude", messages=CONVERSATION, max_tokens=50)
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"] and sent.headers["x-api-key"]
    assert sent.body["system"] == "You are a weather bot."
    assert sent.body["messages"][0]["role"] == "user"
    assert sent.body["max_tokens"] == 50


def test_ollama_prefix_routes_with_the_rest_of_the_name(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(model="ollama/qwen3:8b", messages=CONVERSATION)
    sent = fake_upstream.requests[-1]
    assert sent.path == "/api/chat" and sent.body["model"] == "qwen3:8b"
