"""The Responses API translations, pure: request to ``ChatRequest``, answer to ``response``,
chunks to events. Shapes are checked against the openai SDK's own types."""

from __future__ import annotations

import json

import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from gateway_core.domain.chat import ChatChunk, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice
from gateway_core.domain.usage import Usage
from gateway_core.errors import InvalidRequestError
from gateway_http.responses_api.body import decode_responses_body
from gateway_http.responses_api.events import ResponsesEvents
from gateway_http.responses_api.output import completed_response
from gateway_http.responses_api.request import to_chat_request

# As the openai SDK sends a tool loop's second call (recorded shape).
SECOND_CALL = {
    "model": "gpt-4o",
    "instructions": "Use tools.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather?"},
                                     {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "weather", "arguments": "{\"city\":\"Rome\"}"},
        {"type": "function_call", "id": "fc_2", "call_id": "call_b", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "rain"}]},
    ],
    "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}, "strict": True}],
    "tool_choice": {"type": "function", "name": "weather"},
    "text": {"format": {"type": "json_schema", "name": "Out", "schema": {"type": "object"}, "strict": True}},
    "reasoning": {"effort": "low"},
    "max_output_tokens": 50,
    "parallel_tool_calls": False,
    "store": False,
}  # fmt: skip


def test_a_tool_loop_turn_translates() -> None:
    translation = to_chat_request(SECOND_CALL)
    request = translation.request
    assert request.messages == (
        Message.system("Use tools."),
        Message.user((TextPart("Weather?"), ImagePart("data:image/png;base64,AAAA", "low"))),
        Message.assistant(None, (ToolCall("call_a", "weather", '{"city":"Rome"}'),
                                 ToolCall("call_b", "weather", '{"city":"Oslo"}'))),
        Message.tool_result("call_a", "sunny"),
        Message.tool_result("call_b", "rain"),
    )  # fmt: skip
    assert request.tool_choice == NamedToolChoice("weather")
    assert request.response_format == {"type": "json_schema", "json_schema": {
        "name": "Out", "schema": {"type": "object"}, "strict": True}}  # fmt: skip
    assert request.max_tokens == 50 and request.parallel_tool_calls is False
    assert request.tools[0].strict is True  # kept: OpenAI-format providers receive it
    assert request.extra == {"reasoning_effort": "low"}  # each adapter serves it per its table
    assert translation.dropped == ["reasoning items"]  # OpenAI's own ciphertext: chat cannot


def test_reasoning_summary_and_unknown_includes_are_reported() -> None:
    body = {"model": "m", "input": "hi", "reasoning": {"effort": "high", "summary": "auto"},
            "include": ["reasoning.encrypted_content", "message.output_text.logprobs"]}  # fmt: skip
    translation = to_chat_request(body, provider_type="anthropic")
    assert translation.request.extra == {"reasoning_effort": "high"}
    assert translation.dropped == ["include", "reasoning.summary"]
    assert to_chat_request({**body, "include": ["reasoning.encrypted_content"],
                            "reasoning": {"effort": "low"}}).dropped == []  # fmt: skip


def test_an_anthropic_answers_thinking_round_trips_through_a_reasoning_item() -> None:
    blocks = [{"type": "thinking", "thinking": "Rome first.", "signature": "sig-1"},
              {"type": "redacted_thinking", "data": "EncryptedByAnthropic"}]  # fmt: skip
    call = ToolCall("call_1", "weather", '{"city":"Rome"}')
    thought = Message("assistant", None, tool_calls=(call,), reasoning_content="Rome first.",
                      extra={"thinking_blocks": blocks})  # fmt: skip
    answer = completed_response({"model": "m"}, ChatResponse("c", "claude", (Choice(thought, "tool_calls"),)),
                                "abc", 1)  # fmt: skip
    parsed = Response.model_validate(answer)
    assert [item.type for item in parsed.output] == ["reasoning", "function_call"]
    assert parsed.output[0].summary[0].text == "Rome first."  # type: ignore[union-attr]
    # The client sends the output back as the next input (as the Agents SDK does).
    follow_up = {"model": "m", "input": [
        {"role": "user", "content": "Weather in Rome?"}, *answer["output"],
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]}  # fmt: skip
    to_anthropic = to_chat_request(follow_up, provider_type="anthropic")
    assistant = to_anthropic.request.messages[1]
    assert assistant.tool_calls == (call,) and assistant.extra["thinking_blocks"] == blocks
    assert to_anthropic.dropped == []
    to_openai = to_chat_request(follow_up, provider_type="openai")
    assert to_openai.request.messages[1].extra == {} and to_openai.dropped == ["reasoning items"]


def test_a_tampered_or_foreign_reasoning_item_is_not_read() -> None:
    from gateway_http.responses_api.reasoning import sealed, unsealed

    good = sealed([{"type": "thinking", "thinking": "t", "signature": "s"}])
    assert unsealed(good) == [{"type": "thinking", "thinking": "t", "signature": "s"}]
    assert unsealed("gAAAAA-openai-ciphertext") is None
    assert unsealed(good[:-3] + "!!!") is None
    assert unsealed(sealed([{"type": "text", "text": "not thinking"}])) is None


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0]"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0]"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"background": True}, "background"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
    ],
)
def test_what_chat_cannot_carry_is_refused_by_name(change: dict, param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        to_chat_request({"model": "m", "input": "hi", **change})
    assert caught.value.param == param and caught.value.code == "unsupported_parameter"


def test_the_body_is_checked_with_the_field_named() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_responses_body(json.dumps({"model": "m", "input": "x", "temperature": 3}).encode())
    assert caught.value.param == "temperature"
    with pytest.raises(InvalidRequestError) as missing:
        decode_responses_body(b'{"model": "m"}')
    assert missing.value.param == "input"


def _response(text: str | None, calls: tuple[ToolCall, ...] = (), finish: str = "stop") -> ChatResponse:
    choice = Choice(Message.assistant(text, calls), finish)
    return ChatResponse("c1", "gpt-4o", (choice,), Usage(10, 5, 2), provider="openai")


def test_the_answer_is_an_sdk_response() -> None:
    call = ToolCall("call_1", "weather", '{"city":"Rome"}')
    body = completed_response(SECOND_CALL, _response("Let me look.", (call,)), "abc", 1700000000)
    parsed = Response.model_validate(body)
    assert [item.type for item in parsed.output] == ["message", "function_call"]
    assert parsed.output[1].call_id == "call_1"  # type: ignore[union-attr]
    assert parsed.usage is not None and parsed.usage.input_tokens_details.cached_tokens == 2
    cut = Response.model_validate(completed_response({"model": "m"}, _response("a", finish="length"), "x", 1))
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]


def test_the_stream_is_the_sdk_event_sequence() -> None:
    events = ResponsesEvents({"model": "gpt-4o"}, "abc", 1700000000)
    sent = events.start()
    for chunk in [
        ChatChunk(role="assistant", content="Hel"),
        ChatChunk(content="lo"),
        ChatChunk(tool_calls=(ToolCallDelta(0, "call_1", "weather", ""),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments='{"city"'),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments=':"Rome"}'),)),
    ]:
        sent += events.feed(chunk)
    sent += events.finish("tool_calls", Usage(3, 4))
    adapter = pydantic.TypeAdapter(ResponseStreamEvent)
    typed = [adapter.validate_python(event) for event in sent]
    assert [event.sequence_number for event in typed] == list(range(len(typed)))
    assert [event.type for event in typed] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    final = typed[-1].response  # type: ignore[union-attr]
    assert final.output[0].content[0].text == "Hello"  # type: ignore[union-attr]
    assert final.output[1].arguments == '{"city":"Rome"}'  # type: ignore[union-attr]


def test_reasoning_streams_as_its_own_item_before_the_text() -> None:
    events = ResponsesEvents({"model": "claude"}, "abc", 1)
    sent = events.start()
    block = {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}
    for chunk in [
        ChatChunk(role="assistant", reasoning_content="Hm"),
        ChatChunk(reasoning_content="m."),
        ChatChunk(delta_extra={"thinking_blocks": [block]}),
        ChatChunk(content="Rome."),
    ]:
        sent += events.feed(chunk)
    sent += events.finish("stop", Usage(3, 4))
    adapter = pydantic.TypeAdapter(ResponseStreamEvent)
    typed = [adapter.validate_python(event) for event in sent]
    assert [event.type for event in typed] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    final = typed[-1].response  # type: ignore[union-attr]
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].summary[0].text == "Hmm."  # type: ignore[union-attr]
    from gateway_http.responses_api.reasoning import unsealed

    assert unsealed(final.output[0].encrypted_content) == [block]  # type: ignore[union-attr]


def test_a_failure_mid_stream_is_an_error_then_failed() -> None:
    events = ResponsesEvents({"model": "m"}, "abc", 1)
    events.start()
    adapter = pydantic.TypeAdapter(ResponseStreamEvent)
    typed = [adapter.validate_python(e) for e in events.failed("upstream_timeout", "timed out")]
    assert [e.type for e in typed] == ["error", "response.failed"]


def test_input_items_pages_newest_first_and_replay_keeps_reasoning_ids() -> None:
    from gateway_http.responses_api.conversation import for_replay, input_items_page, with_ids

    items = with_ids([{"role": "user", "content": "a"}, {"type": "function_call_output", "call_id": "c", "output": "x"},
                      {"role": "user", "content": "b"}])  # fmt: skip
    assert [item["type"] for item in items] == ["message", "function_call_output", "message"]
    page = input_items_page(items, order="desc", limit=2, after=None)
    assert [i["content"] for i in page["data"] if "content" in i] == ["b"] and page["has_more"] is True
    rest = input_items_page(items, order="desc", limit=2, after=page["last_id"])
    assert rest["data"] == [items[0]] and rest["has_more"] is False
    replay = for_replay([{"type": "reasoning", "id": "rs_1"}, {"type": "message", "id": "msg_1", "role": "user"}])
    assert replay == [{"type": "reasoning", "id": "rs_1"}, {"type": "message", "role": "user"}]
