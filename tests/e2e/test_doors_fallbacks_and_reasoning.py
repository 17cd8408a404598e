"""The doors beyond a single upstream call, through the official SDKs over real sockets:

- native forwarding with the route's fallbacks: a failing native upstream (500 before the
  first byte), then a healthy one of the same format; or, when every same-format one fails,
  the route's fallback of another format, translated;
- the translated path carrying reasoning: Messages ``thinking`` and Responses
  ``reasoning.effort`` reach each provider in its own terms, and an Anthropic model's signed
  thinking goes back to it on the next turn (a Messages session; a Responses reasoning item).
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import NATIVE_RESPONSES_MODEL, VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

FAILED = Turn(fault=Fault.SERVER_ERROR)


@pytest.fixture
def claude(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=e2e_gateway.url, api_key="client-key", max_retries=0)


def _calls(upstream: FakeUpstream) -> list[tuple[str, str]]:
    return [(sent.path, sent.body["model"]) for sent in upstream.requests]


@pytest.mark.parametrize("stream", [False, True])
def test_messages_native_falls_back_to_the_same_format(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.script(FAILED, Turn(text="From the fallback."))
    request = {"model": "claude-fallbacks", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    if stream:
        with claude.messages.stream(**request) as events:
            text = events.get_final_text()
    else:
        raw = claude.messages.with_raw_response.create(**request)
        assert raw.headers["x-gateway-route"] == "native"
        text = raw.parse().content[0].text  # type: ignore[union-attr]
    assert text == "From the fallback."
    assert _calls(fake_upstream) == [("/v1/messages", "claude-opus-4-5"),
                                     ("/v1/messages", VENDOR_MODELS["anthropic"])]  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_messages_native_falls_back_to_the_translated_path(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.script(FAILED, FAILED, Turn(text="From gpt-4o."))
    request = {"model": "claude-fallbacks", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    if stream:
        with claude.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = claude.messages.create(**request)
    assert message.content[0].text == "From gpt-4o."  # type: ignore[union-attr]
    assert _calls(fake_upstream)[-1] == ("/v1/chat/completions", "gpt-4o")
    assert len(fake_upstream.requests) == 3


def test_messages_a_400_is_never_tried_elsewhere(claude: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Turn(fault=Fault.BAD_REQUEST))
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model="claude-fallbacks", max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    assert len(fake_upstream.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_responses_native_falls_back_to_native_then_translated(
    client: openai.OpenAI, fake_upstream: FakeUpstream, stream: bool
) -> None:
    def answer() -> str:
        if stream:
            with client.responses.stream(model="gpt-5-fallbacks", input="Hi") as events:
                return events.get_final_response().output_text
        return client.responses.create(model="gpt-5-fallbacks", input="Hi").output_text

    fake_upstream.script(FAILED, Turn(text="From gpt-5."))
    assert answer() == "From gpt-5."
    assert _calls(fake_upstream) == [("/v1/responses", "gpt-5-mini"), ("/v1/responses", "gpt-5")]
    fake_upstream.reset()
    fake_upstream.script(FAILED, FAILED, Turn(text="From gpt-4o."))
    assert answer() == "From gpt-4o."
    assert _calls(fake_upstream)[-1] == ("/v1/chat/completions", "gpt-4o")
    assert NATIVE_RESPONSES_MODEL != "gpt-5-fallbacks"


@pytest.mark.parametrize("model", [VENDOR_MODELS["openai"], VENDOR_MODELS["ollama"]])
def test_messages_thinking_reaches_other_formats_as_their_reasoning_setting(
    claude: anthropic.Anthropic, fake_upstream: FakeUpstream, model: str
) -> None:
    fake_upstream.script(Turn(text="Done.", reasoning="Thought it through."))
    with claude.messages.stream(model=model, max_tokens=16000, extra_body={"top_k": 40},
                                thinking={"type": "enabled", "budget_tokens": 10000},
                                messages=[{"role": "user", "content": "Hi"}]) as events:  # fmt: skip
        message = events.get_final_message()
    sent = fake_upstream.requests[-1].body
    if model == VENDOR_MODELS["openai"]:
        assert sent["reasoning_effort"] == "high" and sent["top_k"] == 40
        assert [block.type for block in message.content] == ["thinking", "text"]
        assert message.content[0].thinking == "Thought it through."  # type: ignore[union-attr]
    else:
        assert sent["think"] == "high" and sent["options"]["top_k"] == 40


def test_a_messages_session_on_anthropic_sends_the_signed_thinking_back(
    claude: anthropic.Anthropic, e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    """With ``session_id`` the request takes the translated path, Anthropic included: the
    thinking setting, cache_control and the signed thinking blocks still reach Anthropic."""
    session_id = httpx.post(f"{e2e_gateway.url}/v1/sessions", json={}).json()["id"]
    fake_upstream.script(Turn(text=None, reasoning="Check the weather tool.",
                              tool_calls=(("get_weather", {"city": "Lima"}),)),
                         Turn(text="Lima is warm."))  # fmt: skip
    tool = {"name": "get_weather", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
    thinking = {"type": "enabled", "budget_tokens": 2048}
    common = {"model": VENDOR_MODELS["anthropic"], "max_tokens": 4096, "tools": [tool], "thinking": thinking,
              "extra_body": {"session_id": session_id}}  # fmt: skip
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    with claude.messages.stream(**common, system=system, messages=[{"role": "user", "content": "Lima?"}]) as events:
        first = events.get_final_message()
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    signature = first.content[0].signature  # type: ignore[union-attr]
    assert signature.startswith("sig-")
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/messages" and sent.body["thinking"] == thinking
    assert sent.body["system"] == system and sent.body["tools"][0]["cache_control"] == {"type": "ephemeral"}
    use = first.content[1]
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "28 degrees"}  # type: ignore[union-attr]
    second = claude.messages.create(**common, messages=[{"role": "user", "content": [result]}])
    assert second.content[-1].text == "Lima is warm."  # type: ignore[union-attr]
    replayed = fake_upstream.requests[-1].body["messages"]
    assert replayed[1]["role"] == "assistant"
    assert replayed[1]["content"][0] == {"type": "thinking", "thinking": "Check the weather tool.",
                                         "signature": signature}  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_reasoning_item_carries_anthropic_thinking_to_the_next_turn(
    client: openai.OpenAI, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.script(Turn(text=None, reasoning="Use the tool.", tool_calls=(("get_weather", {"city": "Lima"}),)),
                         Turn(text="Lima is warm."))  # fmt: skip
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}
    common = {"model": VENDOR_MODELS["anthropic"], "tools": [tool], "reasoning": {"effort": "low"}, "store": False}
    if stream:
        with client.responses.stream(**common, input="Lima?") as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(**common, input="Lima?")
    assert fake_upstream.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    assert first.output[0].summary[0].text == "Use the tool."  # type: ignore[union-attr]
    call = first.output[1]
    follow_up = [{"role": "user", "content": "Lima?"}, *[item.model_dump(exclude_none=True) for item in first.output],
                 {"type": "function_call_output", "call_id": call.call_id, "output": "28 degrees"}]  # type: ignore[union-attr]  # fmt: skip
    second = client.responses.create(**common, input=follow_up)  # type: ignore[arg-type]
    assert second.output_text == "Lima is warm."
    assistant = fake_upstream.requests[-1].body["messages"][1]
    assert assistant["content"][0]["type"] == "thinking"
    assert assistant["content"][0]["signature"].startswith("sig-")
