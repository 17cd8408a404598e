"""Translation that says what it did (issue 12): the openai SDK -> the gateway -> the fake
Anthropic upstream, which checks each body against the anthropic SDK's request type."""

from __future__ import annotations

import openai
import pytest

from tests.support.fake_upstream import FakeUpstream, Turn

CLAUDE = "claude-sonnet-4-5-20250929"
HELLO = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _messages_bodies(fake_upstream: FakeUpstream) -> list[dict]:
    return [r.body for r in fake_upstream.requests if r.path.endswith("/messages")]


def test_reasoning_effort_becomes_a_thinking_budget(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(
        model=CLAUDE,
        messages=HELLO,
        reasoning_effort="low",
        max_completion_tokens=200,
        extra_body={"top_k": 5},
    )
    (sent,) = _messages_bodies(fake_upstream)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["max_tokens"] == 200 + 1024  # the budget on top of the asked answer room
    assert sent["top_k"] == 5


def test_thinking_blocks_come_back_and_go_back_with_tool_results(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text=None, reasoning="Paris: call the tool.", tool_calls=(("get_weather", {"city": "Paris"}),)),
        Turn(text="Sunny."),
    )  # fmt: skip
    first = client.chat.completions.create(
        model=CLAUDE, messages=HELLO, tools=[WEATHER_TOOL], reasoning_effort="medium"
    )
    message = first.choices[0].message
    extra = message.model_extra or {}
    assert extra["reasoning_content"] == "Paris: call the tool."
    (block,) = extra["thinking_blocks"]
    assert block["type"] == "thinking" and block["signature"].startswith("sig-")
    call = (message.tool_calls or [])[0]
    history = [
        *HELLO,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "21C"},
    ]
    second = client.chat.completions.create(
        model=CLAUDE, messages=history, tools=[WEATHER_TOOL], reasoning_effort="medium"
    )
    assert second.choices[0].message.content == "Sunny."
    assistant_turn = _messages_bodies(fake_upstream)[1]["messages"][1]
    assert assistant_turn["role"] == "assistant"
    assert assistant_turn["content"][0] == block  # first, signature unchanged
    assert assistant_turn["content"][1]["type"] == "tool_use"


@pytest.mark.parametrize("field", [{"logprobs": True}, {"frequency_penalty": 0.5}])
def test_an_unsupported_field_is_refused_by_name(client: openai.OpenAI, field: dict) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=CLAUDE, messages=HELLO, **field)
    (name,) = field
    body = refused.value.body
    assert body["code"] == "unsupported_parameter"  # type: ignore[index]
    assert body["param"] == name  # type: ignore[index]
    assert "fake-anthropic" in body["message"]  # type: ignore[index]


def test_drop_params_drops_and_says_so(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=CLAUDE, messages=HELLO, logprobs=True, top_logprobs=2, extra_body={"drop_params": True}
    )
    assert raw.headers["x-gateway-dropped-params"] == "logprobs,top_logprobs"
    completion = raw.parse()
    assert (completion.model_extra or {})["x_gateway"]["dropped_params"] == [
        "logprobs",
        "top_logprobs",
    ]
    (sent,) = _messages_bodies(fake_upstream)
    assert "logprobs" not in sent and "drop_params" not in sent


def test_cache_read_and_write_tokens_are_reported(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(prompt_tokens=100, cached_tokens=40, cache_write_tokens=30))
    completion = client.chat.completions.create(model=CLAUDE, messages=HELLO)
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens == 100
    details = usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 40
    assert details.cache_write_tokens == 30  # the openai SDK's own name for it
    # config/pricing.json, per million: input 3.00, cache read 0.30, cache write 3.75, output 15.
    expected = (30 * 3.00 + 40 * 0.30 + 30 * 3.75 + 7 * 15.00) / 1_000_000
    assert (completion.model_extra or {})["x_gateway"]["cost_usd"] == pytest.approx(expected)


def test_ollama_maps_top_k_penalties_and_reasoning_effort(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(
        model="llama3.2",
        messages=HELLO,
        reasoning_effort="high",
        frequency_penalty=0.5,
        extra_body={"top_k": 7},
    )
    (sent,) = [r.body for r in fake_upstream.requests if r.path == "/api/chat"]
    assert sent["think"] == "high"
    assert (sent["options"]["top_k"], sent["options"]["frequency_penalty"]) == (7, 0.5)


def test_ollama_refuses_logprobs_by_name(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="llama3.2", messages=HELLO, logprobs=True)
    assert refused.value.body["param"] == "logprobs"  # type: ignore[index]
    assert "fake-ollama" in refused.value.body["message"]  # type: ignore[index]


def test_cache_control_reaches_anthropic_on_system_parts_and_tools(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    ephemeral = {"type": "ephemeral"}
    messages = [
        {"role": "system", "content": [
            {"type": "text", "text": "A long, stable instruction.", "cache_control": ephemeral}]},
        {"role": "user", "content": [
            {"type": "text", "text": "A long document.", "cache_control": ephemeral},
            {"type": "text", "text": "Summarise it."}]},
    ]  # fmt: skip
    tool = {**WEATHER_TOOL, "cache_control": ephemeral}
    client.chat.completions.create(model=CLAUDE, messages=messages, tools=[tool])  # type: ignore[list-item]
    (sent,) = _messages_bodies(fake_upstream)
    assert sent["system"] == [
        {"type": "text", "text": "A long, stable instruction.", "cache_control": ephemeral}
    ]
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "A long document.", "cache_control": ephemeral},
        {"type": "text", "text": "Summarise it."},
    ]
    assert sent["tools"][0]["cache_control"] == ephemeral


def test_strict_function_tools_reach_openai(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    strict_tool = {"type": "function", "function": {**WEATHER_TOOL["function"], "strict": True}}
    client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=[strict_tool])  # type: ignore[list-item]
    (sent,) = [r.body for r in fake_upstream.requests if r.path.endswith("/chat/completions")]
    assert sent["tools"][0]["function"]["strict"] is True


AUDIO_AND_FILE = [
    {"type": "text", "text": "What is in these?"},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
]


def test_audio_and_file_parts_reach_openai_as_sent(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": AUDIO_AND_FILE}]  # type: ignore[list-item, misc]
    )
    (sent,) = [r.body for r in fake_upstream.requests if r.path.endswith("/chat/completions")]
    assert sent["messages"][0]["content"] == AUDIO_AND_FILE


@pytest.mark.parametrize("model", [CLAUDE, "llama3.2"])
def test_audio_parts_are_refused_by_name_elsewhere(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": AUDIO_AND_FILE}]  # type: ignore[list-item, misc]
        )
    body = refused.value.body
    assert body["code"] == "unsupported_parameter"  # type: ignore[index]
    assert "input_audio" in body["message"]  # type: ignore[index]
