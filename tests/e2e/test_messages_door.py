"""``/v1/messages`` through the official anthropic SDK, translated through the chat turn to a
Chat Completions upstream (``gpt-4o``) and to Anthropic (``claude-sonnet-...``)."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.e2e.conftest import VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

MODELS = [VENDOR_MODELS["openai"], VENDOR_MODELS["anthropic"]]
# Ollama has no tool call ids, prompt cache or image URLs: the streams are what it shares.
STREAMED = [*MODELS, VENDOR_MODELS["ollama"]]
TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def claude(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_create_answers_a_message(claude: anthropic.Anthropic, fake_upstream: FakeUpstream, model: str) -> None:
    fake_upstream.script(Turn(text="Bonjour.", prompt_tokens=30, completion_tokens=4, cached_tokens=10))
    message = claude.messages.create(
        model=model, max_tokens=100, system=[{"type": "text", "text": "Speak French."}],
        messages=[{"role": "user", "content": "Hello"}],
    )  # fmt: skip
    assert message.type == "message" and message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and message.content[0].text == "Bonjour."
    assert message.usage.input_tokens == 20 and message.usage.cache_read_input_tokens == 10
    assert message.usage.output_tokens == 4
    assert "Speak French." in json.dumps(fake_upstream.requests[-1].body)


@pytest.mark.parametrize("model", MODELS)
def test_tool_use_and_tool_result(claude: anthropic.Anthropic, fake_upstream: FakeUpstream, model: str) -> None:
    fake_upstream.script(Turn(text=None, tool_calls=(("get_weather", {"city": "Lima"}),)),
                         Turn(text="Lima is warm."))  # fmt: skip
    first = claude.messages.create(model=model, max_tokens=100, tools=[TOOL],
                                   messages=[{"role": "user", "content": "Lima?"}])  # fmt: skip
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Lima"}
    second = claude.messages.create(
        model=model, max_tokens=100, tools=[TOOL],
        messages=[
            {"role": "user", "content": "Lima?"},
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": "28 degrees"},
            ]},
        ],
    )  # fmt: skip
    assert second.content[0].text == "Lima is warm."  # type: ignore[union-attr]
    sent = json.dumps(fake_upstream.requests[-1].body)
    assert "28 degrees" in sent and use.id in sent


@pytest.mark.parametrize("model", STREAMED)
def test_stream_text(claude: anthropic.Anthropic, fake_upstream: FakeUpstream, model: str) -> None:
    fake_upstream.script(Turn(text="Streaming works fine."))
    with claude.messages.stream(model=model, max_tokens=100,
                                messages=[{"role": "user", "content": "go"}]) as stream:  # fmt: skip
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds and "message_delta" in kinds
    assert final.content[0].text == "Streaming works fine."  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 7


@pytest.mark.parametrize("model", STREAMED)
def test_stream_tool_use(claude: anthropic.Anthropic, fake_upstream: FakeUpstream, model: str) -> None:
    fake_upstream.script(Turn(text="Let me check.", tool_calls=(("get_weather", {"city": "Kyiv"}),)))
    with claude.messages.stream(model=model, max_tokens=100, tools=[TOOL],
                                messages=[{"role": "user", "content": "Kyiv?"}]) as stream:  # fmt: skip
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[1].input == {"city": "Kyiv"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"


def test_count_tokens_is_an_estimate_off_anthropic(e2e_gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{e2e_gateway.url}/v1/messages/count_tokens",
        json={"model": VENDOR_MODELS["openai"], "messages": [{"role": "user", "content": "Hello there"}]},
        headers={"x-api-key": "client-key", "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 200 and response.json()["input_tokens"] > 0
    assert response.headers["x-gateway-token-count"] == "estimate"


def test_errors_are_anthropic_shaped(claude: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="no-such-model", max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert missing.value.body["type"] == "error"  # type: ignore[index]
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    fake_upstream.script(Turn(fault=Fault.OVERLOADED))
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(model=VENDOR_MODELS["anthropic"], max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(model=VENDOR_MODELS["openai"], max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}],
                               tools=[{"type": "web_search_20250305", "name": "web_search"}])  # fmt: skip
    assert "web_search_20250305" in bad.value.body["error"]["message"]  # type: ignore[index]


def test_max_tokens_is_required(e2e_gateway: GatewayProcess) -> None:
    response = httpx.post(f"{e2e_gateway.url}/v1/messages",
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_failure_mid_stream_is_an_anthropic_error_event(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="one two three four five", fault=Fault.DROP_MID_STREAM))
    opened = claude.messages.stream(model=VENDOR_MODELS["openai"], max_tokens=50,
                                    messages=[{"role": "user", "content": "go"}])  # fmt: skip
    with pytest.raises(anthropic.APIStatusError) as caught, opened as stream:
        for _ in stream:
            pass
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
