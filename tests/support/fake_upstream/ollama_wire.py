"""Ollama's native chat dialect for the fake upstream: ``POST /api/chat``.

One JSON object when the body says ``"stream": false``; otherwise (Ollama's default) NDJSON,
one object per line: content in several ``done: false`` lines, tool calls whole in a line of
their own, and a last ``done: true`` line with ``done_reason`` and the token counts. Errors
are ``{"error": "..."}``, with a status before a stream starts and as a line once it has.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS, FakeUpstream, Fault, Turn

NDJSON = "application/x-ndjson"
JSON = "application/json"

_ERROR_FAULTS: dict[Fault, tuple[int, str]] = {
    Fault.RATE_LIMITED: (429, "too many requests"),
    Fault.SERVER_ERROR: (500, "llama runner process has terminated: exit status 2"),
    Fault.OVERLOADED: (503, "server busy, please try again.  maximum pending requests exceeded"),
    Fault.UNAUTHORIZED: (401, "unauthorized"),
    Fault.BAD_REQUEST: (400, "invalid options: frobnicate"),
    # Ollama sends no key of ours to quote: a proxy in front of it might quote its own.
    Fault.QUOTES_CREDENTIALS: (400, "proxy rejected Authorization: Bearer sk-proxy-0123456789"),
}


@dataclass(frozen=True)
class ErrorMidStream(Turn):
    """A turn that streams its text, then an ``{"error": ...}`` line instead of ``done``.

    Not streamed (``"stream": false``), it is a 500 with that error, as Ollama does."""

    error: str = "an error was encountered while running the model"


def install(upstream: FakeUpstream) -> None:
    upstream.route("/api/chat", render)


async def render(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    body = body if isinstance(body, dict) else {}
    model = turn.model or body.get("model") or "llama3.2"
    if turn.fault in _ERROR_FAULTS:
        status, text = _ERROR_FAULTS[turn.fault]
        return _error(status, text)
    if body.get("stream", True) is False:
        return await _single(request, model, turn)
    return await _stream(request, model, turn)


def _error(status: int, text: str) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else {}
    return web.json_response({"error": text}, status=status, headers=headers)


async def _single(request: web.Request, model: str, turn: Turn) -> web.StreamResponse:
    if isinstance(turn, ErrorMidStream):
        return _error(500, turn.error)
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(text='{"model": "llama3.2", "message": {', content_type=JSON)
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or ""}
    if turn.tool_calls:
        message["tool_calls"] = _tool_calls(turn)
    payload = json.dumps({**_head(model), "message": message, **_done(turn)}).encode()
    if turn.fault is Fault.DROP_MID_STREAM:
        response = web.StreamResponse(headers={"Content-Type": JSON})
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: len(payload) // 2])
        return _drop(request, response)
    return web.Response(body=payload, content_type=JSON, charset="utf-8")


async def _stream(request: web.Request, model: str, turn: Turn) -> web.StreamResponse:
    lines = [{**_head(model), "message": m, "done": False} for m in _stream_messages(turn)]
    final = {**_head(model), "message": {"role": "assistant", "content": ""}, **_done(turn)}
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    if turn.fault is Fault.DROP_MID_STREAM:
        await _write_lines(response, lines[: max(1, len(lines) // 2)])
        return _drop(request, response)
    if turn.fault is Fault.MALFORMED_JSON:
        await _write_lines(response, lines[:1])
        await response.write(b"this is not json\n")
    elif isinstance(turn, ErrorMidStream):
        await _write_lines(response, [*lines, {"error": turn.error}])
    else:
        await _write_lines(response, [*lines, final])
    await response.write_eof()
    return response


def _stream_messages(turn: Turn) -> list[dict[str, Any]]:
    messages = [{"role": "assistant", "content": piece} for piece in _pieces(turn.text or "")]
    if turn.tool_calls:
        messages.append({"role": "assistant", "content": "", "tool_calls": _tool_calls(turn)})
    return messages


def _pieces(text: str) -> list[str]:
    """Word-sized pieces that join back to exactly ``text``."""
    return [piece for piece in re.split(r"(?<=\S)(?=\s)", text) if piece]


async def _write_lines(response: web.StreamResponse, lines: list[dict[str, Any]]) -> None:
    for line in lines:
        await response.write(json.dumps(line).encode() + b"\n")


def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Cut the connection without finishing the body, as a crashed server would."""
    assert request.transport is not None
    request.transport.abort()
    return response


def _tool_calls(turn: Turn) -> list[dict[str, Any]]:
    return [{"function": {"name": name, "arguments": args}} for name, args in turn.tool_calls]


def _head(model: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"model": model, "created_at": now}


def _done(turn: Turn) -> dict[str, Any]:
    return {
        "done": True,
        "done_reason": turn.finish or "stop",
        "total_duration": 885095291,
        "load_duration": 3753500,
        "prompt_eval_count": turn.prompt_tokens,
        "prompt_eval_duration": 328493000,
        "eval_count": turn.completion_tokens,
        "eval_duration": 552222000,
    }
