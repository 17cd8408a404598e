"""The OpenAI Chat Completions dialect of the fake upstream: ``POST /v1/chat/completions``.

Bodies follow https://platform.openai.com/docs/api-reference/chat/object (``chat.completion``)
and .../streaming (``chat.completion.chunk`` events, ``data: [DONE]``), field for field,
including the nulls OpenAI sends. Errors use its ``{"error": {message, type, param, code}}``.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import time
import uuid
from typing import Any

from aiohttp import web

from tests.support.fake_upstream.server import (
    RETRY_AFTER_SECONDS,
    FakeUpstream,
    Fault,
    Turn,
    quoted_credentials,
)

PATH = "/v1/chat/completions"
SYSTEM_FINGERPRINT = "fp_fake0001"
_ARGUMENT_PIECE = 5  # characters per tool-argument fragment: several fragments per call

# Status and error body per HTTP fault, in OpenAI's words. The 401 message quotes part of
# the key, as OpenAI's does: the gateway must never pass it on.
_ERRORS: dict[Fault, tuple[int, dict[str, Any]]] = {
    Fault.RATE_LIMITED: (
        429,
        {
            "message": "Rate limit reached for requests",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        },
    ),
    Fault.SERVER_ERROR: (
        500,
        {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        },
    ),
    Fault.OVERLOADED: (
        503,
        {
            "message": "The engine is currently overloaded, please try again later.",
            "type": "server_error",
            "param": None,
            "code": None,
        },
    ),
    Fault.UNAUTHORIZED: (
        401,
        {
            "message": "Incorrect API key provided: sk-fake***-key.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        },
    ),
    Fault.BAD_REQUEST: (
        400,
        {
            "message": "This model's maximum context length is 128000 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        },
    ),
}


EMBEDDINGS_PATH = "/v1/embeddings"
EMBEDDING_DIMENSIONS = 4


def install(upstream: FakeUpstream) -> None:
    upstream.route(PATH, render)
    upstream.route(EMBEDDINGS_PATH, render_embeddings)


async def render_embeddings(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    """OpenAI's embeddings list: one vector per input, ``prompt_tokens`` from the turn."""
    if turn.fault is Fault.QUOTES_CREDENTIALS:
        return web.json_response({"error": credentials_quoted(request)}, status=400)
    if turn.fault in _ERRORS:
        status, error = _ERRORS[turn.fault]  # type: ignore[index]
        return web.json_response({"error": error}, status=status)
    given = body["input"]
    if isinstance(given, str) or (given and isinstance(given[0], int)):
        given = [given]  # one text, or the token ids of one
    encode = _base64_floats if body.get("encoding_format") == "base64" else list
    data = [
        {"object": "embedding", "index": index,
         "embedding": encode([float(len(item) + p) for p in range(EMBEDDING_DIMENSIONS)])}
        for index, item in enumerate(given)
    ]  # fmt: skip
    usage = {"prompt_tokens": turn.prompt_tokens, "total_tokens": turn.prompt_tokens}
    return web.json_response(
        {"object": "list", "data": data, "model": turn.model or body["model"], "usage": usage}
    )


def _base64_floats(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _logprobs(text: str) -> dict[str, Any]:
    """OpenAI's ``logprobs`` of a choice, one entry per word."""
    entries = [
        {"token": word, "logprob": -0.25, "bytes": list(word.encode()), "top_logprobs": []}
        for word in re.findall(r"\s*\S+", text)
    ]
    return {"content": entries, "refusal": None}


async def render(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    if turn.fault is Fault.QUOTES_CREDENTIALS:
        return web.json_response({"error": credentials_quoted(request)}, status=400)
    if turn.fault in _ERRORS:
        status, error = _ERRORS[turn.fault]  # type: ignore[index]
        if turn.quote_credentials:
            error = {**error, "message": quoted_credentials(request.headers)}
        headers = {"retry-after": str(RETRY_AFTER_SECONDS)} if status == 429 else None
        if turn.headers is not None:
            headers = dict(turn.headers)
        return web.json_response({"error": error}, status=status, headers=headers)
    model = turn.model or body["model"]
    if body.get("stream"):
        return await _stream(upstream, request, body, turn, model)
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(
            text='{"id": "chatcmpl-broken", "choices": [', content_type="application/json"
        )
    if turn.fault is Fault.DROP_MID_STREAM:
        return await _drop(request, json.dumps(completion(turn, model)).encode())
    return web.json_response(completion(turn, model, wants_logprobs=bool(body.get("logprobs"))))


def completion(turn: Turn, model: str, *, wants_logprobs: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": turn.text,
        "refusal": turn.refusal,
        "annotations": [],
        **dict(turn.message_fields),
    }
    if turn.reasoning is not None:
        message["reasoning_content"] = turn.reasoning
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(i, name),
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for i, (name, arguments) in enumerate(turn.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                # Per text token, as in the stream: an answer without text has none.
                "logprobs": _logprobs(turn.text) if wants_logprobs and turn.text else None,
                "finish_reason": _finish(turn),
            }
        ],
        "usage": usage(turn),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def usage(turn: Turn) -> dict[str, Any]:
    report: dict[str, Any] = {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": turn.completion_tokens,
        "total_tokens": turn.prompt_tokens + turn.completion_tokens,
    }
    if turn.cached_tokens:
        report["prompt_tokens_details"] = {"cached_tokens": turn.cached_tokens, "audio_tokens": 0}
    if turn.reasoning_tokens:
        report["completion_tokens_details"] = {
            "reasoning_tokens": turn.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return report


def _finish(turn: Turn) -> str:
    return turn.finish or ("tool_calls" if turn.tool_calls else "stop")


def _call_id(index: int, name: str) -> str:
    return f"call_{index}_{name}"


def chunk_events(
    turn: Turn, model: str, include_usage: bool, wants_logprobs: bool = False
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer, in order."""
    envelope = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if include_usage:
        envelope["usage"] = None  # OpenAI sends null on every chunk but the last

    def event(
        delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**envelope, "choices": [choice]}

    events = [event({"role": "assistant", "content": "", "refusal": None})]
    if turn.reasoning is not None:
        events += [event({"reasoning_content": p}) for p in re.findall(r"\s*\S+", turn.reasoning)]
    if turn.refusal is not None:
        events += [event({"refusal": p}) for p in re.findall(r"\s*\S+", turn.refusal)]
    if turn.message_fields:  # annotations, unknown fields: whole, in one delta
        events.append(event(dict(turn.message_fields)))
    events += [
        event({"content": piece}, logprobs=_logprobs(piece) if wants_logprobs else None)
        for piece in re.findall(r"\s*\S+", turn.text or "")
    ]
    for index, (name, arguments) in enumerate(turn.tool_calls):
        events += [
            event({"tool_calls": [delta]}) for delta in _tool_call_deltas(index, name, arguments)
        ]
    events.append(event({}, _finish(turn)))
    if include_usage:
        events.append({**envelope, "choices": [], "usage": usage(turn)})
    return events


def _tool_call_deltas(index: int, name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """As OpenAI streams a call: id, type and name with empty arguments, then the arguments'
    JSON text in fragments that carry only the index."""
    start = {
        "index": index,
        "id": _call_id(index, name),
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    text = json.dumps(arguments)
    fragments = [
        {"index": index, "function": {"arguments": text[i : i + _ARGUMENT_PIECE]}}
        for i in range(0, len(text), _ARGUMENT_PIECE)
    ]
    return [start, *fragments]


async def _stream(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn, model: str
) -> web.StreamResponse:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events = chunk_events(turn, model, include_usage, bool(body.get("logprobs")))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for position, event in enumerate(events):
        if turn.fault is Fault.DROP_MID_STREAM and position == 2:
            _abort(request)
            return response
        if turn.stalls_mid_stream and position == 2:
            await upstream.hold()
        if turn.fault is Fault.MALFORMED_JSON and position == 2:
            await response.write(b'data: {"id": "chatcmpl-broken", "choices": [\n\n')
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _drop(request: web.Request, body: bytes) -> web.StreamResponse:
    """Promise the whole body, send half of it, then cut the connection."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    _abort(request)
    return response


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def credentials_quoted(request: web.Request) -> dict[str, Any]:
    """An error quoting the request's credentials back, as some proxies and vendors do."""
    authorization = request.headers.get("Authorization", "")
    key = authorization.removeprefix("Bearer ")
    message = f"Bad request with header Authorization: {authorization} (key {key})"
    return {"message": message, "type": "invalid_request_error", "param": None, "code": None}
