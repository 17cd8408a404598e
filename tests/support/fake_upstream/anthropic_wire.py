"""Anthropic's Messages API dialect of the fake upstream: ``POST /v1/messages``.

Answers exactly as https://docs.anthropic.com/en/api/messages documents: a ``message`` object,
or with ``"stream": true`` server-sent events with named events (message_start,
content_block_start / content_block_delta / content_block_stop per block, ping, message_delta,
message_stop). Like the real API it wants a key, ``x-api-key`` or a bearer token (401 without),
and
``anthropic-version`` (400 without), checks the body against the anthropic SDK's request type
(400 when it does not match), and answers errors as
``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from aiohttp import web

from tests.support.fake_upstream.server import (
    RETRY_AFTER_SECONDS,
    FakeUpstream,
    Fault,
    Turn,
    flood,
    quoted_credentials,
)

Event = tuple[str, dict[str, Any]]

# Fault -> (status, Anthropic error type, message), as the real API words them.
_ERROR_ANSWERS: dict[Fault, tuple[int, str, str]] = {
    Fault.RATE_LIMITED: (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your rate limit",
    ),
    Fault.SERVER_ERROR: (500, "api_error", "Internal server error"),
    Fault.OVERLOADED: (529, "overloaded_error", "Overloaded"),
    Fault.UNAUTHORIZED: (401, "authentication_error", "invalid x-api-key"),
    Fault.BAD_REQUEST: (
        400,
        "invalid_request_error",
        "messages: text content blocks must be non-empty",
    ),
}

_REQUIRED_FIELDS = ("model", "max_tokens", "messages")


@dataclass(frozen=True)
class ErrorMidStream(Turn):
    """A streamed turn that starts, then gets an ``error`` event instead of its end, as
    Anthropic sends when it becomes overloaded mid-answer. Not streamed, it is that error's
    HTTP status."""

    error_type: str = "overloaded_error"
    error_message: str = "Overloaded"
    status: int = 529


def install(upstream: FakeUpstream) -> None:
    # Building the SDK's request validator takes a second or two: do it before any request,
    # so the first one does not run into a gateway's short upstream timeout.
    _request_adapter()
    upstream.route("/v1/messages", render)


async def render(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    rejection = await _rejection(request, body)
    if rejection is not None:
        return rejection
    if turn.fault is Fault.QUOTES_CREDENTIALS:
        key = request.headers.get("x-api-key", "")
        quoted = f"invalid request from x-api-key: {key}; as bearer: Bearer {key}; bare: {key}"
        return error_response(400, "invalid_request_error", quoted)
    if turn.fault in _ERROR_ANSWERS:
        status, kind, text = _ERROR_ANSWERS[turn.fault]
        if turn.quote_credentials:
            text = quoted_credentials(request.headers)
        return error_response(status, kind, text)
    message = message_body(body, turn)
    if body.get("stream"):
        events = stream_events(message)
        if isinstance(turn, ErrorMidStream):
            error = {"type": turn.error_type, "message": turn.error_message}
            events = [*events[:4], ("error", {"type": "error", "error": error})]
        if turn.stalls_mid_stream:
            return await _stall(upstream, request, events)
        if turn.floods:
            return await _flood(upstream, request, events)
        return await _stream(request, events, turn.fault)
    if isinstance(turn, ErrorMidStream):
        return error_response(turn.status, turn.error_type, turn.error_message)
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(
            text="<html>upstream proxy error</html>", content_type="application/json"
        )
    if turn.fault is Fault.DROP_MID_STREAM:
        return await _cut_short(request, json.dumps(message).encode())
    return web.json_response(message, headers=_request_id())


def error_response(status: int, error_type: str, message: str) -> web.Response:
    headers = _request_id()
    if status == 429:
        headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return web.json_response(
        {**body, "request_id": headers["request-id"]}, status=status, headers=headers
    )


async def _rejection(request: web.Request, body: Any) -> web.Response | None:
    # The anthropic SDK 2.x sends its API key as a bearer token; the API takes either.
    bearer = request.headers.get("authorization", "").startswith("Bearer ")
    if not request.headers.get("x-api-key") and not bearer:
        return error_response(401, "authentication_error", "x-api-key header is required")
    if not request.headers.get("anthropic-version"):
        return error_response(400, "invalid_request_error", "anthropic-version: header is required")
    if not isinstance(body, dict):
        return error_response(400, "invalid_request_error", "The request body is not valid JSON.")
    for name in _REQUIRED_FIELDS:
        if name not in body:
            return error_response(400, "invalid_request_error", f"{name}: Field required")
    # Built once, off the event loop: building the SDK's validator takes a second or two.
    problem = await asyncio.to_thread(request_body_problem, body)
    if problem is not None:
        return error_response(400, "invalid_request_error", problem)
    return None


# The SDK's 2.x request TypedDicts no longer list the sampling parameters, which the API still
# takes for the models that support them.
_SAMPLING_FIELDS = frozenset({"temperature", "top_p", "top_k"})


def request_body_problem(body: dict[str, Any]) -> str | None:
    """Why the anthropic SDK's own request TypedDict rejects ``body``, or None if it accepts it.

    Pydantic validates the SDK's ``Iterable`` fields lazily and drops unknown keys, so the
    validated value is walked to the end and must equal the body: a misspelled key shows up too.
    """
    if body.get("stream", False) not in (True, False):
        return "stream: Input should be a valid boolean"
    skipped = _SAMPLING_FIELDS | {"stream"}
    checked = {key: value for key, value in body.items() if key not in skipped}
    try:
        validated = materialized(_request_adapter().validate_python(checked))
    except pydantic.ValidationError as error:
        return f"request does not match the Messages API: {error.errors()[0]}"
    if validated != checked:
        return f"request has fields the Messages API does not know: {checked} != {validated}"
    return None


@functools.cache
def _request_adapter() -> pydantic.TypeAdapter[Any]:
    from anthropic.types.message_create_params import MessageCreateParamsBase

    return pydantic.TypeAdapter(MessageCreateParamsBase)


def materialized(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: materialized(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, bytes, int, float, pydantic.BaseModel)):
        return value
    return [materialized(item) for item in value]


def message_body(body: dict[str, Any], turn: Turn) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if turn.reasoning is not None:
        signature = "sig-" + hashlib.sha256(turn.reasoning.encode()).hexdigest()[:16]
        content.append({"type": "thinking", "thinking": turn.reasoning, "signature": signature})
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for name, arguments in turn.tool_calls:
        tool_id = f"toolu_01{uuid.uuid4().hex[:22]}"
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": arguments})
    stop_reason = turn.finish or ("tool_use" if turn.tool_calls else "end_turn")
    stop_sequence = None
    if stop_reason == "stop_sequence":
        stop_sequence = (body.get("stop_sequences") or ["\n\nHuman:"])[0]
    return {
        "id": f"msg_01{uuid.uuid4().hex[:22]}",
        "type": "message",
        "role": "assistant",
        "model": turn.model or body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {
            "input_tokens": turn.prompt_tokens - turn.cached_tokens - turn.cache_write_tokens,
            "cache_creation_input_tokens": turn.cache_write_tokens,
            "cache_read_input_tokens": turn.cached_tokens,
            "output_tokens": turn.completion_tokens,
        },
    }


def stream_events(message: dict[str, Any]) -> list[Event]:
    """The events that stream ``message``, as the real API sends them."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}
    events: list[Event] = [("message_start", {"type": "message_start", "message": start})]
    events.append(("ping", {"type": "ping"}))
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": delta,
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[Event]:
    if block["type"] == "text":
        opening: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
    elif block["type"] == "thinking":
        opening = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            *({"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])),
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    else:
        opening = {**block, "input": {}}
        # The real API opens with an empty fragment, then cuts the JSON text anywhere.
        fragments = ["", *_pieces(json.dumps(block["input"]))]
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in fragments]
    start = {"type": "content_block_start", "index": index, "content_block": opening}
    return [
        ("content_block_start", start),
        *(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            for delta in deltas
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def _pieces(text: str, count: int = 3) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[start : start + size] for start in range(0, len(text), size)]


def encode_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _stream(
    request: web.Request, events: list[Event], fault: Fault | None
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            **_request_id(),
        }
    )
    await response.prepare(request)
    if fault is Fault.DROP_MID_STREAM:
        return await _send_then_drop(request, response, events[:4])
    if fault is Fault.MALFORMED_JSON:
        events = events[:2]
    for name, data in events:
        await response.write(encode_event(name, data))
    if fault is Fault.MALFORMED_JSON:
        await response.write(
            b'event: content_block_delta\ndata: {"type": "content_block_delta", \n\n'
        )
    await response.write_eof()
    return response


async def _stall(
    upstream: FakeUpstream, request: web.Request, events: list[Event]
) -> web.StreamResponse:
    """The message's start and first text, then nothing until the gateway hangs up."""
    response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    for name, data in events[:4]:
        await response.write(encode_event(name, data))
    await upstream.hold()
    return response


async def _flood(
    upstream: FakeUpstream, request: web.Request, events: list[Event]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    await flood_message(upstream, response, events)
    return response


async def flood_message(
    upstream: FakeUpstream,
    response: web.StreamResponse,
    events: list[Event],
    encode: Callable[[str, dict[str, Any]], bytes] = encode_event,
) -> None:
    """On a prepared response: the message's start and its text block's, then text deltas
    past any output limit (``flood``), then its end if the gateway is still reading.
    ``encode``: the cloud's framing of one event (Bedrock's event stream)."""
    for name, data in events[:3]:
        await response.write(encode(name, data))

    def delta(text: str) -> bytes:
        piece = {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": text}}  # fmt: skip
        return encode("content_block_delta", piece)

    if await flood(upstream, response, delta):
        return
    for name, data in events[-3:]:  # the block's stop, message_delta, message_stop
        await response.write(encode(name, data))
    await response.write_eof()


async def _send_then_drop(
    request: web.Request, response: web.StreamResponse, events: list[Event]
) -> web.StreamResponse:
    for name, data in events:
        await response.write(encode_event(name, data))
    _drop_connection(request)
    return response


async def _cut_short(request: web.Request, payload: bytes) -> web.StreamResponse:
    """Promise the whole JSON body, send half of it, and hang up."""
    response = web.StreamResponse(headers={"content-type": "application/json", **_request_id()})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    _drop_connection(request)
    return response


def _drop_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _request_id() -> dict[str, str]:
    return {"request-id": f"req_01{uuid.uuid4().hex[:22]}"}
