"""Anthropic wire translation, against payloads in the shapes of Anthropic's API reference
(https://docs.anthropic.com/en/api/messages, /en/docs/build-with-claude/streaming,
/en/api/errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway_adapters.providers.anthropic.errors import error_from_event, error_from_response
from gateway_adapters.providers.anthropic.stream import StreamTranslator
from gateway_adapters.providers.anthropic.wire import build_body, parse_response
from gateway_core.domain.chat import ChatChunk, ChatRequest, ToolCallDelta
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    InvalidRequestError,
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from tests.support.fake_upstream.anthropic_wire import request_body_problem

WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather in a given location",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)


def body(*messages: Message, default_max_tokens: int = 1024, **fields: Any) -> dict[str, Any]:
    request = ChatRequest(model="claude-sonnet-4-5", messages=messages, **fields)
    return dict(build_body(request, default_max_tokens=default_max_tokens))


# -------------------------------------------------------------------------------- requests


def test_a_minimal_request_has_model_max_tokens_and_messages() -> None:
    assert body(Message.user("Hello, Claude")) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}],
    }


def test_system_and_developer_messages_become_one_top_level_system() -> None:
    sent = body(
        Message.system("You are terse."),
        Message(role="developer", content="Answer in French."),
        Message.user("Hi"),
    )

    assert sent["system"] == "You are terse.\n\nAnswer in French."
    assert [turn["role"] for turn in sent["messages"]] == ["user"]


def test_consecutive_messages_of_one_role_merge_into_one_turn() -> None:
    sent = body(
        Message.user("First"),
        Message.user("Second"),
        Message.assistant("Reply"),
        Message.assistant("More"),
        Message.user("Third"),
    )

    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "First"}, {"type": "text", "text": "Second"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Reply"}, {"type": "text", "text": "More"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Third"}]},
    ]


@pytest.mark.parametrize(("client_value", "sent"), [(None, 1024), (64, 64), (0, 0)])
def test_max_tokens_is_the_clients_or_the_default(client_value: int | None, sent: int) -> None:
    assert body(Message.user("Hi"), max_tokens=client_value)["max_tokens"] == sent


def test_sampling_stop_sequences_and_user_are_mapped() -> None:
    sent = body(Message.user("Hi"), temperature=0.2, top_p=0.9, stop=("END",), user="user-42")

    assert sent["temperature"] == 0.2
    assert sent["top_p"] == 0.9
    assert sent["stop_sequences"] == ["END"]
    assert sent["metadata"] == {"user_id": "user-42"}


def test_sampling_can_be_left_out_for_models_that_refuse_it() -> None:
    request = ChatRequest(
        model="claude-opus-4-7", messages=(Message.user("Hi"),), temperature=0.2, top_p=0.9
    )

    sent = build_body(request, default_max_tokens=1024, sampling=False)

    assert "temperature" not in sent
    assert "top_p" not in sent


def test_fields_without_an_anthropic_equivalent_are_left_out() -> None:
    sent = body(Message.user("Hi"), seed=7, response_format={"type": "json_object"})

    assert set(sent) == {"model", "max_tokens", "messages"}


def test_a_json_schema_response_format_becomes_output_config() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "count", "schema": schema}}

    sent = body(Message.user("Count"), response_format=fmt)

    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def test_more_than_one_choice_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        body(Message.user("Hi"), n=2)
    assert caught.value.param == "n"


def test_tools_become_input_schemas() -> None:
    no_arguments = ToolSpec(name="get_time", parameters={})

    sent = body(Message.user("Hi"), tools=(WEATHER, no_arguments))

    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
        {"name": "get_time", "input_schema": {"type": "object"}},
    ]
    assert "tool_choice" not in sent


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (NamedToolChoice("get_weather"), None, {"type": "tool", "name": "get_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (
            NamedToolChoice("get_weather"),
            False,
            {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        ),
    ],
)
def test_tool_choice(
    choice: ToolChoice | None, parallel: bool | None, expected: dict[str, Any]
) -> None:
    sent = body(
        Message.user("Hi"), tools=(WEATHER,), tool_choice=choice, parallel_tool_calls=parallel
    )

    assert sent["tool_choice"] == expected


def test_a_tool_round_trip_becomes_tool_use_and_tool_result_blocks() -> None:
    calls = (
        ToolCall(id="toolu_01A", name="get_weather", arguments='{"location": "Paris"}'),
        ToolCall(id="toolu_01B", name="get_weather", arguments='{"location": "Rome"}'),
    )
    sent = body(
        Message.user("Weather in Paris and Rome?"),
        Message.assistant("Let me check.", calls),
        Message.tool_result("toolu_01A", "18 C"),
        Message.tool_result("toolu_01B", "24 C"),
        Message.user("And which is warmer?"),
    )

    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01B",
                    "name": "get_weather",
                    "input": {"location": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18 C"},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "24 C"},
                {"type": "text", "text": "And which is warmer?"},
            ],
        },
    ]


def test_an_assistant_turn_of_only_tool_calls_has_no_empty_text_block() -> None:
    call = ToolCall(id="toolu_01A", name="get_time", arguments="")

    sent = body(Message.user("Time?"), Message.assistant("", (call,)))

    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_01A", "name": "get_time", "input": {}}
    ]


@pytest.mark.parametrize("arguments", ['{"location": ', '["Paris"]'])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    call = ToolCall(id="toolu_01A", name="get_weather", arguments=arguments)

    with pytest.raises(InvalidRequestError) as caught:
        body(Message.user("Hi"), Message.assistant(None, (call,)))
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_a_tool_result_needs_its_call_id() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        body(Message.user("Hi"), Message(role="tool", content="18 C"))
    assert caught.value.param == "messages[1].tool_call_id"


def test_images_by_data_url_and_by_http_url() -> None:
    parts = (
        TextPart("What is in these?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo="),
        ImagePart("https://example.com/cat.jpg"),
    )

    content = body(Message.user(parts))["messages"][0]["content"]

    assert content == [
        {"type": "text", "text": "What is in these?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    "url", ["data:image/bmp;base64,Qk0=", "data:image/png,rawbytes", "file:///etc/passwd"]
)
def test_images_anthropic_cannot_take_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        body(Message.user((TextPart("What?"), ImagePart(url))))
    assert caught.value.param == "messages[0].content[1].image_url"


def test_a_rich_request_matches_the_sdks_request_type() -> None:
    call = ToolCall(id="toolu_01A", name="get_weather", arguments='{"location": "Paris"}')
    sent = body(
        Message.system("Be brief."),
        Message.user((TextPart("Look"), ImagePart("data:image/jpeg;base64,/9j/4AAQ"))),
        Message.assistant("Checking.", (call,)),
        Message.tool_result("toolu_01A", "18 C"),
        tools=(WEATHER,),
        tool_choice="required",
        parallel_tool_calls=False,
        stop=("END",),
        user="u-1",
        temperature=0.5,
    )

    assert request_body_problem(json.loads(json.dumps(sent))) is None


def test_the_fidelity_check_itself_catches_a_wrong_body() -> None:
    wrong = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "txt"}]}],
    }
    unknown_key = {"model": "m", "max_tokens": 5, "messages": [], "stop": ["x"]}

    assert request_body_problem(wrong) is not None
    assert request_body_problem(unknown_key) is not None


# ------------------------------------------------------------------------------- responses

TEXT_MESSAGE = b"""{
  "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  "model": "claude-sonnet-4-5-20250929",
  "role": "assistant",
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "type": "message",
  "usage": {"input_tokens": 2095, "output_tokens": 503,
            "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000}
}"""

TOOL_USE_MESSAGE = b"""{
  "id": "msg_01Aq9w938a90dw8q",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EqQB"},
    {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
    {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
     "input": {"location": "San Francisco, CA", "unit": "celsius"}}
  ],
  "stop_reason": "tool_use",
  "stop_sequence": null,
  "usage": {"input_tokens": 472, "output_tokens": 89}
}"""


def test_a_text_answer() -> None:
    response = parse_response(TEXT_MESSAGE, provider="anthropic", created=1700000000)

    assert response.id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert response.model == "claude-sonnet-4-5-20250929"
    assert response.provider == "anthropic"
    assert response.created == 1700000000
    (choice,) = response.choices
    assert choice.message == Message.assistant("Hi! My name is Claude.")
    assert (choice.finish_reason, choice.native_finish_reason) == ("stop", "end_turn")


def test_usage_counts_cached_input_as_prompt_tokens() -> None:
    usage = parse_response(TEXT_MESSAGE, provider="anthropic", created=0).usage

    assert usage == Usage(
        prompt_tokens=2095 + 2000 + 100,
        completion_tokens=503,
        cached_tokens=2000,
        cache_write_tokens=100,
    )


def test_a_tool_use_answer_becomes_tool_calls_with_compact_json() -> None:
    (choice,) = parse_response(TOOL_USE_MESSAGE, provider="anthropic", created=0).choices

    assert choice.message.content == "I'll check the current weather in San Francisco for you."
    assert choice.message.tool_calls == (
        ToolCall(
            id="toolu_01A09q90qw90lq917835lq9",
            name="get_weather",
            arguments='{"location":"San Francisco, CA","unit":"celsius"}',
        ),
    )
    assert choice.finish_reason == "tool_calls"


def test_only_tool_calls_leave_content_null() -> None:
    raw = json.loads(TOOL_USE_MESSAGE)
    raw["content"] = raw["content"][2:]

    (choice,) = parse_response(json.dumps(raw).encode(), provider="anthropic", created=0).choices

    assert choice.message.content is None
    assert len(choice.message.tool_calls) == 1


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
        ("a_reason_from_the_future", "a_reason_from_the_future"),
    ],
)
def test_stop_reasons(stop_reason: str, finish_reason: str) -> None:
    raw = json.loads(TEXT_MESSAGE)
    raw["stop_reason"] = stop_reason

    (choice,) = parse_response(json.dumps(raw).encode(), provider="anthropic", created=0).choices

    assert (choice.finish_reason, choice.native_finish_reason) == (finish_reason, stop_reason)


@pytest.mark.parametrize("raw", [b"<html>Bad gateway</html>", b'{"type": "message"}', b'{"id": 1}'])
def test_an_answer_that_is_not_a_message(raw: bytes) -> None:
    with pytest.raises(UpstreamResponseError):
        parse_response(raw, provider="anthropic", created=0)


# ---------------------------------------------------------------------------------- streams

TOOL_USE_STREAM = [
    '{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2,"cache_read_input_tokens":30},"content":[],"stop_reason":null}}',
    '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    '{"type": "ping"}',
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}',
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let\'s check"}}',
    '{"type":"content_block_stop","index":0}',
    '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}',
    '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}',
    '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}',
    '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\"}"}}',
    '{"type":"content_block_stop","index":1}',
    '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}',
    '{"type":"message_stop"}',
]


def translate(events: list[str]) -> list[ChatChunk]:
    translator = StreamTranslator("anthropic")
    chunks = [chunk for data in events for chunk in translator.feed(data)]
    translator.finish()
    return chunks


def test_a_streamed_tool_use_answer() -> None:
    chunks = translate(TOOL_USE_STREAM)

    assert chunks == [
        ChatChunk(role="assistant", model="claude-sonnet-4-5-20250929"),
        ChatChunk(content="Okay"),
        ChatChunk(content=", let's check"),
        ChatChunk(
            tool_calls=(ToolCallDelta(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", ""),)
        ),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments='{"location":'),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments=' "San Francisco, CA"}'),)),
        ChatChunk(finish_reason="tool_calls", native_finish_reason="tool_use"),
        ChatChunk(usage=Usage(prompt_tokens=502, completion_tokens=89, cached_tokens=30)),
    ]


def test_tool_calls_are_numbered_among_tool_use_blocks_only() -> None:
    events = [
        TOOL_USE_STREAM[0],
        '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
        '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm"}}',
        '{"type":"content_block_stop","index":0}',
        '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_A","name":"a","input":{}}}',
        '{"type":"content_block_stop","index":1}',
        '{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_B","name":"b","input":{}}}',
        '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}',
        '{"type":"content_block_stop","index":2}',
        '{"type":"message_stop"}',
    ]

    deltas = [delta for chunk in translate(events) for delta in chunk.tool_calls]

    assert deltas == [
        ToolCallDelta(0, "toolu_A", "a", ""),
        ToolCallDelta(0, arguments="{}"),  # no JSON streamed for it: "{}", as complete() says
        ToolCallDelta(1, "toolu_B", "b", ""),
        ToolCallDelta(1, arguments="{}"),
    ]


def test_later_usage_reports_replace_earlier_ones() -> None:
    events = [
        TOOL_USE_STREAM[0],
        '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9,"input_tokens":500,"cache_creation_input_tokens":7}}',
        '{"type":"message_stop"}',
    ]

    assert translate(events)[-1].usage == Usage(
        prompt_tokens=537, completion_tokens=9, cached_tokens=30, cache_write_tokens=7
    )


def test_unknown_events_are_ignored() -> None:
    events = [TOOL_USE_STREAM[0], '{"type":"a_new_event","index":3}', '{"type":"message_stop"}']

    assert len(translate(events)) == 2


def test_a_stream_that_ends_before_message_stop_is_incomplete() -> None:
    translator = StreamTranslator("anthropic")
    for data in TOOL_USE_STREAM[:-1]:
        translator.feed(data)

    with pytest.raises(UpstreamConnectionError):
        translator.finish()


def test_an_event_that_is_not_json() -> None:
    with pytest.raises(UpstreamResponseError):
        StreamTranslator("anthropic").feed('{"type": "content_block_delta", ')


def test_an_error_event_raises_its_error() -> None:
    translator = StreamTranslator("anthropic")
    translator.feed(TOOL_USE_STREAM[0])

    with pytest.raises(UpstreamOverloadedError) as caught:
        translator.feed(
            '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
        )
    assert caught.value.provider == "anthropic"


# ----------------------------------------------------------------------------------- errors


def error_body(error_type: str, message: str = "something went wrong") -> bytes:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "error_type", "error_class"),
    [
        (400, "invalid_request_error", UpstreamBadRequestError),
        (401, "authentication_error", UpstreamAuthError),
        (403, "permission_error", UpstreamAuthError),
        (404, "not_found_error", UpstreamBadRequestError),
        (413, "request_too_large", UpstreamBadRequestError),
        (429, "rate_limit_error", UpstreamRateLimitError),
        (500, "api_error", UpstreamServerError),
        (504, "timeout_error", UpstreamTimeoutError),
        (529, "overloaded_error", UpstreamOverloadedError),
        (500, "overloaded_error", UpstreamOverloadedError),  # the type is more precise
        (503, "", UpstreamOverloadedError),  # no Anthropic body: the status decides
        (502, "", UpstreamServerError),
        (418, "", UpstreamBadRequestError),
    ],
)
def test_error_statuses_and_types(
    status: int, error_type: str, error_class: type[ProviderError]
) -> None:
    raw = error_body(error_type) if error_type else b"<html>Bad gateway</html>"

    error = error_from_response(status, raw, {}, provider="anthropic")

    assert type(error) is error_class
    assert (error.status, error.provider) == (status, "anthropic")


def test_a_rejected_request_shows_anthropics_reason() -> None:
    raw = error_body("invalid_request_error", "max_tokens: 9999999 > 64000, the maximum")

    error = error_from_response(400, raw, {}, provider="anthropic")

    assert "max_tokens: 9999999 > 64000" in error.message


def test_other_errors_keep_anthropics_message_to_themselves() -> None:
    raw = error_body("authentication_error", "invalid x-api-key sk-ant-secret")

    error = error_from_response(401, raw, {}, provider="anthropic")

    assert "sk-ant" not in error.message
    assert "authentication_error" in error.message


def test_rate_limits_keep_retry_after() -> None:
    error = error_from_response(
        429, error_body("rate_limit_error"), {"retry-after": "7"}, provider="a"
    )

    assert error.retry_after == 7.0


def test_an_unknown_error_event_is_a_server_error() -> None:
    assert type(error_from_event("", "", provider="anthropic")) is UpstreamServerError
