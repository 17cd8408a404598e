"""More of Anthropic's dialect for the fake upstream: ``POST /v1/messages/count_tokens``, and
answers with extended thinking (``ThinkingTurn``: a ``thinking`` block with its signature
before the text, streamed as ``thinking_delta`` and ``signature_delta``).

Registered after ``anthropic_wire``: its ``/v1/messages`` renderer wraps that module's, which
still answers every other turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.fake_upstream import anthropic_wire
from tests.support.fake_upstream.server import FakeUpstream, Turn

COUNT_PATH = "/v1/messages/count_tokens"


@dataclass(frozen=True)
class ThinkingTurn(Turn):
    thinking: str = "Let me think about this."
    signature: str = "EqQBCgIYAhIM-fake-signature"


def install(upstream: FakeUpstream) -> None:
    upstream.route(COUNT_PATH, render_count)
    upstream.route("/v1/messages", render)


def counted_tokens(body: dict[str, Any]) -> int:
    """A deterministic count a test can predict: words in the JSON of messages and system."""
    return len(json.dumps([body.get("system"), body["messages"]]).split())


async def render_count(upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn) -> web.StreamResponse:
    if not request.headers.get("x-api-key") or not request.headers.get("anthropic-version"):
        return anthropic_wire.error_response(401, "authentication_error", "x-api-key header is required")
    if not isinstance(body, dict) or "messages" not in body or "model" not in body:
        return anthropic_wire.error_response(400, "invalid_request_error", "messages: Field required")
    return web.json_response({"input_tokens": counted_tokens(body)})


async def render(upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn) -> web.StreamResponse:
    if not isinstance(turn, ThinkingTurn):
        return await anthropic_wire.render(upstream, request, body, turn)
    rejection = await anthropic_wire._rejection(request, body)
    if rejection is not None:
        return rejection
    message = anthropic_wire.message_body(body, turn)
    thinking = {"type": "thinking", "thinking": turn.thinking, "signature": turn.signature}
    message["content"].insert(0, thinking)
    if not body.get("stream"):
        return web.json_response(message)
    events = anthropic_wire.stream_events({**message, "content": message["content"][1:]})
    thinking_events = _thinking_events(thinking)
    # The thinking block is block 0: the others move up by one.
    for _, data in events:
        if "index" in data:
            data["index"] += 1
    events[2:2] = thinking_events
    reply = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
    await reply.prepare(request)
    for name, data in events:
        await reply.write(anthropic_wire.encode_event(name, data))
    await reply.write_eof()
    return reply


def _thinking_events(block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = {"type": "content_block_start", "index": 0,
             "content_block": {"type": "thinking", "thinking": "", "signature": ""}}  # fmt: skip
    deltas = [
        {"type": "thinking_delta", "thinking": block["thinking"]},
        {"type": "signature_delta", "signature": block["signature"]},
    ]
    return [
        ("content_block_start", start),
        *(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ]
