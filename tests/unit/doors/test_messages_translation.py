"""The Messages API translations, pure: request to ``ChatRequest``, answer to ``message``,
chunks to Anthropic's events, gateway errors to Anthropic's. Shapes are checked against the
anthropic SDK's own types."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
from anthropic.types import Message as AnthropicMessage
from anthropic.types import RawMessageStreamEvent

from gateway_adapters.providers.anthropic.messages_passthrough import messages_usage
from gateway_adapters.providers.openai.responses_passthrough import responses_usage
from gateway_core import errors
from gateway_core.domain.chat import ChatChunk, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.usage import Usage
from gateway_core.errors import InvalidRequestError
from gateway_http.messages_api.errors import anthropic_error
from gateway_http.messages_api.events import MessagesEvents
from gateway_http.messages_api.output import message_object
from gateway_http.messages_api.request import to_chat_request

RECORDED = Path(__file__).parents[2] / "e2e" / "recorded" / "claude_code_turn.json"


def test_a_claude_code_turn_translates() -> None:
    body = json.loads(RECORDED.read_text())
    translation = to_chat_request(body, "openai")
    request = translation.request
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert request.messages[0].text.startswith("You are Claude Code")
    assistant = request.messages[2]
    assert assistant.text == "I'll read the configuration first."
    assert assistant.tool_calls == (ToolCall("toolu_01A9xQz3recordedshape001", "Read",
                                             '{"file_path":"/home/dev/project/setup.cfg"}'),)  # fmt: skip
    assert request.messages[3].tool_call_id == "toolu_01A9xQz3recordedshape001"
    assert len(request.tools) == 9 and request.max_tokens == 32000
    assert request.user == "user_7f3a_account_0c1d_session_5b2e"
    # OpenAI-format models: the budget as reasoning_effort; no prompt-cache hint, no signatures.
    assert request.extra == {"reasoning_effort": "high"}
    assert translation.dropped == ["cache_control", "thinking blocks"]


def test_a_claude_code_turn_for_anthropic_keeps_thinking_and_cache_control() -> None:
    body = json.loads(RECORDED.read_text())
    translation = to_chat_request(body, "anthropic")
    request = translation.request
    assert translation.dropped == []
    assert request.extra == {"thinking": body["thinking"]}
    system = request.messages[0]
    assert [part.cache_control for part in system.content] == [  # type: ignore[union-attr]
        block.get("cache_control") for block in body["system"]
    ]
    recorded_thinking = [b for b in body["messages"][1]["content"] if b["type"] == "thinking"]
    assert request.messages[2].extra["thinking_blocks"] == recorded_thinking
    cached_tools = [t.name for t in request.tools if t.cache_control is not None]
    assert cached_tools == [t["name"] for t in body["tools"] if "cache_control" in t]


def test_the_anthropic_chat_adapter_sends_what_the_translation_kept() -> None:
    """The other half of the mapping: the chat adapter's body carries thinking, cache_control
    and the signed thinking blocks where Anthropic wants them."""
    from gateway_adapters.providers.anthropic.wire import build_body

    body = json.loads(RECORDED.read_text())
    request = to_chat_request(body, "anthropic").request
    extras = dict(request.extra)
    sent = build_body(request, default_max_tokens=1024, extras=extras)
    assert sent["thinking"] == body["thinking"]
    assert sent["system"] == body["system"]
    assert sent["messages"][1]["content"][0] == body["messages"][1]["content"][0]  # signed
    assert [t.get("cache_control") for t in sent["tools"]] == [t.get("cache_control") for t in body["tools"]]


@pytest.mark.parametrize(("budget", "effort"), [(1024, "low"), (2048, "low"), (4096, "medium"),
                                                (8192, "medium"), (16000, "high")])  # fmt: skip
def test_a_thinking_budget_is_the_nearest_effort_elsewhere(budget: int, effort: str) -> None:
    body = {"model": "m", "max_tokens": 50000, "messages": [{"role": "user", "content": "x"}],
            "thinking": {"type": "enabled", "budget_tokens": budget}, "top_k": 5}  # fmt: skip
    assert to_chat_request(body, "ollama").request.extra == {"reasoning_effort": effort, "top_k": 5}
    assert to_chat_request(body, "anthropic").request.extra == {"thinking": body["thinking"], "top_k": 5}
    disabled = {**body, "thinking": {"type": "disabled"}}
    assert to_chat_request(disabled, "openai").request.extra == {"top_k": 5}


def test_cache_control_on_a_tool_result_and_an_image_is_kept_for_anthropic() -> None:
    cached = {"type": "ephemeral"}
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "long output", "cache_control": cached},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}, "cache_control": cached},
    ]}]}  # fmt: skip
    request = to_chat_request(body, "anthropic").request
    assert request.messages[0] == Message("tool", (TextPart("long output", cached),), tool_call_id="t1")
    assert request.messages[1] == Message.user((ImagePart("https://x/y.png", cache_control=cached),))


def test_tool_results_come_before_the_users_text_and_errors_are_marked() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "and now?"},
        {"type": "tool_result", "tool_use_id": "t1", "is_error": True,
         "content": [{"type": "text", "text": "boom"}]},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
    ]}]}  # fmt: skip
    request = to_chat_request(body).request
    assert request.messages == (
        Message.tool_result("t1", "Error: boom"),
        Message.user((TextPart("and now?"), ImagePart("data:image/png;base64,AAAA"))),
    )


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
        ({"mcp_servers": [{"type": "url", "url": "https://x"}]}, "mcp_servers"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {
            "type": "base64", "media_type": "application/pdf", "data": "AA"}}]}]}, "messages[0].content[0]"),
    ],
)
def test_what_chat_cannot_carry_is_refused_by_name(change: dict, param: str) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(InvalidRequestError) as caught:
        to_chat_request(body)
    assert caught.value.param == param


def test_tool_choice_maps_with_parallelism() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}  # fmt: skip
    request = to_chat_request(body).request
    assert request.tool_choice == "required" and request.parallel_tool_calls is False


def test_the_answer_is_an_sdk_message() -> None:
    choice = Choice(Message.assistant("Checking.", (ToolCall("t1", "calc", '{"x": 1}'),)), "tool_calls")
    body = message_object(ChatResponse("c", "gpt-4o", (choice,), Usage(30, 4, 10)), "abc")
    parsed = AnthropicMessage.model_validate(body)
    assert parsed.stop_reason == "tool_use"
    assert parsed.content[1].input == {"x": 1}  # type: ignore[union-attr]
    assert parsed.usage.input_tokens == 20 and parsed.usage.cache_read_input_tokens == 10


def test_the_stream_is_anthropics_event_sequence() -> None:
    events = MessagesEvents("abc", "gpt-4o")
    sent = events.start()
    for chunk in [
        ChatChunk(role="assistant", content="Let"),
        ChatChunk(content=" me."),
        ChatChunk(tool_calls=(ToolCallDelta(0, "t1", "calc", ""),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments='{"x": 1}'),)),
    ]:
        sent += events.feed(chunk)
    sent += events.finish("tool_calls", None, Usage(12, 3))
    adapter = pydantic.TypeAdapter(RawMessageStreamEvent)
    names = [name for name, _ in sent]
    typed = [adapter.validate_python(data) for name, data in sent if name != "ping"]
    assert names == ["message_start", "ping", "content_block_start", "content_block_delta",
                     "content_block_delta", "content_block_stop", "content_block_start",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]  # fmt: skip
    assert typed[-2].delta.stop_reason == "tool_use"  # type: ignore[union-attr]
    assert typed[-2].usage.input_tokens == 12  # type: ignore[union-attr]
    assert [e.index for e in typed if e.type == "content_block_start"] == [0, 1]  # type: ignore[union-attr]


def test_thinking_streams_with_its_signature_then_the_text() -> None:
    events = MessagesEvents("abc", "claude")
    sent = events.start()
    block = {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}
    redacted = {"type": "redacted_thinking", "data": "EncryptedByAnthropic"}
    for chunk in [
        ChatChunk(role="assistant", reasoning_content="Hm"),
        ChatChunk(reasoning_content="m."),
        ChatChunk(delta_extra={"thinking_blocks": [block]}),
        ChatChunk(delta_extra={"thinking_blocks": [redacted]}),
        ChatChunk(content="Rome."),
    ]:
        sent += events.feed(chunk)
    sent += events.finish("stop", None, Usage(12, 3))
    adapter = pydantic.TypeAdapter(RawMessageStreamEvent)
    typed = [adapter.validate_python(data) for name, data in sent if name != "ping"]
    deltas = [e.delta.type for e in typed if e.type == "content_block_delta"]  # type: ignore[union-attr]
    assert deltas == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"]
    starts = [e.content_block.type for e in typed if e.type == "content_block_start"]  # type: ignore[union-attr]
    assert starts == ["thinking", "redacted_thinking", "text"]
    assert [e.index for e in typed if e.type == "content_block_stop"] == [0, 1, 2]  # type: ignore[union-attr]


def test_an_answers_thinking_comes_first_in_the_message() -> None:
    block = {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}
    signed = Message("assistant", "Rome.", reasoning_content="Hmm.", extra={"thinking_blocks": [block]})
    unsigned = Message("assistant", "Rome.", reasoning_content="Hmm.")  # DeepSeek's, say
    for message, signature in ((signed, "sig-1"), (unsigned, "")):
        body = message_object(ChatResponse("c", "m", (Choice(message, "stop"),)), "abc")
        parsed = AnthropicMessage.model_validate(body)
        assert [b.type for b in parsed.content] == ["thinking", "text"]
        assert parsed.content[0].signature == signature  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (errors.UpstreamOverloadedError("x"), (529, "overloaded_error")),
        (errors.RateLimitExceededError("x"), (429, "rate_limit_error")),
        (errors.ModelNotFoundError("x"), (404, "not_found_error")),
        (errors.BudgetExceededError("x"), (402, "billing_error")),
        (errors.UpstreamTimeoutError("x"), (504, "timeout_error")),
        (errors.UpstreamServerError("x"), (502, "api_error")),
        (errors.AuthenticationError("x"), (401, "authentication_error")),
        (errors.ForbiddenParameterError("x"), (400, "invalid_request_error")),
    ],
)
def test_gateway_errors_take_anthropics_types(error: errors.GatewayError, expected: tuple) -> None:
    assert anthropic_error(error) == expected


def test_native_usage_is_read_as_the_vendors_report_it() -> None:
    start = messages_usage({"input_tokens": 5, "cache_creation_input_tokens": 100,
                            "cache_read_input_tokens": 50, "output_tokens": 1})  # fmt: skip
    assert start == Usage(prompt_tokens=155, completion_tokens=1, cached_tokens=50)
    assert messages_usage({"output_tokens": 42}, start) == Usage(155, 42, 50)
    assert responses_usage({"usage": {"input_tokens": 9, "output_tokens": 3,
                                      "input_tokens_details": {"cached_tokens": 4}}}) == Usage(9, 3, 4)  # fmt: skip


def test_every_provider_type_gets_thinking_and_top_k_for_its_field_table() -> None:
    # Gemini, Bedrock and Vertex adapters read the extras through their field tables too
    # (thinkingConfig, topK; Bedrock refuses top_k, which the door's drop opt-in drops).
    from gateway_http.responses_api.request import to_chat_request as responses_to_chat

    body = {"model": "m", "max_tokens": 5000, "messages": [{"role": "user", "content": "x"}],
            "thinking": {"type": "enabled", "budget_tokens": 1024}, "top_k": 5}  # fmt: skip
    translation = to_chat_request(body, "gemini")
    assert translation.request.extra == {"top_k": 5, "reasoning_effort": "low"}
    assert translation.dropped == [] and translation.request.drop_params
    responses = responses_to_chat({"model": "m", "input": "x", "reasoning": {"effort": "low"}}, provider_type="bedrock")
    assert responses.request.extra == {"reasoning_effort": "low"} and responses.dropped == []
