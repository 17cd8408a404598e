"""OpenAI's Responses API dialect of the fake upstream: ``POST /v1/responses``.

Answers as https://platform.openai.com/docs/api-reference/responses documents: a ``response``
object, or with ``"stream": true`` the typed events (``response.created`` ...
``response.completed``) with ``sequence_number``. A ``ReasoningTurn`` adds a ``reasoning``
item with a summary and ``encrypted_content`` first, as OpenAI's reasoning models send it.
Errors use OpenAI's ``{"error": {...}}`` (the Chat Completions dialect's table).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.fake_upstream.openai_wire import _ERRORS
from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS, FakeUpstream, Turn, flood

PATH = "/v1/responses"


@dataclass(frozen=True)
class ReasoningTurn(Turn):
    summary: str = "Thinking it through."
    encrypted_content: str = "gAAAAA-fake-encrypted-reasoning"


def install(upstream: FakeUpstream) -> None:
    upstream.route(PATH, render)


async def render(upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn) -> web.StreamResponse:
    if turn.fault in _ERRORS:
        status, error = _ERRORS[turn.fault]  # type: ignore[index]
        headers = {"retry-after": str(RETRY_AFTER_SECONDS)} if status == 429 else None
        return web.json_response({"error": error}, status=status, headers=headers)
    if not isinstance(body, dict) or "model" not in body or "input" not in body:
        error = {"message": "Missing required parameter: 'input'.", "type": "invalid_request_error",
                 "param": "input", "code": "missing_required_parameter"}  # fmt: skip
        return web.json_response({"error": error}, status=400)
    response = response_body(body, turn)
    if body.get("stream") and turn.floods:
        return await _flood(upstream, request, response)
    if body.get("stream"):
        return await _stream(upstream, request, response, turn.stalls_mid_stream)
    return web.json_response(response)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def output_items(turn: Turn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if isinstance(turn, ReasoningTurn):
        items.append({"type": "reasoning", "id": _id("rs"), "encrypted_content": turn.encrypted_content,
                      "summary": [{"type": "summary_text", "text": turn.summary}]})  # fmt: skip
    if turn.text:
        items.append({"type": "message", "id": _id("msg"), "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": turn.text, "annotations": [],
                                   "logprobs": []}]})  # fmt: skip
    for name, arguments in turn.tool_calls:
        items.append({"type": "function_call", "id": _id("fc"), "call_id": _id("call"), "name": name,
                      "arguments": json.dumps(arguments), "status": "completed"})  # fmt: skip
    return items


def response_body(body: dict[str, Any], turn: Turn, status: str = "completed") -> dict[str, Any]:
    incomplete = turn.finish == "length"
    return {
        "id": _id("resp"), "object": "response", "created_at": int(time.time()),
        "status": "incomplete" if incomplete else status, "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": turn.model or body["model"], "output": output_items(turn),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0), "truncation": body.get("truncation", "disabled"),
        "usage": {
            "input_tokens": turn.prompt_tokens,
            "input_tokens_details": {"cached_tokens": turn.cached_tokens},
            "output_tokens": turn.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 5 if isinstance(turn, ReasoningTurn) else 0},
            "total_tokens": turn.prompt_tokens + turn.completion_tokens,
        },
        "user": body.get("user"), "metadata": body.get("metadata") or {},
    }  # fmt: skip


def stream_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    opening = {**response, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": opening},
        {"type": "response.in_progress", "response": opening},
    ]
    for index, item in enumerate(response["output"]):
        events.extend(_item_events(index, item))
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    events.append({"type": final, "response": response})
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    common = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        middle = [
            {"type": "response.content_part.added", **common, "content_index": 0, "part": empty},
            *({"type": "response.output_text.delta", **common, "content_index": 0, "delta": piece,
               "logprobs": []} for piece in text.split(" ")),
            {"type": "response.output_text.done", **common, "content_index": 0, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **common, "content_index": 0, "part": item["content"][0]},
        ]  # fmt: skip
        middle[1:-2] = [dict(e, delta=(" " if n else "") + e["delta"]) for n, e in enumerate(middle[1:-2])]
        added = {**item, "status": "in_progress", "content": []}
    elif item["type"] == "function_call":
        middle = [
            {"type": "response.function_call_arguments.delta", **common, "delta": item["arguments"]},
            {"type": "response.function_call_arguments.done", **common, "arguments": item["arguments"]},
        ]
        added = {**item, "status": "in_progress", "arguments": ""}
    else:
        summary = item["summary"][0]["text"]
        middle = [
            {"type": "response.reasoning_summary_text.delta", **common, "summary_index": 0, "delta": summary},
            {"type": "response.reasoning_summary_text.done", **common, "summary_index": 0, "text": summary},
        ]
        added = {**item, "summary": []}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": added},
        *middle,
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


async def _stream(
    upstream: FakeUpstream, request: web.Request, response: dict[str, Any], stalls: bool
) -> web.StreamResponse:
    reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await reply.prepare(request)
    for position, event in enumerate(stream_events(response)):
        if stalls and position == 5:  # after the first text delta: a model gone quiet
            await upstream.hold()
        await reply.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
    await reply.write_eof()
    return reply


async def _flood(
    upstream: FakeUpstream, request: web.Request, response: dict[str, Any]
) -> web.StreamResponse:
    """The response's opening events up to its text part, then text deltas past any output
    limit, numbered on."""
    reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await reply.prepare(request)
    events = stream_events(response)
    opening = events[:4]  # created, in_progress, output_item.added, content_part.added
    for event in opening:
        await reply.write(_encoded(event))
    sequence = len(opening)
    common = {key: opening[-1][key] for key in ("output_index", "item_id", "content_index")}

    def delta(text: str) -> bytes:
        nonlocal sequence
        sequence += 1
        return _encoded({"type": "response.output_text.delta", **common, "delta": text,
                         "logprobs": [], "sequence_number": sequence - 1})  # fmt: skip

    if await flood(upstream, reply, delta):
        return reply
    await reply.write(_encoded({**events[-1], "sequence_number": sequence}))
    await reply.write_eof()
    return reply


def _encoded(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
