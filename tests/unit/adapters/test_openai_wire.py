"""OpenAI wire translation, against payloads in the shapes of OpenAI's API reference
(https://platform.openai.com/docs/api-reference/chat) and of OpenAI-compatible servers."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest

from gateway_adapters.providers.openai.errors import http_error
from gateway_adapters.providers.openai.wire import (
    decode_chunk,
    decode_response,
    encode_payload,
    from_openai_chunk,
    from_openai_response,
    to_openai_payload,
)
from gateway_core.domain.chat import ChatChunk, ChatRequest, Choice, ToolCallDelta
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
)

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)

# -------------------------------------------------------------------------------- requests


def test_a_minimal_request_sends_only_model_and_messages() -> None:
    request = ChatRequest(model="gpt-4o", messages=(Message.user("Hi"),))

    assert to_openai_payload(request) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi"}],
    }


def test_every_request_field_is_mapped() -> None:
    request = ChatRequest(
        model="gpt-4o",
        messages=(Message.user("Hi"),),
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=("END", "STOP"),
        n=2,
        seed=42,
        tools=(WEATHER,),
        tool_choice="required",
        response_format={"type": "json_object"},
        user="user-7",
        metadata={"team": "search"},
        parallel_tool_calls=False,
    )

    payload = to_openai_payload(request)

    assert {key: value for key, value in payload.items() if key != "messages"} == {
        "model": "gpt-4o",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["END", "STOP"],
        "n": 2,
        "seed": 42,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
        "user": "user-7",
        "metadata": {"team": "search"},
        "parallel_tool_calls": False,
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (NamedToolChoice("get_weather"), {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    request = ChatRequest(
        model="m", messages=(Message.user("x"),), tools=(WEATHER,), tool_choice=choice
    )

    assert to_openai_payload(request)["tool_choice"] == expected


def test_a_stream_always_asks_for_usage() -> None:
    payload = to_openai_payload(ChatRequest(model="m", messages=(Message.user("x"),)), stream=True)

    assert payload["stream"] is True
    assert payload["stream_options"] == {"include_usage": True}


def test_a_conversation_with_a_tool_round_trip() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}')
    messages = (
        Message.system("Be brief."),
        Message(role="developer", content="Use metric units."),
        Message(role="user", content="Weather?", name="ana"),
        Message.assistant(None, (call,)),
        Message.tool_result("call_1", '{"celsius": 4}'),
        Message.assistant("4 °C in Oslo."),
    )

    payload = to_openai_payload(ChatRequest(model="m", messages=messages))

    assert payload["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Use metric units."},
        {"role": "user", "content": "Weather?", "name": "ana"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 4}'},
        {"role": "assistant", "content": "4 °C in Oslo."},
    ]


def test_multi_part_user_content_keeps_image_detail() -> None:
    parts = (
        TextPart("What is in this image?"),
        ImagePart("https://example.com/boardwalk.jpg", detail="high"),
        ImagePart("data:image/png;base64,iVBORw0KGgo="),
    )

    payload = to_openai_payload(ChatRequest(model="m", messages=(Message.user(parts),)))

    assert payload["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/boardwalk.jpg", "detail": "high"},
                },
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ]


def test_text_parts_of_a_system_message_are_kept_as_parts() -> None:
    system = Message(role="system", content=(TextPart("Be "), TextPart("brief.")))

    payload = to_openai_payload(ChatRequest(model="m", messages=(system,)))

    assert payload["messages"] == [
        {
            "role": "system",
            "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
        }
    ]


def test_an_image_outside_a_user_message_is_rejected_before_sending() -> None:
    system = Message(role="system", content=(ImagePart("https://example.com/a.png"),))

    with pytest.raises(UpstreamBadRequestError):
        to_openai_payload(ChatRequest(model="m", messages=(system,)))


def test_read_only_mappings_encode_as_json_objects() -> None:
    schema = MappingProxyType({"type": "object", "properties": MappingProxyType({})})
    request = ChatRequest(
        model="m",
        messages=(Message.user("x"),),
        tools=(ToolSpec(name="t", parameters=schema),),
        metadata=MappingProxyType({"a": "b"}),
    )

    body = json.loads(encode_payload(to_openai_payload(request)))

    assert body["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert body["metadata"] == {"a": "b"}


# -------------------------------------------------------------------------------- responses

# The API reference's example response, verbatim apart from the text.
DOCUMENTED_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The image shows a wooden boardwalk.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

# The function-calling guide's example: content null, arguments as JSON text.
DOCUMENTED_TOOL_CALL: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc123",
                        "type": "function",
                        "function": {
                            "name": "get_current_weather",
                            "arguments": '{\n"location": "Boston, MA"\n}',
                        },
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99},
}


def test_a_documented_completion() -> None:
    response = from_openai_response(DOCUMENTED_COMPLETION, "openai")

    assert response.id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert response.model == "gpt-4o-2024-08-06"
    assert response.created == 1741570283
    assert response.provider == "openai"
    assert response.system_fingerprint == "fp_fc9f1d7035"
    assert response.choices == (
        Choice(
            message=Message(
                "assistant",
                "The image shows a wooden boardwalk.",
                extra={"refusal": None, "annotations": []},
            ),
            finish_reason="stop",
            native_finish_reason="stop",
            extra={"logprobs": None},
        ),
    )
    assert response.usage == Usage(prompt_tokens=1117, completion_tokens=46, cached_tokens=1024)


def test_a_documented_tool_call() -> None:
    response = from_openai_response(DOCUMENTED_TOOL_CALL, "openai")

    (choice,) = response.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls == (
        ToolCall("call_abc123", "get_current_weather", '{\n"location": "Boston, MA"\n}'),
    )
    assert response.usage == Usage(prompt_tokens=82, completion_tokens=17, cached_tokens=0)


def test_bytes_decode_like_the_parsed_body() -> None:
    raw = json.dumps(DOCUMENTED_TOOL_CALL).encode()

    assert decode_response(raw, "openai") == from_openai_response(DOCUMENTED_TOOL_CALL, "openai")


@pytest.mark.parametrize("reason", ["length", "content_filter", "eos_token", "abort"])
def test_finish_reasons_are_kept_as_sent(reason: str) -> None:
    body = {
        **DOCUMENTED_COMPLETION,
        "choices": [{**DOCUMENTED_COMPLETION["choices"][0], "finish_reason": reason}],
    }

    (choice,) = from_openai_response(body, "vllm").choices

    assert (choice.finish_reason, choice.native_finish_reason) == (reason, reason)


def test_a_completion_without_usage_counts_nothing() -> None:
    body = {key: value for key, value in DOCUMENTED_COMPLETION.items() if key != "usage"}

    assert from_openai_response(body, "local").usage == Usage()


@pytest.mark.parametrize(
    "raw",
    [b"<html>Bad gateway</html>", b"", b'{"id": "x", "choices": "nope"}', b"[]", b'{"id": "x"}'],
)
def test_a_body_that_is_not_a_completion(raw: bytes) -> None:
    with pytest.raises(UpstreamResponseError):
        decode_response(raw, "openai")


def test_an_error_object_sent_with_status_200_is_an_error() -> None:
    body = {"error": {"message": "model overloaded", "type": "server_error", "code": 503}}

    with pytest.raises(UpstreamOverloadedError):
        from_openai_response(body, "local")


# -------------------------------------------------------------------------------- stream chunks

ENVELOPE = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1694268190,
    "model": "gpt-4o-mini",
    "system_fingerprint": "fp_44709d6fcb",
}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        **ENVELOPE,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def test_documented_text_chunks() -> None:
    chunks = [
        from_openai_chunk(_chunk({"role": "assistant", "content": ""})),
        from_openai_chunk(_chunk({"content": "Hello"})),
        from_openai_chunk(_chunk({}, "stop")),
    ]

    # What the gateway does not model (logprobs, system_fingerprint) is kept to pass on.
    kept = {"choice_extra": {"logprobs": None}, "extra": {"system_fingerprint": "fp_44709d6fcb"}}
    assert chunks == [
        [ChatChunk(role="assistant", content="", model="gpt-4o-mini", **kept)],
        [ChatChunk(content="Hello", model="gpt-4o-mini", **kept)],
        [
            ChatChunk(
                finish_reason="stop", native_finish_reason="stop", model="gpt-4o-mini", **kept
            )
        ],
    ]


def test_tool_call_fragments_are_kept_exactly() -> None:
    # The second shape is what the openai SDK's model_dump sends on: explicit nulls.
    first = {
        "index": 1,
        "id": "call_Dd",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    fragment = {
        "index": 1,
        "id": None,
        "type": None,
        "function": {"name": None, "arguments": '{"ci'},
    }

    (start,) = from_openai_chunk(_chunk({"tool_calls": [first]}))
    (more,) = from_openai_chunk(_chunk({"tool_calls": [fragment]}))

    assert start.tool_calls == (ToolCallDelta(index=1, id="call_Dd", name="get_weather"),)
    assert more.tool_calls == (ToolCallDelta(index=1, arguments='{"ci'),)


def test_the_usage_chunk_has_no_choices() -> None:
    body = {
        **ENVELOPE,
        "choices": [],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 12,
            "total_tokens": 21,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
    }

    assert from_openai_chunk(body) == [
        ChatChunk(
            usage=Usage(
                prompt_tokens=9, completion_tokens=12, cached_tokens=8, reasoning_tokens=5
            ),
            model="gpt-4o-mini",
            extra={"system_fingerprint": "fp_44709d6fcb"},
        )
    ]


def test_usage_on_the_finish_chunk_becomes_a_chunk_of_its_own() -> None:
    body = {
        **_chunk({"content": ""}, "stop"),
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }

    finish, usage = from_openai_chunk(body, "deepseek")

    assert finish.finish_reason == "stop"
    assert usage.usage == Usage(prompt_tokens=3, completion_tokens=1)


def test_a_chunk_that_is_not_json() -> None:
    with pytest.raises(UpstreamResponseError):
        decode_chunk('{"id": "chatcmpl-broken", "choices": [', "openai")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {
                "message": "The server had an error",
                "type": "server_error",
                "param": None,
                "code": None,
            },
            UpstreamServerError,
        ),
        (
            {
                "object": "error",
                "message": "bad",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            },
            UpstreamBadRequestError,
        ),
        (
            {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"},
            UpstreamRateLimitError,
        ),
        ({"message": "slow down", "type": "TooManyRequests", "code": 429}, UpstreamRateLimitError),
        ("engine crashed", UpstreamServerError),
    ],
)
def test_an_error_event_in_a_stream(error: Any, expected: type[ProviderError]) -> None:
    with pytest.raises(expected) as raised:
        decode_chunk(json.dumps({"error": error}), "vllm")

    assert type(raised.value) is expected
    assert raised.value.provider == "vllm"


# -------------------------------------------------------------------------------- HTTP errors


def _error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, UpstreamBadRequestError),
        (404, UpstreamBadRequestError),
        (409, UpstreamBadRequestError),
        (422, UpstreamBadRequestError),
        (413, UpstreamBadRequestError),
        (401, UpstreamAuthError),
        (403, UpstreamAuthError),
        (429, UpstreamRateLimitError),
        (503, UpstreamOverloadedError),
        (408, UpstreamTimeoutError),
        (504, UpstreamTimeoutError),
        (500, UpstreamServerError),
        (502, UpstreamServerError),
    ],
)
def test_http_status_classes(status: int, expected: type[ProviderError]) -> None:
    error = http_error(status, _error_body("boom", "server_error", None), {}, "openai")

    assert type(error) is expected
    assert (error.status, error.provider) == (status, "openai")


def test_a_rejected_request_tells_the_client_what_to_fix() -> None:
    body = _error_body(
        "maximum context length is 128000 tokens",
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    )

    error = http_error(400, body, {}, "openai")

    assert "maximum context length is 128000 tokens" in error.message
    assert (error.code, error.param) == ("context_length_exceeded", "messages")


def test_an_auth_failure_never_repeats_the_upstream_message() -> None:
    body = _error_body(
        "Incorrect API key provided: sk-proj-abc***xyz", "invalid_request_error", "invalid_api_key"
    )

    error = http_error(401, body, {}, "openai")

    assert "sk-proj" not in str(error)
    assert error.code == UpstreamAuthError.code  # ours, not "invalid_api_key": not the client's key


def test_a_rate_limit_keeps_retry_after() -> None:
    error = http_error(429, b"{}", {"Retry-After": "7"}, "openai")

    assert error.retry_after == 7.0


def test_an_error_page_that_is_not_json() -> None:
    error = http_error(502, b"<html><h1>502 Bad Gateway</h1></html>", {}, "openrouter")

    assert type(error) is UpstreamServerError
    assert "html" not in error.message


def test_an_upstream_message_is_cut_short() -> None:
    error = http_error(400, _error_body("x" * 10_000, "invalid_request_error", None), {}, "openai")

    assert len(error.message) < 600
