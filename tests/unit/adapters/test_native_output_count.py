"""A natively forwarded stream counts the output its events carry (``output_chars``), which the
door holds to the output cap: every kind of generated text, never the events that repeat it
(``*.done``) or carry none (a signature, a ping)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gateway_adapters.providers.anthropic.messages_passthrough import (
    MESSAGES_DELTAS,
    messages_delta_chars,
    watch_messages_events,
)
from gateway_adapters.providers.native_stream import RelayedStream
from gateway_adapters.providers.openai import responses_passthrough
from gateway_core.domain.usage import Usage


class _Answer:
    status = 200

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._body), 7):  # events split anywhere
            yield self._body[start : start + 7]


def _sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)


def _relayed(body: bytes, **kwargs: Any) -> RelayedStream:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Any]:
        yield _Answer(body)

    stream = RelayedStream(opened(), provider="p", error_for=None, model="m", **kwargs)  # type: ignore[arg-type]

    async def drain() -> None:
        async for _ in stream:
            pass

    asyncio.run(drain())
    return stream


def _delta(kind: str, **fields: str) -> tuple[str, dict[str, Any]]:
    delta = {"type": kind, **fields}
    return "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}


def test_a_messages_stream_counts_text_thinking_and_tool_input() -> None:
    body = _sse(
        ("message_start", {"type": "message_start",
                           "message": {"model": "claude", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ("ping", {"type": "ping"}),
        _delta("thinking_delta", thinking="Hmm, "),
        _delta("signature_delta", signature="EqQBCgIYAhIM" * 10),
        _delta("text_delta", text="héllo\n"),
        _delta("input_json_delta", partial_json='{"x": 1}'),
        ("content_block_delta", {"type": "content_block_delta", "delta": "not an object"}),
        ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 30}}),
    )  # fmt: skip
    stream = _relayed(body, watch=watch_messages_events, watched=None,  # as Bedrock and Vertex
                      count=messages_delta_chars, counted=MESSAGES_DELTAS)  # fmt: skip
    assert stream.output_chars == len("Hmm, ") + len("héllo\n") + len('{"x": 1}')
    assert stream.usage == Usage(9, 30)


def test_a_responses_stream_counts_every_delta_of_output_and_no_repeat() -> None:
    def event(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return kind, {"type": kind, **fields}

    body = _sse(
        event("response.created", response={"model": "gpt-5"}),
        event("response.reasoning_summary_text.delta", delta="Think. "),
        event("response.output_text.delta", delta="Hello "),
        event("response.output_text.delta", delta="world"),
        event("response.output_text.done", text="Hello world"),
        event("response.function_call_arguments.delta", delta='{"a":'),
        event("response.function_call_arguments.done", arguments='{"a":2}'),
        event("response.completed", response={"model": "gpt-5", "usage": {"output_tokens": 12}}),
    )
    stream = _relayed(body, watch=responses_passthrough._watch,
                      watched=responses_passthrough._WATCHED,
                      count=responses_passthrough._delta_chars,
                      counted=responses_passthrough._DELTAS)  # fmt: skip
    assert stream.output_chars == len("Think. Hello world") + len('{"a":')
    assert stream.usage.completion_tokens == 12
