"""``POST /v1/chat/completions``: JSON, or SSE when ``stream`` is true."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator

from litestar import Request, Response, post
from litestar.response import Stream

from gateway_core.domain.chat import ChatChunk, ChatRequest
from gateway_core.errors import GatewayError
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_http.errors import gateway_error_payload
from gateway_http.media import require_json
from gateway_http.schemas.chat import decode_chat_body, to_domain
from gateway_http.schemas.completions import ChunkEncoder, encode_completion

log = logging.getLogger("gateway_http.chat")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request, complete_chat: CompleteChat) -> Response | Stream:
    require_json(request)
    body = decode_chat_body(await request.body())
    chat_request = to_domain(body)
    if not body.stream:
        response = await complete_chat.complete(chat_request)
        return Response(content=encode_completion(response), media_type="application/json")
    chunks = complete_chat.stream(chat_request)
    # Wait for the first chunk before answering, so that routing and upstream errors
    # still get their own HTTP status instead of an error inside a 200 stream.
    first = await anext(chunks, None)
    encoder = ChunkEncoder(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), chat_request.model)
    events = _sse(encoder, first, chunks, body.include_usage)
    return Stream(events, media_type="text/event-stream", headers=_SSE_HEADERS)


async def _sse(
    encoder: ChunkEncoder,
    first: ChatChunk | None,
    chunks: AsyncIterator[ChatChunk],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            if first.model:
                encoder.model = first.model
            for event in _encode_chunk(encoder, first, include_usage):
                yield event
        async for chunk in chunks:
            for event in _encode_chunk(encoder, chunk, include_usage):
                yield event
    except GatewayError as error:
        # Headers are gone: the error travels as an event the OpenAI SDKs raise on.
        _, payload, _ = gateway_error_payload(error)
        log.warning("stream failed after it started: %s", error.code, exc_info=error.__cause__)
        yield encoder.error(payload)
        return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    yield encoder.done()


def _encode_chunk(encoder: ChunkEncoder, chunk: ChatChunk, include_usage: bool) -> list[bytes]:
    events = []
    if chunk.role is not None or chunk.content is not None or chunk.tool_calls or chunk.finish_reason:
        events.append(encoder.chunk(chunk))
    if chunk.usage is not None and include_usage:
        events.append(encoder.usage(chunk.usage))
    return events


