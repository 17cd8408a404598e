"""The front doors forwarded natively: ``/v1/responses`` to a provider with OpenAI's Responses
API, ``/v1/messages`` to Anthropic. What only the native format carries must survive both
ways, and the gateway's accounting must still see the usage."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, NATIVE_RESPONSES_MODEL, OPENAI_KEY, VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.fake_upstream.anthropic_extras_wire import ThinkingTurn, counted_tokens
from tests.support.fake_upstream.openai_responses_wire import ReasoningTurn
from tests.support.gateway import GatewayProcess

CLAUDE = VENDOR_MODELS["anthropic"]


@pytest.fixture
def claude(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)


def test_responses_forwarded_with_built_in_tools_and_reasoning(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ReasoningTurn(text="Found it.", prompt_tokens=40, completion_tokens=9))
    response = client.responses.with_raw_response.create(
        model=NATIVE_RESPONSES_MODEL, input="Search the news", tools=[{"type": "web_search"}],
        include=["reasoning.encrypted_content"], reasoning={"effort": "high", "summary": "auto"},
    )  # fmt: skip
    parsed = response.parse()
    assert response.headers["x-gateway-route"] == "native"
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/responses" and sent.body["model"] == "gpt-5"
    assert sent.body["tools"] == [{"type": "web_search"}]
    assert sent.body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert sent.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    reasoning = parsed.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == "gAAAAA-fake-encrypted-reasoning"
    assert parsed.output_text == "Found it."
    assert float(response.headers["x-gateway-cost-usd"]) >= 0


def test_responses_stream_native_relays_reasoning_summaries(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ReasoningTurn(text="Streamed natively."))
    with client.responses.stream(model=NATIVE_RESPONSES_MODEL, input="hi") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in kinds
    assert final.output_text == "Streamed natively."
    assert fake_upstream.requests[-1].body["stream"] is True


def test_reasoning_items_go_back_natively_on_the_next_turn(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ReasoningTurn(text="First."), Turn(text="Second."))
    first = client.responses.create(model=NATIVE_RESPONSES_MODEL, input="one")
    second = client.responses.create(model=NATIVE_RESPONSES_MODEL, input="two", previous_response_id=first.id)
    assert second.output_text == "Second."
    sent = fake_upstream.requests[-1].body
    assert "previous_response_id" not in sent
    assert [item.get("type", "message") for item in sent["input"]] == ["message", "reasoning", "message", "message"]
    assert sent["input"][1]["encrypted_content"] == "gAAAAA-fake-encrypted-reasoning"


def test_messages_forwarded_with_thinking_cache_control_and_beta(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ThinkingTurn(text="Done thinking."))
    message = claude.messages.create(
        model=CLAUDE, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
        system=[{"type": "text", "text": "Be exact.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "2+2?"}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )  # fmt: skip
    assert message.content[0].type == "thinking"
    assert message.content[0].signature == "EqQBCgIYAhIM-fake-signature"
    sent = fake_upstream.requests[-1]
    assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY


def test_messages_stream_native_keeps_thinking_signatures(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(ThinkingTurn(text="Four.", tool_calls=(("calc", {"x": 4}),)))
    with claude.messages.stream(model=CLAUDE, max_tokens=2048,
                                thinking={"type": "enabled", "budget_tokens": 1024},
                                messages=[{"role": "user", "content": "2+2?"}]) as stream:  # fmt: skip
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].signature == "EqQBCgIYAhIM-fake-signature"  # type: ignore[union-attr]
    assert "signature" in kinds and "thinking" in kinds


def test_thinking_goes_back_to_anthropic_with_its_signature(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    thinking = {"type": "thinking", "thinking": "Hmm.", "signature": "sig-123"}
    claude.messages.create(model=CLAUDE, max_tokens=2048, messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [thinking, {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "4", "is_error": False}]},
    ])  # fmt: skip
    assert fake_upstream.requests[-1].body["messages"][1]["content"][0] == thinking


def test_count_tokens_is_exact_from_anthropic(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    body = {"model": CLAUDE, "messages": [{"role": "user", "content": "count these words please"}]}
    response = httpx.post(f"{e2e_gateway.url}/v1/messages/count_tokens", json=body,
                          headers={"x-api-key": "client-key", "anthropic-version": "2023-06-01"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["x-gateway-token-count"] == "exact"
    assert response.json() == {"input_tokens": counted_tokens({**body, "model": CLAUDE})}
    assert fake_upstream.requests[-1].path == "/v1/messages/count_tokens"


def test_count_tokens_through_the_sdk(claude: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    counted = claude.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens > 0


def _totals(gateway: GatewayProcess) -> dict:
    return httpx.get(f"{gateway.url}/v1/usage").json()["totals"]


def test_native_calls_are_accounted_from_the_vendors_usage(
    e2e_gateway: GatewayProcess, claude: anthropic.Anthropic, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    before = _totals(e2e_gateway)
    fake_upstream.script(Turn(text="a", prompt_tokens=100, completion_tokens=7, cached_tokens=40),
                         Turn(text="b c d", prompt_tokens=50, completion_tokens=9),
                         ReasoningTurn(text="e", prompt_tokens=30, completion_tokens=3))  # fmt: skip
    claude.messages.create(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with claude.messages.stream(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "y"}]) as stream:
        stream.get_final_message()
    client.responses.create(model=NATIVE_RESPONSES_MODEL, input="z")
    after = _totals(e2e_gateway)
    assert after["requests"] - before["requests"] == 3
    assert after["prompt_tokens"] - before["prompt_tokens"] == 180
    assert after["completion_tokens"] - before["completion_tokens"] == 19
    assert after["cached_tokens"] - before["cached_tokens"] == 40


def test_native_upstream_errors_keep_their_meaning(
    client: openai.OpenAI, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(fault=Fault.RATE_LIMITED), Turn(fault=Fault.OVERLOADED))
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model=NATIVE_RESPONSES_MODEL, input="hi", stream=True)
    assert limited.value.response.headers["retry-after"] == "7"
    opened = claude.messages.stream(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.APIStatusError) as overloaded, opened:
        pass
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
