"""``POST /v1/chat/completions``: JSON, or SSE when ``stream`` is true.

A raw ASGI route (``routes/raw_post.py``): the busiest route skips Litestar's handler
machinery, about 20 us of a JSON request's 270 under load (``bench.profile_path``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from litestar import Request, Response

from gateway_core.domain.cache_keys import CacheUse, cache_use_from_header
from gateway_core.domain.chat import ChatChunk
from gateway_core.errors import GatewayError
from gateway_core.use_cases.chat_turn import ChatTurn, TurnOutcome
from gateway_core.use_cases.turn_cache import ChatOptions
from gateway_http.caller import ChatApi
from gateway_http.errors import error_body, gateway_error_payload
from gateway_http.ids import new_id
from gateway_http.media import require_json
from gateway_http.raw_request import header_values, read_body
from gateway_http.request_record import RequestRecord, record_of
from gateway_http.routes.raw_post import raw_post
from gateway_http.schemas.chat import (
    ChatCompletionBody,
    decode_chat_body,
    to_domain,
    unmodelled_fields,
)
from gateway_http.schemas.completions import (
    COST_HEADER,
    ChunkEncoder,
    cost_header_value,
    encode_completion,
    outcome_extension,
    with_extension,
)
from gateway_http.sse import EventStream, FinalEvent
from gateway_http.whole_json import WholeJson

log = logging.getLogger("gateway_http.chat")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_BODY_CACHE = {
    "no-cache": CacheUse(read=False, write=True),
    "no-store": CacheUse(read=False, write=False),
}


CHAT_PATH = "/v1/chat/completions"


@raw_post(CHAT_PATH, "chat_api", name="chat_completions")
async def chat_completions(
    request: Request[Any, Any, Any], chat_api: ChatApi
) -> Response[bytes] | EventStream:
    caller = await chat_api.callers.of(request)
    require_json(request)
    raw = await read_body(request)
    body = decode_chat_body(raw)
    chat_request = to_domain(body, unmodelled_fields(raw))
    record = record_of(request.scope)
    record.model, record.stream = chat_request.model, body.stream
    record.prompt = chat_request.messages
    record.correlation = _correlation(request)
    turn = record.turn = chat_api.serve.start(chat_request, caller, _options(request, body))
    if not body.stream:
        # The answer goes out before its usage is booked (``ChatTurn.book``, after the write).
        response = await turn.complete(book_later=True)
        try:
            outcome = turn.outcome
            content = encode_completion(response, outcome_extension(outcome))
            headers = _headers(outcome)
            record.close_with(outcome)
        except BaseException:
            await turn.book()
            raise
        return WholeJson(content, headers, after=turn.book)
    # Everything that can still fail with a status (limits, session, routing, the upstream's
    # first answer) happens before the 200 goes out.
    chunks = await turn.open_stream()
    encoder = ChunkEncoder(f"chatcmpl-{new_id()}", int(time.time()), chat_request.model)
    events = _sse(turn, chunks, encoder, body.include_usage, record)
    headers = {**_SSE_HEADERS, **_headers(turn.outcome, final=False)}
    return EventStream(events, headers=headers, tap=turn.relay_tap)


_CORRELATION_HEADERS = ("x-session-id", "x-tenant-id", "x-agent-id", "x-cms-mode")
_MAX_CORRELATION_CHARS = 128


def _correlation(request: Request[Any, Any, Any]) -> dict[str, str] | None:
    """Consumers' own ids, tolerated and logged; they never select a session."""
    headers = header_values(request.scope)
    found = {
        name: value[:_MAX_CORRELATION_CHARS]
        for name in _CORRELATION_HEADERS
        if (value := headers.get(name)) is not None
    }
    return found or None


def _options(request: Request[Any, Any, Any], body: ChatCompletionBody) -> ChatOptions:
    cache = cache_use_from_header(header_values(request.scope).get("cache-control"))
    gateway = body.gateway
    if gateway is not None and gateway.cache in _BODY_CACHE:
        cache = _BODY_CACHE[gateway.cache]
    offer_all = gateway is not None and gateway.tools == "all"
    return ChatOptions(session_id=body.session_id, offer_all_tools=offer_all, cache=cache)


def _headers(outcome: TurnOutcome, final: bool = True) -> dict[str, str]:
    headers = dict(outcome.rate_limit_headers)
    if outcome.cache is not None:
        headers["x-gateway-cache"] = outcome.cache
    if outcome.dropped_params:  # a stream's too: its first chunk named them
        headers["x-gateway-dropped-params"] = ",".join(outcome.dropped_params)
    if final:
        headers[COST_HEADER] = cost_header_value(outcome.cost_usd)
    return headers


async def _sse(
    turn: ChatTurn,
    chunks: AsyncGenerator[ChatChunk, None],
    encoder: ChunkEncoder,
    include_usage: bool,
    record: RequestRecord,
) -> AsyncIterator[bytes]:
    # The stream's end (the finish, the usage report, [DONE]) is ready all at once, after the
    # accounting: it leaves in one write.
    end: list[bytes] = []
    try:
        async for chunk in chunks:
            wire = chunk.wire
            if wire is not None:  # relayed as the upstream sent it (b"": sent with another)
                if not wire or (event := _relayed(chunk, wire, turn, include_usage)) is None:
                    continue
                if chunk.finish_reason is None and chunk.usage is None:
                    yield event
                else:
                    end.append(event)
                continue
            if chunk.model and encoder.model != chunk.model:
                encoder.model = chunk.model
            if chunk.finish_reason is None and chunk.usage is None:
                yield encoder.chunk(chunk)
                continue
            # The final chunk: the turn is accounted, so its cost and tool runs are known.
            end.append(encoder.chunk(chunk, outcome_extension(turn.outcome)))
            if include_usage and chunk.usage is not None:
                end.append(encoder.usage(chunk.usage))
    except GatewayError as error:
        # The 200 is gone: the error travels as an event the OpenAI SDKs raise on.
        _, payload, _ = gateway_error_payload(error)
        record.error_code = error.code
        log.warning("stream failed after it started: %s", error.code, exc_info=error.__cause__)
        yield FinalEvent(b"".join(end) + encoder.error(payload))
        return
    except Exception:
        log.exception("stream failed after it started")
        record.error_code = "internal_error"
        message = "The gateway failed while streaming this answer."
        failure = encoder.error(error_body(message, "internal_error", "internal_error"))
        yield FinalEvent(b"".join(end) + failure)
        return
    finally:
        await chunks.aclose()
    end.append(encoder.done())
    yield FinalEvent(b"".join(end))


def _relayed(chunk: ChatChunk, wire: bytes, turn: ChatTurn, include_usage: bool) -> bytes | None:
    """A relayed event as the client gets it. A stream's end reaches here only after the
    turn was accounted (the turn holds it), so the finish event carries the gateway's
    additions as today's encoded final chunk does."""
    if chunk.finish_reason is not None:
        extension = outcome_extension(turn.outcome)
        if chunk.native_finish_reason is not None:
            extension["native_finish_reason"] = chunk.native_finish_reason
        return with_extension(wire, extension)
    if chunk.usage is not None and not include_usage and _usage_only(chunk):
        return None  # the gateway asks every upstream for usage; this client did not
    return wire


def _usage_only(chunk: ChatChunk) -> bool:
    return chunk.role is None and chunk.content is None and not chunk.tool_calls
