"""``POST /v1/chat/completions``: JSON, or SSE when ``stream`` is true."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from gateway_core.domain.cache_keys import CacheUse, cache_use_from_header
from gateway_core.errors import GatewayError
from gateway_core.use_cases.serve_chat import ChatOptions, ChatOutcome
from gateway_core.use_cases.serve_chat_stream import ChatStream
from litestar import Request, Response, post

from gateway_http.caller import ChatApi
from gateway_http.errors import error_body, gateway_error_payload
from gateway_http.ids import new_id
from gateway_http.media import require_json
from gateway_http.request_record import RequestRecord, record_of
from gateway_http.schemas.chat import (
    ChatCompletionBody,
    decode_chat_body,
    to_domain,
    unmodelled_fields,
)
from gateway_http.schemas.completions import ChunkEncoder, encode_completion, outcome_extension
from gateway_http.sse import EventStream

log = logging.getLogger("gateway_http.chat")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_BODY_CACHE = {
    "no-cache": CacheUse(read=False, write=True),
    "no-store": CacheUse(read=False, write=False),
}


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request, chat_api: ChatApi) -> Response | EventStream:
    serve_chat = chat_api.serve
    caller = chat_api.callers.of(request)
    require_json(request)
    raw = await request.body()
    body = decode_chat_body(raw)
    chat_request = to_domain(body, unmodelled_fields(raw))
    options = _options(request, body)
    record = record_of(request.scope)
    record.model, record.stream = chat_request.model, body.stream
    record.prompt = chat_request.messages
    record.correlation = _correlation(request)
    if not body.stream:
        outcome = ChatOutcome()
        try:
            await serve_chat.complete(chat_request, caller, options, outcome)
        finally:
            record.headers = dict(outcome.rate_limit_headers)
        _note(record, outcome)
        content = encode_completion(outcome.response, outcome_extension(outcome))  # type: ignore[arg-type]
        return Response(content=content, media_type="application/json", headers=_headers(outcome))
    stream = ChatStream(serve_chat, chat_request, caller, options)
    # Everything that can still fail with a status (limits, session, routing, the upstream's
    # first answer) happens before the 200 goes out.
    try:
        await stream.open()
    finally:
        record.headers = dict(stream.outcome.rate_limit_headers)
    encoder = ChunkEncoder(f"chatcmpl-{new_id()}", int(time.time()), chat_request.model)
    events = _sse(stream, encoder, body.include_usage, record)
    headers = {**_SSE_HEADERS, **_headers(stream.outcome, final=False)}
    return EventStream(events, headers=headers)


_CORRELATION_HEADERS = ("x-session-id", "x-tenant-id", "x-agent-id", "x-cms-mode")
_MAX_CORRELATION_CHARS = 128


def _correlation(request: Request) -> dict[str, str] | None:
    """Consumers' own ids, tolerated and logged; they never select a session."""
    headers = request.headers
    found = {
        name: value[:_MAX_CORRELATION_CHARS]
        for name in _CORRELATION_HEADERS
        if (value := headers.get(name)) is not None
    }
    return found or None


def _options(request: Request, body: ChatCompletionBody) -> ChatOptions:
    cache = cache_use_from_header(request.headers.get("cache-control"))
    gateway = body.gateway
    if gateway is not None and gateway.cache in _BODY_CACHE:
        cache = _BODY_CACHE[gateway.cache]
    offer_all = gateway is not None and gateway.tools == "all"
    return ChatOptions(session_id=body.session_id, offer_all_tools=offer_all, cache=cache)


def _headers(outcome: ChatOutcome, final: bool = True) -> dict[str, str]:
    headers = dict(outcome.rate_limit_headers)
    if outcome.cache is not None:
        headers["x-gateway-cache"] = outcome.cache
    if outcome.response is not None and outcome.response.dropped_params:
        headers["x-gateway-dropped-params"] = ",".join(outcome.response.dropped_params)
    if final:
        headers["x-gateway-cost-usd"] = f"{outcome.cost_usd:.10f}".rstrip("0").rstrip(".") or "0"
    return headers


def _note(record: RequestRecord, outcome: ChatOutcome) -> None:
    response = outcome.response
    if response is not None:
        record.provider = response.provider or None
        record.completion = response.choices[0].message if response.choices else None
        record.prompt_tokens = response.usage.prompt_tokens
        record.completion_tokens = response.usage.completion_tokens
        record.cached_tokens = response.usage.cached_tokens
    record.cost_usd = outcome.cost_usd
    record.cache = outcome.cache
    record.tool_rounds = outcome.tool_rounds
    record.aborted = outcome.aborted
    record.upstream_seconds = outcome.upstream_seconds
    record.tool_runs = [{"name": run.name, "success": run.success} for run in outcome.tool_runs]


async def _sse(
    stream: ChatStream, encoder: ChunkEncoder, include_usage: bool, record: RequestRecord
) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            if chunk.model and encoder.model != chunk.model:
                encoder.model = chunk.model
            if chunk.finish_reason is None and chunk.usage is None:
                yield encoder.chunk(chunk)
                continue
            # The final chunk: the turn is accounted, so its cost and tool runs are known.
            yield encoder.chunk(chunk, outcome_extension(stream.outcome))
            if include_usage and chunk.usage is not None:
                yield encoder.usage(chunk.usage)
    except GatewayError as error:
        # The 200 is gone: the error travels as an event the OpenAI SDKs raise on.
        _, payload, _ = gateway_error_payload(error)
        record.error_code = error.code
        log.warning("stream failed after it started: %s", error.code, exc_info=error.__cause__)
        yield encoder.error(payload)
        return
    except Exception:
        log.exception("stream failed after it started")
        record.error_code = "internal_error"
        message = "The gateway failed while streaming this answer."
        yield encoder.error(error_body(message, "internal_error", "internal_error"))
        return
    finally:
        _note(record, stream.outcome)
        await stream.aclose()
    yield encoder.done()
