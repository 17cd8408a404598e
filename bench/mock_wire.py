"""The mock upstream's answers, as complete HTTP/1.1 responses built once at import.

Every answer is the same bytes each time, so serving one costs a buffer write: the mock must
never be what limits a measurement. The bodies follow the vendors' real wire formats closely
enough for the gateway's adapters to decode them (ids, usage, finish/stop reasons included).
"""

from __future__ import annotations

import json
from typing import Any

CONTENT_CHUNKS = 20
"""Content deltas per streamed answer (the issue's "20-chunk streams")."""

_TOKEN = "tok "
_TEXT = _TOKEN * CONTENT_CHUNKS
_PROMPT_TOKENS = 20
_CREATED = 1_700_000_000


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_response(body: bytes) -> bytes:
    return _fixed_length("200 OK", "application/json", body)


def _fixed_length(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _chunked_sse(events: list[bytes]) -> bytes:
    """One HTTP chunk per SSE event, as real upstreams flush them, then the last chunk."""
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    chunks = [b"%x\r\n%s\r\n" % (len(event), event) for event in events]
    return head + b"".join(chunks) + b"0\r\n\r\n"


def _data_event(payload: Any) -> bytes:
    return b"data: " + _json(payload) + b"\n\n"


def _named_event(name: str, payload: Any) -> bytes:
    return b"event: " + name.encode() + b"\n" + _data_event(payload)


# ---------------------------------------------------------------- OpenAI Chat Completions

_OPENAI_USAGE = {
    "prompt_tokens": _PROMPT_TOKENS,
    "completion_tokens": CONTENT_CHUNKS,
    "total_tokens": _PROMPT_TOKENS + CONTENT_CHUNKS,
}


def _openai_json() -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": _CREATED,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _TEXT},
                "finish_reason": "stop",
            }
        ],
        "usage": _OPENAI_USAGE,
    }
    return _fixed_length("200 OK", "application/json", _json(body))


def _openai_chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _openai_sse() -> bytes:
    first = _openai_chunk({"role": "assistant", "content": _TOKEN})
    events = [_data_event(first)]
    events += [_data_event(_openai_chunk({"content": _TOKEN})) for _ in range(CONTENT_CHUNKS - 1)]
    events.append(_data_event(_openai_chunk({}, "stop")))
    usage = {**_openai_chunk({}), "choices": [], "usage": _OPENAI_USAGE}
    events.append(_data_event(usage))
    events.append(b"data: [DONE]\n\n")
    return _chunked_sse(events)


# ---------------------------------------------------------------- Anthropic Messages


def _anthropic_message(content: list, stop_reason: str | None, output_tokens: int) -> dict:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": _PROMPT_TOKENS, "output_tokens": output_tokens},
    }


def _anthropic_json() -> bytes:
    body = _anthropic_message([{"type": "text", "text": _TEXT}], "end_turn", CONTENT_CHUNKS)
    return _fixed_length("200 OK", "application/json", _json(body))


def _anthropic_sse() -> bytes:
    delta = {"type": "content_block_delta", "index": 0,
             "delta": {"type": "text_delta", "text": _TOKEN}}
    events = [
        _named_event("message_start",
                     {"type": "message_start", "message": _anthropic_message([], None, 1)}),
        _named_event("content_block_start", {"type": "content_block_start", "index": 0,
                                             "content_block": {"type": "text", "text": ""}}),
        *(_named_event("content_block_delta", delta) for _ in range(CONTENT_CHUNKS)),
        _named_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _named_event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": CONTENT_CHUNKS},
        }),
        _named_event("message_stop", {"type": "message_stop"}),
    ]
    return _chunked_sse(events)


# ---------------------------------------------------------------- other answers

OPENAI_JSON = _openai_json()
OPENAI_SSE = _openai_sse()
ANTHROPIC_JSON = _anthropic_json()
ANTHROPIC_SSE = _anthropic_sse()
HEALTH = _fixed_length("200 OK", "application/json", b'{"status":"ok"}')
NOT_FOUND = _fixed_length(
    "404 Not Found", "application/json",
    _json({"error": {"message": "unknown path", "type": "invalid_request_error"}}),
)
BAD_REQUEST = _fixed_length(
    "400 Bad Request", "application/json",
    _json({"error": {"message": "the mock needs content-length framing",
                     "type": "invalid_request_error"}}),
)
