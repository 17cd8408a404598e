"""Ollama's NDJSON stream translation, line by line, against lines in the shapes of its
docs/api.md (``POST /api/chat``). Pure: no sockets."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_adapters.providers.ollama.stream import StreamTranslator
from gateway_adapters.providers.ollama.wire import response_from_wire, stable_tool_call_id
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamConnectionError, UpstreamResponseError, UpstreamServerError

# docs/api.md, "Chat Request (Streaming)": lines of the stream, the last with done_reason.
STREAM_LINES = [
    {
        "model": "llama3.2",
        "created_at": "2023-08-04T08:52:19.385406455-07:00",
        "message": {"role": "assistant", "content": "The", "images": None},
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2023-08-04T08:52:19.485406455-07:00",
        "message": {"role": "assistant", "content": " sky"},
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2023-08-04T19:22:45.499127Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 342546000,
        "eval_count": 282,
        "eval_duration": 4535599000,
    },
]


def translate(lines: list[Any]) -> list[ChatChunk]:
    translator = StreamTranslator(provider="ollama", fallback_model="m")
    chunks = [chunk for line in lines for chunk in translator.feed(line)]
    translator.finish()
    return chunks


def test_stream_lines_become_role_content_finish_and_usage() -> None:
    assert translate(STREAM_LINES) == [
        ChatChunk(role="assistant", content="", model="llama3.2"),
        ChatChunk(content="The"),
        ChatChunk(content=" sky"),
        ChatChunk(finish_reason="stop", native_finish_reason="stop"),
        ChatChunk(usage=Usage(prompt_tokens=26, completion_tokens=282)),
    ]


def tool_call_line(arguments: dict[str, Any], *, done: bool) -> dict[str, Any]:
    call = {"function": {"name": "get_current_weather", "arguments": arguments}}
    message = {"role": "assistant", "content": "", "tool_calls": [call]}
    head = {"model": "llama3.2", "created_at": "2024-07-22T20:33:28Z"}
    return {**head, "message": message, "done": done}


def test_streamed_tool_calls_are_numbered_across_lines_with_the_non_streamed_ids() -> None:
    paris = tool_call_line({"format": "celsius", "location": "Paris, FR"}, done=False)
    oslo = tool_call_line({"location": "Oslo"}, done=False)

    chunks = translate([paris, oslo, STREAM_LINES[-1]])

    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    not_streamed = response_from_wire(
        {**paris, "done": True}, response_id="r1", provider="ollama", fallback_model="m"
    )
    first_id = not_streamed.choices[0].message.tool_calls[0].id
    assert deltas == [
        ToolCallDelta(
            0, first_id, "get_current_weather", '{"format":"celsius","location":"Paris, FR"}'
        ),
        ToolCallDelta(
            1,
            stable_tool_call_id(1, "get_current_weather", '{"location":"Oslo"}'),
            "get_current_weather",
            '{"location":"Oslo"}',
        ),
    ]
    assert chunks[-2] == ChatChunk(finish_reason="tool_calls", native_finish_reason="stop")


def test_stream_without_done_line_is_a_connection_error() -> None:
    with pytest.raises(UpstreamConnectionError):
        translate(STREAM_LINES[:2])


def test_error_line_is_a_server_error_without_the_upstream_text() -> None:
    with pytest.raises(UpstreamServerError) as caught:
        translate([STREAM_LINES[0], {"error": "CUDA out of memory"}])

    assert "CUDA" not in caught.value.message
    assert caught.value.__notes__ == ["upstream said: CUDA out of memory"]


def test_a_line_that_is_not_an_object_is_a_response_error() -> None:
    with pytest.raises(UpstreamResponseError):
        translate([STREAM_LINES[0], ["not", "an", "object"]])
